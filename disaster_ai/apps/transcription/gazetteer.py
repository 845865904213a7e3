"""The core ``dai_place_names``: the active places layer (町丁目) and the shelters, with their
points (read through the situation app's layer functions)."""

from __future__ import annotations

import json

import shapely
from flask import current_app
from sqlalchemy import select

from disaster_ai.apps.transcription.types import PlaceName
from disaster_ai.storage import get_storage, session_scope


def _point(geometry) -> tuple[float | None, float | None]:
    try:
        shape = shapely.from_geojson(json.dumps(geometry))
        point = shape if shape.geom_type == "Point" else shape.representative_point()
        return round(point.x, 6), round(point.y, 6)
    except Exception:  # a feature without a usable geometry: no point
        return None, None


def core_place_names() -> list[PlaceName]:
    from disaster_ai.apps.situation.layers import active_version
    from disaster_ai.apps.situation.models import GeoFeature

    result: list[PlaceName] = []
    with session_scope(get_storage(current_app)) as session:
        for layer, kind in (("places", "town"), ("shelters", "shelter")):
            version = active_version(session, layer)
            if version is None:
                continue
            rows = session.execute(
                select(GeoFeature.key, GeoFeature.name, GeoFeature.name_kana, GeoFeature.geometry)
                .where(GeoFeature.version_id == version.id)
                .order_by(GeoFeature.id)
            ).all()
            for key, name, kana, geometry in rows:
                if name:
                    lon, lat = _point(geometry) if kind == "shelter" else (None, None)
                    result.append(PlaceName(name, key, kind, (kana,) if kana else (), lon, lat))
    return result
