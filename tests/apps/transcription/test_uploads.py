"""Issue 12 item 10: one upload limit for the desk's form and the API, and a recording
uploaded twice (the same bytes) is linked to the existing call, not made into a new one."""

from __future__ import annotations

import io
import wave

import pytest
from call_helpers import audio_bytes, multipart
from sqlalchemy import func, select

from disaster_ai.apps.situation.models import Incident
from disaster_ai.apps.transcription.models import CallRecording
from disaster_ai.jobs.service import runner_for
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import AuditEvent, Job
from disaster_ai.testing import csrf_token_from


def wav(seconds: float, tone: int = 0) -> bytes:
    """A valid 16 kHz 16-bit mono WAV (32 KB a second), distinct per ``tone``."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        frame = int(tone).to_bytes(2, "little", signed=True)
        out.writeframes(frame * int(16000 * seconds))
    return buffer.getvalue()


def api_upload(client, headers, *files):
    body, content_type = multipart(
        {"files": [(io.BytesIO(content), name) for name, content in files]}
    )
    return client.post("/api/v1/calls", data=body, headers=headers, content_type=content_type)


def web_upload(client, *files):
    html = client.get("/apps/calls").get_data(as_text=True)
    body, content_type = multipart(
        {
            "csrf_token": csrf_token_from(html),
            "files": [(io.BytesIO(content), name) for name, content in files],
        }
    )
    return client.post("/apps/calls/upload", data=body, content_type=content_type)


def count(app, model, *where) -> int:
    with session_scope(get_storage(app)) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_the_desk_form_and_the_api_share_one_limit(app, client, login, api_headers):
    big = wav(100, tone=1)  # 3.2 MB: over the app's general MAX_CONTENT_LENGTH (2 MB)
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]
    login("operator")
    response = web_upload(client, ("big.wav", big))
    assert response.status_code == 302 and "/apps/calls/" in response.location
    assert api_upload(client, api_headers("operator"), ("big2.wav", wav(100, 2))).status_code == 202

    # one setting for both: CALL_MAX_BYTES per file, CALL_MAX_FILES per request
    app.config.update(CALL_MAX_BYTES=1024 * 1024, CALL_MAX_FILES=1)
    # a file over the limit (the body is within the request limit: the spooling refuses it)
    response = api_upload(client, api_headers("operator"), ("c.wav", wav(40, 3)))
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "too_large" and "c.wav" in error["message"]
    assert "上限" in error["message"] or "大き" in error["message"]
    page = client.get(web_upload(client, ("c.wav", wav(40, 3))).location).get_data(as_text=True)
    assert "c.wav" in page and "何も保存していません" in page
    # a body over the request limit: 413 JSON from the API, a message on the desk's form
    response = api_upload(client, api_headers("operator"), ("d.wav", big))
    assert response.status_code == 413 and response.is_json
    assert response.get_json()["error"]["code"] == "too_large"
    response = web_upload(client, ("d.wav", big))
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "アップロードが大きすぎます" in page and "1 MB" in page
    assert count(app, CallRecording) == 2  # the two accepted at first, nothing since


def test_the_same_recording_twice_links_to_the_existing_call_and_incident(
    app, client, login, api_headers, yaizu, stub_engine
):
    stub_engine.texts = ["駅北一丁目のアパートで火事です。"]
    headers = api_headers("operator")
    first = api_upload(client, headers, ("a.wav", audio_bytes("d03.wav")))
    assert first.status_code == 202
    call = first.get_json()["calls"][0]
    assert call["duplicate"] is False
    runner_for(app).run_pending()
    incident_id = client.get(f"/api/v1/calls/{call['id']}", headers=headers).get_json()[
        "incident_id"
    ]
    assert incident_id

    # the same bytes under another name: 200, the existing call and its incident
    again = api_upload(client, headers, ("また.wav", audio_bytes("d03.wav")))
    assert again.status_code == 200, again.get_json()
    (same,) = again.get_json()["calls"]
    assert same["duplicate"] is True
    assert (same["id"], same["incident_id"], same["status"]) == (call["id"], incident_id, "done")
    # with a new recording in the same upload: 202, one new call, the other linked
    mixed = api_upload(
        client, headers, ("b.wav", audio_bytes("d03.wav")), ("new.wav", wav(2, tone=5))
    )
    assert mixed.status_code == 202
    assert [c["duplicate"] for c in mixed.get_json()["calls"]] == [True, False]

    # the desk's form: a Japanese message and the existing call's page
    login("operator")
    response = web_upload(client, ("c.wav", audio_bytes("d03.wav")))
    assert response.status_code == 302 and response.location.endswith(f"/apps/calls/{call['id']}")
    page = client.get(response.location).get_data(as_text=True)
    assert f"通報 {call['id']} と同じ録音です" in page

    assert count(app, CallRecording) == 2  # d03 once, the new one
    assert count(app, Job, Job.kind == "transcription.transcribe") == 2
    assert count(app, Incident) == 1
    assert count(app, AuditEvent, AuditEvent.action == "call.duplicate") == 3
