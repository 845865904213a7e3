"""The situation app's answers to the desk's search box (``dai_search``): towns of the places
layer (by name or reading), districts, shelters (by name, reading or address) and incidents
(``#12``, a place or a word of the description). A place opens the map centred on it."""

from __future__ import annotations

import re

import shapely
from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from disaster_ai.apps.situation import layers
from disaster_ai.apps.situation.models import GeoFeature, Incident
from disaster_ai.search import Matcher
from disaster_ai.storage.engine import db
from disaster_ai.types import SearchResult

KINDS = {
    "places": ("town", _l("Town"), 16),
    "districts": ("district", _l("District"), 15),
    "shelters": ("shelter", _l("Shelter"), 17),
}
PER_KIND = 8


def _entries(session, layer: str) -> list[tuple]:
    """(name, reading, address, lat, lon) of the active version, cached per version."""
    from disaster_ai.apps.situation.incidents import _cache, forget_other_versions

    version = layers.active_version(session, layer)
    if version is None:
        return []
    cache = _cache()
    key = (f"search:{layer}", version.id)
    if key not in cache:
        forget_other_versions(cache, key)
        rows = session.execute(
            select(GeoFeature.name, GeoFeature.name_kana, GeoFeature.props, GeoFeature.geometry)
            .where(GeoFeature.version_id == version.id)
            .order_by(GeoFeature.id)
        )
        entries = []
        readings = _postal_readings() if layer in ("places", "districts") else {}
        for name, kana, props, geometry in rows:
            try:
                point = shapely.geometry.shape(geometry).representative_point()
            except Exception:  # noqa: BLE001 - a broken geometry is still findable by name
                point = None
            props = props or {}
            address = str(props.get("address") or props.get("town") or "")
            if not kana and readings:
                from disaster_ai.apps.situation.importing.attributes import reading_of

                kana = reading_of(name or "", readings) or str(props.get("town_kana") or "")
            entries.append(
                (
                    name or "",
                    kana or str(props.get("town_kana") or ""),
                    address,
                    point.y if point is not None else None,
                    point.x if point is not None else None,
                )
            )
        cache[key] = entries
    return cache[key]


_POSTAL: dict[str, dict[str, str]] = {}  # JIS code → {町域名: reading}; the data never changes


def _postal_readings() -> dict[str, str]:
    """Readings for places imported without any (the postal data, as the importer's
    ``kana_from_postal`` uses): read once per process and municipality (about 2 s)."""
    from disaster_ai.apps.situation.importing.attributes import postal_readings, profile_entry

    entry = profile_entry()
    if entry is None:
        return {}
    if entry.jis_code not in _POSTAL:
        try:
            _POSTAL[entry.jis_code] = postal_readings(entry)
        except Exception:  # noqa: BLE001 - without the postal data, names still match
            _POSTAL[entry.jis_code] = {}
    return _POSTAL[entry.jis_code]


def map_url(lat: float, lon: float, zoom: int, label: str) -> str:
    return url_for(
        "situation_web.map_page", focus=f"{lat:.6f},{lon:.6f}", zoom=zoom, label=label[:80]
    )


def results(query: str, lang: str) -> list[SearchResult]:
    session = db()
    matcher = Matcher(query)
    found: list[SearchResult] = []
    for layer, (kind, kind_label, zoom) in KINDS.items():
        scored = []
        for name, kana, address, lat, lon in _entries(session, layer):
            score = matcher.score(name, kana, address)
            if score and lat is not None:
                scored.append((score, name, kana, address, lat, lon))
        scored.sort(key=lambda item: (-item[0], item[1]))
        for score, name, kana, address, lat, lon in scored[:PER_KIND]:
            detail = " ".join(part for part in (kana, address if address != name else "") if part)
            found.append(
                SearchResult(
                    kind, str(kind_label), name, map_url(lat, lon, zoom, name), detail, lat, lon,
                    score,
                )
            )  # fmt: skip
    found += _incidents(session, query, lang)
    return found


def _incidents(session, query: str, lang: str) -> list[SearchResult]:
    from disaster_ai.apps.situation.incidents import visible_incidents
    from disaster_ai.categories import label

    number = re.fullmatch(r"[#＃]?\s*(\d{1,9})", query.strip())
    statement = visible_incidents().order_by(Incident.occurred_at.desc()).limit(PER_KIND)
    if number:
        statement = statement.where(Incident.id == int(number.group(1)))
    else:
        like = f"%{query.replace('%', '').replace('_', '')}%"
        if len(like) <= 2:
            return []
        statement = statement.where(
            or_(Incident.place_name.like(like), Incident.description.like(like))
        )
    out = []
    for incident in session.scalars(statement):
        when = incident.occurred_at.strftime("%m/%d %H:%M") if incident.occurred_at else ""
        text = f"#{incident.id} {label(incident.category, lang)} {incident.place_name}".strip()
        out.append(
            SearchResult(
                "incident",
                str(_l("Incident")),
                text,
                url_for("situation_incidents_web.detail_page", incident_id=incident.id),
                when,
                incident.lat,
                incident.lon,
                100 if number else 35,
            )
        )
    return out
