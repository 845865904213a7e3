"""What the operator sees and does with a triaged call (stub engine, real facts): the 要確認
flag with its reasons, the top-3 places as one-click confirm buttons, possible duplicates that
are proposed and never merged, and further incidents recorded one by one."""

from __future__ import annotations

import io
import itertools

import pytest
from call_helpers import audio_bytes, multipart
from sqlalchemy import func, select

from disaster_ai.apps.situation.models import Incident
from disaster_ai.jobs.service import runner_for
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.testing import csrf_token_from

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


# a different clip each time: the same bytes twice would be one call (a duplicate upload)
_CLIPS = itertools.cycle([f"d0{n}.wav" for n in range(1, 9)])


def call_with(app, client, headers, stub_engine, text: str) -> dict:
    stub_engine.texts = [text]
    body, content_type = multipart({"files": [(io.BytesIO(audio_bytes(next(_CLIPS))), "call.wav")]})
    response = client.post("/api/v1/calls", data=body, headers=headers, content_type=content_type)
    assert response.status_code == 202, response.get_json()
    call_id = response.get_json()["calls"][0]["id"]
    runner_for(app).run_pending()
    return client.get(f"/api/v1/calls/{call_id}", headers=headers).get_json()


def incident_count(app) -> int:
    with session_scope(get_storage(app)) as session:
        return session.scalar(
            select(func.count()).select_from(Incident).where(Incident.merged_into.is_(None))
        )


def test_an_unsure_danger_is_shown_to_check_with_its_reasons(
    app, client, login, api_headers, yaizu, stub_engine
):
    call = call_with(
        app, client, api_headers("operator"), stub_engine, "本町二丁目で煙が上がっています。"
    )
    facts = call["facts"]
    assert (facts["category"], facts["life_threat_level"], facts["life_threat"]) == (
        "fire",
        "check",
        True,
    )
    login("operator")
    page = client.get(f"/apps/calls/{call['id']}").get_data(as_text=True)
    assert "要確認" in page and "life-check" in page
    with session_scope(get_storage(app)) as session:
        assert session.get(Incident, call["incident_id"]).life_threat is True  # never silent


def test_one_click_confirms_a_proposed_place(app, client, login, api_headers, yaizu, stub_engine):
    # 西小川 exists only with 丁目: unresolved, but proposed first
    call = call_with(
        app,
        client,
        api_headers("operator"),
        stub_engine,
        "西小川五丁目の交差点で電柱が倒れています。",
    )
    assert call["facts"]["place"]["name"] == "西小川五丁目"
    candidates = [c["name"] for c in call["facts"]["candidates"]]
    assert 1 <= len(candidates) <= 3
    login("operator")
    page = client.get(f"/apps/calls/{call['id']}").get_data(as_text=True)
    for name in candidates:
        assert f'name="pick_place" value="{name}"' in page
    # a place that was not proposed cannot be slipped in through the button
    token = csrf_token_from(page)
    response = client.post(
        f"/apps/calls/{call['id']}/confirm",
        data={"csrf_token": token, "category": "infrastructure", "pick_place": "高崎"},
    )
    assert response.status_code == 302
    with session_scope(get_storage(app)) as session:
        assert session.get(Incident, call["incident_id"]).status == "unverified"
    response = client.post(
        f"/apps/calls/{call['id']}/confirm",
        data={
            "csrf_token": token,
            "place_name": "",
            "category": "infrastructure",
            "pick_place": candidates[0],
        },
    )
    assert response.status_code == 302
    with session_scope(get_storage(app)) as session:
        incident = session.get(Incident, call["incident_id"])
        assert (incident.status, incident.place_name) == ("confirmed", candidates[0])


