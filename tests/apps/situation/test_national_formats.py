"""National open-data formats recognised from their columns (no --mapping): GSI shelters as
CSV (UTF-8 with BOM, Shift_JIS), GeoJSON and a Shapefile with 10-byte DBF names; town points
(Geolonia JSON and CSV, 位置参照情報); N03; A31; A33; 高潮 (A49); e-Stat 小地域 with population."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import shapely

from disaster_ai.apps.situation.importer import GeoImportError, read_layer
from disaster_ai.config import REPO_ROOT
from disaster_ai.municipality import table

PILOT = REPO_ROOT / "tests" / "fixtures" / "pilot"
FORMATS = REPO_ROOT / "tests" / "fixtures" / "formats"
ICHINOMIYA = table.by_jis("23203")
MISATO = table.by_jis("05434")
sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def hazard_counts(frame) -> Counter:
    return Counter(h for p in frame["props"] for h in p["hazards"])


@pytest.mark.parametrize(
    "file, encoding",
    [
        ("ichinomiya/gsi_emergency_sites_232033.csv", "utf-8-sig"),
        ("ichinomiya/gsi_emergency_sites_232033.geojson", None),
    ],
)
def test_gsi_emergency_sites_are_recognised_in_every_encoding(file, encoding):
    result = read_layer(PILOT / file, "shelters", None, municipality=ICHINOMIYA)
    assert result.report["mapping"] == "gsi_emergency_sites"
    assert result.report["mapping_detected"] is True
    assert result.report["encoding"] == encoding
    frame = result.frame
    assert len(frame) == 177 and set(p["kind"] for p in frame["props"]) == {"emergency_site"}
    assert hazard_counts(frame) == {
        "flood": 100,
        "inland_flood": 100,
        "earthquake": 77,
        "large_fire": 77,
    }


def test_shift_jis_csv_of_misato_reads_without_mojibake():
    sites = read_layer(PILOT / "misato" / "gsi_emergency_sites_054348.csv", "shelters", None)
    assert sites.report["encoding"] == "cp932" and len(sites.frame) == 30
    assert hazard_counts(sites.frame) == {
        "earthquake": 30,
        "large_fire": 30,
        "landslide": 8,
        "inland_flood": 8,
    }
    shelters = read_layer(PILOT / "misato" / "gsi_designated_shelters_054348.csv", "shelters")
    assert shelters.report["mapping"] == "gsi_shelters" and len(shelters.frame) == 37
    assert "美郷町宿泊交流施設ワクアス" in set(shelters.frame["name"])
    assert all(p["hazards"] == [] for p in shelters.frame["props"])  # GSI: no flags
    welfare = shelters.frame[shelters.frame["name"] == "美郷町宿泊交流施設ワクアス"]
    assert welfare["props"].iloc[0]["accepts"] == "要配慮者"


def test_gsi_shapefile_with_10_byte_dbf_names_in_plane_rectangular_needs_no_mapping():
    result = read_layer(
        FORMATS / "gsi_emergency_sites_232033_shp.zip", "shelters", None, municipality=ICHINOMIYA
    )
    assert result.report["mapping"] == "gsi_emergency_sites"
    assert result.report["encoding"] == "CP932" and result.report["source_crs"] == "EPSG:6675"
    assert result.report["reprojected"] is True
    assert hazard_counts(result.frame)["landslide"] == 0
    assert hazard_counts(result.frame)["large_fire"] == 77  # 「大規模な火」 in the DBF
    csv = read_layer(PILOT / "ichinomiya" / "gsi_emergency_sites_232033.csv", "shelters").frame
    joined = csv.merge(result.frame, on="key")
    assert len(joined) == 177
    assert list(joined["name_x"]) == list(joined["name_y"])  # no mojibake
    error_m = max(shapely.distance(joined["geometry_x"], joined["geometry_y"])) * 111_000
    assert error_m < 0.01


def test_geolonia_town_points_get_readings_from_the_postal_data():
    result = read_layer(
        PILOT / "ichinomiya" / "geolonia_towns_23203.json", "places", None, municipality=ICHINOMIYA
    )
    frame = result.frame
    assert (
        result.report["mapping"] == "geolonia_places" and result.report["format"] == "JSON records"
    )
    assert len(frame) == 2929
    towns = frame[[not p.get("koaza") for p in frame["props"]]]
    assert len(towns) == 420 and (towns["name_kana"] != "").all()
    first = towns.set_index("name").loc["相生一丁目"]
    assert first["name_kana"] == "アイオイイッチョウメ"
    with_koaza = frame[[bool(p.get("koaza")) for p in frame["props"]]]
    assert (with_koaza["name_kana"] == "").all()  # never a partial reading
    assert all(p.get("town_kana") for p in with_koaza["props"][:50])


def test_nationwide_town_csvs_keep_only_the_profile_municipality():
    geolonia = read_layer(
        FORMATS / "geolonia_latest_sample.csv", "places", None, municipality=MISATO
    )
    assert geolonia.report["mapping"] == "geolonia_places_csv"
    assert geolonia.report["municipality_rows"] == len(geolonia.frame) == 22
    isj = read_layer(FORMATS / "mlit_isj_oaza_sample.csv", "places", None, municipality=ICHINOMIYA)
    assert isj.report["mapping"] == "mlit_isj_oaza" and isj.report["encoding"] == "cp932"
    assert list(isj.frame["name"]) == ["相生一丁目", "相生二丁目"]
    assert list(isj.frame["name_kana"]) == ["アイオイイッチョウメ", "アイオイニチョウメ"]


def test_n03_gives_one_provisional_district_per_municipality_with_parts_merged():
    result = read_layer(
        FORMATS / "ksj_n03_sample.geojson", "districts", None, municipality=ICHINOMIYA
    )
    assert result.report["mapping"] == "ksj_n03_districts" and len(result.frame) == 1
    row = result.frame.iloc[0]
    assert row["name"] == "一宮市" and row["props"]["provisional"] is True
    assert row["props"]["parts"] == 2
    whole = shapely.geometry.shape(
        json.loads((PILOT / "ichinomiya" / "n03_boundary_23203.geojson").read_text())["geometry"]
    )
    assert row.geometry.symmetric_difference(whole).area < whole.area * 1e-6


def test_a_file_for_another_municipality_is_refused_by_name():
    with pytest.raises(GeoImportError, match="秋田県仙北郡美郷町"):
        read_layer(
            PILOT / "ichinomiya" / "gsi_emergency_sites_232033.csv",
            "shelters",
            None,
            municipality=MISATO,
        )


def test_a_national_format_in_the_wrong_layer_is_named():
    with pytest.raises(GeoImportError, match="shelters layer"):
        read_layer(PILOT / "misato" / "gsi_emergency_sites_054348.csv", "districts", None)


@pytest.mark.parametrize(
    "file, mapping, hazard, ranks",
    [
        ("ksj_a31a_sample.geojson", "ksj_a31a_flood_depth", "flood",
         [("3.0〜5.0m", 3), ("0.5〜3.0m", 2), ("0.5m未満", 1)]),
        ("ksj_a31_2012_sample.geojson", "ksj_a31_flood_depth_2012", "flood",
         [("1.0〜2.0m", 3), ("0.5〜1.0m", 2), ("0.5m未満", 1)]),
        ("ksj_a33_sample.geojson", "ksj_a33_landslide", "landslide",
         [("土砂災害特別警戒区域", 2), ("土砂災害警戒区域", 1)]),
        ("ksj_a49_sample.geojson", "ksj_a49_storm_surge", "storm_surge",
         [("1.0〜3.0m", 4), ("0.5〜1.0m", 3), ("0.3m未満", 1)]),
    ],
)  # fmt: skip
def test_ksj_hazard_layers_map_their_depth_or_zone_codes(file, mapping, hazard, ranks):
    result = read_layer(FORMATS / file, "hazard_zones", None)
    assert result.report["mapping"] == mapping
    props = list(result.frame["props"])
    assert {p["hazard"] for p in props} == {hazard}
    assert [(p["rank"], p["rank_order"]) for p in props] == ranks


def test_a33_pieces_of_one_zone_are_merged():
    result = read_layer(FORMATS / "ksj_a33_sample.geojson", "hazard_zones", None)
    yellow = result.frame[[p["rank"] == "土砂災害警戒区域" for p in result.frame["props"]]]
    assert len(yellow) == 1 and yellow["props"].iloc[0]["parts"] == 2


@pytest.mark.parametrize(
    "path, jis, areas, population, first",
    [
        ("estat_smallarea_2020_sample/r2ka13101.shp", "13101", 115, 66_680, ("丸の内一丁目", "マルノウチイッチョウメ")),
        ("estat_smallarea_2015_sample/h27ka13119.shp", "13119", 134, 561_916, ("大谷口１丁目", "オオヤグチイッチョウメ")),
    ],
)  # fmt: skip
def test_estat_small_areas_are_districts_with_population(path, jis, areas, population, first):
    result = read_layer(FORMATS / path, "districts", None, municipality=table.by_jis(jis))
    frame = result.frame
    assert result.report["encoding"] == "CP932"
    assert len(frame) == areas
    assert sum(p["population"] for p in frame["props"]) == population
    assert tuple(frame.iloc[0][["name", "name_kana"]]) == first
    assert all(p["provisional"] and "国勢調査" in p["population_source"] for p in frame["props"])
    if jis == "13101":  # 神田紺屋町: two pieces; the population sits on the smaller one
        konya = frame[frame["name"] == "神田紺屋町"].iloc[0]
        assert konya["props"]["population"] == 173 and konya["props"]["parts"] == 2


@sqlite_only
def test_geo_import_without_mapping_names_the_recognised_format(app, runner):
    runner.invoke(["init", "--municipality", "054348"])
    result = runner.invoke(
        ["geo", "import", "shelters",
         str(PILOT / "misato" / "gsi_emergency_sites_054348.csv"),
         str(PILOT / "misato" / "gsi_designated_shelters_054348.geojson")]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "mapping gsi_emergency_sites (recognised)" in result.output
    assert "mapping gsi_shelters (recognised)" in result.output
    assert "67 features" in result.output
    named = runner.invoke(
        ["geo", "import", "shelters", str(PILOT / "misato" / "gsi_emergency_sites_054348.csv"),
         "--mapping", "gsi_emergency_sites", "--json"]
    )  # fmt: skip
    assert named.exit_code == 0 and json.loads(named.output)["feature_count"] == 30


@sqlite_only
def test_prefecture_hazard_files_keep_the_zones_that_touch_the_outline(app, runner):
    boundary = str(PILOT / "misato" / "n03_boundary_05434.geojson")
    runner.invoke(["init", "--municipality", "054348", "--boundary", boundary])
    landslide = runner.invoke(
        ["geo", "import", "hazard_zones", str(FORMATS / "ksj_a33_sample.geojson"), "--json"]
    )
    assert landslide.exit_code == 0, landslide.output
    report = json.loads(landslide.output)["report"]["files"][0]
    assert report["mapping"] == "ksj_a33_landslide" and report["outside_outline"] == 0
    elsewhere = runner.invoke(
        ["geo", "import", "hazard_zones", str(FORMATS / "ksj_a31a_sample.geojson")]
    )  # the rings lie in 一宮市
    assert elsewhere.exit_code == 1 and "行政区域の外形" in elsewhere.output
