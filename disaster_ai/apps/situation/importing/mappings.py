"""Mapping files (TOML): parse, load by name or path, pair with files, and recognise a
national format from its columns (see docs/situation-import.md)."""

from __future__ import annotations

import codecs
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pyproj import CRS
from pyproj.exceptions import CRSError

from disaster_ai.apps.situation.importing.common import (
    LAT_DEFAULTS,
    LON_DEFAULTS,
    MAPPING_KEYS,
    MAPPINGS_DIR,
    SHELTER_KINDS,
    GeoImportError,
    _,
    _as_list,
    _hazard_name,
)
from disaster_ai.apps.situation.models import HAZARDS, LAYERS

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
