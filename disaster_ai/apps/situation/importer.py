"""Geodata import: files + TOML mappings → the layer contract frame in EPSG:4326, then one new
layer version.

The frame handed to ``layers.store_layer_version`` always has the columns ``key``, ``name``,
``name_kana``, ``props`` (a dict per row) and ``geometry``, in EPSG:4326.

- Formats: GeoJSON (.geojson/.json), GeoPackage (.gpkg), zipped Shapefile (.zip, or a bare .shp
  with its siblings), CSV with latitude/longitude columns (.csv).
- Japanese quirks: JGD2000/JGD2011 geographic and plane-rectangular CRSs are reprojected;
  Shift_JIS (cp932) attribute tables are detected (.cpg, else a look at the bytes) or forced by
  the mapping; invalid polygons are repaired with ``shapely.make_valid`` and reported.
- Any problem raises ``GeoImportError`` naming the file, the row (1-based feature number) and the
  problem; nothing is written, because all files are read and checked before the one transaction.

docs/situation-import.md is the reference for the mapping files and the messages.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import math
import re
import string
import tempfile
import tomllib
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from flask import current_app, has_app_context
from pyproj import CRS
from pyproj.exceptions import CRSError

from disaster_ai.apps.situation.models import HAZARDS, LAYERS
from disaster_ai.config import DefaultConfig

MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"

POLYGON_LAYERS = frozenset({"districts", "hazard_zones"})
POINT_LAYERS = frozenset({"places", "shelters"})
SHELTER_KINDS = ("designated_shelter", "emergency_site")
KEY_MAX = 64  # GeoFeature.key
NAME_MAX = 255  # GeoFeature.name / name_kana

FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".zip": "Shapefile (zip)",
    ".shp": "Shapefile",
    ".csv": "CSV",
}
LAT_DEFAULTS = ("lat", "latitude", "緯度", "y")
LON_DEFAULTS = ("lon", "lng", "long", "longitude", "経度", "x")

# Japanese hazard names as used in the national standard and GSI schemas → HAZARDS.
HAZARD_ALIASES = {
    "洪水": "flood",
    "内水氾濫": "inland_flood",
    "内水": "inland_flood",
    "崖崩れ、土石流及び地滑り": "landslide",
    "土砂災害": "landslide",
    "土砂": "landslide",
    "高潮": "storm_surge",
    "津波": "tsunami",
    "地震": "earthquake",
    "大規模な火事": "large_fire",
    "大規模火災": "large_fire",
    "火山現象": "volcano",
    "火山": "volcano",
}
TRUE_FLAGS = {
    "1",
    "true",
    "t",
    "yes",
    "y",
    "on",
    "○",
    "◯",
    "〇",
    "◎",
    "●",
    "有",
    "可",
    "該当",
    "対象",
}
FALSE_FLAGS = {
    "",
    "0",
    "false",
    "f",
    "no",
    "n",
    "off",
    "×",
    "✕",
    "-",
    "ー",
    "－",
    "無",
    "不可",
    "非該当",
    "対象外",
}

MAPPING_KEYS = {
    "layer",
    "title",
    "description",
    "attribution",
    "encoding",
    "crs",
    "source_layer",
    "key_prefix",
    "optional",
    "columns",
    "constants",
    "hazards",
    "opens_for",
    "ranks",
    "csv",
}
# Props each layer always has (the contract), with their empty value.
LAYER_PROPS = {
    "districts": {"code": None, "population": None, "population_source": ""},
    "places": {"district_key": None},
    "shelters": {
        "kind": None,
        "address": "",
        "hazards": [],
        "opens_for": [],
        "capacity": None,
        "capacity_derived": False,
        "floor_area_m2": None,
        "tel": "",
    },
    "hazard_zones": {"hazard": None, "rank": "", "rank_order": None},
}
RESERVED = {"key", "name", "name_kana"}
GEOJSON_CRS = re.compile(r'"crs"\s*:\s*\{[^{}]*"properties"\s*:\s*\{[^{}]*"name"\s*:\s*"([^"]+)"')


def _(message: str, **params) -> str:
    """gettext when an app is there (CLI, API, jobs); the English message otherwise (scripts,
    benchmarks). The name ``_`` lets `make translations-extract` find the message ids."""
    if has_app_context():
        from flask_babel import gettext

        return gettext(message, **params)
    return message % params if params else message


class GeoImportError(Exception):
    """Bad input: the message names the file, the row (1-based feature number, when one row is at
    fault) and the problem. ``reason`` is a stable code for programs (see docs/situation-import.md)."""

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        row: int | None = None,
        reason: str = "invalid",
    ):
        self.problem = problem
        self.file = file
        self.row = row
        self.reason = reason
        if file and row:
            message = _("%(file)s, row %(row)s: %(problem)s", file=file, row=row, problem=problem)
        elif file:
            message = _("%(file)s: %(problem)s", file=file, problem=problem)
        else:
            message = problem
        self.message = message
        super().__init__(message)

    def details(self) -> dict:
        return {"file": self.file, "row": self.row, "problem": self.problem, "reason": self.reason}


# --- mappings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file (see docs/situation-import.md for every setting)."""

    name: str
    layer: str
    text: str = ""
    title: str = ""
    attribution: str = ""
    encoding: str | None = None
    crs: str | None = None
    source_layer: str | None = None
    key_prefix: str = ""
    optional: frozenset = frozenset()
    columns: dict = field(default_factory=dict)  # prop → column | [candidates] | "{template}"
    constants: dict = field(default_factory=dict)
    hazards: dict = field(default_factory=dict)  # hazard → flag column
    opens_for: dict = field(default_factory=dict)  # label → flag column
    ranks: dict = field(default_factory=dict)  # rank label → rank_order
    lat: tuple = LAT_DEFAULTS
    lon: tuple = LON_DEFAULTS
    lat_lon_explicit: bool = False

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def builtin_mappings() -> dict[str, Path]:
    """Built-in mapping name → file (the names `--mapping` and the upload form accept)."""
    return {path.stem: path for path in sorted(MAPPINGS_DIR.glob("*.toml"))}


