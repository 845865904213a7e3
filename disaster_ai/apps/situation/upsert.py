"""The incidents provider behind ``desk.incidents.upsert`` (hook ``dai_incident_upsert``).

One incident per outside reference: the first upsert creates it through
:func:`incidents.create_incident` (validated, located, audited, announced as ``IncidentCreated``),
a later one changes only the fields that differ through :func:`incidents.update_incident` (and
writes nothing when none do). The unique index on ``incidents.external_ref`` settles a race
between two writers: the loser's insert is rolled back to a savepoint and it returns the
winner's incident.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from disaster_ai.apps.situation import incidents
from disaster_ai.apps.situation.models import Incident
from disaster_ai.types import Actor, IncidentRef, IncidentUpsert


def upsert_incident(session: Session, request: IncidentUpsert, actor: Actor) -> IncidentRef:
    values = dict(request.values)
    existing = _by_ref(session, request.external_ref)
    if existing is None:
        values.setdefault("source", "feed")
        try:
            with session.begin_nested():
                created = incidents.create_incident(
                    session, values, actor, external_ref=request.external_ref
                )
            return IncidentRef(created.id, request.external_ref, created=True)
        except IntegrityError:  # another writer recorded the same reference meanwhile
            existing = _by_ref(session, request.external_ref)
            if existing is None:
                raise
    return _update(session, existing, values, actor, request.external_ref)


def _by_ref(session: Session, external_ref: str) -> Incident | None:
    return session.scalar(select(Incident).where(Incident.external_ref == external_ref))


def _update(
    session: Session, incident: Incident, values: dict, actor: Actor, ref: str
) -> IncidentRef:
    if incident.merged_into is not None:  # a duplicate the desk merged away stays as it is
        return IncidentRef(incident.id, ref, created=False)
    location = {f: values[f] for f in incidents.LOCATION_FIELDS if f in values}
    changes = {
        field: value
        for field, value in values.items()
        if field not in incidents.LOCATION_FIELDS and getattr(incident, field, None) != value
    }
    if any(getattr(incident, field) != value for field, value in location.items()):
        changes.update(location)  # moved: the location rules apply to the new place
    if not changes:
        return IncidentRef(incident.id, ref, created=False)
    before = incident.updated_at
    incidents.update_incident(session, incident.id, changes, actor)
    return IncidentRef(incident.id, ref, created=False, changed=incident.updated_at != before)
