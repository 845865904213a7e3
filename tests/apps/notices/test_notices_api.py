"""Drafting, validation, shelter suggestion and the approval workflow on the Yaizu layers,
through the API, the CLI and the desk pages. Pinned to SQLite: the backend does not matter here
except for the one workflow test that runs on both."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from lxml import etree
from notice_helpers import designated_keys

from disaster_ai.apps.notices.renderers import cap as cap_renderer
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import JST

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
KEYS = {"radio", "mail", "web", "cap", "en", "easy_ja", "shelters", "guard"}
T = "2026-07-01T20:05:00+09:00"


def scenario(**over):
    data = {
        "hazard": "inland_flood",
        "action": "発令",
        "level": 4,
        "districts": ["高新田自治会", "焼津第6"],
        "reason": "大雨により、道路や住宅が浸水するおそれが高まっています。",
        "issued_at": T,
    }
    data.update(over)
    return data


@sqlite_only
def test_draft_has_every_channel_and_suggests_open_designated_shelters(
    app, yaizu, client, api_headers, open_shelters
):
    open_shelters(designated_keys(app, "inland_flood"))
    response = client.post(
        "/api/v1/notices/drafts", json=scenario(), headers=api_headers("operator")
    )
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert KEYS <= set(data)
    assert set(data["mail"]) == {"title", "body"} and set(data["web"]) == {"long", "short"}
    assert data["guard"]["ok"], data["guard"]["violations"]
    assert data["shelters"] and not data["fallback"]
    for shelter in data["shelters"]:
        assert "内水氾濫" in shelter["why"] and not shelter["must_open"]
        assert "開設中" in shelter["why"] and "想定区域外" in shelter["why"]  # said in Japanese
        assert shelter["name"] in data["radio"]
    served = {k for s in data["shelters"] for k in s["districts"]}
    assert len(served) == 2
    cap_renderer.validate(data["cap"])


@sqlite_only
def test_closed_designated_shelters_are_suggested_with_a_must_open_warning(
    app, yaizu, client, api_headers
):
    data = client.post(
        "/api/v1/notices/drafts", json=scenario(), headers=api_headers("operator")
    ).get_json()
    assert data["shelters"] and all(s["must_open"] for s in data["shelters"])
    assert any(w.startswith("shelter_must_open:") for w in data["warnings"])


@sqlite_only
@pytest.mark.parametrize("hazard", ["flood", "storm_surge", "洪水"])
def test_nothing_designated_for_flood_or_storm_surge_gives_the_fallback(
    app, yaizu, client, api_headers, hazard
):
    data = client.post(
        "/api/v1/notices/drafts", json=scenario(hazard=hazard), headers=api_headers("operator")
    ).get_json()
    assert data["shelters"] == [] and data["fallback"] is True
    assert "no_shelter_for_hazard" in data["warnings"]
    assert "近くの安全な場所" in data["radio"] and "避難先" not in data["radio"]
    assert data["guard"]["ok"]


@sqlite_only
def test_operator_shelters_must_exist(app, yaizu, client, api_headers):
    response = client.post(
        "/api/v1/notices/drafts",
        json=scenario(shelters=["架空の公民館"]),
        headers=api_headers("operator"),
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "unknown_shelter" and "shelters" in error["details"]["fields"]


@sqlite_only
@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"districts": ["存在しない町"]}, "unknown_district", "districts"),
        ({"level": 2}, "invalid_level", "level"),
        ({"level": 4, "name": "緊急安全確保"}, "level_name_mismatch", "name"),
        ({"level": 4, "name": "避難勧告"}, "level_name_mismatch", "name"),
        ({"action": "解除"}, "nothing_to_lift", "action"),
        ({"hazard": "meteor"}, "unknown_hazard", "hazard"),
        ({"issued_at": "2026-07-01T20:05:00"}, "invalid_time", "issued_at"),
    ],
)
def test_bad_scenarios_get_a_specific_4xx_naming_the_field(
    app, yaizu, client, api_headers, change, code, field
):
    response = client.post(
        "/api/v1/notices/drafts", json=scenario(**change), headers=api_headers("operator")
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == code
    assert field in error["details"]["fields"]


@sqlite_only
def test_manual_edits_are_guarded(app, yaizu, client, api_headers):
    data = client.post(
        "/api/v1/notices/drafts", json=scenario(), headers=api_headers("operator")
    ).get_json()
    edited = data["radio"].replace("警戒レベル4", "警戒レベル3")
    data = client.post(
        "/api/v1/notices/drafts",
        json={**scenario(), "edits": {"radio": edited}},
        headers=api_headers("operator"),
    ).get_json()
    assert not data["guard"]["ok"]
    assert {v["rule"] for v in data["guard"]["violations"]} == {"level"}
    assert data["radio"] == edited
    # the operator reads why in Japanese (the rule code stays machine-readable)
    messages = [v["message"] for v in data["guard"]["violations"]]
    assert "別の警戒レベルがあります: 3" in messages


def test_workflow_draft_submit_approve_issue_and_lift(
    app, yaizu, client, api_headers, approver2, token_for
):
    operator = api_headers("operator")
    created = client.post("/api/v1/notices", json=scenario(exercise=True), headers=operator)
    assert created.status_code == 201, created.get_json()
    notice = created.get_json()
    nid = notice["id"]
    assert notice["status"] == "draft" and notice["identifier"].startswith("JP-222127-2026-")

    # approving a draft, or approving without the role, fails
    assert (
        client.post(f"/api/v1/notices/{nid}/approve", headers=api_headers("approver")).status_code
        == 409
    )
    assert client.post(f"/api/v1/notices/{nid}/approve", headers=operator).status_code == 403
    assert client.post(f"/api/v1/notices/{nid}/submit", headers=operator).status_code == 200
    # the suggested shelters are not open: approval needs the approver's reason
    closed = client.post(f"/api/v1/notices/{nid}/approve", headers=api_headers("approver"))
    assert closed.status_code == 409
    error = closed.get_json()["error"]
    assert error["code"] == "shelters_not_open" and error["details"]["shelters"]
    assert "開設" in error["message"]
    approved = client.post(
        f"/api/v1/notices/{nid}/approve",
        json={"confirm_unopened_reason": "職員が向かっており、発令と同時に開設する"},
        headers=api_headers("approver"),
    )
    assert approved.status_code == 200 and approved.get_json()["approved_by"] == "approver"
    issued = client.post(f"/api/v1/notices/{nid}/issue", headers=api_headers("approver"))
    assert issued.get_json()["status"] == "issued"
    assert client.post(f"/api/v1/notices/{nid}/submit", headers=operator).status_code == 409

    xml = client.get(f"/api/v1/notices/{nid}/cap.xml", headers=operator)
    assert xml.mimetype == "application/xml"
    cap_renderer.validate(xml.get_data(as_text=True))
    root = etree.fromstring(xml.get_data())
    ns = {"c": cap_renderer.NS}
    assert root.findtext("c:status", namespaces=ns) == "Exercise"
    assert root.findtext("c:msgType", namespaces=ns) == "Alert"

    in_force = client.get("/api/v1/notices/in-force", headers=operator).get_json()["items"]
    assert {i["district_name"] for i in in_force} == {"高新田自治会", "焼津第6自治会"}

    # the 解除 references the earlier notice; its own author (approver2) cannot approve it
    lift = client.post(
        "/api/v1/notices",
        json=scenario(action="解除", exercise=True, issued_at="2026-07-02T06:00:00+09:00"),
        headers=token_for("approver2"),
    ).get_json()
    assert lift["supersedes"] == nid and lift["edition"] == 2 and lift["chain_id"] == nid
    client.post(f"/api/v1/notices/{lift['id']}/submit", headers=token_for("approver2"))
    own = client.post(f"/api/v1/notices/{lift['id']}/approve", headers=token_for("approver2"))
    assert own.status_code == 403 and own.get_json()["error"]["code"] == "own_notice"
    client.post(f"/api/v1/notices/{lift['id']}/approve", headers=api_headers("approver"))
    client.post(f"/api/v1/notices/{lift['id']}/issue", headers=api_headers("approver"))
    xml = client.get(f"/api/v1/notices/{lift['id']}/cap.xml", headers=operator).get_data()
    root = etree.fromstring(xml)
    assert root.findtext("c:msgType", namespaces=ns) == "Cancel"
    assert notice["identifier"] in root.findtext("c:references", namespaces=ns)
    first = client.get(f"/api/v1/notices/{nid}", headers=operator).get_json()
    assert first["status"] == "superseded"
    assert client.get("/api/v1/notices/in-force", headers=operator).get_json()["items"] == []

    from disaster_ai.audit import query_events

    with app.app_context(), session_scope(get_storage(app)) as session:
        actions = [e.action for e in query_events(session, app="notices")]
    for action in (
        "notices.draft",
        "notices.submit",
        "notices.confirm_unopened_shelters",
        "notices.approve",
        "notices.issue",
    ):
        assert action in actions


@sqlite_only
def test_guard_violations_of_manual_edits_need_acknowledgement(
    app, yaizu, client, api_headers, shelters_open
):
    draft = client.post(
        "/api/v1/notices/drafts", json=scenario(), headers=api_headers("operator")
    ).get_json()
    edited = draft["radio"].replace("高新田自治会、", "")
    notice = client.post(
        "/api/v1/notices",
        json={**scenario(), "edits": {"radio": edited}},
        headers=api_headers("operator"),
    ).get_json()
    client.post(f"/api/v1/notices/{notice['id']}/submit", headers=api_headers("operator"))
    refused = client.post(
        f"/api/v1/notices/{notice['id']}/approve", headers=api_headers("approver")
    )
    assert refused.status_code == 409
    pending = refused.get_json()["error"]["details"]["violations"]
    assert pending
    ok = client.post(
        f"/api/v1/notices/{notice['id']}/approve",
        json={"acknowledge": pending},
        headers=api_headers("approver"),
    )
    assert ok.status_code == 200 and ok.get_json()["acknowledged"] == pending


@sqlite_only
def test_cli_draft_prints_the_same_keys(app, yaizu, runner, tmp_path):
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario(hazard="landslide", level=5)), encoding="utf-8")
    result = runner.invoke(["notices", "draft", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert KEYS <= set(data)
    assert "警戒レベル5" in data["radio"] and data["guard"]["ok"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(scenario(level=2)), encoding="utf-8")
    refused = runner.invoke(["notices", "draft", str(bad)])
    assert refused.exit_code == 1 and "level:" in refused.output


@sqlite_only
def test_cli_check_templates(app, runner):
    result = runner.invoke(["notices", "check-templates"])
    assert result.exit_code == 0 and "ok" in result.output


@sqlite_only
def test_desk_pages_preview_save_and_no_approve_button_for_the_author(app, yaizu, client, login):
    from disaster_ai.testing import csrf_token_from

    login("approver")
    page = client.get("/apps/notices")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "高新田自治会" in html
    token = csrf_token_from(html)
    form = {
        "csrf_token": token,
        "hazard": "flood",
        "action": "発令",
        "level": "4",
        "districts": ["jichikai-10"],
        "reason": "",
    }
    preview = client.post("/apps/notices/preview", data=form)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "緊急放送" in text
    assert "近くの安全な場所" in text
    saved = client.post("/apps/notices/save", data=form)
    assert saved.status_code == 302
    notice_url = saved.headers["Location"]
    client.post(notice_url + "/submit", data={"csrf_token": token})
    page = client.get(notice_url).get_data(as_text=True)
    assert "submitted" in page
    assert f"{notice_url}/approve" not in page  # the author is never offered approval


@sqlite_only
def test_saved_notices_keep_their_shelters_and_can_be_cancelled(
    app, yaizu, client, api_headers, open_shelters
):
    operator = api_headers("operator")
    notice = client.post("/api/v1/notices", json=scenario(shelters=[]), headers=operator).get_json()
    assert notice["shelters"] == [] and "近くの安全な場所" in notice["texts"]["radio"]
    open_shelters(designated_keys(app, "inland_flood"))
    submitted = client.post(f"/api/v1/notices/{notice['id']}/submit", headers=operator).get_json()
    assert submitted["texts"]["radio"] == notice["texts"]["radio"]  # no shelter appeared later
    cancelled = client.post(f"/api/v1/notices/{notice['id']}/cancel", headers=operator)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    again = client.post(f"/api/v1/notices/{notice['id']}/cancel", headers=operator)
    assert again.status_code == 409
    listed = client.get("/api/v1/notices?status=cancelled", headers=operator).get_json()
    assert [n["id"] for n in listed["notices"]] == [notice["id"]]


@sqlite_only
def test_an_update_references_the_notice_it_replaces(
    app, yaizu, client, api_headers, shelters_open
):
    operator, approver = api_headers("operator"), api_headers("approver")
    first = client.post("/api/v1/notices", json=scenario(level=3), headers=operator).get_json()
    for step, headers in (("submit", operator), ("approve", approver), ("issue", approver)):
        assert (
            client.post(f"/api/v1/notices/{first['id']}/{step}", headers=headers).status_code == 200
        )
    raised = scenario(level=4, supersedes=first["id"], issued_at="2026-07-01T22:00:00+09:00")
    draft = client.post("/api/v1/notices/drafts", json=raised, headers=operator).get_json()
    assert draft["scenario"]["msg_type"] == "Update"
    # the reference names the first edition's time of issue (an explicit time already past
    # when it was issued becomes the moment of 発令)
    issued = client.get(f"/api/v1/notices/{first['id']}", headers=operator).get_json()
    assert issued["issued_at"] != T
    assert f"{first['identifier']},{issued['issued_at']}" in draft["cap"]
    cap_renderer.validate(draft["cap"])
    # a notice that is not in force cannot be updated
    bad = client.post(
        "/api/v1/notices/drafts", json={**raised, "supersedes": 9999}, headers=operator
    )
    assert bad.status_code == 422 and "supersedes" in bad.get_json()["error"]["details"]["fields"]


@sqlite_only
def test_cancelling_an_issued_notice_emits_a_cap_cancel(
    app, yaizu, client, api_headers, shelters_open
):
    operator, approver = api_headers("operator"), api_headers("approver")
    notice = client.post("/api/v1/notices", json=scenario(), headers=operator).get_json()
    for step, headers in (("submit", operator), ("approve", approver), ("issue", approver)):
        assert (
            client.post(f"/api/v1/notices/{notice['id']}/{step}", headers=headers).status_code
            == 200
        )
    assert (
        client.get(f"/api/v1/notices/{notice['id']}/cap-cancel.xml", headers=operator).status_code
        == 404
    )
    # only an approver may cancel an issued notice
    assert (
        client.post(f"/api/v1/notices/{notice['id']}/cancel", headers=operator).status_code == 403
    )
    done = client.post(f"/api/v1/notices/{notice['id']}/cancel", headers=approver)
    assert done.status_code == 200 and done.get_json()["status"] == "cancelled"
    original = client.get(f"/api/v1/notices/{notice['id']}/cap.xml", headers=operator).get_data(
        as_text=True
    )
    xml = client.get(f"/api/v1/notices/{notice['id']}/cap-cancel.xml", headers=operator).get_data()
    cap_renderer.validate(xml.decode())
    root = etree.fromstring(xml)
    ns = {"c": cap_renderer.NS}
    assert root.findtext("c:msgType", namespaces=ns) == "Cancel"
    assert root.findtext("c:identifier", namespaces=ns) == notice["identifier"] + "-C"
    assert notice["identifier"] in root.findtext("c:references", namespaces=ns)
    assert "<msgType>Alert</msgType>" in original  # the issued document itself is unchanged
    assert client.get("/api/v1/notices/in-force", headers=operator).get_json()["items"] == []


def _issue(client, operator, approver, data) -> dict:
    notice = client.post("/api/v1/notices", json=data, headers=operator).get_json()
    for step, headers in (("submit", operator), ("approve", approver), ("issue", approver)):
        response = client.post(f"/api/v1/notices/{notice['id']}/{step}", headers=headers)
        assert response.status_code == 200, response.get_json()
    return client.get(f"/api/v1/notices/{notice['id']}", headers=operator).get_json()


@sqlite_only
def test_a_partial_lift_keeps_the_other_districts_in_force(
    app, yaizu, client, api_headers, shelters_open
):
    operator, approver = api_headers("operator"), api_headers("approver")
    ns = {"c": cap_renderer.NS}
    first = _issue(client, operator, approver, scenario(level=4))
    assert {d["name"] for d in first["districts"]} == {"高新田自治会", "焼津第6自治会"}

    # 解除 for 高新田 only: it references the notice, and 焼津第6 stays at Lv4
    lift_a = scenario(
        action="解除", districts=["高新田自治会"], issued_at="2026-07-02T06:00:00+09:00"
    )
    draft = client.post("/api/v1/notices/drafts", json=lift_a, headers=operator).get_json()
    assert draft["guard"]["ok"], draft["guard"]["violations"]
    assert "高新田自治会に発令していた" in draft["radio"]
    # every channel says the other district stays in force, and says 解除 first
    assert (
        "焼津第6自治会には、引き続き、警戒レベル4、避難指示が発令されています。" in draft["radio"]
    )
    assert draft["web"]["short"].startswith("【解除】") and "焼津第6自治会" in draft["web"]["short"]
    assert "焼津第6自治会の避難指示は継続中" in draft["mail"]["body"]
    assert draft["mail"]["title"].startswith("解除")
    assert "stays in force" in draft["en"] and "まだ" in draft["easy_ja"]
    lifted = _issue(client, operator, approver, lift_a)
    assert lifted["supersedes"] == first["id"] and lifted["chain_id"] == first["id"]
    xml = client.get(f"/api/v1/notices/{lifted['id']}/cap.xml", headers=operator).get_data(
        as_text=True
    )
    cap_renderer.validate(xml)
    root = etree.fromstring(xml.encode())
    assert root.findtext("c:msgType", namespaces=ns) == "Update"  # not a Cancel of everything
    assert first["identifier"] in root.findtext("c:references", namespaces=ns)
    assert "焼津第6自治会の警戒レベル4 避難指示は継続中" in root.findtext("c:note", namespaces=ns)
    assert [a.text for a in root.iterfind("c:info[1]/c:area/c:areaDesc", ns)] == ["高新田自治会"]
    assert {c.text for c in root.iterfind("c:info/c:responseType", ns)} == {"AllClear"}

    in_force = client.get("/api/v1/notices/in-force", headers=operator).get_json()["items"]
    assert [(i["district_name"], i["level"], i["name"], i["notice_id"]) for i in in_force] == [
        ("焼津第6自治会", 4, "避難指示", first["id"])
    ]
    assert in_force[0]["supersede_id"] == lifted["id"]
    with app.app_context():
        hooked = [
            entry
            for entries in app.extensions["disaster_ai"].hook.dai_notices_in_force(
                at=datetime.now(JST)
            )
            for entry in entries
        ]
    assert [(e["district_name"], e["level"]) for e in hooked] == [("焼津第6自治会", 4)]
    # as of before the 解除 was issued, both districts were in force
    with app.app_context(), session_scope(get_storage(app)) as session:
        from disaster_ai.apps.notices import in_force
        from disaster_ai.apps.notices.models import Notice

        published = session.get(Notice, lifted["id"]).published_at
        before = in_force.in_force_entries(session, published - timedelta(microseconds=1))
        assert {e["district_name"] for e in before} == {"高新田自治会", "焼津第6自治会"}

    # 高新田 is no longer in force: lifting it again is a 解除 of nothing
    again = client.post("/api/v1/notices/drafts", json=lift_a, headers=operator)
    assert again.status_code == 422
    assert again.get_json()["error"]["code"] == "nothing_to_lift"
    # lifting a district the notice never named, through the chain, is refused and names it
    wrong = client.post(
        "/api/v1/notices/drafts",
        json=scenario(action="解除", districts=["高新田自治会"], supersedes=lifted["id"]),
        headers=operator,
    )
    assert (
        wrong.status_code == 422 and "districts" in wrong.get_json()["error"]["details"]["fields"]
    )

    # the last district's 解除 supersedes the partial one and ends the chain: a CAP Cancel
    lift_b = scenario(action="解除", districts=["焼津第6"], issued_at="2026-07-02T07:00:00+09:00")
    last = _issue(client, operator, approver, lift_b)
    assert last["supersedes"] == lifted["id"] and last["edition"] == 3
    xml = client.get(f"/api/v1/notices/{last['id']}/cap.xml", headers=operator).get_data()
    root = etree.fromstring(xml)
    assert root.findtext("c:msgType", namespaces=ns) == "Cancel"
    references = root.findtext("c:references", namespaces=ns)
    assert first["identifier"] in references and lifted["identifier"] in references
    assert client.get("/api/v1/notices/in-force", headers=operator).get_json()["items"] == []


@sqlite_only
def test_api_errors_are_japanese_by_default_and_english_on_request(app, yaizu, client, api_headers):
    operator = api_headers("operator")

    def error(data, query=""):
        response = client.post(f"/api/v1/notices/drafts{query}", json=data, headers=operator)
        assert response.status_code == 422
        return response.get_json()["error"]

    level = error(scenario(level=2))
    assert level["code"] == "invalid_level" and list(level["details"]["fields"]) == ["level"]
    assert level["message"].startswith(
        "警戒レベルは 3（高齢者等避難）、4（避難指示）、5（緊急安全確保）"
    )
    assert "レベル1・2は気象庁の情報" in level["message"]
    assert level["details"]["fields"]["level"] == level["message"]
    district = error(scenario(districts=["存在しない町"]))
    assert district["code"] == "unknown_district"
    assert district["message"] == "登録されていない地区: 存在しない町"
    assert district["details"]["unknown"] == ["存在しない町"]
    name = error(scenario(level=4, name="緊急安全確保"))
    assert name["message"] == "警戒レベル4は「避難指示」です。「緊急安全確保」ではありません。"
    nothing = error(scenario(action="解除"))
    assert (
        nothing["code"] == "nothing_to_lift" and "解除できるものがありません" in nothing["message"]
    )

    # English on request (?lang=en; a user whose locale is en gets it too); codes unchanged
    legacy = error(scenario(level=4, name="避難勧告"), "?lang=en")
    assert legacy["code"] == "level_name_mismatch" and list(legacy["details"]["fields"]) == ["name"]
    assert legacy["message"] == (
        "Level 4 is 避難指示, not 避難勧告 (a pre-2021 name that is no longer used)."
    )
    district = error(scenario(districts=["存在しない町"]))  # the choice stays in the session
    assert district["message"] == "Unknown district(s): 存在しない町"
    level = error(scenario(level=2))
    assert "levels 1 and 2 are JMA information" in level["message"]


@sqlite_only
def test_neighbouring_districts_give_cap_areas_that_do_not_overlap(app, yaizu, client, api_headers):
    """Simplified together, neighbours keep one shared edge: no cap.area_overlap warning."""
    import geopandas as gpd

    from disaster_ai.config import REPO_ROOT

    districts = gpd.read_file(REPO_ROOT / "sample_data" / "yaizu" / "yaizu_jichikai_areas.geojson")
    first = districts.geometry.iloc[
        12
    ]  # 大富第20自治会: simplified alone, neighbours overlapped 28,000 m²
    neighbours = districts[districts.geometry.intersects(first)]
    names = [n for n in neighbours["name"] if n][:8]
    assert len(names) >= 4  # a real cluster of touching districts
    response = client.post(
        "/api/v1/notices/drafts", json=scenario(districts=names), headers=api_headers("operator")
    )
    assert response.status_code == 200, response.get_json()
    rules = {w["rule"] for w in response.get_json()["guard"]["cap_lint"]}
    assert "cap.area_overlap" not in rules
    cap_renderer.validate(response.get_json()["cap"])