def describe_builtin_mappings() -> list[dict]:
    rows = []
    for name, path in builtin_mappings().items():
        mapping = parse_mapping(path.read_text(encoding="utf-8"), name)
        rows.append({"name": name, "layer": mapping.layer, "title": mapping.title})
    return rows


def builtin_mapping(name: str) -> Mapping:
    """A built-in mapping by name only (never a path): what the upload form may name."""
    builtins = builtin_mappings()
    if name not in builtins:
        raise GeoImportError(
            _(
                "no mapping file or built-in mapping named %(name)s (built-in: %(names)s)",
                name=name,
                names=", ".join(builtins),
            ),
            file=name,
            reason="mapping",
        )
    return parse_mapping(builtins[name].read_text(encoding="utf-8"), name)


def load_mapping(spec, *, base_dir: Path | str | None = None, layer: str | None = None) -> Mapping:
    """A ``Mapping`` from a Mapping, a path to a .toml file, a built-in name, or None (the built-in
    ``default_<layer>`` mapping, which expects the contract's own column names)."""
    if isinstance(spec, Mapping):
        return spec
    if spec is None:
        if layer is None:
            raise ValueError("load_mapping(None) needs the layer")
        spec = f"default_{layer}"
    spec = str(spec)
    candidates = [Path(spec)]
    if base_dir is not None and not Path(spec).is_absolute():
        candidates.insert(0, Path(base_dir) / spec)
    for path in candidates:
        if path.suffix.lower() == ".toml" and path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise GeoImportError(
                    _("cannot read the mapping: %(reason)s", reason=str(exc)),
                    file=path.name,
                    reason="mapping",
                ) from None
            return parse_mapping(text, path.name)
    builtins = builtin_mappings()
    if spec in builtins:
        return parse_mapping(builtins[spec].read_text(encoding="utf-8"), spec)
    raise GeoImportError(
        _(
            "no mapping file or built-in mapping named %(name)s (built-in: %(names)s)",
            name=spec,
            names=", ".join(builtins),
        ),
        file=Path(spec).name,
        reason="mapping",
    )


