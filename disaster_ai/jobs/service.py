"""Queueing, claiming, running and retrying jobs; shared by every runner."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from disaster_ai.plugins import safe_collect
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import now
from disaster_ai.storage.models import Heartbeat, Job
from disaster_ai.types import JobHandler

log = logging.getLogger(__name__)


class JobGiveUp(Exception):
    """Raise from a handler to fail the job now, without retries (e.g. its event was closed)."""


class JobTimeout(JobGiveUp):
    """Raised by JobContext.progress once the handler ran past its timeout."""


class UnknownJobKind(ValueError):
    pass


@dataclass
class JobContext:
    """What a handler gets: its payload, and a way to report progress (which also enforces
    the handler's timeout cooperatively)."""

    job_id: int
    kind: str
    payload: dict
    created_by: str
    attempt: int
    deadline: datetime
    app: object
    worker: str = ""

    def progress(self, percent: int, message: str = "") -> None:
        if now() > self.deadline:
            raise JobTimeout(f"job {self.job_id} ran past its timeout")
        with session_scope(get_storage(self.app)) as session:
            session.execute(
                update(Job)
                .where(Job.id == self.job_id)
                .values(progress=max(0, min(100, int(percent))), message=message[:255])
            )
        beat(self.app, f"worker:{self.worker or worker_id()}", "worker", {"job": self.job_id})


def get_handlers(app=None) -> dict[str, JobHandler]:
    app = app or current_app._get_current_object()
    cache = app.extensions.get("disaster_ai.job_handlers")
    if cache is None:
        cache = {h.kind: h for h in safe_collect(app.extensions["disaster_ai"], "dai_job_handlers")}
        app.extensions["disaster_ai.job_handlers"] = cache
    return cache


def _handler_or_none(kind: str) -> JobHandler | None:
    from flask import has_app_context

    return get_handlers().get(kind) if has_app_context() else None


def enqueue(kind: str, payload: dict | None = None, *, actor=None, app=None) -> int:
    """Commit a queued job and hand it to the runner; returns the job id."""
    app = app or current_app._get_current_object()
    handler = get_handlers(app).get(kind)
    if handler is None:
        raise UnknownJobKind(kind)
    with session_scope(get_storage(app)) as session:
        job = Job(
            kind=kind,
            payload=payload or {},
            max_attempts=handler.max_attempts,
            created_by=actor.username if actor else "system",
        )
        session.add(job)
        session.flush()
        job_id = job.id
    runner_for(app).notify(job_id)
    return job_id


def runner_for(app):
    runner = app.extensions.get("disaster_ai.job_runner")
    if runner is None:
        if app.config["JOB_RUNNER"] == "celery":
            from disaster_ai.jobs.celery_runner import CeleryRunner

            runner = CeleryRunner(app)
        else:
            from disaster_ai.jobs.inprocess import InProcessRunner

            runner = InProcessRunner(app)
        app.extensions["disaster_ai.job_runner"] = runner
    return runner


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(app, job_id: int, worker: str) -> bool:
    """Atomically move a due job from queued to running; False when someone else got it."""
    with session_scope(get_storage(app)) as session:
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == "queued", Job.run_after <= now())
            .values(
                state="running",
                worker=worker,
                started_at=now(),
                attempts=Job.attempts + 1,
                message="",
                progress=0,
            )
        )
        return result.rowcount == 1


def execute_job(app, job_id: int, worker: str | None = None) -> str | None:
    """Claim and run one job. Returns its new state, or None when it was not claimable."""
    worker = worker or worker_id()
    if not claim(app, job_id, worker):
        return None
    storage = get_storage(app)
    with session_scope(storage) as session:
        job = session.get(Job, job_id)
        kind, payload, created_by, attempt = (
            job.kind,
            dict(job.payload or {}),
            job.created_by,
            job.attempts,
        )
    handler = get_handlers(app).get(kind)
    if handler is None:
        return _finish(
            app, job_id, "failed", error=f"no handler for job kind '{kind}' (plugin disabled?)"
        )
    context = JobContext(
        job_id,
        kind,
        payload,
        created_by,
        attempt,
        now() + timedelta(seconds=handler.timeout_seconds),
        app,
        worker,
    )
    try:
        with _KeepAlive(app, worker, job_id), app.app_context():
            result = handler.func(context)
    except Exception as exc:
        log.warning("job %s (%s) attempt %s failed: %s", job_id, kind, attempt, exc)
        return _after_failure(app, job_id, attempt, handler.max_attempts, exc)
    result = {} if result is None else result
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        # Retrying would give the same result; fail now rather than leave the row 'running'.
        return _finish(
            app, job_id, "failed", error=f"the handler returned a result that is not JSON: {exc}"
        )
    return _finish(app, job_id, "succeeded", result=result)


class _KeepAlive:
    """Refresh the worker's heartbeat while a handler runs, so that stale-job recovery in
    another process (the scheduler's, every minute) never re-queues a slow job that is still
    running but reports no progress (which would run it twice)."""

    def __init__(self, app, worker: str, job_id: int):
        self.app, self.name, self.job_id = app, f"worker:{worker}", job_id
        self.interval = max(0.2, float(app.config["JOB_STALE_SECONDS"]) / 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"job-keepalive-{job_id}", daemon=True
        )

    def __enter__(self):
        self._beat()
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        return False

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._beat()

    def _beat(self) -> None:
        try:
            beat(self.app, self.name, "worker", {"job": self.job_id})
        except Exception:  # the database may be briefly unavailable; the job goes on
            log.warning("could not refresh heartbeat %s", self.name, exc_info=True)


