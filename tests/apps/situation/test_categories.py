"""One registry of incident categories (dai_incident_categories): plugins add categories with
their Japanese and English words, map colour and symbol, and every surface uses them."""

from __future__ import annotations

import json
import re

import pytest

from disaster_ai import hookimpl
from disaster_ai.types import IncidentCategory

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
AT = {"lon": 138.3, "lat": 34.87}


class TreeFall:
    @hookimpl
    def dai_incident_categories(self):
        return [
            IncidentCategory("tree_fall", "倒木", "Fallen tree", "#14532d", "木", order=75),
            IncidentCategory("other", "そのほか", "Something else", "#374151", "他", order=1000),
            IncidentCategory("Bad Code", "x", "x", "red", "xx"),  # refused: code, colour, symbol
        ]


@sqlite_only
def test_hook_dai_incident_categories(app, client, api_headers, register_plugin, caplog):
    register_plugin(TreeFall(), name="tree_fall")
    headers = api_headers("operator")
    listed = client.get("/api/v1/incidents/categories", headers=headers).get_json()["categories"]
    by_code = {c["code"]: c for c in listed}
    assert by_code["tree_fall"] == {
        "code": "tree_fall",
        "ja": "倒木",
        "en": "Fallen tree",
        "label": "倒木",
        "colour": "#14532d",
        "symbol": "木",
    }
    codes = [c["code"] for c in listed]
    assert codes.index("building_damage") < codes.index("tree_fall") < codes.index("wind_damage")
    assert by_code["other"]["ja"] == "そのほか"  # a plugin's definition replaces the built-in one
    assert "Bad Code" not in by_code
    assert any("Bad Code" in m for m in caplog.messages)

    created = client.post(
        "/api/v1/incidents", json={"category": "tree_fall", **AT}, headers=headers
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["category_label"] == "倒木"
    incident_id = created.get_json()["id"]
    english = client.get(f"/api/v1/incidents/{incident_id}?lang=en", headers=headers)
    assert english.get_json()["category_label"] == "Fallen tree"
    listed = client.get("/api/v1/incidents?category=tree_fall", headers=headers).get_json()
    assert [i["id"] for i in listed["incidents"]] == [incident_id]
    unknown = client.post("/api/v1/incidents", json={"category": "meteor", **AT}, headers=headers)
    assert unknown.status_code == 422
    assert "category" in unknown.get_json()["error"]["details"]["fields"]


@sqlite_only
def test_the_map_and_the_report_use_the_registry(app, client, login, register_plugin):
    from disaster_ai.apps.situation.report.common import CATEGORY_JA

    register_plugin(TreeFall(), name="tree_fall")
    login("operator")
    page = client.get("/").get_data(as_text=True)
    strings = json.loads(re.search(r'id="dai-map-strings">(.*?)</script>', page, re.S).group(1))
    assert strings["categories"]["tree_fall"] == ["#14532d", "木"]
    assert strings["categories"]["river"] == ["#1d4ed8", "河"]
    with app.test_request_context():
        assert CATEGORY_JA["tree_fall"] == "倒木" and CATEGORY_JA["river"] == "河川"


def test_outside_an_app_the_built_in_categories_apply():
    from disaster_ai import categories
    from disaster_ai.apps.situation.models import INCIDENT_CATEGORIES

    assert categories.codes() == INCIDENT_CATEGORIES and "other" in INCIDENT_CATEGORIES
    assert all(categories.category_problems(c) == [] for c in categories.BUILTIN)
    assert categories.label("road_flooding", "ja") == "道路冠水"
    assert categories.label("road_flooding", "en") == "Road flooding"
