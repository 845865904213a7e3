"""Helpers shared by the bulletin tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from disaster_ai.storage import get_storage, session_scope

JST = ZoneInfo("Asia/Tokyo")
T0 = datetime(2026, 9, 5, 5, 0, tzinfo=JST)  # the event opens at 05:00


class Clock:
    """The clock the bulletins app reads (``app.extensions["disaster_ai.bulletins.clock"]``)."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> datetime:
        self.now = when
        return when

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def run_jobs(app, rounds: int = 20) -> int:
    """Run queued jobs until none is due (the test config retries with no delay)."""
    from disaster_ai.jobs.service import runner_for

    total = 0
    for _ in range(rounds):
        ran = runner_for(app).run_pending()
        if not ran:
            return total
        total += ran
    return total


def add_incident(app, when: datetime, **fields) -> None:
    from disaster_ai.apps.situation.models import Incident

    values = {
        "category": "landslide",
        "status": "unverified",
        "occurred_at": when,
        "created_at": when,
        "lon": 138.30,
        "lat": 34.87,
    }
    values.update(fields)
    with app.app_context(), session_scope(get_storage(app)) as session:
        session.add(Incident(**values))


def bulletin_rows(app, event_id: int | None = None) -> list:
    from sqlalchemy import select

    from disaster_ai.apps.bulletins.models import Bulletin

    with session_scope(get_storage(app)) as session:
        query = select(Bulletin).order_by(Bulletin.id)
        if event_id is not None:
            query = query.where(Bulletin.event_id == event_id)
        return list(session.scalars(query))


def audit_actions(app, prefix: str) -> list:
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
