"""JSON endpoints for incidents and shelter status (api → service, STYLE.md §5).

Views parse and validate (pydantic, ``extra="forbid"``), check the permission, call
:mod:`disaster_ai.apps.situation.incidents`, commit once and serialise. Errors use the one
format ``{"error": {"code", "message", "details": {"fields": {...}}}}``; a rejected request
writes nothing. docs/incidents.md shows every call with curl.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from flask import Blueprint, current_app, jsonify, url_for
from flask_babel import gettext as _
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from disaster_ai import categories as category_registry
from disaster_ai.api.framework import api_doc, parse_body, parse_query
from disaster_ai.apps.situation import incidents as service
from disaster_ai.apps.situation.models import (
    INCIDENT_CATEGORIES,
    INCIDENT_SOURCES,
    INCIDENT_STATUSES,
)
from disaster_ai.auth import current_actor, requires
from disaster_ai.storage.engine import db

bp = Blueprint("situation_incidents", __name__, url_prefix="/api/v1")

# any code of the category registry (dai_incident_categories): checked by the service (422)
Category = Annotated[str, Field(min_length=1, max_length=32)]
Source = Literal[INCIDENT_SOURCES]  # type: ignore[valid-type]
Status = Literal[INCIDENT_STATUSES]  # type: ignore[valid-type]
MAX_PEOPLE = 100_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IncidentIn(Strict):
    """A new incident. Give its place as lon+lat, or district_key, or place_name."""

    category: Category = Field(
        description="a category code: "
        + ", ".join(INCIDENT_CATEGORIES)
        + ", or one a plugin adds (GET /api/v1/incidents/categories)"
    )
    life_threat: bool = Field(default=False, description="someone's life is in danger now")
    people: int | None = Field(
        default=None, ge=0, le=MAX_PEOPLE, description="people affected, when known"
    )
    vulnerable: bool = Field(default=False, description="elderly, disabled, infants … involved")
    source: Source = "manual"
    status: Status = "unverified"
    occurred_at: AwareDatetime | None = Field(
        default=None, description="with offset, e.g. 2026-09-23T06:00:00+09:00; default: now"
    )
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    district_key: str | None = Field(
        default=None, max_length=64, description="key of a feature of the active districts layer"
    )
    place_name: str | None = Field(
        default=None,
        max_length=255,
        description="exact name in the places layer (used alone), else free text",
    )
    description: str = Field(default="", max_length=4000)


class IncidentPatch(Strict):
    """Fields to change; only those given change. status=resolved resolves the incident."""

    category: Category | None = None
    life_threat: bool | None = None
    people: int | None = Field(default=None, ge=0, le=MAX_PEOPLE)
    vulnerable: bool | None = None
    source: Source | None = None
    status: Status | None = None
    occurred_at: AwareDatetime | None = None
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    district_key: str | None = Field(default=None, max_length=64)
    place_name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=4000)


class MergeIn(Strict):
    into: int = Field(ge=1, description="id of the incident to keep")


class ShelterStatusIn(Strict):
    is_open: bool | None = Field(default=None, description="true: open, false: closed")
    occupancy: int | None = Field(
        default=None, ge=0, le=MAX_PEOPLE, description="people in the shelter now"
    )


_OFFSET_SPACE = re.compile(r" (\d\d:?\d\d)$")


class IncidentQuery(Strict):
    category: str | None = Field(
        default=None, max_length=512, description="one category or a comma list"
    )
    status: str | None = Field(
        default=None, max_length=128, description="one status or a comma list"
    )
    district: str | None = Field(default=None, max_length=64, description="district_key")
    since: AwareDatetime | None = Field(
        default=None, description="occurred_at ≥ since (with offset)"
    )
    until: AwareDatetime | None = Field(
        default=None, description="occurred_at < until (with offset)"
    )
    life_threat: bool | None = None
    include_merged: bool = Field(default=False, description="also list merged duplicates")
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0)

    @field_validator("since", "until", mode="before")
    @classmethod
    def _plus_from_query(cls, value):
        # An unencoded "+09:00" in a query string arrives as " 09:00".
        return _OFFSET_SPACE.sub(r"+\1", value) if isinstance(value, str) else value


class GeoJSONQuery(IncidentQuery):
    limit: int = Field(default=1000, ge=1, le=5000)


def _filter(q: IncidentQuery) -> service.IncidentFilter:
    categories = _split(q.category, tuple(category_registry.codes()), "category")
    statuses = _split(q.status, INCIDENT_STATUSES, "status")
    return service.IncidentFilter(
        categories=categories,
        statuses=statuses,
        district=q.district or None,
        since=q.since,
        until=q.until,
        life_threat=q.life_threat,
        include_merged=q.include_merged,
        limit=q.limit,
        offset=q.offset,
    )


def _split(value: str | None, allowed: tuple[str, ...], field: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in (value or "").split(",") if item.strip())
    unknown = [item for item in items if item not in allowed]
    if unknown:
        raise service.invalid(
            {field: _("Unknown value(s): %(values)s.", values=", ".join(unknown))}
        )
    return items


def _one(session, incident):
    return service.incident_dict(incident, service.district_index(session))


# --- incidents -----------------------------------------------------------------------------


@bp.post("/incidents")
@requires("situation.edit")
@api_doc(
    body=IncidentIn,
    responses={201: "The incident, with its district computed from the point"},
    tag="situation",
)
def create_incident():
    """Record an incident.

    The location is lon+lat (inside the municipality; the district is computed), or a
    district_key of the active districts layer, or a place_name that matches the places layer
    exactly. Audited as incident.create."""
    data = parse_body(IncidentIn)
    session = db()
    incident = service.create_incident(
        session, data.model_dump(exclude_unset=True), current_actor()
    )
    session.commit()
    response = jsonify(_one(session, incident))
    response.status_code = 201
    response.headers["Location"] = url_for(".get_incident", incident_id=incident.id)
    return response


@bp.get("/incidents")
@requires("situation.view")
@api_doc(
    query=IncidentQuery, responses={200: "Incidents, newest first, with the total"}, tag="situation"
)
def list_incidents():
    """List incidents (merged duplicates left out unless include_merged=true).

    Filters: category and status (comma lists), district, since/until (times with offset),
    life_threat; paging with limit and offset."""
    f = _filter(parse_query(IncidentQuery))
    session = db()
    rows, total = service.list_incidents(session, f)
    index = service.district_index(session)
    return jsonify(
        {
            "incidents": [service.incident_dict(row, index) for row in rows],
            "total": total,
            "limit": f.limit,
            "offset": f.offset,
        }
    )


@bp.get("/incidents/categories")
@requires("situation.view")
@api_doc(responses={200: "The incident categories, in list order"}, tag="situation")
def list_categories():
    """The incident categories (built-in and from plugins): code, Japanese and English words,
    the word in the caller's language, and the map's colour and symbol."""
    return jsonify(
        {
            "categories": [
                {
                    "code": c.code,
                    "ja": c.ja,
                    "en": c.en,
                    "label": category_registry.label(c.code),
                    "colour": c.colour,
                    "symbol": c.symbol,
                }
                for c in category_registry.registry().values()
            ]
        }
    )


@bp.get("/incidents.geojson")
@requires("situation.view")
@api_doc(
    query=GeoJSONQuery, responses={200: "A GeoJSON FeatureCollection of incidents"}, tag="situation"
)
def incidents_geojson():
    """Incidents as GeoJSON (same filters as the list).

    District-only incidents are placed at their district's representative point with
    properties.location_precision = "district"."""
    f = _filter(parse_query(GeoJSONQuery))
    response = jsonify(service.incidents_geojson(db(), f))
    response.mimetype = "application/geo+json"
    return response


@bp.get("/incidents/<int:incident_id>")
@requires("situation.view")
@api_doc(responses={200: "The incident (merged ones too, with merged_into)"}, tag="situation")
def get_incident(incident_id: int):
    """One incident."""
    session = db()
    return jsonify(_one(session, service.get_incident(session, incident_id)))


@bp.patch("/incidents/<int:incident_id>")
@requires("situation.edit")
@api_doc(
    body=IncidentPatch,
    responses={200: "The changed incident", 409: "It was merged into another"},
    tag="situation",
)
def update_incident(incident_id: int):
    """Edit or resolve an incident.

    Only the fields given change; {"status": "resolved"} resolves it. Giving lon/lat,
    district_key or place_name moves it by the same rules as on creation. Audited as
    incident.update or incident.resolve; a call that changes nothing writes nothing."""
    data = parse_body(IncidentPatch)
    session = db()
    values = {field: getattr(data, field) for field in data.model_fields_set}
    incident = service.update_incident(session, incident_id, values, current_actor())
    session.commit()
    return jsonify(_one(session, incident))


@bp.post("/incidents/<int:incident_id>/merge")
@requires("situation.edit")
@api_doc(
    body=MergeIn,
    responses={200: "The incident that was kept", 409: "Already merged"},
    tag="situation",
)
def merge_incident(incident_id: int):
    """Merge a duplicate into another incident.

    The duplicate is kept for the audit trail but left out of lists, maps and summaries. The
    kept incident takes over life_threat, vulnerable and the larger people count. Audited as
    incident.merge."""
    data = parse_body(MergeIn)
    session = db()
    kept = service.merge_incident(session, incident_id, data.into, current_actor())
    session.commit()
    return jsonify(_one(session, kept))


# --- shelters ------------------------------------------------------------------------------


def _shelters(session) -> dict:
    return service.list_shelters(session, current_app.config["SHELTER_M2_PER_PERSON"])


@bp.get("/shelters")
@requires("situation.view")
@api_doc(
    responses={200: "Shelters of the active layer with open/closed, occupancy and state"},
    tag="situation",
)
def list_shelters():
    """Shelters with their live status.

    state is closed, unsafe (open but inside a mapped hazard zone) or usable (open, outside
    every zone). capacity_derived is true when the capacity was computed from the floor area
    (SHELTER_M2_PER_PERSON)."""
    return jsonify(_shelters(db()))


@bp.post("/shelters/<key>/status")
@requires("situation.edit")
@api_doc(body=ShelterStatusIn, responses={200: "The shelter with its new status"}, tag="situation")
def set_shelter_status(key: str):
    """Open or close a shelter and/or set its occupancy.

    Sending the same values again changes nothing. Audited as shelter.status."""
    session = db()
    if service.shelter_feature(key, session) is None:
        raise service.not_found(_("shelter"), key)
    data = parse_body(ShelterStatusIn)
    _status, changed = service.set_shelter_status(
        session, key, current_actor(), is_open=data.is_open, occupancy=data.occupancy
    )
    session.commit()
    shelter = next(s for s in _shelters(session)["shelters"] if s["key"] == key)
    return jsonify({**shelter, "changed": changed})