def parse_mapping(text: str, name: str) -> Mapping:
    def fail(problem: str):
        raise GeoImportError(problem, file=name, reason="mapping")

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        fail(_("the mapping is not valid TOML: %(reason)s", reason=str(exc)))
    unknown = sorted(set(data) - MAPPING_KEYS)
    if unknown:
        fail(
            _(
                "unknown setting %(key)s in the mapping (settings: %(keys)s)",
                key=unknown[0],
                keys=", ".join(sorted(MAPPING_KEYS)),
            )
        )
    layer = data.get("layer")
    if layer not in LAYERS:
        fail(
            _(
                "the mapping must say which layer it is for: layer = one of %(layers)s",
                layers=", ".join(LAYERS),
            )
        )
    for table in ("columns", "constants", "hazards", "opens_for", "ranks", "csv"):
        if not isinstance(data.get(table, {}), dict):
            fail(_("[%(table)s] must be a table", table=table))
    columns = {
        str(k): _column_spec(v, f"columns.{k}", fail) for k, v in data.get("columns", {}).items()
    }
    hazards = {}
    for hazard, spec in data.get("hazards", {}).items():
        if hazard not in HAZARDS:
            fail(
                _(
                    "unknown hazard %(hazard)s in [hazards]; hazards are %(hazards)s",
                    hazard=hazard,
                    hazards=", ".join(HAZARDS),
                )
            )
        hazards[hazard] = _column_spec(spec, f"hazards.{hazard}", fail)
    opens_for = {
        str(k): _column_spec(v, f"opens_for.{k}", fail)
        for k, v in data.get("opens_for", {}).items()
    }
    ranks = {}
    for label, order in data.get("ranks", {}).items():
        if not isinstance(order, int) or isinstance(order, bool):
            fail(
                _(
                    "[ranks] values must be whole numbers (deeper or worse = higher): %(label)s",
                    label=label,
                )
            )
        ranks[str(label)] = order
    constants = dict(data.get("constants", {}))
    optional = data.get("optional", [])
    if not isinstance(optional, list) or not all(isinstance(o, str) for o in optional):
        fail(_("optional must be a list of names"))
    known = set(columns) | set(hazards) | set(opens_for)
    for item in optional:
        if item not in known:
            fail(
                _(
                    "optional names %(name)s, which is not in [columns], [hazards] or [opens_for]",
                    name=item,
                )
            )
    encoding = data.get("encoding")
    if encoding is not None:
        try:
            codecs.lookup(str(encoding))
        except LookupError:
            fail(_("unknown encoding %(encoding)s", encoding=encoding))
    crs = data.get("crs")
    if crs is not None:
        try:
            CRS.from_user_input(crs)
        except CRSError:
            fail(_("unknown coordinate reference system %(crs)s", crs=crs))
    csv_table = data.get("csv", {})
    lat = _column_spec(csv_table["lat"], "csv.lat", fail) if "lat" in csv_table else LAT_DEFAULTS
    lon = _column_spec(csv_table["lon"], "csv.lon", fail) if "lon" in csv_table else LON_DEFAULTS
    mapping = Mapping(
        name=name,
        layer=layer,
        text=text,
        title=str(data.get("title", "")),
        attribution=str(data.get("attribution", "")).strip(),
        encoding=encoding,
        crs=crs,
        source_layer=data.get("source_layer"),
        key_prefix=str(data.get("key_prefix", "")),
        optional=frozenset(optional),
        columns=columns,
        constants=constants,
        hazards=hazards,
        opens_for=opens_for,
        ranks=ranks,
        lat=tuple(_as_list(lat)),
        lon=tuple(_as_list(lon)),
        lat_lon_explicit="lat" in csv_table or "lon" in csv_table,
    )
    _check_layer_needs(mapping, fail)
    return mapping


def _column_spec(value, where: str, fail):
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return value
    fail(
        _(
            "%(where)s must be a column name, a list of candidate column names or a {template}",
            where=where,
        )
    )


def _as_list(spec) -> list[str]:
    return [spec] if isinstance(spec, str) else list(spec)


def _check_layer_needs(mapping: Mapping, fail) -> None:
    given = set(mapping.columns) | set(mapping.constants)
    if mapping.layer == "hazard_zones":
        if "hazard" not in given:
            fail(
                _("a hazard_zones mapping needs the hazard: [constants] hazard or a hazard column")
            )
        if "rank" not in given:
            fail(_("a hazard_zones mapping needs the rank: a rank column or [constants] rank"))
        if "rank_order" not in given and not mapping.ranks:
            fail(
                _("a hazard_zones mapping needs rank_order: a [ranks] table or a rank_order column")
            )
        constant = mapping.constants.get("hazard")
        if constant is not None and _hazard_name(constant) is None:
            fail(
                _(
                    "hazard %(value)s is not one of %(hazards)s",
                    value=constant,
                    hazards=", ".join(HAZARDS),
                )
            )
    if mapping.layer == "shelters":
        if "kind" not in given:
            fail(
                _(
                    "a shelters mapping needs the kind: [constants] kind = designated_shelter or emergency_site"
                )
            )
        kind = mapping.constants.get("kind")
        if kind is not None and kind not in SHELTER_KINDS:
            fail(
                _(
                    "kind %(value)s is not one of %(kinds)s",
                    value=kind,
                    kinds=", ".join(SHELTER_KINDS),
                )
            )
    if "name" not in mapping.columns and "name" not in mapping.constants:
        fail(_("the mapping needs a name column ([columns] name)"))


def pair_mappings(files: list, mappings: list, layer: str, *, base_dir=None) -> list[Mapping]:
    """One mapping for every file, or one per file in order; none: the layer's default mapping."""
    if not mappings:
        return [load_mapping(None, layer=layer)] * len(files)
    if len(mappings) == 1:
        return [load_mapping(mappings[0], base_dir=base_dir)] * len(files)
    if len(mappings) != len(files):
        raise GeoImportError(
            _(
                "%(mappings)s mappings for %(files)s files: give one mapping for all files, "
                "or one per file in the same order",
                mappings=len(mappings),
                files=len(files),
            ),
            reason="mapping",
        )
    return [load_mapping(spec, base_dir=base_dir) for spec in mappings]


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


def _setting(name: str, value):
    if value is not None:
        return value
    if has_app_context():
        return current_app.config.get(name, getattr(DefaultConfig, name))
    return getattr(DefaultConfig, name)


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


