"""One layer import end to end: read and check every file, then write one new version (and
the sample kit's layers through the same path)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from disaster_ai.apps.situation.importing.attributes import (
    _check_unique_keys,
    _Converter,
    fill_readings,
    filter_municipality,
    profile_entry,
    profile_outline,
)
from disaster_ai.apps.situation.importing.common import GeoImportError, _, _setting
from disaster_ai.apps.situation.importing.geometry import (
    _check_geometry_types,
    _repair,
    _to_wgs84,
    dissolve_by_key,
    limit_vertices,
)
from disaster_ai.apps.situation.importing.mappings import Mapping, detect_mapping, load_mapping
from disaster_ai.apps.situation.importing.readers import _Reader
from disaster_ai.apps.situation.models import LAYERS

# --- reading one file ----------------------------------------------------------------------


@dataclass
class ImportResult:
    frame: gpd.GeoDataFrame
    report: dict


@dataclass(frozen=True)
class Source:
    """One file to import: where it is, its mapping, and the name shown in messages."""

    path: Path
    mapping: Mapping | None  # None: recognised from the columns (read_layer)
    name: str = ""

    @property
    def display_name(self) -> str:
        return self.name or Path(self.path).name


def read_layer(
    path,
    layer: str,
    mapping=None,
    *,
    name: str | None = None,
    max_bytes: int | None = None,
    m2_per_person: float | None = None,
    municipality=None,
    max_vertices: int | None = None,
) -> ImportResult:
    """Read one file into the layer contract frame (EPSG:4326). Raises GeoImportError.

    ``mapping`` None: the file's format is recognised from its columns (the built-in mappings'
    ``detect``), else the layer's default mapping is used. ``municipality`` (a
    ``disaster_ai.municipality.table.Entry``, by default the profile's when an app is there)
    keeps only that municipality's rows of a nationwide or prefecture-wide file."""
    if layer not in LAYERS:
        raise GeoImportError(
            _(
                "unknown layer %(layer)s; layers are %(layers)s",
                layer=layer,
                layers=", ".join(LAYERS),
            ),
            reason="invalid",
        )
    path = Path(path)
    display = name or path.name
    auto = mapping is None
    mapping = load_mapping(mapping, layer=layer)
    if mapping.layer != layer:
        raise GeoImportError(
            _(
                "the mapping is for the %(mapping_layer)s layer, not %(layer)s",
                mapping_layer=mapping.layer,
                layer=layer,
            ),
            file=mapping.name,
            reason="mapping",
        )
    max_bytes = int(_setting("GEO_IMPORT_MAX_BYTES", max_bytes))
    m2_per_person = float(_setting("SHELTER_M2_PER_PERSON", m2_per_person))
    if not m2_per_person > 0:
        raise ValueError("SHELTER_M2_PER_PERSON must be a positive number of square metres")
    reader = _Reader(path, display, layer, mapping, max_bytes)
    raw, crs, info = reader.read()
    if auto:
        detected = detect_mapping([c for c in raw.columns if c != "geometry"], layer, display)
        if detected is not None:
            mapping = detected
            if mapping.crs and info["format"] in ("CSV", "JSON records"):
                crs = mapping.crs
    if municipality is None and (mapping.municipality_code or mapping.municipality_name):
        municipality = profile_entry()
    raw, kept = filter_municipality(raw, mapping, municipality, display)
    geometries = _check_geometry_types(
        raw.geometry.values if isinstance(raw, gpd.GeoDataFrame) else raw["geometry"],
        display,
        layer,
    )
    converter = _Converter(display, layer, mapping, raw, m2_per_person)
    geometries, source_crs, reprojected = _to_wgs84(
        geometries, crs, display, info["format"], mapping
    )
    records = converter.records()
    geometries, simplified = limit_vertices(
        geometries,
        [r["key"] for r in records],
        display,
        int(_setting("GEO_IMPORT_MAX_VERTICES", max_vertices)),
    )
    outside = None
    if mapping.within_outline and (outline := profile_outline()) is not None:
        touching = shapely.intersects(geometries, outline)
        outside = int((~touching).sum())
        if not touching.any():
            raise GeoImportError(
                _("no feature of this file touches the municipal outline of the profile"),
                file=display,
                reason="empty",
            )
        records = [r for r, keep in zip(records, touching, strict=True) if keep]
        geometries = geometries[touching]
    if mapping.dissolve:
        records, geometries = dissolve_by_key(records, geometries, layer)
    if mapping.kana_from_postal:
        entry = municipality if municipality is not None else profile_entry()
        if entry is not None:
            fill_readings(records, entry)
    keys = [r["key"] for r in records]
    _check_unique_keys(keys, [display] * len(keys))
    geometries, repaired = _repair(geometries, keys, layer, display)
    frame = gpd.GeoDataFrame(
        {
            "key": keys,
            "name": [r["name"] for r in records],
            "name_kana": [r["name_kana"] for r in records],
            "props": [r["props"] for r in records],
        },
        geometry=gpd.GeoSeries(geometries, crs=4326),
        crs=4326,
    )
    report = {
        "file": display,
        "mapping": mapping.name,
        "mapping_detected": auto and mapping.detect != (),
        "municipality_rows": kept,
        "outside_outline": outside,
        "format": info["format"],
        "source_crs": source_crs,
        "reprojected": reprojected,
        "encoding": info.get("encoding"),
        "features": len(frame),
        "repaired": repaired,
        "simplified": simplified,
        "warnings": info.get("warnings", []),
        "attribution": mapping.attribution,
        "digest": hashlib.sha256(
            (info["digest"] + mapping.digest + repr(m2_per_person)).encode()
        ).hexdigest(),
    }
    if layer == "shelters":
        report["capacity_derived"] = converter.capacity_derived
        report["m2_per_person"] = m2_per_person
    return ImportResult(frame, report)


