"""The workflow: draft → submitted → approved by someone else → issued (or cancelled),
each transition locked, checked and audited.
"""

from __future__ import annotations

from dataclasses import replace

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from disaster_ai import audit
from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices.base import APP, NoticeError
from disaster_ai.apps.notices.drafting import (
    build_facts,
    chain_references,
    limits,
    render,
    templates,
)
from disaster_ai.apps.notices.models import Notice
from disaster_ai.apps.notices.renderers import cap as cap_renderer
from disaster_ai.apps.notices.renderers import render_all
from disaster_ai.apps.notices.scenario import Scenario, hazard_word, parse_scenario
from disaster_ai.apps.notices.shelters import shelter_json
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


def refresh(session: Session, notice: Notice) -> dict:
    """Render the notice from its stored facts (with its edits) and keep texts and guard."""
    facts, extra = build_facts(session, scenario_of(notice), identifier_serial=notice.id)
    out = render(facts, notice.edits or None, extra["universe"])
    notice.identifier = facts.identifier
    notice.texts = {
        "radio": out["radio"],
        "mail": {"title": out["mail"]["title"], "body": out["mail"]["body"]},
        "web": out["web"],
        "en": out["en"],
        "easy_ja": out["easy_ja"],
        "cap": out["cap"],
    }
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
    notice.status = "submitted"
    notice.submitted_at = now()
    audit.record(
        "notices.submit", app=APP, target=f"notice:{notice.id}", actor=actor, session=session
    )
    return notice


def approve(
    session: Session, notice_id: int, actor: Actor, acknowledge: list[str] | None = None
) -> Notice:
    notice = locked_in_state(
        session,
        notice_id,
        "submitted",
        _l("Only a submitted notice can be approved (it is %(status)s)."),
    )
    if actor.username == notice.created_by:
        raise NoticeError(
            403,
            "own_notice",
            _("The author of a notice can never approve it: ask another approver."),
        )
    refresh(session, notice)
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
    notice.acknowledged = list(acknowledge or [])
    notice.status = "approved"
    notice.approved_by = actor.username
    notice.approved_at = now()
    audit.record(
        "notices.approve",
        app=APP,
        target=f"notice:{notice.id}",
        detail={"acknowledged": notice.acknowledged},
        actor=actor,
        session=session,
    )
    return notice


def review_problems(notice: Notice) -> list[str]:
    """Every dai_review_notice implementation runs; a crash counts as a failed check."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return []
    pm = current_app.extensions["disaster_ai"]
    payload = notice_json(notice)
    problems = []
    for impl in pm.hook.dai_review_notice.get_hookimpls():
        try:
            result = impl.function(draft=payload) if impl.argnames else impl.function()
        except Exception as exc:  # a crashing check blocks
            problems.append(f"{impl.plugin_name} crashed: {type(exc).__name__}: {exc}")
            continue
        problems.extend(f"{impl.plugin_name}: {p}" for p in (result or []))
    return problems


def issue(session: Session, notice_id: int, actor: Actor) -> Notice:
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
        },
        actor=actor,
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
    if was == "issued":
        notice.texts = {**(notice.texts or {}), "cap_cancel": cancel_cap(session, notice)}
    notice.status = "cancelled"
    notice.cancelled_by = actor.username
    notice.cancelled_at = now()
    audit.record(
        "notices.cancel",
        app=APP,
        target=f"notice:{notice.id}",
        detail={"was": was, "reason": reason},
        actor=actor,
        session=session,
    )
    return notice


def cancel_cap(session: Session, notice: Notice) -> str:
    """The CAP Cancel that withdraws an issued notice: a new identifier (``…-C``), sent now,
    referencing every issued edition of its chain (this one included)."""
    scenario = replace(scenario_of(notice), action=f.ISSUE, supersedes=None)
    facts, _extra = build_facts(session, scenario, identifier_serial=notice.id)
    facts = replace(
        facts,
        action=notice.action,
        cancel=True,
        issued_at=now().astimezone(JST).replace(microsecond=0),
        identifier=f"{notice.identifier}-C",
        references=chain_references(session, notice, facts.sender),
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
