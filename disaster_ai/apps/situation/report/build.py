"""Building the situation document: the database reads, then the analyses on the frames and
the document's sections (the schema is in docs/situation.md)."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import numpy as np
import pandas as pd

from disaster_ai.apps.situation import analysis
from disaster_ai.apps.situation.report.common import (
    HAZARD_JA,
    MAX_HOTSPOTS_LISTED,
    SCHEMA,
    STATE_ORDER,
    Settings,
    Situation,
    _iso_ns,
    check_aware,
    check_hazard,
    credit_items,
    iso,
)
from disaster_ai.storage.base import JST

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


def prepared_layers(session, settings: Settings, cache: dict | None):
    """The active districts, shelters and hazard zones prepared for analysis, kept in ``cache``
    (the app's, shared with the notices through the facade's ``desk.layers.prepared``) for as
    long as the active versions and the settings stay the same."""
    from disaster_ai.apps.situation import layers as layer_store

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
    return prepared


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

    prepared = prepared_layers(session, settings, cache)
    versions = {
        name: layer_store.active_version(session, name)
        for name in ("districts", "shelters", "hazard_zones")
    }

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


# --- from frames (the benchmark times this) ----------------------------------------------------


def situation_from_frames(
    layers: analysis.Layers,
    incidents: pd.DataFrame,
    status: pd.DataFrame,
    *,
    hazard: str | None,
    since: datetime | None,
    now: datetime,
    settings: Settings = Settings(),  # noqa: B008  (frozen dataclass)
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