# --- several files, one layer ------------------------------------------------------------------


def read_sources(
    layer: str,
    sources: list[Source],
    *,
    max_bytes: int | None = None,
    m2_per_person: float | None = None,
) -> ImportResult:
    """Read every file of one layer import and check the keys across them; raises on the first
    problem, before anything is written."""
    if not sources:
        raise GeoImportError(_("no file to import"), reason="empty")
    results = [
        read_layer(
            s.path,
            layer,
            s.mapping,
            name=s.display_name,
            max_bytes=max_bytes,
            m2_per_person=m2_per_person,
        )
        for s in sources
    ]
    keys, files, rows = [], [], []
    for source, result in zip(sources, results, strict=True):
        keys += result.frame["key"].tolist()
        files += [source.display_name] * len(result.frame)
        rows += list(range(1, len(result.frame) + 1))
    _check_unique_keys(keys, files, rows)
    frame = gpd.GeoDataFrame(
        pd.concat([r.frame for r in results], ignore_index=True), geometry="geometry", crs=4326
    )
    file_reports = [r.report for r in results]
    report = {
        "layer": layer,
        "features": len(frame),
        "files": file_reports,
        "repaired": {
            "count": sum(r["repaired"]["count"] for r in file_reports),
            "keys": [k for r in file_reports for k in r["repaired"]["keys"]],
        },
        "digest": hashlib.sha256("".join(r["digest"] for r in file_reports).encode()).hexdigest(),
    }
    if layer == "shelters":
        report["capacity_derived"] = sum(r["capacity_derived"] for r in file_reports)
        report["m2_per_person"] = file_reports[0]["m2_per_person"]
    return ImportResult(frame, report)


def _unique(items) -> list:
    return list(dict.fromkeys(i for i in items if i))


