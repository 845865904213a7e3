"""pytest fixtures for disaster-ai and its plugins (exposed through the pytest11 entry point).

- ``db_backend``: "sqlite" and "postgresql"; tests using ``app`` run on both. A test can pin
  one with ``@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)``.
- ``app`` / ``make_app``: a migrated app on a fresh database (PostgreSQL: a fresh schema).
- ``client``, ``runner``, ``register_plugin``, ``users``, ``login``, ``api_headers``, ``yaizu``.

PostgreSQL tests skip with a clear message when the server is absent, and so do tests that need
a system tool (``require_tool``: chromium, poppler's pdftotext) or an optional Python package
(``pytest.importorskip``). DISASTER_AI_REQUIRE_SERVICES=1 (set by .ci/run, whose machine has
all of them) turns every skip into a failure: a test that did not run must not look green there.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from disaster_ai.config import REPO_ROOT

POSTGRES_URL = os.environ.get(
    "DISASTER_AI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("DISASTER_AI_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_PASSWORDS = {
    "admin": "admin-pass-123",
    "operator": "operator-pass-123",
    "approver": "approver-pass-123",
}


def services_required() -> bool:
    return os.environ.get("DISASTER_AI_REQUIRE_SERVICES") == "1"


STRICT_NOTE = "DISASTER_AI_REQUIRE_SERVICES=1 turns this skip into a failure"


def skip_or_fail(message: str):
    if services_required():
        pytest.fail(f"{message} ({STRICT_NOTE})")
    pytest.skip(message)


def require_tool(command: str, debian_package: str, purpose: str) -> str:
    """The absolute path of ``command``; when it is not on PATH, skip naming the Debian package
    that brings it (a failure under DISASTER_AI_REQUIRE_SERVICES=1)."""
    import shutil

    path = shutil.which(command)
    if path is None:
        skip_or_fail(f"{command} is not installed: apt-get install {debian_package} ({purpose})")
    return path


# A machine without system fonts, for a subprocess: fontconfig (Pango, WeasyPrint, fc-list) reads
# an empty configuration, and matplotlib's font manager keeps only the DejaVu files it ships.
EMPTY_FONTCONFIG = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig><cachedir>{cache}</cachedir>{dirs}</fontconfig>
"""
WITHOUT_SYSTEM_FONTS = """
import os as _os
import matplotlib as _mpl
from matplotlib import font_manager as _fm
_own = _os.path.join(_mpl.get_data_path(), "fonts")
_fm.fontManager.ttflist = [f for f in _fm.fontManager.ttflist if f.fname.startswith(_own)]
_fm.FontManager._findfont_cached.cache_clear()
"""


