"""One test per notices hook (the meta-test in tests/test_hooks.py requires them), plus the
bulletins' ``dai_notices_in_force`` served from issued notices."""

from __future__ import annotations

import pytest

from disaster_ai import hookimpl
from disaster_ai.storage import get_storage, session_scope

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
T = "2026-07-01T20:05:00+09:00"
SCENARIO = {
    "hazard": "landslide",
    "level": 4,
    "districts": ["高新田自治会"],
    "issued_at": T,
}


@sqlite_only
def test_hook_dai_notice_templates(app, yaizu, client, api_headers, register_plugin):
    class Wording:
        @hookimpl
        def dai_notice_templates(self, locale):
            assert locale == "ja"
            return {
                "radio/landslide.txt": "こちらは、{{ issuer }}です。{{ districts_text }}に{{ hazard_ja }}に関する"
                "警戒レベル{{ level }}、{{ name }}を発令しました。{{ action_sentence }}{{ when }}"
                "避難先は、{{ shelters_text }}です。"
            }

    register_plugin(Wording())
    app.extensions.pop("disaster_ai.notices.templates", None)
    data = client.post(
        "/api/v1/notices/drafts", json=SCENARIO, headers=api_headers("operator")
    ).get_json()
    assert data["radio"].startswith("こちらは、焼津市です。高新田自治会に土砂災害に関する")
    assert "緊急放送" not in data["radio"]
    # other hazards keep the package template
    other = client.post(
        "/api/v1/notices/drafts",
        json={**SCENARIO, "hazard": "inland_flood"},
        headers=api_headers("operator"),
    ).get_json()
    assert other["radio"].startswith("緊急放送")


@sqlite_only
def test_hook_dai_notice_templates_with_a_forbidden_term_is_refused(
    app, yaizu, client, api_headers, register_plugin
):
    class Legacy:
        @hookimpl
        def dai_notice_templates(self, locale):
            return {"radio.txt": "{{ districts_text }}に避難勧告を発令しました。"}

    register_plugin(Legacy())
    app.extensions.pop("disaster_ai.notices.templates", None)
    response = client.post("/api/v1/notices/drafts", json=SCENARIO, headers=api_headers("operator"))
    assert response.status_code == 422
    assert "避難勧告" in response.get_json()["error"]["message"]


def _submitted(client, api_headers):
    notice = client.post(
        "/api/v1/notices", json=SCENARIO, headers=api_headers("operator")
    ).get_json()
    client.post(f"/api/v1/notices/{notice['id']}/submit", headers=api_headers("operator"))
    return notice["id"]


@sqlite_only
def test_hook_dai_review_notice(app, yaizu, client, api_headers, register_plugin):
    seen = []

    class Legal:
        @hookimpl
        def dai_review_notice(self, draft):
            seen.append(draft)
            return ["条例の様式に合っていません"] if draft["level"] == 4 else []

    class Broken:
        @hookimpl
        def dai_review_notice(self, draft):
            raise RuntimeError("dictionary missing")

    register_plugin(Legal())
    nid = _submitted(client, api_headers)
    refused = client.post(f"/api/v1/notices/{nid}/approve", headers=api_headers("approver"))
    assert refused.status_code == 409
    assert "条例の様式" in refused.get_json()["error"]["message"]
    assert seen[0]["name"] == "避難指示" and "radio" in seen[0]["texts"]

    # every implementation runs, and a crashing one blocks too
    register_plugin(Broken())
    refused = client.post(f"/api/v1/notices/{nid}/approve", headers=api_headers("approver"))
    problems = refused.get_json()["error"]["details"]["problems"]
    assert any("crashed" in p and "dictionary missing" in p for p in problems)
    assert any("条例の様式" in p for p in problems)


