"""Shared by the situation tests (and the dashboard's): the Yaizu layer frames without a
database, fixed points and times, and a check that the sample kit loaded every layer.

The frames are built from sample_data/yaizu/*.geojson through the real importer and the kit's
mappings (districts: population; shelters: kind, hazards, capacity; hazard_zones: hazard, rank,
rank_order).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

import geopandas as gpd

from disaster_ai.config import REPO_ROOT

JST = ZoneInfo("Asia/Tokyo")
SAMPLE = REPO_ROOT / "sample_data" / "yaizu"
NOW = datetime(2025, 9, 5, 10, 0, tzinfo=JST)
ATTRIBUTION_A = "出典：焼津市オープンデータカタログ（焼津市）を加工して作成"
# The five designated shelters that lie inside the inland-flood assumed area (from the real data).
IN_FLOOD_AREA = {
    "小川新地コミュニティ防災センター",
    "小川第13コミュニティ防災センター",
    "港小学校",
    "（県）焼津水産高等学校",
    "港地域交流センター",
}
OGAWA_3 = (138.320257, 34.855605)  # 小川新町三丁目 in the places layer
TOKYO_STATION = (139.767125, 35.681236)
REFERENCE_LAYERS = ("districts", "places", "shelters", "hazard_zones")


@cache
def _sample_frames() -> dict[str, gpd.GeoDataFrame]:
    from disaster_ai.apps.situation.importer import read_sample_frames

    return read_sample_frames(SAMPLE)


def yaizu_frames() -> dict[str, gpd.GeoDataFrame]:
    """The Yaizu layers read through the real importer and the kit's mappings (no database):
    districts ← 自治会 areas; shelters ← 指定避難所 + 指定緊急避難場所; hazard_zones ← 内水浸水想定区域."""
    return {layer: frame.copy() for layer, frame in _sample_frames().items() if layer != "places"}


def ensure_yaizu_layers(app) -> None:
    """Fail loudly when ``init --sample yaizu`` (the ``yaizu`` fixture) left a layer out."""
    from disaster_ai.apps.situation import layers
    from disaster_ai.storage import get_storage, session_scope

    with app.app_context(), session_scope(get_storage(app)) as session:
        missing = [n for n in REFERENCE_LAYERS if layers.active_version(session, n) is None]
    assert not missing, f"the Yaizu sample kit did not load: {missing}"
