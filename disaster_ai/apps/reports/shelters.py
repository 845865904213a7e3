"""Shelters on the night: open or close a shelter and record its evacuees (人数, 世帯,
要配慮者), with the history of every recording.

The open/closed state and the head count go to the situation app through its
``set_shelter_status`` (the map, the situation summary and the bulletins read them there);
世帯 and 要配慮者 and the history live in this app's ``shelter_evacuee_records``. When the head
count was changed elsewhere after the last recording here (the situation's shelter page or its
API), 世帯 and 要配慮者 of that shelter are no longer known: they read as 未確認 until the
next recording.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from disaster_ai import audit
from disaster_ai.apps.reports.common import (
    APP,
    NotFound,
    ReportError,
    app_context,
    clock,
    desk,
    iso,
)
from disaster_ai.apps.reports.items import _
from disaster_ai.apps.reports.models import ShelterEvacuees
from disaster_ai.errors import ApiError
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.types import SYSTEM_ACTOR, Actor

MAX_PEOPLE = 100_000
MAX_PEOPLE_TEXT = f"{MAX_PEOPLE:,}"
MAX_NOTE = 255


@dataclass(frozen=True)
class Recording:
    is_open: bool
    people: int
    households: int | None = None
    vulnerable: int | None = None
    note: str = ""


def check(rec: Recording) -> Recording:
    problems = {}
    for name in ("people", "households", "vulnerable"):
        value = getattr(rec, name)
        if value is None:
            if name == "people":
                problems[name] = _("Enter the number of people (0 when empty).")
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PEOPLE:
            problems[name] = _("Enter a number from 0 to %(max)s.", max=MAX_PEOPLE_TEXT)
    if not problems:
        if not rec.is_open and rec.people > 0:
            problems["people"] = _("A closed shelter has no evacuees: enter 0 or keep it open.")
        if rec.households is not None and rec.households > rec.people:
            problems["households"] = _("More households than people.")
        if rec.vulnerable is not None and rec.vulnerable > rec.people:
            problems["vulnerable"] = _("More people needing care than people.")
    if len(rec.note or "") > MAX_NOTE:
        problems["note"] = _("At most %(max)s characters.", max=MAX_NOTE)
    if problems:
        field, message = next(iter(problems.items()))
        error = ReportError(message, field)
        error.fields = problems
        raise error
    return rec


def _open_event_id(app, session) -> int | None:
    """The open disaster event opened last (``desk.disasters.current``), or None."""
    event = desk(app).disasters.current(session=session)
    return None if event is None else event.id


def record(app, key: str, rec: Recording, *, actor: Actor | None = None) -> dict:
    """Record one shelter; returns its row as :func:`listing` shows it, with ``changed``.
    The same figures again write nothing."""
    actor = actor or SYSTEM_ACTOR
    rec = check(rec)
    with app_context(app):
        moment = clock(app)
        with session_scope(get_storage(app)) as session:
            feature = desk(app).shelters.get(key, session=session)
            if feature is None:
                raise NotFound(_("No shelter %(key)s.", key=key), "key")
            last = _latest(session, [key]).get(key)
            try:
                status_changed = desk(app).shelters.set_status(
                    key, is_open=rec.is_open, occupancy=rec.people, actor=actor, session=session
                )
            except ApiError as exc:  # the situation app's own checks
                raise ReportError(exc.message, "people") from None
            figures = (rec.is_open, rec.people, rec.households, rec.vulnerable, rec.note.strip())
            same = last is not None and figures == (
                last.is_open,
                last.people,
                last.households,
                last.vulnerable,
                last.note,
            )
            changed = status_changed or not same
            if changed:
                row = ShelterEvacuees(
                    shelter_key=key,
                    shelter_name=feature.name[:255],
                    event_id=_open_event_id(app, session),
                    is_open=rec.is_open,
                    people=rec.people,
                    households=rec.households,
                    vulnerable=rec.vulnerable,
                    note=rec.note.strip(),
                    recorded_by=actor.username[:64],
                    recorded_at=moment,
                )
                session.add(row)
                session.flush()
                audit.record(
                    "reports.shelter_evacuees",
                    app=APP,
                    target=f"shelter:{key}",
                    detail={
                        "event_id": row.event_id,
                        "before": None if last is None else _figures(last),
                        "after": _figures(row),
                    },
                    actor=actor,
                    session=session,
                )
        with session_scope(get_storage(app)) as session:
            shelter = next(s for s in listing(app, session)["shelters"] if s["key"] == key)
        return {**shelter, "changed": changed}


def _figures(row: ShelterEvacuees) -> dict:
    return {
        "is_open": row.is_open,
        "people": row.people,
        "households": row.households,
        "vulnerable": row.vulnerable,
        "note": row.note,
    }


def _latest(session, keys: list[str] | None = None) -> dict[str, ShelterEvacuees]:
    query = select(ShelterEvacuees).order_by(ShelterEvacuees.shelter_key, ShelterEvacuees.id)
    if keys is not None:
        query = query.where(ShelterEvacuees.shelter_key.in_(keys))
    return {row.shelter_key: row for row in session.scalars(query)}


def listing(app, session) -> dict:
    """Every shelter of the active layer with its state (situation) and evacuee figures."""
    base = desk(app).shelters.listing(app.config["SHELTER_M2_PER_PERSON"], session=session)
    latest = _latest(session)
    shelters = []
    for s in base["shelters"]:
        last = latest.get(s["key"])
        # the head count changed elsewhere after our last recording: 世帯/要配慮者 unknown now
        stale = last is None or (last.people, last.is_open) != (s["occupancy"], s["is_open"])
        people = s["occupancy"] if s["is_open"] else 0
        shelters.append(
            {
                "key": s["key"],
                "name": s["name"],
                "name_kana": s["name_kana"],
                "address": s["address"],
                "capacity": s["capacity"],
                "state": s["state"],
                "state_label": s["state_label"],
                "hazard_zones": s["hazard_zones"],
                "is_open": s["is_open"],
                "people": people,
                "households": None if stale or not s["is_open"] else last.households,
                "vulnerable": None if stale or not s["is_open"] else last.vulnerable,
                "note": "" if last is None else last.note,
                "recorded_at": iso(last.recorded_at) if last is not None else None,
                "recorded_by": last.recorded_by if last is not None else None,
                "updated_at": s["updated_at"],
                "updated_by": s["updated_by"],
                "over_capacity": s["over_capacity"],
            }
        )
    return {"version": base["version"], "attribution": base["attribution"], "shelters": shelters}


def totals(shelters: list[dict]) -> dict:
    """Open shelters and their evacuees; 世帯/要配慮者 are partial (未確認) when any open
    shelter has not counted them."""
    opened = [s for s in shelters if s["is_open"]]

    def total(name):
        known = [s[name] for s in opened if s[name] is not None]
        return {
            "value": sum(known) if known or not opened else None,
            "complete": len(known) == len(opened),
        }

    return {
        "open": len(opened),
        "people": sum(s["people"] for s in opened),
        "households": total("households"),
        "vulnerable": total("vulnerable"),
    }


def history(session, key: str, limit: int = 200) -> list[dict]:
    rows = session.scalars(
        select(ShelterEvacuees)
        .where(ShelterEvacuees.shelter_key == key)
        .order_by(ShelterEvacuees.id.desc())
        .limit(limit)
    )
    return [
        {
            **_figures(row),
            "event_id": row.event_id,
            "recorded_by": row.recorded_by,
            "recorded_at": iso(row.recorded_at),
        }
        for row in rows
    ]
