"""The municipality part of a sample kit: name, codes, boundary and attribution."""

from __future__ import annotations

import json
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, select

from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import Municipality


def load_municipality(context) -> str:
    info = context.manifest["municipality"]
    directory = Path(context.directory)
    boundary = _first_geometry(directory / info["boundary"]) if info.get("boundary") else None
    attribution = info.get("attribution", "")  # the short line CC BY asks us to show on the map
    with session_scope(get_storage(current_app)) as session:
        session.execute(delete(Municipality))
        session.add(
            Municipality(
                name=info["name"],
                name_en=info.get("name_en", ""),
                lg_code=info["lg_code"],
                jis_code=info["jis_code"],
                boundary=boundary,
                attribution=attribution,
            )
        )
    return f"municipality {info['name']} ({info['lg_code']})"


def _first_geometry(path: Path) -> dict:
    collection = json.loads(path.read_text(encoding="utf-8"))
    if collection.get("type") == "FeatureCollection":
        features = collection.get("features") or []
        if not features or not features[0].get("geometry"):
            raise ValueError(f"{path.name}: no boundary geometry in the first feature")
        return features[0]["geometry"]
    return collection.get("geometry", collection)


def municipality_outline() -> dict | None:
    with session_scope(get_storage(current_app)) as session:
        row = session.scalar(select(Municipality).order_by(Municipality.id.desc()).limit(1))
        if row is None or row.boundary is None:
            return None
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": row.boundary,
                    "properties": {"name": row.name, "attribution": row.attribution},
                }
            ],
        }
