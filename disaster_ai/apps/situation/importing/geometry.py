"""Geometry checks: types, reprojection to EPSG:4326, repair of invalid polygons, dissolving
records that share a key, provisional districts from points."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from disaster_ai.apps.situation.importing.common import (
    POINT_LAYERS,
    POLYGON_LAYERS,
    GeoImportError,
    _,
)
from disaster_ai.apps.situation.importing.mappings import Mapping

# --- geometry ------------------------------------------------------------------------------


def _type_names(layer: str) -> str:
    return "Polygon, MultiPolygon" if layer in POLYGON_LAYERS else "Point"


def _check_geometry_types(geometries, display: str, layer: str) -> np.ndarray:
    geometries = np.asarray(geometries, dtype=object)
    missing = np.array([g is None for g in geometries], dtype=bool)
    present = ~missing
    missing[present] = shapely.is_empty(geometries[present])
    if missing.any():
        row = int(np.flatnonzero(missing)[0]) + 1
        raise GeoImportError(
            _("missing geometry"), file=display, row=row, reason="missing_geometry"
        )
    geometries = shapely.force_2d(geometries)
    types = shapely.get_type_id(geometries)
    if layer in POINT_LAYERS:
        single_multipoint = (types == 4) & (shapely.get_num_geometries(geometries) == 1)
        if single_multipoint.any():
            geometries[single_multipoint] = shapely.get_geometry(geometries[single_multipoint], 0)
            types = shapely.get_type_id(geometries)
        wrong = types != 0
    else:
        wrong = ~np.isin(types, (3, 6))
    if wrong.any():
        index = int(np.flatnonzero(wrong)[0])
        raise GeoImportError(
            _(
                "wrong geometry type %(found)s; the %(layer)s layer takes %(expected)s",
                found=geometries[index].geom_type,
                layer=layer,
                expected=_type_names(layer),
            ),
            file=display,
            row=index + 1,
            reason="wrong_geometry_type",
        )
    return geometries


def _crs_label(crs: CRS) -> str:
    authority = crs.to_authority(min_confidence=70)
    return f"{authority[0]}:{authority[1]}" if authority else crs.name


def _to_wgs84(geometries: np.ndarray, crs, display: str, fmt: str, mapping: Mapping):
    """Reproject to EPSG:4326 (x = longitude). A file without a CRS needs ``crs`` in the mapping;
    RFC 7946 GeoJSON is always WGS 84 and CSV defaults to it."""
    if crs is None and mapping.crs:
        crs = mapping.crs
    if crs is None:
        raise GeoImportError(
            _(
                "no coordinate reference system: add the .prj file, or set crs in the mapping "
                '(for example crs = "EPSG:6676" for JGD2011 plane rectangular zone VIII)'
            ),
            file=display,
            reason="unknown_crs",
        )
    try:
        crs = CRS.from_user_input(crs)
    except CRSError:
        raise GeoImportError(
            _("unknown coordinate reference system %(crs)s", crs=str(crs)[:80]),
            file=display,
            reason="unknown_crs",
        ) from None
    label = _crs_label(crs)
    series = gpd.GeoSeries(geometries, crs=crs)
    wgs84 = CRS.from_epsg(4326)
    reprojected = not (
        crs.equals(wgs84, ignore_axis_order=True) or crs.equals(CRS.from_user_input("OGC:CRS84"))
    )
    if reprojected:
        if not crs.is_geographic and not crs.is_projected:
            raise GeoImportError(
                _("unknown coordinate reference system %(crs)s", crs=label),
                file=display,
                reason="unknown_crs",
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter(
                    "ignore", RuntimeWarning
                )  # PROJ: inf for points out of the zone
                series = series.to_crs(4326)
        except Exception as exc:
            raise GeoImportError(
                _("cannot reproject from %(crs)s: %(reason)s", crs=label, reason=str(exc)),
                file=display,
                reason="unknown_crs",
            ) from None
    coords = shapely.get_coordinates(series.values)
    x, y = coords[:, 0], coords[:, 1]
    bad = ~(np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90))
    if bad.any():
        index = shapely.get_coordinates(series.values, return_index=True)[1][np.flatnonzero(bad)[0]]
        raise GeoImportError(
            _(
                "the coordinates are not longitude/latitude after reading them as %(crs)s; "
                "is the coordinate reference system right?",
                crs=label,
            ),
            file=display,
            row=int(index) + 1,
            reason="bad_coordinates",
        )
    return np.asarray(series.values, dtype=object), label, reprojected


def _polygonal(geometry):
    """The polygonal part of a make_valid result (which may be a GeometryCollection)."""
    if geometry is None or geometry.is_empty:
        return None
    type_id = shapely.get_type_id(geometry)
    if type_id in (3, 6):
        return geometry
    polygons = []
    for part in shapely.get_parts(geometry):
        part_type = shapely.get_type_id(part)
        if part_type == 3:
            polygons.append(part)
        elif part_type in (6, 7):
            inner = _polygonal(part)
            if inner is not None:
                polygons.extend(shapely.get_parts(inner))
    polygons = [p for p in polygons if not p.is_empty and p.area > 0]
    if not polygons:
        return None
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


def _repair(geometries: np.ndarray, keys: list[str], layer: str, display: str):
    report = {"count": 0, "keys": [], "reasons": {}}
    if layer not in POLYGON_LAYERS:
        return geometries, report
    invalid = np.flatnonzero(~shapely.is_valid(geometries))
    if len(invalid) == 0:
        return geometries, report
    reasons = shapely.is_valid_reason(geometries[invalid])
    fixed = shapely.make_valid(geometries[invalid])
    geometries = geometries.copy()
    for index, reason, geometry in zip(invalid, reasons, fixed, strict=True):
        polygonal = _polygonal(geometry)
        if polygonal is None:
            raise GeoImportError(
                _("the polygon is invalid (%(reason)s) and could not be repaired", reason=reason),
                file=display,
                row=int(index) + 1,
                reason="invalid_geometry",
            )
        geometries[index] = polygonal
        report["keys"].append(keys[index])
        report["reasons"][keys[index]] = str(reason)
    report["count"] = len(invalid)
    return geometries, report


def dissolve_by_key(records: list[dict], geometries: np.ndarray, layer: str):
    """Rows that share a key become one feature: the union of their geometries, the first
    non-empty name and reading, the first row's props, and (districts) the sum of the known
    populations. e-Stat 小地域 repeat KEY_CODE on the pieces of one area, and put the population
    on any of them; N03 repeats N03_007 on every island of a municipality."""
    order: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        order.setdefault(record["key"], []).append(index)
    if all(len(rows) == 1 for rows in order.values()):
        return records, geometries
    out_records, out_geometries = [], []
    for _key, rows in order.items():
        first = dict(records[rows[0]])
        first["props"] = dict(first["props"])
        for field_name in ("name", "name_kana"):
            first[field_name] = next(
                (records[i][field_name] for i in rows if records[i][field_name]), ""
            )
        if layer == "districts":
            known = [records[i]["props"].get("population") for i in rows]
            known = [p for p in known if p is not None]
            first["props"]["population"] = sum(known) if known else None
        first["props"]["parts"] = len(rows)
        out_records.append(first)
        merged = shapely.union_all(geometries[rows]) if len(rows) > 1 else geometries[rows[0]]
        out_geometries.append(merged)
    return out_records, np.asarray(out_geometries, dtype=object)


def voronoi_districts(points: gpd.GeoDataFrame, group: list[str], boundary, crs) -> list:
    """One polygon per group of points: the Voronoi cells of the points (in ``crs``, metres),
    clipped to ``boundary`` (EPSG:4326) and merged per group; returned in EPSG:4326, in the
    order of the groups' first points."""
    projected = points.to_crs(crs)
    outline = gpd.GeoSeries([boundary], crs=4326).to_crs(crs).iloc[0]
    coords = shapely.get_coordinates(projected.geometry.values)
    unique, first = np.unique(np.round(coords, 3), axis=0, return_index=True)
    cells = shapely.voronoi_polygons(
        shapely.MultiPoint(coords[np.sort(first)]), extend_to=outline.envelope
    )
    cell_list = list(shapely.get_parts(cells))
    tree = shapely.STRtree(cell_list)
    point_geoms = shapely.points(coords)
    cell_of = np.full(len(coords), -1)
    found = tree.query(point_geoms, predicate="intersects")
    for p, c in zip(found[0], found[1], strict=True):
        if cell_of[p] < 0:
            cell_of[p] = c
    groups: dict[str, list[int]] = {}
    for index, name in enumerate(group):
        groups.setdefault(name, []).append(index)
    shapes = []
    for _name, members in groups.items():
        parts = [cell_list[cell_of[i]] for i in members if cell_of[i] >= 0]
        shape = shapely.intersection(shapely.union_all(parts), outline) if parts else None
        shapes.append(shape)
    back = gpd.GeoSeries(shapes, crs=crs).to_crs(4326)
    return list(back.values)


