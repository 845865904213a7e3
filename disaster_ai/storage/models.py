"""Core tables: users, sessions, API tokens, login attempts and throttle, audit log and its
hash chain, jobs, heartbeats, municipality."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from disaster_ai.storage.base import AwareDateTime, Base, GeoJSON, JSONText, now


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # operator | approver | admin
    locale: Mapped[str] = mapped_column(String(8), default="ja")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")


class ApiToken(Base):
    """An API token; only its sha256 is stored, the plain token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # shown in lists so a token can be recognised
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    last_used_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)

    user: Mapped[User] = relationship(back_populates="tokens")


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    success: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(AwareDateTime, default=now, index=True)


class WebSession(Base):
    """A desk login, server side: the cookie holds a random id, this row its sha256. Logout
    deletes the row and a password change deletes all of the user's rows, so a copied or old
    cookie opens nothing afterwards."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)


class LoginThrottle(Base):
    """Failed-login counters, one row per key (``pair:<address>|<name>``, ``name:<name>``,
    ``addr:<address>``), taken atomically with a conditional UPDATE before a password is checked."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(AwareDateTime, default=now)


class AuditEvent(Base):
    """Append-only (database triggers refuse UPDATE and DELETE). AI calls are rows with
    the ai_* columns filled."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(AwareDateTime, default=now, index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    app: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_name: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255), nullable=True)
    detail: Mapped[dict] = mapped_column(JSONText, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ai_engine: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ai_model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    input_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    output: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)


class AuditChain(Base):
    """The hash chain over the audit log: one row per audit event, in commit order (``seq``),
    holding the previous row's hash and sha256(previous hash + the event's canonical content).
    Append-only like the log (docs/security.md; ``disaster-ai audit verify``)."""

    __tablename__ = "audit_chain"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Job(Base):
    """A unit of slow work. The row is committed before any work starts."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_run_after", "state", "run_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSONText, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)  # 0..100
    message: Mapped[str] = mapped_column(String(255), default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict | None] = mapped_column(JSONText, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    run_after: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    started_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)


class Heartbeat(Base):
    """Last sign of life of a worker or scheduler process, for /healthz and stale-job recovery."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # worker | scheduler
    at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    detail: Mapped[dict] = mapped_column(JSONText, default=dict)


class Municipality(Base):
    """The municipality this desk serves (one row): its profile (disaster_ai/municipality,
    `disaster-ai municipality show|set`). The boundary is GeoJSON in EPSG:4326."""

    __tablename__ = "municipality"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64), default="")
    name_kana: Mapped[str] = mapped_column(String(128), default="")  # katakana reading
    prefecture: Mapped[str] = mapped_column(String(16), default="")
    lg_code: Mapped[str] = mapped_column(String(6))  # 全国地方公共団体コード (6 digits)
    jis_code: Mapped[str] = mapped_column(String(5))  # JIS X 0402 (5 digits)
    # 気象庁 市町村等 (class20) code(s), 7 digits; several comma-separated for a split municipality
    jma_area_code: Mapped[str] = mapped_column(String(64), default="")
    # deferred: the outline can be megabytes of JSON, and the profile is read on every request
    boundary: Mapped[dict | None] = mapped_column(GeoJSON, nullable=True, deferred=True)
    attribution: Mapped[str] = mapped_column(Text, default="")
    loaded_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)


class Notification(Base):
    """A live notification for the desk (``disaster_ai.notifications``): made after a domain
    event committed, read by the open pages (server-sent events, ``Last-Event-ID`` = ``id``)
    and by pages opened later, pruned after ``NOTIFY_KEEP_DAYS``."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now, index=True)
    event: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16), default="info")
    roles: Mapped[list] = mapped_column(JSONText, default=list)
    users: Mapped[list] = mapped_column(JSONText, default=list)
    exclude_user: Mapped[str] = mapped_column(String(64), default="")
    texts: Mapped[dict] = mapped_column(JSONText, default=dict)  # {lang: {title, body}}
    link: Mapped[str] = mapped_column(String(512), default="")
