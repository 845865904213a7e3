"""AI polish of a saved draft (the ``notices.polish`` job).

The desk and the API ask for it; the slow part (one model call per channel) runs in the job
system. The job polishes the draft exactly as it was when the operator asked (a fingerprint of
its content): a draft edited, submitted or withdrawn meanwhile is left untouched. Accepted
texts become the draft's edits; the report (accepted, or rejected with the violated rules)
is kept on the notice as ``guard["polish"]``.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from disaster_ai import audit
from disaster_ai.apps.notices import guard
from disaster_ai.apps.notices.base import APP, NoticeError
from disaster_ai.apps.notices.drafting import build_facts, render
from disaster_ai.apps.notices.models import Notice
from disaster_ai.apps.notices.workflow import locked_in_state, refresh, scenario_of
from disaster_ai.storage.base import now
from disaster_ai.types import Actor

POLISH_JOB = "notices.polish"


ACTIVE_JOB_STATES = ("queued", "running")


def polish_available() -> bool:
    """Whether a ``dai_llm_client`` for notices.polish is configured (the desk's button)."""
    from disaster_ai.apps.notices import llm

    return llm.client_for() is not None


def draft_fingerprint(notice: Notice) -> str:
    """A digest of what the polish job would read and change: any edit, re-render or state
    change of the notice gives another fingerprint."""
    import hashlib
    import json

    content = {
        "status": notice.status,
        "texts": notice.texts,
        "edits": notice.edits,
        "districts": notice.districts,
        "shelters": notice.shelters,
        "level": notice.level,
        "hazard": notice.hazard,
        "action": notice.action,
        "reason": notice.reason,
        "exercise": notice.exercise,
        "issued_at": notice.issued_at.isoformat() if notice.issued_at else None,
    }
    raw = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def polish_jobs(session: Session, notice_id: int, states=None, limit: int = 200) -> list:
    """This notice's polish jobs, newest first (the payload is JSON text: filtered here)."""
    from disaster_ai.storage.models import Job

    query = select(Job).where(Job.kind == POLISH_JOB).order_by(Job.id.desc()).limit(limit)
    if states:
        query = query.where(Job.state.in_(states))
    return [
        job
        for job in session.scalars(query).all()
        if (job.payload or {}).get("notice_id") == notice_id
    ]


def request_polish(session: Session, notice_id: int, actor: Actor):
    """Queue the AI polish of a saved draft; returns ``(job, created)``. A polish of the same
    draft already queued or running is returned instead of a second one. The caller commits
    (the audit entry)."""
    from disaster_ai.jobs import enqueue
    from disaster_ai.storage.models import Job

    notice = locked_in_state(
        session, notice_id, "draft", _l("Only a draft can be polished by AI (it is %(status)s).")
    )
    if not polish_available():
        raise NoticeError(
            409, "polish_not_configured", _("AI polish is not configured: see docs/notices.md")
        )
    running = polish_jobs(session, notice.id, ACTIVE_JOB_STATES)
    if running:
        return running[0], False
    fingerprint = draft_fingerprint(notice)
    job_id = enqueue(POLISH_JOB, {"notice_id": notice.id, "fingerprint": fingerprint}, actor=actor)
    audit.record(
        "notices.polish_request",
        app=APP,
        target=f"notice:{notice.id}",
        detail={"job": job_id},
        actor=actor,
        session=session,
    )
    return session.get(Job, job_id), True


def _polish_stale_reason(notice: Notice | None, fingerprint: str) -> tuple[str, str] | None:
    """(code, status) when the job must leave the notice alone, else None."""
    if notice is None:
        return "gone", ""
    if notice.status != "draft":
        return "not_draft", notice.status
    if draft_fingerprint(notice) != fingerprint:
        return "changed", notice.status
    return None


def polish_skip_message(code: str, status: str = "") -> str:
    """Why a polish job left the notice alone, in the current language."""
    if code == "gone":
        return _("The notice no longer exists: nothing was changed.")
    if code == "not_draft":
        return _(
            "The notice is no longer a draft (it is %(status)s): nothing was changed.",
            status=status,
        )
    if code == "changed":
        return _("The draft was changed after the AI polish was requested: nothing was changed.")
    return _("AI polish is not configured: see docs/notices.md")


def polish_job_message(job) -> str:
    """The outcome of a finished polish job for the desk, in the request's language (the job's
    own message was written in the default language)."""
    result = job.result or {}
    if result.get("skipped"):
        return polish_skip_message(result["skipped"], result.get("status", ""))
    if "accepted" in result:
        return _(
            "AI polish done: %(accepted)s of %(total)s channels accepted.",
            accepted=len(result["accepted"]),
            total=result.get("total", len(result["accepted"])),
        )
    return job.message or ""


def polish_job(ctx) -> dict:
    """The ``notices.polish`` job: polish the draft's channels behind the guard and keep each
    accepted text as the channel's edit. Progress is reported per channel."""
    from disaster_ai.apps.notices import llm
    from disaster_ai.storage import get_storage, session_scope

    notice_id = int(ctx.payload["notice_id"])
    fingerprint = str(ctx.payload.get("fingerprint") or "")
    actor = Actor(None, ctx.created_by, frozenset(), via="system")
    storage = get_storage(ctx.app)

    def stop(code: str, status: str) -> dict:
        message = polish_skip_message(code, status)
        ctx.progress(100, message)
        audit.record(
            "notices.polish_skipped",
            app=APP,
            target=f"notice:{notice_id}",
            detail={"job": ctx.job_id, "reason": code, "status": status},
            actor=actor,
        )
        return {"notice_id": notice_id, "skipped": code, "status": status, "message": message}

    # 1. read the draft as it is now (no write lock is held during the model calls)
    with session_scope(storage) as session:
        notice = session.get(Notice, notice_id)
        stale = _polish_stale_reason(notice, fingerprint)
        if stale:
            return stop(*stale)
        edits = dict(notice.edits or {})
        facts, extra = build_facts(session, scenario_of(notice), identifier_serial=notice.id)
    out = render(facts, edits or None, extra["universe"])
    ctx.progress(5, _("Asking the AI model"))

    def on_channel(index: int, total: int, channel: str) -> None:
        ctx.progress(
            5 + int(90 * index / total),
            _(
                "AI polish: channel %(index)s of %(total)s (%(channel)s)",
                index=index + 1,
                total=total,
                channel=channel,
            ),
        )

    out = llm.polish(out, facts, extra["universe"], progress=on_channel)
    report = out["polish"]
    if not report.get("used"):
        return stop("not_configured", "draft")
    accepted = [ch for ch, r in report["channels"].items() if r.get("accepted")]

    # 2. write, unless the draft changed while the model was writing
    with session_scope(storage) as session:
        notice = session.scalar(select(Notice).where(Notice.id == notice_id).with_for_update())
        stale = _polish_stale_reason(notice, fingerprint)
        if stale:
            return stop(*stale)
        texts = guard.channel_texts(out)
        label = (ctx.app.config.get("AI_OUTPUT_LABEL") or "").strip()
        notice.edits = {
            **(notice.edits or {}),
            **{ch: labelled(texts[ch], label) for ch in accepted},
        }
        report = {
            **report,
            "job": ctx.job_id,
            "requested_by": ctx.created_by,
            "at": now().isoformat(),
            "label": label,
            "reviewed_by": None,  # a person accepts the AI texts: accept_polish, or on submit
        }
        notice.guard = {**(notice.guard or {}), "polish": report}  # refresh keeps it
        refresh(session, notice)
        audit.record(
            "notices.polish",
            app=APP,
            target=f"notice:{notice.id}",
            detail={
                "job": ctx.job_id,
                "accepted": accepted,
                "rejected": sorted(set(report["channels"]) - set(accepted)),
            },
            actor=actor,
            session=session,
        )
    message = _(
        "AI polish done: %(accepted)s of %(total)s channels accepted.",
        accepted=len(accepted),
        total=len(report["channels"]),
    )
    ctx.progress(100, message)
    total = len(report["channels"])
    return {"notice_id": notice_id, "accepted": accepted, "total": total, "message": message}


# --- human review of the AI texts (docs/governance.md) ----------------------------------------


def labelled(text: str, label: str) -> str:
    """The AI text with the municipality's AI label (AI_OUTPUT_LABEL) on a line of its own;
    unchanged when no label is set (the default) or the text already ends with it."""
    if not label or text.rstrip().endswith(label):
        return text
    return f"{text.rstrip()}\n{label}"


def ai_assisted_channels(notice: Notice) -> list[str]:
    """The channels whose text came from the AI polish (accepted by the fact guard)."""
    report = (notice.guard or {}).get("polish") or {}
    return sorted(ch for ch, r in (report.get("channels") or {}).items() if r.get("accepted"))


def record_acceptance(session: Session, notice: Notice, actor: Actor, how: str) -> bool:
    """Record that ``actor`` accepted the AI-assisted texts of ``notice`` (once per polish):
    the name on the notice's polish report and an ``ai.review`` audit entry. ``how`` is
    ``accept`` (the button) or ``submit`` (submitting an AI-assisted draft accepts it).
    False when there is nothing to accept."""
    report = (notice.guard or {}).get("polish") or {}
    channels = ai_assisted_channels(notice)
    if not channels or report.get("reviewed_by"):
        return False
    at = now().isoformat()
    notice.guard = {
        **(notice.guard or {}),
        "polish": {**report, "reviewed_by": actor.username, "reviewed_at": at},
    }
    audit.record(
        "ai.review",
        app=APP,
        target=f"notice:{notice.id}",
        detail={
            "feature": "notices.polish",
            "decision": "accepted",
            "how": how,
            "channels": channels,
            "engine": report.get("engine", ""),
            "model": report.get("model", ""),
            "job": report.get("job"),
        },
        actor=actor,
        session=session,
    )
    return True


def accept_polish(session: Session, notice_id: int, actor: Actor) -> Notice:
    """The operator accepts the AI-assisted texts of a draft (named in the notice's history)."""
    notice = locked_in_state(
        session,
        notice_id,
        "draft",
        _l("Only a draft's AI texts can be accepted (it is %(status)s)."),
    )
    if not record_acceptance(session, notice, actor, "accept"):
        raise NoticeError(
            409, "nothing_to_accept", _("There is no AI-assisted text waiting for acceptance.")
        )
    return notice
