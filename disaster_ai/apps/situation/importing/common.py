"""Shared by the importer modules: constants, the error type, settings, value helpers."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from flask import current_app, has_app_context

from disaster_ai.apps.situation.models import HAZARDS
from disaster_ai.config import DefaultConfig

MAPPINGS_DIR = Path(__file__).resolve().parent.parent / "mappings"

POLYGON_LAYERS = frozenset({"districts", "hazard_zones"})
POINT_LAYERS = frozenset({"places", "shelters"})
SHELTER_KINDS = ("designated_shelter", "emergency_site")
KEY_MAX = 64  # GeoFeature.key
NAME_MAX = 255  # GeoFeature.name / name_kana

FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",  # or a JSON array of records with lat/lng (Geolonia japanese-addresses)
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
    "detect",
    "municipality_code",
    "municipality_name",
    "dissolve",
    "rank_codes",
    "kana_from_postal",
    "within_outline",
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


def _setting(name: str, value):
    if value is not None:
        return value
    if has_app_context():
        return current_app.config.get(name, getattr(DefaultConfig, name))
    return getattr(DefaultConfig, name)


def _as_list(spec) -> list[str]:
    return [spec] if isinstance(spec, str) else list(spec)


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
