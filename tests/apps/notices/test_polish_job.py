"""AI polish of a saved draft, as a job (``notices.polish``), from the API and the desk: a fake
``dai_llm_client`` writes a faithful paraphrase of the radio script and a web text with another
time; only the first is kept. Pinned to SQLite (no model, no backend matter here)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from disaster_ai import hookimpl
from disaster_ai.storage import get_storage, session_scope

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
pytestmark = sqlite_only
SCENARIO = {
    "hazard": "inland_flood",
    "action": "発令",
    "level": 4,
    "districts": ["高新田自治会", "焼津第6"],
    "reason": "大雨により、道路や住宅が浸水するおそれが高まっています。",
    "issued_at": "2026-07-01T20:05:00+09:00",
}


class FakeClient:
    name = "fake"
    model = "fake-1"

    def complete(self, prompt, max_tokens=512):
        text = prompt.split("\n\n", 1)[1]
        if "緊急放送" in text:  # the radio script: a harmless paraphrase
            return text.replace("繰り返します。", "もう一度お伝えします。")
        if "にげる" in text or "(" in text:  # easy Japanese: unchanged
            return text
        # the web text: the model moved the time by an hour
        return text.replace("午後8時5分", "午後9時5分").replace("20時05分", "21時05分")


class Provider:
    @hookimpl
    def dai_llm_client(self, purpose):
        return FakeClient() if purpose == "notices.polish" else None


@pytest.fixture
def with_llm(register_plugin):
    register_plugin(Provider(), name="fake_llm")


def run_jobs(app) -> int:
    from disaster_ai.jobs.service import runner_for

    return runner_for(app).run_pending()


def save_draft(client, headers) -> dict:
    response = client.post("/api/v1/notices", json=SCENARIO, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def polish_jobs(app, notice_id):
    from disaster_ai.apps.notices import polish

    with app.app_context(), session_scope(get_storage(app)) as session:
        return [
            (j.id, j.state, j.message, j.result) for j in polish.polish_jobs(session, notice_id)
        ]


def test_accepted_texts_are_kept_rejected_ones_stay_and_the_desk_names_the_rule(
    app, yaizu, client, api_headers, login, with_llm
):
    headers = api_headers("operator")
    notice = save_draft(client, headers)
    before = notice["texts"]
    assert "繰り返します。" in before["radio"]

    queued = client.post(f"/api/v1/notices/{notice['id']}/polish", headers=headers)
    assert queued.status_code == 202
    body = queued.get_json()
    assert body["state"] == "queued" and body["job_url"] == f"/api/v1/jobs/{body['job_id']}"
    # a second request while it is queued gives the same job
    again = client.post(f"/api/v1/notices/{notice['id']}/polish", headers=headers).get_json()
    assert again["job_id"] == body["job_id"] and not again["created"]
    assert len(polish_jobs(app, notice["id"])) == 1

    assert run_jobs(app) == 1
    job = client.get(body["job_url"], headers=headers).get_json()
    assert job["state"] == "succeeded" and job["progress"] == 100

    after = client.get(f"/api/v1/notices/{notice['id']}", headers=headers).get_json()
    assert "もう一度お伝えします。" in after["texts"]["radio"]  # accepted: now the draft's text
    assert after["edits"]["radio"] == after["texts"]["radio"]
    assert after["texts"]["web"]["long"] == before["web"]["long"]  # rejected: kept
    assert "web_long" not in after["edits"]
    assert after["guard"]["ok"]  # accepted texts pass the guard
    report = after["guard"]["polish"]["channels"]
    assert report["radio"]["accepted"] and not report["web_long"]["accepted"]
    assert {v["rule"] for v in report["web_long"]["violations"]} == {"time"}

    login("operator")
    page = client.get(f"/apps/notices/{notice['id']}").get_data(as_text=True)
    assert "もう一度お伝えします。" in page
    rejected = page.split('class="polish-rejected error">', 1)[1].split("</li>", 1)[0]
    assert "ウェブ" in rejected or "Web" in rejected
    assert "時刻" in rejected  # the rule, in Japanese

    from disaster_ai.audit import query_events

    with app.app_context(), session_scope(get_storage(app)) as session:
        actions = [e.action for e in query_events(session, app="notices")]
    assert "notices.polish_request" in actions and "notices.polish" in actions
    assert actions.count("ai.call") == 3

    # the report survives the submission (the guard is re-run then)
    client.post(f"/api/v1/notices/{notice['id']}/submit", headers=headers)
    submitted = client.get(f"/api/v1/notices/{notice['id']}", headers=headers).get_json()
    assert submitted["guard"]["polish"]["channels"]["radio"]["accepted"]


def test_the_desk_button_queues_the_job_and_shows_its_progress(
    app, yaizu, client, api_headers, login, with_llm
):
    from disaster_ai.testing import csrf_token_from

    notice = save_draft(client, api_headers("operator"))
    login("operator")
    url = f"/apps/notices/{notice['id']}"
    html = client.get(url).get_data(as_text=True)
    assert "AIで文面を整える" in html
    token = csrf_token_from(html)
    assert client.post(url + "/polish", data={}).status_code == 400  # no CSRF token
    response = client.post(url + "/polish", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    client.post(url + "/polish", data={"csrf_token": token})  # a double click
    assert len(polish_jobs(app, notice["id"])) == 1
    page = client.get(url).get_data(as_text=True)
    assert "<progress" in page and 'role="status"' in page
    assert 'http-equiv="refresh"' in page
    assert "AIで文面を整える" not in page  # no second button while it runs

    run_jobs(app)
    page = client.get(url).get_data(as_text=True)
    assert "<progress" not in page and 'http-equiv="refresh"' not in page
    assert "polish-accepted" in page and "polish-rejected" in page


def test_only_a_draft_can_be_polished(app, yaizu, client, api_headers, with_llm):
    headers = api_headers("operator")
    notice = save_draft(client, headers)
    client.post(f"/api/v1/notices/{notice['id']}/submit", headers=headers)
    response = client.post(
        f"/api/v1/notices/{notice['id']}/polish", headers=headers, query_string={"lang": "en"}
    )
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "wrong_state" and "submitted" in error["message"]
    assert polish_jobs(app, notice["id"]) == []
    assert client.post("/api/v1/notices/9999/polish", headers=headers).status_code == 404


def test_without_a_client_polish_is_refused_and_not_offered(app, yaizu, client, api_headers, login):
    headers = api_headers("operator")
    notice = save_draft(client, headers)
    response = client.post(f"/api/v1/notices/{notice['id']}/polish", headers=headers)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "polish_not_configured" and "docs/notices.md" in error["message"]
    login("operator")
    page = client.get(f"/apps/notices/{notice['id']}").get_data(as_text=True)
    assert "AIで文面を整える" not in page


def test_a_draft_changed_before_the_job_runs_is_left_untouched(
    app, yaizu, client, api_headers, with_llm
):
    from disaster_ai.apps.notices.models import Notice

    headers = api_headers("operator")
    edited = save_draft(client, headers)
    submitted = save_draft(client, headers)
    for notice in (edited, submitted):
        assert (
            client.post(f"/api/v1/notices/{notice['id']}/polish", headers=headers).status_code
            == 202
        )
    # the operator edits one draft by hand and submits the other meanwhile
    with app.app_context(), session_scope(get_storage(app)) as session:
        row = session.scalar(select(Notice).where(Notice.id == edited["id"]))
        row.edits = {"radio": edited["texts"]["radio"] + "\n"}
    client.post(f"/api/v1/notices/{submitted['id']}/submit", headers=headers)

    assert run_jobs(app) == 2
    for notice, code in ((edited, "changed"), (submitted, "not_draft")):
        [(_id, state, message, result)] = polish_jobs(app, notice["id"])
        assert state == "succeeded" and result["skipped"] == code
        assert "何も変更していません" in message  # the job says why
        after = client.get(f"/api/v1/notices/{notice['id']}", headers=headers).get_json()
        assert "polish" not in after["guard"]
        assert "もう一度お伝えします。" not in after["texts"]["radio"]
    assert "submitted" in polish_jobs(app, submitted["id"])[0][2]
