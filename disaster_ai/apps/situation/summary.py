"""The situation document (JSON), its Japanese text and the static PNG map.

``build_situation(session, hazard, since, now)`` reads the active layers, the shelter status and
the incidents (merged ones left out), runs analysis.py and returns one JSON-ready dict whose schema
is in docs/situation.md. ``render_text_ja(doc)`` and ``render_png(...)`` are built only from that
document (the map also from the frames behind it), so the same inputs give the same bytes.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from disaster_ai.apps.situation import analysis
from disaster_ai.apps.situation.models import HAZARDS
from disaster_ai.storage.base import JST

log = logging.getLogger(__name__)

SCHEMA = "disaster-ai/situation/1"
MAX_HOTSPOTS_LISTED = 50

HAZARD_JA = {
    "flood": "洪水",
    "inland_flood": "内水氾濫",
    "landslide": "土砂災害",
    "storm_surge": "高潮",
    "tsunami": "津波",
    "earthquake": "地震",
    "large_fire": "大規模な火事",
    "volcano": "火山現象",
}
CATEGORY_JA = {
    "river": "河川",
    "inundation": "浸水",
    "road_flooding": "道路冠水",
    "landslide": "土砂災害",
    "storm_surge": "高潮",
    "fire": "火災",
    "building_damage": "建物被害",
    "wind_damage": "風害",
    "infrastructure": "インフラ被害",
    "power_outage": "停電",
    "water_outage": "断水",
    "rescue": "救助要請",
    "welfare_check": "安否確認",
    "shelter_inquiry": "避難所の問い合わせ",
    "other": "その他",
}
STATE_ORDER = {state: i for i, state in enumerate(analysis.SHELTER_STATES)}


@dataclass(frozen=True)
class Settings:
    radius_m: float = 250.0
    window_minutes: float = 60.0
    min_incidents: int = 5
    windows_minutes: tuple[int, ...] = (60, 180, 1440)
    crs: str | None = None
    default_hazard: str | None = None
    cell_m: float = 10.0

    @classmethod
    def from_config(cls, config) -> Settings:
        from disaster_ai.config import DefaultConfig

        def get(name):
            return (
                config.get(name, getattr(DefaultConfig, name))
                if config is not None
                else getattr(DefaultConfig, name)
            )

        return cls(
            radius_m=float(get("HOTSPOT_RADIUS_M")),
            window_minutes=float(get("HOTSPOT_WINDOW_MINUTES")),
            min_incidents=int(get("HOTSPOT_MIN_INCIDENTS")),
            windows_minutes=tuple(int(m) for m in get("SITUATION_TIME_WINDOWS_MINUTES")),
            crs=get("SITUATION_CRS") or None,
            default_hazard=get("SITUATION_HAZARD") or None,
        )


@dataclass
class Situation:
    """The document plus the frames it was computed from (for the map)."""

    doc: dict
    layers: analysis.Layers
    incidents: analysis.IncidentArrays
    district: np.ndarray
    shelters: pd.DataFrame
    boundary: Any = None  # the municipality outline (shapely), when known


# --- from the database -------------------------------------------------------------------------


def _config():
    from flask import current_app, has_app_context

    return current_app.config if has_app_context() else None


def _cache():
    from flask import current_app, has_app_context

    return (
        current_app.extensions.setdefault("disaster_ai.situation.layers", {})
        if has_app_context()
        else None
    )


def build_situation(
    session,
    hazard: str | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    *,
    config=None,
    cache: dict | None = None,
) -> dict:
    """The situation document for the active layers, live shelter status and incidents."""
    return compute_situation(session, hazard, since, now, config=config, cache=cache).doc


def compute_situation(
    session, hazard=None, since=None, now=None, *, config=None, cache=None
) -> Situation:
    from sqlalchemy import select

    from disaster_ai.apps.situation import layers as layer_store
    from disaster_ai.apps.situation.models import ShelterStatus
    from disaster_ai.storage.base import now as current_time
    from disaster_ai.storage.models import Municipality

    config = config if config is not None else _config()
    cache = cache if cache is not None else _cache()
    settings = Settings.from_config(config)
    hazard = hazard or settings.default_hazard
    check_hazard(hazard)
    now = now or current_time()
    check_aware(now, "now")
    if since is not None:
        check_aware(since, "since")

    versions = {
        name: layer_store.active_version(session, name)
        for name in ("districts", "shelters", "hazard_zones")
    }
    key = (
        tuple((name, v.id if v else None) for name, v in versions.items()),
        settings.crs,
        settings.cell_m,
    )
    prepared = cache.get(key) if cache is not None else None
    if prepared is None:
        frames = {name: layer_store.load_layer(session, name) for name in versions}
        prepared = analysis.prepare_layers(
            frames["districts"],
            frames["shelters"],
            frames["hazard_zones"],
            crs=settings.crs,
            cell_m=settings.cell_m,
        )
        if cache is not None:
            cache.clear()  # keep only the current versions
            cache[key] = prepared

    rows = session.execute(
        select(
            ShelterStatus.shelter_key,
            ShelterStatus.is_open,
            ShelterStatus.occupancy,
            ShelterStatus.updated_at,
        )
    ).all()
    status = pd.DataFrame.from_records(
        rows, columns=["shelter_key", "is_open", "occupancy", "updated_at"]
    )
    incidents = read_incidents(session)
    municipality = session.scalar(select(Municipality).order_by(Municipality.id.desc()).limit(1))
    name = (config.get("MUNICIPALITY_NAME") if config is not None else None) or (
        municipality.name if municipality else None
    )
    sources = [_source(layer, version) for layer, version in versions.items()]
    # the places layer is not analysed, but its names are on the desk: its credit is owed too
    sources.append(_source("places", layer_store.active_version(session, "places")))
    boundary = None
    if municipality is not None and municipality.boundary:
        import shapely

        boundary = shapely.geometry.shape(municipality.boundary)
        if municipality.attribution:
            sources.append(
                {
                    "layer": "municipality",
                    "version": None,
                    "features": 1,
                    "source_name": "",
                    "attribution": municipality.attribution,
                    "imported_at": None,
                }
            )
    result = situation_from_frames(
        prepared,
        incidents,
        status,
        hazard=hazard,
        since=since,
        now=now,
        settings=settings,
        sources=sources,
        municipality=name,
    )
    result.boundary = boundary
    return result


INCIDENT_COLUMNS = (
    "id",
    "category",
    "life_threat",
    "people",
    "vulnerable",
    "source",
    "status",
    "occurred_at",
    "created_at",
    "lon",
    "lat",
    "district_key",
)


def read_incidents(session) -> pd.DataFrame:
    """The incidents (merged ones left out) as a frame, column by column: SQLAlchemy Core rows,
    times read as stored (UTC) and converted in one vectorised step rather than row by row."""
    from sqlalchemy import DateTime, String, select, type_coerce

    from disaster_ai.apps.situation.models import Incident

    table = Incident.__table__
    as_stored = String() if session.get_bind().dialect.name == "sqlite" else DateTime()
    query = (
        select(
            *(
                type_coerce(table.c[name], as_stored).label(name)
                if name in ("occurred_at", "created_at")
                else table.c[name]
                for name in INCIDENT_COLUMNS
            )
        )
        .where(table.c.merged_into.is_(None))
        .order_by(table.c.id)
    )
    rows = session.connection().execute(query).fetchall()
    data = (
        dict(zip(INCIDENT_COLUMNS, zip(*rows, strict=True), strict=True))
        if rows
        else {name: () for name in INCIDENT_COLUMNS}
    )

    def times(values):
        return pd.to_datetime(
            pd.Series(values, dtype=object), utc=True, format="ISO8601"
        ).dt.tz_convert(JST)

    return pd.DataFrame(
        {
            "id": pd.Series(data["id"], dtype="int64"),
            "category": pd.Categorical(data["category"]),
            "life_threat": pd.Series(data["life_threat"], dtype=object).fillna(False).astype(bool),
            "people": pd.Series(data["people"], dtype="float64"),
            "vulnerable": pd.Series(data["vulnerable"], dtype=object).fillna(False).astype(bool),
            "source": pd.Categorical(data["source"]),
            "status": pd.Categorical(data["status"]),
            "occurred_at": times(data["occurred_at"]),
            "created_at": times(data["created_at"]),
            "lon": pd.Series(data["lon"], dtype="float64"),
            "lat": pd.Series(data["lat"], dtype="float64"),
            "district_key": pd.Series(data["district_key"], dtype=object),
        }
    )


def _source(layer: str, version) -> dict:
    if version is None:
        return {
            "layer": layer,
            "version": None,
            "features": 0,
            "source_name": "",
            "attribution": "",
            "imported_at": None,
        }
    return {
        "layer": layer,
        "version": version.version,
        "features": version.feature_count,
        "source_name": version.source_name,
        "attribution": version.attribution or "",
        "imported_at": iso(version.imported_at),
    }


def check_hazard(hazard: str | None) -> None:
    if hazard is not None and hazard not in HAZARDS:
        raise ValueError(f"unknown hazard {hazard!r}; hazards are {', '.join(HAZARDS)}")


def check_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. 2025-09-05T10:00:00+09:00)")


def iso(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    return pd.Timestamp(value).floor("s").to_pydatetime().astimezone(JST).isoformat()


def _iso_ns(ns: int) -> str:
    return iso(pd.Timestamp(int(ns), unit="ns", tz="UTC"))


# --- from frames (the benchmark times this) ----------------------------------------------------


def situation_from_frames(
    layers: analysis.Layers,
    incidents: pd.DataFrame,
    status: pd.DataFrame,
    *,
    hazard: str | None,
    since: datetime | None,
    now: datetime,
    settings: Settings = Settings(),
    sources: list[dict] | None = None,
    municipality: str | None = None,
) -> Situation:
    """Everything after the database reads: incident frame and shelter status in, document out."""
    check_hazard(hazard)
    # The layer analyses (mostly GEOS, which releases the GIL) run beside the incident analyses
    # (mostly numpy): two cores, two threads.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="situation") as pool:
        layer_part = pool.submit(_layer_analyses, layers, status, hazard)
        inc = analysis.incident_arrays(incidents)
        district, rank = analysis.locate_incidents(layers, inc, hazard)
        counts = analysis.incident_counts(
            inc,
            district,
            len(layers.districts),
            now=now,
            since=since,
            windows_minutes=settings.windows_minutes,
        )
        active = inc.active & ~np.isnan(inc.lon) & ~np.isnan(inc.lat)
        cluster, spots = analysis.hotspots(
            inc.lon[active],
            inc.lat[active],
            inc.occurred[active],
            now=now,
            origin=layers.origin,
            radius_m=settings.radius_m,
            window_minutes=settings.window_minutes,
            min_incidents=settings.min_incidents,
        )
        exposure, shelters, nearest_usable, nearest_suitable = layer_part.result()
    doc = {
        "schema": SCHEMA,
        "generated_at": iso(now),
        "since": iso(since) if since is not None else None,
        "municipality": municipality,
        "hazard": _hazard_section(layers, hazard),
        "method": {
            "crs": layers.crs.to_string(),
            "crs_name": layers.crs.name,
            "exposure": analysis.EXPOSURE_METHOD.format(crs=layers.crs.to_string()),
            "distance": f"straight-line distance from each district's representative point (a point inside the "
            f"district) to the shelter, in {layers.crs.to_string()}; not a route distance",
            "point_in_polygon": "exact; a point on a shared boundary counts for one side",
            "hotspots": analysis.HOTSPOT_METHOD,
        },
        "sources": sources or [],
        "attribution": _attribution(sources or []),
        "incidents": _incident_section(inc, counts, rank, layers, hazard, since),
        "districts": _district_section(
            layers, counts, exposure, nearest_usable, nearest_suitable, shelters, since
        ),
        "exposure": _exposure_section(layers, exposure),
        "shelters": _shelter_section(shelters, layers, hazard, municipality),
        "hotspots": _hotspot_section(inc, active, cluster, spots, district, layers, settings),
    }
    return Situation(doc, layers, inc, district, shelters)


def _layer_analyses(layers, status, hazard):
    exposure = analysis.exposed_population(layers, threads=2)
    shelters = analysis.shelter_assessment(layers, status, hazard)
    nearest_usable = nearest_suitable = None
    if hazard:
        designated = shelters["designated"].to_numpy()
        outside = ~shelters["in_zone"].to_numpy()
        nearest_usable = analysis.nearest_shelters(
            layers, (shelters["state"] == "usable").to_numpy()
        )
        nearest_suitable = analysis.nearest_shelters(layers, designated & outside)
    return exposure, shelters, nearest_usable, nearest_suitable


def _hazard_section(layers, hazard):
    if not hazard:
        return None
    ranks = layers.zone_ranks.get(hazard, [])
    return {
        "code": hazard,
        "name_ja": HAZARD_JA.get(hazard, hazard),
        "zones_available": bool(ranks),
        "ranks": [{"rank": r, "rank_order": o} for r, o in ranks],
    }


CREDIT_PREFIXES = ("出典：", "出典:")


def credit_items(text: str) -> list[str]:
    """One layer's attribution as credits without their own 「出典：」 (a combined attribution,
    「A / 出典：B」, gives A and B)."""
    items = []
    for part in (text or "").split(" / "):
        part = part.strip()
        for prefix in CREDIT_PREFIXES:
            if part.startswith(prefix):
                part = part[len(prefix) :].strip()
        if part:
            items.append(part)
    return items


def _attribution(sources):
    """Every loaded layer's credit, once each (a combined 「A / 出典：B」 gives two; the same
    credit with or without 「出典：」 counts once). The line that shows them strips each item's
    own 「出典：」 (credit_items): never 「出典：出典：」."""
    seen, keys = [], set()
    for source in sources:
        parts = [p.strip() for p in (source["attribution"] or "").split(" / ") if p.strip()]
        if not parts and source["source_name"]:
            parts = [f"{source['layer']}: {source['source_name']}"]
        for part in parts:
            key = tuple(credit_items(part))
            if key and key not in keys:
                keys.add(key)
                seen.append(part)
    return seen


def _int(value) -> int:
    return int(value)


def _incident_section(inc, counts, rank, layers, hazard, since):
    per = counts["per"]
    size = counts["size"]
    categories = counts["categories"]
    by_category = counts["by_category"].sum(axis=0) if len(categories) else []
    section = {
        "total": _int(per["total"].sum()),
        "active": _int(per["active"].sum()),
        "resolved": _int(per["resolved"].sum()),
        "by_status": counts["status_totals"],
        "life_threat": _int(per["life_threat"].sum()),
        "vulnerable": _int(per["vulnerable"].sum()),
        "people": _int(per["people"].sum()),
        "new_since": _int(counts["new"].sum()) if counts["new"] is not None else None,
        "new_by_category": (
            {c: _int(n) for c, n in zip(categories, counts["new_by_category"], strict=True) if n}
            if counts["new"] is not None
            else None
        ),
        "by_category": {c: _int(n) for c, n in zip(categories, by_category, strict=True) if n},
        "by_window": {w: _int(v.sum()) for w, v in counts["windows"].items()},
        "outside_districts": _int(per["total"][size - 1]),
        "without_location": counts["without_location"],
        "in_hazard_zone": None,
    }
    if hazard and layers.zone_ranks.get(hazard):
        ranks = layers.zone_ranks[hazard]
        active = inc.active & (rank >= 0)
        per_rank = np.bincount(rank[active], minlength=len(ranks))
        section["in_hazard_zone"] = {
            "hazard": hazard,
            "total": _int(per_rank.sum()),
            "by_rank": {r: _int(n) for (r, _), n in zip(ranks, per_rank, strict=True)},
        }
    return section


def _district_section(layers, counts, exposure, nearest_usable, nearest_suitable, shelters, since):
    d = layers.districts
    per = {name: values.tolist() for name, values in counts["per"].items()}
    categories = counts["categories"]
    population = d["population"].to_numpy()
    exp_by: dict[int, dict] = {}
    if len(exposure):
        ranks = exposure.assign(people=exposure["people"].round()).groupby(
            ["district", "hazard"], sort=True
        )
        totals = exposure.groupby(["district", "hazard"], sort=True).agg(
            people=("people", "sum"), share=("share", "sum")
        )
        rank_lists = ranks.agg(rank=("rank", list), people=("people", list))
        for (pos, hazard), people, share, rank_names, rank_people in zip(
            totals.index,
            totals["people"],
            totals["share"],
            rank_lists["rank"],
            rank_lists["people"],
            strict=True,
        ):  # districts × hazards with exposure: a few dozen rows
            pos = int(pos)
            exp_by.setdefault(pos, {})[hazard] = {
                "people": None
                if math.isnan(population[pos])
                else int(round(min(people, population[pos]))),
                "area_share": round(min(float(share), 1.0), 4),
                "by_rank": {
                    r: (None if math.isnan(p) else int(p))
                    for r, p in zip(rank_names, rank_people, strict=True)
                },
            }
    usable = _nearest_records(nearest_usable, shelters, len(d))
    suitable = _nearest_records(nearest_suitable, shelters, len(d))
    nonzero = [
        {c: int(n) for c, n in zip(categories, row, strict=True) if n}
        for row in counts["by_category"].tolist()
    ]
    windows = {w: v.tolist() for w, v in counts["windows"].items()}
    new = counts["new"].tolist() if counts["new"] is not None else None
    out = []
    for pos, (key, name, kana, pop) in enumerate(
        zip(
            d["key"].tolist(),
            d["name"].tolist(),
            d["name_kana"].tolist(),
            population.tolist(),
            strict=True,
        )
    ):
        out.append(
            {  # one record per district (35 in Yaizu): serialisation only
                "key": key,
                "name": name,
                "name_kana": kana,
                "population": None if math.isnan(pop) else int(pop),
                "incidents": {
                    "total": per["total"][pos],
                    "active": per["active"][pos],
                    "resolved": per["resolved"][pos],
                    "life_threat": per["life_threat"][pos],
                    "vulnerable": per["vulnerable"][pos],
                    "people": per["people"][pos],
                    "new_since": new[pos] if new is not None else None,
                    "by_category": nonzero[pos],
                    "by_window": {w: v[pos] for w, v in windows.items()},
                },
                "exposure": exp_by.get(pos, {}),
                "nearest_usable_shelter": usable[pos],
                "nearest_suitable_shelter": suitable[pos],
            }
        )
    return out


def _nearest_records(frame, shelters, n):
    if frame is None:
        return [None] * n
    keys, names = shelters["key"].tolist(), shelters["name"].tolist()
    return [
        None
        if s < 0
        else {"key": keys[s], "name": names[s], "distance_m": int(round(m)), "straight_line": True}
        for s, m in zip(frame["shelter"].tolist(), frame["distance_m"].tolist(), strict=True)
    ]


def _exposure_section(layers, exposure):
    sources = sorted({s for s in layers.districts["population_source"] if s})
    section = {
        "method": analysis.EXPOSURE_METHOD.format(crs=layers.crs.to_string()),
        "crs": layers.crs.to_string(),
        "population_source": sources,
        "hazards": {},
    }
    if not len(exposure):
        return section
    population = layers.districts["population"].to_numpy()
    per_district = exposure.groupby(["hazard", "district"], sort=True)["people"].sum().reset_index()
    per_district["people"] = np.minimum(
        per_district["people"], population[per_district["district"].to_numpy()]
    )
    per_rank = (
        exposure.groupby(["hazard", "rank_order", "rank"], sort=True)[["people", "area_m2"]]
        .sum()
        .reset_index()
    )
    for hazard, group in per_district.groupby("hazard", sort=True):  # a handful of hazards
        ranks = per_rank[per_rank["hazard"] == hazard]
        known = group["people"].notna()
        section["hazards"][hazard] = {
            "people": int(round(group.loc[known, "people"].sum())),
            "districts_affected": int((group["people"].fillna(1) > 0).sum()),
            "districts_without_population": int((~known).sum()),
            "area_m2": int(round(ranks["area_m2"].sum())),
            "by_rank": [
                {
                    "rank": r,
                    "rank_order": int(o),
                    "people": int(round(p)) if not math.isnan(p) else None,
                    "area_m2": int(round(a)),
                }
                for o, r, p, a in zip(
                    ranks["rank_order"],
                    ranks["rank"],
                    ranks["people"],
                    ranks["area_m2"],
                    strict=True,
                )
            ],
        }
    return section


def _shelter_section(shelters, layers, hazard, municipality):
    order = shelters.assign(_o=shelters["state"].map(STATE_ORDER)).sort_values(
        ["_o", "name", "key"]
    )
    counts = {state: int((shelters["state"] == state).sum()) for state in analysis.SHELTER_STATES}
    designated = int(shelters["designated"].sum()) if hazard else None
    zones_known = bool(hazard and layers.zone_ranks.get(hazard))
    kinds = [k for k in ("emergency_site", "designated_shelter") if (shelters["kind"] == k).any()]
    by_kind = (
        {k: int((shelters["designated"] & (shelters["kind"] == k)).sum()) for k in kinds}
        if hazard
        else None
    )
    # kinds whose data carry no hazard flag at all (GSI 指定避難所): "none designated" there
    # means "not known", not "none"
    flagless = [
        k
        for k in kinds
        if not any(
            bool(h) for h in layers.shelters.loc[layers.shelters["kind"] == k, "hazards"].tolist()
        )
    ]
    statement = None
    if hazard and designated == 0:
        place = municipality or "the municipality"
        words = {"emergency_site": "emergency evacuation site", "designated_shelter": "shelter"}
        flagged = [
            words[k]
            for k in ("designated_shelter", "emergency_site")
            if k in kinds and k not in flagless
        ]
        statement = (
            f"No {' or '.join(flagged) or 'site'} in {place} is designated for "
            f"{hazard.replace('_', ' ')}."
            + (
                " The designated shelters' data carry no hazard designation."
                if "designated_shelter" in flagless
                else ""
            )
        )
    open_ = shelters["is_open"].to_numpy()
    capacity = shelters["capacity"].to_numpy()
    known = open_ & ~np.isnan(capacity)
    ratio = shelters["occupancy_ratio"].to_numpy()
    full = shelters[(open_) & (ratio >= 1)]
    items = [
        {
            "key": r.key,
            "name": r.name,
            "name_kana": r.name_kana,
            "kind": r.kind,
            "state": r.state,
            "designated": bool(r.designated),
            "is_open": bool(r.is_open),
            "in_zone": bool(r.in_zone),
            "zone_rank": r.zone_rank if isinstance(r.zone_rank, str) else None,
            "occupancy": int(r.occupancy),
            "capacity": None if math.isnan(r.capacity) else int(r.capacity),
            "capacity_derived": bool(r.capacity_derived),
            "occupancy_ratio": None
            if math.isnan(r.occupancy_ratio)
            else round(float(r.occupancy_ratio), 3),
            "updated_at": iso(r.updated_at)
            if r.updated_at is not None and not pd.isna(r.updated_at)
            else None,
            "lon": round(float(r.lon), 6),
            "lat": round(float(r.lat), 6),
        }
        for r in order.itertuples(index=False)
    ]  # serialisation of the result rows
    return {
        "hazard": hazard,
        "total": len(shelters),
        "designated": designated,
        "designated_by_kind": by_kind,
        "kinds_without_hazard_data": flagless,
        "zones_known": zones_known,
        "no_designated_shelter": bool(hazard) and designated == 0,
        "statement": statement,
        "counts": counts,
        "designated_closed": int((shelters["designated"] & ~shelters["is_open"]).sum())
        if hazard
        else None,
        "designated_in_zone": int((shelters["designated"] & shelters["in_zone"]).sum())
        if zones_known
        else None,
        "occupancy": {
            "open": int(open_.sum()),
            "people": int(shelters.loc[open_, "occupancy"].sum()),
            "capacity": int(np.nansum(capacity[known])),
            "open_with_capacity": int(known.sum()),
            "full": sorted(full["key"].tolist()),
        },
        "items": items,
    }


def _hotspot_section(inc, active, cluster, spots, district, layers, settings):
    section = {
        "method": analysis.HOTSPOT_METHOD,
        "radius_m": settings.radius_m,
        "window_minutes": settings.window_minutes,
        "min_incidents": settings.min_incidents,
        "count": len(spots),
        "items": [],
    }
    if not len(spots):
        return section
    listed = spots.head(MAX_HOTSPOTS_LISTED)
    n_listed = len(listed)
    member = np.flatnonzero((cluster >= 0) & (cluster < n_listed))
    c = cluster[member]
    rows = np.flatnonzero(active)[member]  # positions in the incident arrays
    nd, ncat = len(layers.districts), max(len(inc.categories), 1)
    slot = district[rows]
    in_district = slot >= 0
    by_district = (
        np.bincount(c[in_district] * nd + slot[in_district], minlength=n_listed * nd).reshape(
            n_listed, nd
        )
        if nd
        else np.zeros((n_listed, 0), dtype=np.int64)
    )
    mode = np.where(by_district.sum(axis=1) > 0, by_district.argmax(axis=1) if nd else -1, -1)
    by_cat = np.bincount(c * ncat + inc.category[rows], minlength=n_listed * ncat).reshape(
        n_listed, ncat
    )
    life = np.bincount(c, weights=inc.life_threat[rows], minlength=n_listed)
    vulnerable = np.bincount(c, weights=inc.vulnerable[rows], minlength=n_listed)
    keys, names = layers.districts["key"].tolist(), layers.districts["name"].tolist()
    items = []
    for row in listed.itertuples(index=False):  # at most MAX_HOTSPOTS_LISTED
        i = int(row.cluster)
        cats = sorted(
            ((int(n), j) for j, n in enumerate(by_cat[i]) if n), key=lambda p: (-p[0], p[1])
        )
        pos = int(mode[i])
        items.append(
            {
                "id": f"H{i + 1}",
                "count": int(row.count),
                "lon": round(float(row.lon), 6),
                "lat": round(float(row.lat), 6),
                "radius_m": int(round(row.radius_m)),
                "first_at": _iso_ns(row.first_ns),
                "last_at": _iso_ns(row.last_ns),
                "window": int(row.window),
                "district": {"key": keys[pos], "name": names[pos]} if pos >= 0 else None,
                "life_threat": int(life[i]),
                "vulnerable": int(vulnerable[i]),
                "by_category": {inc.categories[j]: n for n, j in cats},
            }
        )
    section["items"] = items
    return section


# --- Japanese text -------------------------------------------------------------------------------


def _ja_time(value: str | None, with_date: bool = True) -> str:
    if not value:
        return ""
    t = datetime.fromisoformat(value).astimezone(JST)
    clock = f"{t.hour}時{t.minute:02d}分"
    return f"{t.year}年{t.month}月{t.day}日 {clock}" if with_date else clock


def _cat(code: str) -> str:
    return CATEGORY_JA.get(code, code)


def _hz(code: str | None) -> str:
    return HAZARD_JA.get(code, code or "")


def render_text_ja(doc: dict) -> str:
    """A 災害対策本部-style report in Japanese, from the document's numbers only (deterministic)."""
    lines: list[str] = []
    place = doc.get("municipality") or ""
    hazard = doc.get("hazard") or None
    hname = _hz(hazard["code"]) if hazard else ""
    lines.append(f"{place} 災害対策本部 状況報告".strip())
    lines.append(f"時点：{_ja_time(doc['generated_at'])} 現在")
    lines.append(
        f"対象とする災害：{hname}"
        if hazard
        else "対象とする災害：指定なし（避難所の適否は判定していません）"
    )
    inc = doc["incidents"]

    lines += ["", "1 被害の概要"]
    lines.append(
        f"・受付事案 累計{inc['total']}件（対応中 {inc['active']}件、対応済み {inc['resolved']}件）"
    )
    if doc.get("since"):
        lines.append(
            f"・前回報告（{_ja_time(doc['since'])}）以降の新規受付 {inc['new_since']}件"
            + (
                f"（{_join_counts(inc['new_by_category'], '件')}）"
                if inc["new_by_category"]
                else ""
            )
        )
    lines.append(
        f"・人命に関わるおそれのある事案 {inc['life_threat']}件、要配慮者が関わる事案 {inc['vulnerable']}件、"
        f"関係する人数（判明分）{inc['people']}人（いずれも対応中の事案）"
    )
    if inc["by_category"]:
        lines.append(f"・種別（対応中）：{_join_counts(inc['by_category'], '件')}")
    windows = "、".join(f"直近{_minutes_ja(int(w))} {n}件" for w, n in inc["by_window"].items())
    if windows:
        lines.append(f"・発生時刻別（対応中）：{windows}")
    ranked = sorted(
        (d for d in doc["districts"] if d["incidents"]["active"]),
        key=lambda d: (-d["incidents"]["life_threat"], -d["incidents"]["active"], d["key"]),
    )
    if ranked:
        shown = "、".join(
            f"{d['name']} {d['incidents']['active']}件"
            + (
                f"（うち人命 {d['incidents']['life_threat']}件）"
                if d["incidents"]["life_threat"]
                else ""
            )
            for d in ranked[:10]
        )
        more = f" ほか{len(ranked) - 10}地区" if len(ranked) > 10 else ""
        lines.append(f"・地区別（人命に関わる事案、対応中の件数の多い順）：{shown}{more}")
    if inc["outside_districts"]:
        lines.append(f"・地区を特定できない事案 {inc['outside_districts']}件")
    zone = inc.get("in_hazard_zone")
    if zone:
        detail = _join_counts(
            {r: n for r, n in zone["by_rank"].items() if n}, "件", translate=False
        )
        lines.append(
            f"・{hname}の想定区域内の事案（対応中）{zone['total']}件"
            + (f"（{detail}）" if detail else "")
        )

    sh = doc["shelters"]
    lines += ["", f"2 避難所の状況（{hname}）" if hazard else "2 避難所の状況"]
    counts = sh["counts"]
    if hazard:
        unsafe = [s for s in sh["items"] if s["state"] == "unsafe"]
        if unsafe:
            lines.append(f"【危険】開設中だが{hname}の想定区域内にある避難所 {len(unsafe)}か所")
            lines += [
                f"　・{s['name']}（{s['zone_rank'] or '想定区域内'}、避難者 {s['occupancy']}人）"
                for s in unsafe
            ]
        zones = sh.get("zones_known", bool(hazard.get("zones_available")))
        flagless = set(sh.get("kinds_without_hazard_data") or [])
        by_kind = sh.get("designated_by_kind") or {}
        kind_ja = {"emergency_site": "指定緊急避難場所", "designated_shelter": "指定避難所"}
        unknown_note = (
            "（指定避難所のデータには災害種別の指定がないため、指定避難所は数えていません）"
            if "designated_shelter" in flagless
            else ""
        )
        if sh["no_designated_shelter"]:
            flagged = [
                kind_ja[k]
                for k in ("designated_shelter", "emergency_site")
                if k in by_kind and k not in flagless
            ]
            lines.append(
                f"・{place or '本市'}には、{hname}に対応する"
                f"{'・'.join(flagged) or '指定避難所・指定緊急避難場所'}の指定はありません。"
                + unknown_note
            )
        else:
            detail = "、".join(f"{kind_ja[k]} {n}か所" for k, n in by_kind.items() if n)
            lines.append(
                f"・{hname}に対応する指定避難所等 {sh['designated']}か所"
                + (f"（{detail}）" if detail else "")
                + (f"、うち{hname}の想定区域内 {sh['designated_in_zone']}か所" if zones else "")
                + unknown_note
            )
        if not zones:
            lines.append(
                f"・{hname}の想定区域のデータがないため、避難所等が区域の内か外かは判定していません"
            )
        if zones:
            lines.append(
                f"・開設中で利用可能（{hname}の指定あり・想定区域外）{counts['usable']}か所"
            )
            if counts["open_not_designated"]:
                lines.append(
                    f"・開設中（{hname}の指定なし・想定区域外）{counts['open_not_designated']}か所"
                )
        else:
            lines.append(f"・開設中で{hname}の指定あり（想定区域は不明）{counts['usable']}か所")
            if counts["open_not_designated"]:
                lines.append(f"・開設中（{hname}の指定なし）{counts['open_not_designated']}か所")
        lines.append(f"・未開設（{hname}の指定あり）{sh['designated_closed']}か所")
    else:
        lines.append(f"・開設中 {counts['open']}か所、未開設 {counts['closed']}か所")
    occ = sh["occupancy"]
    lines.append(
        f"・避難者 {occ['people']}人（開設中 {occ['open']}か所）"
        + (
            f"、収容人数が分かる{occ['open_with_capacity']}か所の収容人数 計{occ['capacity']}人"
            if occ["open_with_capacity"]
            else ""
        )
    )
    if occ["full"]:
        names = {s["key"]: s for s in sh["items"]}
        lines.append(
            "・収容人数に達した避難所："
            + "、".join(
                f"{names[k]['name']}（{names[k]['occupancy']}人／{names[k]['capacity']}人）"
                for k in occ["full"]
            )
        )
    if hazard:
        code = hazard["code"]
        reach = [d for d in doc["districts"] if (d["exposure"].get(code) or {}).get("people")]
        reach.sort(key=lambda d: (-d["exposure"][code]["people"], d["key"]))
        listed = []
        for d in reach[:10]:
            near = d["nearest_usable_shelter"]
            listed.append(
                f"{d['name']}→{near['name']} {near['distance_m']}m"
                if near
                else f"{d['name']}→利用可能な避難所なし"
            )
        if listed:
            lines.append(
                "・想定区域に人口のある地区から最寄りの利用可能な避難所（直線距離）："
                + "、".join(listed)
            )

    ex = doc["exposure"]
    lines += ["", "3 人的被害のおそれ（想定区域内の推計人口）"]
    if not ex["hazards"]:
        lines.append("・ハザード区域のデータがないため推計していません")
    for code, h in ex["hazards"].items():
        top = sorted(
            (d for d in doc["districts"] if (d["exposure"].get(code) or {}).get("people")),
            key=lambda d: (-d["exposure"][code]["people"], d["key"]),
        )[:5]
        lines.append(
            f"・{_hz(code)}：約{h['people']}人（{h['districts_affected']}地区）"
            + (
                "。多い地区："
                + "、".join(f"{d['name']} 約{d['exposure'][code]['people']}人" for d in top)
                if top
                else ""
            )
        )
    if ex["hazards"]:
        source = "、".join(ex["population_source"]) or "地区の人口"
        lines.append(f"　推計方法：{source}を面積按分（地区内に人口が一様に分布すると仮定）")

    hs = doc["hotspots"]
    lines += [
        "",
        f"4 事案の集中（半径{_num(hs['radius_m'])}m・{_num(hs['window_minutes'])}分以内に"
        f"{hs['min_incidents']}件以上）",
    ]
    if not hs["items"]:
        lines.append("・該当なし")
    for spot in hs["items"][:10]:
        where = (
            f"{spot['district']['name']}付近"
            if spot["district"]
            else f"北緯{spot['lat']} 東経{spot['lon']}付近"
        )
        cats = _join_counts(dict(list(spot["by_category"].items())[:3]), "件")
        lines.append(
            f"・{spot['id']} {where} {spot['count']}件（{_ja_time(spot['first_at'], False)}〜"
            f"{_ja_time(spot['last_at'], False)}"
            + (f"、人命 {spot['life_threat']}件" if spot["life_threat"] else "")
            + f"、{cats}）"
        )
    if hs["count"] > 10:
        lines.append(f"・ほか{hs['count'] - 10}か所")

    if doc["attribution"]:
        credits = list(dict.fromkeys(c for a in doc["attribution"] for c in credit_items(a)))
        lines += ["", "出典：" + "／".join(credits)]
    return "\n".join(lines) + "\n"


