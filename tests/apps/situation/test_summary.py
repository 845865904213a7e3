"""The situation document from the database, the Japanese report, the PNG map, the API and the CLI,
on the real Yaizu layers (stored with layers.store_layer_version from test_analysis.yaizu_frames)."""

from __future__ import annotations

import json
import struct
from datetime import datetime, timedelta

import pytest
import shapely
from situation_helpers import (
    ATTRIBUTION_A,
    IN_FLOOD_AREA,
    JST,
    NOW,
    yaizu_frames,
)

from disaster_ai.apps.situation import layers as layer_store
from disaster_ai.apps.situation import summary
from disaster_ai.apps.situation.models import Incident, ShelterStatus
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import Municipality

# The database matters only for reading rows: one test runs on both backends, the rest on SQLite.
SQLITE = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)

SINCE = NOW - timedelta(hours=1)
OPEN_OUTSIDE = [
    "designated-1",
    "designated-2",
    "designated-3",
    "designated-14",
    "designated-32",
]  # designated for inland flood, outside the zone


@pytest.fixture
def situation_app(app):
    frames = yaizu_frames()
    with app.app_context(), session_scope(get_storage(app)) as session:
        for layer, frame in frames.items():
            layer_store.store_layer_version(
                session, layer, frame, source_name=f"{layer}.geojson", attribution=ATTRIBUTION_A
            )
        session.add(
            Municipality(name="焼津市", name_en="Yaizu City", lg_code="222127", jis_code="22212")
        )
        shelters = frames["shelters"]
        in_zone = shelters.loc[
            shelters["name"].isin(IN_FLOOD_AREA) & shelters["key"].str.startswith("designated-"),
            "key",
        ]
        for key in [*in_zone, *OPEN_OUTSIDE]:
            session.add(ShelterStatus(shelter_key=key, is_open=True, occupancy=40, updated_at=NOW))
        # Incidents: a cluster of 8 near 焼津駅 in the last 40 minutes, 4 scattered older ones,
        # one known only by district, one merged (left out), one resolved.
        for i in range(8):
            session.add(
                Incident(
                    category="road_flooding" if i % 2 else "inundation",
                    life_threat=i == 0,
                    people=2,
                    vulnerable=i == 1,
                    source="call",
                    status="confirmed",
                    occurred_at=NOW - timedelta(minutes=5 * i),
                    created_at=NOW - timedelta(minutes=5 * i),
                    lon=138.3205 + i * 0.0002,
                    lat=34.8655 + (i % 3) * 0.0002,
                )
            )
        spread = shapely.get_coordinates(
            shapely.point_on_surface(frames["districts"].geometry.values[[5, 12, 20, 28]])
        )
        for i, (lon, lat) in enumerate(spread.tolist()):
            session.add(
                Incident(
                    category="rescue",
                    life_threat=True,
                    status="unverified",
                    occurred_at=NOW - timedelta(hours=3 + i),
                    created_at=NOW - timedelta(hours=3 + i),
                    lon=lon,
                    lat=lat,
                )
            )
        session.add(
            Incident(
                category="power_outage",
                status="confirmed",
                district_key=frames["districts"]["key"].iat[0],
                occurred_at=NOW - timedelta(minutes=30),
                created_at=NOW - timedelta(minutes=30),
            )
        )
        session.flush()
        keep = session.query(Incident).filter_by(category="rescue").first()
        session.add(
            Incident(
                category="rescue",
                status="confirmed",
                merged_into=keep.id,
                lon=keep.lon,
                lat=keep.lat,
                occurred_at=NOW - timedelta(minutes=20),
                created_at=NOW - timedelta(minutes=20),
            )
        )
        session.add(
            Incident(
                category="fire",
                status="resolved",
                lon=spread[0, 0],
                lat=spread[0, 1],
                occurred_at=NOW - timedelta(hours=5),
                created_at=NOW - timedelta(hours=5),
            )
        )
    return app


def build(app, hazard="inland_flood", since=SINCE, now=NOW):
    with app.app_context(), session_scope(get_storage(app)) as session:
        return summary.build_situation(session, hazard, since, now)