def import_layer(
    layer: str,
    sources: list[Source],
    *,
    actor=None,
    skip_unchanged: bool = False,
    max_bytes: int | None = None,
    m2_per_person: float | None = None,
) -> dict:
    """Read and check every file, then write one new active version (keeping the older ones) and
    its audit entry in one transaction. Needs an app context. Returns a summary dict."""
    from disaster_ai import audit
    from disaster_ai.apps.situation import layers
    from disaster_ai.storage import get_storage, session_scope
    from disaster_ai.types import SYSTEM_ACTOR

    actor = actor or audit._request_actor() or SYSTEM_ACTOR
    result = read_sources(layer, sources, max_bytes=max_bytes, m2_per_person=m2_per_person)
    report = result.report
    source_name = " + ".join(s.display_name for s in sources)
    source_crs = ", ".join(_unique(r["source_crs"] for r in report["files"]))[:64]
    attribution = " / ".join(_unique(r["attribution"] for r in report["files"]))
    with session_scope(get_storage()) as session:
        if skip_unchanged:
            active = layers.active_version(session, layer)
            if active is not None and (active.report or {}).get("digest") == report["digest"]:
                return {**version_dict(active), "unchanged": True, "report": active.report}
        version = layers.store_layer_version(
            session,
            layer,
            result.frame,
            source_name=source_name,
            source_crs=source_crs,
            report=report,
            attribution=attribution,
            imported_by=actor.username,
        )
        audit.record(
            "geo.import",
            app="situation",
            target=f"layer:{layer}",
            actor=actor,
            session=session,
            detail={
                "version": version.version,
                "features": len(result.frame),
                "files": source_name,
                "mappings": _unique(r["mapping"] for r in report["files"]),
                "repaired": report["repaired"]["count"],
            },
        )
        summary = {**version_dict(version), "unchanged": False, "report": report}
    return summary


def activate(layer: str, version: int, *, actor=None) -> dict:
    """Make a kept version the active one again (rollback), audited. Raises LookupError."""
    from disaster_ai import audit
    from disaster_ai.apps.situation import layers
    from disaster_ai.storage import get_storage, session_scope
    from disaster_ai.types import SYSTEM_ACTOR

    actor = actor or audit._request_actor() or SYSTEM_ACTOR
    with session_scope(get_storage()) as session:
        previous = layers.active_version(session, layer)
        target = layers.activate_version(session, layer, version)
        audit.record(
            "geo.activate",
            app="situation",
            target=f"layer:{layer}",
            actor=actor,
            session=session,
            detail={"version": version, "previous": previous.version if previous else None},
        )
        return version_dict(target)


def version_dict(version) -> dict:
    return {
        "layer": version.layer,
        "version": version.version,
        "active": version.active,
        "feature_count": version.feature_count,
        "source_name": version.source_name,
        "source_crs": version.source_crs,
        "attribution": version.attribution,
        "imported_by": version.imported_by,
        "imported_at": version.imported_at.isoformat() if version.imported_at else None,
    }


def layer_overview() -> list[dict]:
    """Every layer: the active version and all kept versions (newest first). Needs an app context."""
    from disaster_ai.apps.situation import layers
    from disaster_ai.storage import get_storage, session_scope

    overview = []
    with session_scope(get_storage()) as session:
        for layer in LAYERS:
            versions = layers.layer_versions(session, layer)
            active = next((v for v in versions if v.active), None)
            overview.append(
                {
                    "layer": layer,
                    "active_version": active.version if active else None,
                    "feature_count": active.feature_count if active else 0,
                    "source_name": active.source_name if active else None,
                    "source_crs": active.source_crs if active else None,
                    "attribution": active.attribution if active else "",
                    "imported_at": active.imported_at.isoformat()
                    if active and active.imported_at
                    else None,
                    "imported_by": active.imported_by if active else None,
                    "versions": [version_dict(v) for v in versions],
                }
            )
    return overview


# --- the sample kit ----------------------------------------------------------------------------


def sample_sources(directory: Path | str, manifest: dict) -> dict[str, list[Source]]:
    """The kit's "layers" section (layer → [{file, mapping}]) as import sources."""
    base = Path(directory)
    return {
        layer: [
            Source(
                base / entry["file"],
                load_mapping(entry.get("mapping"), base_dir=base, layer=layer),
                entry["file"],
            )
            for entry in entries
        ]
        for layer, entries in (manifest.get("layers") or {}).items()
    }


