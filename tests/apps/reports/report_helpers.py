"""Helpers shared by the reports tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from disaster_ai.storage import get_storage, session_scope

JST = ZoneInfo("Asia/Tokyo")
T0 = datetime(2026, 9, 5, 5, 0, tzinfo=JST)  # the event is opened (覚知) at 05:00


class Clock:
    """The desk's clock (``app.extensions["disaster_ai.bulletins.clock"]``), moved by hand."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def cli(runner, *args: str) -> str:
    result = runner.invoke(list(args))
    assert result.exit_code == 0, result.output
    return result.output


def cli_json(runner, *args: str):
    return json.loads(cli(runner, *args, "--json"))


def pdf_text(data: bytes) -> str:
    """The PDF's text layer as pypdf reads it, page after page."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def squeeze(text: str) -> str:
    """Text without any whitespace: line breaks inside table cells depend on the font's widths,
    the order of the characters does not."""
    return re.sub(r"\s+", "", text)


def audit_rows(app, prefix: str) -> list:
    from sqlalchemy import select

    from disaster_ai.storage.models import AuditEvent

    with session_scope(get_storage(app)) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.startswith(prefix))
                .order_by(AuditEvent.id)
            )
        )


def add_incident(app, **fields) -> int:
    from disaster_ai.apps.situation.models import Incident

    values = {
        "category": "building_damage",
        "status": "confirmed",
        "occurred_at": T0 + timedelta(minutes=5),
        "created_at": T0 + timedelta(minutes=5),
        "lon": 138.3205,
        "lat": 34.8655,
    }
    values.update(fields)
    with session_scope(get_storage(app)) as session:
        incident = Incident(**values)
        session.add(incident)
        session.flush()
        return incident.id
