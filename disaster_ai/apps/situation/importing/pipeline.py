"""One layer import end to end: read and check every file, then write one new version (and
the sample kit's layers through the same path)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from disaster_ai.apps.situation.importing.attributes import _check_unique_keys, _Converter
from disaster_ai.apps.situation.importing.common import GeoImportError, _, _setting
from disaster_ai.apps.situation.importing.geometry import _check_geometry_types, _repair, _to_wgs84
from disaster_ai.apps.situation.importing.mappings import Mapping, load_mapping
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
    mapping: Mapping
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
) -> ImportResult:
    """Read one file into the layer contract frame (EPSG:4326). Raises GeoImportError."""
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
        "format": info["format"],
        "source_crs": source_crs,
        "reprojected": reprojected,
        "encoding": info.get("encoding"),
        "features": len(frame),
        "repaired": repaired,
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