@sqlite_only
def test_hook_dai_llm_client(app, yaizu, client, api_headers, register_plugin):
    class Client:
        name = "fake"
        model = "fake-1"

        def complete(self, prompt, max_tokens=512):
            text = prompt.split("\n\n", 1)[1]
            if "避難指示を発令しました" in text and "緊急放送" in text:
                # a faithful rewrite of the radio script, and a corrupt one of the others
                return text.replace("繰り返します。", "もう一度お伝えします。")
            return text.replace("警戒レベル4", "警戒レベル3")

    # the default does nothing
    plain = client.post(
        "/api/v1/notices/drafts", json={**SCENARIO, "polish": True}, headers=api_headers("operator")
    ).get_json()
    assert plain["polish"] == {"used": False, "reason": "no dai_llm_client"}

    class Provider:
        @hookimpl
        def dai_llm_client(self, purpose):
            assert purpose == "notices.polish"
            return Client()

    register_plugin(Provider())
    data = client.post(
        "/api/v1/notices/drafts", json={**SCENARIO, "polish": True}, headers=api_headers("operator")
    ).get_json()
    channels = data["polish"]["channels"]
    assert channels["radio"]["accepted"] and "もう一度お伝えします。" in data["radio"]
    assert not channels["web_long"]["accepted"]
    assert {v["rule"] for v in channels["web_long"]["violations"]} == {"level"}
    assert "警戒レベル4" in data["web"]["long"]  # the template text stayed

    from disaster_ai.audit import query_events

    with app.app_context(), session_scope(get_storage(app)) as session:
        calls = [e for e in query_events(session, app="notices") if e.action == "ai.call"]
    assert len(calls) == 3 and {c.ai_engine for c in calls} == {"fake"}


@sqlite_only
def test_notices_in_force_reach_the_bulletins(
    app, yaizu, client, api_headers, approver2, shelters_open
):
    from datetime import datetime

    from disaster_ai.apps.bulletins.snapshot import notices_part
    from disaster_ai.storage.base import JST

    nid = _submitted(client, api_headers)
    client.post(f"/api/v1/notices/{nid}/approve", headers=api_headers("approver"))
    client.post(f"/api/v1/notices/{nid}/issue", headers=api_headers("approver"))
    pm = app.extensions["disaster_ai"]
    with app.app_context():
        part = notices_part(pm, datetime.now(JST), {"landslide": "土砂災害"})
    assert part["status"] == "ok"
    assert [(i["district_name"], i["level"], i["name"]) for i in part["items"]] == [
        ("高新田自治会", 4, "避難指示")
    ]


@sqlite_only
def test_the_default_llm_client_talks_to_an_openai_compatible_endpoint(make_app, tmp_path):
    import json as jsonlib
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            body = jsonlib.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.path, self.headers.get("Authorization"), body))
            answer = {"choices": [{"message": {"content": "整えた文"}}]}
            data = jsonlib.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        app = make_app(
            NOTICE_LLM_URL=f"http://127.0.0.1:{server.server_port}/v1",
            NOTICE_LLM_MODEL="local-model",
            NOTICE_LLM_API_KEY="k",
        )
        with app.app_context():
            client = app.extensions["disaster_ai"].hook.dai_llm_client(purpose="notices.polish")
            assert client.complete("元の文", max_tokens=32) == "整えた文"
            assert app.extensions["disaster_ai"].hook.dai_llm_client(purpose="other") is None
    finally:
        server.shutdown()
        server.server_close()
    path, auth, body = received[0]
    assert path == "/v1/chat/completions" and auth == "Bearer k"
    assert body["model"] == "local-model" and body["messages"][0]["content"] == "元の文"


# --- hazards added by plugins ----------------------------------------------------------------


def _volcano_plugin():
    from disaster_ai.types import NoticeAction, NoticeHazard

    class Hazards:
        @hookimpl
        def dai_notice_hazards(self):
            return [
                NoticeHazard(
                    code="volcano",
                    ja="火山",
                    en="volcanic eruption",
                    easy_ja="火山(かざん)の 噴火(ふんか)",
                    reasons=("火口周辺で噴火が発生するおそれが高まっています。",),
                    cap_category="Geo",
                    actions={
                        4: NoticeAction(
                            sentence="火口周辺の危険な場所にいる方は、速やかに全員避難を開始してください。"
                        )
                    },
                ),
                NoticeHazard(
                    code="pond_breach",
                    ja="ため池決壊",
                    en="irrigation pond breach",
                    easy_ja="ため池決壊(ためいけの ていぼうが こわれる こと)",
                    reasons=("ため池の堤体から漏水が確認され、決壊するおそれがあります。",),
                    # Yaizu maps ponds' inundation with the inland-flood layer and designations
                    zone_hazard="inland_flood",
                ),
                # refused by the vocabulary check: a forbidden legacy term
                NoticeHazard(
                    code="legacy",
                    ja="旧災害",
                    en="legacy",
                    easy_ja="旧災害",
                    actions={
                        3: NoticeAction(sentence="避難勧告に従ってください。", required="避難勧告")
                    },
                ),
            ]

    return Hazards()


