"""The one configuration system: defaults here, then instance/config.py, then DISASTER_AI_* env.

Environment values are parsed as JSON where they parse (``DISASTER_AI_JOB_WORKERS=4`` is an
int), and ``__`` nests into dicts (``DISASTER_AI_PLUGINS__hello__greeting="..."``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_plugins_dir() -> str | None:
    # A checkout has a top-level plugins/ folder; an installed package falls back to instance/plugins.
    checkout_plugins = REPO_ROOT / "plugins"
    return str(checkout_plugins) if checkout_plugins.is_dir() else None


class DefaultConfig:
    """Every setting, with its default. docs/configuration.md documents each one."""

    SECRET_KEY = None  # generated into instance/secret_key on first start when unset
    MUNICIPALITY_NAME = None  # default: the name of the loaded municipality
    TIMEZONE = "Asia/Tokyo"

    # Storage
    DATABASE_URL = None  # default: sqlite:///<instance>/disaster_ai.sqlite3 (WAL)
    DATABASE_ECHO = False

    # Plugins
    LOAD_ENTRY_POINTS = True
    PLUGINS_DIR = _default_plugins_dir()  # None → <instance>/plugins
    DISABLED_PLUGINS: list[str] = []
    PLUGINS: dict[str, dict] = {}
    TRACE_PLUGINS = False

    # Web and API
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    BABEL_DEFAULT_LOCALE = "ja"
    LANGUAGES = ["ja", "en"]
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # a desk shift is long; the token lives as long as the session
    HOST = "127.0.0.1"
    PORT = 5000

    # Auth
    LOGIN_MAX_FAILURES = 5  # per user name within the window
    LOGIN_MAX_FAILURES_PER_IP = 20
    LOGIN_LOCKOUT_SECONDS = 15 * 60
    MIN_PASSWORD_LENGTH = 10

    # Jobs
    JOB_RUNNER = "inprocess"  # or "celery"
    JOB_WORKERS = 2
    JOB_POLL_SECONDS = 1.0
    JOB_RETRY_BASE_SECONDS = 5.0
    JOB_STALE_SECONDS = 90
    CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    CELERY_QUEUE = "disaster_ai"

    # Scheduler
    SCHEDULER_HEARTBEAT_SECONDS = 30
    SCHEDULER_STALE_SECONDS = 120

    # Egress: nothing leaves the machine unless both are set.
    ALLOW_EXTERNAL_AI = False
    EGRESS_ALLOWLIST: list[str] = []

    # Logging
    LOG_LEVEL = "INFO"


def load_instance_and_env(app) -> None:
    """Apply the layers after the defaults: instance/config.py, then the environment."""
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("DISASTER_AI")
    # Flask reads FLASK_*-style booleans as JSON; accept the usual spellings for switches too.
    for key in ("TRACE_PLUGINS", "ALLOW_EXTERNAL_AI", "LOAD_ENTRY_POINTS"):
        value = app.config.get(key)
        if isinstance(value, str):
            app.config[key] = value.strip().lower() in {"1", "true", "yes", "on"}


def instance_path_from_env() -> str | None:
    return os.environ.get("DISASTER_AI_INSTANCE_PATH")