# --- vertex limit -------------------------------------------------------------------------------

SIMPLIFY_START_DEG = 0.000001  # ≈ 0.1 m: the first tolerance tried on a feature over the limit
SIMPLIFY_MAX_DEG = 0.0001  # ≈ 10 m: beyond this a simplified outline would mislead; refuse


def limit_vertices(
    geometries: np.ndarray, keys: list[str], display: str, max_vertices: int
) -> tuple[np.ndarray, list[dict]]:
    """Simplify (topology kept) each feature of more than ``max_vertices`` vertices with the
    smallest tolerance, doubled from 0.1 m, that brings it within the limit; refuse the file
    (reason ``too_many_vertices``) when 10 m is not enough. Returns the geometries (EPSG:4326)
    and one report entry per simplified feature."""
    counts = shapely.get_num_coordinates(geometries)
    over = np.flatnonzero(counts > max_vertices)
    if not len(over):
        return geometries, []
    geometries = geometries.copy()
    report = []
    for index in over:
        tolerance, shape = SIMPLIFY_START_DEG, geometries[index]
        while True:
            simplified = shapely.simplify(shape, tolerance, preserve_topology=True)
            after = int(shapely.get_num_coordinates(simplified))
            if after <= max_vertices:
                break
            tolerance *= 2
            if tolerance > SIMPLIFY_MAX_DEG:
                raise GeoImportError(
                    _(
                        "a feature of %(count)s vertices, over the limit of %(limit)s "
                        "(GEO_IMPORT_MAX_VERTICES) even when simplified by 10 m; simplify "
                        "or split it before importing",
                        count=int(counts[index]),
                        limit=max_vertices,
                    ),
                    file=display,
                    row=int(index) + 1,
                    reason="too_many_vertices",
                )
        geometries[index] = simplified
        report.append(
            {
                "key": keys[index],
                "vertices": int(counts[index]),
                "simplified_to": after,
                "tolerance_m": round(tolerance * 111_000, 2),
            }
        )
    return geometries, report
