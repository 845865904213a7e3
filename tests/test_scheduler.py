"""The scheduler as IT runs it: `disaster-ai scheduler` in its own process, jobs with stable ids
and safe options, the job store in the main database, and the heartbeat /healthz watches."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import current_app, has_app_context
from sqlalchemy import inspect, select, text

from disaster_ai import hookimpl
from disaster_ai.jobs.service import beat
from disaster_ai.scheduler import (
    JOBSTORE_TABLE,
    build_scheduler,
    registered_jobs,
    remove_unregistered,
    run_scheduled,
    scheduler_heartbeat_now,
)
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import now
from disaster_ai.storage.models import Heartbeat, Job, LoginAttempt
from disaster_ai.types import JobSpec

JST = ZoneInfo("Asia/Tokyo")
DEADLINE = 30
# Jobs every installation has: core maintenance, the bulletins app's schedule tick, and the
# transcription app's retention purge of call recordings.
CORE_IDS = {
    "core.heartbeat",
    "core.recover_stale_jobs",
    "core.prune_login_attempts",
    "bulletins.tick",
    "transcription.purge",
}
calls: list[dict] = []


def issue_bulletin(kind: str, app_name: str | None = None) -> None:
    """A module-level scheduled function, as JobSpec requires."""
    calls.append(
        {
            "kind": kind,
            "app_context": has_app_context(),
            "app": current_app._get_current_object() if has_app_context() else None,
        }
    )


class BulletinsPlugin:
    """Issues the situation bulletin at 09:00 and 17:00 Japan time."""

    @hookimpl
    def dai_register_jobs(self, config):
        return [
            JobSpec(
                "issue",
                CronTrigger(hour="9,17", minute=0, timezone=config["TIMEZONE"]),
                issue_bulletin,
                {"kind": "situation"},
                misfire_grace_time=300,
            )
        ]


@pytest.fixture(autouse=True)
def _clear_calls():
    calls.clear()


def stored_ids(app) -> set[str]:
    with get_storage(app).engine.connect() as connection:
        return set(connection.execute(text(f"SELECT id FROM {JOBSTORE_TABLE}")).scalars())


def started_paused(app):
    scheduler = build_scheduler(app, BackgroundScheduler)
    scheduler.start(paused=True)
    return scheduler


# --- registration --------------------------------------------------------------------------------


def test_core_and_plugin_jobs_get_stable_ids(app, register_plugin):
    register_plugin(BulletinsPlugin(), name="weather")
    register_plugin(BulletinsPlugin(), name="acme.bulletins")
    specs = registered_jobs(app)
    assert set(specs) == CORE_IDS | {"weather.issue", "bulletins.issue"}
    assert specs["weather.issue"].func is issue_bulletin
    assert specs["core.heartbeat"].trigger.interval == timedelta(
        seconds=app.config["SCHEDULER_HEARTBEAT_SECONDS"]
    )


def test_a_failing_plugin_does_not_stop_the_other_jobs(app, register_plugin):
    class Broken:
        @hookimpl
        def dai_register_jobs(self, config):
            raise RuntimeError("bad config")

    register_plugin(Broken(), name="broken")
    register_plugin(BulletinsPlugin(), name="weather")
    assert set(registered_jobs(app)) == CORE_IDS | {"weather.issue"}


def test_jobs_are_added_with_coalesce_one_instance_and_the_specs_grace_time(app, register_plugin):
    register_plugin(BulletinsPlugin(), name="weather")
    scheduler = build_scheduler(app, BackgroundScheduler)
    specs = registered_jobs(app)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == set(specs)
    for job_id, job in jobs.items():
        assert job.func is run_scheduled and tuple(job.args) == (job_id,)
        assert job.name == job_id
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == specs[job_id].misfire_grace_time
        assert type(job.trigger) is type(specs[job_id].trigger) and str(job.trigger) == str(
            specs[job_id].trigger
        )
    assert jobs["weather.issue"].misfire_grace_time == 300
    assert jobs["core.heartbeat"].misfire_grace_time == 30
    assert str(scheduler.timezone) == "Asia/Tokyo"
    assert not scheduler.running


# --- the job store -----------------------------------------------------------------------------------


def test_job_store_lives_in_the_main_database(app, register_plugin):
    register_plugin(BulletinsPlugin(), name="weather")
    scheduler = started_paused(app)
    try:
        assert JOBSTORE_TABLE in inspect(get_storage(app).engine).get_table_names()
        assert stored_ids(app) == CORE_IDS | {"weather.issue"}
    finally:
        scheduler.shutdown(wait=False)
    assert stored_ids(app) == CORE_IDS | {"weather.issue"}  # kept across restarts


def test_building_twice_replaces_jobs_instead_of_duplicating_them(app, register_plugin):
    register_plugin(BulletinsPlugin(), name="weather")
    first = started_paused(app)
    first.shutdown(wait=False)
    second = started_paused(app)  # would raise ConflictingIdError without replace_existing
    try:
        assert sorted(job.id for job in second.get_jobs()) == sorted(CORE_IDS | {"weather.issue"})
        with get_storage(app).engine.connect() as connection:
            assert (
                connection.execute(text(f"SELECT COUNT(*) FROM {JOBSTORE_TABLE}")).scalar()
                == len(CORE_IDS) + 1
            )
    finally:
        second.shutdown(wait=False)


def test_remove_unregistered_drops_the_jobs_of_a_plugin_that_is_gone(app, register_plugin):
    register_plugin(BulletinsPlugin(), name="weather")
    started_paused(app).shutdown(wait=False)
    app.extensions["disaster_ai"].unregister(name="weather")  # e.g. the plugin was disabled

    scheduler = started_paused(app)
    try:
        assert "weather.issue" in {job.id for job in scheduler.get_jobs()}  # still in the store
        assert remove_unregistered(scheduler) == ["weather.issue"]
        assert {job.id for job in scheduler.get_jobs()} == CORE_IDS
        assert stored_ids(app) == CORE_IDS
        assert remove_unregistered(scheduler) == []
    finally:
        scheduler.shutdown(wait=False)


def test_stored_trigger_fires_at_japan_time_after_a_restart(app, register_plugin):
    register_plugin(BulletinsPlugin(), name="weather")
    started_paused(app).shutdown(wait=False)
    scheduler = started_paused(app)
    try:
        trigger = scheduler.get_job("weather.issue").trigger  # read back from the database
    finally:
        scheduler.shutdown(wait=False)
    fire = trigger.get_next_fire_time(None, datetime(2026, 9, 1, 10, 0, tzinfo=JST))
    assert fire == datetime(2026, 9, 1, 17, 0, tzinfo=JST)
    fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    assert fire == datetime(2026, 9, 2, 9, 0, tzinfo=JST)
    # the same instant seen from a UTC server clock is still 09:00 in Japan
    assert trigger.get_next_fire_time(
        None, datetime(2026, 9, 1, 23, 30, tzinfo=ZoneInfo("UTC"))
    ) == datetime(2026, 9, 2, 9, 0, tzinfo=JST)


# --- running jobs -------------------------------------------------------------------------------------


def test_run_scheduled_calls_the_function_inside_an_app_context(app, register_plugin):
    register_plugin(BulletinsPlugin(), name="weather")
    build_scheduler(app, BackgroundScheduler)
    assert not has_app_context()
    run_scheduled("weather.issue")
    assert calls == [{"kind": "situation", "app_context": True, "app": app}]


def test_run_scheduled_skips_a_job_that_is_no_longer_registered(app, caplog):
    build_scheduler(app, BackgroundScheduler)
    run_scheduled("gone.job")
    assert calls == []
    assert "gone.job is no longer registered" in caplog.text


def test_heartbeat_job_writes_the_scheduler_heartbeat(app):
    build_scheduler(app, BackgroundScheduler)
    before = now()
    run_scheduled("core.heartbeat")
    with session_scope(get_storage(app)) as session:
        row = session.get(Heartbeat, "scheduler")
    assert row.kind == "scheduler" and row.at >= before
    assert set(row.detail["jobs"]) == CORE_IDS


def test_recover_job_requeues_work_of_a_dead_worker(app):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    import socket

    with session_scope(get_storage(app)) as session:
        job = Job(
            kind="x.y", state="running", worker=f"{socket.gethostname()}:{process.pid}", attempts=1
        )
        session.add(job)
        session.flush()
        job_id = job.id
    build_scheduler(app, BackgroundScheduler)
    run_scheduled("core.recover_stale_jobs")
    with session_scope(get_storage(app)) as session:
        assert session.get(Job, job_id).state == "queued"


def test_prune_job_deletes_login_attempts_older_than_30_days(app):
    with session_scope(get_storage(app)) as session:
        session.add_all(
            [
                LoginAttempt(username="old", success=False, at=now() - timedelta(days=31)),
                LoginAttempt(username="recent", success=False, at=now() - timedelta(days=29)),
            ]
        )
    build_scheduler(app, BackgroundScheduler)
    run_scheduled("core.prune_login_attempts")
    with session_scope(get_storage(app)) as session:
        assert list(session.scalars(select(LoginAttempt.username))) == ["recent"]


# --- never in the web process --------------------------------------------------------------------


def test_building_the_app_starts_no_scheduler(make_app, monkeypatch):
    started = []
    original = BaseScheduler.start

    def spy(self, *args, **kwargs):
        started.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BaseScheduler, "start", spy)
    before = {thread.ident for thread in threading.enumerate()}
    app = make_app()
    app.test_client().get("/healthz")
    app.test_client().get("/login")
    new_threads = [t for t in threading.enumerate() if t.ident not in before]
    assert started == []
    assert not any(t.name == "APScheduler" for t in threading.enumerate())
    assert not any("sched" in t.name.lower() for t in new_threads)


# --- the real process ------------------------------------------------------------------------------


PLUGIN_FILE = """
from apscheduler.triggers.cron import CronTrigger

