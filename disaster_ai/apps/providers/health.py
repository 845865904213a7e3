"""Core health checks: database, job runner, scheduler heartbeat, disk space, the Japanese font."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from disaster_ai import monitoring
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import now
from disaster_ai.storage.models import Heartbeat
from disaster_ai.types import HealthCheck


def core_checks(app) -> list[HealthCheck]:
    checks = [_database(app)]
    if checks[0].ok:
        checks.append(_job_runner(app))
        checks.append(_scheduler(app))
    checks.append(monitoring.disk_check(app))
    checks.append(_fonts())
    return checks


def _fonts() -> HealthCheck:
    """Not critical: without a Japanese font the maps and PDFs still render, with boxes."""
    from disaster_ai import fonts

    font = fonts.japanese_font()
    if font.missing:
        return HealthCheck("fonts", False, fonts.MISSING_NOTE, critical=False)
    return HealthCheck("fonts", True, f"{font.family} ({font.source}): {font.path}", critical=False)


def _database(app) -> HealthCheck:
    storage = get_storage(app)
    try:
        storage.ping()
        revision = storage.current_revision()
    except Exception as exc:
        return HealthCheck("database", False, f"{type(exc).__name__}: {exc}"[:300])
    if revision is None:
        return HealthCheck("database", False, "not migrated: run disaster-ai init")
    return HealthCheck("database", True, f"{storage.dialect}, revision {revision}")


def _latest_beat(app, kind: str):
    with session_scope(get_storage(app)) as session:
        return session.scalar(
            select(Heartbeat.at)
            .where(Heartbeat.kind == kind)
            .order_by(Heartbeat.at.desc())
            .limit(1)
        )


def _job_runner(app) -> HealthCheck:
    runner = app.extensions.get("disaster_ai.job_runner")
    if app.config["JOB_RUNNER"] == "celery":
        from disaster_ai.jobs.service import runner_for

        ok = runner_for(app).ping()
        return HealthCheck(
            "job_runner", ok, "celery broker reachable" if ok else "celery broker unreachable"
        )
    if runner is not None and getattr(runner, "alive", False):
        return HealthCheck("job_runner", True, "in-process worker threads running")
    seen = _latest_beat(app, "worker")
    fresh = seen is not None and now() - seen < timedelta(seconds=app.config["JOB_STALE_SECONDS"])
    detail = f"last worker heartbeat {seen.isoformat()}" if seen else "no worker has reported yet"
    return HealthCheck("job_runner", fresh, detail)


def _scheduler(app) -> HealthCheck:
    seen = _latest_beat(app, "scheduler")
    if seen is None:
        return HealthCheck(
            "scheduler", False, "no scheduler heartbeat yet: is `disaster-ai scheduler` running?"
        )
    age = (now() - seen).total_seconds()
    ok = age < app.config["SCHEDULER_STALE_SECONDS"]
    return HealthCheck("scheduler", ok, f"last heartbeat {age:.0f}s ago")