def test_document_from_the_database(situation_app):
    doc = build(situation_app)
    assert doc["schema"] == summary.SCHEMA
    assert (
        doc["generated_at"] == "2025-09-05T10:00:00+09:00"
        and doc["since"] == "2025-09-05T09:00:00+09:00"
    )
    assert doc["municipality"] == "焼津市"
    assert doc["hazard"]["code"] == "inland_flood" and len(doc["hazard"]["ranks"]) == 6
    assert doc["method"]["crs"] == "EPSG:6676" and "straight-line" in doc["method"]["distance"]
    assert "areal weighting" in doc["exposure"]["method"]
    assert doc["attribution"] == [ATTRIBUTION_A]
    incidents = doc["incidents"]
    assert incidents["total"] == 14  # the merged one is left out
    assert incidents["active"] == 13 and incidents["resolved"] == 1
    assert incidents["life_threat"] == 5
    assert incidents["new_since"] == 9  # 8 in the cluster + the district-only one
    assert incidents["by_category"] == {
        "inundation": 4,
        "road_flooding": 4,
        "power_outage": 1,
        "rescue": 4,
    }
    assert incidents["by_window"] == {
        "60": 9,
        "180": 10,
        "1440": 13,
    }  # the window includes its start
    assert incidents["outside_districts"] == 0
    assert sum(d["incidents"]["total"] for d in doc["districts"]) == 14
    assert sum(d["incidents"]["new_since"] for d in doc["districts"]) == 9
    json.dumps(doc, allow_nan=False)  # JSON-ready: no NaN anywhere


@SQLITE
def test_unsafe_shelters_are_the_five_in_the_flood_area(situation_app):
    shelters = build(situation_app)["shelters"]
    assert shelters["counts"]["unsafe"] == 5
    assert shelters["designated_in_zone"] == 5
    assert shelters["counts"]["usable"] == len(OPEN_OUTSIDE)
    assert shelters["no_designated_shelter"] is False and shelters["statement"] is None
    unsafe = [s for s in shelters["items"] if s["state"] == "unsafe"]
    assert {s["name"] for s in unsafe} == IN_FLOOD_AREA
    assert shelters["items"][:5] == unsafe  # loud ones first
    assert all(s["zone_rank"] for s in unsafe)
    assert shelters["occupancy"]["people"] == 40 * 10 and shelters["occupancy"]["open"] == 10


@SQLITE
def test_no_shelter_designated_for_flood_is_said_plainly(situation_app):
    doc = build(situation_app, hazard="flood")
    shelters = doc["shelters"]
    assert shelters["designated"] == 0 and shelters["no_designated_shelter"] is True
    assert (
        shelters["statement"]
        == "No shelter or emergency evacuation site in 焼津市 is designated for flood."
    )
    assert shelters["counts"]["usable"] == 0
    assert all(d["nearest_usable_shelter"] is None for d in doc["districts"])
    assert doc["hazard"]["zones_available"] is False
    text = summary.render_text_ja(doc)
    assert "焼津市には、洪水に対応する指定避難所・指定緊急避難場所の指定はありません。" in text
    surge = summary.render_text_ja(build(situation_app, hazard="storm_surge"))
    assert "高潮に対応する指定避難所・指定緊急避難場所の指定はありません" in surge


@SQLITE
def test_exposure_and_nearest_shelter_per_district(situation_app):
    doc = build(situation_app)
    exposed = [d for d in doc["districts"] if d["exposure"]]
    assert exposed
    for district in doc["districts"]:
        people = (district["exposure"].get("inland_flood") or {}).get("people") or 0
        assert 0 <= people <= district["population"]
    total = doc["exposure"]["hazards"]["inland_flood"]
    assert total["people"] == pytest.approx(
        sum(d["exposure"]["inland_flood"]["people"] for d in exposed), abs=1
    )
    assert 0 < total["people"] < sum(d["population"] for d in doc["districts"])
    items = {s["key"]: s for s in doc["shelters"]["items"]}
    for district in doc["districts"]:
        near = district["nearest_usable_shelter"]
        assert near is not None and near["key"] in OPEN_OUTSIDE and near["straight_line"] is True
        assert items[near["key"]]["designated"] and not items[near["key"]]["in_zone"]
        assert isinstance(near["distance_m"], int) and 0 <= near["distance_m"] < 15_000
        suitable = district["nearest_suitable_shelter"]
        assert suitable["distance_m"] <= near["distance_m"]
        assert not items[suitable["key"]]["in_zone"]


@SQLITE
def test_hotspot_from_the_database(situation_app):
    hotspots = build(situation_app)["hotspots"]
    assert hotspots["count"] == 1
    spot = hotspots["items"][0]
    assert spot["count"] == 8 and spot["life_threat"] == 1 and spot["window"] == 0
    assert spot["by_category"] == {"inundation": 4, "road_flooding": 4}
    assert (
        spot["first_at"] == "2025-09-05T09:25:00+09:00"
        and spot["last_at"] == "2025-09-05T10:00:00+09:00"
    )
    assert spot["district"] is not None


