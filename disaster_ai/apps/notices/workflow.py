"""The workflow: draft → submitted → approved by someone else → issued (or cancelled),
each transition locked, checked and audited.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from disaster_ai import audit, events
from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices.base import APP, NoticeError
from disaster_ai.apps.notices.drafting import (
    build_facts,
    limits,
    render,
    templates,
)
from disaster_ai.apps.notices.models import Notice
from disaster_ai.apps.notices.reference import shelter_status
from disaster_ai.apps.notices.renderers import cap as cap_renderer
from disaster_ai.apps.notices.renderers import render_all
from disaster_ai.apps.notices.scenario import Scenario, hazard_word, parse_scenario
from disaster_ai.apps.notices.shelters import shelter_json
from disaster_ai.plugins import call_each
from disaster_ai.storage.base import JST, now
from disaster_ai.types import Actor


def get_notice(session: Session, notice_id: int, lock: bool = False) -> Notice:
    query = select(Notice).where(Notice.id == notice_id)
    if lock:
        query = query.with_for_update()
    notice = session.scalar(query)
    if notice is None:
        raise NoticeError(404, "not_found", _("No notice %(id)s.", id=notice_id))
    return notice


def scenario_of(notice: Notice) -> Scenario:
    return Scenario(
        hazard=notice.hazard,
        action=notice.action,
        level=notice.level,
        districts=[d["key"] for d in notice.districts],
        reason=notice.reason,
        shelters=[s["key"] for s in notice.shelters] if notice.shelters else [],
        issued_at=notice.issued_at,
        exercise=notice.exercise,
        supersedes=notice.supersedes_id,
    )


def save_draft(session: Session, data: dict, actor: Actor, edits: dict | None = None) -> Notice:
    scenario = parse_scenario(data)
    time_explicit = scenario.issued_at is not None
    facts, extra = build_facts(session, scenario)
    if scenario.issued_at is None:
        scenario = replace(scenario, issued_at=facts.issued_at)
    predecessor = extra["predecessor"]
    notice = Notice(
        status="draft",
        hazard=facts.hazard,
        action=facts.action,
        level=facts.level,
        districts=[
            {"key": d.key, "name": d.name, "name_kana": d.name_kana} for d in facts.districts
        ],
        shelters=[shelter_json(s) for s in facts.shelters],
        reason=facts.reason,
        exercise=facts.exercise,
        issued_at=facts.issued_at,
        time_explicit=time_explicit,
        supersedes_id=predecessor.id if predecessor is not None else None,
        chain_id=(predecessor.chain_id or predecessor.id) if predecessor is not None else None,
        edition=(predecessor.edition + 1) if predecessor is not None else 1,
        edits=dict(edits or {}),
        created_by=actor.username,
    )
    session.add(notice)
    session.flush()
    if notice.chain_id is None:
        notice.chain_id = notice.id
    refresh(session, notice)
    audit.record(
        "notices.draft",
        app=APP,
        target=f"notice:{notice.id}",
        detail={"level": notice.level, "hazard": notice.hazard, "action": notice.action},
        actor=actor,
        session=session,
    )
    return notice


def render_facts(session: Session, notice: Notice, at: datetime, edits: dict | None) -> dict:
    """The notice's stored facts at the stated time ``at`` rendered with ``edits``:
    ``{"facts", "out", "texts"}`` (texts as stored on the notice)."""
    facts, extra = build_facts(
        session, replace(scenario_of(notice), issued_at=at), identifier_serial=notice.id
    )
    out = render(facts, edits or None, extra["universe"])
    texts = {
        "radio": out["radio"],
        "mail": {"title": out["mail"]["title"], "body": out["mail"]["body"]},
        "web": out["web"],
        "en": out["en"],
        "easy_ja": out["easy_ja"],
        "cap": out["cap"],
    }
    return {"facts": facts, "out": out, "texts": texts}


def refresh(session: Session, notice: Notice) -> dict:
    """Render the notice from its stored facts (with its edits) and keep texts and guard."""
    result = render_facts(session, notice, notice.issued_at, notice.edits)
    out = result["out"]
    notice.identifier = result["facts"].identifier
    notice.texts = result["texts"]
    previous = (notice.guard or {}).get("polish")
    notice.guard = out["guard"]
    if previous is not None:  # the last AI polish report stays visible
        notice.guard = {**notice.guard, "polish": previous}
    return out


def locked_in_state(session: Session, notice_id: int, expected: str, message) -> Notice:
    """The notice, locked for the transition, when it is in the ``expected`` state; else a 409
    ``wrong_state`` with ``message`` (a lazy string with ``%(status)s``)."""
    notice = get_notice(session, notice_id, lock=True)
    if notice.status != expected:
        raise NoticeError(409, "wrong_state", str(message) % {"status": notice.status})
    return notice


def submit(session: Session, notice_id: int, actor: Actor) -> Notice:
    notice = locked_in_state(
        session, notice_id, "draft", _l("Only a draft can be submitted (it is %(status)s).")
    )
    refresh(session, notice)
    from disaster_ai.apps.notices.polish import record_acceptance

    record_acceptance(session, notice, actor, "submit")  # submitting accepts AI texts, by name
    notice.status = "submitted"
    notice.submitted_at = now()
    if notice.suggestion is not None:  # whoever submits a 提案 adopts it (and cannot approve it)
        notice.suggestion = {**notice.suggestion, "adopted_by": actor.username}
    audit.record(
        "notices.submit", app=APP, target=f"notice:{notice.id}", actor=actor, session=session
    )
    events.emit(
        events.NoticeSubmitted(
            id=notice.id,
            hazard=notice.hazard,
            action=notice.action,
            level=notice.level,
            districts=tuple(d["key"] for d in notice.districts),
            author=notice.created_by,
            submitted_by=actor.username,
        ),
        session=session,
    )
    return notice


def texts_digest(texts: dict | None) -> str:
    """A digest of a notice's texts: what an approver saw (the desk posts it with 承認)."""
    import hashlib
    import json

    raw = json.dumps(texts or {}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def unopened_shelters(session: Session, notice: Notice) -> list[dict]:
    """The shelters a 発令 names that are not open now (``{key, name}``)."""
    if notice.action != f.ISSUE or not notice.shelters:
        return []
    status = shelter_status(session)
    open_keys = {
        str(k)
        for k, is_open in zip(status["shelter_key"], status["is_open"], strict=True)
        if is_open
    }
    return [
        {"key": s["key"], "name": s["name"]} for s in notice.shelters if s["key"] not in open_keys
    ]


def confirmed_unopened(notice: Notice) -> set[str]:
    """The shelter keys an approver confirmed, with a reason, to name while not open."""
    return {
        key
        for c in notice.confirmations or []
        if c.get("kind") == "unopened_shelters"
        for key in c.get("shelters", [])
    }


def _shelters_not_open_error(closed: list[dict]) -> NoticeError:
    return NoticeError(
        409,
        "shelters_not_open",
        _(
            "The notice names shelters that are not open: %(names)s. Open them (開設する), or "
            "the approver confirms with a reason why the notice may name them.",
            names="、".join(s["name"] for s in closed),
        ),
        "shelters",
        shelters=[s["key"] for s in closed],
    )


def approve(
    session: Session,
    notice_id: int,
    actor: Actor,
    acknowledge: list[str] | None = None,
    confirm_unopened_reason: str | None = None,
    seen: str | None = None,
) -> Notice:
    """Approve a submitted notice (never one's own). ``seen``: the digest of the texts the
    approver read (:func:`texts_digest`); when the re-rendered texts differ, nothing is approved.
    Shelters that are not open need ``confirm_unopened_reason`` (kept and audited)."""
    notice = locked_in_state(
        session,
        notice_id,
        "submitted",
        _l("Only a submitted notice can be approved (it is %(status)s)."),
    )
    if actor.username in (notice.created_by, (notice.suggestion or {}).get("adopted_by")):
        raise NoticeError(
            403,
            "own_notice",
            _("The author of a notice can never approve it: ask another approver."),
        )
    refresh(session, notice)
    if seen and seen != texts_digest(notice.texts):
        raise NoticeError(
            409,
            "texts_changed",
            _(
                "The texts changed after you opened the notice (the shelters or the layers "
                "changed). Read them again before approving."
            ),
            persist=True,
        )
    errors = [w for w in notice.guard.get("cap_lint", []) if w["level"] == "error"]
    if errors:
        raise NoticeError(
            409,
            "cap_errors",
            _("The CAP document has errors: %(error)s", error=errors[0]["message"]),
        )
    pending = [
        v["id"] for v in notice.guard.get("violations", []) if v["id"] not in set(acknowledge or [])
    ]
    if pending:
        raise NoticeError(
            409,
            "unacknowledged_violations",
            _(
                "Each guard violation of the manual edits must be acknowledged: %(ids)s",
                ids=", ".join(pending),
            ),
            "acknowledge",
            violations=pending,
        )
    review = review_problems(notice)
    if review:
        raise NoticeError(
            409,
            "review_failed",
            _("A review check failed: %(problem)s", problem=review[0]),
            "review",
            problems=review,
        )
    closed = unopened_shelters(session, notice)
    reason = (confirm_unopened_reason or "").strip()
    confirmations = []
    if closed:
        if not reason:
            raise _shelters_not_open_error(closed)
        confirmations.append(
            {
                "kind": "unopened_shelters",
                "shelters": [s["key"] for s in closed],
                "names": [s["name"] for s in closed],
                "reason": reason,
                "by": actor.username,
                "at": now().isoformat(),
            }
        )
        audit.record(
            "notices.confirm_unopened_shelters",
            app=APP,
            target=f"notice:{notice.id}",
            detail={"shelters": [s["name"] for s in closed], "reason": reason},
            actor=actor,
            session=session,
        )
    notice.confirmations = confirmations
    notice.acknowledged = list(acknowledge or [])
    notice.status = "approved"
    notice.approved_by = actor.username
    notice.approved_at = now()
    audit.record(
        "notices.approve",
        app=APP,
        target=f"notice:{notice.id}",
        detail={"acknowledged": notice.acknowledged, "texts": texts_digest(notice.texts)},
        actor=actor,
        session=session,
    )
    events.emit(
        events.NoticeApproved(
            id=notice.id,
            hazard=notice.hazard,
            level=notice.level,
            author=_author(notice),
            approved_by=actor.username,
        ),
        session=session,
    )
    return notice


def _author(notice: Notice) -> str:
    """Who answers for a notice: the one who adopted a 提案, else its author."""
    return (notice.suggestion or {}).get("adopted_by") or notice.created_by


def review_problems(notice: Notice) -> list[str]:
    """Every dai_review_notice implementation runs; a crash counts as a failed check."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return []
    pm = current_app.extensions["disaster_ai"]
    problems = []
    outcomes = call_each(
        pm, "dai_review_notice", draft=notice_json(notice), consequence="the approval is blocked"
    )
    for outcome in outcomes:  # pluggy's order
        if outcome.error is not None:  # a crashing check blocks
            exc = outcome.error
            problems.append(f"{outcome.plugin} crashed: {type(exc).__name__}: {exc}")
            continue
        problems.extend(f"{outcome.plugin}: {p}" for p in (outcome.value or []))
    return problems


def issue_time(notice: Notice, at: datetime) -> datetime:
    """The time the texts state: the moment of 発令, or a later time the operator set."""
    at = at.astimezone(JST).replace(microsecond=0)
    if notice.time_explicit and notice.issued_at is not None and notice.issued_at > at:
        return notice.issued_at.astimezone(JST)
    return at


def _retimed_edits(edits: dict, before: datetime, after: datetime) -> dict:
    """Manual edits with the stated time moved from ``before`` to ``after`` (in every format
    the templates write), so that an edit is not left stating the draft time."""
    if not edits or before == after:
        return dict(edits or {})
    pairs = [(fmt(before), fmt(after)) for fmt in f.TIME_FORMATS]
    out = {}
    for channel, text in edits.items():
        for old, new in pairs:
            if old and old != new:
                text = text.replace(old, new)
        out[channel] = text
    return out


def _back_to_approval(session: Session, notice: Notice, actor: Actor, why: str, detail: dict):
    """The re-rendered notice differs from what was approved: it needs approval again."""
    notice.status = "submitted"
    notice.approved_by = None
    notice.approved_at = None
    notice.confirmations = []
    audit.record(
        "notices.reapproval_needed",
        app=APP,
        target=f"notice:{notice.id}",
        detail={"why": why, **detail},
        actor=actor,
        session=session,
    )


def issue(session: Session, notice_id: int, actor: Actor) -> Notice:
    """発令 (or 解除) of an approved notice. Every channel is rendered again with the time of
    issue (or the later time the operator set) and checked by the guard again. If anything
    other than the time changed since approval (shelter or layer data, a new guard finding),
    the notice goes back for approval (409 ``reapproval_needed``, the state change is kept).
    A shelter that is not open blocks it unless the approver confirmed it with a reason."""
    notice = locked_in_state(
        session,
        notice_id,
        "approved",
        _l("Only an approved notice can be issued (it is %(status)s)."),
    )
    predecessor = session.get(Notice, notice.supersedes_id) if notice.supersedes_id else None
    if predecessor is not None and predecessor.status != "issued":
        raise NoticeError(
            409,
            "predecessor_not_in_force",
            _(
                "Notice %(id)s is no longer in force (it is %(status)s).",
                id=predecessor.id,
                status=predecessor.status,
            ),
            "supersedes",
        )
    closed = [
        s for s in unopened_shelters(session, notice) if s["key"] not in confirmed_unopened(notice)
    ]
    if closed:
        raise _shelters_not_open_error(closed)
    approved_texts = dict(notice.texts or {})
    # 1. the approved facts rendered again as approved: any difference is not the time
    out = render_facts(session, notice, notice.issued_at, notice.edits)
    changed = sorted(k for k in approved_texts if out["texts"].get(k) != approved_texts.get(k))
    if changed:
        refresh(session, notice)
        _back_to_approval(session, notice, actor, "changed", {"channels": changed})
        raise NoticeError(
            409,
            "reapproval_needed",
            _(
                "The texts changed since approval (%(channels)s): the notice went back for "
                "approval.",
                channels=", ".join(changed),
            ),
            persist=True,
            channels=changed,
        )
    # 2. the time of issue in every channel, the guard again
    at = issue_time(notice, now())
    edits = _retimed_edits(notice.edits or {}, notice.issued_at, at)
    before = notice.issued_at
    notice.issued_at = at
    notice.edits = edits
    refresh(session, notice)
    new = [
        v["id"]
        for v in notice.guard.get("violations", [])
        if v["id"] not in set(notice.acknowledged or [])
    ]
    errors = [w for w in notice.guard.get("cap_lint", []) if w["level"] == "error"]
    if new or errors:
        _back_to_approval(session, notice, actor, "guard", {"violations": new})
        raise NoticeError(
            409,
            "reapproval_needed",
            _(
                "With the time of issue the fact guard found new problems: the notice went "
                "back for approval."
            ),
            persist=True,
            violations=new,
        )
    notice.status = "issued"
    notice.published_by = actor.username
    notice.published_at = now()
    if predecessor is not None:
        predecessor.status = "superseded"
    audit.record(
        "notices.issue",
        app=APP,
        target=f"notice:{notice.id}",
        detail={
            "identifier": notice.identifier,
            "supersedes": notice.supersedes_id,
            "exercise": notice.exercise,
            "level": notice.level,
            "action": notice.action,
            "drafted_time": before.isoformat(),
            "stated_time": at.isoformat(),
            "confirmations": notice.confirmations or [],
        },
        actor=actor,
        session=session,
    )
    events.emit(
        events.NoticeIssued(
            id=notice.id,
            hazard=notice.hazard,
            action=notice.action,
            level=notice.level,
            districts=tuple(d["key"] for d in notice.districts),
            exercise=notice.exercise,
            issued_at=notice.issued_at.isoformat(),
            published_by=notice.published_by,
            identifier=notice.identifier,
        ),
        session=session,
    )
    return notice


def cancel(session: Session, notice_id: int, actor: Actor, reason: str = "") -> Notice:
    notice = get_notice(session, notice_id, lock=True)
    if notice.status in ("cancelled", "superseded"):
        raise NoticeError(
            409, "wrong_state", _("The notice is already %(status)s.", status=notice.status)
        )
    was = notice.status
    restored = None
    if was == "issued":
        notice.texts = {**(notice.texts or {}), "cap_cancel": cancel_cap(session, notice)}
        # 取消 of a later edition (an update or a 解除 issued by mistake) restores the one it
        # replaced: it is in force again and the next edition supersedes it
        previous = session.get(Notice, notice.supersedes_id) if notice.supersedes_id else None
        if previous is not None and previous.status == "superseded":
            previous.status = "issued"
            restored = previous.id
    notice.status = "cancelled"
    notice.cancelled_by = actor.username
    notice.cancelled_at = now()
    audit.record(
        "notices.cancel",
        app=APP,
        target=f"notice:{notice.id}",
        detail={"was": was, "reason": reason, "restored": restored},
        actor=actor,
        session=session,
    )
    if was in ("submitted", "approved") and actor.username != _author(notice):
        events.emit(  # withdrawn before issue by someone else: the author hears it
            events.NoticeRejected(
                id=notice.id,
                hazard=notice.hazard,
                level=notice.level,
                author=_author(notice),
                rejected_by=actor.username,
                reason=reason[:500],
            ),
            session=session,
        )
    return notice


def cancel_cap(session: Session, notice: Notice) -> str:
    """The CAP Cancel that withdraws an issued edition: a new identifier (``…-C``), sent now,
    referencing that edition only (an earlier edition it replaced is in force again)."""
    scenario = replace(scenario_of(notice), action=f.ISSUE, supersedes=None)
    facts, _extra = build_facts(session, scenario, identifier_serial=notice.id)
    facts = replace(
        facts,
        action=notice.action,
        cancel=True,
        issued_at=now().astimezone(JST).replace(microsecond=0),
        identifier=f"{notice.identifier}-C",
        references=(
            f"{facts.sender},{notice.identifier},{cap_renderer.cap_time(notice.issued_at)}",
        ),
    )
    return render_all(facts, templates(), limits())["cap"]


def list_notices(session: Session, status: str | None = None, limit: int = 100) -> list[Notice]:
    query = select(Notice).order_by(Notice.id.desc()).limit(limit)
    if status:
        query = query.where(Notice.status == status)
    return list(session.scalars(query).all())


def notice_json(notice: Notice, full: bool = True) -> dict:
    data = {
        "id": notice.id,
        "chain_id": notice.chain_id,
        "edition": notice.edition,
        "supersedes": notice.supersedes_id,
        "status": notice.status,
        "hazard": notice.hazard,
        "hazard_ja": hazard_word(notice.hazard),
        "action": notice.action,
        "level": notice.level,
        "name": f.LEVEL_NAMES[notice.level],
        "districts": notice.districts,
        "shelters": notice.shelters,
        "reason": notice.reason,
        "exercise": notice.exercise,
        "issued_at": cap_renderer.cap_time(notice.issued_at),
        "identifier": notice.identifier,
        "created_by": notice.created_by,
        "approved_by": notice.approved_by,
        "published_by": notice.published_by,
        "published_at": cap_renderer.cap_time(notice.published_at) if notice.published_at else None,
        "cancelled_by": notice.cancelled_by,
        "suggestion": notice.suggestion,  # a plugin's 提案: {plugin, ref, title, url, …}, or None
    }
    if full:
        texts = dict(notice.texts or {})
        texts.pop("cap", None)
        texts.pop("cap_cancel", None)
        data.update(
            {
                "texts": texts,
                "edits": notice.edits,
                "guard": notice.guard,
                "acknowledged": notice.acknowledged,
            }
        )
    return data
