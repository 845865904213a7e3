"""The reference data a notice is drafted against: the situation app's district,
shelter and hazard-zone layers, shelter status, the municipality, the guard's universe, and the
CAP area rings of districts.
"""

from __future__ import annotations

import functools

import pandas as pd
import shapely
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices import guard
from disaster_ai.apps.notices.base import NoticeError, app_config, desk


def reference_layers(session: Session):
    """The situation app's prepared layers (``desk.layers.prepared``: cached per active layer
    versions, shared with the situation app)."""
    prepared = desk().layers.prepared(session=session)
    if prepared is None:
        raise NoticeError(
            409,
            "no_districts",
            _(
                "No district layer is loaded: import one with `disaster-ai geo import districts "
                "FILE` (docs/pilot.md), or derive provisional districts from the town points "
                "with `disaster-ai geo derive-districts`."
            ),
            "districts",
        )
    return prepared


def shelter_status(session: Session) -> pd.DataFrame:
    rows = [
        (s.key, s.is_open, s.occupancy, s.updated_at)
        for s in desk().shelters.states(session=session)
    ]
    return pd.DataFrame.from_records(
        rows, columns=["shelter_key", "is_open", "occupancy", "updated_at"]
    )


def municipality(session: Session) -> dict:
    """The issuer from the municipality profile (disaster_ai/municipality): name, English name,
    団体コード and JIS code. NOTICE_ISSUER / MUNICIPALITY_NAME / NOTICE_ISSUER_EN rename the
    issuer of a set profile; without a profile the name is empty (drafting refuses: no_issuer)
    and no code is made up."""
    from disaster_ai.municipality import current

    row = current(session)
    if row is None or not row.jis_code:
        return {"name": "", "name_en": "", "lg_code": "", "jis_code": ""}
    config = app_config()
    name = config.get("NOTICE_ISSUER") or config.get("MUNICIPALITY_NAME") or row.name
    return {
        "name": name or "",
        "name_en": config.get("NOTICE_ISSUER_EN") or row.name_en or "",
        "lg_code": row.lg_code,
        "jis_code": row.jis_code,
    }


def universe(layers, town: dict | None = None) -> guard.Universe:
    """Every district and shelter name of the layers (the guard flags one a text names that
    is not the notice's), the districts also in English, read as the renderers read them."""
    d, s = layers.districts, layers.shelters
    town = town or {}
    en = tuple(
        f.District(
            key=str(key),
            name=str(name),
            name_kana=str(kana or ""),
            municipality=town.get("name", ""),
            jis_code=town.get("jis_code", ""),
        ).name_en
        for key, name, kana in zip(d["key"], d["name"], d["name_kana"], strict=True)
    )
    return guard.Universe(
        tuple(d["name"]),
        en,
        tuple(n for n in s["name"] if n),
        tuple(f.hazards().values()),
    )


def district_ring(geometry, max_points: int = 100) -> tuple:
    """One district's ring (see :func:`district_rings`)."""
    return district_rings([geometry], max_points)[0]


def district_rings(geometries, max_points: int = 100) -> list[tuple]:
    """The outer ring of each district's largest part, as (lon, lat) rounded to 5 decimals
    (≈ 1 m), closed and simple, with ≤ max_points points each.

    The districts are simplified together as a coverage (shapely.coverage_simplify) with one
    tolerance, so neighbours keep one shared edge: simplified one by one they would overlap by
    hundreds of m², and CAP consumers would count the overlap as both areas.

    The result depends only on the geometries, so it is remembered: every preview, save, approval
    and issue of a notice asks again for the same districts."""
    return list(_district_rings(tuple(geometries), max_points))


@functools.lru_cache(maxsize=512)
def _district_rings(geometries: tuple, max_points: int) -> tuple[tuple, ...]:
    polygons = [_largest_polygon(g) for g in geometries]
    present = [i for i, g in enumerate(polygons) if g is not None]
    rings: list[tuple] = [()] * len(polygons)
    tolerance = 0.00005
    for _attempt in range(12):
        simplified = shapely.coverage_simplify([polygons[i] for i in present], tolerance)
        candidates = [_clean_ring(_largest_polygon(g)) for g in simplified]
        if all(r and len(r) <= max_points for r in candidates):
            for i, ring in zip(present, candidates, strict=True):
                rings[i] = ring
            return tuple(rings)
        tolerance *= 2
    for i in present:  # never reached on real districts; a closed, simple ring all the same
        hull = polygons[i].convex_hull.exterior.coords
        rings[i] = tuple((round(x, 5), round(y, 5)) for x, y in hull)
    return tuple(rings)


def _largest_polygon(geometry):
    if geometry is None or geometry.is_empty:
        return None
    if geometry.geom_type == "MultiPolygon":
        geometry = max(geometry.geoms, key=lambda g: g.area)
    if geometry.geom_type != "Polygon":
        return None
    return shapely.Polygon(geometry.exterior)  # holes are not part of a CAP area


def _clean_ring(polygon) -> tuple:
    """Rounded, without repeated points; () when that leaves no closed simple ring."""
    if polygon is None or polygon.is_empty:
        return ()
    coords = [(round(x, 5), round(y, 5)) for x, y in polygon.exterior.coords]
    ring = [c for i, c in enumerate(coords) if i == 0 or c != coords[i - 1]]
    if len(ring) < 4 or ring[0] != ring[-1] or not shapely.LinearRing(ring).is_simple:
        return ()
    return tuple(ring)


def match_names(frame: pd.DataFrame, wanted: list[str], suffix: str) -> tuple[list[int], list[str]]:
    keys = list(frame["key"])
    names = list(frame["name"])
    positions, unknown = [], []
    for item in wanted:
        item = item.strip()
        candidates = [i for i, k in enumerate(keys) if k == item]
        candidates = candidates or [i for i, n in enumerate(names) if n == item]
        candidates = candidates or [i for i, n in enumerate(names) if n == item + suffix]
        candidates = candidates or [
            i for i, n in enumerate(names) if suffix and n.removesuffix(suffix) == item
        ]
        if len(candidates) == 1:
            if candidates[0] not in positions:
                positions.append(candidates[0])
        else:
            unknown.append(item)
    return positions, unknown


def district_rows(session: Session, keys: list[str]) -> list[dict]:
    layers = reference_layers(session)
    frame = layers.districts
    names = dict(zip(frame["key"].astype(str), frame["name"].astype(str), strict=True))
    return [{"key": k, "name": names.get(k, k)} for k in keys]
