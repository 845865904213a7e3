"""Bulletin schedules: APScheduler triggers built from the rows admins edit, and the tick.

One scheduler job, ``bulletins.tick`` (every BULLETIN_TICK_SECONDS), evaluates every active
schedule of every open event with APScheduler's own ``CronTrigger`` / ``IntervalTrigger`` in
Asia/Tokyo. For the slots that fell due since the schedule was last evaluated:

- one slot, on time → one ``scheduled`` bulletin;
- several slots, or a late one (the scheduler was down) → ONE ``catch_up`` bulletin for the
  latest slot still inside BULLETIN_CATCHUP_GRACE_SECONDS, which says how many it stands for;
- slots older than the grace period → skipped, logged and audited, never issued.

Each bulletin carries ``slot_key = "<schedule id>@<fire time ISO>"`` under a UNIQUE constraint,
so two scheduler processes (or a restart racing a running one) can never issue a slot twice.
The clock is injectable (``tick(app, now=...)`` or ``app.extensions["disaster_ai.bulletins.clock"]``),
so tests drive time without sleeping.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask_babel import gettext as _
from sqlalchemy import select, update

from disaster_ai.apps.bulletins.models import BulletinSchedule, DisasterEvent
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import now as system_now

log = logging.getLogger(__name__)

TICK_JOB_ID = "tick"
EPSILON = timedelta(microseconds=1)
MAX_SKIPPED_COUNTED = 1000
MAX_INTERVAL_MINUTES = 7 * 24 * 60
CRON_FIELDS = ("minute", "hour", "day", "month", "day_of_week")


class InvalidSchedule(ValueError):
    """A schedule that cannot be used; ``field`` names the offending input, ``message`` says
    why in the user's language."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# --- triggers ------------------------------------------------------------------------------


def cron_trigger(expression: str, timezone, start_at: datetime | None = None) -> CronTrigger:
    """A five-field crontab expression (minute hour day month day-of-week) as a CronTrigger.

    Weekdays must be names (``mon-fri``): APScheduler 3 numbers them from Monday = 0 while crontab
    starts from Sunday = 0, so a number would silently mean another day."""
    values = (expression or "").split()
    if len(values) != 5:
        raise InvalidSchedule(
            "cron",
            _(
                "A cron expression has 5 fields (minute hour day month weekday); "
                "this one has %(count)s.",
                count=len(values),
            ),
        )
    if any(ch.isdigit() for ch in values[4].split("/")[0]):
        raise InvalidSchedule(
            "cron", _("Write weekdays as names (mon, tue, wed, thu, fri, sat, sun), not numbers.")
        )
    try:
        return CronTrigger(
            **dict(zip(CRON_FIELDS, values, strict=True)), timezone=timezone, start_date=start_at
        )
    except (ValueError, TypeError) as exc:
        raise InvalidSchedule(
            "cron", _("Invalid cron expression: %(reason)s", reason=exc)
        ) from None


def interval_trigger(minutes, timezone, start_at: datetime) -> IntervalTrigger:
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise InvalidSchedule(
            "interval_minutes", _("The interval must be a whole number of minutes.")
        )
    if not 0 < minutes <= MAX_INTERVAL_MINUTES:
        raise InvalidSchedule(
            "interval_minutes",
            _("The interval must be between 1 and %(max)s minutes.", max=MAX_INTERVAL_MINUTES),
        )
    return IntervalTrigger(minutes=minutes, start_date=start_at, timezone=timezone)


def trigger_for(kind: str, cron: str | None, interval_minutes, start_at, timezone):
    if kind == "cron":
        return cron_trigger(cron or "", timezone, start_at)
    if kind == "interval":
        return interval_trigger(interval_minutes, timezone, start_at)
    raise InvalidSchedule("kind", _("The kind must be cron or interval."))


def slots_between(trigger, after: datetime, until: datetime, limit: int) -> tuple[list, bool]:
    """Fire times t with ``after < t <= until`` in order, at most ``limit`` (then True)."""
    out: list[datetime] = []
    current = after.astimezone(trigger.timezone)
    while True:
        nxt = trigger.get_next_fire_time(None, current + EPSILON)
        if nxt is None or nxt > until:
            return out, False
        out.append(nxt)
        if len(out) >= limit:
            return out, True
        current = nxt


def next_fire_time(trigger, after: datetime) -> datetime | None:
    """The first slot strictly after ``after``."""
    return trigger.get_next_fire_time(None, after.astimezone(trigger.timezone) + EPSILON)


@dataclass
class Plan:
    """What one tick does for one schedule."""

    slot: datetime | None = None  # the slot to issue, or None
    trigger: str = "scheduled"  # scheduled | catch_up
    missed: list[datetime] = field(default_factory=list)  # due slots folded into the catch-up
    skipped: list[datetime] = field(default_factory=list)  # slots past the grace period
    skipped_more: bool = False


def plan_slots(
    trigger, after: datetime, now: datetime, grace: timedelta, on_time: timedelta
) -> Plan:
    plan = Plan()
    if now <= after:
        return plan
    cutoff = now - grace
    if cutoff > after:
        plan.skipped, plan.skipped_more = slots_between(
            trigger, after, cutoff - EPSILON, MAX_SKIPPED_COUNTED
        )
    due, _ = slots_between(trigger, max(after, cutoff - EPSILON), now, 100_000)
    if not due:
        return plan
    plan.slot = due[-1]
    plan.missed = due[:-1]
    late = now - plan.slot > on_time
    if plan.missed or plan.skipped or late:
        plan.trigger = "catch_up"
    return plan