@SQLITE
def test_text_report_has_the_key_numbers_and_is_deterministic(situation_app):
    doc = build(situation_app)
    text = summary.render_text_ja(doc)
    assert text == summary.render_text_ja(build(situation_app))  # same inputs, same bytes
    assert text.encode() == summary.render_text_ja(json.loads(json.dumps(doc))).encode()
    exposure = doc["exposure"]["hazards"]["inland_flood"]["people"]
    for fragment in (
        "焼津市 災害対策本部 状況報告",
        "時点：2025年9月5日 10時00分 現在",
        "対象とする災害：内水氾濫",
        "1 被害の概要",
        "受付事案 累計14件（対応中 13件、対応済み 1件）",
        "前回報告（2025年9月5日 9時00分）以降の新規受付 9件",
        "人命に関わるおそれのある事案 5件",
        "2 避難所の状況（内水氾濫）",
        "【危険】開設中だが内水氾濫の想定区域内にある避難所 5か所",
        "開設中で利用可能（内水氾濫の指定あり・想定区域外）5か所",
        "3 人的被害のおそれ",
        f"内水氾濫：約{exposure}人",
        "面積按分",
        "4 事案の集中",
        "H1",
        "8件",
        "直線距離",
        "\n出典：" + ATTRIBUTION_A.removeprefix("出典："),
    ):
        assert fragment in text, fragment
    assert "出典：出典：" not in text
    assert text.index("【危険】") < text.index("開設中で利用可能")  # unsafe shelters first
    for legacy in ("避難勧告", "避難準備・高齢者等避難開始", "避難準備情報", "災害発生情報"):
        assert legacy not in text


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@SQLITE
def test_png_map_is_a_valid_png(situation_app, tmp_path):
    with situation_app.app_context(), session_scope(get_storage(situation_app)) as session:
        result = summary.compute_situation(session, "inland_flood", SINCE, NOW)
    path = tmp_path / "map.png"
    summary.render_png(result, path)
    data = path.read_bytes()
    width, height = _png_size(data)
    assert (width, height) == (1350, 1650)
    assert 20_000 < len(data) < 5_000_000
    assert summary.png_bytes(result) == data  # deterministic
    _png_size(summary.png_bytes(result.doc))  # from the document alone (no frames)


@SQLITE
def test_png_without_a_cjk_font_still_renders(situation_app, monkeypatch, caplog):
    from disaster_ai import fonts

    monkeypatch.setattr(fonts, "SYSTEM_FAMILIES", ("No Such Font JP",))
    monkeypatch.setattr(fonts, "bundled_font_path", lambda: None)
    fonts.japanese_font.cache_clear()
    try:
        with situation_app.app_context(), session_scope(get_storage(situation_app)) as session:
            result = summary.compute_situation(session, "inland_flood", SINCE, NOW)
        data = summary.png_bytes(result)
    finally:
        fonts.japanese_font.cache_clear()
    assert _png_size(data) == (1350, 1650)
    assert "no Japanese font found" in caplog.text


