"""The desk's search box: one query finds towns by name or reading (kana, romaji), addresses,
districts, shelters and incidents, each linking to the map centred on it; the JSON API answers
in the one error format; plugins add their own results through ``dai_search``."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from disaster_ai import hookimpl
from disaster_ai.search import Matcher, fold, romaji_key
from disaster_ai.types import SearchResult

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def test_matcher_finds_a_name_by_its_reading_in_kana_or_romaji():
    reading = "オオガワ"
    assert Matcher("大川").score("大川", reading) == 100
    assert Matcher("大").score("大川", reading) == 80
    assert Matcher("おおがわ").score("大川", reading) == 70
    assert Matcher("オオガ").score("大川", reading) == 60
    for typed in ("ogawa", "Oogawa", "OGAWA", "ｏｇａｗａ"):
        assert Matcher(typed).score("大川", reading) == 70, typed
    assert Matcher("川").score("大川", reading) == 40
    assert Matcher("本町5").score("センター", "", "静岡県本町5-9-1") == 30
    assert Matcher("きた").score("大川", reading) == 0
    assert fold("オオ ガワ") == "おおがわ" and romaji_key("Ōgawa") == romaji_key("oogawa")


def _places(client, q):
    response = client.get("/api/v1/search", query_string={"q": q})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["results"]


@sqlite_only
def test_search_finds_towns_by_reading_shelters_districts_and_incidents(
    app, yaizu, client, login, api_headers
):
    from sqlalchemy import select

    from disaster_ai.apps.situation.models import GeoFeature, GeoLayerVersion
    from disaster_ai.apps.situation.search import _postal_readings
    from disaster_ai.kana import kana_to_romaji
    from disaster_ai.storage import get_storage, session_scope

    with app.test_request_context(), session_scope(get_storage(app)) as session:
        names = session.scalars(
            select(GeoFeature.name)
            .join(GeoLayerVersion, GeoLayerVersion.id == GeoFeature.version_id)
            .where(GeoLayerVersion.layer == "places", GeoLayerVersion.active.is_(True))
            .order_by(GeoFeature.id)
        ).all()
        readings = _postal_readings()  # the sample's places carry no reading: the postal data's
    # a town whose reading no other town shares
    name = next(
        n for n in names if readings.get(n) and list(readings.values()).count(readings[n]) == 1
    )
    kana = readings[name]
    login("operator")
    hiragana = "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in kana)
    town = type("Town", (), {"name": name})
    for query in (name, hiragana, kana, kana_to_romaji(kana).lower()):
        found = [r for r in _places(client, query) if r["kind"] == "town"]
        assert found and found[0]["label"] == town.name, (query, found[:3])
        link = urlparse(found[0]["url"])
        params = parse_qs(link.query)
        assert link.path == "/apps/situation"
        lat, lon = map(float, params["focus"][0].split(","))
        assert (lat, lon) == (found[0]["lat"], found[0]["lon"]) and 34 < lat < 36
    shelters = [r for r in _places(client, "コミュニティ防災センター") if r["kind"] == "shelter"]
    assert shelters and all("focus=" in r["url"] for r in shelters)
    address = [r for r in _places(client, "本町5-9") if r["kind"] == "shelter"]
    assert address, "a shelter is found by its address"
    assert [r for r in _places(client, "高新田") if r["kind"] == "district"]

    created = client.post(
        "/api/v1/incidents",
        json={"category": "inundation", "place_name": town.name, "description": "床上浸水の通報"},
        headers=api_headers("operator"),
    )
    assert created.status_code == 201, created.get_json()
    incident_id = created.get_json()["id"]
    by_number = _places(client, f"#{incident_id}")
    assert by_number[0]["kind"] == "incident"
    assert by_number[0]["url"].endswith(f"/incidents/{incident_id}")
    assert any(r["kind"] == "incident" for r in _places(client, "床上浸水"))

    page = client.get("/search", query_string={"q": hiragana})
    assert page.status_code == 200 and town.name in page.get_data(as_text=True)


@sqlite_only
def test_search_api_refuses_an_empty_or_long_query_in_the_error_format(app, client, login):
    login("operator")
    for q in ("", "   ", "あ" * 101):
        response = client.get("/api/v1/search", query_string={"q": q})
        assert response.status_code == 422
        assert response.get_json()["error"]["code"] == "invalid"
    assert client.get("/search?q=" + "あ" * 101).status_code == 422
    stranger = app.test_client()
    assert stranger.get("/api/v1/search?q=x").status_code == 401


class TidePlugin:
    @hookimpl
    def dai_search(self, query, actor, lang):
        if "潮位" not in query:
            return []
        label = "潮位計 港" if lang == "ja" else "Tide gauge, port"
        return [SearchResult("gauge", "gauge", label, "/apps/tide/1", "", 34.86, 138.32, 90)]


class BrokenPlugin:
    @hookimpl
    def dai_search(self, query, actor, lang):
        raise RuntimeError("the gauge server is down")


@sqlite_only
def test_hook_dai_search(app, client, login, register_plugin):
    register_plugin(TidePlugin(), name="tide")
    register_plugin(BrokenPlugin(), name="broken")
    login("operator")
    results = _places(client, "潮位")
    assert [(r["kind"], r["label"], r["url"]) for r in results] == [
        ("gauge", "潮位計 港", "/apps/tide/1")
    ]
