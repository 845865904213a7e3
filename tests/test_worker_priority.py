"""Jobs run below the web's CPU priority: `disaster-ai run` supervises a `disaster-ai worker` child
at WORKER_NICE with capped thread pools while the web process keeps its niceness; job threads
inside a web process (`run --worker-threads`) lower only themselves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from disaster_ai.testing import free_port, process_env

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
DEADLINE = 60
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="a niceness per thread is Linux's"
)


@linux_only
def test_job_threads_run_niced_and_the_web_thread_does_not(app):
    from disaster_ai.jobs.inprocess import InProcessRunner

    before = os.getpriority(os.PRIO_PROCESS, 0)
    app.config.update(WORKER_NICE=before + 3, JOB_WORKERS=1, JOB_POLL_SECONDS=0.05)
    runner = InProcessRunner(app)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        [thread] = runner._threads
        while time.monotonic() < deadline:
            niceness = os.getpriority(os.PRIO_PROCESS, thread.native_id)
            if niceness == before + 3:
                break
            time.sleep(0.05)
    finally:
        runner.stop()
    assert niceness == before + 3
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # the serving thread keeps its own


def test_run_puts_the_jobs_in_a_niced_worker_child(app, database_url, tmp_path):
    base = psutil.Process().nice()
    env = process_env(
        database_url, tmp_path, LOG_LEVEL="INFO", WORKER_NICE=base + 7, WORKER_CPU_THREADS=1
    )
    env.pop("OMP_NUM_THREADS", None)
    log_file = tmp_path / "run.log"
    with open(log_file, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "disaster_ai.cli", "run", "--no-scheduler"]
            + ["--host", "127.0.0.1", "--port", str(free_port()), "--threads", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker = None
    try:
        parent = psutil.Process(process.pid)
        deadline = time.monotonic() + DEADLINE
        while True:
            assert process.poll() is None, log_file.read_text()
            assert time.monotonic() < deadline, "no niced worker child:\n" + log_file.read_text()
            workers = [c for c in parent.children() if "worker" in c.cmdline()]
            if workers and workers[0].nice() == base + 7:
                worker = workers[0]
                break
            time.sleep(0.2)
        # every thread of the worker, and its thread caps for the numeric libraries
        for thread in worker.threads():
            assert os.getpriority(os.PRIO_PROCESS, thread.id) == base + 7
        assert worker.environ().get("OMP_NUM_THREADS") == "1"
        assert parent.nice() == base  # the web process keeps its priority

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE) == 0, log_file.read_text()
        assert worker.wait(timeout=15) is not None or not worker.is_running()
    finally:
        if worker is not None and worker.is_running():
            worker.kill()
        if process.poll() is None:
            process.kill()
            process.wait()
