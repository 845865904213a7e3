"""The job runner as an operator relies on it: rows committed before work starts, states and
progress visible while a job runs, retries with backoff, recovery after a worker dies,
timeouts, one claim per job, the real worker threads and the JSON API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from disaster_ai import hookimpl
from disaster_ai.jobs import enqueue, execute_job
from disaster_ai.jobs.inprocess import InProcessRunner
from disaster_ai.jobs.service import (
    UnknownJobKind,
    claim,
    due_job_ids,
    recover_stale_jobs,
    runner_for,
    worker_id,
)
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import now
from disaster_ai.storage.models import AuditEvent, Heartbeat, Job
from disaster_ai.types import JobHandler

DEADLINE = 20  # seconds; every wait below polls the database and gives up after this


class Handlers:
    """A plugin that contributes job handlers."""

    def __init__(self, *handlers: JobHandler):
        self.handlers = list(handlers)

    @hookimpl
    def dai_job_handlers(self):
        return self.handlers


def wait_for(predicate, timeout: float = DEADLINE, interval: float = 0.02, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def fresh(database_url):
    """Read rows through a separate engine, as another process would: only committed data."""
    engine = create_engine(database_url)

    def read(job_id: int) -> Job | None:
        with Session(engine) as session:
            return session.get(Job, job_id)

    read.engine = engine
    yield read
    engine.dispose()


def job_row(app, job_id: int) -> Job:
    with session_scope(get_storage(app)) as session:
        return session.get(Job, job_id)


def audit_rows(app, action: str, target: str) -> list[AuditEvent]:
    with session_scope(get_storage(app)) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action, AuditEvent.target == target)
            )
        )


def add_job(app, **values) -> int:
    """Insert a job row directly, e.g. one a dead worker left behind."""
    with session_scope(get_storage(app)) as session:
        job = Job(**values)
        session.add(job)
        session.flush()
        return job.id


def dead_worker() -> str:
    """A worker id on this host whose process has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return f"{socket.gethostname()}:{process.pid}"


# --- enqueue, states, progress ---------------------------------------------------------------


def test_row_is_committed_before_the_handler_runs(app, register_plugin, fresh):
    seen = {}

    def handler(ctx):
        row = fresh(ctx.job_id)  # another connection: sees only committed data
        seen.update(state=row.state, payload=row.payload, attempts=row.attempts, worker=row.worker)
        return {"ok": True}

    register_plugin(Handlers(JobHandler("test.committed", handler)))
    with app.app_context():
        job_id = enqueue("test.committed", {"call_id": 7})
    queued = fresh(job_id)
    assert (queued.state, queued.payload, queued.attempts, queued.progress) == (
        "queued",
        {"call_id": 7},
        0,
        0,
    )
    assert queued.created_by == "system"

    assert execute_job(app, job_id, "tester:1") == "succeeded"
    assert seen == {
        "state": "running",
        "payload": {"call_id": 7},
        "attempts": 1,
        "worker": "tester:1",
    }


def test_enqueue_of_an_unknown_kind_commits_nothing(app, fresh):
    with app.app_context(), pytest.raises(UnknownJobKind):
        enqueue("nobody.handles_this", {})
    with Session(fresh.engine) as session:
        assert session.scalars(select(Job)).all() == []


def test_states_queued_running_succeeded_with_result(app, register_plugin):
    states = []

    def handler(ctx):
        states.append(job_row(app, ctx.job_id).state)
        return {"words": len(ctx.payload["text"].split()), "by": ctx.created_by}

    register_plugin(Handlers(JobHandler("test.count", handler)))
    with app.app_context():
        job_id = enqueue("test.count", {"text": "津波 警報 発表"})
    assert job_row(app, job_id).state == "queued"
    assert runner_for(app).run_pending() == 1
    job = job_row(app, job_id)
    assert states == ["running"]
    assert (job.state, job.progress, job.result, job.error, job.attempts) == (
        "succeeded",
        100,
        {"words": 3, "by": "system"},
        None,
        1,
    )
    assert job.started_at <= job.finished_at
    assert runner_for(app).run_pending() == 0  # a finished job is never run again


