"""Geodata import with the real Yaizu layers: formats, Japanese CRSs and encodings, mappings,
bad input, versions and rollback, the CLI and the upload API."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from disaster_ai.apps.situation import importer, layers
from disaster_ai.apps.situation.importer import GeoImportError, read_layer
from disaster_ai.apps.situation.models import GeoLayerVersion
from disaster_ai.config import REPO_ROOT
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import AuditEvent

YAIZU = Path(REPO_ROOT) / "sample_data" / "yaizu"
MAPPINGS = YAIZU / "mappings"
SQLITE = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def read_sample(name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(YAIZU / name, engine="pyogrio")


def active_layer(app, layer: str) -> gpd.GeoDataFrame:
    with app.app_context(), session_scope(get_storage(app)) as session:
        return layers.load_layer(session, layer)


def versions(app, layer: str) -> list[tuple[int, bool, int]]:
    with session_scope(get_storage(app)) as session:
        return [
            (v.version, v.active, v.feature_count) for v in layers.layer_versions(session, layer)
        ]


def geo_events(app) -> int:
    with session_scope(get_storage(app)) as session:
        return session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "geo.import")
        )


def english(app):
    """CLI messages use BABEL_DEFAULT_LOCALE; the tests read the English ones."""
    app.config["BABEL_DEFAULT_LOCALE"] = "en"


def write_geojson(path: Path, features: list[dict], **extra) -> Path:
    path.write_text(
        json.dumps(
            {"type": "FeatureCollection", **extra, "features": features}, ensure_ascii=False
        ),
        encoding="utf-8",
    )
    return path


def point(lon, lat, **props) -> dict:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


def polygon(rings, **props) -> dict:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "Polygon", "coordinates": rings},
    }


# --- the sample kit through `init --sample yaizu` ----------------------------------------------


def test_sample_kit_loads_every_layer_with_the_real_facts(app, yaizu, runner):
    overview = {
        item["layer"]: item
        for item in json.loads(runner.invoke(["geo", "layers", "--json"]).output)
    }
    counts = {layer: item["feature_count"] for layer, item in overview.items()}
    assert counts == {"districts": 35, "places": 141, "shelters": 87, "hazard_zones": 6}
    assert "焼津市オープンデータカタログ" in overview["shelters"]["attribution"]
    assert overview["places"]["attribution"] == "Geolonia 住所データ (CC BY 4.0)"
    assert "e-Stat" in overview["districts"]["attribution"]
    assert overview["shelters"]["source_name"] == (
        "yaizu_designated_shelters.geojson + yaizu_emergency_evacuation_sites.geojson"
    )

    shelters = active_layer(app, "shelters")
    kinds = shelters["props"].map(lambda p: p["kind"])
    designated = shelters[kinds == "designated_shelter"]
    sites = shelters[kinds == "emergency_site"]
    assert len(designated) == 56 and len(sites) == 31

    boundary = read_sample("yaizu_city_boundary.geojson").geometry.iloc[0]
    assert designated.within(boundary).all()  # all 56 designated shelters fall inside the city

    flood_area = active_layer(app, "hazard_zones").union_all()
    inside = designated[designated.intersects(flood_area)]
    assert len(inside) == 5  # designated shelters inside the inland-flood assumed area
    assert "港小学校" in set(inside["name"])

    hazards = shelters["props"].map(lambda p: set(p["hazards"]))
    assert not any(
        "flood" in h for h in hazards[kinds == "emergency_site"]
    )  # no emergency site for 洪水
    # The mapping decision: nothing in Yaizu is designated for 洪水 or 高潮; 風水害時開設 → inland_flood.
    assert not any(h & {"flood", "storm_surge"} for h in hazards)
    assert sum("inland_flood" in h for h in hazards[kinds == "designated_shelter"]) > 0
    assert sum("landslide" in h for h in hazards[kinds == "emergency_site"]) == 5

    first = designated.set_index("key").loc["designated-1"]
    assert (
        first["name"] == "二区コミュニティ防災センター"
        and first["name_kana"] == "ニクコミニュティボウサイセンター"
    )
    assert first["props"]["floor_area_m2"] == 475.0
    assert (
        first["props"]["capacity"] == 135 and first["props"]["capacity_derived"] is True
    )  # 475 m² ÷ 3.5
    assert sites["props"].map(lambda p: p["capacity"] is None and not p["capacity_derived"]).all()

    districts = active_layer(app, "districts")
    assert districts["props"].map(lambda p: p["population"]).sum() > 100_000
    assert (
        districts["props"]
        .map(lambda p: p["population_source"].startswith("census2015_points"))
        .all()
    )
    zones = active_layer(app, "hazard_zones").sort_values("key")
    assert [p["rank_order"] for p in zones["props"]] == [1, 2, 3, 4, 5, 6]
    assert {p["hazard"] for p in zones["props"]} == {"inland_flood"}
    places = active_layer(app, "places")
    assert (
        places["name"].is_unique and places["props"].map(lambda p: p["district_key"] is None).all()
    )

    # `make run` runs `init --sample yaizu` every time: unchanged files add no version.
    again = runner.invoke(["init", "--sample", "yaizu", "--no-demo-users", "--json"])
    assert (
        "layers: districts 35 (unchanged), places 141 (unchanged), shelters 87 (unchanged), "
        "hazard_zones 6 (unchanged)"
    ) in json.loads(again.output)["loaded"]
    assert versions(app, "shelters") == [(1, True, 87)]


def test_the_sample_summary_line(app, runner):
    result = runner.invoke(["init", "--sample", "yaizu", "--no-demo-users", "--json"])
    assert (
        "layers: districts 35, places 141, shelters 87, hazard_zones 6"
        in json.loads(result.output)["loaded"]
    )
    assert geo_events(app) == 4


def test_reimport_keeps_the_previous_version_and_activate_rolls_back(app, yaizu, runner):
    result = runner.invoke(
        [
            "geo",
            "import",
            "shelters",
            str(YAIZU / "yaizu_designated_shelters.geojson"),
            "--mapping",
            str(MAPPINGS / "yaizu_designated_shelters.toml"),
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["version"] == 2 and summary["feature_count"] == 56 and summary["active"] is True
    assert versions(app, "shelters") == [(2, True, 56), (1, False, 87)]
    assert len(active_layer(app, "shelters")) == 56
    assert geo_events(app) == 5

    rolled = runner.invoke(["geo", "activate", "shelters", "1", "--json"])
    assert rolled.exit_code == 0, rolled.output
    assert versions(app, "shelters") == [(2, False, 56), (1, True, 87)]
    assert len(active_layer(app, "shelters")) == 87
    missing = runner.invoke(["geo", "activate", "shelters", "9"])
    assert missing.exit_code == 1 and "shelters has no version 9" in missing.output

    text = runner.invoke(["geo", "layers"]).output
    assert "shelters" in text and "v1" in text and "kept: v2" in text


def test_a_broken_second_file_leaves_the_active_version_untouched(app, yaizu, runner, tmp_path):
    english(app)
    broken = write_geojson(
        tmp_path / "sites.geojson",
        [
            point(138.32, 34.87, name="ok", kind="emergency_site"),
            {
                "type": "Feature",
                "properties": {"name": "no place", "kind": "emergency_site"},
                "geometry": None,
            },
        ],
    )
    result = runner.invoke(
        [
            "geo",
            "import",
            "shelters",
            str(YAIZU / "yaizu_designated_shelters.geojson"),
            str(broken),
            "--mapping",
            str(MAPPINGS / "yaizu_designated_shelters.toml"),
            "--mapping",
            "default_shelters",
        ]
    )
    assert result.exit_code == 1
    assert "Error: sites.geojson, row 2: missing geometry" in result.output
    assert versions(app, "shelters") == [(1, True, 87)]
    assert len(active_layer(app, "shelters")) == 87
    assert geo_events(app) == 4  # the sample's four imports, nothing more


# --- formats and Japanese data quirks ------------------------------------------------------------


def shapefile_zip(
    tmp_path: Path, frame: gpd.GeoDataFrame, *, name="避難所", cpg=True, prj=True, prj_text=None
) -> Path:
    folder = tmp_path / "shp"
    folder.mkdir(exist_ok=True)
    frame.to_file(folder / "shelters.shp", engine="pyogrio", encoding="cp932")
    if prj_text is not None:
        (folder / "shelters.prj").write_text(prj_text, encoding="ascii")
    archive = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in sorted(folder.iterdir()):
            if (part.suffix == ".cpg" and not cpg) or (part.suffix == ".prj" and not prj):
                continue
            z.write(part, part.name)
    return archive


def jgd2011_shelters() -> gpd.GeoDataFrame:
    """The designated shelters in JGD2011 plane rectangular zone VIII (Shizuoka, EPSG:6676), with
    Japanese column names (10 bytes at most in Shift_JIS, the .dbf limit)."""
    frame = read_sample("yaizu_designated_shelters.geojson")
    frame = frame[["no", "name", "name_kana", "address", "floor_area_m2", "geometry"]].rename(
        columns={
            "no": "番号",
            "name": "名称",
            "name_kana": "カナ",
            "address": "住所",
            "floor_area_m2": "床面積",
        }
    )
    return frame.to_crs(6676)


SHP_MAPPING = """
layer = "shelters"
attribution = "出典：テスト"
key_prefix = "shp-"
[columns]
key = "番号"
name = "名称"
name_kana = "カナ"
address = "住所"
floor_area_m2 = "床面積"
[constants]
kind = "designated_shelter"
"""


@pytest.mark.parametrize("with_cpg", [True, False], ids=["cpg", "sniffed"])
def test_zipped_shapefile_in_jgd2011_zone_viii_with_shift_jis(tmp_path, with_cpg):
    original = read_sample("yaizu_designated_shelters.geojson")
    archive = shapefile_zip(tmp_path, jgd2011_shelters(), cpg=with_cpg)
    mapping = importer.parse_mapping(SHP_MAPPING, "shp.toml")
    result = read_layer(archive, "shelters", mapping)
    frame = result.frame
    assert result.report["source_crs"] == "EPSG:6676" and result.report["reprojected"] is True
    assert result.report["encoding"].upper() in {"CP932", "SHIFT_JIS"}
    assert result.report["format"] == "Shapefile (zip)" and result.report["file"] == "避難所.zip"
    assert frame.crs.to_epsg() == 4326
    assert list(frame["name"]) == list(original["name"])  # Japanese names read back correctly
    assert frame["name"].iloc[0] == "二区コミュニティ防災センター"
    assert frame["props"].iloc[0]["address"] == "静岡県焼津市本町5-9-1"
    assert frame["key"].iloc[0] == "shp-1"
    np.testing.assert_allclose(
        shapely.get_coordinates(frame.geometry.values),
        shapely.get_coordinates(original.geometry.values),
        atol=1e-6,
    )


def test_shapefile_without_prj_needs_the_crs_in_the_mapping(tmp_path):
    archive = shapefile_zip(tmp_path, jgd2011_shelters(), prj=False)
    mapping = importer.parse_mapping(SHP_MAPPING, "shp.toml")
    with pytest.raises(GeoImportError) as caught:
        read_layer(archive, "shelters", mapping)
    assert caught.value.reason == "unknown_crs" and caught.value.row is None
    assert str(caught.value).startswith(
        "避難所.zip: no coordinate reference system: add the .prj file, or set crs"
    )
    fixed = importer.parse_mapping(
        SHP_MAPPING.replace("key_prefix", 'crs = "EPSG:6676"\nkey_prefix'), "shp.toml"
    )
    frame = read_layer(archive, "shelters", fixed).frame
    assert frame.total_bounds[0] == pytest.approx(138.27, abs=0.05)
    wrong = importer.parse_mapping(
        SHP_MAPPING.replace("key_prefix", 'crs = "EPSG:4326"\nkey_prefix'), "shp.toml"
    )
    with pytest.raises(
        GeoImportError,
        match=r"row 1: the coordinates are not longitude/latitude after reading "
        r"them as EPSG:4326",
    ):
        read_layer(archive, "shelters", wrong)


def test_shapefile_with_an_unreadable_prj_is_an_unknown_crs(tmp_path):
    archive = shapefile_zip(tmp_path, jgd2011_shelters(), prj_text='PROJCS["garbage",nonsense]')
    with pytest.raises(GeoImportError) as caught:
        read_layer(archive, "shelters", importer.parse_mapping(SHP_MAPPING, "shp.toml"))
    assert caught.value.reason == "unknown_crs"
    assert str(caught.value).startswith("避難所.zip: unknown coordinate reference system: ")


def test_shapefile_import_through_the_cli_stores_wgs84(app, runner, tmp_path):
    archive = shapefile_zip(tmp_path, jgd2011_shelters())
    mapping = tmp_path / "shp.toml"
    mapping.write_text(SHP_MAPPING, encoding="utf-8")
    result = runner.invoke(["geo", "import", "shelters", str(archive), "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    assert (
        "EPSG:6676 → EPSG:4326" in result.output
        and "capacity derived from floor area" in result.output
    )
    stored = active_layer(app, "shelters")
    assert stored["name"].iloc[0] == "二区コミュニティ防災センター"
    original = read_sample("yaizu_designated_shelters.geojson")
    assert stored.geometry.iloc[0].distance(original.geometry.iloc[0]) < 1e-6


def national_standard_csv(tmp_path: Path, encoding: str) -> Path:
    """The emergency sites written as a 自治体標準オープンデータセット 指定緊急避難場所一覧 CSV."""
    sites = read_sample("yaizu_emergency_evacuation_sites.geojson")
    columns = {
        "hz_flood": "洪水",
        "hz_landslide": "崖崩れ、土石流及び地滑り",
        "hz_storm_surge": "高潮",
        "hz_earthquake": "地震",
        "hz_tsunami": "津波",
        "hz_large_fire": "大規模な火事",
        "hz_inland_flooding": "内水氾濫",
        "hz_volcano": "火山現象",
    }
    header = ["ID", "名称", "名称_カナ", "住所", "緯度", "経度", *columns.values(), "想定収容人数"]
    lines = [",".join(header)]
    for row in sites.itertuples():
        flags = ["1" if getattr(row, c) else "" for c in columns]
        lines.append(
            ",".join(
                [
                    str(row.no),
                    row.name,
                    row.name_kana,
                    row.address,
                    f"{row.lat:.8f}",
                    f"{row.lon:.8f}",
                    *flags,
                    "120" if row.no == 1 else "",
                ]
            )
        )
    path = tmp_path / f"emergency_{encoding}.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig"])
def test_csv_with_latitude_longitude_and_the_national_standard_mapping(tmp_path, encoding):
    path = national_standard_csv(tmp_path, encoding)
    result = read_layer(path, "shelters", "national_standard_emergency_sites")
    frame = result.frame.set_index("key")
    sites = read_sample("yaizu_emergency_evacuation_sites.geojson")
    assert len(frame) == 31 and result.report["format"] == "CSV"
    assert result.report["encoding"] == ("cp932" if encoding == "cp932" else "utf-8-sig")
    first = frame.loc["emergency-1"]
    assert first["name"] == "中港タワー" and first["name_kana"] == "ナカミナトタワー"
    assert (
        first["props"]["hazards"] == ["tsunami", "earthquake"] and first["props"]["capacity"] == 120
    )
    assert (
        first["props"]["kind"] == "emergency_site" and first["props"]["capacity_derived"] is False
    )
    assert (
        sum("landslide" in p["hazards"] for p in frame["props"])
        == int(sites["hz_landslide"].sum())
        == 5
    )
    np.testing.assert_allclose(
        shapely.get_coordinates(result.frame.geometry.values),
        shapely.get_coordinates(sites.geometry.values),
        atol=1e-6,
    )


def test_csv_with_plain_lat_lon_columns_and_the_default_mapping(tmp_path):
    towns = read_sample("yaizu_town_points_geolonia.geojson")
    lines = ["name,lat,lon"] + [f"{t.town}{t.koaza},{t.lat},{t.lng}" for t in towns.itertuples()]
    path = tmp_path / "towns.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = read_layer(path, "places", None)
    assert len(result.frame) == 141 and result.frame["key"].iloc[0] == "places-1"
    assert result.frame["name"].iloc[0] == "相川"
    assert result.frame.geometry.iloc[0].x == pytest.approx(138.259178, abs=1e-9)


def test_gsi_mappings_read_the_gsi_files_and_agree_with_the_city(tmp_path):
    gsi = read_layer(
        YAIZU / "gsi_emergency_sites_222127.geojson", "shelters", "gsi_emergency_sites"
    ).frame
    city = read_layer(
        YAIZU / "yaizu_emergency_evacuation_sites.geojson",
        "shelters",
        MAPPINGS / "yaizu_emergency_sites.toml",
    ).frame
    assert len(gsi) == 31 and gsi["key"].iloc[0] == "emergency-E2221200001201"
    assert sorted(tuple(p["hazards"]) for p in gsi["props"]) == sorted(
        tuple(p["hazards"]) for p in city["props"]
    )
    assert not any("flood" in p["hazards"] for p in gsi["props"])
    shelters = read_layer(
        YAIZU / "gsi_designated_shelters_222127.geojson", "shelters", "gsi_shelters"
    ).frame
    assert len(shelters) == 56 and all(p["hazards"] == [] for p in shelters["props"])
    assert "国土地理院" in importer.load_mapping("gsi_shelters").attribution


def test_invalid_polygon_is_repaired_and_reported(tmp_path):
    bow_tie = [
        [[138.30, 34.85], [138.31, 34.86], [138.31, 34.85], [138.30, 34.86], [138.30, 34.85]]
    ]
    square = [[[138.32, 34.85], [138.33, 34.85], [138.33, 34.86], [138.32, 34.86], [138.32, 34.85]]]
    path = write_geojson(
        tmp_path / "districts.geojson",
        [
            polygon(square, key="A", name="正方形", population="1,234"),
            polygon(bow_tie, key="B", name="蝶ネクタイ", population=None),
        ],
    )
    result = read_layer(path, "districts", None)
    assert result.report["repaired"]["count"] == 1 and result.report["repaired"]["keys"] == ["B"]
    assert "Self-intersection" in result.report["repaired"]["reasons"]["B"]
    assert result.frame.is_valid.all()
    repaired = result.frame.geometry.iloc[1]
    assert repaired.geom_type == "MultiPolygon" and repaired.area == pytest.approx(
        0.00005, rel=1e-6
    )
    assert [p["population"] for p in result.frame["props"]] == [1234, None]


def test_capacity_derivation_follows_the_setting(tmp_path):
    path = YAIZU / "yaizu_designated_shelters.geojson"
    mapping = MAPPINGS / "yaizu_designated_shelters.toml"
    two = read_layer(path, "shelters", mapping, m2_per_person=2.0)
    assert two.frame["props"].iloc[0]["capacity"] == 237 and two.report["capacity_derived"] == 55
    assert importer.DefaultConfig.SHELTER_M2_PER_PERSON == 3.5
    no_area = [p for p in two.frame["props"] if p["floor_area_m2"] is None]
    assert no_area and all(
        p["capacity"] is None and p["capacity_derived"] is False for p in no_area
    )


def test_a_geopackage_in_jgd2011_geographic_is_read(tmp_path):
    frame = read_sample("yaizu_jichikai_areas.geojson").to_crs(6668)
    frame.to_file(tmp_path / "areas.gpkg", layer="自治会", engine="pyogrio")
    result = read_layer(tmp_path / "areas.gpkg", "districts", MAPPINGS / "yaizu_districts.toml")
    assert len(result.frame) == 35 and result.report["source_crs"] == "EPSG:6668"
    assert result.frame["name"].iloc[0] == "高新田自治会"


# --- bad input: precise messages, nothing imported ------------------------------------------------


def bad_inputs(tmp_path: Path):
    big = write_geojson(tmp_path / "big.geojson", [point(138.3, 34.8, name="x" * 500)])
    polygons = write_geojson(
        tmp_path / "areas.geojson",
        [polygon([[[138.30, 34.85], [138.31, 34.85], [138.31, 34.86], [138.30, 34.85]]], name="a")],
    )
    nogeom = write_geojson(
        tmp_path / "nogeom.geojson",
        [
            point(138.3, 34.8, name="a"),
            point(138.3, 34.8, name="b"),
            {"type": "Feature", "properties": {"name": "c"}, "geometry": None},
        ],
    )
    empty = tmp_path / "empty.geojson"
    empty.write_bytes(b"")
    nofeatures = write_geojson(tmp_path / "nofeatures.geojson", [])
    garbage = tmp_path / "garbage.gpkg"
    garbage.write_bytes(b"not a geopackage at all")
    badcrs = write_geojson(
        tmp_path / "badcrs.geojson",
        [point(1, 2, name="a")],
        crs={"type": "name", "properties": {"name": "EPSG:999999"}},
    )
    dupes = write_geojson(
        tmp_path / "dupes.geojson",
        [
            point(138.3, 34.8, key="k1", name="a"),
            point(138.3, 34.8, key="k2", name="b"),
            point(138.3, 34.8, key="k1", name="c"),
        ],
    )
    xlsx = tmp_path / "shelters.xlsx"
    xlsx.write_bytes(b"PK\x03\x04")
    csv_bad = tmp_path / "bad.csv"
    csv_bad.write_text("name,緯度,経度\na,34.8,138.3\nb,北緯34度,138.3\n", encoding="utf-8")
    csv_nolatlon = tmp_path / "nolatlon.csv"
    csv_nolatlon.write_text("name,address\na,焼津市\n", encoding="utf-8")
    return {
        "too_large": (
            big,
            "places",
            None,
            {"max_bytes": 100},
            "big.geojson: the file is {size} bytes, over the limit of 100 bytes (GEO_IMPORT_MAX_BYTES)",
        ),
        "empty": (empty, "places", None, {}, "empty.geojson: the file is empty"),
        "no_features": (
            nofeatures,
            "places",
            None,
            {},
            "nofeatures.geojson: the file has no features",
        ),
        "missing_geometry": (nogeom, "places", None, {}, "nogeom.geojson, row 3: missing geometry"),
        "wrong_type": (
            polygons,
            "shelters",
            "default_shelters",
            {},
            "areas.geojson, row 1: wrong geometry type Polygon; the shelters layer takes Point",
        ),
        "wrong_type_polygon_layer": (
            nogeom,
            "districts",
            None,
            {},
            "nogeom.geojson, row 3: missing geometry",
        ),
        "unreadable": (garbage, "places", None, {}, "garbage.gpkg: cannot read the file: "),
        "unknown_crs": (
            badcrs,
            "places",
            None,
            {},
            "badcrs.geojson: unknown coordinate reference system EPSG:999999",
        ),
        "duplicate_key": (
            dupes,
            "places",
            None,
            {},
            "dupes.geojson, row 3: the key k1 is already used by row 1 of dupes.geojson; keys must be "
            "unique (set key_prefix in each file's mapping)",
        ),
        "unsupported": (
            xlsx,
            "places",
            None,
            {},
            "shelters.xlsx: unsupported file type .xlsx; use GeoJSON (.geojson, "
            ".json), GeoPackage (.gpkg), a zipped Shapefile (.zip) or CSV (.csv)",
        ),
        "missing_column": (
            dupes,
            "shelters",
            "gsi_emergency_sites",
            {},
            "dupes.geojson: the mapping gsi_emergency_sites names the column 共通ID for key, but the "
            "file has no such column (columns: key, name)",
        ),
        "bad_csv_number": (
            csv_bad,
            "places",
            None,
            {},
            "bad.csv, row 2: the latitude/longitude 北緯34度, 138.3 is not a pair of numbers",
        ),
        "csv_without_lat_lon": (
            csv_nolatlon,
            "places",
            None,
            {},
            "nolatlon.csv: no latitude/longitude columns; name them with [csv] lat and lon in the "
            "mapping (columns: name, address)",
        ),
    }


BAD_CASES = [
    "too_large",
    "empty",
    "no_features",
    "missing_geometry",
    "wrong_type",
    "wrong_type_polygon_layer",
    "unreadable",
    "unknown_crs",
    "duplicate_key",
    "unsupported",
    "missing_column",
    "bad_csv_number",
    "csv_without_lat_lon",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_gets_a_message_naming_file_row_and_problem(tmp_path, case):
    path, layer, mapping, kwargs, expected = bad_inputs(tmp_path)[case]
    expected = expected.replace("{size}", str(path.stat().st_size))
    with pytest.raises(GeoImportError) as caught:
        read_layer(path, layer, mapping, **kwargs)
    assert str(caught.value).startswith(expected), str(caught.value)
    assert caught.value.file == path.name


def test_a_wrong_geometry_type_for_a_polygon_layer(tmp_path):
    path = write_geojson(tmp_path / "points.geojson", [point(138.3, 34.8, name="a")])
    with pytest.raises(
        GeoImportError,
        match=r"^points.geojson, row 1: wrong geometry type Point; the districts layer "
        r"takes Polygon, MultiPolygon$",
    ):
        read_layer(path, "districts", None)


@pytest.mark.parametrize(
    "text, problem",
    [
        ('layer = "shelters"\n[columns]\nname = "name"\n', "a shelters mapping needs the kind"),
        ('layer = "rivers"\n', "the mapping must say which layer it is for"),
        ('layer = "places"\ncolums = {}\n', "unknown setting colums in the mapping"),
        (
            'layer = "places"\n[columns]\nname = "name"\n[hazards]\ntyphoon = "x"\n',
            "unknown hazard typhoon in [hazards]",
        ),
        ('layer = "places"\n[columns\n', "the mapping is not valid TOML"),
        (
            'layer = "hazard_zones"\n[columns]\nname = "n"\nrank = "r"\n[constants]\nhazard = "flood"\n',
            "a hazard_zones mapping needs rank_order",
        ),
    ],
)
def test_bad_mappings_are_named(text, problem):
    with pytest.raises(GeoImportError) as caught:
        importer.parse_mapping(text, "my.toml")
    assert str(caught.value).startswith(f"my.toml: {problem}") and caught.value.reason == "mapping"


def test_mapping_for_another_layer_and_unknown_names(tmp_path):
    with pytest.raises(
        GeoImportError, match="^default_places: the mapping is for the places layer, not shelters$"
    ):
        read_layer(YAIZU / "yaizu_designated_shelters.geojson", "shelters", "default_places")
    with pytest.raises(
        GeoImportError, match="^nothing_like_this: no mapping file or built-in mapping named"
    ):
        importer.load_mapping("nothing_like_this")
    with pytest.raises(GeoImportError, match="3 mappings for 2 files"):
        importer.pair_mappings(["a", "b"], ["default_places"] * 3, "places")


def test_hazard_zone_rank_not_in_the_ranks_table(tmp_path):
    square = [[[138.32, 34.85], [138.33, 34.85], [138.33, 34.86], [138.32, 34.86], [138.32, 34.85]]]
    path = write_geojson(
        tmp_path / "zones.geojson",
        [
            polygon(square, max_depth_class="0.3m未満の区域", fill=""),
            polygon(square, max_depth_class="20m以上", fill=""),
        ],
    )
    with pytest.raises(
        GeoImportError,
        match=r"^zones.geojson, row 2: rank 20m以上 is not listed in the mapping's "
        r"\[ranks\] table",
    ):
        read_layer(path, "hazard_zones", MAPPINGS / "yaizu_inland_flood.toml")


@SQLITE
@pytest.mark.parametrize("case", ["too_large", "unknown_crs", "missing_column", "duplicate_key"])
def test_the_cli_exits_1_with_the_message_and_writes_nothing(app, runner, tmp_path, case):
    english(app)
    path, layer, mapping, kwargs, expected = bad_inputs(tmp_path)[case]
    expected = expected.replace("{size}", str(path.stat().st_size))
    if "max_bytes" in kwargs:
        app.config["GEO_IMPORT_MAX_BYTES"] = kwargs["max_bytes"]
    args = ["geo", "import", layer, str(path)] + (["--mapping", mapping] if mapping else [])
    result = runner.invoke(args)
    assert result.exit_code == 1
    assert f"Error: {expected}" in result.output
    with session_scope(get_storage(app)) as session:
        assert session.scalar(select(func.count(GeoLayerVersion.id))) == 0
    assert geo_events(app) == 0


# --- the API ---------------------------------------------------------------------------------


def multipart(**files: Path) -> tuple[bytes, str]:
    """A multipart body built in memory: for big bodies the test client would spool to a
    temporary file that it never closes (a ResourceWarning under filterwarnings=error)."""
    fields = {
        name: FileStorage(io.BytesIO(path.read_bytes()), path.name) for name, path in files.items()
    }
    boundary, body = encode_multipart(fields)
    return body, f"multipart/form-data; boundary={boundary}"


def upload(client, headers, layer, files, **form):
    data = {"files": [(open(path, "rb"), name or Path(path).name) for path, name in files], **form}
    try:
        return client.post(
            f"/api/v1/layers/{layer}?lang=en",
            data=data,
            headers=headers,
            content_type="multipart/form-data",
        )
    finally:
        for handle, _name in data["files"]:
            handle.close()


def test_api_lists_layers_and_serves_geojson(app, yaizu, client, api_headers):
    operator = api_headers("operator")
    listing = client.get("/api/v1/layers", headers=operator)
    assert listing.status_code == 200
    by_layer = {item["layer"]: item for item in listing.get_json()["layers"]}
    assert (
        by_layer["shelters"]["active_version"] == 1
        and by_layer["shelters"]["versions"][0]["feature_count"] == 87
    )
    response = client.get("/api/v1/layers/shelters", headers=operator)
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    collection = response.get_json()
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 87
    assert collection["version"] == 1 and "焼津市" in collection["attribution"]
    feature = next(f for f in collection["features"] if f["id"] == "designated-1")
    assert (
        feature["properties"]["capacity_derived"] is True and feature["geometry"]["type"] == "Point"
    )
    missing = client.get("/api/v1/layers/rivers?lang=en", headers=operator)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    assert "rivers" in missing.get_json()["error"]["message"]
    assert client.get("/api/v1/layers/shelters").status_code == 401


@SQLITE
def test_api_upload_success_422_413_and_403(app, yaizu, client, api_headers):
    admin = api_headers("admin")
    designated = YAIZU / "yaizu_designated_shelters.geojson"
    mapping = MAPPINGS / "yaizu_designated_shelters.toml"

    forbidden = upload(client, api_headers("operator"), "shelters", [(designated, None)])
    assert forbidden.status_code == 403 and forbidden.get_json()["error"]["code"] == "forbidden"

    with mapping.open("rb") as m:
        ok = client.post(
            "/api/v1/layers/shelters",
            headers=admin,
            content_type="multipart/form-data",
            data={
                "files": [(designated.open("rb"), "指定避難所.geojson")],
                "mapping_file": (m, "yaizu_designated_shelters.toml"),
            },
        )
    assert ok.status_code == 201, ok.get_json()
    body = ok.get_json()
    assert (
        body["version"] == 2
        and body["feature_count"] == 56
        and body["source_name"] == "指定避難所.geojson"
    )
    assert body["report"]["files"][0]["mapping"] == "yaizu_designated_shelters.toml"

    gsi = upload(
        client,
        admin,
        "shelters",
        [(YAIZU / "gsi_emergency_sites_222127.geojson", None)],
        mapping="gsi_emergency_sites",
    )
    assert gsi.status_code == 201 and gsi.get_json()["feature_count"] == 31

    broken = YAIZU / "yaizu_jichikai_areas.geojson"  # polygons are no shelters
    bad = upload(
        client,
        admin,
        "shelters",
        [(designated, None), (broken, "areas.geojson")],
        mapping=["gsi_shelters", "default_shelters"],
    )
    assert bad.status_code == 422
    error = bad.get_json()["error"]
    assert error["code"] == "invalid"
    assert (
        error["details"]["file"] == "yaizu_designated_shelters.geojson"
        and error["details"]["row"] is None
    )
    assert "共通ID" in error["details"]["problem"]

    wrong_type = upload(
        client, admin, "shelters", [(broken, "areas.geojson")], mapping="default_shelters"
    )
    assert wrong_type.status_code == 422
    assert wrong_type.get_json()["error"]["details"] == {
        "file": "areas.geojson",
        "row": 1,
        "reason": "wrong_geometry_type",
        "problem": "wrong geometry type Polygon; the shelters layer takes Point",
    }
    assert wrong_type.get_json()["error"]["message"] == (
        "areas.geojson, row 1: wrong geometry type Polygon; the shelters layer takes Point"
    )

    mapping_path = str(MAPPINGS / "yaizu_designated_shelters.toml")  # a path is not a built-in name
    by_path = upload(client, admin, "shelters", [(designated, None)], mapping=mapping_path)
    assert by_path.status_code == 422
    assert by_path.get_json()["error"]["details"]["reason"] == "mapping"
    assert "no mapping file or built-in mapping named" in by_path.get_json()["error"]["message"]

    app.config["GEO_IMPORT_MAX_BYTES"] = 10_000
    too_large = upload(client, admin, "shelters", [(designated, None)], mapping="default_shelters")
    assert too_large.status_code == 413
    assert too_large.get_json()["error"]["details"]["reason"] == "too_large"
    assert "over the limit of 10000 bytes" in too_large.get_json()["error"]["message"]
    big = YAIZU / "yaizu_inland_flood_assumed_area.geojson"
    body, content_type = multipart(files=big)
    body_too_large = client.post(
        "/api/v1/layers/hazard_zones?lang=en", data=body, headers=admin, content_type=content_type
    )
    assert (
        body_too_large.status_code == 413
        and body_too_large.get_json()["error"]["code"] == "too_large"
    )

    with session_scope(get_storage(app)) as session:
        assert [v.version for v in layers.layer_versions(session, "shelters")] == [3, 2, 1]
        assert layers.active_version(session, "shelters").version == 3


@SQLITE
def test_a_browser_session_uploads_more_than_max_content_length(app, client, login, users):
    from disaster_ai.testing import csrf_token_from

    login("admin")
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    hazard_file = YAIZU / "yaizu_inland_flood_assumed_area.geojson"
    assert hazard_file.stat().st_size > app.config["MAX_CONTENT_LENGTH"]
    body, content_type = multipart(
        files=hazard_file, mapping_file=MAPPINGS / "yaizu_inland_flood.toml"
    )
    response = client.post(
        "/api/v1/layers/hazard_zones",
        headers={"X-CSRFToken": token},
        data=body,
        content_type=content_type,
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["feature_count"] == 6
    with session_scope(get_storage(app)) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "geo.import"))
        assert (
            event.actor_name == "admin"
            and event.app == "situation"
            and event.target == "layer:hazard_zones"
        )


# --- CLI output ------------------------------------------------------------------------------------


@SQLITE
def test_cli_json_output_and_mappings_list(app, runner):
    result = runner.invoke(
        [
            "geo",
            "import",
            "hazard_zones",
            str(YAIZU / "yaizu_inland_flood_assumed_area.geojson"),
            "--mapping",
            str(MAPPINGS / "yaizu_inland_flood.toml"),
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {
        "layer": "hazard_zones",
        "version": 1,
        "active": True,
        "feature_count": 6,
    }.items() <= data.items()
    assert (
        data["report"]["files"][0]["source_crs"] == "EPSG:4326"
        and data["report"]["repaired"]["count"] == 0
    )
    assert data["attribution"].startswith("出典：焼津市オープンデータカタログ（焼津市）")
    listed = json.loads(runner.invoke(["geo", "layers", "--json"]).output)
    assert [item["layer"] for item in listed] == ["districts", "places", "shelters", "hazard_zones"]
    assert listed[3]["versions"][0]["imported_by"] == "system"
    names = {
        m["name"]: m["layer"]
        for m in json.loads(runner.invoke(["geo", "mappings", "--json"]).output)
    }
    assert (
        names["national_standard_emergency_sites"] == "shelters"
        and names["gsi_emergency_sites"] == "shelters"
    )
    assert names["default_districts"] == "districts"