def read_sample_frames(directory: Path | str) -> dict[str, gpd.GeoDataFrame]:
    """Read a sample kit's layers without a database (benchmarks and analysis tests use the
    same import path as `disaster-ai init --sample`)."""

    manifest = json.loads((Path(directory) / "sample.json").read_text(encoding="utf-8"))
    return {
        layer: read_sources(layer, sources).frame
        for layer, sources in sample_sources(directory, manifest).items()
    }


def load_sample_layers(context) -> str | None:
    """``disaster-ai init --sample NAME``: import the kit's "layers" (layer → [{file, mapping}])
    through the same path as `disaster-ai geo import`. A layer whose files and mappings are
    unchanged since its active version is left as it is, so `make run` does not pile up versions."""
    if not (context.manifest or {}).get("layers"):
        return None
    parts = []
    try:
        for layer, sources in sample_sources(context.directory, context.manifest).items():
            summary = import_layer(layer, sources, skip_unchanged=True)
            parts.append(
                f"{layer} {summary['feature_count']}"
                + (" (unchanged)" if summary["unchanged"] else "")
            )
    except GeoImportError as exc:
        import click

        raise click.ClickException(exc.message) from None
    return "layers: " + ", ".join(parts)


# --- provisional districts and desk edits ------------------------------------------------------


def derive_districts_from_places(*, actor=None) -> dict:
    """Provisional districts for a town without district polygons: the Voronoi cells of the
    active places layer's points, merged per 大字・町丁目 (the places' ``town``, else their
    name) and clipped to the municipal outline of the profile. Marked ``provisional``; readings
    from the places; sorted by reading. A new districts version, audited. Needs an app."""
    from disaster_ai import audit
    from disaster_ai.apps.situation import layers
    from disaster_ai.apps.situation.analysis import metric_crs
    from disaster_ai.apps.situation.importing.geometry import voronoi_districts
    from disaster_ai.municipality import current
    from disaster_ai.storage import get_storage, session_scope
    from disaster_ai.types import SYSTEM_ACTOR

    actor = actor or audit._request_actor() or SYSTEM_ACTOR
    with session_scope(get_storage()) as session:
        row = current(session)
        if row is None or row.boundary is None:
            raise GeoImportError(
                _(
                    "the municipal outline is not set: run `disaster-ai municipality set "
                    "--boundary N03_FILE` first (docs/pilot.md)"
                ),
                reason="missing_geometry",
            )
        import shapely

        boundary = shapely.geometry.shape(row.boundary)
        places_version = layers.active_version(session, "places")
        places = layers.load_layer(session, "places")
        if places_version is None or places.empty:
            raise GeoImportError(
                _("no places layer: import the town points first (geo import places FILE)"),
                reason="empty",
            )
        groups = [
            str((p or {}).get("town") or n)
            for p, n in zip(places["props"], places["name"], strict=True)
        ]
        kana_of: dict[str, str] = {}
        for group, name, kana, props in zip(
            groups, places["name"], places["name_kana"], places["props"], strict=True
        ):
            reading = kana if name == group else (props or {}).get("town_kana", "")
            if reading and not kana_of.get(group):
                kana_of[group] = reading
        order = list(dict.fromkeys(groups))
        centre = boundary.representative_point()
        shapes = voronoi_districts(places, groups, boundary, metric_crs(centre.x, centre.y))
        frame = gpd.GeoDataFrame(
            {
                "key": [f"town-{name}"[:64] for name in order],
                "name": order,
                "name_kana": [kana_of.get(name, "") for name in order],
                "props": [
                    {
                        "code": None,
                        "population": None,
                        "population_source": "",
                        "provisional": True,
                        "derived_from": f"places v{places_version.version}",
                    }
                    for _name in order
                ],
            },
            geometry=gpd.GeoSeries(shapes, crs=4326),
            crs=4326,
        )
        frame = frame[~frame.geometry.is_empty & frame.geometry.notna()]
        frame = frame.assign(
            _sort=[k or n for k, n in zip(frame["name_kana"], frame["name"], strict=True)]
        )
        frame = (
            frame.sort_values("_sort", kind="stable").drop(columns="_sort").reset_index(drop=True)
        )
        attribution = " / ".join(
            a for a in dict.fromkeys([places_version.attribution, row.attribution]) if a
        )
        report = {
            "layer": "districts",
            "features": len(frame),
            "derived_from": {"layer": "places", "version": places_version.version},
            "method": "Voronoi cells of the town points, merged per 大字・町丁目, clipped to the "
            "municipal outline (provisional)",
            "with_reading": int((frame["name_kana"] != "").sum()),
            "files": [],
            "repaired": {"count": 0, "keys": []},
        }
        version = layers.store_layer_version(
            session,
            "districts",
            frame,
            source_name=f"provisional districts from places v{places_version.version}",
            source_crs="EPSG:4326",
            report=report,
            attribution=attribution,
            imported_by=actor.username,
        )
        audit.record(
            "geo.derive",
            app="situation",
            target="layer:districts",
            actor=actor,
            session=session,
            detail={"version": version.version, "features": len(frame), "from": "places"},
        )
        return {**version_dict(version), "report": report}