def test_progress_and_message_are_visible_while_running(app, register_plugin, api_headers):
    reported, release = threading.Event(), threading.Event()

    def handler(ctx):
        ctx.progress(40, "音声を文字に起こしています")
        reported.set()
        assert release.wait(DEADLINE)
        ctx.progress(90, "almost")
        return {}

    register_plugin(Handlers(JobHandler("test.slow", handler)))
    with app.app_context():
        job_id = enqueue("test.slow", {})
    headers = api_headers("operator")
    worker = threading.Thread(target=execute_job, args=(app, job_id, worker_id()))
    worker.start()
    try:
        assert reported.wait(DEADLINE)
        body = app.test_client().get(f"/api/v1/jobs/{job_id}", headers=headers).get_json()
        assert (body["state"], body["progress"], body["message"]) == (
            "running",
            40,
            "音声を文字に起こしています",
        )
    finally:
        release.set()
        worker.join(DEADLINE)
    body = app.test_client().get(f"/api/v1/jobs/{job_id}", headers=headers).get_json()
    assert (body["state"], body["progress"]) == ("succeeded", 100)


def test_a_non_json_result_fails_the_job_instead_of_leaving_it_running(app, register_plugin):
    register_plugin(
        Handlers(JobHandler("test.bad_result", lambda ctx: {"at": object()}, max_attempts=3))
    )
    with app.app_context():
        job_id = enqueue("test.bad_result", {})
    assert execute_job(app, job_id) == "failed"
    job = job_row(app, job_id)
    assert job.state == "failed" and job.attempts == 1
    assert "JSON" in job.error
    assert audit_rows(app, "job.failed", f"job:{job_id}")


# --- retries, failure, timeout -----------------------------------------------------------------


def test_failing_job_is_retried_with_exponential_backoff_then_fails(make_app):
    app = make_app(JOB_RETRY_BASE_SECONDS=30)
    calls = []

    def handler(ctx):
        calls.append(ctx.attempt)
        raise RuntimeError(f"ASR engine unreachable (attempt {ctx.attempt})")

    pm = app.extensions["disaster_ai"]
    pm.register(Handlers(JobHandler("test.flaky", handler, max_attempts=3)), name="flaky")
    with app.app_context():
        job_id = enqueue("test.flaky", {})

    delays = []
    for attempt in (1, 2):
        before = now()
        assert execute_job(app, job_id) == "queued"
        job = job_row(app, job_id)
        assert job.state == "queued" and job.worker is None and job.attempts == attempt
        assert f"attempt {attempt}" in job.error and "RuntimeError" in job.error
        delays.append((job.run_after - before).total_seconds())
        assert execute_job(app, job_id) is None  # not due yet: the backoff is respected
        assert due_job_ids(app) == []
        with session_scope(get_storage(app)) as session:  # let the clock "pass" the backoff
            session.execute(
                update(Job).where(Job.id == job_id).values(run_after=now() - timedelta(seconds=1))
            )

    assert 30 <= delays[0] < 32 and 60 <= delays[1] < 62  # base, then base × 2
    assert execute_job(app, job_id) == "failed"
    job = job_row(app, job_id)
    assert calls == [1, 2, 3]
    assert (job.state, job.attempts) == ("failed", 3)
    assert "RuntimeError: ASR engine unreachable (attempt 3)" in job.error
    assert execute_job(app, job_id) is None
    events = audit_rows(app, "job.failed", f"job:{job_id}")
    assert len(events) == 1 and "attempt 3" in events[0].detail["error"]


def test_timeout_fails_the_job_without_retry(app, register_plugin):
    after_deadline = []

    def handler(ctx):
        ctx.progress(10, "starting")  # the deadline has passed: this raises JobTimeout
        after_deadline.append(True)
        return {}

    register_plugin(
        Handlers(JobHandler("test.timeout", handler, max_attempts=3, timeout_seconds=0))
    )
    with app.app_context():
        job_id = enqueue("test.timeout", {})
    assert execute_job(app, job_id) == "failed"
    job = job_row(app, job_id)
    assert after_deadline == []
    assert (job.state, job.attempts) == ("failed", 1)
    assert "JobTimeout" in job.error and "timeout" in job.error
    assert audit_rows(app, "job.failed", f"job:{job_id}")


def test_progress_before_the_deadline_does_not_time_out(app, register_plugin):
    def handler(ctx):
        for percent in (10, 50, 90):
            ctx.progress(percent, f"{percent}%")
        return {"done": True}

    register_plugin(Handlers(JobHandler("test.in_time", handler, timeout_seconds=60)))
    with app.app_context():
        job_id = enqueue("test.in_time", {})
    assert execute_job(app, job_id) == "succeeded"
    assert job_row(app, job_id).result == {"done": True}


def test_job_whose_plugin_is_gone_fails_with_a_clear_error(app):
    job_id = add_job(app, kind="removed_plugin.work", payload={})
    assert execute_job(app, job_id) == "failed"
    assert "no handler for job kind 'removed_plugin.work'" in job_row(app, job_id).error


