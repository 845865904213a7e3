"""AI incident reports (#20): recorded by any desk role, linked to audit entries, printable,
changes audited; wrong input answers with a form message, never a 500. Pinned to SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from disaster_ai import audit
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import AuditEvent
from disaster_ai.testing import csrf_token_from

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def ai_call(app) -> int:
    with app.app_context():
        audit.record_ai_call(
            app="transcription",
            engine="faster-whisper",
            model="whisper-base-ct2",
            input_text="(audio)",
            output="sha256:" + "0" * 64,
            duration_ms=1200,
            detail={"accepted": False},
        )
        with session_scope(get_storage(app)) as session:
            return session.scalar(select(AuditEvent.id).where(AuditEvent.action == "ai.call"))


def test_an_ai_incident_is_recorded_linked_printed_and_updated(app, client, login):
    call_id = ai_call(app)
    login("operator")
    form_page = client.get(f"/apps/governance/incidents/new?audit_ids={call_id}")
    html = form_page.get_data(as_text=True)
    assert f'value="{call_id}"' in html
    data = {
        "csrf_token": csrf_token_from(html),
        "title": "トリアージの誤りで救助要請の確認が遅れた",
        "occurred_at": "2026-12-06T14:30",
        "feature": "calls.triage",
        "severity": "high",
        "what_happened": "命の危険ありの通報が「なし」と判定された。",
        "output": "通報 #12 の判定結果",
        "impact": "確認が20分遅れた。",
        "action_taken": "語彙表に「取り残され」を追加した。",
        "audit_ids": f"{call_id}, 999999",
    }
    refused = client.post("/apps/governance/incidents/new", data=data)
    assert refused.status_code == 422
    assert "この番号の監査ログはありません" in refused.get_data(as_text=True)
    created = client.post(
        "/apps/governance/incidents/new", data={**data, "audit_ids": str(call_id)}
    )
    assert created.status_code == 302
    url = created.headers["Location"]
    page = client.get(url).get_data(as_text=True)
    assert "トリアージの誤りで" in page and f'data-audit="{call_id}"' in page
    assert "ガードが不採用" in page and "whisper-base-ct2" in page
    pdf = client.get(url + ".pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")

    edit = client.get(url + "/edit").get_data(as_text=True)
    response = client.post(
        url + "/edit",
        data={
            **data,
            "csrf_token": csrf_token_from(edit),
            "audit_ids": str(call_id),
            "status": "closed",
        },
    )
    assert response.status_code == 302
    with app.app_context(), session_scope(get_storage(app)) as session:
        actions = [
            (e.action, e.actor_name)
            for e in session.scalars(select(AuditEvent).where(AuditEvent.app == "governance"))
        ]
    assert actions == [
        ("governance.ai_incident", "operator"),
        ("governance.ai_incident_update", "operator"),
    ]
    listing = client.get("/apps/governance/incidents").get_data(as_text=True)
    assert "対応済み" in listing
    assert client.get("/apps/governance/incidents/999").status_code == 404