def slot_key(schedule_id: int, slot: datetime) -> str:
    from disaster_ai.apps.bulletins.snapshot import iso

    return f"{schedule_id}@{iso(slot)}"


# --- the tick --------------------------------------------------------------------------------


def clock(app) -> datetime:
    injected = app.extensions.get("disaster_ai.bulletins.clock")
    return injected() if injected else system_now()


def run_tick() -> None:
    """The ``bulletins.tick`` scheduler job (runs inside the scheduler's app context)."""
    from flask import current_app

    tick(current_app._get_current_object())


def tick(app, now: datetime | None = None) -> list[dict]:
    """Evaluate every active schedule of every open event once; returns what happened."""
    from disaster_ai.apps.bulletins import service

    now = now or clock(app)
    grace = timedelta(seconds=app.config["BULLETIN_CATCHUP_GRACE_SECONDS"])
    on_time = timedelta(seconds=max(60, 2 * app.config["BULLETIN_TICK_SECONDS"]))
    timezone = app.config["TIMEZONE"]
    storage = get_storage(app)
    with session_scope(storage) as session:
        rows = session.execute(
            select(BulletinSchedule)
            .join(DisasterEvent, DisasterEvent.id == BulletinSchedule.event_id)
            .where(BulletinSchedule.active.is_(True), DisasterEvent.closed_at.is_(None))
            .order_by(BulletinSchedule.id)
        ).scalars()
        schedules = [
            (s.id, s.event_id, s.kind, s.cron, s.interval_minutes, s.start_at, s.evaluated_until)
            for s in rows
        ]
    report = []
    with service.app_context(app):
        for schedule_id, event_id, kind, cron, minutes, start_at, after in schedules:
            try:
                trigger = trigger_for(kind, cron, minutes, start_at, timezone)
            except InvalidSchedule as exc:  # edited in the database by hand: skip, say so
                log.error("bulletin schedule %s is invalid and skipped: %s", schedule_id, exc)
                report.append({"schedule_id": schedule_id, "status": "invalid", "error": str(exc)})
                continue
            plan = plan_slots(trigger, after, now, grace, on_time)
            entry = {"schedule_id": schedule_id, "event_id": event_id, "status": "idle"}
            if plan.skipped:
                _report_skipped(app, schedule_id, event_id, plan)
                entry["skipped"] = len(plan.skipped)
            if plan.slot is not None:
                key = slot_key(schedule_id, plan.slot)
                entry.update(slot=plan.slot.isoformat(), slot_key=key, trigger=plan.trigger)
                try:
                    result = service.issue_bulletin(
                        app,
                        event_id,
                        trigger=plan.trigger,
                        schedule_id=schedule_id,
                        slot_at=plan.slot,
                        slot_key=key,
                        created_by="scheduler",
                        now=now,
                        catch_up=_catch_up(plan) if plan.trigger == "catch_up" else None,
                    )
                except service.EventClosed:
                    entry["status"] = "event_closed"
                except Exception:
                    # Not marked evaluated: the next tick tries again (a catch-up, within grace).
                    log.exception("bulletin for schedule %s slot %s failed", schedule_id, key)
                    entry["status"] = "failed"
                    report.append(entry)
                    continue
                else:
                    entry.update(
                        status="issued" if result.created else "exists",
                        bulletin_id=result.bulletin_id,
                        number=result.number,
                    )
            _mark_evaluated(storage, schedule_id, now)
            report.append(entry)
        service.resend_stranded_deliveries(app, now)
    return report


def _catch_up(plan: Plan) -> dict:
    from disaster_ai.apps.bulletins.snapshot import iso

    return {
        "slot_at": iso(plan.slot),
        "missed_count": len(plan.missed),
        "missed": [iso(t) for t in plan.missed[-50:]],
        "skipped_count": len(plan.skipped),
        "skipped_more": plan.skipped_more,
    }


def _report_skipped(app, schedule_id: int, event_id: int, plan: Plan) -> None:
    from disaster_ai import audit
    from disaster_ai.apps.bulletins.snapshot import iso
    from disaster_ai.types import SYSTEM_ACTOR

    count = f"{len(plan.skipped)}{'+' if plan.skipped_more else ''}"
    log.warning(
        "bulletin schedule %s: %s slot(s) from %s to %s are older than the catch-up grace period "
        "and were skipped",
        schedule_id,
        count,
        iso(plan.skipped[0]),
        iso(plan.skipped[-1]),
    )
    audit.record(
        "bulletins.slots_skipped",
        app="bulletins",
        target=f"schedule:{schedule_id}",
        detail={
            "event_id": event_id,
            "count": len(plan.skipped),
            "more": plan.skipped_more,
            "first": iso(plan.skipped[0]),
            "last": iso(plan.skipped[-1]),
        },
        actor=SYSTEM_ACTOR,
    )


def _mark_evaluated(storage, schedule_id: int, now: datetime) -> None:
    with session_scope(storage) as session:
        session.execute(
            update(BulletinSchedule)
            .where(BulletinSchedule.id == schedule_id, BulletinSchedule.evaluated_until < now)
            .values(evaluated_until=now)
        )