def run_without_system_fonts(
    code: str, tmp_path, *args: str, timeout: float = 300, env=None, font_dirs=()
):
    """Run ``code`` in a fresh Python whose fontconfig and matplotlib see no system font (the
    fonts of a Python package stay visible; fontconfig sees ``font_dirs`` only); returns the
    CompletedProcess (text)."""
    import subprocess
    import sys

    folder = Path(tmp_path) / "no-system-fonts"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "fonts.conf"
    dirs = "".join(f"<dir>{d}</dir>" for d in font_dirs)
    config.write_text(EMPTY_FONTCONFIG.format(cache=folder / "cache", dirs=dirs), encoding="utf-8")
    script = folder / "script.py"
    script.write_text(WITHOUT_SYSTEM_FONTS + "\n" + code, encoding="utf-8")
    environment = {**os.environ, **(env or {}), "FONTCONFIG_FILE": str(config)}
    environment.pop("FONTCONFIG_PATH", None)
    return subprocess.run(
        [sys.executable, str(script), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _strict_report(report) -> None:
    """Under DISASTER_AI_REQUIRE_SERVICES=1, a skipped test or module (``pytest.skip``,
    ``skipif``, ``pytest.importorskip`` of an optional engine) is reported as a failure."""
    if not services_required() or not report.skipped or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = f"skipped: {reason} ({STRICT_NOTE})"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    _strict_report(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    _strict_report(report)
    return report


_reachable: dict[str, str | None] = {}


def _postgres_problem() -> str | None:
    if "postgres" not in _reachable:
        from sqlalchemy import create_engine, text

        try:
            engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            engine.dispose()
            _reachable["postgres"] = None
        except Exception as exc:
            _reachable["postgres"] = (
                f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}"
            )
    return _reachable["postgres"]


def require_postgres() -> None:
    problem = _postgres_problem()
    if problem:
        skip_or_fail(problem + " (set DISASTER_AI_TEST_POSTGRES_URL)")


def require_redis() -> None:
    if "redis" not in _reachable:
        import redis

        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
            _reachable["redis"] = None
        except Exception as exc:
            _reachable["redis"] = f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}"
    if _reachable["redis"]:
        skip_or_fail(_reachable["redis"] + " (set DISASTER_AI_TEST_REDIS_URL)")


class PostgresSchema:
    """A throwaway schema on the test server; the app's search_path points at it."""

    def __init__(self):
        from sqlalchemy import create_engine

        self.name = "t_" + uuid.uuid4().hex[:12]
        self.admin_engine = create_engine(POSTGRES_URL)
        with self.admin_engine.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{self.name}"')
        separator = "&" if "?" in POSTGRES_URL else "?"
        self.url = f"{POSTGRES_URL}{separator}options=-csearch_path%3D{self.name}"

    def drop(self):
        with self.admin_engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
        self.admin_engine.dispose()


class DatabaseTemplates:
    """Copies of SQLite test databases, taken once per test session: the freshly migrated
    database (every history of the loaded plugins) and the one with a sample kit loaded.

    Migrating (every plugin's Alembic history) and ``init --sample NAME`` cost seconds each, and most
    tests need one or both; a copy of the file costs milliseconds. A copy is only used where the
    real thing would give the same database:

    - the key holds the stage, the plugins loaded and their migration folders, and the config
      (without the test's own paths, secrets and URL), so another plugin set or setting makes
      its own template;
    - "migrated" is only restored where the database has no tables yet, "sample:NAME" only onto one in which
      nothing but the schema versions has been written (a test that made users first, say, runs
      the real ``init``);
    - nothing is restored or saved while time-machine has moved the clock (``init`` stamps
      times), nor on PostgreSQL (each test has its own schema and migrates it for real).

    DISASTER_AI_TEST_NO_TEMPLATES=1 turns it off. tests/test_schema.py and the migration
    tests build their databases by hand and do not go through it.
    """

    def __init__(self):
        self.files: dict[tuple, Path] = {}
        self.folder: Path | None = None

    @staticmethod
    def _path(app) -> Path | None:
        url = app.config.get("DATABASE_URL", "")
        if os.environ.get("DISASTER_AI_TEST_NO_TEMPLATES") or not url.startswith("sqlite:///"):
            return None
        try:
            import time_machine

            if getattr(time_machine, "traveller_stack", None) is None or (
                time_machine.traveller_stack
            ):
                return None
        except ImportError:
            pass
        return Path(url.removeprefix("sqlite:///"))

    @staticmethod
    def _key(app, stage: str, database: Path) -> tuple:
        from disaster_ai.storage import get_storage, schema

        pm = get_storage(app).plugin_manager
        sources = tuple((s.name, str(s.directory)) for s in schema.migration_sources(pm))
        plugins = tuple(sorted(name for name, _p in pm.list_name_plugin()))
        own = str(database.parent)
        config = tuple(
            sorted(
                (name, repr(value))
                for name, value in app.config.items()
                if name not in ("DATABASE_URL", "SECRET_KEY") and own not in repr(value)
            )
        )
        return (stage, sources, plugins, config)

    @staticmethod
    def _written(database: Path) -> set[str]:
        """The tables with at least one row, schema version tables left out."""
        import sqlite3

        if not database.exists():
            return set()
        connection = sqlite3.connect(database)
        try:
            names = [
                row[0]
                for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            ]
            written = {
                name
                for name in names
                if not name.startswith(("dai_schema_", "alembic_version"))
                and connection.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone()
            }
            return written if names else {"<no tables>"}
        finally:
            connection.close()

    def _usable(self, app, stage: str) -> Path | None:
        database = self._path(app)
        if database is None:
            return None
        if stage == "migrated":  # only onto a database that does not exist or has no tables
            fresh = not database.exists() or self._written(database) == {"<no tables>"}
            return database if fresh else None
        return database if not self._written(database) else None

    def restore(self, app, stage: str) -> str:
        """``"restored"``; ``"save"`` when the caller should build the stage for real and then
        :meth:`save` it (the database is as fresh as a template needs, but none exists yet);
        ``"no"`` when the database already holds something: build for real, save nothing (a
        template made from it would carry that something into other tests)."""
        import shutil

        from disaster_ai.storage import get_storage

        database = self._usable(app, stage)
        if database is None:
            return "no"
        source = self.files.get(self._key(app, stage, database))
        if source is None:
            return "save"
        get_storage(app).dispose()
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source, database)
        return "restored"

    def save(self, app, stage: str) -> None:
        import shutil
        import sqlite3
        import tempfile

        from disaster_ai.storage import get_storage

        database = self._path(app)
        if database is None or not database.exists():
            return
        key = self._key(app, stage, database)
        if key in self.files:
            return
        get_storage(app).dispose()
        connection = sqlite3.connect(database)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="disaster-ai-test-templates-"))
        target = self.folder / f"{stage}-{len(self.files)}.sqlite3"
        shutil.copyfile(database, target)
        self.files[key] = target


