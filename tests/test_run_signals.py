"""`disaster-ai run` stops the processes it supervises (the scheduler child) when it is told to
stop with SIGTERM (systemd, docker stop, kill) or SIGINT (Ctrl-C), and exits cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from disaster_ai.testing import free_port, process_env

DEADLINE = 60
pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True),
]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status in (200, 503)
    except urllib.error.HTTPError as exc:
        return exc.code == 503  # answering, the scheduler not yet beating
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_stops_its_children(app, database_url, tmp_path, signum):
    port = free_port()
    env = process_env(database_url, tmp_path, LOG_LEVEL="INFO")
    log_file = tmp_path / "run.log"
    with open(log_file, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "disaster_ai.cli", "run", "--host", "127.0.0.1"]
            + ["--port", str(port), "--threads", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    children = []
    try:
        parent = psutil.Process(process.pid)
        deadline = time.monotonic() + DEADLINE
        while not (children and _healthy(f"http://127.0.0.1:{port}/healthz")):
            assert process.poll() is None, log_file.read_text()
            assert time.monotonic() < deadline, "run did not come up:\n" + log_file.read_text()
            time.sleep(0.2)
            children = parent.children(recursive=True)
        assert any("scheduler" in child.cmdline() for child in children)

        process.send_signal(signum)
        assert process.wait(timeout=DEADLINE) == 0, log_file.read_text()
        gone, alive = psutil.wait_procs(children, timeout=5)
        assert alive == [], f"still running after run stopped: {alive}"
        assert "disaster-ai stopped" in log_file.read_text()
        assert not _healthy(f"http://127.0.0.1:{port}/healthz")  # the port is closed too
    finally:
        for child in children:
            if child.is_running():
                child.kill()
        if process.poll() is None:
            process.kill()
            process.wait()
