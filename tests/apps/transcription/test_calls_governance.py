"""AI governance of calls (#20): confirming or correcting the triage records the named person
(ai.review), the monthly usage counts calls and corrections per role and model, the admin usage
page charts them, and the AI audit export (CSV, page and CLI) carries ids only: no transcript
text, no place, no user name. Pinned to SQLite; the stub engine stands in for Whisper."""

from __future__ import annotations

import csv
import io

import pytest
from call_helpers import audio_bytes, multipart
from sqlalchemy import select

from disaster_ai.jobs.service import runner_for
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import JST, now
from disaster_ai.storage.models import AuditEvent, User

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
TRANSCRIPT = "藤守の川沿いで家が浸水しています。おばあちゃんが二階に取り残されています。"


def token(app, username: str, role: str) -> dict:
    from disaster_ai.auth import create_user, issue_token

    with app.app_context(), session_scope(get_storage(app)) as session:
        create_user(session, username, role, username + "-pass-123")
        user = session.scalar(select(User).where(User.username == username))
        _, plain = issue_token(session, user, "test")
    return {"Authorization": f"Bearer {plain}"}


def test_triage_review_usage_and_an_export_without_personal_data(
    app, client, yaizu, users, login, runner, stub_engine
):
    stub_engine.texts = [TRANSCRIPT]
    tanaka = token(app, "tanaka.taro", "operator")
    suzuki = token(app, "suzuki.hanako", "approver")
    body, content_type = multipart({"files": [(io.BytesIO(audio_bytes("d01.wav")), "c.wav")]})
    call_id = client.post(
        "/api/v1/calls", data=body, headers=tanaka, content_type=content_type
    ).get_json()["calls"][0]["id"]
    runner_for(app).run_pending()
    # the operator corrects the category; the approver later confirms as it stands
    response = client.post(
        f"/api/v1/calls/{call_id}/confirm", json={"category": "welfare_check"}, headers=tanaka
    )
    assert response.status_code == 200, response.get_json()
    assert (
        client.post(f"/api/v1/calls/{call_id}/confirm", json={}, headers=suzuki).status_code == 200
    )

    with app.app_context(), session_scope(get_storage(app)) as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "ai.review").order_by(AuditEvent.id)
        ).all()
        decisions = [(e.actor_name, e.detail["decision"], e.detail["fields"]) for e in rows]
    assert decisions == [
        ("tanaka.taro", "corrected", ["category"]),
        ("suzuki.hanako", "accepted", []),
    ]

    from disaster_ai.apps.governance.usage import monthly_usage

    month = now().astimezone(JST).strftime("%Y-%m")
    with app.app_context(), session_scope(get_storage(app)) as session:
        usage = {
            (r["role"], r["model"]): r
            for r in monthly_usage(session)
            if r["app"] == "transcription"
        }
    assert usage[("operator", "stub-model")] | {} == {
        "month": month,
        "app": "transcription",
        "role": "operator",
        "model": "stub-model",
        "calls": 1,
        "accepted": 0,
        "guard_rejected": 0,
        "corrected": 1,
    }
    assert usage[("approver", "stub-model")]["accepted"] == 1

    login("admin")
    page = client.get("/admin/usage").get_data(as_text=True)
    assert 'id="ai-usage-monthly"' in page
    assert f'data-month="{month}" data-measure="corrected" data-value="1"' in page
    today = now().astimezone(JST).date().isoformat()
    response = client.get(f"/apps/governance/audit.csv?since={today}&until={today}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    exported = response.get_data(as_text=True)
    cli = runner.invoke(["ai", "audit-export", "--since", today, "--until", today])
    assert cli.exit_code == 0, cli.output
    for text in (exported, cli.output):
        table = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
        actions = [row["action"] for row in table]
        assert actions.count("ai.call") == 1 and actions.count("ai.review") == 2
        call = next(row for row in table if row["action"] == "ai.call")
        assert call["target"] == f"call:{call_id}" and len(call["output_sha256"]) == 64
        assert {row["role"] for row in table} == {"operator", "approver"}
        for fragment in ("藤守", "浸水", "おばあちゃん", "tanaka", "suzuki", "welfare"):
            assert fragment not in text
    assert client.get("/apps/governance/audit.csv?since=2026-13-01").status_code == 400
    login("operator")
    assert client.get("/apps/governance/audit.csv").status_code == 403
