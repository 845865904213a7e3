"""The scale-out runner for real: a `disaster-ai worker` process on Celery + Redis runs the jobs
the web app enqueues, retries failures with backoff, and the job row stays the truth."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from disaster_ai.jobs import enqueue
from disaster_ai.jobs.service import runner_for
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import now
from disaster_ai.storage.models import AuditEvent, Heartbeat, Job
from disaster_ai.testing import REDIS_URL, require_redis

pytestmark = [pytest.mark.slow, pytest.mark.redis]

DEADLINE = 60
RETRY_BASE = 0.3

PLUGIN = """
from disaster_ai import hookimpl
from disaster_ai.types import JobHandler


def double(ctx):
    ctx.progress(50, "halfway")
    return {"doubled": ctx.payload["n"] * 2, "attempt": ctx.attempt}


def always_fails(ctx):
    raise RuntimeError(f"transcriber crashed on attempt {ctx.attempt}")


@hookimpl
def dai_job_handlers():
    return [JobHandler("celerytest.double", double),
            JobHandler("celerytest.fails", always_fails, max_attempts=3)]
"""


def worker_command() -> list[str]:
    script = Path(sys.executable).with_name("disaster-ai")
    return (
        [str(script), "worker"]
        if script.exists()
        else [sys.executable, "-m", "disaster_ai.cli", "worker"]
    )


@pytest.fixture
def celery_setup(make_app, database_url, tmp_path):
    """The web app (JOB_RUNNER=celery) and a function that starts a real worker process on the
    same broker, queue, database and plugins folder."""
    require_redis()
    import redis

    queue = f"dai-test-{uuid.uuid4().hex[:10]}"
    plugins = tmp_path / "celery-plugins"
    plugins.mkdir()
    (plugins / "celery_jobs.py").write_text(textwrap.dedent(PLUGIN))
    app = make_app(
        JOB_RUNNER="celery",
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_QUEUE=queue,
        PLUGINS_DIR=str(plugins),
    )
    processes = []
    log_file = tmp_path / "worker.log"

    def start_worker() -> subprocess.Popen:
        env = {
            **os.environ,
            "DISASTER_AI_JOB_RUNNER": "celery",
            "DISASTER_AI_CELERY_BROKER_URL": REDIS_URL,
            "DISASTER_AI_CELERY_QUEUE": queue,
            "DISASTER_AI_DATABASE_URL": database_url,
            "DISASTER_AI_INSTANCE_PATH": str(tmp_path / "worker-instance"),
            "DISASTER_AI_LOAD_ENTRY_POINTS": "false",
            "DISASTER_AI_PLUGINS_DIR": str(plugins),
            "DISASTER_AI_JOB_RETRY_BASE_SECONDS": str(RETRY_BASE),
            "DISASTER_AI_SECRET_KEY": "test-secret",
            "DISASTER_AI_LOG_LEVEL": "INFO",
        }
        with open(log_file, "ab") as log:
            process = subprocess.Popen(
                worker_command(), env=env, stdout=log, stderr=subprocess.STDOUT
            )
        processes.append(process)
        return process

    def wait_for_job(job_id: int, states=("succeeded", "failed")) -> Job:
        deadline = time.monotonic() + DEADLINE
        while True:
            with session_scope(get_storage(app)) as session:
                job = session.get(Job, job_id)
            if job.state in states:
                return job
            for process in processes:
                assert process.poll() is None, "the worker exited:\n" + log_file.read_text()
            assert time.monotonic() < deadline, (
                f"job {job_id} still {job.state} after {DEADLINE}s:\n" + log_file.read_text()
            )
            time.sleep(0.05)

    app.start_worker, app.wait_for_job, app.worker_log = start_worker, wait_for_job, log_file
    try:
        yield app
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        runner = app.extensions.get("disaster_ai.job_runner")
        if runner is not None:
            runner.celery.close()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"*{queue}*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_a_real_celery_worker_runs_an_enqueued_job(celery_setup):
    app = celery_setup
    worker = app.start_worker()
    with app.app_context():
        job_id = enqueue("celerytest.double", {"n": 21})
    job = app.wait_for_job(job_id)
    assert job.state == "succeeded", job.error
    assert job.result == {"doubled": 42, "attempt": 1}
    assert (job.progress, job.attempts) == (100, 1)
    assert job.worker == f"{socket.gethostname()}:{worker.pid}"  # it ran in the worker process
    with session_scope(get_storage(app)) as session:
        heartbeat = session.get(Heartbeat, f"worker:{job.worker}")
    assert heartbeat is not None and heartbeat.kind == "worker"
    assert runner_for(app).ping() is True


def test_a_failing_job_is_retried_through_celery_with_backoff_and_ends_failed(celery_setup):
    app = celery_setup
    app.start_worker()
    with app.app_context():
        job_id = enqueue("celerytest.fails", {})
    job = app.wait_for_job(job_id, states=("failed",))
    assert job.attempts == 3
    assert "RuntimeError: transcriber crashed on attempt 3" in job.error
    # attempt 3 waited for its backoff (base × 2 after attempt 2), and the whole run for base + base × 2
    assert job.started_at >= job.run_after
    assert job.finished_at - job.created_at >= timedelta(seconds=RETRY_BASE * 3)
    with session_scope(get_storage(app)) as session:
        events = list(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "job.failed", AuditEvent.target == f"job:{job_id}"
                )
            )
        )
    assert len(events) == 1 and "attempt 3" in events[0].detail["error"]


def test_a_delivery_that_arrives_before_the_job_is_due_is_deferred_not_dropped(celery_setup):
    """Clocks of the web and worker hosts differ a little; a job id delivered early must still run."""
    app = celery_setup
    app.start_worker()
    due = now() + timedelta(seconds=1)  # as seen by a worker whose clock is 1 s behind
    with session_scope(get_storage(app)) as session:
        job = Job(kind="celerytest.double", payload={"n": 5}, run_after=due)
        session.add(job)
        session.flush()
        job_id = job.id
    runner_for(app).notify(job_id)  # delivered at once, before it is due
    job = app.wait_for_job(job_id)
    assert job.state == "succeeded" and job.result == {"doubled": 10, "attempt": 1}
    assert job.started_at >= due


def test_the_worker_requeues_and_runs_jobs_of_a_worker_that_died(celery_setup):
    app = celery_setup
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with session_scope(get_storage(app)) as session:
        job = Job(
            kind="celerytest.double",
            payload={"n": 4},
            state="running",
            attempts=1,
            worker=f"{socket.gethostname()}:{dead.pid}",
        )
        session.add(job)
        session.flush()
        job_id = job.id
    app.start_worker()  # recovers stale jobs and re-sends due ones before consuming
    job = app.wait_for_job(job_id)
    assert job.state == "succeeded" and job.result == {"doubled": 8, "attempt": 2}
