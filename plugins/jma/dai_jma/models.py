"""The plugin's own tables on the desk's database (migrations/ creates them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from disaster_ai.desk import AwareDateTime, Base, JSONText, now


class Telegram(Base):
    """One telegram, stored once (by the SHA-256 of its bytes), with its raw XML."""

    __tablename__ = "jma_telegrams"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str | None] = mapped_column(String(500), nullable=True, index=True)
    file_name: Mapped[str] = mapped_column(String(255), default="")
    data_type: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    head_title: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="")  # 通常, 訓練, 試験
    info_type: Mapped[str] = mapped_column(String(16), default="")  # 発表, 訂正, 取消 …
    reported_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    event_id: Mapped[str] = mapped_column(String(64), default="")
    serial: Mapped[str] = mapped_column(String(16), default="")
    office: Mapped[str] = mapped_column(String(100), default="")
    headline: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(16), default="feed")  # feed, gap, folder, cli
    received_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    items: Mapped[list] = mapped_column(JSONText, default=list)  # this municipality's items
    cancelled_by: Mapped[int | None] = mapped_column(Integer, nullable=True)  # a 取消's id
    raw_xml: Mapped[str] = mapped_column(Text)


class Fetch(Base):
    """Every message file the poller fetched: each URL is fetched exactly once."""

    __tablename__ = "jma_fetches"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500), unique=True)
    fetched_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    via: Mapped[str] = mapped_column(String(16), default="feed")  # feed, gap
    result: Mapped[str] = mapped_column(String(300), default="")  # "" when stored


class FeedState(Base):
    """What the poller knows of one feed (``extra`` and the long ``extra_l``)."""

    __tablename__ = "jma_feed_state"

    feed: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(String(500), default="")
    last_modified: Mapped[str] = mapped_column(String(64), default="")
    last_status: Mapped[str] = mapped_column(String(100), default="")
    first_polled_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    last_ok_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    feed_updated: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    stale_since: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)


class Gap(Base):
    """A telegram the long feed listed that the high-frequency poll had missed."""

    __tablename__ = "jma_gaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500), unique=True)
    entry_updated: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    detected_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)


class Suggestion(Base):
    """A 提案 this plugin made from a rule, linked to its telegram; outdated when the
    warning behind it is cancelled (取消), lifted or lowered."""

    __tablename__ = "jma_suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(200), unique=True)
    rule_id: Mapped[str] = mapped_column(String(100), index=True)
    telegram_id: Mapped[int] = mapped_column(Integer)
    notice_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    phenomenon: Mapped[str] = mapped_column(String(32), default="")
    level: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 警戒レベル相当
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=now)
    outdated_at: Mapped[datetime | None] = mapped_column(AwareDateTime, nullable=True)
    outdated_reason: Mapped[str] = mapped_column(String(300), default="")
