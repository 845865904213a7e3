"""Declarative base and the two portable column types (aware datetimes, GeoJSON)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, MetaData, Text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

JST = ZoneInfo("Asia/Tokyo")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def now() -> datetime:
    """The current time, aware, in Asia/Tokyo."""
    return datetime.now(JST)


class AwareDateTime(TypeDecorator):
    """Stores UTC, returns Asia/Tokyo-aware datetimes; refuses naive ones so that no time
    is ever ambiguous (SQLite keeps no offset of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store timezone-aware times only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(JST)


class GeoJSON(TypeDecorator):
    """A geometry as GeoJSON text: portable, so SQLite needs no spatial extension."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return (
            None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        )

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(value)


class JSONText(GeoJSON):
    """Any JSON document stored as text (same encoding as GeoJSON)."""

    cache_ok = True


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
