"""`disaster-ai geo import|layers|activate|mappings|derive-districts|shelter-hazards`: geodata
layers from the command line.

Every command takes --json. A failed import exits with status 1 and the importer's message
(file, row, problem); nothing is written then. docs/situation-import.md has examples.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from disaster_ai.apps.situation.models import LAYERS
from disaster_ai.types import SYSTEM_ACTOR


def _echo(data, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str) if as_json else text)


@click.group("geo")
def geo_group():
    """Import and inspect geodata layers (districts, places, shelters, hazard_zones)."""


@geo_group.command("import")
@click.argument("layer", type=click.Choice(LAYERS))
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--mapping",
    "mappings",
    multiple=True,
    metavar="FILE|NAME",
    help="Mapping: a .toml file or a built-in name (see `geo mappings`). Give one for all files, "
    "or one per file in the same order. Default: the national format recognised from the "
    "file's columns (GSI, Geolonia, 位置参照情報, N03, A31, A33, e-Stat …), else the layer's "
    "default mapping.",
)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def geo_import(layer, files, mappings, as_json):
    """Import FILE(s) as a new version of LAYER; the previous version is kept.

    All files are read and checked first; the new version replaces the active one in one
    transaction, or nothing changes. Formats: GeoJSON, GeoPackage, zipped Shapefile, CSV.
    """
    from disaster_ai.apps.situation.importer import (
        GeoImportError,
        Source,
        import_layer,
        pair_mappings,
    )

    try:
        paired = pair_mappings(list(files), list(mappings), layer)
        sources = [
            Source(path, mapping, path.name) for path, mapping in zip(files, paired, strict=True)
        ]
        summary = import_layer(layer, sources, actor=SYSTEM_ACTOR)
    except GeoImportError as exc:
        raise click.ClickException(exc.message) from None
    report = summary["report"]
    lines = [
        f"{layer}: version {summary['version']} active, {summary['feature_count']} features "
        f"from {summary['source_name']}"
    ]
    for item in report["files"]:
        crs = item["source_crs"] + (" → EPSG:4326" if item["reprojected"] else "")
        encoding = f", encoding {item['encoding']}" if item.get("encoding") else ""
        detected = " (recognised)" if item.get("mapping_detected") else ""
        lines.append(
            f"  {item['file']}: {item['features']} features, {item['format']}, {crs}{encoding}, "
            f"mapping {item['mapping']}{detected}"
        )
        if item.get("municipality_rows") is not None:
            lines.append(f"    kept the municipality's {item['municipality_rows']} row(s)")
        for warning in item.get("warnings", []):
            lines.append(f"    warning: {warning}")
        for entry in item.get("simplified", []):
            lines.append(
                f"    simplified {entry['key']}: {entry['vertices']} → {entry['simplified_to']} "
                f"vertices (tolerance {entry['tolerance_m']} m, GEO_IMPORT_MAX_VERTICES)"
            )
    if report["repaired"]["count"]:
        lines.append(
            f"  repaired {report['repaired']['count']} invalid polygon(s): "
            + ", ".join(report["repaired"]["keys"])
        )
    if report.get("capacity_derived"):
        lines.append(
            f"  capacity derived from floor area for {report['capacity_derived']} shelter(s) "
            f"at {report['m2_per_person']} m² per person"
        )
    _echo(summary, as_json, "\n".join(lines))


@geo_group.command("layers")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def geo_layers(as_json):
    """Each layer's active version (features, source, import time) and the kept versions."""
    from disaster_ai.apps.situation.importer import layer_overview

    overview = layer_overview()
    lines = []
    for item in overview:
        if item["active_version"] is None:
            lines.append(f"{item['layer']:<13} (not imported)")
            continue
        lines.append(
            f"{item['layer']:<13} v{item['active_version']} {item['feature_count']:>6} features  "
            f"{item['source_name']}  imported {item['imported_at']} by {item['imported_by']}"
        )
        kept = [f"v{v['version']}" for v in item["versions"] if not v["active"]]
        if kept:
            lines.append(f"{'':<13} kept: {', '.join(kept)}")
    _echo(overview, as_json, "\n".join(lines))


@geo_group.command("activate")
@click.argument("layer", type=click.Choice(LAYERS))
@click.argument("version", type=int)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def geo_activate(layer, version, as_json):
    """Make a kept VERSION of LAYER the active one again (rollback, or forward again)."""
    from disaster_ai.apps.situation.importer import activate

    try:
        data = activate(layer, version, actor=SYSTEM_ACTOR)
    except LookupError:
        raise click.ClickException(
            f"{layer} has no version {version} (see `disaster-ai geo layers`)"
        ) from None
    _echo(
        data,
        as_json,
        f"{layer}: version {version} is active ({data['feature_count']} features, "
        f"{data['source_name']})",
    )


@geo_group.command("mappings")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def geo_mappings(as_json):
    """The built-in mappings, by name (usable with --mapping NAME)."""
    from disaster_ai.apps.situation.importer import describe_builtin_mappings

    rows = describe_builtin_mappings()
    _echo(rows, as_json, "\n".join(f"{r['name']:<36} {r['layer']:<13} {r['title']}" for r in rows))


@geo_group.command("derive-districts")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def geo_derive_districts(as_json):
    """Provisional districts from the town points (places layer): Voronoi cells merged per
    大字・町丁目 and clipped to the municipal outline (`municipality set --boundary`)."""
    from disaster_ai.apps.situation.importer import GeoImportError, derive_districts_from_places

    try:
        data = derive_districts_from_places(actor=SYSTEM_ACTOR)
    except GeoImportError as exc:
        raise click.ClickException(exc.message) from None
    _echo(
        data,
        as_json,
        f"districts: version {data['version']} active, {data['feature_count']} provisional "
        f"districts from {data['source_name']} ({data['report']['with_reading']} with a reading)",
    )


@geo_group.command("shelter-hazards")
@click.argument("shelter")
@click.argument("hazards", nargs=-1)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def geo_shelter_hazards(shelter, hazards, as_json):
    """Set the hazards SHELTER (key or name) opens for, e.g. a GSI 指定避難所, which carries no
    flags: `geo shelter-hazards 一宮市立奥小学校 flood earthquake` (none: clear them). A new
    shelters version, audited; a later import of the layer replaces it."""
    from disaster_ai.apps.situation.importer import GeoImportError, set_shelter_hazards

    try:
        data = set_shelter_hazards(shelter, list(hazards), actor=SYSTEM_ACTOR)
    except GeoImportError as exc:
        raise click.ClickException(exc.message) from None
    _echo(
        data,
        as_json,
        f"{data['name']} ({data['shelter']}): {', '.join(data['hazards']) or '—'} "
        f"(was {', '.join(data['before']) or '—'}); shelters version {data['version']}",
    )
