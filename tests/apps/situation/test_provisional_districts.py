"""Districts for a town without 自治会 polygons (provisional, from town points clipped to the
outline, or from e-Stat 小地域 with population), and the desk edit of a 指定避難所's hazards."""

from __future__ import annotations

import json

import pytest
import shapely

from disaster_ai.config import REPO_ROOT

PILOT = REPO_ROOT / "tests" / "fixtures" / "pilot" / "misato"
FORMATS = REPO_ROOT / "tests" / "fixtures" / "formats"
sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def ok(runner, *args):
    result = runner.invoke(list(args))
    assert result.exit_code == 0, (args, result.output)
    return json.loads(result.output) if "--json" in args else result.output


@sqlite_only
def test_provisional_districts_tile_the_outline_one_per_town_sorted_by_reading(app, runner):
    from disaster_ai.apps.situation import layers
    from disaster_ai.storage import get_storage, session_scope

    refused = runner.invoke(["geo", "derive-districts"])
    assert refused.exit_code == 1 and "municipality set --boundary" in refused.output
    ok(
        runner,
        "init",
        "--municipality",
        "054348",
        "--boundary",
        str(PILOT / "n03_boundary_05434.geojson"),
    )
    ok(runner, "geo", "import", "places", str(PILOT / "geolonia_towns_05434.json"))
    data = ok(runner, "geo", "derive-districts", "--json")
    assert data["feature_count"] == 24 and data["report"]["with_reading"] == 24
    with app.app_context(), session_scope(get_storage(app)) as session:
        frame = layers.load_layer(session, "districts")
    assert list(frame["name_kana"]) == sorted(frame["name_kana"])  # a pick list in 50音 order
    assert all(p["provisional"] for p in frame["props"])
    outline = shapely.geometry.shape(
        json.loads((PILOT / "n03_boundary_05434.geojson").read_text())["geometry"]
    )
    union = shapely.union_all(frame.geometry.values)
    assert abs(union.area - outline.area) / outline.area < 1e-6  # the town, whole
    assert sum(a.area for a in frame.geometry) == pytest.approx(union.area, rel=1e-6)  # no overlap
    places = json.loads((PILOT / "geolonia_towns_05434.json").read_text())
    rokugo = frame[frame["name"] == "六郷"].geometry.iloc[0]
    for place in places:  # every point of 六郷 (its 小字 too) lies in the 六郷 district
        if place["town"] == "六郷":
            assert rokugo.buffer(1e-9).contains(shapely.Point(place["lng"], place["lat"]))


@sqlite_only
def test_estat_small_areas_import_with_population_for_the_profile_town(app, runner):
    ok(runner, "init", "--municipality", "13101")
    data = ok(
        runner, "geo", "import", "districts",
        str(FORMATS / "estat_smallarea_2020_sample" / "r2ka13101.shp"), "--json",
    )  # fmt: skip
    assert data["feature_count"] == 115
    text = ok(runner, "situation", "--text")
    assert "e-Stat" in text.strip().splitlines()[-1]
    doc = ok(runner, "situation", "--json")
    assert sum(d["population"] for d in doc["districts"]) == 66_680


@sqlite_only
def test_a_desk_edit_makes_a_gsi_designated_shelter_suitable_for_a_hazard(app, runner):
    ok(runner, "init", "--municipality", "054348")
    ok(
        runner, "geo", "import", "shelters",
        str(PILOT / "gsi_emergency_sites_054348.csv"),
        str(PILOT / "gsi_designated_shelters_054348.csv"),
    )  # fmt: skip
    before = ok(runner, "situation", "--json", "--hazard", "flood")
    assert before["shelters"]["designated"] == 0
    assert before["shelters"]["kinds_without_hazard_data"] == ["designated_shelter"]
    refused = runner.invoke(["geo", "shelter-hazards", "美郷町宿泊交流施設ワクアス", "typhoon"])
    assert refused.exit_code == 1 and "typhoon" in refused.output
    edited = ok(
        runner,
        "geo",
        "shelter-hazards",
        "美郷町宿泊交流施設ワクアス",
        "洪水",
        "earthquake",
        "--json",
    )
    assert edited["hazards"] == ["flood", "earthquake"] and edited["before"] == []
    after = ok(runner, "situation", "--json", "--hazard", "flood")
    assert after["shelters"]["designated"] == 1
    assert after["shelters"]["designated_by_kind"] == {"emergency_site": 0, "designated_shelter": 1}
    layers = ok(runner, "geo", "layers", "--json")
    shelters = next(item for item in layers if item["layer"] == "shelters")
    assert shelters["active_version"] == 2 and len(shelters["versions"]) == 2
