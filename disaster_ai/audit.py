"""The append-only audit and usage log. Every state change and every AI call lands here."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import event as sa_event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.orm import Session

from disaster_ai import audit_chain
from disaster_ai.plugins import safe_collect
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import JST, now
from disaster_ai.storage.models import AuditEvent
from disaster_ai.types import SYSTEM_ACTOR, Actor, AuditRecord

log = logging.getLogger(__name__)


def record(
    action: str,
    *,
    app: str | None = None,
    target: str | None = None,
    detail: dict | None = None,
    actor: Actor | None = None,
    session: Session | None = None,
    **ai_fields,
) -> None:
    """Append one audit row. With ``session`` the row joins the caller's transaction (so the
    change and its audit entry commit together); without, it commits on its own. Either way
    the row is chained (disaster_ai.audit_chain) as its transaction commits, and plugins hear
    of it (``dai_audit_event``) only after that commit: a rolled-back row never reaches them."""
    actor = actor or _request_actor() or SYSTEM_ACTOR
    event = AuditEvent(
        action=action,
        app=app,
        actor_id=actor.id,
        actor_name=actor.username,
        target=None if target is None else str(target)[:255],
        detail=detail or {},
        request_id=g.get("request_id") if has_request_context() else None,
        **ai_fields,
    )
    if session is not None:
        session.add(event)
        _queue_notification(session, event, actor)
    else:
        with session_scope(get_storage()) as own:
            own.add(event)
            _queue_notification(own, event, actor)


def record_ai_call(
    *,
    app: str,
    engine: str,
    model: str,
    input_text: str,
    output: str,
    duration_ms: int,
    actor: Actor | None = None,
    detail: dict | None = None,
) -> None:
    """Audit one AI call: which engine and model, a digest of the input (not the input, which
    may hold personal data), the output and how long it took."""
    record(
        "ai.call",
        app=app,
        actor=actor,
        detail=detail,
        ai_engine=engine,
        ai_model=model,
        input_digest=hashlib.sha256(input_text.encode("utf-8")).hexdigest(),
        output=output,
        duration_ms=int(duration_ms),
    )


def _request_actor() -> Actor | None:
    return g.get("actor") if has_request_context() else None


# --- after-commit notification ------------------------------------------------------------

_NOTIFY_KEY = "dai_audit_notify"
_READY_KEY = "dai_audit_ready"


def _queue_notification(session: Session, event: AuditEvent, actor: Actor) -> None:
    if not has_app_context():
        return
    pm = current_app.extensions["disaster_ai"]
    session.info.setdefault(_NOTIFY_KEY, []).append((pm, event, actor.username))


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the rows are chained (and announced) with the real commit
    sealed = set(audit_chain.seal_pending(session))
    queued = session.info.pop(_NOTIFY_KEY, [])
    session.info.setdefault(_READY_KEY, []).extend(
        (pm, _audit_record(event, username))
        for pm, event, username in queued
        if event.id in sealed and sa_inspect(event).persistent  # not a rolled-back savepoint's
    )


def _after_commit(session: Session) -> None:
    for pm, audit_record in session.info.pop(_READY_KEY, []):
        safe_collect(pm, "dai_audit_event", event=audit_record)


def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction: committed or rolled back
        for key in (_NOTIFY_KEY, _READY_KEY, audit_chain.PENDING_KEY):
            session.info.pop(key, None)


def _audit_record(event: AuditEvent, username: str) -> AuditRecord:
    return AuditRecord(
        event.action,
        username,
        event.app,
        event.target,
        dict(event.detail or {}),
        (event.at or now()).isoformat(),
    )


def install_session_events() -> None:
    """Chain and notify on every ORM session's commit (idempotent; done on import)."""
    audit_chain.install()
    for name, listener in (
        ("before_commit", _before_commit),
        ("after_commit", _after_commit),
        ("after_transaction_end", _after_transaction_end),
    ):
        if not sa_event.contains(Session, name, listener):
            sa_event.listen(Session, name, listener)


install_session_events()


def query_events(
    session: Session,
    *,
    action=None,
    app=None,
    actor=None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if app:
        query = query.where(AuditEvent.app == app)
    if actor:
        query = query.where(AuditEvent.actor_name == actor)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    return list(session.scalars(query.limit(limit).offset(offset)))


def usage_per_app_per_day(session: Session, days: int = 30) -> list[dict]:
    """Actions and AI calls per app per day (Japan time), newest day first."""
    since = now() - timedelta(days=days)
    rows = session.execute(
        select(AuditEvent.at, AuditEvent.app, AuditEvent.action, AuditEvent.duration_ms).where(
            AuditEvent.at >= since
        )
    )
    usage: dict[tuple[str, str], dict] = {}
    for at, app, action, duration_ms in rows:
        day = at.astimezone(JST).date().isoformat()
        entry = usage.setdefault(
            (day, app or "core"),
            {"day": day, "app": app or "core", "actions": 0, "ai_calls": 0, "ai_ms": 0},
        )
        entry["actions"] += 1
        if action == "ai.call":
            entry["ai_calls"] += 1
            entry["ai_ms"] += duration_ms or 0
    return sorted(usage.values(), key=lambda e: (e["day"], e["app"]), reverse=True)