# --- claiming -------------------------------------------------------------------------------------


def test_claim_is_atomic_between_runners(app, make_app):
    job_id = add_job(app, kind="test.once", payload={})
    other = make_app(migrate=False)  # a second process: its own engine and connections
    barrier = threading.Barrier(8)
    results = []

    def try_claim(index):
        barrier.wait(DEADLINE)
        results.append(claim(app if index % 2 else other, job_id, f"runner-{index}:1"))

    threads = [threading.Thread(target=try_claim, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert sorted(results) == [False] * 7 + [True]
    job = job_row(app, job_id)
    assert job.state == "running" and job.attempts == 1 and job.worker.startswith("runner-")


def test_two_runners_execute_a_job_once(app, make_app, register_plugin):
    runs = []
    plugin = Handlers(JobHandler("test.once", lambda ctx: runs.append(ctx.job_id) or {}))
    register_plugin(plugin)
    other = make_app(migrate=False)
    other.extensions["disaster_ai"].register(plugin, name="once")
    with app.app_context():
        job_ids = [enqueue("test.once", {"n": n}) for n in range(5)]
    first, second = InProcessRunner(app), InProcessRunner(other)
    threads = [threading.Thread(target=runner.run_pending) for runner in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert sorted(runs) == job_ids
    assert {job_row(app, job_id).state for job_id in job_ids} == {"succeeded"}


# --- recovery after a worker died ------------------------------------------------------------------


def test_recover_requeues_a_job_left_running_by_a_dead_worker(app):
    dead = dead_worker()
    stale = add_job(
        app,
        kind="test.any",
        state="running",
        worker=dead,
        attempts=1,
        max_attempts=3,
        started_at=now(),
    )
    mine = add_job(
        app, kind="test.any", state="running", worker=worker_id(), attempts=1, started_at=now()
    )
    elsewhere_fresh = add_job(
        app, kind="test.any", state="running", worker="other-host:42", attempts=1
    )
    elsewhere_silent = add_job(
        app, kind="test.any", state="running", worker="silent-host:42", attempts=1
    )
    with session_scope(get_storage(app)) as session:
        session.add(Heartbeat(name="worker:other-host:42", kind="worker", at=now()))
        session.add(
            Heartbeat(
                name="worker:silent-host:42",
                kind="worker",
                at=now() - timedelta(seconds=app.config["JOB_STALE_SECONDS"] + 10),
            )
        )

    assert sorted(recover_stale_jobs(app)) == sorted([stale, elsewhere_silent])
    job = job_row(app, stale)
    assert (job.state, job.worker, job.attempts) == ("queued", None, 1)
    assert job.run_after <= now()
    assert "re-queued" in job.message
    assert job_row(app, mine).state == "running"  # this process is alive
    assert job_row(app, elsewhere_fresh).state == "running"  # its host reported recently
    assert job_row(app, elsewhere_silent).state == "queued"
    assert recover_stale_jobs(app) == []


def test_recover_fails_a_job_whose_attempts_are_exhausted(app):
    job_id = add_job(
        app, kind="test.any", state="running", worker=dead_worker(), attempts=3, max_attempts=3
    )
    assert recover_stale_jobs(app) == [job_id]
    job = job_row(app, job_id)
    assert job.state == "failed" and job.finished_at is not None
    assert "worker running this job stopped" in job.error
    events = audit_rows(app, "job.failed", f"job:{job_id}")
    assert len(events) == 1 and "stopped" in events[0].detail["error"]


def test_runner_start_requeues_and_then_runs_a_dead_workers_job(make_app):
    app = make_app(JOB_POLL_SECONDS=0.05, JOB_WORKERS=1)
    app.extensions["disaster_ai"].register(
        Handlers(
            JobHandler(
                "test.resume", lambda ctx: {"resumed": ctx.payload["n"], "attempt": ctx.attempt}
            )
        ),
        name="resume",
    )
    job_id = add_job(
        app,
        kind="test.resume",
        payload={"n": 5},
        state="running",
        worker=dead_worker(),
        attempts=1,
        max_attempts=3,
    )
    runner = InProcessRunner(app)
    runner.start()
    try:
        wait_for(
            lambda: job_row(app, job_id).state == "succeeded", what="the recovered job to finish"
        )
    finally:
        runner.stop()
    job = job_row(app, job_id)
    assert job.result == {"resumed": 5, "attempt": 2}
    assert job.worker == runner.worker


def test_a_long_job_without_progress_is_not_requeued_by_another_process(
    make_app, database_url, tmp_path
):
    """The worker keeps its heartbeat fresh while a handler runs, so the scheduler's stale-job
    recovery (another process on this host) leaves a slow but alive job alone."""
    stale_seconds = 1
    app = make_app(JOB_STALE_SECONDS=stale_seconds)
    started, release = threading.Event(), threading.Event()

    def handler(ctx):
        started.set()
        assert release.wait(DEADLINE)
        return {"slow": True}

    app.extensions["disaster_ai"].register(Handlers(JobHandler("test.long", handler)), name="long")
    with app.app_context():
        job_id = enqueue("test.long", {})
    worker = threading.Thread(target=execute_job, args=(app, job_id, worker_id()))
    worker.start()
    try:
        assert started.wait(DEADLINE)
        started_at = job_row(app, job_id).started_at

        def silent_for_longer_than_stale_but_beating():
            with session_scope(get_storage(app)) as session:
                seen = session.get(Heartbeat, f"worker:{worker_id()}").at
            return (
                now() - started_at
            ).total_seconds() > stale_seconds * 1.5 and seen - started_at > timedelta(
                seconds=stale_seconds
            )

        wait_for(
            silent_for_longer_than_stale_but_beating,
            timeout=stale_seconds * 5,
            what="the worker heartbeat to be refreshed while the handler runs",
        )
        env = {
            **os.environ,
            "DISASTER_AI_DATABASE_URL": database_url,
            "DISASTER_AI_JOB_STALE_SECONDS": str(stale_seconds),
            "DISASTER_AI_LOAD_ENTRY_POINTS": "false",
            "DISASTER_AI_INSTANCE_PATH": str(tmp_path / "other"),
            "DISASTER_AI_PLUGINS_DIR": str(tmp_path / "no-plugins"),
            "DISASTER_AI_LOG_LEVEL": "WARNING",
        }
        code = (
            "from disaster_ai.app import create_app\n"
            "from disaster_ai.jobs.service import recover_stale_jobs\n"
            "print('recovered', recover_stale_jobs(create_app()))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        assert "recovered []" in out.stdout
        assert job_row(app, job_id).state == "running"
    finally:
        release.set()
        worker.join(DEADLINE)
    job = job_row(app, job_id)
    assert (job.state, job.attempts) == ("succeeded", 1)


# --- the real worker threads -----------------------------------------------------------------------


def test_inprocess_threads_run_jobs_enqueued_after_start(make_app):
    app = make_app(JOB_WORKERS=2, JOB_RETRY_BASE_SECONDS=0.05)
    attempts = {}

    def flaky(ctx):
        attempts[ctx.job_id] = ctx.attempt
        if ctx.attempt < 2:
            raise ConnectionError("model server restarting")
        ctx.progress(50, "half")
        return {"attempt": ctx.attempt}

    app.extensions["disaster_ai"].register(
        Handlers(
            JobHandler("test.echo", lambda ctx: {"echo": ctx.payload["text"]}),
            JobHandler("test.flaky", flaky),
        ),
        name="threads",
    )
    runner = runner_for(app)
    assert isinstance(runner, InProcessRunner)
    runner.start()
    try:
        assert runner.alive
        with app.app_context():
            echo_ids = [enqueue("test.echo", {"text": f"報{n}"}) for n in range(3)]
            flaky_id = enqueue("test.flaky", {})

        def all_done():
            return all(
                job_row(app, job_id).state in {"succeeded", "failed"}
                for job_id in [*echo_ids, flaky_id]
            )

        wait_for(all_done, what="the worker threads to finish the jobs")
    finally:
        runner.stop()
    assert not runner.alive
    assert [job_row(app, job_id).result for job_id in echo_ids] == [
        {"echo": f"報{n}"} for n in range(3)
    ]
    flaky_job = job_row(app, flaky_id)
    assert (flaky_job.state, flaky_job.attempts, flaky_job.result) == (
        "succeeded",
        2,
        {"attempt": 2},
    )
    with session_scope(get_storage(app)) as session:
        beat = session.get(Heartbeat, f"worker:{runner.worker}")
    assert beat is not None and beat.kind == "worker"


def test_runner_start_is_idempotent_and_restartable(make_app):
    app = make_app(JOB_WORKERS=2)
    app.extensions["disaster_ai"].register(
        Handlers(JobHandler("test.echo", lambda ctx: dict(ctx.payload))), name="restart"
    )
    runner = InProcessRunner(app)
    runner.start()
    try:
        runner.start()
        assert len([t for t in runner._threads if t.is_alive()]) == 2
    finally:
        runner.stop()
    assert not runner.alive
    runner.start()  # e.g. `disaster-ai worker` restarting its threads after stop()
    try:
        assert runner.alive
        with app.app_context():
            job_id = enqueue("test.echo", {"again": True})
        wait_for(
            lambda: job_row(app, job_id).state == "succeeded",
            what="the restarted runner to run the job",
        )
    finally:
        runner.stop()
    assert job_row(app, job_id).result == {"again": True}


# --- the JSON API --------------------------------------------------------------------------------------


@pytest.fixture
def api(app, register_plugin, api_headers):
    behaviour = {"fail": True}

    def sometimes(ctx):
        if behaviour["fail"]:
            raise ValueError("bad audio")
        return {"text": "ok"}

    register_plugin(
        Handlers(
            JobHandler("test.api", sometimes, max_attempts=1),
            JobHandler("test.other", lambda ctx: {"other": True}),
        )
    )
    client = app.test_client()
    headers = api_headers("operator")

    class Api:
        def get(self, url):
            return client.get(url, headers=headers)

        def post(self, url):
            return client.post(url, headers=headers)

    api = Api()
    api.behaviour = behaviour
    return api


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code and error["message"]
    return error


def test_api_lists_and_shows_jobs(app, api):
    with app.app_context():
        failed_id = enqueue("test.api", {})
        other_id = enqueue("test.other", {})
    execute_job(app, failed_id)
    listed = api.get("/api/v1/jobs")
    assert listed.status_code == 200
    jobs = listed.get_json()["jobs"]
    assert [job["id"] for job in jobs] == [other_id, failed_id]  # newest first
    assert [job["state"] for job in jobs] == ["queued", "failed"]
    assert api.get("/api/v1/jobs?state=failed").get_json()["jobs"][0]["id"] == failed_id
    assert [j["id"] for j in api.get("/api/v1/jobs?kind=test.other").get_json()["jobs"]] == [
        other_id
    ]
    assert [j["id"] for j in api.get("/api/v1/jobs?limit=1").get_json()["jobs"]] == [other_id]
    assert api.get("/api/v1/jobs?state=succeeded").get_json()["jobs"] == []

    one = api.get(f"/api/v1/jobs/{failed_id}")
    assert one.status_code == 200
    body = one.get_json()
    assert body["id"] == failed_id and body["kind"] == "test.api" and body["state"] == "failed"
    assert "ValueError: bad audio" in body["error"]
    assert body["attempts"] == 1 and body["max_attempts"] == 1 and body["finished_at"]


def test_api_needs_a_login(app, client):
    assert_error(client.get("/api/v1/jobs"), 401, "unauthenticated")


def test_api_unknown_job_is_a_404_in_the_error_format(api):
    assert_error(api.get("/api/v1/jobs/999999"), 404, "not_found")
    assert_error(api.post("/api/v1/jobs/999999/retry"), 404, "not_found")


@pytest.mark.parametrize(
    "query, field",
    [
        ("state=bogus", "state"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("surprise=1", "surprise"),
    ],
)
def test_api_rejects_a_bad_query_with_422(api, query, field):
    error = assert_error(api.get(f"/api/v1/jobs?{query}"), 422, "invalid")
    assert field in error["details"]["fields"]


def test_api_retry_of_a_job_that_has_not_failed_is_a_conflict(app, api):
    with app.app_context():
        job_id = enqueue("test.other", {})
    assert_error(api.post(f"/api/v1/jobs/{job_id}/retry"), 409, "conflict")
    execute_job(app, job_id)
    assert_error(api.post(f"/api/v1/jobs/{job_id}/retry"), 409, "conflict")
    assert job_row(app, job_id).state == "succeeded"


def test_api_retry_requeues_a_failed_job(app, api):
    with app.app_context():
        job_id = enqueue("test.api", {})
    assert execute_job(app, job_id) == "failed"
    api.behaviour["fail"] = False  # e.g. the audio file was fixed

    response = api.post(f"/api/v1/jobs/{job_id}/retry")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["state"], body["attempts"], body["error"], body["finished_at"]) == (
        "queued",
        0,
        None,
        None,
    )
    assert job_row(app, job_id).state == "queued"
    retry_events = audit_rows(app, "job.retry", f"job:{job_id}")
    assert len(retry_events) == 1 and retry_events[0].actor_name == "operator"

    assert runner_for(app).run_pending() == 1
    job = job_row(app, job_id)
    assert (job.state, job.attempts, job.result) == ("succeeded", 1, {"text": "ok"})
