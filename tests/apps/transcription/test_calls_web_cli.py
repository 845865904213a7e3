"""The desk pages (upload several files, transcript with seek targets and highlighted words,
facts, confirm) and the CLI (``transcribe --json`` keys, ``models assemble``), with the stub
engine. The real-model CLI run is in test_real_model.py."""

from __future__ import annotations

import io
import json

import pytest
from call_helpers import AUDIO, CALLS, audio_bytes, multipart
from sqlalchemy import select

from disaster_ai.apps.situation.models import Incident
from disaster_ai.jobs.service import runner_for
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.testing import csrf_token_from

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
CLI_KEYS = {"text", "segments", "language", "duration_s", "engine", "facts", "incident_id"}
FACT_KEYS = {"place", "category", "life_threat", "people", "vulnerable"}


def test_upload_page_transcript_and_confirm(app, client, login, yaizu, stub_engine):
    stub_engine.texts = [CALLS["d06"]["text"], CALLS["d07"]["text"]]
    login("operator")
    page = client.get("/apps/calls")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'type="file"' in html and "multiple" in html
    body, content_type = multipart(
        {
            "csrf_token": csrf_token_from(html),
            "files": [
                (io.BytesIO(audio_bytes("d06.wav")), "d06.wav"),
                (io.BytesIO(audio_bytes("d07.mp3")), "d07.mp3"),
            ],
        }
    )
    response = client.post("/apps/calls/upload", data=body, content_type=content_type)
    assert response.status_code == 302
    listing = client.get("/apps/calls").get_data(as_text=True)
    assert "d06.wav" in listing and "d07.mp3" in listing
    runner_for(app).run_pending()
    page = client.get("/apps/calls/1").get_data(as_text=True)
    assert 'id="call-audio"' in page and "/api/v1/calls/1/audio" in page
    assert 'data-start="0.0"' in page  # a segment the player seeks to
    assert "low-confidence" in page  # the stub's second word has probability 0.3
    assert "駅北一丁目" in page and "calls.js" in page
    response = client.post(
        "/apps/calls/1/confirm",
        data={
            "csrf_token": csrf_token_from(page),
            "place_name": "駅北一丁目",
            "category": "fire",
            "life_threat": "y",
        },
    )
    assert response.status_code == 302
    with session_scope(get_storage(app)) as session:
        incident = session.scalars(select(Incident).order_by(Incident.id)).first()
        assert (incident.status, incident.place_name, incident.category) == (
            "confirmed",
            "駅北一丁目",
            "fire",
        )
    assert client.get("/apps/calls/999").status_code == 404


def test_failed_upload_page_says_why(app, client, login):
    login("operator")
    html = client.get("/apps/calls").get_data(as_text=True)
    response = client.post(
        "/apps/calls/upload",
        data={"csrf_token": csrf_token_from(html), "files": [(io.BytesIO(b"nope" * 10), "x.wav")]},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "x.wav" in response.get_data(as_text=True)


def test_upload_with_progress_gets_the_page_to_open_and_keeps_its_message(
    app, client, login, yaizu, stub_engine
):
    """calls.js posts with XMLHttpRequest to show a progress bar: the answer is the page to
    open, and the flash message waits for that page (not eaten by the script's request)."""
    stub_engine.texts = [CALLS["d03"]["text"]]
    login("operator")
    html = client.get("/apps/calls").get_data(as_text=True)
    assert 'id="upload-progress"' in html and "calls.js" in html
    body, content_type = multipart(
        {
            "csrf_token": csrf_token_from(html),
            "files": [(io.BytesIO(audio_bytes("d03.wav")), "d03.wav")],
        }
    )
    response = client.post(
        "/apps/calls/upload",
        data=body,
        content_type=content_type,
        headers={"X-Requested-With": "XMLHttpRequest"},
    )
    assert response.status_code == 200 and response.get_json() == {"redirect": "/apps/calls/1"}
    page = client.get("/apps/calls/1").get_data(as_text=True)
    assert "1件の録音を文字起こしの待ち行列に入れました。" in page  # the flash, on that page


def test_the_call_page_names_the_job_stage_in_japanese(app, client, login, yaizu, stub_engine):
    from disaster_ai.storage.models import Job

    login("operator")
    html = client.get("/apps/calls").get_data(as_text=True)
    body, content_type = multipart(
        {
            "csrf_token": csrf_token_from(html),
            "files": [(io.BytesIO(audio_bytes("d03.wav")), "d03.wav")],
        }
    )
    assert (
        client.post("/apps/calls/upload", data=body, content_type=content_type).status_code == 302
    )
    with session_scope(get_storage(app)) as session:  # the job as a worker leaves it mid-way
        job = session.scalars(select(Job)).one()
        job.progress, job.message = 5, "decoding"
    page = client.get("/apps/calls/1").get_data(as_text=True)
    assert "音声を読み込み中" in page and "decoding" not in page


def test_cli_transcribe_json_has_exactly_the_documented_keys(app, runner, yaizu, stub_engine):
    stub_engine.texts = [CALLS["d03"]["text"], CALLS["d08"]["text"]]
    result = runner.invoke(
        ["transcribe", str(AUDIO / "d03_tel8k.wav"), str(AUDIO / "d08.mp3"), "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 2
    for row in rows:
        assert set(row) == CLI_KEYS
        assert set(row["facts"]) == FACT_KEYS
        assert set(row["facts"]["place"]) == {"name", "code", "score"}
        assert row["segments"] and {"start", "end", "text"} <= set(row["segments"][0])
    assert rows[0]["facts"]["place"]["name"] == "高崎"
    assert rows[1]["facts"]["place"]["name"] == "西小川五丁目"
    assert rows[0]["incident_id"] and rows[1]["incident_id"] != rows[0]["incident_id"]
    # progress goes to stderr, one line per stage, never into the JSON on stdout
    assert "d03_tel8k.wav:  10 % transcribing" in result.stderr
    assert "d08.mp3: 100 % done" in result.stderr
    text = runner.invoke(["transcribe", str(AUDIO / "d03.wav")])
    assert text.exit_code == 0 and "place=" in text.output


def test_cli_transcribe_rejects_bad_files(app, runner, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 20)
    result = runner.runner.invoke(
        runner.cli, ["transcribe", str(bad)], obj=None, catch_exceptions=True
    )
    assert result.exit_code != 0


def test_models_assemble_and_health_check(app, runner, client):
    health = client.get("/healthz").get_json()
    check = health["checks"]["transcription.model"]
    assert check["ok"] is False and "models assemble" in check["detail"]
    result = runner.invoke(["models", "assemble"])
    assert result.exit_code == 0, result.output
    assert "sha256 ok" in result.output
    health = client.get("/healthz").get_json()
    assert health["checks"]["transcription.model"]["ok"] is True
