"""The situation document's shared parts: schema id, hazard and category words, settings, the
``Situation`` holder, time and credit helpers."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from disaster_ai import categories, hazards
from disaster_ai.apps.situation import analysis
from disaster_ai.storage.base import JST

log = logging.getLogger(__name__)

SCHEMA = "disaster-ai/situation/1"
MAX_HOTSPOTS_LISTED = 50

# the hazards' Japanese words, from the one registry (disaster_ai.hazards)
HAZARD_JA = hazards.Labels("ja")
# the categories' Japanese words, from the one registry (categories.py)
CATEGORY_JA = categories.Labels("ja")
STATE_ORDER = {state: i for i, state in enumerate(analysis.SHELTER_STATES)}


@dataclass(frozen=True)
class Settings:
    radius_m: float = 250.0
    window_minutes: float = 60.0
    min_incidents: int = 5
    windows_minutes: tuple[int, ...] = (60, 180, 1440)
    crs: str | None = None
    default_hazard: str | None = None
    cell_m: float = 10.0

    @classmethod
    def from_config(cls, config) -> Settings:
        from disaster_ai.config import DefaultConfig

        def get(name):
            return (
                config.get(name, getattr(DefaultConfig, name))
                if config is not None
                else getattr(DefaultConfig, name)
            )

        return cls(
            radius_m=float(get("HOTSPOT_RADIUS_M")),
            window_minutes=float(get("HOTSPOT_WINDOW_MINUTES")),
            min_incidents=int(get("HOTSPOT_MIN_INCIDENTS")),
            windows_minutes=tuple(int(m) for m in get("SITUATION_TIME_WINDOWS_MINUTES")),
            crs=get("SITUATION_CRS") or None,
            default_hazard=get("SITUATION_HAZARD") or None,
        )


@dataclass
class Situation:
    """The document plus the frames it was computed from (for the map)."""

    doc: dict
    layers: analysis.Layers
    incidents: analysis.IncidentArrays
    district: np.ndarray
    shelters: pd.DataFrame
    boundary: Any = None  # the municipality outline (shapely), when known


def check_hazard(hazard: str | None) -> None:
    if hazard is not None and hazard not in hazards.registry():
        known = ", ".join(hazards.codes())
        raise ValueError(f"unknown hazard {hazard!r}; hazards are {known}")


def check_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. 2025-09-05T10:00:00+09:00)")


def iso(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    return pd.Timestamp(value).floor("s").to_pydatetime().astimezone(JST).isoformat()


def _iso_ns(ns: int) -> str:
    return iso(pd.Timestamp(int(ns), unit="ns", tz="UTC"))


CREDIT_PREFIXES = ("出典：", "出典:")


def credit_items(text: str) -> list[str]:
    """One layer's attribution as credits without their own 「出典：」 (a combined attribution,
    「A / 出典：B」, gives A and B)."""
    items = []
    for part in (text or "").split(" / "):
        part = part.strip()
        for prefix in CREDIT_PREFIXES:
            if part.startswith(prefix):
                part = part[len(prefix) :].strip()
        if part:
            items.append(part)
    return items
