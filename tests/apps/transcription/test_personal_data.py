"""Issue 12 item 8: a purged call leaves no transcript anywhere in the database file.

The audit log keeps a digest, the length and the call id of a transcript, never its text, so
that the retention purge (which blanks the call row) really removes the personal data."""

from __future__ import annotations

import hashlib
import io
import sqlite3
from datetime import timedelta

import pytest
from call_helpers import audio_bytes, multipart
from sqlalchemy import select

from disaster_ai.apps.transcription.service import purge_expired
from disaster_ai.jobs.service import runner_for
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import now
from disaster_ai.storage.models import AuditEvent

# a caller's words with a name and a callback number: personal data
TRANSCRIPT = "山田花子です。駅北一丁目の自宅で母が倒れて動けません。折り返しは090-2222-3333です。"
PIECES = [p for p in TRANSCRIPT.split("。") if len(p) >= 6] + ["山田花子", "2222-3333"]


def _sqlite_path(app) -> str:
    url = app.config["DATABASE_URL"]
    assert url.startswith("sqlite:///")
    return url.removeprefix("sqlite:///")


def _text_hits(path: str) -> list[str]:
    """Every (table.column) whose text holds a piece of the transcript."""
    hits = []
    with sqlite3.connect(path) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                for (value,) in con.execute(f'SELECT "{column}" FROM "{table}"'):
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    if value is None or not isinstance(value, str):
                        continue
                    # JSON columns may escape non-ASCII: decode them both ways
                    texts = [value]
                    if "\\u" in value:
                        texts.append(value.encode().decode("unicode_escape", "replace"))
                    if any(piece in text for piece in PIECES for text in texts):
                        hits.append(f"{table}.{column}")
    return hits


def _raw_hits(path: str) -> list[str]:
    raw = b""
    for suffix in ("", "-wal", "-journal"):
        try:
            with open(path + suffix, "rb") as handle:
                raw += handle.read()
        except FileNotFoundError:
            pass
    return [p for p in PIECES if p.encode("utf-8") in raw]


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_purge_leaves_no_transcript_in_the_database_file(
    app, client, api_headers, yaizu, stub_engine
):
    stub_engine.texts = [TRANSCRIPT]
    headers = api_headers("operator")
    body, content_type = multipart({"files": [(io.BytesIO(audio_bytes("d03.wav")), "a.wav")]})
    response = client.post("/api/v1/calls", data=body, headers=headers, content_type=content_type)
    assert response.status_code == 202, response.get_json()
    call_id = response.get_json()["calls"][0]["id"]
    runner_for(app).run_pending()
    call = client.get(f"/api/v1/calls/{call_id}", headers=headers).get_json()
    assert call["status"] == "done" and "駅北一丁目" in call["text"]
    assert call["incident_id"]  # the place resolved: an incident was made from the call

    # the audit of the engine call: digest, length and call id, not the words
    with session_scope(get_storage(app)) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "ai.call")).one()
        assert event.target == f"call:{call_id}"
        assert event.output == "sha256:" + hashlib.sha256(TRANSCRIPT.encode()).hexdigest()
        assert event.detail["chars"] == len(TRANSCRIPT)

    # before the purge the transcript is in the database (the scan does find it) ...
    assert "call_recordings.text" in _text_hits(_sqlite_path(app))

    assert purge_expired(app, at=now() + timedelta(days=app.config["CALL_RETENTION_DAYS"] + 1)) == 1
    path = _sqlite_path(app)
    # ... after it, no text column of any table and no byte of the file holds it
    assert _text_hits(path) == []
    assert _raw_hits(path) == []
    call = client.get(f"/api/v1/calls/{call_id}", headers=headers).get_json()
    assert call["status"] == "purged" and call["text"] == ""
    incident = client.get(f"/api/v1/incidents/{call['incident_id']}", headers=headers)
    assert incident.status_code == 200, incident.get_json()
    assert "保存期間の経過により削除" in incident.get_json()["description"]