def test_a_second_call_about_the_same_place_is_proposed_for_merging_never_merged(
    app, client, login, api_headers, yaizu, stub_engine
):
    headers = api_headers("operator")
    first = call_with(app, client, headers, stub_engine, "栄町三丁目の道路が冠水しています。")
    second = call_with(
        app, client, headers, stub_engine, "えっと、栄町三丁目の交差点、冠水して車が通れません。"
    )
    other = call_with(app, client, headers, stub_engine, "栄町三丁目で停電しています。")
    assert first["facts"]["duplicates"] == []
    assert [d["incident_id"] for d in second["facts"]["duplicates"]] == [first["incident_id"]]
    assert other["facts"]["duplicates"] == []  # another category is another incident
    assert incident_count(app) == 3  # all three kept: nothing merged silently
    login("operator")
    page = client.get(f"/apps/calls/{second['id']}").get_data(as_text=True)
    assert "重複の可能性" in page
    assert f"/apps/situation/incidents/{first['incident_id']}" in page


def test_further_incidents_are_recorded_one_by_one(
    app, client, login, api_headers, yaizu, stub_engine
):
    headers = api_headers("operator")
    call = call_with(
        app,
        client,
        headers,
        stub_engine,
        "停電しています。それと、家の前の道路が冠水して車が通れません。大村三丁目です。",
    )
    proposals = call["facts"]["proposals"]
    assert len(proposals) == 1
    assert {call["facts"]["category"], proposals[0]["category"]} == {
        "power_outage",
        "road_flooding",
    }
    assert incident_count(app) == 1  # only the main incident until the operator says so
    login("operator")
    page = client.get(f"/apps/calls/{call['id']}").get_data(as_text=True)
    assert "この通報のほかの事案" in page
    response = client.post(
        f"/apps/calls/{call['id']}/proposals/1", data={"csrf_token": csrf_token_from(page)}
    )
    assert response.status_code == 302
    again = client.post(f"/api/v1/calls/{call['id']}/proposals/1", headers=headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"
    assert (
        client.post(f"/api/v1/calls/{call['id']}/proposals/5", headers=headers).status_code == 404
    )
    after = client.get(f"/api/v1/calls/{call['id']}", headers=headers).get_json()
    created = after["facts"]["proposals"][0]["incident_id"]
    with session_scope(get_storage(app)) as session:
        incident = session.get(Incident, created)
        assert (incident.category, incident.place_name, incident.status) == (
            proposals[0]["category"],
            "大村三丁目",
            "unverified",
        )
    assert incident_count(app) == 2


def test_a_landmark_call_gets_its_incident_at_the_shelter(
    app, client, api_headers, yaizu, stub_engine
):
    call = call_with(
        app, client, api_headers("operator"), stub_engine, "大富小学校の前の道路が冠水しています。"
    )
    assert call["facts"]["place"]["name"] == "大富小学校"
    with session_scope(get_storage(app)) as session:
        incident = session.get(Incident, call["incident_id"])
        assert incident.place_name == "大富小学校" and incident.lon is not None


def test_the_call_and_its_incident_link_each_other_and_the_call_maps_the_place(
    app, client, login, api_headers, yaizu, stub_engine
):
    call = call_with(
        app, client, api_headers("operator"), stub_engine, "本町二丁目で道路が冠水しています。"
    )
    assert call["incident_id"], call["facts"]
    login("operator")
    page = client.get(f"/apps/calls/{call['id']}").get_data(as_text=True)
    # the incident is a link with words, and the place has its mini-map and a way to the map
    assert (
        f'/apps/situation/incidents/{call["incident_id"]}">事案 #{call["incident_id"]}</a>' in page
    )
    assert 'id="call-map"' in page and "本町二丁目の地図" in page
    assert 'data-layers-url="/apps/situation/map-data.json?layers=districts"' in page
    assert "状況図で開く" in page
    # and back: the incident's page names the call it was heard in
    incident_page = client.get(f"/apps/situation/incidents/{call['incident_id']}")
    html = incident_page.get_data(as_text=True)
    assert incident_page.status_code == 200
    assert "関連" in html and f'href="/apps/calls/{call["id"]}">通報録音 #{call["id"]}' in html


def test_a_call_without_an_incident_has_no_map(app, client, login, api_headers, yaizu, stub_engine):
    call = call_with(app, client, api_headers("operator"), stub_engine, "もしもし、聞こえますか。")
    assert call["incident_id"] is None
    login("operator")
    page = client.get(f"/apps/calls/{call['id']}").get_data(as_text=True)
    assert 'id="call-map"' not in page