@sqlite_only
def test_hook_dai_notice_hazards(
    app, yaizu, client, api_headers, register_plugin, open_shelters, runner
):
    from lxml import etree

    from disaster_ai.apps.notices import facts as f
    from disaster_ai.apps.notices import reference
    from disaster_ai.apps.notices.renderers import cap as cap_renderer

    operator = api_headers("operator")
    scenario = {
        **SCENARIO,
        "hazard": "火山",
        "reason": "火口周辺で噴火が発生するおそれが高まっています。",
    }
    before = client.post("/api/v1/notices/drafts", json=scenario, headers=operator)
    assert before.status_code == 422 and before.get_json()["error"]["code"] == "unknown_hazard"

    register_plugin(_volcano_plugin(), name="volcano_hazards")
    listed = client.get("/api/v1/notices/hazards", headers=operator).get_json()["hazards"]
    codes = [h["code"] for h in listed]
    assert codes[:5] == ["flood", "inland_flood", "landslide", "storm_surge", "tsunami"]
    assert {"volcano", "pond_breach"} <= set(codes) and "legacy" not in codes
    with app.app_context():
        assert ("volcano", "火山") in f.hazard_choices()
        assert f.HAZARDS["volcano"] == ("火山", "volcanic eruption", "火山(かざん)の 噴火(ふんか)")
        assert f.REASONS["volcano"] == ["火口周辺で噴火が発生するおそれが高まっています。"]
        assert {p["hazard"] for p in f.hazard_registry_problems()} == {"legacy"}
    spec = client.get("/api/v1/openapi.json").get_json()
    enum = spec["components"]["schemas"]["ScenarioIn"]["properties"]["hazard"]["enum"]
    assert "volcano" in enum and "火山" in enum and "legacy" not in enum
    # the form's hazard word (火山) and its code both work
    response = client.post("/api/v1/notices/drafts", json=scenario, headers=operator)
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert data["scenario"]["hazard"] == "volcano" and data["scenario"]["hazard_ja"] == "火山"
    assert "高新田自治会に、火山に関する警戒レベル4、避難指示を発令しました。" in data["radio"]
    assert "火口周辺の危険な場所にいる方は、速やかに全員避難" in data["radio"]  # its own sentence
    for text in (data["mail"]["body"], data["web"]["long"], data["web"]["short"]):
        assert "火山" in text
    assert "volcanic eruption" in data["en"] and "火山(かざん)の 噴火(ふんか)" in data["easy_ja"]
    assert data["guard"]["ok"], data["guard"]["violations"]
    # no shelter in Yaizu is designated for volcanoes: the fallback, nothing invented
    assert data["shelters"] == [] and data["fallback"]
    cap_renderer.validate(data["cap"])
    root = etree.fromstring(data["cap"].encode())
    ns = {"c": cap_renderer.NS}
    assert {c.text for c in root.iterfind("c:info/c:category", ns)} == {"Geo"}
    assert {v.text for v in root.iterfind("c:info/c:eventCode/c:value", ns)} == {"volcano"}
    assert "volcanic eruption" in root.findtext("c:info[2]/c:headline", namespaces=ns)

    # ため池決壊 uses the inland-flood designations and zones for its shelters
    with app.app_context(), session_scope(get_storage(app)) as session:
        layers = reference.reference_layers(session)
        flood_keys = [
            key
            for key, hazards in zip(layers.shelters["key"], layers.shelters["hazards"], strict=True)
            if hazards is not None and "inland_flood" in list(hazards)
        ]
    open_shelters(flood_keys)
    pond = client.post(
        "/api/v1/notices/drafts",
        json={**SCENARIO, "hazard": "pond_breach", "districts": ["高新田自治会"]},
        headers=operator,
    ).get_json()
    assert pond["shelters"] and {s["key"] for s in pond["shelters"]} <= set(flood_keys)
    assert all("ため池決壊" in s["why"] for s in pond["shelters"])
    assert "ため池決壊に関する警戒レベル4" in pond["radio"] and pond["guard"]["ok"]
    cap_renderer.validate(pond["cap"])

    # the refused definition is reported by the template check
    result = runner.invoke(["notices", "check-templates"])
    assert result.exit_code != 0 and "hazard:legacy (volcano_hazards)" in result.output