def set_shelter_hazards(shelter: str, hazards: list[str], *, actor=None) -> dict:
    """A desk edit: the hazards one shelter is designated (opened) for, e.g. a GSI 指定避難所,
    which carries no flags. Writes a new shelters version (audited) with that shelter's
    ``hazards`` replaced and ``hazards_source`` = "desk". A later import replaces it again."""
    from disaster_ai import audit
    from disaster_ai.apps.situation import layers
    from disaster_ai.apps.situation.importing.common import _hazard_name
    from disaster_ai.apps.situation.models import HAZARDS
    from disaster_ai.storage import get_storage, session_scope
    from disaster_ai.types import SYSTEM_ACTOR

    actor = actor or audit._request_actor() or SYSTEM_ACTOR
    names = []
    for item in hazards:
        code = _hazard_name(item)
        if code is None:
            raise GeoImportError(
                _(
                    "hazard %(value)s is not one of %(hazards)s",
                    value=item,
                    hazards=", ".join(HAZARDS),
                ),
                reason="invalid_value",
            )
        names.append(code)
    with session_scope(get_storage()) as session:
        active = layers.active_version(session, "shelters")
        frame = layers.load_layer(session, "shelters")
        match = frame.index[(frame["key"] == shelter) | (frame["name"] == shelter)].tolist()
        if len(match) != 1:
            raise GeoImportError(
                _(
                    "%(count)s shelters are keyed or named %(name)s: give the key (geo layers, the "
                    "map)",
                    count=len(match),
                    name=shelter,
                )
                if match
                else _("no shelter is keyed or named %(name)s", name=shelter),
                reason="invalid_value",
            )
        position = match[0]
        props = dict(frame.at[position, "props"])
        before = list(props.get("hazards") or [])
        props["hazards"] = [h for h in HAZARDS if h in set(names)]
        props["hazards_source"] = "desk"
        frame.at[position, "props"] = props
        report = dict(active.report or {})
        report["desk_edits"] = [
            *report.get("desk_edits", []),
            {
                "key": str(frame.at[position, "key"]),
                "hazards": props["hazards"],
                "by": actor.username,
            },
        ]
        version = layers.store_layer_version(
            session,
            "shelters",
            frame,
            source_name=active.source_name,
            source_crs=active.source_crs,
            report=report,
            attribution=active.attribution,
            imported_by=actor.username,
        )
        audit.record(
            "geo.shelter_hazards",
            app="situation",
            target=f"shelter:{frame.at[position, 'key']}",
            actor=actor,
            session=session,
            detail={"version": version.version, "before": before, "after": props["hazards"]},
        )
        return {
            **version_dict(version),
            "shelter": str(frame.at[position, "key"]),
            "name": str(frame.at[position, "name"]),
            "hazards": props["hazards"],
            "before": before,
        }