_TEMPLATES = DatabaseTemplates()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_backend(request):
    if request.param == "postgresql":
        require_postgres()
    return request.param


@pytest.fixture
def database_url(db_backend, tmp_path):
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    schema = PostgresSchema()
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture
def make_app(database_url, tmp_path):
    """Build more apps on the same database, e.g. ``make_app(DISABLED_PLUGINS=[...])``."""
    from disaster_ai.app import create_app
    from disaster_ai.storage import get_storage

    built = []

    def factory(migrate: bool = True, **overrides):
        config = {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "LOAD_ENTRY_POINTS": False,
            "PLUGINS_DIR": str(tmp_path / "no-plugins"),
            "SECRET_KEY": "test-secret",
            "LOG_LEVEL": "WARNING",
            "JOB_RETRY_BASE_SECONDS": 0,
        }
        config.update(overrides)
        app = create_app(config, instance_path=str(tmp_path / "instance"))
        if migrate:
            templated = _TEMPLATES.restore(app, "migrated")
            if templated != "restored":
                get_storage(app).migrate()
                if templated == "save":
                    _TEMPLATES.save(app, "migrated")
        built.append(app)
        return app

    yield factory
    for app in built:
        get_storage(app).dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    from disaster_ai.cli import build_cli

    class Runner:
        def __init__(self):
            from click.testing import CliRunner

            self.cli = build_cli(app)
            self.runner = CliRunner()

        def invoke(self, args, **kwargs):
            from flask.cli import ScriptInfo

            info = ScriptInfo(create_app=lambda: app, load_dotenv_defaults=False)
            return self.runner.invoke(self.cli, args, obj=info, catch_exceptions=False, **kwargs)

    return Runner()


@pytest.fixture
def register_plugin(app):
    """Register an object or module on this app's plugin manager for one test."""
    pm = app.extensions["disaster_ai"]
    names = []

    def register(plugin, name: str | None = None):
        name = name or f"test-plugin-{len(names)}"
        pm.register(plugin, name=name)
        pm.sources[name] = ("test", "")
        app.extensions.pop("disaster_ai.job_handlers", None)
        names.append(name)
        return name

    yield register
    for name in names:
        if pm.has_plugin(name):
            pm.unregister(name=name)
    app.extensions.pop("disaster_ai.job_handlers", None)


@pytest.fixture
def users(app):
    """admin, operator and approver with the passwords in TEST_PASSWORDS.

    Their password hashes are made once per test session (scrypt costs about 0.1 s each, three
    per test); every test still stores its own users and logs in through the real check."""
    from unittest import mock

    from disaster_ai import auth
    from disaster_ai.storage import get_storage, session_scope

    real = auth.generate_password_hash

    def hashed_once(password: str) -> str:
        if password not in _PASSWORD_HASHES:
            _PASSWORD_HASHES[password] = real(password)
        return _PASSWORD_HASHES[password]

    with (
        app.app_context(),
        session_scope(get_storage(app)) as session,
        mock.patch.object(auth, "generate_password_hash", hashed_once),
    ):
        for role, password in TEST_PASSWORDS.items():
            auth.create_user(session, role, role, password)
    return dict(TEST_PASSWORDS)


