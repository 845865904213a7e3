"""`disaster-ai scheduler`: APScheduler 3.x in its own process, never in a web worker.

Jobs come from dai_register_jobs and are added with the stable id ``<plugin>.<job>``,
replace_existing, coalesce and max_instances=1. The job store lives in the main database so
schedules survive restarts; each job is stored as a reference to ``run_scheduled`` plus its id,
and the function itself is looked up in this process's registry when it fires.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import delete

from disaster_ai.jobs.service import beat, recover_stale_jobs
from disaster_ai.plugins import collect_by_plugin
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import now
from disaster_ai.storage.models import LoginAttempt
from disaster_ai.types import JobSpec

log = logging.getLogger(__name__)
JOBSTORE_TABLE = "apscheduler_jobs"


class _Runtime:
    """The scheduler process's app and job registry (one scheduler per process by design)."""

    app = None
    specs: dict[str, JobSpec] = {}


def run_scheduled(job_id: str) -> None:
    spec = _Runtime.specs.get(job_id)
    if spec is None:
        log.error("scheduled job %s is no longer registered; skipped", job_id)
        return
    with _Runtime.app.app_context():
        spec.func(**spec.kwargs)


def run_now(app, job_id: str) -> None:
    """Run one registered job at once in this process, as the scheduler would (an app context,
    the job's kwargs). KeyError when no job has that id."""
    specs = registered_jobs(app)
    if job_id not in specs:
        raise KeyError(job_id)
    spec = specs[job_id]
    with app.app_context():
        spec.func(**spec.kwargs)


def core_jobs(app) -> list[JobSpec]:
    return [
        JobSpec(
            "heartbeat",
            IntervalTrigger(seconds=app.config["SCHEDULER_HEARTBEAT_SECONDS"]),
            scheduler_heartbeat,
            misfire_grace_time=30,
        ),
        JobSpec(
            "recover_stale_jobs", IntervalTrigger(seconds=60), recover_jobs, misfire_grace_time=30
        ),
        # A cron time, not a 24 h interval: replace_existing restarts interval countdowns on every restart.
        JobSpec(
            "prune_login_attempts",
            CronTrigger(hour=3, minute=17, timezone=app.config["TIMEZONE"]),
            prune_login_attempts,
            misfire_grace_time=3600,
        ),
    ]


def scheduler_heartbeat() -> None:
    from flask import current_app

    beat(current_app, "scheduler", "scheduler", {"jobs": sorted(_Runtime.specs)})


def recover_jobs() -> None:
    """Re-queue jobs of dead workers; with Celery, also re-send jobs stranded in the queue for
    5 minutes (e.g. Redis was down when they were enqueued)."""
    from flask import current_app

    from disaster_ai.jobs.service import runner_for

    app = current_app._get_current_object()
    recover_stale_jobs(app)
    if app.config["JOB_RUNNER"] == "celery":
        runner_for(app).resend_due(overdue_seconds=300)


def prune_login_attempts() -> None:
    from flask import current_app

    from disaster_ai.auth import prune_login_throttle, prune_sessions

    with session_scope(get_storage(current_app)) as session:
        session.execute(delete(LoginAttempt).where(LoginAttempt.at < now() - timedelta(days=30)))
        # expired desk sessions and finished failed-login windows (both open nothing any more)
        prune_sessions(session, current_app.permanent_session_lifetime)
        prune_login_throttle(session, int(current_app.config["LOGIN_LOCKOUT_SECONDS"]))


def registered_jobs(app) -> dict[str, JobSpec]:
    specs = {f"core.{spec.id}": spec for spec in core_jobs(app)}
    pm = app.extensions["disaster_ai"]
    from disaster_ai.desk import Desk

    found = collect_by_plugin(
        pm,
        "dai_register_jobs",
        config=app.config,
        per_plugin=lambda name: {"desk": Desk(app, name)},
    )
    # oldest registration first, so that the core plugins keep the short ids
    for plugin_name, spec in reversed(found):
        # "<last dotted part>.<id>" reads well in the job list; a second plugin with the same
        # last part (acme.bulletins beside disaster_ai.apps.bulletins) keeps its full name.
        job_id = f"{plugin_name.rsplit('.', 1)[-1]}.{spec.id}"
        if job_id in specs:
            job_id = f"{plugin_name}.{spec.id}"
        specs[job_id] = spec
    return specs


def build_scheduler(app, scheduler_class=BlockingScheduler):
    _Runtime.app = app
    _Runtime.specs = registered_jobs(app)
    store = SQLAlchemyJobStore(engine=get_storage(app).engine, tablename=JOBSTORE_TABLE)
    scheduler = scheduler_class(jobstores={"default": store}, timezone=app.config["TIMEZONE"])
    for job_id, spec in _Runtime.specs.items():
        scheduler.add_job(
            run_scheduled,
            trigger=spec.trigger,
            args=[job_id],
            id=job_id,
            name=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=spec.misfire_grace_time,
        )
    return scheduler


def remove_unregistered(scheduler) -> list[str]:
    """Drop stored jobs whose plugin is gone, so a disabled plugin stops firing."""
    removed = []
    for job in scheduler.get_jobs():
        if job.id not in _Runtime.specs:
            scheduler.remove_job(job.id)
            removed.append(job.id)
    return removed


def run_forever(app, stop_event=None) -> None:
    """Run until SIGTERM/SIGINT (or ``stop_event``). A background scheduler plus a wait lets us
    start paused, drop jobs of plugins that are gone, then resume."""
    import signal
    import threading

    stop_event = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():
        # First thing: a SIGTERM during start-up (the heartbeat below is already visible) must
        # still mean a clean stop, not the default kill.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop_event.set())
    scheduler = build_scheduler(app, BackgroundScheduler)
    scheduler_heartbeat_now(app)
    scheduler.start(paused=True)
    removed = remove_unregistered(scheduler)
    if removed:
        log.info("removed jobs of plugins no longer loaded: %s", removed)
    scheduler.resume()
    log.info("scheduler running with jobs: %s", ", ".join(sorted(_Runtime.specs)))
    stop_event.wait()
    scheduler.shutdown(wait=True)
    log.info("scheduler stopped")


def scheduler_heartbeat_now(app) -> None:
    beat(app, "scheduler", "scheduler", {"jobs": sorted(_Runtime.specs)})