@SQLITE
def test_api(situation_app, client, api_headers):
    headers = api_headers("operator")
    assert client.get("/api/v1/situation").status_code == 401
    response = client.get(
        "/api/v1/situation?hazard=inland_flood&since=2025-09-05T09:00:00%2B09:00", headers=headers
    )
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["schema"] == summary.SCHEMA and doc["shelters"]["counts"]["unsafe"] == 5
    assert doc["since"] == "2025-09-05T09:00:00+09:00"
    # An unencoded "+" arrives as a space; it still reads as the offset.
    assert (
        client.get("/api/v1/situation?since=2025-09-05T09:00:00+09:00", headers=headers).status_code
        == 200
    )
    bad = client.get("/api/v1/situation?hazard=tornado", headers=headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["details"]["fields"] == {
        "hazard": "unknown hazard"
    }
    naive = client.get("/api/v1/situation?since=2025-09-05T09:00:00", headers=headers)
    assert naive.status_code == 422 and "since" in naive.get_json()["error"]["details"]["fields"]
    assert client.get("/api/v1/situation?since=yesterday", headers=headers).status_code == 422
    assert client.get("/api/v1/situation?colour=red", headers=headers).status_code == 422
    text = client.get("/api/v1/situation.txt?hazard=flood", headers=headers)
    assert text.status_code == 200 and text.mimetype == "text/plain"
    assert "洪水に対応する指定避難所・指定緊急避難場所の指定はありません" in text.get_data(
        as_text=True
    )
    png = client.get("/api/v1/situation.png", headers=headers)
    assert png.status_code == 200 and png.mimetype == "image/png" and _png_size(png.data)[0] == 1350
    assert client.get("/api/v1/situation.png").status_code == 401
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/situation"]["get"]
    assert operation["x-required-permission"] == "situation.view"
    assert {p["name"] for p in operation["parameters"]} == {"hazard", "since"}


@SQLITE
def test_default_hazard_from_config(situation_app, client, api_headers):
    situation_app.config["SITUATION_HAZARD"] = "inland_flood"
    doc = client.get("/api/v1/situation", headers=api_headers("operator")).get_json()
    assert doc["hazard"]["code"] == "inland_flood"
    situation_app.config["SITUATION_HAZARD"] = None
    doc = client.get("/api/v1/situation", headers=api_headers("operator")).get_json()
    assert doc["hazard"] is None and doc["shelters"]["counts"]["open"] == 10
    assert "unsafe" not in {s["state"] for s in doc["shelters"]["items"]}


@SQLITE
def test_cli(situation_app, runner, tmp_path):
    result = runner.invoke(["situation", "--hazard", "inland_flood", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["shelters"]["counts"]["unsafe"] == 5
    result = runner.invoke(
        ["situation", "--hazard", "flood", "--text", "--since", "2025-09-05T09:00:00+09:00"]
    )
    assert result.exit_code == 0 and "洪水に対応する指定避難所" in result.output
    assert "前回報告（2025年9月5日 9時00分）以降の新規受付" in result.output
    path = tmp_path / "situation.png"
    result = runner.invoke(["situation", "--hazard", "inland_flood", "--png", str(path)])
    assert result.exit_code == 0 and _png_size(path.read_bytes()) == (1350, 1650)
    assert runner.invoke(["situation", "--since", "2025-09-05T09:00:00"]).exit_code == 2
    assert runner.invoke(["situation", "--hazard", "tornado"]).exit_code == 2


@SQLITE
def test_layers_are_prepared_once_per_version(situation_app):
    with situation_app.app_context(), session_scope(get_storage(situation_app)) as session:
        summary.build_situation(session, "inland_flood", None, NOW)
        cache = situation_app.extensions["disaster_ai.situation.layers"]
        (first,) = cache.values()
        summary.build_situation(session, "inland_flood", None, NOW)
        assert next(iter(cache.values())) is first
        frame = layer_store.load_layer(session, "districts")
        layer_store.store_layer_version(
            session, "districts", frame.iloc[:10], source_name="fewer.geojson"
        )
        doc = summary.build_situation(session, "inland_flood", None, NOW)
        assert len(doc["districts"]) == 10 and next(iter(cache.values())) is not first


@SQLITE
def test_naive_times_are_refused(situation_app):
    with pytest.raises(ValueError, match="timezone-aware"):
        build(situation_app, since=datetime(2025, 9, 5, 9, 0))
    with pytest.raises(ValueError, match="unknown hazard"):
        build(situation_app, hazard="tornado")
    assert (
        build(situation_app, since=datetime(2025, 9, 5, 0, 0, tzinfo=JST))["incidents"]["new_since"]
        == 14
    )


@SQLITE
def test_documents_match_the_json_schema_in_the_docs(situation_app):
    import re

    from jsonschema import Draft202012Validator

    from disaster_ai.config import REPO_ROOT

    text = (REPO_ROOT / "docs" / "situation.md").read_text(encoding="utf-8")
    schema = json.loads(
        re.search(r"<!-- situation-schema -->\s*```json\n(.*?)\n```", text, re.S).group(1)
    )
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for hazard, since in (("inland_flood", SINCE), ("flood", None), (None, SINCE)):
        doc = json.loads(
            json.dumps(build(situation_app, hazard=hazard, since=since), allow_nan=False)
        )
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


@SQLITE
def test_with_the_layers_of_the_real_importer(app, yaizu):
    """`disaster-ai init --sample yaizu` (the importer) gives the same facts."""
    with app.app_context(), session_scope(get_storage(app)) as session:
        for key in layer_store.load_layer(session, "shelters")["key"]:
            session.add(ShelterStatus(shelter_key=key, is_open=True, occupancy=0, updated_at=NOW))
    doc = build(app)
    assert doc["municipality"] == "焼津市"
    assert doc["shelters"]["counts"]["unsafe"] >= 5 and doc["shelters"]["designated_in_zone"] == 5
    designated_unsafe = {
        s["name"] for s in doc["shelters"]["items"] if s["state"] == "unsafe" and s["designated"]
    }
    assert designated_unsafe == IN_FLOOD_AREA
    assert doc["exposure"]["hazards"]["inland_flood"]["people"] > 0
    assert all(d["nearest_usable_shelter"] for d in doc["districts"])
    assert build(app, hazard="flood")["shelters"]["no_designated_shelter"] is True
    assert len(doc["attribution"]) >= 3


@SQLITE
def test_an_empty_database_gives_an_empty_document(app):
    doc = build(app)
    assert (
        doc["incidents"]["total"] == 0 and doc["districts"] == [] and doc["shelters"]["items"] == []
    )
    assert doc["shelters"]["no_designated_shelter"] is True and doc["hotspots"]["count"] == 0
    assert doc["exposure"]["hazards"] == {}
    assert "3 人的被害のおそれ" in summary.render_text_ja(doc)
    _png_size(summary.png_bytes(doc))
