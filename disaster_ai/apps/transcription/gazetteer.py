"""The core ``dai_place_names``: the active places layer (町丁目) and the shelters, with their
points (read through the facade, ``desk.layers.features``: the layers are the situation app's)."""

from __future__ import annotations

import json

import shapely
from flask import current_app

from disaster_ai.apps.transcription.types import PlaceName


def _point(geometry) -> tuple[float | None, float | None]:
    try:
        shape = shapely.from_geojson(json.dumps(geometry))
        point = shape if shape.geom_type == "Point" else shape.representative_point()
        return round(point.x, 6), round(point.y, 6)
    except Exception:  # a feature without a usable geometry: no point
        return None, None


def core_place_names() -> list[PlaceName]:
    from disaster_ai.desk import Desk, DeskUnavailable

    result: list[PlaceName] = []
    desk = Desk(current_app._get_current_object(), "transcription")
    try:
        desk.part("layers")
    except DeskUnavailable:  # no situation app, no layers: the other plugins' names only
        return result
    with desk.session() as session:
        for layer, kind in (("places", "town"), ("shelters", "shelter")):
            for feature in desk.layers.features(layer, session=session):
                key, name, kana = feature.key, feature.name, feature.name_kana
                if name:
                    lon, lat = _point(feature.geometry) if kind == "shelter" else (None, None)
                    result.append(PlaceName(name, key, kind, (kana,) if kana else (), lon, lat))
    return result
