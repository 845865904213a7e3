"""Incident and shelter-status service (STYLE.md §5: no ``request``, no templates).

Every function that changes state adds its rows *and* the audit row to the caller's session
and flushes; the caller commits once, so the change and its audit entry land together or not
at all. Validation happens before anything is added, so a rejected call writes nothing.

Location rules for an incident (the same for create and for a PATCH that moves it):

1. ``lon`` + ``lat``: the point must fall inside a polygon of the active *districts* layer
   (within ``EDGE_TOLERANCE_DEG``, about 50 m, for points on a coastline or a gap between
   polygons); ``district_key`` is computed from it. Without a districts layer the point must
   lie inside the municipality boundary (when one is loaded). ``place_name`` may come along as
   free text.
2. otherwise ``district_key``: it must exist in the active districts layer; the incident has
   no point and the map shows it at the district's representative point.
3. otherwise ``place_name``: it must match a feature of the active *places* layer exactly;
   the incident is placed at that gazetteer point (the place's representative point, not the
   exact spot) and its district computed from there.

Merged incidents (``merged_into`` set) are duplicates: they are kept for the audit trail but
left out of lists, maps and summaries. Use :func:`visible_incidents` for any count.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import shapely
from flask import current_app, has_app_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from shapely.strtree import STRtree
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from disaster_ai import audit, categories, events
from disaster_ai import hazards as hazard_registry
from disaster_ai.apps.situation import layers
from disaster_ai.apps.situation.models import (
    HAZARDS,
    INCIDENT_SOURCES,
    INCIDENT_STATUSES,
    GeoFeature,
    Incident,
    ShelterStatus,
)
from disaster_ai.errors import ApiError
from disaster_ai.storage.base import JST, now
from disaster_ai.types import Actor

APP = "situation"
EDGE_TOLERANCE_DEG = 0.0005  # ≈ 50 m at Japanese latitudes
FUTURE_SLACK = timedelta(hours=1)  # an occurred_at further ahead is a typo
LOCATION_FIELDS = ("lon", "lat", "district_key", "place_name")
EDITABLE_FIELDS = (
    "category",
    "life_threat",
    "people",
    "vulnerable",
    "source",
    "status",
    "occurred_at",
    "description",
    *LOCATION_FIELDS,
)

# in the current language, from the one registry (categories.py; dai_incident_categories)
CATEGORY_LABELS = categories.Labels()
STATUS_LABELS = {
    # TRANSLATORS: incident status (未確認)
    "unverified": _l("Unverified"),
    # TRANSLATORS: incident status (確認済み)
    "confirmed": _l("Confirmed"),
    # TRANSLATORS: incident status (対応済み)
    "resolved": _l("Resolved"),
}
SOURCE_LABELS = {
    # TRANSLATORS: where an incident report came from (通報): a phone call
    "call": _l("Call"),
    # TRANSLATORS: where an incident report came from (手入力)
    "manual": _l("Manual entry"),
    # TRANSLATORS: where an incident report came from (プラグイン)
    "plugin": _l("Plugin"),
    # TRANSLATORS: where an incident report came from (外部フィード)
    "feed": _l("Feed"),
}
# the hazards' words in the request's language, from the one registry (disaster_ai.hazards)
HAZARD_LABELS = hazard_registry.Labels()
SHELTER_STATE_LABELS = {
    # TRANSLATORS: shelter state on the map (開設・使用可): open and outside every mapped hazard zone
    "usable": _l("Open"),
    # TRANSLATORS: shelter state on the map (開設中・危険区域内): open but inside a hazard zone
    "unsafe": _l("Open, inside a hazard zone"),
    # TRANSLATORS: shelter state on the map (閉鎖)
    "closed": _l("Closed"),
}
# Designation flags of the common shelter schemas → our hazard names (for the popup only).
SHELTER_HAZARD_FLAGS = {
    "open_earthquake_tsunami": ("earthquake", "tsunami"),
    "open_storm_flood": ("flood", "storm_surge"),
    "open_landslide": ("landslide",),
    "hz_flood": ("flood",),
    "hz_landslide": ("landslide",),
    "hz_storm_surge": ("storm_surge",),
    "hz_earthquake": ("earthquake",),
    "hz_tsunami": ("tsunami",),
    "hz_large_fire": ("large_fire",),
    "hz_inland_flooding": ("inland_flood",),
    "hz_volcano": ("volcano",),
    "洪水": ("flood",),
    "崖崩れ、土石流及び地滑り": ("landslide",),
    "高潮": ("storm_surge",),
    "地震": ("earthquake",),
    "津波": ("tsunami",),
    "大規模な火事": ("large_fire",),
    "内水氾濫": ("inland_flood",),
    "火山現象": ("volcano",),
}


# --- errors --------------------------------------------------------------------------------


def invalid(fields: dict[str, str]) -> ApiError:
    return ApiError(422, "invalid", _("Some fields are missing or invalid."), {"fields": fields})


def not_found(what: str, ident) -> ApiError:
    return ApiError(404, "not_found", _("No %(what)s with id %(id)s.", what=what, id=ident))


# --- times ---------------------------------------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    """STANDARDS.md §1.4: Japan time, seconds, offset with a colon."""
    return None if moment is None else moment.astimezone(JST).replace(microsecond=0).isoformat()


def _check_time(field: str, moment: datetime) -> dict:
    if moment.tzinfo is None:
        return {field: _("Give the time with its offset, e.g. 2026-09-23T06:00:00+09:00.")}
    if moment > now() + FUTURE_SLACK:
        return {field: _("This time is in the future.")}
    return {}


# --- geometry helpers ----------------------------------------------------------------------


@dataclass(frozen=True)
class DistrictIndex:
    version_id: int
    keys: list[str]
    names: dict[str, str]
    geometries: list
    tree: STRtree

    def locate(self, lon: float, lat: float) -> str | None:
        point = shapely.Point(lon, lat)
        hits = self.tree.query(point, predicate="intersects")
        if len(hits):
            return self.keys[int(min(hits))]  # layer order decides on a shared edge
        nearest = self.tree.query_nearest(point, max_distance=EDGE_TOLERANCE_DEG)
        return self.keys[int(min(nearest))] if len(nearest) else None

    def anchor(self, key: str) -> tuple[float, float] | None:
        """Where a district-only incident is drawn: a point surely inside the district."""
        try:
            geometry = self.geometries[self.keys.index(key)]
        except ValueError:
            return None
        point = geometry.representative_point()
        return round(point.x, 6), round(point.y, 6)


def _cache() -> dict:
    if not has_app_context():
        return {}
    return current_app.extensions.setdefault("disaster_ai.situation.cache", {})


def forget_other_versions(cache: dict, key: tuple) -> None:
    """Drop what was cached for the older versions of a layer (after a re-import)."""
    for stale in [k for k in cache if k[0] == key[0] and k != key]:
        cache.pop(stale, None)


def district_index(session: Session) -> DistrictIndex | None:
    """The active districts layer with a spatial index, cached per layer version."""
    version = layers.active_version(session, "districts")
    if version is None:
        return None
    cache = _cache()
    key = ("districts", version.id)
    if key not in cache:
        forget_other_versions(cache, key)
        frame = layers.load_layer(session, "districts")
        geometries = list(frame.geometry.values)
        cache[key] = DistrictIndex(
            version.id,
            [str(k) for k in frame["key"]],
            dict(zip(frame["key"].astype(str), frame["name"], strict=True)),
            geometries,
            STRtree(geometries),
        )
    return cache[key]


def hazard_zone_index(session: Session):
    """(frame, STRtree) of the active hazard zones, cached per version; None without a layer."""
    version = layers.active_version(session, "hazard_zones")
    if version is None:
        return None
    cache = _cache()
    key = ("hazard_zones", version.id)
    if key not in cache:
        forget_other_versions(cache, key)
        frame = layers.load_layer(session, "hazard_zones")
        frame = frame.set_geometry(shapely.force_2d(frame.geometry.values))
        cache[key] = (frame, STRtree(list(frame.geometry.values)))
    return cache[key]


def _municipality_boundary(session: Session):
    from disaster_ai.storage.models import Municipality

    boundary = session.scalar(
        select(Municipality.boundary).order_by(Municipality.id.desc()).limit(1)
    )
    return None if boundary is None else shapely.from_geojson(json.dumps(boundary))


def _point_of(geometry: dict) -> tuple[float, float]:
    shape = shapely.from_geojson(json.dumps(geometry))
    point = shape if shape.geom_type == "Point" else shape.representative_point()
    return round(point.x, 6), round(point.y, 6)


# --- location ------------------------------------------------------------------------------


def resolve_location(session: Session, values: dict) -> dict:
    """Apply the location rules (module docstring) to the given lon/lat/district_key/place_name;
    return the four stored values, or raise a 422 naming the field."""
    lon, lat = values.get("lon"), values.get("lat")
    district_key = (values.get("district_key") or "").strip() or None
    place_name = (values.get("place_name") or "").strip()
    if (lon is None) != (lat is None):
        missing = "lat" if lat is None else "lon"
        raise invalid({missing: _("Give both lon and lat, or neither.")})
    if lon is not None:
        if not (
            math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90
        ):
            raise invalid({"lon": _("This is not a valid longitude/latitude pair.")})
        if district_key:
            raise invalid({"district_key": _("Give a point or a district, not both.")})
        return {
            "lon": lon,
            "lat": lat,
            "district_key": _district_for_point(session, lon, lat, "location"),
            "place_name": place_name,
        }
    if district_key:
        index = district_index(session)
        if index is None:
            raise invalid(
                {"district_key": _("No districts layer is loaded; give a point instead.")}
            )
        if district_key not in index.names:
            raise invalid(
                {"district_key": _("No district with the key %(key)s.", key=district_key)}
            )
        return {"lon": None, "lat": None, "district_key": district_key, "place_name": place_name}
    if place_name:
        lon, lat, canonical = _resolve_place(session, place_name)
        return {
            "lon": lon,
            "lat": lat,
            "district_key": _district_for_point(session, lon, lat, "place_name"),
            "place_name": canonical,
        }
    raise invalid({"location": _("Give lon and lat, a district_key or a place_name.")})


def _district_for_point(session: Session, lon: float, lat: float, field: str) -> str | None:
    index = district_index(session)
    if index is not None:
        key = index.locate(lon, lat)
        if key is None:
            raise invalid(
                {field: _("This point is outside the municipality: no district contains it.")}
            )
        return key
    boundary = _municipality_boundary(session)
    if boundary is not None and boundary.distance(shapely.Point(lon, lat)) > EDGE_TOLERANCE_DEG:
        raise invalid({field: _("This point is outside the municipality boundary.")})
    return None


def _normalise(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip()


def _resolve_place(session: Session, place_name: str) -> tuple[float, float, str]:
    version = layers.active_version(session, "places")
    if version is None:
        raise invalid({"place_name": _("No places layer is loaded; give a point or a district.")})
    wanted = _normalise(place_name)
    row = session.execute(
        select(GeoFeature.name, GeoFeature.geometry)
        .where(
            GeoFeature.version_id == version.id,
            GeoFeature.name.in_(sorted({place_name.strip(), wanted})),
        )
        .order_by(GeoFeature.id)
        .limit(1)
    ).first()
    if row is None:
        raise invalid(
            {"place_name": _("No place named %(name)s in the places layer.", name=place_name)}
        )
    lon, lat = _point_of(row.geometry)
    return lon, lat, row.name


# --- incidents -----------------------------------------------------------------------------


def visible_incidents() -> Select:
    """Incidents that count: everything except merged duplicates."""
    return select(Incident).where(Incident.merged_into.is_(None))


def _check_fields(values: dict) -> dict:
    problems = {}
    if "category" in values and values["category"] not in categories.registry():
        problems["category"] = _("Unknown category.")
    if "status" in values and values["status"] not in INCIDENT_STATUSES:
        problems["status"] = _("Unknown status.")
    if "source" in values and values["source"] not in INCIDENT_SOURCES:
        problems["source"] = _("Unknown source.")
    if values.get("occurred_at") is not None:
        problems.update(_check_time("occurred_at", values["occurred_at"]))
    if values.get("people") is not None and values["people"] < 0:
        problems["people"] = _("This must be 0 or more.")
    return problems


def create_incident(
    session: Session, values: dict, actor: Actor, external_ref: str | None = None
) -> Incident:
    """Record an incident. ``values`` holds the fields of ``EDITABLE_FIELDS``; category is
    required. ``external_ref`` is an outside system's unique reference (desk.incidents.upsert).
    Audited as ``incident.create``; ``IncidentCreated`` is announced once the session commits."""
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise invalid({field: _("Unknown field.") for field in sorted(unknown)})
    problems = _check_fields(values)
    if "category" not in values:
        problems["category"] = _("This field is required.")
    if problems:
        raise invalid(problems)
    location = resolve_location(session, values)
    moment = now()
    incident = Incident(
        category=values["category"],
        life_threat=bool(values.get("life_threat", False)),
        people=values.get("people"),
        vulnerable=bool(values.get("vulnerable", False)),
        source=values.get("source") or "manual",
        status=values.get("status") or "unverified",
        occurred_at=values.get("occurred_at") or moment,
        description=values.get("description") or "",
        created_by=actor.username[:64],
        created_at=moment,
        updated_at=moment,
        external_ref=external_ref,
        **location,
    )
    session.add(incident)
    session.flush()
    events.emit(_created_event(incident), session=session)
    audit.record(
        "incident.create",
        app=APP,
        target=f"incident:{incident.id}",
        actor=actor,
        session=session,
        detail={
            "category": incident.category,
            "life_threat": incident.life_threat,
            "status": incident.status,
            "source": incident.source,
            "district_key": incident.district_key,
            "place_name": incident.place_name,
        },
    )
    return incident


def _created_event(incident: Incident) -> events.IncidentCreated:
    return events.IncidentCreated(
        id=incident.id,
        category=incident.category,
        source=incident.source,
        status=incident.status,
        occurred_at=iso(incident.occurred_at),
        created_by=incident.created_by,
        district_key=incident.district_key,
        place_name=incident.place_name,
        lon=incident.lon,
        lat=incident.lat,
        life_threat=incident.life_threat,
        external_ref=incident.external_ref,
    )


def get_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise not_found(_("incident"), incident_id)
    return incident


def update_incident(session: Session, incident_id: int, values: dict, actor: Actor) -> Incident:
    """Edit an incident; ``status="resolved"`` resolves it. Only the given fields change; giving
    any location field moves the incident by the location rules. A call that changes nothing
    writes nothing. Audited as ``incident.update`` or ``incident.resolve``."""
    incident = get_incident(session, incident_id)
    if incident.merged_into is not None:
        raise ApiError(
            409,
            "conflict",
            _(
                "Incident %(id)s was merged into %(into)s; edit that one.",
                id=incident.id,
                into=incident.merged_into,
            ),
        )
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise invalid({field: _("Unknown field.") for field in sorted(unknown)})
    nullable = {"people", "lon", "lat", "district_key"}
    problems = {
        f: _("This field cannot be empty.")
        for f, v in values.items()
        if v is None and f not in nullable
    }
    problems.update(_check_fields(values))
    if problems:
        raise invalid(problems)
    changes = {f: v for f, v in values.items() if f not in LOCATION_FIELDS}
    if any(f in values for f in LOCATION_FIELDS):
        location = resolve_location(session, values)
        if "place_name" not in values:
            location.pop("place_name")  # moving the point keeps the free-text place name
        changes.update(location)
    diff = {}
    for field, value in changes.items():
        old = getattr(incident, field)
        if value != old:
            diff[field] = [_jsonable(old), _jsonable(value)]
            setattr(incident, field, value)
    if not diff:
        return incident
    incident.updated_at = now()
    resolved = diff.get("status", [None, None])[1] == "resolved"
    audit.record(
        "incident.resolve" if resolved else "incident.update",
        app=APP,
        target=f"incident:{incident.id}",
        actor=actor,
        session=session,
        detail={"changes": diff},
    )
    session.flush()
    return incident


def merge_incident(session: Session, incident_id: int, into_id: int, actor: Actor) -> Incident:
    """Mark ``incident_id`` as a duplicate of ``into_id`` and return the kept incident. The kept
    one inherits life_threat and vulnerable when the duplicate had them, and the larger people
    count, so that merging never hides a danger. Duplicates already merged into the merged one
    move along. Audited as ``incident.merge``."""
    duplicate = get_incident(session, incident_id)
    if into_id == incident_id:
        raise invalid({"into": _("An incident cannot be merged into itself.")})
    target = session.get(Incident, into_id)
    if target is None:
        raise invalid({"into": _("No incident with id %(id)s.", id=into_id)})
    if duplicate.merged_into is not None:
        raise ApiError(
            409,
            "conflict",
            _(
                "Incident %(id)s was already merged into %(into)s.",
                id=duplicate.id,
                into=duplicate.merged_into,
            ),
        )
    if target.merged_into is not None:
        raise invalid(
            {
                "into": _(
                    "Incident %(id)s was merged into %(into)s; merge into that one.",
                    id=target.id,
                    into=target.merged_into,
                )
            }
        )
    inherited = {}
    if duplicate.life_threat and not target.life_threat:
        inherited["life_threat"] = [False, True]
        target.life_threat = True
    if duplicate.vulnerable and not target.vulnerable:
        inherited["vulnerable"] = [False, True]
        target.vulnerable = True
    if duplicate.people is not None and (target.people is None or duplicate.people > target.people):
        inherited["people"] = [target.people, duplicate.people]
        target.people = duplicate.people
    moved = list(session.scalars(select(Incident.id).where(Incident.merged_into == duplicate.id)))
    for child in session.scalars(select(Incident).where(Incident.merged_into == duplicate.id)):
        child.merged_into = target.id
    moment = now()
    duplicate.merged_into, duplicate.updated_at = target.id, moment
    if inherited:
        target.updated_at = moment
    audit.record(
        "incident.merge",
        app=APP,
        target=f"incident:{duplicate.id}",
        actor=actor,
        session=session,
        detail={"into": target.id, "inherited": inherited, "moved": moved},
    )
    session.flush()
    return target


@dataclass
class IncidentFilter:
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    district: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    life_threat: bool | None = None
    include_merged: bool = False
    limit: int = 100
    offset: int = 0


def _filtered(query: Select, f: IncidentFilter) -> Select:
    if not f.include_merged:
        query = query.where(Incident.merged_into.is_(None))
    if f.categories:
        query = query.where(Incident.category.in_(f.categories))
    if f.statuses:
        query = query.where(Incident.status.in_(f.statuses))
    if f.district:
        query = query.where(Incident.district_key == f.district)
    if f.since is not None:
        query = query.where(Incident.occurred_at >= f.since)
    if f.until is not None:
        query = query.where(Incident.occurred_at < f.until)
    if f.life_threat is not None:
        query = query.where(Incident.life_threat.is_(f.life_threat))
    return query


def list_incidents(session: Session, f: IncidentFilter) -> tuple[list[Incident], int]:
    """Newest first (by occurred_at, then id), with the total before limit/offset."""
    total = session.scalar(_filtered(select(func.count(Incident.id)), f)) or 0
    query = _filtered(select(Incident), f).order_by(Incident.occurred_at.desc(), Incident.id.desc())
    return list(session.scalars(query.limit(f.limit).offset(f.offset))), total


_LABEL_CACHE: dict[str, dict] = {}


def current_labels() -> dict[str, dict[str, str]]:
    """Category, source and status labels in the current language, resolved once per call
    (source and status once per locale): a list of thousands of incidents would otherwise
    translate the same few words thousands of times."""
    from flask_babel import get_locale

    locale = str(get_locale())
    if locale not in _LABEL_CACHE:
        _LABEL_CACHE[locale] = {
            "source": {k: str(v) for k, v in SOURCE_LABELS.items()},
            "status": {k: str(v) for k, v in STATUS_LABELS.items()},
        }
    words = {code: categories.label(code, locale) for code in categories.registry()}
    return {"category": words, **_LABEL_CACHE[locale]}


def incident_dict(
    incident: Incident, index: DistrictIndex | None = None, labels: dict | None = None
) -> dict:
    names = index.names if index is not None else {}
    labels = labels or current_labels()
    return {
        "id": incident.id,
        "category": incident.category,
        "category_label": labels["category"].get(incident.category, incident.category),
        "life_threat": incident.life_threat,
        "people": incident.people,
        "vulnerable": incident.vulnerable,
        "source": incident.source,
        "source_label": labels["source"].get(incident.source, incident.source),
        "status": incident.status,
        "status_label": labels["status"].get(incident.status, incident.status),
        "occurred_at": iso(incident.occurred_at),
        "lon": incident.lon,
        "lat": incident.lat,
        "district_key": incident.district_key,
        "district_name": names.get(incident.district_key or "", None),
        "place_name": incident.place_name,
        "description": incident.description,
        "merged_into": incident.merged_into,
        "created_by": incident.created_by,
        "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
    }


def incident_feature(
    incident: Incident, index: DistrictIndex | None, labels: dict | None = None
) -> dict:
    """A GeoJSON feature: the point, or the district's representative point (then
    ``properties.location_precision`` is "district"), or no geometry when neither is known."""
    properties = incident_dict(incident, index, labels)
    if incident.lon is not None and incident.lat is not None:
        geometry, precision = (
            {"type": "Point", "coordinates": [incident.lon, incident.lat]},
            "point",
        )
    else:
        anchor = (
            index.anchor(incident.district_key)
            if index is not None and incident.district_key
            else None
        )
        geometry = {"type": "Point", "coordinates": list(anchor)} if anchor else None
        precision = "district" if anchor else "unknown"
    properties["location_precision"] = precision
    return {"type": "Feature", "id": incident.id, "geometry": geometry, "properties": properties}


def incidents_geojson(session: Session, f: IncidentFilter) -> dict:
    rows, total = list_incidents(session, f)
    index = district_index(session)
    labels = current_labels()
    return {
        "type": "FeatureCollection",
        "layer": "incidents",
        "total": total,
        "attribution": "",
        "features": [incident_feature(row, index, labels) for row in rows],
    }


def _jsonable(value):
    return iso(value) if isinstance(value, datetime) else value


# --- shelters ------------------------------------------------------------------------------


def shelter_capacity(props: dict, m2_per_person: float) -> tuple[int | None, bool]:
    """(capacity, derived): the stated capacity, else floor area ÷ m² per person (derived)."""
    for name in ("capacity", "収容人数", "想定収容人数"):
        value = _number(props.get(name))
        if value is not None and value > 0:  # an importer may have derived it already and said so
            return int(value), bool(props.get("capacity_derived", False))
    area = _number(props.get("floor_area_m2"))
    if area is not None and area > 0 and m2_per_person > 0:
        return int(area // m2_per_person), True
    return None, False


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def designated_hazards(props: dict) -> list[str]:
    found = []
    hazards = props.get("hazards")
    if isinstance(hazards, list):
        found = [h for h in hazards if h in HAZARDS]
    for flag, names in SHELTER_HAZARD_FLAGS.items():
        if props.get(flag) in (True, 1, "1", "true", "True", "○"):
            found.extend(names)
    return [h for h in HAZARDS if h in found]


def shelter_state(is_open: bool, zones: list[dict]) -> str:
    if not is_open:
        return "closed"
    return "unsafe" if zones else "usable"


def list_shelters(session: Session, m2_per_person: float = 3.5) -> dict:
    """The active shelter layer joined with the live status, each with its state against the
    mapped hazard zones (closed / unsafe: open inside a zone / usable: open outside all)."""
    version = layers.active_version(session, "shelters")
    if version is None:
        return {"version": None, "attribution": "", "shelters": []}
    rows = list(
        session.scalars(
            select(GeoFeature).where(GeoFeature.version_id == version.id).order_by(GeoFeature.id)
        )
    )
    statuses = {s.shelter_key: s for s in session.scalars(select(ShelterStatus))}
    points = [_point_of(row.geometry) for row in rows]
    zones_by_shelter: dict[int, list[dict]] = {i: [] for i in range(len(rows))}
    zones = hazard_zone_index(session)
    if zones is not None and rows:
        frame, tree = zones
        shelter_idx, zone_idx = tree.query(shapely.points(points), predicate="intersects")
        for s, z in zip(shelter_idx.tolist(), zone_idx.tolist(), strict=True):
            props = frame["props"].iloc[z] or {}
            hazard = props.get("hazard", "")
            zones_by_shelter[s].append(
                {
                    "hazard": hazard,
                    "hazard_label": str(HAZARD_LABELS.get(hazard, hazard)),
                    "class": hazard_class_label(props),
                }
            )
    shelters = []
    for i, row in enumerate(rows):
        status = statuses.get(row.key)
        is_open = bool(status and status.is_open)
        capacity, derived = shelter_capacity(row.props or {}, m2_per_person)
        occupancy = status.occupancy if status else 0
        state = shelter_state(is_open, zones_by_shelter[i])
        hazards = designated_hazards(row.props or {})
        shelters.append(
            {
                "key": row.key,
                "name": row.name,
                "name_kana": row.name_kana,
                "address": (row.props or {}).get("address", ""),
                "lon": points[i][0],
                "lat": points[i][1],
                "capacity": capacity,
                "capacity_derived": derived,
                "is_open": is_open,
                "occupancy": occupancy,
                "over_capacity": bool(capacity is not None and occupancy > capacity),
                "state": state,
                "state_label": str(SHELTER_STATE_LABELS[state]),
                "hazard_zones": zones_by_shelter[i],
                "designated_for": hazards,
                "designated_for_labels": [str(HAZARD_LABELS[h]) for h in hazards],
                "updated_at": iso(status.updated_at) if status else None,
                "updated_by": status.updated_by if status else None,
            }
        )
    return {"version": version.version, "attribution": version.attribution, "shelters": shelters}


def shelter_feature(key: str, session: Session) -> GeoFeature | None:
    version = layers.active_version(session, "shelters")
    if version is None:
        return None
    return session.scalar(
        select(GeoFeature).where(GeoFeature.version_id == version.id, GeoFeature.key == key)
    )


def set_shelter_status(
    session: Session,
    key: str,
    actor: Actor,
    *,
    is_open: bool | None = None,
    occupancy: int | None = None,
) -> tuple[ShelterStatus, bool]:
    """Open/close a shelter and/or set its occupancy; returns (status, changed). The same
    values again change nothing and write nothing (a double submit is harmless). Audited as
    ``shelter.status`` with the before and after values."""
    if shelter_feature(key, session) is None:
        raise not_found(_("shelter"), key)
    if is_open is None and occupancy is None:
        raise invalid({"is_open": _("Give is_open, occupancy or both.")})
    if occupancy is not None and occupancy < 0:
        raise invalid({"occupancy": _("This must be 0 or more.")})
    status = session.get(ShelterStatus, key)
    before = (
        {"is_open": status.is_open, "occupancy": status.occupancy}
        if status
        else {"is_open": False, "occupancy": 0}
    )
    after = {
        "is_open": before["is_open"] if is_open is None else is_open,
        "occupancy": before["occupancy"] if occupancy is None else occupancy,
    }
    if status is not None and after == before:
        return status, False
    if status is None:
        status = ShelterStatus(shelter_key=key)
        session.add(status)
    status.is_open, status.occupancy = after["is_open"], after["occupancy"]
    status.updated_by, status.updated_at = actor.username[:64], now()
    audit.record(
        "shelter.status",
        app=APP,
        target=f"shelter:{key}",
        actor=actor,
        session=session,
        detail={"before": before, "after": after},
    )
    session.flush()
    return status, True


# --- hazard zone classes -------------------------------------------------------------------

CLASS_FIELDS = ("rank", "rank_label", "depth_class", "max_depth_class", "class")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def hazard_class_label(props: dict) -> str:
    """The zone's class as text (the importer's ``rank``, e.g. "0.5~1.0m未満の区域")."""
    for name in CLASS_FIELDS:
        value = props.get(name)
        if value not in (None, ""):
            return str(value)
    return ""


def hazard_class_order(label: str) -> tuple[float, str]:
    """Sort key of a depth/rank class text: its lower bound ("0.3m未満" → 0, "0.5~1.0m" → 0.5)."""
    text = unicodedata.normalize("NFKC", label)
    numbers = [float(n) for n in _NUMBER.findall(text)]
    if not numbers:
        return (math.inf, text)
    if len(numbers) == 1 and ("未満" in text or "<" in text or "below" in text.lower()):
        return (0.0, text)
    return (numbers[0], text)


def hazard_ranks(features: list[dict]) -> list[str]:
    """The distinct class labels of hazard-zone features, lowest first (index 0 = rank 1): by
    the importer's ``rank_order`` where given, else by the depth written in the label."""
    orders: dict[str, float | None] = {}
    for feature in features:
        props = feature.get("properties") or {}
        label = hazard_class_label(props)
        order = _number(props.get("rank_order"))
        if order is not None or label not in orders:
            orders[label] = order
    return sorted(
        orders,
        key=lambda label: (
            (0, orders[label], "") if orders[label] is not None else (1, *hazard_class_order(label))
        ),
    )
