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
    # recognising the format (no --mapping): every entry's column (or one of a list) is present
    detect: tuple = ()
    # keep only the rows of the profile's municipality (nationwide / prefecture-wide files)
    municipality_code: tuple = ()  # columns or {templates} holding a JIS (5) / 団体 (6) code
    municipality_name: tuple = ()  # columns holding 「愛知県一宮市」-style names
    dissolve: bool = False  # rows sharing a key become one feature (areas summed)
    rank_codes: dict = field(default_factory=dict)  # code in the rank column → rank label
    kana_from_postal: bool = False  # readings of empty name_kana from the postal data
    within_outline: bool = False  # keep only features touching the profile's municipal outline

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
    for table in ("columns", "constants", "hazards", "opens_for", "ranks", "csv", "rank_codes"):
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
    detect = data.get("detect", [])
    if not isinstance(detect, list) or not all(
        isinstance(d, str) or (isinstance(d, list) and all(isinstance(x, str) for x in d))
        for d in detect
    ):
        fail(_("detect must be a list of column names (or of lists of candidates)"))
    municipality_code = _as_list(
        _column_spec(data["municipality_code"], "municipality_code", fail)
        if "municipality_code" in data
        else []
    )
    municipality_name = _as_list(
        _column_spec(data["municipality_name"], "municipality_name", fail)
        if "municipality_name" in data
        else []
    )
    rank_codes = {str(k): str(v) for k, v in data.get("rank_codes", {}).items()}
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
        detect=tuple(tuple(_as_list(d)) for d in detect),
        municipality_code=tuple(municipality_code),
        municipality_name=tuple(municipality_name),
        dissolve=bool(data.get("dissolve", False)),
        rank_codes=rank_codes,
        kana_from_postal=bool(data.get("kana_from_postal", False)),
        within_outline=bool(data.get("within_outline", False)),
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


def pair_mappings(
    files: list, mappings: list, layer: str, *, base_dir=None
) -> list[Mapping | None]:
    """One mapping for every file, or one per file in order; none: ``None`` for each file, which
    ``read_layer`` resolves by recognising the file's format from its columns (``detect``), else
    the layer's default mapping."""
    if not mappings:
        return [None] * len(files)
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


# --- recognising a national format from its columns ------------------------------------------

DBF_NAME_BYTES = (
    10  # dBASE field names: at most 10 bytes, so 「崖崩れ、土石流及び地滑り」 → 「崖崩れ、土」
)


def truncated_forms(name: str) -> set[str]:
    """The forms a long column name takes in a Shapefile's DBF: cut to 10 bytes in Shift_JIS
    (GSI's files) or in UTF-8, never in the middle of a character."""
    forms = set()
    for encoding in ("cp932", "utf-8"):
        try:
            data = name.encode(encoding)
        except UnicodeEncodeError:
            continue
        if len(data) > DBF_NAME_BYTES:
            forms.add(data[:DBF_NAME_BYTES].decode(encoding, errors="ignore"))
    forms.discard("")
    return forms


def find_column(columns, candidate: str) -> str | None:
    """The file's column for ``candidate``: the same name, the same name after NFKC and trimming,
    or the name as a DBF cut it to 10 bytes. None when absent."""
    import unicodedata

    columns = [str(c) for c in columns]
    if candidate in columns:
        return candidate
    norm = unicodedata.normalize("NFKC", candidate).strip()
    for column in columns:
        if unicodedata.normalize("NFKC", column).strip() == norm:
            return column
    cut = truncated_forms(candidate)
    if cut:
        for column in columns:
            if column in cut:
                return column
    return None


def detecting_mappings() -> list[Mapping]:
    """The built-in mappings that can be recognised from a file's columns."""
    out = []
    for name, path in builtin_mappings().items():
        mapping = parse_mapping(path.read_text(encoding="utf-8"), name)
        if mapping.detect:
            out.append(mapping)
    return out


def _detects(mapping: Mapping, columns) -> bool:
    return all(
        any(find_column(columns, candidate) is not None for candidate in entry)
        for entry in mapping.detect
    )


def detect_mapping(columns, layer: str, display: str) -> Mapping | None:
    """The built-in mapping whose ``detect`` columns the file has (the most specific one wins);
    None when none matches (the caller uses the layer's default mapping). A file that matches
    only another layer's mapping, or two equally specific mappings, is refused with a message
    naming them."""
    matched = [m for m in detecting_mappings() if _detects(m, columns)]
    here = [m for m in matched if m.layer == layer]
    if not here:
        if matched:
            other = matched[0]
            raise GeoImportError(
                _(
                    "this file looks like %(title)s, which goes into the %(other)s layer, not "
                    "%(layer)s (or name a mapping with --mapping)",
                    title=other.title,
                    other=other.layer,
                    layer=layer,
                ),
                file=display,
                reason="mapping",
            )
        return None
    best = max(len(m.detect) for m in here)
    top = [m for m in here if len(m.detect) == best]
    if len(top) > 1:
        raise GeoImportError(
            _(
                "this file fits several built-in mappings (%(names)s): name one with --mapping",
                names=", ".join(m.name for m in top),
            ),
            file=display,
            reason="mapping",
        )
    return top[0]
