"""Vectorised spatial analysis of the situation picture: pure functions, frames in, frames/dicts out.

No Python loop runs over features or incidents: everything is numpy, shapely 2 array functions,
STRtree queries (the spatial index behind geopandas' ``sindex``/``sjoin``) and the grid index
below. The method notes are in docs/situation.md; the gist:

* **Projected CRS.** Areas and distances are computed in a metric CRS: the JGD2011 plane-rectangular
  zone (EPSG:6669–6687) whose origin is nearest to the data's centre (zone VIII, EPSG:6676, for
  Shizuoka), or a local UTM zone outside Japan, or ``SITUATION_CRS`` when set.
* **Huge multipolygons are split into their parts** before any join: the Yaizu inland-flood layer
  is 6 features holding 6,312 polygons, and most parts then fall wholly inside one district.
* **Incidents → polygons** (districts, hazard ranks) through :class:`PolygonGridIndex`, an exact
  point-in-polygon index: a regular grid whose cells not touched by any boundary carry the label of
  their centre (computed once by a scanline), and whose boundary cells keep their edges; a point in
  a boundary cell flips the centre's label by the parity of edge crossings between the centre and
  the point. Creating a shapely point per incident would cost more than the whole summary.
* **Population exposed** is areal-weighted: district population × (district area inside the
  zone ÷ district area), i.e. people assumed evenly spread over each district.
* **Hotspots** are a grid approximation of DBSCAN in space and time (see :func:`hotspots`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

# GRS80, for the local metres-per-degree factors.
_A = 6378137.0
_F = 1 / 298.257222101
_E2 = _F * (2 - _F)

ACTIVE_STATUSES = ("unverified", "confirmed")


# --- CRS ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _jgd2011_zone_origins() -> tuple[tuple[int, float, float], ...]:
    """(epsg, lon_0, lat_0) of the 19 JGD2011 plane-rectangular zones, read from PROJ."""
    origins = []
    for epsg in range(6669, 6688):
        params = {p.name: p.value for p in pyproj.CRS.from_epsg(epsg).coordinate_operation.params}
        origins.append(
            (epsg, params["Longitude of natural origin"], params["Latitude of natural origin"])
        )
    return tuple(origins)


def metric_crs(lon: float, lat: float, override: str | int | None = None) -> pyproj.CRS:
    """The projected CRS for areas and distances around (lon, lat).

    In Japan: the JGD2011 plane-rectangular zone whose origin is nearest (longitude scaled by
    cos(lat)); the scale error of a transverse Mercator grows with the distance from its central
    meridian, so the nearest origin is also the most accurate choice. Elsewhere: the local UTM zone."""
    if override:
        return pyproj.CRS.from_user_input(override)
    if 122.0 <= lon <= 154.0 and 20.0 <= lat <= 46.0:
        coslat = math.cos(math.radians(lat))
        epsg = min(
            _jgd2011_zone_origins(), key=lambda o: ((o[1] - lon) * coslat) ** 2 + (o[2] - lat) ** 2
        )[0]
        return pyproj.CRS.from_epsg(epsg)
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    info = query_utm_crs_info(
        datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat)
    )
    return pyproj.CRS.from_epsg(int(info[0].code))


def metres_per_degree(lat: float) -> tuple[float, float]:
    """(metres per degree of longitude, per degree of latitude) at ``lat`` on GRS80."""
    phi = math.radians(lat)
    w = math.sqrt(1 - _E2 * math.sin(phi) ** 2)
    n = _A / w  # prime vertical radius
    m = _A * (1 - _E2) / w**3  # meridional radius
    return n * math.cos(phi) * math.pi / 180, m * math.pi / 180


def local_xy(
    lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Metres east/north of (lon0, lat0) on the local tangent plane. Within a municipality (±20 km)
    the error against a transverse Mercator is below 0.01 %: good enough for hotspot cells, and it
    costs two multiply-adds per point instead of a projection."""
    kx, ky = metres_per_degree(lat0)
    return (lon - lon0) * kx, (lat - lat0) * ky


# --- geometry helpers ------------------------------------------------------------------------


