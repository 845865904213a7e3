"""Versioned reference layers: store an imported GeoDataFrame as a new active version, read
the active version back as a GeoDataFrame or GeoJSON.

The frame exchanged here is always EPSG:4326 with the columns ``key``, ``name``,
``name_kana``, ``props`` (a dict per row) and ``geometry``.
"""

from __future__ import annotations

import geopandas as gpd
import shapely
from shapely.geometry import mapping
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from disaster_ai.apps.situation.models import LAYERS, GeoFeature, GeoLayerVersion

COLUMNS = ["key", "name", "name_kana", "props", "geometry"]


def store_layer_version(
    session: Session,
    layer: str,
    frame: gpd.GeoDataFrame,
    *,
    source_name: str,
    source_crs: str = "",
    report: dict | None = None,
    attribution: str = "",
    imported_by: str = "system",
) -> GeoLayerVersion:
    """Write a new version and make it the active one, in the caller's transaction: either the
    whole layer is replaced or nothing changes. Older versions are kept."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; layers are {', '.join(LAYERS)}")
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        raise ValueError("store_layer_version needs EPSG:4326")
    latest = (
        session.scalar(
            select(func.max(GeoLayerVersion.version)).where(GeoLayerVersion.layer == layer)
        )
        or 0
    )
    session.execute(
        update(GeoLayerVersion).where(GeoLayerVersion.layer == layer).values(active=False)
    )
    version = GeoLayerVersion(
        layer=layer,
        version=latest + 1,
        active=True,
        source_name=source_name[:255],
        source_crs=source_crs,
        feature_count=len(frame),
        report=report or {},
        attribution=attribution,
        imported_by=imported_by,
    )
    session.add(version)
    session.flush()
    session.add_all(
        GeoFeature(
            version_id=version.id,
            key=str(row.key),
            name=row.name or "",
            name_kana=row.name_kana or "",
            props=row.props or {},
            geometry=mapping(row.geometry),
        )
        for row in frame[COLUMNS].itertuples(index=False)
    )
    session.flush()
    return version


def active_version(session: Session, layer: str) -> GeoLayerVersion | None:
    return session.scalar(
        select(GeoLayerVersion).where(
            GeoLayerVersion.layer == layer, GeoLayerVersion.active.is_(True)
        )
    )


def layer_versions(session: Session, layer: str) -> list[GeoLayerVersion]:
    query = (
        select(GeoLayerVersion)
        .where(GeoLayerVersion.layer == layer)
        .order_by(GeoLayerVersion.version.desc())
    )
    return list(session.scalars(query))


def activate_version(session: Session, layer: str, version: int) -> GeoLayerVersion:
    """Roll back (or forward) to a kept version."""
    target = session.scalar(
        select(GeoLayerVersion).where(
            GeoLayerVersion.layer == layer, GeoLayerVersion.version == version
        )
    )
    if target is None:
        raise LookupError(f"{layer} has no version {version}")
    session.execute(
        update(GeoLayerVersion).where(GeoLayerVersion.layer == layer).values(active=False)
    )
    target.active = True
    session.flush()
    return target


def load_layer(session: Session, layer: str) -> gpd.GeoDataFrame:
    """The active version as a GeoDataFrame (empty, with the right columns, when none)."""
    version = active_version(session, layer)
    if version is None:
        return gpd.GeoDataFrame(
            {c: [] for c in COLUMNS[:-1]}, geometry=gpd.GeoSeries([], crs=4326), crs=4326
        )
    rows = session.execute(
        select(
            GeoFeature.key,
            GeoFeature.name,
            GeoFeature.name_kana,
            GeoFeature.props,
            GeoFeature.geometry,
        )
        .where(GeoFeature.version_id == version.id)
        .order_by(GeoFeature.id)
    ).all()
    geometries = shapely.from_geojson([_dumps(row.geometry) for row in rows]) if rows else []
    return gpd.GeoDataFrame(
        {
            "key": [r.key for r in rows],
            "name": [r.name for r in rows],
            "name_kana": [r.name_kana for r in rows],
            "props": [r.props for r in rows],
        },
        geometry=gpd.GeoSeries(geometries, crs=4326),
        crs=4326,
    )


def layer_geojson(session: Session, layer: str) -> dict:
    version = active_version(session, layer)
    if version is None:
        return {"type": "FeatureCollection", "features": [], "layer": layer, "version": None}
    rows = session.scalars(
        select(GeoFeature).where(GeoFeature.version_id == version.id).order_by(GeoFeature.id)
    )
    return {
        "type": "FeatureCollection",
        "layer": layer,
        "version": version.version,
        "attribution": version.attribution,
        "features": [
            {
                "type": "Feature",
                "id": f.key,
                "geometry": f.geometry,
                "properties": {
                    "key": f.key,
                    "name": f.name,
                    "name_kana": f.name_kana,
                    **(f.props or {}),
                },
            }
            for f in rows
        ],
    }


def _dumps(geometry: dict) -> str:
    import json

    return json.dumps(geometry)
