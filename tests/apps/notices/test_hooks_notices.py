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
def test_notices_in_force_reach_the_bulletins(app, yaizu, client, api_headers, approver2):
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
