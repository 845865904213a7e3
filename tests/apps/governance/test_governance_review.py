"""Human review of AI output (#20): accepting a polished notice text records the named person
(ai.review, the notice's history), submitting accepts it in the submitter's name when nobody
did, the AI label setting, and a call's triage accepted or corrected by a named person.
Pinned to SQLite (no model: a fake LLM client and the stub transcription engine)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from disaster_ai import hookimpl
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import AuditEvent
from disaster_ai.testing import csrf_token_from

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
SCENARIO = {
    "hazard": "inland_flood",
    "action": "発令",
    "level": 4,
    "districts": ["高新田自治会", "焼津第6"],
    "reason": "大雨により、道路や住宅が浸水するおそれが高まっています。",
    "issued_at": "2026-07-01T20:05:00+09:00",
}
LABEL = "この文面はAIの支援を受けて作成しています"


class Paraphraser:
    name = "fake"
    model = "fake-1"

    def complete(self, prompt, max_tokens=512):
        text = prompt.split("\n\n", 1)[1]
        return text.replace("繰り返します。", "もう一度お伝えします。")


class Provider:
    @hookimpl
    def dai_llm_client(self, purpose):
        return Paraphraser() if purpose == "notices.polish" else None


def polished_draft(app, client, headers) -> int:
    from disaster_ai.jobs.service import runner_for

    notice = client.post("/api/v1/notices", json=SCENARIO, headers=headers).get_json()
    assert client.post(f"/api/v1/notices/{notice['id']}/polish", headers=headers).status_code == 202
    runner_for(app).run_pending()
    return notice["id"]


def reviews(app) -> list[AuditEvent]:
    with app.app_context(), session_scope(get_storage(app)) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == "ai.review"))
        return [(e.actor_name, e.actor_id, e.target, dict(e.detail)) for e in rows]


def test_accepting_a_polished_text_records_the_person(
    app, yaizu, client, api_headers, login, register_plugin
):
    register_plugin(Provider(), name="fake_llm")
    headers = api_headers("operator")
    notice_id = polished_draft(app, client, headers)
    assert reviews(app) == []  # the guard accepted the text; no person has yet

    login("operator")
    url = f"/apps/notices/{notice_id}"
    page = client.get(url).get_data(as_text=True)
    review = page.split('id="polish-review"', 1)[1].split("</p>", 1)[0]
    assert "fake-1" in review and "まだ職員が採用していません" in review
    response = client.post(url + "/polish/accept", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 302
    [(name, actor_id, target, detail)] = reviews(app)
    assert (name, target) == ("operator", f"notice:{notice_id}") and actor_id is not None
    assert detail["feature"] == "notices.polish" and detail["decision"] == "accepted"
    assert "radio" in detail["channels"] and detail["model"] == "fake-1"
    # the notice's history names who accepted which AI-assisted text
    page = client.get(url).get_data(as_text=True)
    review = page.split('id="polish-review"', 1)[1].split("</p>", 1)[0]
    assert "operator が採用" in review and "緊急放送" not in review
    assert "AIの文面を採用する" not in page
    notice = client.get(f"/api/v1/notices/{notice_id}", headers=headers).get_json()
    assert notice["guard"]["polish"]["reviewed_by"] == "operator"
    # accepted once: submitting records nothing more, a second acceptance is refused
    client.post(f"/api/v1/notices/{notice_id}/submit", headers=headers)
    assert len(reviews(app)) == 1


def test_submitting_accepts_unreviewed_ai_texts_and_the_label_is_applied(
    app, yaizu, client, api_headers, register_plugin, users
):
    register_plugin(Provider(), name="fake_llm")
    app.config["AI_OUTPUT_LABEL"] = LABEL
    headers = api_headers("approver")
    notice_id = polished_draft(app, client, headers)
    notice = client.get(f"/api/v1/notices/{notice_id}", headers=headers).get_json()
    assert notice["texts"]["radio"].rstrip().endswith(LABEL)  # the AI-polished public text
    assert LABEL not in notice["texts"]["mail"]["body"]  # not AI-written: no label
    assert client.post(f"/api/v1/notices/{notice_id}/submit", headers=headers).status_code == 200
    [(name, _id, _target, detail)] = reviews(app)
    assert name == "approver" and detail["how"] == "submit"


def test_without_the_setting_no_label_is_added(app, yaizu, client, api_headers, register_plugin):
    register_plugin(Provider(), name="fake_llm")
    headers = api_headers("operator")
    notice_id = polished_draft(app, client, headers)
    notice = client.get(f"/api/v1/notices/{notice_id}", headers=headers).get_json()
    assert "もう一度お伝えします。" in notice["texts"]["radio"]
    assert "AIの支援" not in str(notice["texts"])
