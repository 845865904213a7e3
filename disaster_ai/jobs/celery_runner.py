"""The scale-out runner: Celery with the Redis broker. The job row stays the source of truth;
Celery only carries job ids, so a duplicate delivery is harmless (claim() is atomic)."""

from __future__ import annotations

import logging

from celery import Celery

from disaster_ai.jobs.service import (
    beat,
    due_job_ids,
    execute_job,
    recover_stale_jobs,
    runner_for,
    worker_id,
)
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import now
from disaster_ai.storage.models import Job

log = logging.getLogger(__name__)
TASK_NAME = "disaster_ai.run_job"


def make_celery(app) -> Celery:
    celery = Celery("disaster_ai", broker=app.config["CELERY_BROKER_URL"])
    celery.conf.update(
        task_default_queue=app.config["CELERY_QUEUE"],
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        worker_hijack_root_logger=False,
    )

    @celery.task(name=TASK_NAME)
    def run_job(job_id: int) -> None:
        beat(app, f"worker:{worker_id()}", "worker", {"runner": "celery"})
        if execute_job(app, job_id, worker_id()) is None:
            defer_if_early(app, job_id)

    return celery


def defer_if_early(app, job_id: int) -> float | None:
    """A job id delivered before the job is due (the sender's clock runs ahead of ours, or the
    countdown fired a little early) is sent again for when it is due; dropping it would leave
    the job queued until a worker restarts. Returns the delay, or None when nothing was due."""
    with session_scope(get_storage(app)) as session:
        job = session.get(Job, job_id)
        if job is None or job.state != "queued":
            return None  # done, or running elsewhere: a duplicate delivery
        wait = (job.run_after - now()).total_seconds()
    if wait <= 0:
        return None
    delay = wait + 0.05
    log.info("job %s delivered %.2fs before it is due; sent again for then", job_id, wait)
    runner_for(app).notify(job_id, delay=delay)
    return delay


class CeleryRunner:
    def __init__(self, app):
        self.app = app
        self.celery = make_celery(app)

    def notify(self, job_id: int, delay: float = 0) -> None:
        self.celery.send_task(
            TASK_NAME, args=[job_id], countdown=delay or None, queue=self.app.config["CELERY_QUEUE"]
        )

    def resend_due(self, overdue_seconds: float = 0) -> int:
        """Send due queued jobs again (e.g. the broker was down when they were enqueued).
        Duplicates are harmless: claim() lets only one delivery run a job."""
        ids = due_job_ids(self.app, limit=1000, overdue_seconds=overdue_seconds)
        for job_id in ids:
            self.notify(job_id)
        return len(ids)

    def run_worker(self, concurrency: int = 1) -> None:
        recover_stale_jobs(self.app)
        self.resend_due()
        self.celery.worker_main(
            [
                "worker",
                "--pool=solo" if concurrency == 1 else "--pool=threads",
                f"--concurrency={concurrency}",
                "-Q",
                self.app.config["CELERY_QUEUE"],
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
            ]
        )

    def ping(self) -> bool:
        try:
            with self.celery.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
            return True
        except Exception:
            return False
