"""A full disk under the call folder: the upload is refused with 507 and a Japanese message that
says it was not saved; nothing half-written is left behind, and the calls stored before are intact."""

from __future__ import annotations

import errno
import io
import tempfile
from pathlib import Path

from call_helpers import audio_bytes, multipart
from sqlalchemy import func, select

from disaster_ai.apps.transcription.models import CallRecording
from disaster_ai.storage import get_storage, session_scope


def upload(client, headers, name, content):
    body, content_type = multipart({"files": [(io.BytesIO(content), name)]})
    return client.post("/api/v1/calls", data=body, headers=headers, content_type=content_type)


def test_a_full_disk_gives_507_and_keeps_what_was_stored(
    app, client, api_headers, yaizu, stub_engine, monkeypatch
):
    headers = api_headers("operator")
    first = upload(client, headers, "d01.wav", audio_bytes("d01.wav"))
    assert first.status_code == 202

    real = tempfile.NamedTemporaryFile

    class FullDisk:
        def __init__(self, handle):
            self.handle, self.name = handle, handle.name

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", lambda **kw: FullDisk(real(**kw)))
    refused = upload(client, headers, "d02.wav", audio_bytes("d02.wav"))
    assert refused.status_code == 507
    assert refused.headers["Retry-After"]
    error = refused.get_json()["error"]
    assert error["code"] == "storage_full" and "ディスクがいっぱい" in error["message"]

    monkeypatch.undo()
    with session_scope(get_storage(app)) as session:
        assert session.scalar(select(func.count()).select_from(CallRecording)) == 1
    incoming = list((Path(app.instance_path) / "calls" / ".incoming").glob("*"))
    assert incoming == []  # the partial file was removed
    again = client.get(f"/api/v1/calls/{first.get_json()['calls'][0]['id']}", headers=headers)
    assert again.status_code == 200