class _Reader:
    """File → (GeoDataFrame or DataFrame with a geometry column, CRS or None, info)."""

    def __init__(self, path: Path, display: str, layer: str, mapping: Mapping, max_bytes: int):
        self.path, self.display, self.layer, self.mapping, self.max_bytes = (
            path,
            display,
            layer,
            mapping,
            max_bytes,
        )

    def fail(self, problem: str, reason: str, row: int | None = None):
        raise GeoImportError(problem, file=self.display, row=row, reason=reason)

    def read(self):
        if not self.path.is_file():
            self.fail(_("cannot read the file: it does not exist"), "unreadable")
        size = self.path.stat().st_size
        if size > self.max_bytes:
            self.fail(
                _(
                    "the file is %(size)s bytes, over the limit of %(limit)s bytes (GEO_IMPORT_MAX_BYTES)",
                    size=size,
                    limit=self.max_bytes,
                ),
                "too_large",
            )
        if size == 0:
            self.fail(_("the file is empty"), "empty")
        suffix = self.path.suffix.lower()
        fmt = FORMATS.get(suffix)
        if fmt is None:
            self.fail(
                _(
                    "unsupported file type %(suffix)s; use GeoJSON (.geojson, .json), GeoPackage (.gpkg), "
                    "a zipped Shapefile (.zip) or CSV (.csv)",
                    suffix=suffix or "(none)",
                ),
                "unsupported",
            )
        digest = _file_digest(self.path)
        if fmt == "CSV":
            frame, crs, encoding, caught = self._read_csv()
        elif fmt == "Shapefile (zip)":
            with tempfile.TemporaryDirectory(prefix="dai-shp-") as tmp:
                shp = self._unzip_shapefile(Path(tmp))
                frame, crs, encoding, caught = self._read_shapefile(shp)
        elif fmt == "Shapefile":
            frame, crs, encoding, caught = self._read_shapefile(self.path)
        else:
            frame, crs, encoding, caught = self._read_vector(self.path, fmt)
        if len(frame) == 0:
            self.fail(_("the file has no features"), "empty")
        return (
            frame,
            crs,
            {"format": fmt, "encoding": encoding, "warnings": caught, "digest": digest},
        )

    # GeoJSON, GeoPackage and Shapefile go through GDAL (pyogrio).
    def _read_vector(self, path: Path, fmt: str, encoding: str | None = None):
        kwargs = {}
        if fmt == "GeoPackage":
            kwargs["layer"] = self._gpkg_layer(path)
        if fmt == "GeoJSON":
            self._check_geojson_crs(path)
        if encoding:
            kwargs["encoding"] = encoding
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                frame = pyogrio.read_dataframe(path, **kwargs)
            except (pyogrio.errors.CRSError, CRSError) as exc:
                self.fail(
                    _(
                        "unknown coordinate reference system: %(reason)s",
                        reason=self._clean(str(exc), path),
                    ),
                    "unknown_crs",
                )
            except Exception as exc:  # GDAL's errors for broken files come in many types
                self.fail(
                    _("cannot read the file: %(reason)s", reason=self._clean(str(exc), path)),
                    "unreadable",
                )
        if not isinstance(frame, gpd.GeoDataFrame) or frame.active_geometry_name is None:
            self.fail(_("the file has no geometry column"), "missing_geometry")
        frame = frame.rename_geometry("geometry") if frame.geometry.name != "geometry" else frame
        return frame, frame.crs, encoding, [self._clean(str(w.message), path) for w in caught]

    def _check_geojson_crs(self, path: Path) -> None:
        """GDAL quietly reads a GeoJSON whose legacy "crs" member it does not know as WGS 84;
        refuse it instead (RFC 7946 GeoJSON has no "crs" member and is always WGS 84)."""
        with path.open("rb") as f:
            head = f.read(65536).decode("utf-8", errors="replace")
        match = GEOJSON_CRS.search(head)
        if match:
            try:
                CRS.from_user_input(match.group(1))
            except CRSError:
                self.fail(
                    _("unknown coordinate reference system %(crs)s", crs=match.group(1)[:80]),
                    "unknown_crs",
                )

    def _gpkg_layer(self, path: Path) -> str:
        try:
            layers = pyogrio.list_layers(path)
        except Exception as exc:
            self.fail(
                _("cannot read the file: %(reason)s", reason=self._clean(str(exc), path)),
                "unreadable",
            )
        names = [str(name) for name, geometry_type in layers if geometry_type is not None]
        if self.mapping.source_layer:
            if self.mapping.source_layer not in names:
                self.fail(
                    _(
                        "the GeoPackage has no layer %(name)s (layers: %(layers)s)",
                        name=self.mapping.source_layer,
                        layers=", ".join(names),
                    ),
                    "missing_column",
                )
            return self.mapping.source_layer
        if len(names) != 1:
            if not names:
                self.fail(_("the GeoPackage holds no layer with geometries"), "missing_geometry")
            self.fail(
                _(
                    "the GeoPackage holds several layers (%(layers)s); name one with source_layer in "
                    "the mapping",
                    layers=", ".join(names),
                ),
                "unreadable",
            )
        return names[0]

    def _unzip_shapefile(self, target: Path) -> Path:
        try:
            archive = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            self.fail(_("cannot read the file: %(reason)s", reason=str(exc)), "unreadable")
        with archive:
            members = [
                m
                for m in archive.infolist()
                if not m.is_dir()
                and not m.filename.startswith("__MACOSX/")
                and not Path(m.filename).name.startswith(".")
            ]
            total = sum(m.file_size for m in members)
            if total > self.max_bytes:
                self.fail(
                    _(
                        "the zip file unpacks to %(size)s bytes, over the limit of %(limit)s bytes "
                        "(GEO_IMPORT_MAX_BYTES)",
                        size=total,
                        limit=self.max_bytes,
                    ),
                    "too_large",
                )
            shps = [m for m in members if m.filename.lower().endswith(".shp")]
            if not shps:
                self.fail(_("the zip file holds no Shapefile (.shp)"), "unreadable")
            if len(shps) > 1:
                self.fail(
                    _(
                        "the zip file holds %(count)s Shapefiles; put one Shapefile in each zip",
                        count=len(shps),
                    ),
                    "unreadable",
                )
            stem = shps[0].filename[:-4]
            wanted = {}
            for member in members:
                base, _dot, ext = member.filename.rpartition(".")
                if base == stem and ext.lower() in {"shp", "shx", "dbf", "prj", "cpg"}:
                    wanted[ext.lower()] = member
            for part in ("shx", "dbf"):
                if part not in wanted:
                    self.fail(
                        _(
                            "the Shapefile %(name)s lacks its .%(part)s part",
                            name=Path(shps[0].filename).name,
                            part=part,
                        ),
                        "unreadable",
                    )
            for ext, member in wanted.items():
                # Extract under fixed names: member names never become paths on this machine.
                (target / f"layer.{ext}").write_bytes(archive.read(member))
        return target / "layer.shp"

    def _read_shapefile(self, shp: Path):
        encoding = self.mapping.encoding
        cpg = next(
            (p for p in shp.parent.glob(shp.stem + ".*") if p.suffix.lower() == ".cpg"), None
        )
        if encoding is None and cpg is None:
            dbf = next(
                (p for p in shp.parent.glob(shp.stem + ".*") if p.suffix.lower() == ".dbf"), None
            )
            encoding = _sniff_dbf_encoding(dbf) if dbf else None
        frame, crs, _enc, caught = self._read_vector(shp, "Shapefile", encoding)
        if encoding is None and cpg is not None:
            encoding = cpg.read_text(encoding="ascii", errors="replace").strip() or None
        return frame, crs, encoding, caught

    def _read_csv(self):
        data = self.path.read_bytes()
        encoding = self.mapping.encoding
        if encoding is None:
            encoding = _sniff_text_encoding(data)
            if encoding is None:
                self.fail(
                    _(
                        "cannot read the file: it is neither UTF-8 nor Shift_JIS; set encoding in the mapping"
                    ),
                    "unreadable",
                )
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            self.fail(
                _(
                    "cannot read the file as %(encoding)s: %(reason)s",
                    encoding=encoding,
                    reason=str(exc),
                ),
                "unreadable",
            )
        text = text.lstrip("\ufeff")
        first_line = text.split("\n", 1)[0]
        delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
        rows = [
            row
            for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
            if any(cell.strip() for cell in row)
        ]
        if not rows:
            self.fail(_("the file is empty"), "empty")
        header = [cell.strip() for cell in rows[0]]
        seen = set()
        for column in header:
            if column in seen:
                self.fail(
                    _("the header names the column %(column)s twice", column=column), "unreadable"
                )
            seen.add(column)
        body = []
        for number, row in enumerate(rows[1:], start=1):
            if len(row) > len(header) and any(cell.strip() for cell in row[len(header) :]):
                self.fail(
                    _(
                        "the row has %(found)s fields, the header %(expected)s",
                        found=len(row),
                        expected=len(header),
                    ),
                    "unreadable",
                    row=number,
                )
            body.append((row + [""] * len(header))[: len(header)])
        frame = pd.DataFrame(body, columns=header, dtype=object)
        if len(frame) == 0:
            self.fail(_("the file has no features"), "empty")
        lat_column = _find_column(header, self.mapping.lat, exact=self.mapping.lat_lon_explicit)
        lon_column = _find_column(header, self.mapping.lon, exact=self.mapping.lat_lon_explicit)
        if lat_column is None or lon_column is None:
            self.fail(
                _(
                    "no latitude/longitude columns; name them with [csv] lat and lon in the mapping "
                    "(columns: %(columns)s)",
                    columns=", ".join(header),
                ),
                "missing_column",
            )
        points = []
        for number, (lat, lon) in enumerate(
            zip(frame[lat_column], frame[lon_column], strict=True), start=1
        ):
            lat_text, lon_text = _nfkc(lat), _nfkc(lon)
            if not lat_text or not lon_text:
                self.fail(
                    _(
                        "missing geometry (%(lat)s/%(lon)s is empty)",
                        lat=lat_column,
                        lon=lon_column,
                    ),
                    "missing_geometry",
                    row=number,
                )
            try:
                points.append((float(lon_text), float(lat_text)))
            except ValueError:
                self.fail(
                    _(
                        "the latitude/longitude %(lat)s, %(lon)s is not a pair of numbers",
                        lat=lat,
                        lon=lon,
                    ),
                    "bad_coordinates",
                    row=number,
                )
        coords = np.array(points, dtype=float)
        frame["geometry"] = shapely.points(coords[:, 0], coords[:, 1])
        crs = CRS.from_user_input(self.mapping.crs) if self.mapping.crs else CRS.from_epsg(4326)
        return frame, crs, encoding, []

    def _clean(self, text: str, path: Path) -> str:
        # GDAL messages name the temporary path; show the user's file name instead.
        text = text.split("; It might help to specify the correct driver")[0]
        return text.replace(str(path), self.display).replace(str(path.parent) + "/", "")


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _find_column(header: list[str], candidates, *, exact: bool) -> str | None:
    for candidate in candidates:
        if candidate in header:
            return candidate
    if exact:
        return None
    lowered = {column.lower(): column for column in header}
    for candidate in candidates:
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    return None