_PASSWORD_HASHES: dict[str, str] = {}


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def login(client, users):
    """``login("operator")`` logs the test client in through the real form."""

    def do_login(role: str, password: str | None = None):
        page = client.get("/login")
        token = csrf_token_from(page.get_data(as_text=True))
        return client.post(
            "/login",
            data={"username": role, "password": password or users[role], "csrf_token": token},
        )

    return do_login


@pytest.fixture
def api_headers(app, users):
    """``api_headers("admin")`` → headers with a fresh Bearer token for that user."""
    from sqlalchemy import select

    from disaster_ai.auth import issue_token
    from disaster_ai.storage import get_storage, session_scope
    from disaster_ai.storage.models import User

    def headers(role: str) -> dict:
        with app.app_context(), session_scope(get_storage(app)) as session:
            user = session.scalar(select(User).where(User.username == role))
            _, plain = issue_token(session, user, "test")
        return {"Authorization": f"Bearer {plain}"}

    return headers


def load_sample(app, runner, name: str) -> None:
    """``disaster-ai init --sample NAME --no-demo-users``, or a copy of the database it gave
    earlier in this test session (:class:`DatabaseTemplates`)."""
    stage = f"sample:{name}"
    templated = _TEMPLATES.restore(app, stage)
    if templated != "restored":
        result = runner.invoke(["init", "--sample", name, "--no-demo-users"])
        assert result.exit_code == 0, result.output
        if templated == "save":
            _TEMPLATES.save(app, stage)


@pytest.fixture
def yaizu(app, runner):
    """The Yaizu sample municipality, loaded through ``disaster-ai init --sample yaizu``."""
    load_sample(app, runner, "yaizu")
    return Path(REPO_ROOT) / "sample_data" / "yaizu"


@pytest.fixture
def jma_sample():
    """``jma_sample("15_11_01_150916_VPWW54.xml")`` → the copied JMA telegram's bytes."""

    def read(name: str) -> bytes:
        return (Path(REPO_ROOT) / "tests" / "fixtures" / "jma" / name).read_bytes()

    return read


# --- browser tests: the app on a free localhost port, and Debian's chromium ------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(REPO_ROOT) / "docs" / "screenshots"


@pytest.fixture
def live_server(app, yaizu, users):
    """The app (with the Yaizu kit and the test users) on ``http://127.0.0.1:<free port>``,
    served by werkzeug from a thread; yields the base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def browser():
    """Debian's chromium through playwright (never ``playwright install``). Skips when
    /usr/bin/chromium is absent, unless DISASTER_AI_REQUIRE_SERVICES=1 (then it fails)."""
    if not CHROMIUM.exists():
        skip_or_fail(
            f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium) "
            "for the browser tests"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_env(database_url: str, tmp_path, **settings: str) -> dict[str, str]:
    """The environment of a ``disaster-ai`` child process a test starts: this test's database,
    its own instance folder, no installed or folder plugins, a fixed secret; ``settings`` adds
    ``DISASTER_AI_<NAME>`` values (``JOB_STALE_SECONDS="5"``)."""
    import os

    env = {
        **os.environ,
        "DISASTER_AI_DATABASE_URL": database_url,
        "DISASTER_AI_INSTANCE_PATH": str(tmp_path / "instance"),
        "DISASTER_AI_LOAD_ENTRY_POINTS": "false",
        "DISASTER_AI_PLUGINS_DIR": str(tmp_path / "no-plugins"),
        "DISASTER_AI_SECRET_KEY": "test-secret",
        "DISASTER_AI_LOG_LEVEL": "WARNING",
    }
    env.update({f"DISASTER_AI_{name}": str(value) for name, value in settings.items()})
    return env


def browser_login(page, base: str, username: str, password: str):
    """Log ``page`` in through the real login form and wait for the dashboard."""
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page
