"""Tables of the bulletins app: disaster events, their schedules, bulletins and deliveries.

Two database constraints carry the reliability rules:

- ``UNIQUE (event_id, number)``: 第N報 numbers are allocated as max + 1 inside the inserting
  transaction; a concurrent writer that took the same number makes the insert fail, and the
  service retries with the next one.
- ``UNIQUE (slot_key)``: a scheduled slot is ``"<schedule id>@<fire time ISO>"``, so two scheduler
  processes evaluating the same slot can never both issue it. Manual issues through a job use
  ``"job:<job id>"`` (a retried job finds its bulletin instead of issuing a second one); issues
  from the CLI have no slot key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from disaster_ai.storage.base import AwareDateTime, Base, JSONText, now

TRIGGERS = ("manual", "scheduled", "catch_up")
SCHEDULE_KINDS = ("cron", "interval")
DELIVERY_STATES = ("pending", "retrying", "delivered", "failed")


class DisasterEvent(Base):
    """A disaster the desk reports on, e.g. 「令和8年台風第10号」. Bulletins are numbered per event."""

    __tablename__ = "disaster_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    hazard: Mapped[str | None] = mapped_column(String(32), nullable=True)  # situation hazard code
    exercise: Mapped[bool] = mapped_column(Boolean, default=False)  # 【訓練】 on every bulletin
    opened_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    opened_by: Mapped[str] = mapped_column(String(64), default="system")
    closed_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True, index=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class BulletinSchedule(Base):
    """When to issue bulletins for an event: a crontab expression or an interval in minutes,
    evaluated in Asia/Tokyo by the scheduler's ``bulletins.tick`` job."""

    __tablename__ = "bulletin_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("disaster_events.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # cron | interval
    cron: Mapped[str | None] = mapped_column(String(128), nullable=True)
    interval_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    start_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)  # interval anchor
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Slots up to this time have been looked at (issued, found issued, or skipped).
    evaluated_until: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)


class Bulletin(Base):
    """One issued bulletin (第N報). ``snapshot`` holds everything rendering needs, frozen when it
    was issued; ``map_png`` is the situation map of that moment."""

    __tablename__ = "bulletins"
    __table_args__ = (UniqueConstraint("event_id", "number", name="uq_bulletins_event_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("disaster_events.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    trigger: Mapped[str] = mapped_column(String(16))  # manual | scheduled | catch_up
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("bulletin_schedules.id", ondelete="SET NULL"), nullable=True
    )
    slot_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    slot_key: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    snapshot: Mapped[dict] = mapped_column(JSONText)
    map_png: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    remark: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64), default="system")


class BulletinDelivery(Base):
    """One bulletin to one target (an e-mail address, a webhook URL …) and how it went. Secrets
    of a target (a webhook's signing key) stay in the configuration, never in this table."""

    __tablename__ = "bulletin_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(
        ForeignKey("bulletins.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(32))  # email | webhook | a plugin's kind
    target: Mapped[str] = mapped_column(String(512))
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    delivered_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
