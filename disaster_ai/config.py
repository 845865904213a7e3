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
    LOGIN_MAX_FAILURES = 5  # per user name from one address within the window
    LOGIN_MAX_FAILURES_PER_NAME = 50  # per user name from all addresses together
    LOGIN_MAX_FAILURES_PER_IP = 100  # per address, all names together (a desk behind one NAT)
    LOGIN_LOCKOUT_SECONDS = 15 * 60
    # Reverse proxy: how many proxies in front set X-Forwarded-For / -Proto / -Host / -Port /
    # -Prefix. 0 (the default): those headers are ignored, the peer address is the client's.
    PROXY_FIX_X_FOR = 0
    PROXY_FIX_X_PROTO = 0
    PROXY_FIX_X_HOST = 0
    PROXY_FIX_X_PORT = 0
    PROXY_FIX_X_PREFIX = 0
    CSP_EXTRA_SOURCES: dict[str, list[str]] = {}  # e.g. {"img-src": ["https://tiles.example"]}
    MIN_PASSWORD_LENGTH = 10

    # Live notifications (toasts) and the desk's search (docs/desk.md)
    NOTIFY_STREAM_SECONDS = 25  # one server-sent-events connection lasts this long, then reconnects
    NOTIFY_POLL_SECONDS = 2.0  # how often an open stream reads the notifications table
    NOTIFY_HEARTBEAT_SECONDS = 10  # a comment line this often keeps proxies from closing the stream
    NOTIFY_MAX_STREAMS = 4  # streams held open per process at once; beyond: answered as a poll
    NOTIFY_FALLBACK_POLL_SECONDS = 15  # how often a page polls when it cannot hold a stream
    NOTIFY_BACKLOG_HOURS = 12  # a page opened later still shows notifications this recent
    NOTIFY_KEEP_DAYS = 7  # older notifications are deleted
    SEARCH_MAX_RESULTS = 20

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

    # Worker process: transcription and other jobs run below the web's CPU priority (docs/deploy.md)
    WORKER_NICE = 10  # niceness of `disaster-ai worker` and of in-process job threads; 0: unchanged
    WORKER_CPU_THREADS = 2  # OpenMP/BLAS/torch threads of a worker process (whisper: see below)

    # Backup and restore (`disaster-ai backup` / `restore`, docs/deploy.md)
    BACKUP_DIR = None  # None: <instance>/backups
    BACKUP_KEEP = 14  # archives kept in BACKUP_DIR by `disaster-ai backup`; 0: all
    # instance paths (globs) left out of the archive: re-creatable models, caches, other backups
    BACKUP_EXCLUDE: list[str] = ["models", "backups", "cache", ".cache", "calls/.incoming"]

    # Monitoring: /metrics (Prometheus text) and the disk check of /healthz
    METRICS_TOKEN = None  # a secret: the Bearer token /metrics asks for; None: no /metrics (404)
    DISK_MIN_FREE_MB = 500  # /healthz is degraded when the instance or upload folder has less free

    # Egress: nothing leaves the machine unless both are set.
    ALLOW_EXTERNAL_AI = False
    EGRESS_ALLOWLIST: list[str] = []

    # Situation: geodata import
    # Largest file per import (and per unpacked zip); an upload body may be this + 1 MiB.
    GEO_IMPORT_MAX_BYTES = 50 * 1024 * 1024
    # Most vertices per imported feature: one over it is simplified (reported) or refused.
    GEO_IMPORT_MAX_VERTICES = 50_000
    # m² per person when a shelter's capacity is derived from its floor area: the Sphere minimum
    # written into the 内閣府 shelter guidelines in their December 2024 revision.
    SHELTER_M2_PER_PERSON = 3.5

    # Logging
    LOG_LEVEL = "INFO"

    # Situation map and shelters
    # The base map: "gsi_pale" (地理院タイル 淡色地図, fetched by the browser; needs
    # cyberjapandata.gsi.go.jp in EGRESS_ALLOWLIST), a folder of {z}/{x}/{y}.png tiles or an
    # .mbtiles file (served by the app, for LGWAN); None: MAP_TILE_URL, else no base map
    MAP_TILES = None
    MAP_TILE_URL = (
        None  # e.g. "https://tiles.example.lg.jp/{z}/{x}/{y}.png"; None: vector layers only
    )
    MAP_TILE_ATTRIBUTION = ""  # the credit the tile provider requires, shown on the map
    MAP_TILE_MAX_ZOOM = 18
    MAP_REFRESH_SECONDS = 30  # how often open maps reload incidents and shelter status; 0: never

    # Situation analysis and summary
    SITUATION_HAZARD = (
        None  # the active hazard when a request names none (e.g. "inland_flood"); None: none
    )
    SITUATION_CRS = None  # projected CRS for areas and distances; None: the nearest JGD2011 plane-rectangular zone
    SITUATION_TIME_WINDOWS_MINUTES = [60, 180, 1440]  # "incidents in the last N minutes" counts
    HOTSPOT_RADIUS_M = 250  # hotspot cell side (DBSCAN eps) in metres
    HOTSPOT_WINDOW_MINUTES = 60  # hotspot time window
    HOTSPOT_MIN_INCIDENTS = 5  # incidents around a cell, within one window, that make a hotspot

    # Bulletins (被害状況 第N報): scheduling, issuer and delivery (docs/bulletins.md)
    BULLETIN_TICK_SECONDS = 30  # how often the scheduler looks for due bulletin slots
    # After downtime, missed slots younger than this make one catch-up bulletin; older: skipped.
    BULLETIN_CATCHUP_GRACE_SECONDS = 3 * 3600
    BULLETIN_ISSUER = None  # e.g. "焼津市災害対策本部"; None: "<municipality>災害対策本部"
    BULLETIN_DELIVERY_TARGETS: list[dict] = []  # [{"channel": "email", "target": "honbu@…"}, …]
    BULLETIN_DELIVERY_MAX_ATTEMPTS = 5  # per delivery, with the job runner's backoff
    BULLETIN_WEBHOOK_TIMEOUT_SECONDS = 10
    # Who may open a disaster event (覚知: the first report's countdown starts then)
    BULLETIN_EVENT_OPEN_ROLES: list[str] = ["operator", "approver", "admin"]

    # Damage reports to the prefecture (第4号様式 即報, docs/reports.md)
    REPORT_FIRST_DEADLINE_MINUTES = 30  # the first report is due this long after 覚知
    REPORT_REPORTER = None  # 報告者名 when the CLI names none (the desk uses the user's name)
    REPORT_ITEMS_FILES: list[str] = []  # the prefecture's own items (TOML, relative: instance)
    REPORT_DELIVERY_TARGETS: list[dict] = []  # [{"channel": "email", "target": "ken@…"}, …]
    REPORT_DELIVERY_MAX_ATTEMPTS = 5
    SMTP_HOST = "127.0.0.1"
    SMTP_PORT = 25
    SMTP_FROM = "disaster-ai@localhost"
    SMTP_USERNAME = None
    SMTP_PASSWORD = None  # a secret: instance/config.py or the environment only
    SMTP_STARTTLS = False
    SMTP_TIMEOUT_SECONDS = 30

    # Evacuation notices (避難情報): issuer, CAP, channel limits, shelters, AI polish (docs/notices.md)
    NOTICE_ISSUER = None  # e.g. "焼津市"; None: the municipality's name
    NOTICE_ISSUER_EN = None  # e.g. "Yaizu City"; None: the municipality's English name
    NOTICE_CAP_SENDER = "bousai@example.lg.jp"  # CAP <sender>: no spaces, commas, < or &
    NOTICE_CAP_EXPIRES_HOURS = 24  # CAP <expires> = issue time + this
    NOTICE_MAIL_TITLE_MAX = 15  # 緊急速報メール title, full-width characters
    NOTICE_MAIL_BODY_MAX = 200  # 緊急速報メール body, full-width characters
    NOTICE_SNS_MAX = 140  # SNS post
    NOTICE_POLYGON_MAX_POINTS = 100  # CAP area polygons are simplified to at most this many points
    NOTICE_SUGGEST_CLOSED_SHELTERS = (
        True  # no open shelter: suggest a closed designated one ("must open")
    )
    NOTICE_TEMPLATES_DIR = None  # None: <instance>/templates/notices
    NOTICE_LLM_URL = None  # OpenAI-compatible base URL (…/v1) for AI polish; None: no polish
    NOTICE_LLM_MODEL = None
    NOTICE_LLM_API_KEY = None  # a secret: instance/config.py or the environment only
    # a local causal-LM folder for AI polish, e.g. <instance>/models/gemma3-270m after
    # `disaster-ai notices convert-model`; None: no local model (NOTICE_LLM_URL wins when set)
    NOTICE_LLM_LOCAL_PATH = None
    NOTICE_LLM_LOCAL_THREADS = 1  # torch threads of one local generation; None: torch's default
    # AI governance (docs/governance.md): the wording added to public texts written with AI
    # help, e.g. "この文面はAIの支援を受けて作成しています"; empty: no label (the default)
    AI_OUTPUT_LABEL = ""

    # Call-recording transcription (docs/transcription.md)
    TRANSCRIPTION_ENGINE = "faster-whisper"  # or "openai-whisper", "transformers", a plugin's name
    WHISPER_MODEL_DIR = (
        None  # None: <instance>/models/whisper-base-ct2 (disaster-ai models assemble)
    )
    # openai-whisper engine: None → <instance>/models/whisper-base-openai.pt (models convert-whisper)
    OPENAI_WHISPER_CHECKPOINT = None
    # transformers engine: any Whisper folder; None → <instance>/models/whisper-base-hf
    TRANSFORMERS_WHISPER_DIR = None
    WHISPER_COMPUTE_TYPE = "int8"
    WHISPER_CPU_THREADS = 2
    WHISPER_LANGUAGE = "ja"
    WHISPER_BEAM_SIZE = 5
    WHISPER_WORD_TIMESTAMPS = True  # word confidences for the UI (free without a prompt)
    WHISPER_VAD = False  # VAD cut the first words of a dev clip; see docs/transcription.md
    WHISPER_GAZETTEER_PROMPT = False  # town names as the prompt: measured worse, see docs
    WHISPER_MAX_NEW_TOKENS = 200  # per 30 s window: caps hallucination loops on noise
    WHISPER_COMPUTE_LIMIT_FACTOR = 3.0  # stop decoding after this many × the clip's duration
    CALL_MAX_SECONDS = 15 * 60
    CALL_MAX_BYTES = 64 * 1024 * 1024  # per file; the request body may be a few files of this
    CALL_MAX_FILES = 10
    CALL_RETENTION_DAYS = 30
    CALL_PURGE_INTERVAL_MINUTES = 60
    # calls about the same place and category within this window are proposed for merging
    CALL_DUPLICATE_WINDOW_MINUTES = 120
    PLACE_MATCH_THRESHOLD = 0.75  # below this a place stays unresolved (never a guess)
    PLACE_ACOUSTIC_CHECK = True  # check candidate places against the audio (acoustic.py)
    LOW_CONFIDENCE_WORD = 0.5  # words below this probability are highlighted


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
