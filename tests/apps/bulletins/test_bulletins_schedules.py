"""Schedules and the tick, driven by APScheduler's own triggers and an injected clock (no sleeping):
on-time slots, idempotency, downtime → one catch-up within the grace period, older slots
skipped and audited, pause/resume, closed events, and the real scheduler job."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from bulletin_helpers import JST, T0, audit_actions, bulletin_rows
from sqlalchemy import update

from disaster_ai.apps.bulletins import schedules, service
from disaster_ai.apps.bulletins.models import BulletinSchedule
from disaster_ai.apps.bulletins.schedules import InvalidSchedule, tick
from disaster_ai.storage import get_storage, session_scope

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def at(hour: int, minute: int = 0, second: int = 0, day: int = 5) -> datetime:
    return datetime(2026, 9, day, hour, minute, second, tzinfo=JST)


@pytest.fixture(autouse=True)
def no_maps(monkeypatch):
    """Scheduling logic does not need the map; keep these tests fast."""
    real = service.issue_bulletin
    monkeypatch.setattr(
        service, "issue_bulletin", lambda *a, **k: real(*a, **{**k, "with_map": False})
    )


def issued(app):
    return [(b.number, b.trigger, b.slot_key, b.slot_at) for b in bulletin_rows(app)]


def test_interval_schedule_issues_each_slot_once(app, event, clock):
    schedule = service.add_schedule(app, event["id"], kind="interval", interval_minutes=60)
    assert schedule["start_at"] == T0.isoformat() and schedule["next_slot"] == at(6).isoformat()
    assert tick(app, at(5, 30)) == [
        {"schedule_id": schedule["id"], "event_id": event["id"], "status": "idle"}
    ]
    assert bulletin_rows(app) == []

    (report,) = tick(app, clock.set(at(6, 0, 20)))
    assert (report["status"], report["trigger"], report["number"]) == ("issued", "scheduled", 1)
    key = f"{schedule['id']}@2026-09-05T06:00:00+09:00"
    assert issued(app) == [(1, "scheduled", key, at(6))]
    assert tick(app, at(6, 0, 50))[0]["status"] == "idle"  # evaluated: nothing new

    # a second scheduler that had not seen the first one's progress finds the slot taken
    with session_scope(get_storage(app)) as session:
        session.execute(update(BulletinSchedule).values(evaluated_until=at(5, 59)))
    (again,) = tick(app, at(6, 0, 55))
    assert (again["status"], again["bulletin_id"]) == ("exists", report["bulletin_id"])
    assert len(bulletin_rows(app)) == 1

    tick(app, clock.set(at(7, 0, 10)))
    assert [row[0:2] for row in issued(app)] == [(1, "scheduled"), (2, "scheduled")]
    assert bulletin_rows(app)[1].snapshot["bulletin"]["previous"]["number"] == 1


def test_cron_schedule_fires_at_japan_times(app, event, clock):
    schedule = service.add_schedule(app, event["id"], kind="cron", cron="0 6,12,18 * * *")
    assert schedule["next_slot"] == at(6).isoformat()
    for when in (at(5, 59, 59), at(6, 0, 30), at(11, 59), at(12, 0, 1), at(17, 0)):
        tick(app, clock.set(when))
    assert [(n, s.strftime("%H:%M")) for n, _t, _k, s in issued(app)] == [
        (1, "06:00"),
        (2, "12:00"),
    ]


def test_downtime_gives_one_catch_up_inside_the_grace_period(app, event, clock):
    app.config["BULLETIN_CATCHUP_GRACE_SECONDS"] = 3 * 3600
    schedule = service.add_schedule(app, event["id"], kind="interval", interval_minutes=60)
    tick(app, clock.set(at(6, 0, 5)))
    # the scheduler is down from 06:01 to 10:30: slots 07:00 … 10:00 are missed
    (report,) = tick(app, clock.set(at(10, 30)))
    assert (report["status"], report["trigger"], report["skipped"]) == ("issued", "catch_up", 1)
    rows = bulletin_rows(app)
    assert [(b.number, b.trigger, b.slot_at) for b in rows] == [
        (1, "scheduled", at(6)),
        (2, "catch_up", at(10)),  # one bulletin, for the latest slot
    ]
    catch_up = rows[1].snapshot["catch_up"]
    assert catch_up == {
        "slot_at": at(10).isoformat(),
        "missed_count": 2,  # 08:00 and 09:00 are folded into it
        "missed": [at(8).isoformat(), at(9).isoformat()],
        "skipped_count": 1,  # 07:00 is older than the grace period
        "skipped_more": False,
    }
    from disaster_ai.apps.bulletins import render

    text = render.render_text(rows[1].snapshot)
    assert "発表区分：定時報（遅延発表）：予定時刻 令和8年9月5日 10時00分" in text
    assert "予定していた2回分をこの報にまとめています" in text
    (skipped,) = audit_actions(app, "bulletins.slots_skipped")
    assert skipped.target == f"schedule:{schedule['id']}"
    assert skipped.detail == {
        "event_id": event["id"],
        "count": 1,
        "more": False,
        "first": at(7).isoformat(),
        "last": at(7).isoformat(),
    }

    assert tick(app, at(10, 31))[0]["status"] == "idle"  # never a flood
    assert tick(app, clock.set(at(11, 0, 10)))[0]["trigger"] == "scheduled"


def test_a_single_late_slot_is_a_catch_up_and_older_ones_are_only_skipped(app, event, clock):
    service.add_schedule(app, event["id"], kind="cron", cron="0 6 * * *")
    # down all day: 06:00 is 23 hours old at the restart, past the grace period
    (report,) = tick(app, clock.set(at(5, 0, day=6)))
    assert report["status"] == "idle" and report["skipped"] == 1
    assert bulletin_rows(app) == []
    # down for 40 minutes across the next slot: one late bulletin, marked as such
    (report,) = tick(app, clock.set(at(6, 40, day=6)))
    assert (report["status"], report["trigger"]) == ("issued", "catch_up")
    assert bulletin_rows(app)[0].snapshot["catch_up"]["missed_count"] == 0


def test_paused_schedules_and_closed_events_issue_nothing(app, event, clock):
    schedule = service.add_schedule(app, event["id"], kind="interval", interval_minutes=30)
    service.set_schedule_active(app, schedule["id"], False)
    tick(app, clock.set(at(8)))
    assert bulletin_rows(app) == []
    clock.set(at(9, 10))
    resumed = service.set_schedule_active(app, schedule["id"], True)
    assert resumed["evaluated_until"] == at(9, 10).isoformat()  # no catch-up for the pause
    assert tick(app, at(9, 20))[0]["status"] == "idle"
    assert tick(app, clock.set(at(9, 30, 1)))[0]["trigger"] == "scheduled"
    service.close_event(app, event["id"])
    assert tick(app, clock.set(at(12))) == []
    assert len(bulletin_rows(app)) == 1


@pytest.mark.parametrize(
    ("kind", "cron", "minutes", "field", "message"),
    [
        ("cron", "0 6 * *", None, "cron", "5 fields"),
        ("cron", "61 * * * *", None, "cron", "Invalid cron expression"),
        ("cron", "0 9 * * 1-5", None, "cron", "weekdays as names"),
        ("interval", None, 0, "interval_minutes", "between 1 and"),
        ("interval", None, -5, "interval_minutes", "between 1 and"),
        ("weekly", None, None, "kind", "cron or interval"),
    ],
)
def test_invalid_schedules_name_the_field(app, event, kind, cron, minutes, field, message):
    with pytest.raises(InvalidSchedule) as raised:
        service.add_schedule(app, event["id"], kind=kind, cron=cron, interval_minutes=minutes)
    assert raised.value.field == field and message in raised.value.message


def test_weekday_names_follow_crontab_meaning(app, event, clock):
    schedule = service.add_schedule(app, event["id"], kind="cron", cron="0 9 * * mon-fri")
    # 2026-09-05 is a Saturday: the next slot is Monday the 7th
    assert schedule["next_slot"] == at(9, day=7).isoformat()


def test_the_scheduler_job_runs_the_tick(app, event, clock):
    from disaster_ai.scheduler import build_scheduler, registered_jobs, run_scheduled

    spec = registered_jobs(app)["bulletins.tick"]
    assert isinstance(spec.trigger, IntervalTrigger)
    assert spec.trigger.interval == timedelta(seconds=app.config["BULLETIN_TICK_SECONDS"])
    assert spec.func is schedules.run_tick
    service.add_schedule(app, event["id"], kind="interval", interval_minutes=60)
    scheduler = build_scheduler(app, BackgroundScheduler)  # registers the runtime; not started
    assert "bulletins.tick" in {job.id for job in scheduler.get_jobs()}
    clock.set(at(6, 0, 15))
    run_scheduled("bulletins.tick")
    assert [(n, t) for n, t, _k, _s in issued(app)] == [(1, "scheduled")]