from disaster_ai import hookimpl
from disaster_ai.types import JobSpec


def poll():
    pass


@hookimpl
def dai_register_jobs(config):
    return [JobSpec("poll", CronTrigger(minute="*/5", timezone=config["TIMEZONE"]), poll, misfire_grace_time=120)]
"""


def scheduler_command() -> list[str]:
    script = Path(sys.executable).with_name("disaster-ai")
    return (
        [str(script), "scheduler"]
        if script.exists()
        else [sys.executable, "-m", "disaster_ai.cli", "scheduler"]
    )


def test_scheduler_process_beats_and_stops_cleanly_on_sigterm(
    app, register_plugin, database_url, tmp_path
):
    # A plugin that used to be installed left a job in the store; the process must drop it.
    register_plugin(BulletinsPlugin(), name="retired")
    started_paused(app).shutdown(wait=False)
    assert "retired.issue" in stored_ids(app)

    plugins = tmp_path / "sched-plugins"
    plugins.mkdir()
    (plugins / "jma_feed.py").write_text(textwrap.dedent(PLUGIN_FILE))
    env = {
        **os.environ,
        "DISASTER_AI_DATABASE_URL": database_url,
        "DISASTER_AI_INSTANCE_PATH": str(tmp_path / "sched-instance"),
        "DISASTER_AI_LOAD_ENTRY_POINTS": "false",
        "DISASTER_AI_PLUGINS_DIR": str(plugins),
        "DISASTER_AI_LOG_LEVEL": "INFO",
        "DISASTER_AI_SECRET_KEY": "test-secret",
    }
    log_file = tmp_path / "scheduler.log"
    started_at = now()
    with open(log_file, "wb") as log:
        process = subprocess.Popen(
            scheduler_command(), env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + DEADLINE
        row = None
        while row is None or row.at < started_at or "retired.issue" in stored_ids(app):
            assert process.poll() is None, log_file.read_text()
            assert time.monotonic() < deadline, "no scheduler heartbeat:\n" + log_file.read_text()
            time.sleep(0.05)
            with session_scope(get_storage(app)) as session:
                row = session.get(Heartbeat, "scheduler")
        assert set(row.detail["jobs"]) == CORE_IDS | {"jma_feed.poll"}
        assert stored_ids(app) == CORE_IDS | {"jma_feed.poll"}

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE) == 0, log_file.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "scheduler stopped" in log_file.read_text()
    assert stored_ids(app) == CORE_IDS | {"jma_feed.poll"}  # the schedule survives the stop


def test_scheduler_process_stopped_while_starting_up_exits_cleanly(app, database_url, tmp_path):
    """systemd may send SIGTERM right after start; the first heartbeat is written early."""
    env = {
        **os.environ,
        "DISASTER_AI_DATABASE_URL": database_url,
        "DISASTER_AI_INSTANCE_PATH": str(tmp_path / "sched-instance"),
        "DISASTER_AI_LOAD_ENTRY_POINTS": "false",
        "DISASTER_AI_PLUGINS_DIR": str(tmp_path / "none"),
        "DISASTER_AI_LOG_LEVEL": "INFO",
        "DISASTER_AI_SECRET_KEY": "test-secret",
    }
    log_file = tmp_path / "scheduler.log"
    with open(log_file, "wb") as log:
        process = subprocess.Popen(
            scheduler_command(), env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            with session_scope(get_storage(app)) as session:
                if session.get(Heartbeat, "scheduler") is not None:
                    break
            assert process.poll() is None and time.monotonic() < deadline, log_file.read_text()
            time.sleep(0.002)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE) == 0, log_file.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- /healthz ------------------------------------------------------------------------------------------


def test_healthz_follows_the_scheduler_heartbeat(app):
    client = app.test_client()
    body = client.get("/healthz").get_json()
    assert body["checks"]["scheduler"]["ok"] is False
    assert "no scheduler heartbeat" in body["checks"]["scheduler"]["detail"]

    beat(app, "worker:web-1:1", "worker")  # a live job worker, so only the scheduler decides
    build_scheduler(app, BackgroundScheduler)
    scheduler_heartbeat_now(app)
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["checks"]["scheduler"]["ok"] is True

    with session_scope(get_storage(app)) as session:
        session.get(Heartbeat, "scheduler").at = now() - timedelta(
            seconds=app.config["SCHEDULER_STALE_SECONDS"] + 5
        )
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["status"] == "degraded"
    assert (
        body["checks"]["scheduler"]["ok"] is False
        and body["checks"]["scheduler"]["critical"] is True
    )
    assert body["checks"]["job_runner"]["ok"] is True and body["checks"]["database"]["ok"] is True
