"""The bulletins app's part of the facade (``dai_desk_part``): disaster events (災害).

The reports app and plugins read and open events only through ``desk.disasters``, which asks
this object; it returns plain values (``disaster_ai.types.DisasterInfo``, dicts), never rows.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from disaster_ai.apps.bulletins import service
from disaster_ai.apps.bulletins.models import DisasterEvent
from disaster_ai.types import Actor, DisasterInfo


def disaster_info(row: DisasterEvent) -> DisasterInfo:
    return DisasterInfo(
        id=row.id,
        name=row.name,
        opened_at=row.opened_at,
        hazard=row.hazard,
        exercise=bool(row.exercise),
        opened_by=row.opened_by or "",
        closed_at=row.closed_at,
    )


class DisastersPart:
    def get(self, session: Session, event_id: int) -> DisasterInfo | None:
        row = session.get(DisasterEvent, event_id)
        return None if row is None else disaster_info(row)

    def current(self, session: Session) -> DisasterInfo | None:
        row = session.scalar(
            select(DisasterEvent)
            .where(DisasterEvent.closed_at.is_(None))
            .order_by(DisasterEvent.opened_at.desc(), DisasterEvent.id.desc())
            .limit(1)
        )
        return None if row is None else disaster_info(row)

    def listing(self, session: Session) -> list[dict]:
        return service.list_events(session)

    def open(self, name: str, *, hazard, exercise: bool, actor: Actor) -> dict:
        return service.open_event(
            current_app._get_current_object(), name, hazard=hazard, exercise=exercise, actor=actor
        )