def _num(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else str(value)


def _minutes_ja(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440 * 24}時間"
    if minutes % 60 == 0:
        return f"{minutes // 60}時間"
    return f"{minutes}分"


def _join_counts(counts: dict, unit: str, translate: bool = True) -> str:
    return "、".join(f"{_cat(k) if translate else k} {n}{unit}" for k, n in counts.items())


# --- PNG map -------------------------------------------------------------------------------------


STATE_STYLE = {
    "unsafe": ("#d7191c", "X", 140),
    "usable": ("#1a9641", "o", 60),
    "open_not_designated": ("#2b83ba", "s", 45),
    "open": ("#1a9641", "o", 60),
    "closed": ("#9e9e9e", "o", 22),
}
STATE_LABEL = {
    "unsafe": "避難所：開設・想定区域内（危険）",
    "usable": "避難所：利用可能",
    "open_not_designated": "避難所：開設・指定外",
    "open": "避難所：開設",
    "closed": "避難所：未開設",
}


def _polygon_path(geometries):
    """One compound matplotlib Path for many polygons (holes by orientation, non-zero rule)."""
    import shapely
    from matplotlib.path import Path

    geometries = np.asarray(geometries, dtype=object)
    if len(geometries) == 0:
        return None
    rings = shapely.get_rings(shapely.get_parts(shapely.orient_polygons(geometries)))
    coords, index = shapely.get_coordinates(rings, return_index=True)
    if len(coords) == 0:
        return None
    codes = np.full(len(coords), Path.LINETO, dtype=Path.code_type)
    start = np.r_[True, index[1:] != index[:-1]]
    end = np.r_[index[1:] != index[:-1], True]
    codes[start] = Path.MOVETO
    codes[end] = Path.CLOSEPOLY
    return Path(coords, codes)


def render_png(source: Situation | dict, path_or_file, *, dpi: int = 150) -> None:
    """A static map: district outlines, hazard zones by rank, shelters by state, incidents by
    category, hotspots, legend and every dataset's attribution. Given only a document, it draws
    what the document holds (shelters and hotspots). The Japanese font comes from fonts.py (the
    system's Noto Sans CJK, else the packaged IPAexGothic); with neither, the map still renders
    and says so in a red line at the top."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from disaster_ai import fonts

    situation = source if isinstance(source, Situation) else None
    doc = situation.doc if situation else source
    rc = {
        "font.family": "sans-serif",
        "font.sans-serif": fonts.matplotlib_families(),
        "svg.hashsalt": "disaster-ai",
        "path.simplify": True,
    }
    missing = fonts.japanese_font().missing
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"Glyph .* missing from font", category=UserWarning
        )
        warnings.filterwarnings(
            "ignore", message=r"Matplotlib currently does not support", category=UserWarning
        )
        fig = Figure(figsize=(9, 11), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.04, 0.14, 0.92, 0.80))
        handles = _draw(ax, situation, doc)
        hazard = doc.get("hazard")
        title = f"{doc.get('municipality') or ''} 状況図 {_ja_time(doc['generated_at'])} 現在"
        if hazard:
            title += f"（{_hz(hazard['code'])}）"
        ax.set_title(title.strip(), fontsize=12)
        if handles:
            ax.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.9)
        items = list(
            dict.fromkeys(c for a in doc.get("attribution") or [] for c in credit_items(a))
        )
        credits = "出典：" + "／".join(items or ["（レイヤーの出典情報なし）"])
        credits += "\n地図の距離は直線距離。推計人口は地区人口の面積按分。背景地図なし。"
        fig.text(0.04, 0.02, _wrap(credits, 95), fontsize=6.5, va="bottom", ha="left")
        if missing:
            fig.text(0.04, 0.985, fonts.MISSING_NOTE, fontsize=9, color="#b00000", va="top")
        fig.savefig(path_or_file, format="png", dpi=dpi, metadata={"Software": None})


def _wrap(text: str, width: int) -> str:
    out = []
    for paragraph in text.split("\n"):
        out += [paragraph[i : i + width] for i in range(0, max(len(paragraph), 1), width)]
    return "\n".join(out)


def _draw(ax, situation, doc):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, PathPatch

    handles = []
    ax.set_xticks([])
    ax.set_yticks([])
    hazard = (doc.get("hazard") or {}).get("code")
    lat0 = 35.0
    if situation is not None:
        layers = situation.layers
        lat0 = layers.origin[1]
        if hazard and hazard in layers.zone_ranks:
            ranks = layers.zone_ranks[hazard]
            colours = _blues(len(ranks))
            mask = (layers.zones["hazard"] == hazard).to_numpy()
            rank_of = layers.zones.loc[mask, "rank"].to_numpy()
            geoms = layers.zones.geometry.to_numpy()[mask]
            for (rank, _), colour in zip(ranks, colours, strict=True):  # one patch per rank
                path = _polygon_path(geoms[rank_of == rank])
                if path is not None:
                    ax.add_artist(
                        PathPatch(path, facecolor=colour, edgecolor="none", alpha=0.75, zorder=1)
                    )
                    handles.append(
                        Patch(facecolor=colour, edgecolor="none", label=f"{_hz(hazard)} {rank}")
                    )
        path = _polygon_path(layers.districts.geometry.to_numpy())
        if path is not None:
            ax.add_artist(
                PathPatch(path, facecolor="none", edgecolor="#555555", linewidth=0.5, zorder=2)
            )
            handles.append(Line2D([], [], color="#555555", linewidth=0.8, label="地区界"))
        if situation.boundary is not None:
            outline = _polygon_path(np.array([situation.boundary], dtype=object))
            if outline is not None:
                ax.add_artist(
                    PathPatch(
                        outline, facecolor="none", edgecolor="#222222", linewidth=1.2, zorder=2
                    )
                )
        inc = situation.incidents
        active = inc.active & ~np.isnan(inc.lon)
        present = np.unique(inc.category[active])
        colours = _category_colours(len(inc.categories))
        for code in present:  # one scatter per category present
            sel = active & (inc.category == code)
            ax.scatter(
                inc.lon[sel],
                inc.lat[sel],
                s=6,
                color=colours[code],
                marker=".",
                linewidths=0,
                zorder=3,
                rasterized=True,
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker="o",
                    markersize=4,
                    color=colours[code],
                    label=f"事案：{_cat(inc.categories[code])}",
                )
            )
        bounds = layers.districts.total_bounds if len(layers.districts) else None
    else:
        bounds = None
    items = doc["shelters"]["items"]
    for state in reversed(analysis.SHELTER_STATES):  # draw the loud states last
        chosen = [s for s in items if s["state"] == state]
        if not chosen:
            continue
        colour, marker, size = STATE_STYLE[state]
        ax.scatter(
            [s["lon"] for s in chosen],
            [s["lat"] for s in chosen],
            s=size,
            color=colour,
            marker=marker,
            edgecolors="black",
            linewidths=0.4,
            zorder=5 if state == "unsafe" else 4,
        )
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker=marker,
                markersize=7,
                markerfacecolor=colour,
                markeredgecolor="black",
                label=f"{STATE_LABEL[state]} {len(chosen)}",
            )
        )
    spots = doc["hotspots"]["items"]
    if spots:
        ax.scatter(
            [h["lon"] for h in spots],
            [h["lat"] for h in spots],
            s=[40 + 4 * h["count"] for h in spots],
            facecolors="none",
            edgecolors="#7b3294",
            linewidths=1.2,
            zorder=6,
        )
        for h in spots[:10]:
            ax.annotate(
                h["id"],
                (h["lon"], h["lat"]),
                fontsize=7,
                color="#7b3294",
                zorder=7,
                xytext=(4, 4),
                textcoords="offset points",
            )
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=9,
                markerfacecolor="none",
                markeredgecolor="#7b3294",
                label="事案の集中（ホットスポット）",
            )
        )
    if bounds is None and items:
        lons = [s["lon"] for s in items]
        lats = [s["lat"] for s in items]
        bounds = (min(lons), min(lats), max(lons), max(lats))
    if bounds is not None:
        lat0 = (bounds[1] + bounds[3]) / 2
        pad_x = (bounds[2] - bounds[0]) * 0.03 or 0.01
        pad_y = (bounds[3] - bounds[1]) * 0.03 or 0.01
        ax.set_xlim(bounds[0] - pad_x, bounds[2] + pad_x)
        ax.set_ylim(bounds[1] - pad_y, bounds[3] + pad_y)
    ax.set_aspect(1 / math.cos(math.radians(lat0)))
    return handles


def _blues(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["Blues"]
    return [cmap(0.3 + 0.65 * i / max(n - 1, 1)) for i in range(n)]


def _category_colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(n)]


def png_bytes(source: Situation | dict) -> bytes:
    buffer = io.BytesIO()
    render_png(source, buffer)
    return buffer.getvalue()