def _sniff_text_encoding(data: bytes) -> str | None:
    """UTF-8 (with or without BOM) when it decodes as such, else Shift_JIS (cp932), else None."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            data.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            continue
    return None


def _sniff_dbf_encoding(dbf: Path, limit: int = 4 * 1024 * 1024) -> str | None:
    """A .dbf without .cpg: look at its bytes. ASCII only → None (GDAL's default is fine); valid
    UTF-8 → UTF-8; valid cp932 → CP932 (Shift_JIS as written by Japanese Windows software)."""
    with dbf.open("rb") as f:
        head = f.read(32)
        if len(head) < 32:
            return None
        header_length = int.from_bytes(head[8:10], "little")
        record_length = max(int.from_bytes(head[10:12], "little"), 1)
        f.seek(0)
        records = max((limit - header_length) // record_length, 0)
        data = f.read(header_length + records * record_length)  # whole records only
    body = data[32:]
    if all(b < 0x80 for b in body):
        return None
    for encoding in ("utf-8", "cp932"):
        try:
            body.decode(encoding)
            return encoding.upper()
        except UnicodeDecodeError:
            continue
    return None


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


# --- attributes ----------------------------------------------------------------------------


def _missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return False


def _nfkc(value) -> str:
    if _missing(value):
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


def _plain(value):
    """A JSON-safe Python value (numpy and pandas values converted, NaN → None)."""
    if _missing(value):
        return None
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return float(value)
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    if isinstance(value, np.ndarray | list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _hazard_name(value) -> str | None:
    text = _nfkc(value)
    if text in HAZARDS:
        return text
    return HAZARD_ALIASES.get(text) or HAZARD_ALIASES.get(str(value).strip())


class _Converter:
    """Mapping + raw attribute table → key, name, name_kana and props for each row."""

    def __init__(self, display: str, layer: str, mapping: Mapping, raw, m2_per_person: float):
        self.display, self.layer, self.mapping, self.m2_per_person = (
            display,
            layer,
            mapping,
            m2_per_person,
        )
        self.columns = [str(c) for c in raw.columns if c != "geometry"]
        self.raw = raw
        self.capacity_derived = 0
        self.props = {prop: self._resolve(spec, prop) for prop, spec in mapping.columns.items()}
        self.hazard_flags = {h: self._resolve(spec, h) for h, spec in mapping.hazards.items()}
        self.open_flags = {
            label: self._resolve(spec, label) for label, spec in mapping.opens_for.items()
        }

    def fail(self, problem: str, reason: str, row: int | None = None):
        raise GeoImportError(problem, file=self.display, row=row, reason=reason)

    def _resolve(self, spec, prop: str):
        """("column", name) | ("template", text, fields) | None for a missing optional column."""
        if isinstance(spec, str) and "{" in spec:
            try:
                fields = [
                    f for _lit, f, _spec, _conv in string.Formatter().parse(spec) if f is not None
                ]
            except ValueError:
                fields = None
            if not fields or any(not f for f in fields):
                raise GeoImportError(
                    _(
                        "the template %(template)s for %(field)s is not valid",
                        template=spec,
                        field=prop,
                    ),
                    file=self.mapping.name,
                    reason="mapping",
                )
            for column in fields:
                if column not in self.columns:
                    self._missing_column(column, prop)
            return ("template", spec, fields)
        for candidate in _as_list(spec):
            if candidate in self.columns:
                return ("column", candidate)
        if prop in self.mapping.optional:
            return None
        self._missing_column(" / ".join(_as_list(spec)), prop)

    def _missing_column(self, column: str, prop: str):
        self.fail(
            _(
                "the mapping %(mapping)s names the column %(column)s for %(field)s, but the file has no such "
                "column (columns: %(columns)s)",
                mapping=self.mapping.name,
                column=column,
                field=prop,
                columns=", ".join(self.columns),
            ),
            "missing_column",
        )

    def _value(self, resolved, row: dict):
        if resolved is None:
            return None
        if resolved[0] == "column":
            return row[resolved[1]]
        _kind, template, fields = resolved
        return template.format(**{f: _nfkc(row[f]) if not _missing(row[f]) else "" for f in fields})

    def records(self) -> list[dict]:
        frame = self.raw.drop(columns="geometry")
        frame.columns = [str(c) for c in frame.columns]
        return [
            self._record(number, row)
            for number, row in enumerate(frame.to_dict(orient="records"), start=1)
        ]

    def _record(self, number: int, row: dict) -> dict:
        values = {prop: self._value(resolved, row) for prop, resolved in self.props.items()}
        for prop, constant in self.mapping.constants.items():
            if prop not in values or _missing(values[prop]) or values[prop] == "":
                values[prop] = constant
        key = self._key(number, values.get("key"))
        name = self._text(values.get("name"), "name", number)
        name_kana = self._text(values.get("name_kana"), "name_kana", number)
        props = dict(LAYER_PROPS[self.layer])
        props = {k: list(v) if isinstance(v, list) else v for k, v in props.items()}
        for prop, value in values.items():
            if prop not in RESERVED:
                props[prop] = _plain(value)
        getattr(self, f"_props_{self.layer}")(props, values, row, number)
        return {"key": key, "name": name, "name_kana": name_kana, "props": props}

    def _key(self, number: int, value) -> str:
        if value is None or _missing(value) or str(value).strip() == "":
            if "key" in self.props and self.props["key"] is not None:
                self.fail(_("the key is empty"), "invalid_value", row=number)
            key = f"{self.mapping.key_prefix or self.layer + '-'}{number}"
        else:
            if isinstance(value, float | np.floating) and float(value).is_integer():
                value = int(value)
            key = f"{self.mapping.key_prefix}{_nfkc(value)}"
        if len(key) > KEY_MAX:
            self.fail(
                _("the key %(key)s is longer than %(max)s characters", key=key, max=KEY_MAX),
                "invalid_value",
                row=number,
            )
        return key

    def _text(self, value, field_name: str, number: int) -> str:
        text = "" if _missing(value) else str(value).strip()
        if len(text) > NAME_MAX:
            self.fail(
                _("%(field)s is longer than %(max)s characters", field=field_name, max=NAME_MAX),
                "invalid_value",
                row=number,
            )
        return text

    def _number(self, value, field_name: str, number: int, *, whole: bool):
        if _missing(value) or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool | np.bool_):
            self.fail(
                _("%(field)s: %(value)s is not a number", field=field_name, value=value),
                "invalid_value",
                number,
            )
        if isinstance(value, int | np.integer):
            return int(value)
        if isinstance(value, float | np.floating):
            number_value = float(value)
        else:
            text = _nfkc(value).replace(",", "")
            for unit in ("m2", "人", "名"):
                text = text.removesuffix(unit).strip()
            try:
                number_value = float(text)
            except ValueError:
                self.fail(
                    _("%(field)s: %(value)s is not a number", field=field_name, value=value),
                    "invalid_value",
                    number,
                )
        if not math.isfinite(number_value):
            self.fail(
                _("%(field)s: %(value)s is not a number", field=field_name, value=value),
                "invalid_value",
                number,
            )
        if whole:
            if not number_value.is_integer():
                self.fail(
                    _("%(field)s: %(value)s is not a whole number", field=field_name, value=value),
                    "invalid_value",
                    number,
                )
            return int(number_value)
        return number_value

    def _flag(self, value, column: str, number: int) -> bool:
        if _missing(value):
            return False
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if isinstance(value, int | np.integer | float | np.floating) and value in (0, 1):
            return bool(value)
        text = _nfkc(value).lower()
        if text in TRUE_FLAGS:
            return True
        if text in FALSE_FLAGS:
            return False
        self.fail(
            _(
                "%(field)s: %(value)s is not a yes/no flag (1, ○, true … or empty)",
                field=column,
                value=value,
            ),
            "invalid_value",
            number,
        )

    def _flags(self, resolved: dict, row: dict, number: int) -> list[str]:
        return [
            label
            for label, where in resolved.items()
            if where is not None
            and self._flag(
                self._value(where, row), where[1] if where[0] == "column" else label, number
            )
        ]

    def _hazard_list(self, value, number: int) -> list[str]:
        if _missing(value) or value == "":
            return []
        items = (
            value
            if isinstance(value, list | tuple | np.ndarray)
            else str(value).replace("、", ",").replace("，", ",").replace(";", ",").split(",")
        )
        hazards = []
        for item in items:
            if _nfkc(item) == "":
                continue
            hazard = _hazard_name(item)
            if hazard is None:
                self.fail(
                    _(
                        "hazard %(value)s is not one of %(hazards)s",
                        value=item,
                        hazards=", ".join(HAZARDS),
                    ),
                    "invalid_value",
                    number,
                )
            hazards.append(hazard)
        return hazards

    # Per-layer props ------------------------------------------------------------------------

    def _props_districts(self, props: dict, values: dict, row: dict, number: int) -> None:
        props["population"] = self._number(
            values.get("population"), "population", number, whole=True
        )
        if props.get("code") is not None:
            code = props["code"]
            props["code"] = (
                str(int(code)) if isinstance(code, float) and code.is_integer() else str(code)
            )
        props["population_source"] = (
            "" if props.get("population_source") is None else str(props["population_source"])
        )

    def _props_places(self, props: dict, values: dict, row: dict, number: int) -> None:
        props["district_key"] = (
            None  # resolved against the districts layer by the analysis, not here
        )

    def _props_shelters(self, props: dict, values: dict, row: dict, number: int) -> None:
        kind = _nfkc(values.get("kind"))
        if kind not in SHELTER_KINDS:
            self.fail(
                _(
                    "kind %(value)s is not one of %(kinds)s",
                    value=kind,
                    kinds=", ".join(SHELTER_KINDS),
                ),
                "invalid_value",
                number,
            )
        props["kind"] = kind
        designated = set(self._hazard_list(values.get("hazards"), number))
        designated.update(self._flags(self.hazard_flags, row, number))
        props["hazards"] = [h for h in HAZARDS if h in designated]
        opens = values.get("opens_for")
        opens_for = (
            []
            if _missing(opens) or opens in ("", None)
            else (
                list(opens)
                if isinstance(opens, list)
                else [s.strip() for s in str(opens).split(",") if s.strip()]
            )
        )
        opens_for += [
            label for label in self._flags(self.open_flags, row, number) if label not in opens_for
        ]
        props["opens_for"] = opens_for
        for text_field in ("address", "tel"):
            value = props.get(text_field)
            props[text_field] = "" if value is None else str(value).strip()
        props["floor_area_m2"] = self._number(
            values.get("floor_area_m2"), "floor_area_m2", number, whole=False
        )
        capacity = values.get("capacity")
        props["capacity"] = self._number(capacity, "capacity", number, whole=True)
        props["capacity_derived"] = False
        if props["capacity"] is None and props["floor_area_m2"]:
            props["capacity"] = int(props["floor_area_m2"] // self.m2_per_person)
            props["capacity_derived"] = True
            self.capacity_derived += 1

    def _props_hazard_zones(self, props: dict, values: dict, row: dict, number: int) -> None:
        hazard = _hazard_name(values.get("hazard"))
        if hazard is None:
            self.fail(
                _(
                    "hazard %(value)s is not one of %(hazards)s",
                    value=values.get("hazard"),
                    hazards=", ".join(HAZARDS),
                ),
                "invalid_value",
                number,
            )
        props["hazard"] = hazard
        rank = "" if _missing(values.get("rank")) else str(values.get("rank")).strip()
        if not rank:
            self.fail(_("the rank is empty"), "invalid_value", number)
        props["rank"] = rank
        if self.mapping.ranks:
            if rank not in self.mapping.ranks:
                self.fail(
                    _(
                        "rank %(value)s is not listed in the mapping's [ranks] table (listed: %(ranks)s)",
                        value=rank,
                        ranks=", ".join(self.mapping.ranks),
                    ),
                    "invalid_value",
                    number,
                )
            props["rank_order"] = self.mapping.ranks[rank]
        else:
            props["rank_order"] = self._number(
                values.get("rank_order"), "rank_order", number, whole=True
            )
            if props["rank_order"] is None:
                self.fail(_("rank_order is empty"), "invalid_value", number)


def _check_unique_keys(keys: list[str], files: list[str], rows: list[int] | None = None) -> None:
    rows = rows or list(range(1, len(keys) + 1))
    seen: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key in seen:
            first = seen[key]
            raise GeoImportError(
                _(
                    "the key %(key)s is already used by row %(other_row)s of %(other_file)s; keys must "
                    "be unique (set key_prefix in each file's mapping)",
                    key=key,
                    other_row=rows[first],
                    other_file=files[first],
                ),
                file=files[index],
                row=rows[index],
                reason="duplicate_key",
            )
        seen[key] = index


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
    import json

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
