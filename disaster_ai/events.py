"""Typed domain events, dispatched to ``dai_domain_event`` only after their transaction commits.

An app that changes something other code may react to (an incident recorded, a notice
submitted, approved, rejected or issued, a bulletin issued, a notice suggested, a call flagged,
a job or a delivery failed) calls :func:`emit` with the session of that change::

    events.emit(IncidentCreated(id=incident.id, ...), session=session)

The event waits in the session until the outermost transaction commits, then every
``dai_domain_event`` implementation gets it, one at a time (a failing one is logged and the
others still run). A transaction that rolls back, or a savepoint that rolls back, drops its
events: a plugin never hears of something that did not happen. Without a session the event is
dispatched at once (the caller has already committed).

Events are frozen dataclasses with plain values (ids, codes, ISO 8601 times with +09:00),
never ORM rows. After the listeners, the core turns the event into the desk's live
notifications (:mod:`disaster_ai.notifications`, hook ``dai_notifications``). Listeners run
in the process that made the change (web worker, job worker,
scheduler); send slow work to a job (``desk.jobs.enqueue``) rather than doing it inline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import current_app, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_QUEUE_KEY = "dai_domain_events"


@dataclass(frozen=True)
class DomainEvent:
    """Base class of every event; ``name`` is the stable machine name (``incident.created``)."""

    name = "event"


@dataclass(frozen=True)
class IncidentCreated(DomainEvent):
    """An incident was recorded (by a user, a call, a feed or a plugin)."""

    name = "incident.created"
    id: int
    category: str
    source: str
    status: str
    occurred_at: str
    created_by: str
    district_key: str | None = None
    place_name: str = ""
    lon: float | None = None
    lat: float | None = None
    life_threat: bool = False
    external_ref: str | None = None


@dataclass(frozen=True)
class NoticeIssued(DomainEvent):
    """An evacuation notice (避難情報) was issued (発令 or 解除) after its approval."""

    name = "notice.issued"
    id: int
    hazard: str
    action: str
    level: int
    districts: tuple[str, ...]
    exercise: bool
    issued_at: str
    published_by: str
    identifier: str = ""


@dataclass(frozen=True)
class BulletinIssued(DomainEvent):
    """A situation bulletin (被害状況 第N報) was issued."""

    name = "bulletin.issued"
    id: int
    event_id: int
    number: int
    issued_at: str
    title: str = ""


@dataclass(frozen=True)
class SuggestionCreated(DomainEvent):
    """A plugin suggested a notice (提案): a draft waiting for the desk, never issued by itself."""

    name = "notice.suggested"
    notice_id: int
    plugin: str
    hazard: str
    level: int
    districts: tuple[str, ...]
    source: dict = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class NoticeSubmitted(DomainEvent):
    """A notice draft was submitted for approval (申請): approvers have something to read."""

    name = "notice.submitted"
    id: int
    hazard: str
    action: str
    level: int
    districts: tuple[str, ...]
    author: str
    submitted_by: str


@dataclass(frozen=True)
class NoticeApproved(DomainEvent):
    """A submitted notice was approved (承認); it may now be issued."""

    name = "notice.approved"
    id: int
    hazard: str
    level: int
    author: str
    approved_by: str


@dataclass(frozen=True)
class NoticeRejected(DomainEvent):
    """A submitted or approved notice was withdrawn (取消) before it was issued, by someone
    other than its author: the author hears why."""

    name = "notice.rejected"
    id: int
    hazard: str
    level: int
    author: str
    rejected_by: str
    reason: str = ""


@dataclass(frozen=True)
class CallFlagged(DomainEvent):
    """A transcribed call reports a threat to life: ``level`` is ``yes`` (生命の危険) or
    ``check`` (要確認, the desk must listen again)."""

    name = "call.flagged"
    id: int
    level: str
    category: str = ""
    place_name: str = ""
    incident_id: int | None = None


@dataclass(frozen=True)
class JobFailed(DomainEvent):
    """A job gave up: its last attempt failed (or its worker vanished)."""

    name = "job.failed"
    id: int
    kind: str
    error: str = ""
    payload: dict = field(default_factory=dict, hash=False)
    created_by: str = ""


@dataclass(frozen=True)
class DeliveryFailed(DomainEvent):
    """A delivery (a bulletin by mail or webhook …) failed for good after its last attempt."""

    name = "delivery.failed"
    id: int
    app: str
    channel: str
    target: str
    subject_id: int | None = None
    error: str = ""


def emit(event: DomainEvent, session: Session | None = None, app=None) -> None:
    """Queue ``event`` until ``session`` commits (or dispatch it now without a session)."""
    app = app or (current_app._get_current_object() if has_app_context() else None)
    if app is None:
        log.warning("event %s emitted outside an app; nobody hears it", event.name)
        return
    if session is None:
        dispatch(app, event)
        return
    # None before autobegin: the event then belongs to the next outermost transaction
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_QUEUE_KEY, []).append((app, event, transaction))


def dispatch(app, event: DomainEvent) -> None:
    """Give ``event`` to every ``dai_domain_event`` implementation, each with its own desk."""
    from disaster_ai import notifications
    from disaster_ai.desk import Desk
    from disaster_ai.plugins import call_each

    pm = app.extensions["disaster_ai"]
    with app.app_context():
        call_each(
            pm, "dai_domain_event", event=event, per_plugin=lambda name: {"desk": Desk(app, name)}
        )
        try:  # the core's own listener: the desk's live notifications (dai_notifications)
            notifications.record(app, event)
        except Exception:  # a toast that cannot be kept must never fail the change
            log.exception("could not keep the notifications of event %s", event.name)


def _within(transaction, ended) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


def _after_soft_rollback(session: Session, previous_transaction) -> None:
    queued = session.info.get(_QUEUE_KEY)
    if queued:
        session.info[_QUEUE_KEY] = [
            entry for entry in queued if not _within(entry[2], previous_transaction)
        ]


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the outer one may still roll back
        return
    for app, event, _transaction in session.info.pop(_QUEUE_KEY, []):
        try:
            dispatch(app, event)
        except Exception:  # a listener must never turn a committed change into an error
            log.exception("could not dispatch event %s", event.name)


def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:  # outermost: committed (dispatched above) or rolled back
        session.info.pop(_QUEUE_KEY, None)


def install_session_events() -> None:
    """Dispatch on every ORM session's commit (idempotent; done on import)."""
    for name, listener in (
        ("after_soft_rollback", _after_soft_rollback),
        ("after_commit", _after_commit),
        ("after_transaction_end", _after_transaction_end),
    ):
        if not sa_event.contains(Session, name, listener):
            sa_event.listen(Session, name, listener)


install_session_events()
