"""Business logic of bulletins: events, schedules, issuing (numbering, snapshot, deliveries),
listing and the two job handlers. No request, no templates (STYLE.md §5).

Functions that change data take the ``app`` (they run in requests, jobs, the scheduler and the
CLI alike) and an ``actor`` for the audit log.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from disaster_ai import audit, events, hazards
from disaster_ai.apps.bulletins import render, snapshot
from disaster_ai.apps.bulletins.models import (
    Bulletin,
    BulletinDelivery,
    BulletinSchedule,
    DisasterEvent,
)
from disaster_ai.apps.bulletins.schedules import InvalidSchedule, clock, next_fire_time, trigger_for
from disaster_ai.apps.bulletins.types import BulletinContext, BulletinPayload
from disaster_ai.jobs.service import JobGiveUp
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.types import SYSTEM_ACTOR, Actor

log = logging.getLogger(__name__)

APP = "bulletins"
ISSUE_JOB = "bulletins.issue"
DELIVER_JOB = "bulletins.deliver"
MAX_NUMBER_RETRIES = 20
MAX_REMARK = 4000
STRANDED_AFTER = timedelta(seconds=60)


class BulletinError(Exception):
    status = 400
    code = "bad_request"
    field: str | None = None


class EventNotFound(BulletinError):
    status, code = 404, "not_found"


class EventClosed(BulletinError):
    status, code = 409, "conflict"


class BulletinNotFound(BulletinError):
    status, code = 404, "not_found"


class NoMunicipality(BulletinError):
    """No municipality profile: a bulletin would not say who issues it."""

    status, code = 409, "no_municipality"


def require_municipality(session) -> None:
    """Refuse (409 ``no_municipality``) while the municipality profile is not set."""
    from disaster_ai.municipality.profile import ProfileMissing, require

    try:
        require(session)
    except ProfileMissing as exc:
        raise NoMunicipality(exc.message) from None


class GiveUp(JobGiveUp):
    """Stop retrying a job now; the job fails with this message."""


class InvalidInput(BulletinError):
    status, code = 422, "invalid"

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class IssueResult:
    bulletin_id: int
    number: int
    created: bool  # False: the slot (or job) had already issued it


def app_context(app):
    """The app's context: the current one when it is already pushed (a request keeps its ``g``,
    so audit rows keep the request id), else a new one (jobs, scheduler, CLI)."""
    from contextlib import nullcontext

    from flask import current_app, has_app_context

    if has_app_context() and current_app._get_current_object() is app:
        return nullcontext()
    return app.app_context()


# --- events ----------------------------------------------------------------------------------


def event_dict(event: DisasterEvent, bulletins: int | None = None) -> dict:
    data = {
        "id": event.id,
        "name": event.name,
        "hazard": event.hazard,
        "exercise": event.exercise,
        "opened_at": snapshot.iso(event.opened_at),
        "opened_by": event.opened_by,
        "closed_at": snapshot.iso(event.closed_at),
        "closed_by": event.closed_by,
        "open": event.closed_at is None,
    }
    if bulletins is not None:
        data["bulletins"] = bulletins
    return data


def list_events(session) -> list[dict]:
    counts = dict(
        session.execute(
            select(Bulletin.event_id, func.count(Bulletin.id)).group_by(Bulletin.event_id)
        ).all()
    )
    events = session.scalars(
        select(DisasterEvent).order_by(
            DisasterEvent.closed_at.is_not(None), DisasterEvent.id.desc()
        )
    )
    return [event_dict(e, counts.get(e.id, 0)) for e in events]


def get_event(session, event_id: int) -> DisasterEvent:
    event = session.get(DisasterEvent, event_id)
    if event is None:
        raise EventNotFound(f"no disaster event {event_id}")
    return event


def get_open_event(session, event_id: int) -> DisasterEvent:
    event = get_event(session, event_id)
    if event.closed_at is not None:
        raise EventClosed(f"event {event_id} ({event.name}) is closed")
    return event


def check_hazard(hazard: str | None, app=None) -> str | None:
    if not hazard:
        return None
    if hazard not in hazards.registry(app):
        known = ", ".join(hazards.codes(app))
        raise InvalidInput("hazard", f"unknown hazard {hazard!r}; hazards: {known}")
    return hazard


def open_event(
    app, name: str, *, hazard: str | None = None, exercise: bool = False, actor: Actor | None = None
) -> dict:
    name = (name or "").strip()
    if not name or len(name) > 128:
        raise InvalidInput("name", "the event name is required (at most 128 characters)")
    hazard = check_hazard(hazard, app)
    actor = actor or SYSTEM_ACTOR
    with app_context(app), session_scope(get_storage(app)) as session:
        event = DisasterEvent(
            name=name,
            hazard=hazard,
            exercise=bool(exercise),
            opened_by=actor.username,
            opened_at=clock(app),
        )
        session.add(event)
        session.flush()
        audit.record(
            "bulletins.event_open",
            app=APP,
            target=f"event:{event.id}",
            detail={"name": name, "hazard": hazard, "exercise": bool(exercise)},
            actor=actor,
            session=session,
        )
        return event_dict(event, 0)


def close_event(app, event_id: int, *, actor: Actor | None = None) -> dict:
    actor = actor or SYSTEM_ACTOR
    with app_context(app), session_scope(get_storage(app)) as session:
        event = get_open_event(session, event_id)
        event.closed_at = clock(app)
        event.closed_by = actor.username
        audit.record(
            "bulletins.event_close",
            app=APP,
            target=f"event:{event.id}",
            detail={"name": event.name},
            actor=actor,
            session=session,
        )
        return event_dict(event)


# --- schedules -----------------------------------------------------------------------------


def schedule_dict(schedule: BulletinSchedule, timezone: str) -> dict:
    data = {
        "id": schedule.id,
        "event_id": schedule.event_id,
        "kind": schedule.kind,
        "cron": schedule.cron,
        "interval_minutes": schedule.interval_minutes,
        "start_at": snapshot.iso(schedule.start_at),
        "active": schedule.active,
        "evaluated_until": snapshot.iso(schedule.evaluated_until),
        "created_by": schedule.created_by,
        "created_at": snapshot.iso(schedule.created_at),
        "next_slot": None,
    }
    if schedule.active:
        try:
            trigger = trigger_for(
                schedule.kind, schedule.cron, schedule.interval_minutes, schedule.start_at, timezone
            )
            data["next_slot"] = snapshot.iso(next_fire_time(trigger, schedule.evaluated_until))
        except InvalidSchedule:
            pass
    return data


def list_schedules(session, event_id: int, timezone: str) -> list[dict]:
    get_event(session, event_id)
    rows = session.scalars(
        select(BulletinSchedule)
        .where(BulletinSchedule.event_id == event_id)
        .order_by(BulletinSchedule.id)
    )
    return [schedule_dict(s, timezone) for s in rows]


def add_schedule(
    app,
    event_id: int,
    *,
    kind: str,
    cron: str | None = None,
    interval_minutes: int | None = None,
    start_at: datetime | None = None,
    active: bool = True,
    actor: Actor | None = None,
) -> dict:
    actor = actor or SYSTEM_ACTOR
    now = clock(app)
    if start_at is not None and (start_at.tzinfo is None or start_at.utcoffset() is None):
        raise InvalidInput("start_at", "start_at needs a UTC offset, e.g. +09:00")
    start = start_at or now.replace(second=0, microsecond=0)
    cron = (cron or "").strip() or None
    if kind == "cron":
        interval_minutes = None
    elif kind == "interval":
        cron = None
    trigger_for(
        kind, cron, interval_minutes, start, app.config["TIMEZONE"]
    )  # raises InvalidSchedule
    with app_context(app), session_scope(get_storage(app)) as session:
        get_open_event(session, event_id)
        schedule = BulletinSchedule(
            event_id=event_id,
            kind=kind,
            cron=cron,
            interval_minutes=interval_minutes,
            start_at=start,
            active=bool(active),
            evaluated_until=now,
            created_by=actor.username,
            created_at=now,
            updated_at=now,
        )
        session.add(schedule)
        session.flush()
        audit.record(
            "bulletins.schedule_add",
            app=APP,
            target=f"schedule:{schedule.id}",
            detail={
                "event_id": event_id,
                "kind": kind,
                "cron": cron,
                "interval_minutes": interval_minutes,
            },
            actor=actor,
            session=session,
        )
        return schedule_dict(schedule, app.config["TIMEZONE"])


def set_schedule_active(app, schedule_id: int, active: bool, *, actor: Actor | None = None) -> dict:
    """Pause or resume a schedule. Resuming starts from now: slots missed while it was paused
    are not caught up."""
    actor = actor or SYSTEM_ACTOR
    now = clock(app)
    with app_context(app), session_scope(get_storage(app)) as session:
        schedule = session.get(BulletinSchedule, schedule_id)
        if schedule is None:
            raise EventNotFound(f"no bulletin schedule {schedule_id}")
        if active and not schedule.active:
            get_open_event(session, schedule.event_id)
            schedule.evaluated_until = now
        schedule.active = bool(active)
        schedule.updated_at = now
        audit.record(
            "bulletins.schedule_resume" if active else "bulletins.schedule_pause",
            app=APP,
            target=f"schedule:{schedule.id}",
            detail={"event_id": schedule.event_id},
            actor=actor,
            session=session,
        )
        return schedule_dict(schedule, app.config["TIMEZONE"])


# --- issuing ---------------------------------------------------------------------------------


def issuer_name(app, municipality: str | None) -> str:
    if app.config.get("BULLETIN_ISSUER"):
        return app.config["BULLETIN_ISSUER"]
    name = app.config.get("MUNICIPALITY_NAME") or municipality or ""
    return f"{name}災害対策本部"


def issue_bulletin(
    app,
    event_id: int,
    *,
    trigger: str = "manual",
    remark: str = "",
    created_by: str = "system",
    actor: Actor | None = None,
    schedule_id: int | None = None,
    slot_at: datetime | None = None,
    slot_key: str | None = None,
    now: datetime | None = None,
    catch_up: dict | None = None,
    with_map: bool = True,
) -> IssueResult:
    """Take the snapshot, then insert the bulletin with the next number of its event.

    The number is max + 1 read inside the inserting transaction; UNIQUE (event_id, number) makes
    a concurrent writer's insert fail and we retry. With a ``slot_key`` an existing bulletin for
    the slot is returned instead (``created=False``), before or after the snapshot is taken."""
    remark = (remark or "").strip()
    if len(remark) > MAX_REMARK:
        raise InvalidInput("remark", f"the remark is longer than {MAX_REMARK} characters")
    actor = actor or SYSTEM_ACTOR
    storage = get_storage(app)
    with app_context(app):
        now = now or clock(app)
        with session_scope(storage) as session:
            event = get_open_event(session, event_id)
            require_municipality(session)
            if slot_key:
                existing = _by_slot(session, slot_key)
                if existing is not None:
                    return existing
            snap, png = _take_snapshot(app, session, event, now, with_map=with_map)
        snap["bulletin"].update(
            {
                "issued_at": snapshot.iso(now),
                "trigger": trigger,
                "slot_at": snapshot.iso(slot_at),
                "remark": remark,
                "created_by": created_by,
            }
        )
        snap["catch_up"] = catch_up
        for failure in snap["omitted_sections"]:
            audit.record(
                "bulletins.section_failed",
                app=APP,
                target=f"plugin:{failure['plugin']}",
                detail={"event_id": event_id, "error": failure["error"]},
                actor=SYSTEM_ACTOR,
            )
        request = _IssueRequest(
            event_id, now, trigger, remark, created_by, actor, schedule_id, slot_at, slot_key
        )
        for attempt in range(MAX_NUMBER_RETRIES):
            try:
                return _insert(app, request, snap, png)
            except (IntegrityError, OperationalError) as exc:
                if isinstance(exc, OperationalError) and not _is_transient(exc):
                    raise
                if slot_key:
                    with session_scope(storage) as session:
                        existing = _by_slot(session, slot_key)
                    if existing is not None:
                        return existing
                log.info("bulletin number for event %s taken concurrently; retrying", event_id)
                time.sleep(random.uniform(0, 0.05 * (attempt + 1)))
        raise RuntimeError(f"could not allocate a bulletin number for event {event_id}")


def _is_transient(exc: OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text or "deadlock" in text or "serialize" in text


def _by_slot(session, slot_key: str) -> IssueResult | None:
    row = session.execute(
        select(Bulletin.id, Bulletin.number).where(Bulletin.slot_key == slot_key)
    ).first()
    return None if row is None else IssueResult(row.id, row.number, False)


def _take_snapshot(app, session, event: DisasterEvent, now: datetime, *, with_map: bool):
    pm = app.extensions["disaster_ai"]
    previous = session.execute(
        select(Bulletin.number, Bulletin.issued_at)
        .where(Bulletin.event_id == event.id)
        .order_by(Bulletin.number.desc())
        .limit(1)
    ).first()
    since = previous.issued_at if previous is not None else event.opened_at
    since = min(since, now)
    situation, png = snapshot.situation_part(
        pm, session, event.hazard, since, now, with_map=with_map
    )
    notices = snapshot.notices_part(pm, now, hazards.Labels("ja"))
    context = BulletinContext(
        event_id=event.id,
        event_name=event.name,
        issued_at=snapshot.iso(now),
        since=snapshot.iso(since),
        hazard=event.hazard,
        exercise=event.exercise,
        situation=situation,
    )
    sections, failures = snapshot.sections_part(pm, context)
    municipality = situation.get("municipality") if situation.get("available") else None
    municipality = app.config.get("MUNICIPALITY_NAME") or municipality or ""
    snap = {
        "schema": snapshot.SCHEMA,
        "bulletin": {
            "number": None,
            "title": None,
            "previous": None
            if previous is None
            else {"number": previous.number, "issued_at": snapshot.iso(previous.issued_at)},
        },
        "event": {
            "id": event.id,
            "name": event.name,
            "hazard": event.hazard,
            "exercise": event.exercise,
            "opened_at": snapshot.iso(event.opened_at),
        },
        "municipality": municipality,
        "issuer": issuer_name(app, municipality),
        "since": snapshot.iso(since),
        "notices": notices,
        "situation": situation,
        "map": {
            "available": png is not None,
            "sha256": hashlib.sha256(png).hexdigest() if png else None,
            "bytes": len(png) if png else 0,
        },
        "sections": sections,
        "omitted_sections": failures,
        "catch_up": None,
    }
    return snap, png


@dataclass(frozen=True)
class _IssueRequest:
    """What the caller of issue_bulletin asked for, as the insert needs it."""

    event_id: int
    now: datetime
    trigger: str
    remark: str
    created_by: str
    actor: Actor
    schedule_id: int | None
    slot_at: datetime | None
    slot_key: str | None


def _insert(app, request: _IssueRequest, snap: dict, png: bytes | None) -> IssueResult:
    event_id, now, slot_key = request.event_id, request.now, request.slot_key
    storage = get_storage(app)
    targets = delivery_targets(app)
    with session_scope(storage) as session:
        number = (
            session.scalar(select(func.max(Bulletin.number)).where(Bulletin.event_id == event_id))
            or 0
        ) + 1
        frozen = dict(snap, bulletin=dict(snap["bulletin"], number=number))
        frozen["bulletin"]["title"] = render.title_of(frozen)
        bulletin = Bulletin(
            event_id=event_id,
            number=number,
            issued_at=now,
            trigger=request.trigger,
            schedule_id=request.schedule_id,
            slot_at=request.slot_at,
            slot_key=slot_key,
            snapshot=frozen,
            map_png=png,
            remark=request.remark,
            created_by=request.created_by,
        )
        session.add(bulletin)
        session.flush()
        deliveries = [
            BulletinDelivery(
                bulletin_id=bulletin.id,
                channel=t["channel"],
                target=t["target"],
                created_at=now,
                updated_at=now,
            )
            for t in targets
        ]
        session.add_all(deliveries)
        audit.record(
            "bulletins.issue",
            app=APP,
            target=f"bulletin:{bulletin.id}",
            detail={
                "event_id": event_id,
                "number": number,
                "trigger": request.trigger,
                "slot_key": slot_key,
                "deliveries": len(deliveries),
            },
            actor=request.actor,
            session=session,
        )
        session.flush()
        events.emit(
            events.BulletinIssued(
                id=bulletin.id,
                event_id=event_id,
                number=number,
                issued_at=snapshot.iso(now),
                title=str(frozen["bulletin"]["title"]),
            ),
            session=session,
            app=app,
        )
        result = IssueResult(bulletin.id, number, True)
        delivery_ids = [d.id for d in deliveries]
    for delivery_id in delivery_ids:
        _enqueue_delivery(app, delivery_id)
    return result


# --- reading -------------------------------------------------------------------------------


def bulletin_dict(bulletin: Bulletin, deliveries: list[BulletinDelivery] | None = None) -> dict:
    data = {
        "id": bulletin.id,
        "event_id": bulletin.event_id,
        "number": bulletin.number,
        "title": bulletin.snapshot["bulletin"]["title"],
        "issued_at": snapshot.iso(bulletin.issued_at),
        "trigger": bulletin.trigger,
        "schedule_id": bulletin.schedule_id,
        "slot_at": snapshot.iso(bulletin.slot_at),
        "slot_key": bulletin.slot_key,
        "remark": bulletin.remark,
        "created_by": bulletin.created_by,
        "has_map": bulletin.map_png is not None,
        "formats": {fmt: f"/api/v1/bulletins/{bulletin.id}.{fmt}" for fmt in render.FORMATS},
    }
    if deliveries is not None:
        data["deliveries"] = [delivery_dict(d) for d in deliveries]
    return data


def delivery_dict(delivery: BulletinDelivery) -> dict:
    return {
        "id": delivery.id,
        "channel": delivery.channel,
        "target": delivery.target,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "job_id": delivery.job_id,
        "delivered_at": snapshot.iso(delivery.delivered_at),
    }


def list_bulletins(session, event_id: int | None = None) -> list[dict]:
    query = select(Bulletin).order_by(Bulletin.event_id.desc(), Bulletin.number.desc())
    if event_id is not None:
        get_event(session, event_id)
        query = query.where(Bulletin.event_id == event_id)
    bulletins = list(session.scalars(query))
    by_bulletin: dict[int, list] = {b.id: [] for b in bulletins}
    if bulletins:
        for d in session.scalars(
            select(BulletinDelivery)
            .where(BulletinDelivery.bulletin_id.in_(list(by_bulletin)))
            .order_by(BulletinDelivery.id)
        ):
            by_bulletin[d.bulletin_id].append(d)
    return [bulletin_dict(b, by_bulletin[b.id]) for b in bulletins]


def get_bulletin(session, bulletin_id: int) -> Bulletin:
    bulletin = session.get(Bulletin, bulletin_id)
    if bulletin is None:
        raise BulletinNotFound(f"no bulletin {bulletin_id}")
    return bulletin


def deliveries_of(session, bulletin_id: int) -> list[BulletinDelivery]:
    return list(
        session.scalars(
            select(BulletinDelivery)
            .where(BulletinDelivery.bulletin_id == bulletin_id)
            .order_by(BulletinDelivery.id)
        )
    )


def render_bulletin(bulletin: Bulletin, fmt: str) -> tuple[bytes, str, str]:
    """(body, content type, file name) of a stored bulletin in one format."""
    fmt = render.normalise_format(fmt)
    snap = bulletin.snapshot
    if fmt == "json":
        body = render.render_json(snap)
    elif fmt == "txt":
        body = render.render_text(snap).encode()
    elif fmt == "html":
        body = render.render_html(snap, bulletin.map_png).encode()
    else:
        body = render.render_pdf(snap, bulletin.map_png)
    return body, render.FORMATS[fmt], render.filename_of(snap, fmt)


def payload_for(bulletin: Bulletin, *, with_pdf: bool = True) -> BulletinPayload:
    snap = bulletin.snapshot
    return BulletinPayload(
        id=bulletin.id,
        event_id=bulletin.event_id,
        event_name=snap["event"]["name"],
        number=bulletin.number,
        issued_at=snap["bulletin"]["issued_at"],
        title=snap["bulletin"]["title"],
        text=render.render_text(snap),
        html=render.render_html(snap, bulletin.map_png),
        document=snap,
        pdf=render.render_pdf(snap, bulletin.map_png) if with_pdf else None,
        pdf_filename=render.filename_of(snap, "pdf"),
    )


# --- deliveries ----------------------------------------------------------------------------


def delivery_targets(app) -> list[dict]:
    """The configured targets: [{"channel": "email"|"webhook"|…, "target": …, …}, …]."""
    targets = []
    for entry in app.config.get("BULLETIN_DELIVERY_TARGETS") or []:
        if not isinstance(entry, dict) or not entry.get("channel") or not entry.get("target"):
            log.error(
                "BULLETIN_DELIVERY_TARGETS entry ignored (needs channel and target): %r", entry
            )
            continue
        targets.append(entry)
    return targets


def target_options(app, channel: str, target: str) -> dict:
    for entry in delivery_targets(app):
        if entry["channel"] == channel and entry["target"] == target:
            return {k: v for k, v in entry.items() if k not in ("channel", "target")}
    return {}


def _enqueue_delivery(app, delivery_id: int) -> None:
    from disaster_ai.jobs import enqueue

    try:
        job_id = enqueue(DELIVER_JOB, {"delivery_id": delivery_id}, app=app)
    except Exception:  # the tick re-sends deliveries left without a job
        log.exception("could not queue delivery %s", delivery_id)
        return
    with session_scope(get_storage(app)) as session:
        session.execute(
            update(BulletinDelivery).where(BulletinDelivery.id == delivery_id).values(job_id=job_id)
        )


def retry_delivery(app, delivery_id: int, *, actor: Actor | None = None) -> dict:
    actor = actor or SYSTEM_ACTOR
    with app_context(app), session_scope(get_storage(app)) as session:
        delivery = session.get(BulletinDelivery, delivery_id)
        if delivery is None:
            raise BulletinNotFound(f"no delivery {delivery_id}")
        if delivery.state == "delivered":
            raise InvalidInput("delivery", "this delivery has already succeeded")
        delivery.state, delivery.job_id, delivery.updated_at = "pending", None, clock(app)
        audit.record(
            "bulletins.delivery_retry",
            app=APP,
            target=f"delivery:{delivery_id}",
            detail={"bulletin_id": delivery.bulletin_id, "channel": delivery.channel},
            actor=actor,
            session=session,
        )
    _enqueue_delivery(app, delivery_id)
    with session_scope(get_storage(app)) as session:
        return delivery_dict(session.get(BulletinDelivery, delivery_id))


def resend_stranded_deliveries(app, now: datetime) -> list[int]:
    """Deliveries whose job was never queued (the process stopped right after the commit)."""
    with session_scope(get_storage(app)) as session:
        stranded = list(
            session.scalars(
                select(BulletinDelivery.id).where(
                    BulletinDelivery.state == "pending",
                    BulletinDelivery.job_id.is_(None),
                    BulletinDelivery.created_at < now - STRANDED_AFTER,
                )
            )
        )
    for delivery_id in stranded:
        _enqueue_delivery(app, delivery_id)
    return stranded


# --- job handlers ----------------------------------------------------------------------------


def issue_job(ctx) -> dict:
    """``bulletins.issue``: "Issue now" from the UI or API. Its slot key is ``job:<id>``, so a
    retried job finds the bulletin its first attempt inserted instead of issuing another."""
    payload = ctx.payload
    actor = Actor(None, ctx.created_by, frozenset(), via="system")
    try:
        result = issue_bulletin(
            ctx.app,
            int(payload["event_id"]),
            trigger="manual",
            remark=payload.get("remark") or "",
            created_by=ctx.created_by,
            actor=actor,
            slot_key=f"job:{ctx.job_id}",
        )
    except (EventNotFound, EventClosed, InvalidInput, NoMunicipality) as exc:
        raise GiveUp(str(exc)) from exc  # retrying cannot help
    return {"bulletin_id": result.bulletin_id, "number": result.number, "created": result.created}


def deliver_job(ctx) -> dict:
    """``bulletins.deliver``: one bulletin to one target, through ``dai_deliver_bulletin``."""
    from disaster_ai.apps.bulletins.delivery import deliver

    return deliver(ctx.app, int(ctx.payload["delivery_id"]), attempt=ctx.attempt)