def split_parts(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per polygon part (multipolygons exploded), attributes repeated; ``src`` is the row
    position of the source feature. Joins against small parts are far cheaper than against one
    multipolygon of thousands of parts."""
    parts, index = shapely.get_parts(np.asarray(frame.geometry.values), return_index=True)
    out = frame.drop(columns=frame.geometry.name).iloc[index].reset_index(drop=True)
    out["src"] = index
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(parts, crs=frame.crs), crs=frame.crs)


# --- exact point-in-polygon grid index --------------------------------------------------------


class PolygonGridIndex:
    """Label many points with the polygon region they fall in, exactly and without one shapely
    object per point.

    ``geometries`` are polygons or multipolygons, ``labels`` a non-negative int per geometry; all
    geometries with one label form one region. Regions must not overlap (where they do, a point in
    the overlap gets one of them). ``cell_x``/``cell_y`` are the grid steps in the geometries' units.

    Build: every boundary edge is split into pieces shorter than a cell and each piece marks the
    cells its bounding box touches (*boundary cells*, with their edges). A scanline over the cell
    centres (half-open rule, even-odd per label) labels every centre. Lookup: a point in a cell
    without boundary takes the cell's label (one array read); in a boundary cell it takes the
    centre's label, flipped per label by the parity of edges crossed on the straight path from the
    centre to the point, computed exactly for the point moved by an infinitesimal (ε, ε²): a point
    on a shared boundary lands in exactly one region, a point on the outer boundary may land outside.
    Cells whose centre lies (nearly) on an edge, or is covered twice, fall back to shapely.
    """

    OUTSIDE, BOUNDARY, FALLBACK = -1, -2, -3

    def __init__(
        self, geometries, labels, cell_x: float, cell_y: float, max_cells: int = 6_000_000
    ):
        geometries = np.asarray(geometries, dtype=object)
        labels = np.asarray(labels, dtype=np.int64)
        self.geometries = geometries
        self.labels = labels
        self.n_labels = int(labels.max()) + 1 if len(labels) else 0
        ax, ay, bx, by, elab = _edges(geometries, labels)
        self.edges = (ax, ay, bx, by, elab)
        if len(ax) == 0:
            self.nx = self.ny = 0
            self.grid = np.zeros(0, dtype=np.int32)
            return
        xmin, xmax = min(ax.min(), bx.min()), max(ax.max(), bx.max())
        ymin, ymax = min(ay.min(), by.min()), max(ay.max(), by.max())
        scale = max(1.0, math.sqrt((xmax - xmin) * (ymax - ymin) / (cell_x * cell_y) / max_cells))
        self.cw, self.ch = cell_x * scale, cell_y * scale
        self.x0, self.y0 = xmin - self.cw, ymin - self.ch
        self.nx = int(math.ceil((xmax - self.x0) / self.cw)) + 2
        self.ny = int(math.ceil((ymax - self.y0) / self.ch)) + 2
        grid, covered = self._scanline(ax, ay, bx, by, elab)
        self._boundary_cells(ax, ay, bx, by, elab, grid, covered)
        self.grid = grid

    # build ------------------------------------------------------------------------------------

    def _scanline(self, ax, ay, bx, by, elab):
        """Label of every cell centre: crossings of each centre row with the edges (half-open in y),
        paired per (row, label) along x; cells between pairs are inside."""
        nx, ny, ch = self.nx, self.ny, self.ch
        ylo, yhi = np.minimum(ay, by), np.maximum(ay, by)
        jlo = np.floor((ylo - self.y0) / ch - 0.5).astype(np.int64)
        jhi = np.ceil((yhi - self.y0) / ch - 0.5).astype(np.int64) + 1
        count = np.maximum(jhi - jlo, 0)
        edge = np.repeat(np.arange(len(ax)), count)
        row = np.arange(len(edge)) - np.repeat(np.cumsum(count) - count, count) + jlo[edge]
        yc = self.y0 + (row + 0.5) * ch
        hit = (yc >= ylo[edge]) & (yc < yhi[edge]) & (row >= 0) & (row < ny)
        edge, row, yc = edge[hit], row[hit], yc[hit]
        xi = ax[edge] + (yc - ay[edge]) * (bx[edge] - ax[edge]) / (by[edge] - ay[edge])
        lab = elab[edge]
        order = np.lexsort((xi, lab, row))
        row, lab, xi = row[order], lab[order], xi[order]
        group = np.r_[True, (row[1:] != row[:-1]) | (lab[1:] != lab[:-1])]
        starts = np.flatnonzero(group)
        rank = np.arange(len(row)) - np.repeat(starts, np.diff(np.r_[starts, len(row)]))
        first = np.flatnonzero(rank % 2 == 0)
        first = first[first + 1 < len(row)]
        first = first[(row[first + 1] == row[first]) & (lab[first + 1] == lab[first])]
        r, g = row[first], lab[first]
        c0 = np.clip(np.ceil((xi[first] - self.x0) / self.cw - 0.5), 0, nx).astype(np.int64)
        c1 = np.clip(np.ceil((xi[first + 1] - self.x0) / self.cw - 0.5), 0, nx).astype(np.int64)
        ok = c1 > c0
        r, g, c0, c1 = r[ok], g[ok], c0[ok], c1[ok]
        width = nx + 1
        size = ny * width
        value = np.bincount(r * width + c0, weights=g + 1, minlength=size) - np.bincount(
            r * width + c1, weights=g + 1, minlength=size
        )
        cover = np.bincount(r * width + c0, minlength=size) - np.bincount(
            r * width + c1, minlength=size
        )
        value = np.cumsum(value.reshape(ny, width), axis=1)[:, :nx]
        cover = np.cumsum(cover.reshape(ny, width), axis=1)[:, :nx]
        grid = np.rint(value).astype(np.int32).ravel() - 1
        cover = cover.ravel()
        grid[cover > 1] = self.FALLBACK
        return grid, cover

    def _boundary_cells(self, ax, ay, bx, by, elab, grid, cover):
        """Mark the cells each edge passes through; keep their edges and centre labels."""
        cw, ch, nx = self.cw, self.ch, self.nx
        dx, dy = bx - ax, by - ay
        pieces = np.floor(np.maximum(np.abs(dx) / cw, np.abs(dy) / ch)).astype(np.int64) + 1
        edge = np.repeat(np.arange(len(ax)), pieces)
        k = np.arange(len(edge)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        n = pieces[edge]
        t0, t1 = k / n, (k + 1) / n
        px0, px1 = ax[edge] + dx[edge] * t0, ax[edge] + dx[edge] * t1
        py0, py1 = ay[edge] + dy[edge] * t0, ay[edge] + dy[edge] * t1
        eps_x, eps_y = cw * 1e-6, ch * 1e-6
        ix0 = np.floor((np.minimum(px0, px1) - eps_x - self.x0) / cw).astype(np.int64)
        ix1 = np.floor((np.maximum(px0, px1) + eps_x - self.x0) / cw).astype(np.int64)
        iy0 = np.floor((np.minimum(py0, py1) - eps_y - self.y0) / ch).astype(np.int64)
        iy1 = np.floor((np.maximum(py0, py1) + eps_y - self.y0) / ch).astype(np.int64)
        cells, edges = [], []
        for di in (0, 1, 2):  # a piece's box spans at most 3 cells per axis
            for dj in (0, 1, 2):
                ok = (ix0 + di <= ix1) & (iy0 + dj <= iy1)
                cells.append(((iy0 + dj) * nx + ix0 + di)[ok])
                edges.append(edge[ok])
        pair = np.unique(np.concatenate(cells) * len(ax) + np.concatenate(edges))
        cell, edge = pair // len(ax), pair % len(ax)
        cell_ids, first = np.unique(cell, return_index=True)
        self.b_cells = cell_ids
        self.b_ptr = np.r_[first, len(cell)].astype(np.int64)
        self.b_edges = edge
        self.b_label = grid[cell_ids].copy()
        # A centre (nearly) on an edge has no reliable label: those cells use shapely.
        cx = self.x0 + (cell % nx + 0.5) * cw
        cy = self.y0 + (cell // nx + 0.5) * ch
        near = _segment_distance(cx, cy, ax[edge], ay[edge], bx[edge], by[edge]) < 1e-6 * min(
            cw, ch
        )
        degenerate = np.zeros(len(cell_ids), dtype=bool)
        np.logical_or.at(degenerate, np.searchsorted(cell_ids, cell[near]), True)
        degenerate |= cover[cell_ids] > 1
        grid[cell_ids] = np.where(degenerate, self.FALLBACK, self.BOUNDARY)

    # lookup -----------------------------------------------------------------------------------

    def lookup(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The label of each point, -1 outside every region."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        out = np.full(len(x), self.OUTSIDE, dtype=np.int64)
        if self.nx == 0 or len(x) == 0:
            return out
        fx = (x - self.x0) / self.cw
        fy = (y - self.y0) / self.ch
        ok = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)  # NaN compares False
        idx = np.flatnonzero(ok)
        cell = fy[idx].astype(np.int64) * self.nx + fx[idx].astype(np.int64)
        out[idx] = self.grid[cell]
        boundary = out[idx] == self.BOUNDARY
        if boundary.any():
            sel = idx[boundary]
            out[sel] = self._exact(x[sel], y[sel], cell[boundary])
        fallback = np.flatnonzero(out == self.FALLBACK)
        if len(fallback):
            out[fallback] = self._shapely(x[fallback], y[fallback])
        return out

    def _exact(self, x, y, cell):
        ax, ay, bx, by, elab = self.edges
        pos = np.searchsorted(self.b_cells, cell)
        base = self.b_label[pos].astype(np.int64)
        start, stop = self.b_ptr[pos], self.b_ptr[pos + 1]
        count = stop - start
        point = np.repeat(np.arange(len(x)), count)
        offset = np.arange(len(point)) - np.repeat(np.cumsum(count) - count, count)
        edge = self.b_edges[start[point] + offset]
        cx = self.x0 + (cell % self.nx + 0.5) * self.cw
        cy = self.y0 + (cell // self.nx + 0.5) * self.ch
        cxp, cyp, pxp, pyp = cx[point], cy[point], x[point], y[point]
        eax, eay, ebx, eby = ax[edge], ay[edge], bx[edge], by[edge]

        # Does the path centre→point cross edge a→b? Exact for the point moved by (ε, ε²), ε → 0
        # (simulation of simplicity): a point on a boundary, or a vertex on the path, is decided the
        # same way for every edge, so a point on a shared edge lands in exactly one region.
        def side(value, first, second):
            return np.where(value != 0, value > 0, np.where(first != 0, first > 0, second > 0))

        d1 = side((pxp - cxp) * (eay - cyp) - (pyp - cyp) * (eax - cxp), eay - cyp, cxp - eax)
        d2 = side((pxp - cxp) * (eby - cyp) - (pyp - cyp) * (ebx - cxp), eby - cyp, cxp - ebx)
        d3 = (ebx - eax) * (cyp - eay) - (eby - eay) * (cxp - eax) > 0
        d4 = side((ebx - eax) * (pyp - eay) - (eby - eay) * (pxp - eax), eay - eby, ebx - eax)
        cross = (d1 != d2) & (d3 != d4)
        key = point[cross] * max(self.n_labels, 1) + elab[edge[cross]]
        uniq, n = np.unique(key, return_counts=True)
        odd = uniq[n % 2 == 1]
        odd_point, odd_label = odd // max(self.n_labels, 1), odd % max(self.n_labels, 1)
        result = base.copy()
        flips_base = odd_label == base[odd_point]
        result[odd_point[flips_base]] = self.OUTSIDE
        gained = ~flips_base
        best = np.full(len(x), np.iinfo(np.int64).max)
        np.minimum.at(best, odd_point[gained], odd_label[gained])
        has = best != np.iinfo(np.int64).max
        result[has] = best[has]
        return result

    def _shapely(self, x, y):
        tree = self._tree()
        pi, gi = tree.query(shapely.points(x, y), predicate="intersects")
        best = np.full(len(x), np.iinfo(np.int64).max)
        np.minimum.at(best, pi, self.labels[gi])
        return np.where(best == np.iinfo(np.int64).max, self.OUTSIDE, best)

    def _tree(self):
        if not hasattr(self, "_strtree"):
            self._strtree = shapely.STRtree(self.geometries)
        return self._strtree

    @property
    def stats(self) -> dict:
        return {
            "cells": self.nx * self.ny,
            "boundary_cells": len(getattr(self, "b_cells", [])),
            "edges": len(self.edges[0]),
        }


def _edges(geometries, labels):
    parts, part_src = shapely.get_parts(geometries, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    same = coord_ring[1:] == coord_ring[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    lab = labels[part_src[ring_part[coord_ring[:-1][same]]]]
    real = (a != b).any(axis=1)
    a, b, lab = a[real], b[real], lab[real]
    return a[:, 0].copy(), a[:, 1].copy(), b[:, 0].copy(), b[:, 1].copy(), lab


def _segment_distance(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / np.where(length2 > 0, length2, 1), 0, 1)
    return np.hypot(px - (ax + t * dx), py - (ay + t * dy))


# --- prepared layers -------------------------------------------------------------------------


@dataclass
class Layers:
    """The reference layers with what every summary reuses: flattened attributes, hazard zones
    split into parts, projected copies and the grid indices. Build it with :func:`prepare_layers`
    once per set of layer versions (the analogue of a database's spatial indexes)."""

    districts: gpd.GeoDataFrame  # key, name, name_kana, population (NaN unknown), population_source
    shelters: (
        gpd.GeoDataFrame
    )  # key, name, name_kana, kind, address, hazards (list), capacity, capacity_derived
    zones: gpd.GeoDataFrame  # one row per polygon part: hazard, rank, rank_order, src
    crs: pyproj.CRS
    origin: tuple[float, float]  # lon, lat of the centre, for local metres
    district_index: PolygonGridIndex
    zone_ranks: dict[str, list[tuple[str, int]]]  # hazard -> [(rank, rank_order)] in rank_order
    zone_index: dict[str, PolygonGridIndex]  # hazard -> index labelled by position in zone_ranks
    districts_m: np.ndarray
    district_area_m2: np.ndarray
    district_points_m: np.ndarray  # representative point of each district (inside it)
    shelters_m: np.ndarray
    zones_m: np.ndarray
    designations: pd.DataFrame  # shelter position × hazard -> designated (bool)
    stats: dict = field(default_factory=dict)


def _props(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    records = frame["props"].tolist() if "props" in frame.columns else []
    props = pd.DataFrame.from_records([r or {} for r in records], index=frame.index)
    return props.reindex(frame.index)


def _column(props: pd.DataFrame, name: str, default=None) -> pd.Series:
    if name in props.columns:
        return props[name]
    return pd.Series([default] * len(props), index=props.index, dtype=object)


def prepare_layers(
    districts: gpd.GeoDataFrame,
    shelters: gpd.GeoDataFrame,
    hazard_zones: gpd.GeoDataFrame,
    *,
    crs: str | int | None = None,
    cell_m: float = 10.0,
) -> Layers:
    """Flatten the layer frames (EPSG:4326, columns key/name/name_kana/props/geometry) and build
    what the analyses share. ``cell_m`` is the grid step of the point-in-polygon indices."""
    import time

    started = time.perf_counter()
    frames = [f for f in (districts, shelters, hazard_zones) if len(f)]
    if frames:
        bounds = np.array([f.total_bounds for f in frames])
        lon0 = float((bounds[:, 0].min() + bounds[:, 2].max()) / 2)
        lat0 = float((bounds[:, 1].min() + bounds[:, 3].max()) / 2)
    else:
        lon0, lat0 = 139.0, 35.0
    metric = metric_crs(lon0, lat0, crs)
    kx, ky = metres_per_degree(lat0)

    dprops = _props(districts)
    d = gpd.GeoDataFrame(
        {
            "key": districts["key"].astype(str).to_numpy(),
            "name": districts["name"].fillna("").to_numpy(),
            "name_kana": districts["name_kana"].fillna("").to_numpy(),
            "population": pd.to_numeric(_column(dprops, "population"), errors="coerce").to_numpy(
                dtype=float
            ),
            "population_source": _column(dprops, "population_source", "").fillna("").to_numpy(),
        },
        geometry=districts.geometry.to_numpy(),
        crs=4326,
    )

    sprops = _props(shelters)
    hazards = _column(sprops, "hazards", None)
    s = gpd.GeoDataFrame(
        {
            "key": shelters["key"].astype(str).to_numpy(),
            "name": shelters["name"].fillna("").to_numpy(),
            "name_kana": shelters["name_kana"].fillna("").to_numpy(),
            "kind": _column(sprops, "kind", "").fillna("").to_numpy(),
            "address": _column(sprops, "address", "").fillna("").to_numpy(),
            "hazards": hazards.to_numpy(),
            "capacity": pd.to_numeric(_column(sprops, "capacity"), errors="coerce").to_numpy(
                dtype=float
            ),
            "capacity_derived": _column(sprops, "capacity_derived", False)
            .fillna(False)
            .astype(bool)
            .to_numpy(),
        },
        geometry=shelters.geometry.to_numpy(),
        crs=4326,
    )
    exploded = pd.Series(hazards.to_numpy(), dtype=object).explode().dropna()
    designations = (
        pd.crosstab(exploded.index, exploded).astype(bool).reindex(range(len(s)), fill_value=False)
        if len(exploded)
        else pd.DataFrame(index=range(len(s)))
    )

    zprops = _props(hazard_zones)
    z0 = gpd.GeoDataFrame(
        {
            "hazard": _column(zprops, "hazard", "").fillna("").astype(str).to_numpy(),
            "rank": _column(zprops, "rank", "").fillna("").astype(str).to_numpy(),
            "rank_order": pd.to_numeric(_column(zprops, "rank_order"), errors="coerce")
            .fillna(0)
            .astype(int)
            .to_numpy(),
        },
        geometry=hazard_zones.geometry.to_numpy(),
        crs=4326,
    )
    z = split_parts(z0)
    z = z[shapely.get_type_id(z.geometry.values) == 3].reset_index(drop=True)  # polygons only

    zone_ranks: dict[str, list[tuple[str, int]]] = {}
    zone_index: dict[str, PolygonGridIndex] = {}
    if len(z):
        ranks = (
            z[["hazard", "rank", "rank_order"]]
            .drop_duplicates()
            .sort_values(["hazard", "rank_order", "rank"])
        )
        for hazard, group in ranks.groupby("hazard", sort=True):  # one index per hazard (a handful)
            zone_ranks[str(hazard)] = [
                (str(r), int(o)) for r, o in zip(group["rank"], group["rank_order"], strict=True)
            ]
            mask = (z["hazard"] == hazard).to_numpy()
            label = pd.MultiIndex.from_frame(group[["rank", "rank_order"]]).get_indexer(
                pd.MultiIndex.from_frame(z.loc[mask, ["rank", "rank_order"]])
            )
            zone_index[str(hazard)] = PolygonGridIndex(
                z.geometry.values[mask], label, cell_m / kx, cell_m / ky
            )

    district_index = PolygonGridIndex(
        d.geometry.values, np.arange(len(d)), 2 * cell_m / kx, 2 * cell_m / ky
    )
    districts_m = np.asarray(d.to_crs(metric).geometry.values)
    shelters_m = (
        np.asarray(s.to_crs(metric).geometry.values) if len(s) else np.array([], dtype=object)
    )
    zones_m = np.asarray(z.to_crs(metric).geometry.values) if len(z) else np.array([], dtype=object)
    layers = Layers(
        districts=d,
        shelters=s,
        zones=z,
        crs=metric,
        origin=(lon0, lat0),
        district_index=district_index,
        zone_ranks=zone_ranks,
        zone_index=zone_index,
        districts_m=districts_m,
        district_area_m2=shapely.area(districts_m),
        district_points_m=shapely.point_on_surface(districts_m),
        shelters_m=shelters_m,
        zones_m=zones_m,
        designations=designations,
    )
    layers.stats = {
        "prepare_seconds": time.perf_counter() - started,
        "zone_parts": len(z),
        "district_index": district_index.stats,
        "zone_index": {h: i.stats for h, i in zone_index.items()},
    }
    return layers


def designated_mask(layers: Layers, hazard: str) -> np.ndarray:
    if hazard in layers.designations.columns:
        return layers.designations[hazard].to_numpy(dtype=bool)
    return np.zeros(len(layers.shelters), dtype=bool)


# --- incidents -------------------------------------------------------------------------------


def _ns(values) -> np.ndarray:
    """Aware datetimes (a Series, Index or list) → int64 nanoseconds since the epoch (UTC)."""
    index = pd.DatetimeIndex(values)
    if len(index) and index.tz is None:
        raise ValueError("naive datetimes refused: incidents need timezone-aware times")
    return index.as_unit("ns").asi8 if len(index) else np.zeros(0, dtype=np.int64)


def _ts(value) -> int:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise ValueError("naive datetime refused: give times with an offset such as +09:00")
    return int(stamp.as_unit("ns").value)


@dataclass
class IncidentArrays:
    """Incidents as plain arrays (one element per incident)."""

    n: int
    category: np.ndarray  # int codes into ``categories``
    categories: list[str]
    status: np.ndarray  # int codes into ``statuses``
    statuses: list[str]
    life_threat: np.ndarray
    vulnerable: np.ndarray
    people: np.ndarray  # float, NaN unknown
    occurred: np.ndarray  # int64 ns
    created: np.ndarray  # int64 ns
    lon: np.ndarray
    lat: np.ndarray
    district_key: np.ndarray | None  # object, None where unknown
    ids: np.ndarray

    @functools.cached_property
    def active(self) -> np.ndarray:
        """Unverified or confirmed (not resolved)."""
        lookup = np.array([s in ACTIVE_STATUSES for s in self.statuses] + [False])
        return lookup[np.where(self.status >= 0, self.status, len(self.statuses))]


def _codes(series: pd.Series, preferred: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        names = [str(c) for c in series.cat.categories]
        codes = series.cat.codes.to_numpy(dtype=np.int64)
    else:
        codes, uniques = pd.factorize(series.fillna("other"), sort=False)
        names = [str(u) for u in uniques]
    # Stable, readable order: the known vocabulary first, then the rest alphabetically.
    order = sorted(
        range(len(names)),
        key=lambda i: (
            preferred.index(names[i]) if names[i] in preferred else len(preferred),
            names[i],
        ),
    )
    remap = np.empty(len(names), dtype=np.int64)
    remap[order] = np.arange(len(names))
    return (remap[codes] if len(codes) else codes.astype(np.int64)), [names[i] for i in order]


def incident_arrays(frame: pd.DataFrame) -> IncidentArrays:
    """Normalise an incident frame (columns as in the ``incidents`` table: category, life_threat,
    people, vulnerable, status, occurred_at, created_at (optional), lon, lat, district_key)."""
    from disaster_ai import categories as registry
    from disaster_ai.apps.situation.models import INCIDENT_STATUSES

    n = len(frame)
    category, categories = _codes(
        frame["category"] if "category" in frame else pd.Series(["other"] * n), registry.codes()
    )
    status, statuses = _codes(
        frame["status"] if "status" in frame else pd.Series(["unverified"] * n), INCIDENT_STATUSES
    )

    def flag(name):
        if name not in frame:
            return np.zeros(n, dtype=bool)
        return frame[name].fillna(False).to_numpy(dtype=bool)

    def number(name):
        if name not in frame:
            return np.full(n, np.nan)
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)

    occurred = _ns(frame["occurred_at"]) if n else np.zeros(0, dtype=np.int64)
    created = _ns(frame["created_at"]) if n and "created_at" in frame else occurred
    district_key = None
    if "district_key" in frame and frame["district_key"].notna().any():
        district_key = (
            frame["district_key"]
            .astype(object)
            .where(frame["district_key"].notna(), None)
            .to_numpy()
        )
    ids = frame["id"].to_numpy() if "id" in frame else np.arange(n)
    return IncidentArrays(
        n,
        category,
        categories,
        status,
        statuses,
        flag("life_threat"),
        flag("vulnerable"),
        number("people"),
        occurred,
        created,
        number("lon"),
        number("lat"),
        district_key,
        ids,
    )


def locate_incidents(
    layers: Layers, inc: IncidentArrays, hazard: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """(district position, hazard rank position) per incident; -1 where none. A point decides the
    district; an incident with only a ``district_key`` (the place was known, not the point) uses it."""
    district = layers.district_index.lookup(inc.lon, inc.lat)
    if inc.district_key is not None:
        by_key = pd.Index(layers.districts["key"]).get_indexer(pd.Index(inc.district_key))
        district = np.where(district >= 0, district, by_key)
    rank = np.full(inc.n, -1, dtype=np.int64)
    if hazard and hazard in layers.zone_index:
        rank = layers.zone_index[hazard].lookup(inc.lon, inc.lat)
    return district, rank


def _bincount(codes: np.ndarray, mask: np.ndarray | None, size: int, weights=None) -> np.ndarray:
    if mask is not None:
        codes = codes[mask]
        weights = None if weights is None else weights[mask]
    return np.bincount(codes, weights=weights, minlength=size)[:size]


def incident_counts(
    inc: IncidentArrays,
    district: np.ndarray,
    n_districts: int,
    *,
    now,
    since=None,
    windows_minutes=(60, 180, 1440),
) -> dict:
    """Counts per district (position n_districts = outside every district or unknown) and totals.

    Every count is over *active* incidents (unverified or confirmed) except ``total``,
    ``resolved`` and ``new_since`` (recorded after ``since``, whatever their status)."""
    size = n_districts + 1
    slot = np.where(district >= 0, district, n_districts)
    active = inc.active
    ncat = len(inc.categories)
    resolved_codes = [i for i, s in enumerate(inc.statuses) if s == "resolved"]
    per = {
        "total": _bincount(slot, None, size),
        "active": _bincount(slot, active, size),
        "resolved": _bincount(slot, np.isin(inc.status, resolved_codes), size),
        "life_threat": _bincount(slot, active & inc.life_threat, size),
        "vulnerable": _bincount(slot, active & inc.vulnerable, size),
        "people": _bincount(
            slot, active & ~np.isnan(inc.people), size, weights=np.nan_to_num(inc.people)
        )
        .round()
        .astype(np.int64),
    }
    by_category = (
        _bincount(slot * ncat + inc.category, active, size * ncat).reshape(size, max(ncat, 1))
        if ncat
        else np.zeros((size, 0), dtype=np.int64)
    )
    now_ns = _ts(now)
    windows = {}
    for minutes in windows_minutes:  # a few configured windows
        recent = active & (inc.occurred >= now_ns - int(minutes) * 60_000_000_000)
        windows[str(int(minutes))] = _bincount(slot, recent, size)
    new = None
    new_by_category = None
    if since is not None:
        fresh = inc.created > _ts(since)
        new = _bincount(slot, fresh, size)
        new_by_category = (
            _bincount(inc.category, fresh, ncat) if ncat else np.zeros(0, dtype=np.int64)
        )
    status_totals = (
        np.bincount(inc.status, minlength=len(inc.statuses))
        if inc.n
        else np.zeros(len(inc.statuses))
    )
    return {
        "per": per,
        "by_category": by_category,
        "windows": windows,
        "new": new,
        "new_by_category": new_by_category,
        "categories": inc.categories,
        "status_totals": {s: int(c) for s, c in zip(inc.statuses, status_totals, strict=True)},
        "without_location": int(((np.isnan(inc.lon) | np.isnan(inc.lat)) & (district < 0)).sum()),
        "size": size,
    }


# --- population exposed ------------------------------------------------------------------------


EXPOSURE_METHOD = (
    "areal weighting: district population × (area of the district inside the hazard zone ÷ "
    "district area); population assumed evenly spread within each district; areas in {crs}"
)


def exposed_population(layers: Layers, hazard: str | None = None, threads: int = 1) -> pd.DataFrame:
    """People exposed per district, hazard and rank (areal-weighted; see EXPOSURE_METHOD).

    Columns: district (position), hazard, rank, rank_order, area_m2, share, people (float; NaN when
    the district's population is unknown). Zones of one hazard are assumed not to overlap (depth
    classes do not); totals per district are capped at the district's population all the same.
    ``threads`` > 1 splits the overlays between threads (GEOS releases the GIL)."""
    zones = layers.zones
    mask = (
        np.ones(len(zones), dtype=bool)
        if hazard is None
        else (zones["hazard"] == hazard).to_numpy()
    )
    parts = layers.zones_m[mask]
    columns = ["district", "hazard", "rank", "rank_order", "area_m2", "share", "people"]
    if len(parts) == 0 or len(layers.districts_m) == 0:
        return pd.DataFrame({c: [] for c in columns})
    meta = zones.loc[mask, ["hazard", "rank", "rank_order"]].reset_index(drop=True)
    tree = shapely.STRtree(parts)
    di, pi = tree.query(layers.districts_m, predicate="intersects")
    # Most parts lie wholly inside one district: their own area is the answer, no overlay needed.
    inside = np.zeros(len(di), dtype=bool)
    ci, cp = tree.query(layers.districts_m, predicate="contains")
    if len(ci):
        inside = pd.MultiIndex.from_arrays([di, pi]).isin(pd.MultiIndex.from_arrays([ci, cp]))
    area = np.empty(len(di))
    area[inside] = shapely.area(parts[pi[inside]])
    cut = np.flatnonzero(~inside)

    def overlay(rows):
        return shapely.area(shapely.intersection(layers.districts_m[di[rows]], parts[pi[rows]]))

    if threads > 1 and len(cut) > 64:
        from concurrent.futures import ThreadPoolExecutor

        chunks = [cut[i::threads] for i in range(threads)]
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="overlay") as pool:
            for rows, result in zip(chunks, pool.map(overlay, chunks), strict=True):
                area[rows] = result
    else:
        area[cut] = overlay(cut)
    pairs = pd.DataFrame(
        {
            "district": di,
            "hazard": meta["hazard"].to_numpy()[pi],
            "rank": meta["rank"].to_numpy()[pi],
            "rank_order": meta["rank_order"].to_numpy()[pi],
            "area_m2": area,
        }
    )
    out = pairs.groupby(["district", "hazard", "rank_order", "rank"], as_index=False, sort=True)[
        "area_m2"
    ].sum()
    out = out[out["area_m2"] > 0]
    district_area = layers.district_area_m2[out["district"].to_numpy()]
    out["share"] = np.clip(out["area_m2"].to_numpy() / district_area, 0.0, 1.0)
    out["people"] = (
        out["share"] * layers.districts["population"].to_numpy()[out["district"].to_numpy()]
    )
    return out[columns].reset_index(drop=True)


# --- shelters --------------------------------------------------------------------------------


SHELTER_STATES = ("unsafe", "usable", "open_not_designated", "open", "closed")


def shelter_assessment(layers: Layers, status: pd.DataFrame, hazard: str | None) -> pd.DataFrame:
    """One row per shelter: live status joined by key, designation for the hazard, whether it lies
    in that hazard's zone (boundary counts as inside) and the deepest rank there, and the state:

    * ``unsafe``: open but inside the zone (whatever its designation);
    * ``usable``: designated for the hazard, open, outside the zone;
    * ``open_not_designated``: open, outside the zone, not designated for this hazard;
    * ``open``: open, when no hazard is active;
    * ``closed``: not open (no status row means closed).

    ``zone_checked`` is False for every row when no zone layer exists for the hazard: then
    ``in_zone`` False means "not known", never "outside" (texts must not claim 区域外).
    """
    s = layers.shelters
    n = len(s)
    st = (
        status.set_index("shelter_key")
        if len(status)
        else pd.DataFrame(columns=["is_open", "occupancy", "updated_at"]).rename_axis("shelter_key")
    )
    joined = st.reindex(pd.Index(s["key"]))
    is_open = joined["is_open"].fillna(False).to_numpy(dtype=bool)
    occupancy = (
        pd.to_numeric(joined["occupancy"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    )
    designated = designated_mask(layers, hazard) if hazard else np.zeros(n, dtype=bool)
    in_zone = np.zeros(n, dtype=bool)
    zone_rank = np.full(n, None, dtype=object)
    if hazard and hazard in layers.zone_index and n:
        mask = (layers.zones["hazard"] == hazard).to_numpy()
        parts = layers.zones_m[mask]
        order = layers.zones["rank_order"].to_numpy()[mask]
        ranks = layers.zones["rank"].to_numpy()[mask]
        si, pi = shapely.STRtree(parts).query(layers.shelters_m, predicate="intersects")
        in_zone[si] = True
        if len(si):
            deepest = (
                pd.DataFrame({"s": si, "o": order[pi], "r": ranks[pi]})
                .sort_values(["s", "o"])
                .drop_duplicates("s", keep="last")
            )
            zone_rank[deepest["s"].to_numpy()] = deepest["r"].to_numpy()
    if hazard:
        state = np.where(
            ~is_open,
            "closed",
            np.where(in_zone, "unsafe", np.where(designated, "usable", "open_not_designated")),
        )
    else:
        state = np.where(is_open, "open", "closed")
    capacity = s["capacity"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(capacity > 0, occupancy / capacity, np.nan)
    coords = shapely.get_coordinates(s.geometry.values) if n else np.zeros((0, 2))
    return pd.DataFrame(
        {
            "position": np.arange(n),
            "key": s["key"].to_numpy(),
            "name": s["name"].to_numpy(),
            "name_kana": s["name_kana"].to_numpy(),
            "kind": s["kind"].to_numpy(),
            "address": s["address"].to_numpy(),
            "designated": designated,
            "is_open": is_open,
            "in_zone": in_zone,
            "zone_checked": np.full(n, bool(hazard and hazard in layers.zone_index)),
            "zone_rank": zone_rank,
            "state": state,
            "occupancy": occupancy,
            "capacity": capacity,
            "capacity_derived": s["capacity_derived"].to_numpy(dtype=bool),
            "occupancy_ratio": ratio,
            "updated_at": joined["updated_at"].to_numpy()
            if "updated_at" in joined
            else np.full(n, None),
            "lon": coords[:, 0],
            "lat": coords[:, 1],
        }
    )


def nearest_shelters(layers: Layers, candidates: np.ndarray) -> pd.DataFrame:
    """For every district, the nearest shelter among ``candidates`` (a boolean mask over shelters),
    by straight-line distance in metres from the district's representative point (a point inside
    it), in the metric CRS. Ties go to the shelter listed first. Columns: district, shelter
    (position, -1 when there is no candidate), distance_m."""
    nd = len(layers.districts)
    result = pd.DataFrame(
        {"district": np.arange(nd), "shelter": np.full(nd, -1), "distance_m": np.full(nd, np.nan)}
    )
    positions = np.flatnonzero(candidates)
    if len(positions) == 0 or nd == 0:
        return result
    tree = shapely.STRtree(layers.shelters_m[positions])
    (di, si), dist = tree.query_nearest(
        layers.district_points_m, return_distance=True, all_matches=True
    )
    pick = (
        pd.DataFrame({"d": di, "s": positions[si], "dist": dist})
        .sort_values(["d", "dist", "s"])
        .drop_duplicates("d")
    )
    result.loc[pick["d"].to_numpy(), "shelter"] = pick["s"].to_numpy()
    result.loc[pick["d"].to_numpy(), "distance_m"] = pick["dist"].to_numpy()
    return result


# --- hotspots --------------------------------------------------------------------------------


HOTSPOT_METHOD = (
    "grid approximation of DBSCAN in space and time: square cells of side R metres "
    "(local tangent plane) and time windows of W minutes counted back from now; a cell is "
    "a core cell when it and its 8 neighbours in the same window hold at least N active "
    "incidents; core cells touching in space or in adjacent windows form one hotspot, and "
    "occupied cells next to a core cell in the same window join it. Every incident that "
    "DBSCAN (eps=R, min_samples=N) would call a core point lies in a core cell."
)


def connected_components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Component label (the smallest node of its component) of each of n nodes joined by the
    edges (u, v): hooking roots onto smaller roots, then pointer jumping, until stable."""
    parent = np.arange(n)
    while len(u):
        pu, pv = parent[u], parent[v]
        differ = pu != pv
        if not differ.any():
            break
        np.minimum.at(parent, np.maximum(pu, pv)[differ], np.minimum(pu, pv)[differ])
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    return parent


def hotspots(
    lon: np.ndarray,
    lat: np.ndarray,
    occurred_ns: np.ndarray,
    *,
    now,
    origin: tuple[float, float],
    radius_m: float,
    window_minutes: float,
    min_incidents: int,
    dense_cells: int = 16_000_000,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Cluster incidents (give only the active ones with a point) in space and time.

    Returns (cluster per incident, -1 for none; a frame per cluster with cluster, count, lon, lat,
    radius_m, first_ns, last_ns, window), clusters numbered from 0 by (most recent window, size)."""
    n = len(lon)
    label = np.full(n, -1, dtype=np.int64)
    empty = pd.DataFrame(
        {
            c: []
            for c in ("cluster", "count", "lon", "lat", "radius_m", "first_ns", "last_ns", "window")
        }
    )
    if n == 0 or min_incidents < 1:
        return label, empty
    x, y = local_xy(lon, lat, *origin)
    i = np.floor(x / radius_m).astype(np.int64)
    j = np.floor(y / radius_m).astype(np.int64)
    k = np.maximum((_ts(now) - occurred_ns) // int(window_minutes * 60_000_000_000), 0).astype(
        np.int64
    )
    i -= i.min() - 1
    j -= j.min() - 1
    ni, nj, nk = int(i.max()) + 2, int(j.max()) + 2, int(k.max()) + 2
    key = (k * nj + j) * ni + i
    size = ni * nj * nk
    if size <= dense_cells:  # a city over a few days: a dense table beats sorting
        per_key = np.bincount(key, minlength=size)
        cells = np.flatnonzero(per_key)
        counts = per_key[cells]
        position = np.full(size, -1, dtype=np.int64)
        position[cells] = np.arange(len(cells))
        inverse = position[key]

        def find(offset_key):
            inside = (offset_key >= 0) & (offset_key < size)
            return np.where(inside, position[np.clip(offset_key, 0, size - 1)], -1)
    else:
        cells, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)

        def find(offset_key):
            pos = np.minimum(np.searchsorted(cells, offset_key), len(cells) - 1)
            return np.where(cells[pos] == offset_key, pos, -1)

    spatial = [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1)]
    neighbour = np.stack([find(cells + dj * ni + di) for di, dj in spatial])  # 9 × cells
    around = np.where(neighbour >= 0, counts[np.maximum(neighbour, 0)], 0).sum(axis=0)
    core = around >= min_incidents
    if not core.any():
        return label, empty
    # Edges between core cells: 8 spatial neighbours in the same window, 9 in the next window.
    us, vs = [], []
    core_cells = np.flatnonzero(core)
    for dk in (0, 1):
        for di, dj in spatial:
            if dk == 0 and (dj, di) <= (0, 0):
                continue  # each same-window pair once
            other = find(cells[core_cells] + (dk * nj + dj) * ni + di)
            ok = other >= 0
            ok[ok] = core[other[ok]]
            us.append(core_cells[ok])
            vs.append(other[ok])
    root = connected_components(len(cells), np.concatenate(us), np.concatenate(vs))
    cell_cluster = np.where(core, root, -1)
    # Border cells: occupied, not core, next to a core cell in the same window.
    border = ~core
    best = np.full(len(cells), np.iinfo(np.int64).max)
    for row in neighbour:
        ok = border & (row >= 0)
        ok[ok] = core[row[ok]]
        best[ok] = np.minimum(best[ok], root[row[ok]])
    joined = best != np.iinfo(np.int64).max
    cell_cluster[joined] = best[joined]
    raw = cell_cluster[inverse]
    member = np.flatnonzero(raw >= 0)
    order = member[np.argsort(raw[member], kind="stable")]
    raw_sorted = raw[order]
    starts = np.flatnonzero(np.r_[True, raw_sorted[1:] != raw_sorted[:-1]])
    count = np.diff(np.r_[starts, len(order)])
    xs, ys = x[order], y[order]
    mean_x = np.add.reduceat(xs, starts) / count
    mean_y = np.add.reduceat(ys, starts) / count
    group = np.repeat(np.arange(len(starts)), count)
    spread = np.maximum.reduceat(np.hypot(xs - mean_x[group], ys - mean_y[group]), starts)
    t = occurred_ns[order]
    summary = pd.DataFrame(
        {
            "raw": raw_sorted[starts],
            "count": count,
            "lon": np.add.reduceat(lon[order], starts) / count,
            "lat": np.add.reduceat(lat[order], starts) / count,
            "radius_m": spread,
            "first_ns": np.minimum.reduceat(t, starts),
            "last_ns": np.maximum.reduceat(t, starts),
            "window": np.minimum.reduceat(k[order], starts),
        }
    )
    summary = summary.sort_values(
        ["window", "count", "last_ns", "lon"], ascending=[True, False, False, True], kind="stable"
    )
    renumber = np.empty(len(summary), dtype=np.int64)
    renumber[summary.index.to_numpy()] = np.arange(len(summary))
    label[order] = renumber[group]
    summary["cluster"] = np.arange(len(summary))
    out = summary.reset_index(drop=True)[
        ["cluster", "count", "lon", "lat", "radius_m", "first_ns", "last_ns", "window"]
    ]
    return label, out