def _finish(app, job_id: int, state: str, *, result=None, error=None) -> str:
    from disaster_ai import audit

    values = {"state": state, "finished_at": now(), "result": result, "error": error}
    if state == "succeeded":
        values["progress"] = 100
    with app.app_context(), session_scope(get_storage(app)) as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))
        if state == "failed":  # the failure and its audit entry commit together
            audit.record(
                "job.failed",
                target=f"job:{job_id}",
                detail={"error": (error or "")[:500]},
                session=session,
            )
            _emit_failed(session, session.get(Job, job_id))
    return state


def _emit_failed(session, job: Job | None) -> None:
    """Announce a job that gave up (``JobFailed``, after the commit): the desk's toasts."""
    from disaster_ai import events

    if job is None:
        return
    events.emit(
        events.JobFailed(
            id=job.id,
            kind=job.kind,
            error=(job.error or "")[:500],
            payload=dict(job.payload or {}),
            created_by=job.created_by or "",
        ),
        session=session,
    )


def _after_failure(app, job_id: int, attempt: int, max_attempts: int, exc: Exception) -> str:
    error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if attempt >= max_attempts or isinstance(exc, JobGiveUp):
        return _finish(app, job_id, "failed", error=error)
    delay = app.config["JOB_RETRY_BASE_SECONDS"] * (2 ** (attempt - 1))
    with session_scope(get_storage(app)) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                state="queued",
                error=error,
                worker=None,
                run_after=now() + timedelta(seconds=delay),
                message=f"retry {attempt + 1}/{max_attempts} in {delay:.0f}s",
            )
        )
    runner_for(app).notify(job_id, delay=delay)
    return "queued"


def beat(app, name: str, kind: str, detail: dict | None = None) -> None:
    """Upsert a heartbeat; several threads of one process may race to create the same row."""
    storage = get_storage(app)
    values = {"kind": kind, "at": now(), "detail": detail or {}}
    for _attempt in range(2):
        with session_scope(storage) as session:
            updated = session.execute(
                update(Heartbeat).where(Heartbeat.name == name).values(**values)
            ).rowcount
        if updated:
            return
        try:
            with session_scope(storage) as session:
                session.add(Heartbeat(name=name, **values))
            return
        except IntegrityError:
            continue  # another thread inserted it first: update on the next pass


def recover_stale_jobs(app) -> list[int]:
    """Re-queue jobs left 'running' by a worker that died: one on this host whose process is
    gone, or any whose heartbeat is older than JOB_STALE_SECONDS. A job with no attempts left
    is marked failed instead (and audited as job.failed)."""
    stale_before = now() - timedelta(seconds=app.config["JOB_STALE_SECONDS"])
    host = socket.gethostname()
    recovered, failed = [], []
    with session_scope(get_storage(app)) as session:
        beats = {
            hb.name: hb.at
            for hb in session.scalars(select(Heartbeat).where(Heartbeat.kind == "worker"))
        }
        for job in session.scalars(select(Job).where(Job.state == "running")):
            if _worker_alive(job.worker, host, beats, stale_before):
                continue
            if job.attempts >= job.max_attempts:
                job.state, job.finished_at = "failed", now()
                job.error = "the worker running this job stopped"
                failed.append((job.id, job.error))
            else:
                job.state, job.worker, job.run_after = "queued", None, now()
                job.message = "re-queued after a worker stopped"
            recovered.append(job.id)
    if failed:
        from disaster_ai import audit

        with app.app_context(), session_scope(get_storage(app)) as session:
            for job_id, error in failed:
                audit.record(
                    "job.failed", target=f"job:{job_id}", detail={"error": error}, session=session
                )
                _emit_failed(session, session.get(Job, job_id))
    return recovered


def _worker_alive(worker: str | None, host: str, beats: dict, stale_before: datetime) -> bool:
    if not worker:
        return False
    worker_host, _, pid = worker.rpartition(":")
    if worker_host == host and pid.isdigit():
        if int(pid) == os.getpid():
            return True
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
    seen = beats.get(f"worker:{worker}")
    return seen is not None and seen >= stale_before


def due_job_ids(app, limit: int = 20, overdue_seconds: float = 0) -> list[int]:
    """Queued jobs due now (or due for at least ``overdue_seconds``), oldest first."""
    with session_scope(get_storage(app)) as session:
        due_before = now() - timedelta(seconds=overdue_seconds)
        query = (
            select(Job.id)
            .where(Job.state == "queued", Job.run_after <= due_before)
            .order_by(Job.run_after, Job.id)
            .limit(limit)
        )
        return list(session.scalars(query))


# What the desk calls each state of a job.
STATE_LABELS = {
    "queued": _l("Waiting"),
    "running": _l("Running"),
    "succeeded": _l("Finished"),
    "failed": _l("Failed"),
}


def job_to_dict(job: Job) -> dict:
    """The job as the API gives it: the raw kind, state and message, and the same in the
    user's language (``title``, ``state_label``, ``stage``) from its handler's labels."""
    handler = _handler_or_none(job.kind)
    stage = handler.stages.get(job.message or "") if handler is not None else None
    return {
        "id": job.id,
        "kind": job.kind,
        "title": str(handler.title) if handler is not None and handler.title else job.kind,
        "state": job.state,
        "state_label": str(STATE_LABELS.get(job.state, job.state)),
        "progress": job.progress,
        "message": job.message,
        "stage": str(stage) if stage is not None else (job.message or ""),
        "error": job.error,
        "result": job.result,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "created_by": job.created_by,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
