"""Upload → job → transcript → facts → incident, through the API, with a stub engine.

The real model runs in test_real_model.py; here ``stub_engine`` answers ``dai_transcribe`` with
a given text so that the surrounding logic is tested quickly and exactly."""

from __future__ import annotations

import io
import os
import re

import pytest
from call_helpers import AUDIO, CALLS, StubEngine, audio_bytes, multipart, transcode
from sqlalchemy import func, select

from disaster_ai import hookimpl
from disaster_ai.apps.situation.models import Incident
from disaster_ai.apps.transcription.models import CallRecording
from disaster_ai.apps.transcription.types import PlaceName
from disaster_ai.jobs.service import runner_for
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import AuditEvent, Job

PHONE_TEXT = "駅北一丁目のアパートで火事です。折り返しは090-1234-5678にお願いします。"


def upload(client, headers, *files):
    body, content_type = multipart(
        {"files": [(io.BytesIO(content), name) for name, content in files]}
    )
    return client.post("/api/v1/calls", data=body, headers=headers, content_type=content_type)


def stored_files(app) -> list[str]:
    folder = os.path.join(app.instance_path, "calls")
    if not os.path.isdir(folder):
        return []
    found = []
    for root, _dirs, names in os.walk(folder):
        found += [os.path.join(root, n) for n in names]
    return found


def counts(app) -> tuple[int, int]:
    with session_scope(get_storage(app)) as session:
        calls = session.scalar(select(func.count()).select_from(CallRecording))
        jobs = session.scalar(
            select(func.count()).select_from(Job).where(Job.kind == "transcription.transcribe")
        )
    return calls, jobs


def test_upload_commits_and_queues_before_any_inference(
    app, client, api_headers, yaizu, stub_engine
):
    stub_engine.texts = [CALLS["d01"]["text"], CALLS["d02"]["text"]]
    headers = api_headers("operator")
    response = upload(
        client,
        headers,
        ("d01.wav", audio_bytes("d01.wav")),
        ("電話 d02.wav", audio_bytes("d02_tel8k.wav")),
    )
    assert response.status_code == 202, response.get_json()
    calls = response.get_json()["calls"]
    assert [c["status"] for c in calls] == ["queued", "queued"]
    assert calls[1]["codec"] == "pcm_mulaw" and calls[1]["sample_rate"] == 8000
    # committed before anything ran: rows, jobs and files exist, the engine was not called
    assert counts(app) == (2, 2)
    assert stub_engine.calls == 0
    files = stored_files(app)
    assert len(files) == 2
    assert all(re.fullmatch(r"[0-9a-f]{32}\.wav", os.path.basename(f)) for f in files), files
    with session_scope(get_storage(app)) as session:
        jobs = session.scalars(select(Job).where(Job.kind == "transcription.transcribe")).all()
        assert {j.state for j in jobs} == {"queued"}

    assert runner_for(app).run_pending() == 2
    assert stub_engine.calls == 2
    first = client.get(f"/api/v1/calls/{calls[0]['id']}", headers=headers).get_json()
    assert first["status"] == "done" and first["job"]["state"] == "succeeded"
    assert first["facts"]["place"]["name"] == "本町二丁目"
    assert first["facts"]["category"] == "road_flooding"
    second = client.get(f"/api/v1/calls/{calls[1]['id']}", headers=headers).get_json()
    assert second["facts"]["place"]["name"] == "小川新町三丁目"
    assert (second["facts"]["life_threat"], second["facts"]["vulnerable"]) == (True, True)
    with session_scope(get_storage(app)) as session:
        incident = session.get(Incident, second["incident_id"])
        assert (incident.status, incident.source, incident.place_name) == (
            "unverified",
            "call",
            "小川新町三丁目",
        )
        assert incident.category == "rescue" and incident.lon is not None
        ai_calls = session.scalars(select(AuditEvent).where(AuditEvent.action == "ai.call")).all()
        assert len(ai_calls) == 2 and ai_calls[0].ai_engine == "stub"
    with client.get(f"/api/v1/calls/{calls[0]['id']}/audio", headers=headers) as audio:
        assert audio.status_code == 200 and audio.data == audio_bytes("d01.wav")


def _bad_inputs(tmp_path):
    wav = audio_bytes("d01.wav")
    adpcm = transcode(AUDIO / "d01.wav", tmp_path / "a.wav", "adpcm_ms", 16000, "mono", "wav")
    return {
        "corrupt.mp3": (audio_bytes("d01.mp3")[:2000] + os.urandom(30000), 422),
        "truncated.wav": (wav[: len(wav) // 2], 422),
        "notes.wav": (b"this is a text file, not a recording\n" * 30, 422),
        "empty.wav": (b"", 422),
        "adpcm.wav": (adpcm.read_bytes(), 415),
    }


def test_bad_input_is_rejected_with_nothing_stored(app, client, api_headers, tmp_path):
    headers = api_headers("operator")
    for name, (content, status) in _bad_inputs(tmp_path).items():
        # the bad file comes second: the good first file must not stay behind either
        response = upload(client, headers, ("good.wav", audio_bytes("d03.wav")), (name, content))
        assert response.status_code == status, (name, response.get_json())
        error = response.get_json()["error"]
        assert error["details"]["file"] == name and error["details"]["index"] == 1
        assert counts(app) == (0, 0), name
        assert stored_files(app) == [], name


def test_duration_and_size_limits(app, client, api_headers):
    headers = api_headers("operator")
    app.config["CALL_MAX_SECONDS"] = 5
    response = upload(client, headers, ("long.mp3", audio_bytes("d01.mp3")))
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["reason"] == "too_long"
    app.config["CALL_MAX_SECONDS"] = 900
    app.config["CALL_MAX_BYTES"] = 50_000
    response = upload(client, headers, ("big.wav", audio_bytes("d01.wav")))
    assert response.status_code == 413
    assert response.get_json()["error"]["details"]["reason"] == "too_large"
    response = upload(client, headers)
    assert response.status_code == 422
    assert counts(app) == (0, 0) and stored_files(app) == []


def test_upload_needs_a_desk_role(client, users):
    response = upload(client, {}, ("d01.wav", audio_bytes("d01.wav")))
    assert response.status_code == 401


def test_callback_number_is_masked_in_api_cli_and_ui(
    app, client, api_headers, login, runner, yaizu, stub_engine, tmp_path
):
    stub_engine.texts = [PHONE_TEXT, PHONE_TEXT]
    headers = api_headers("operator")
    call_id = upload(client, headers, ("d06.wav", audio_bytes("d06.wav"))).get_json()["calls"][0][
        "id"
    ]
    runner_for(app).run_pending()
    body = client.get(f"/api/v1/calls/{call_id}", headers=headers).get_data(as_text=True)
    listing = client.get("/api/v1/calls", headers=headers).get_data(as_text=True)
    login("operator")
    page = client.get(f"/apps/calls/{call_id}").get_data(as_text=True)
    cli = runner.invoke(["transcribe", str(AUDIO / "d06.mp3"), "--json"])
    assert cli.exit_code == 0, cli.output
    for output in (body, listing, page, cli.output):
        assert "1234" not in output and "5678" not in output
        assert "**78" in output or "\\u002a\\u002a78" in output
    with session_scope(get_storage(app)) as session:
        incident = session.scalars(select(Incident)).first()
        assert "1234" not in incident.description
        outputs = [e.output for e in session.scalars(select(AuditEvent)) if e.output]
        assert outputs and not any("1234" in o for o in outputs)


def test_unresolved_place_makes_no_incident_until_the_operator_gives_one(
    app, client, api_headers, yaizu, stub_engine
):
    stub_engine.texts = ["大雨で家の前の道が川のようになっています。車が動けません。"]
    headers = api_headers("operator")
    call_id = upload(client, headers, ("x.wav", audio_bytes("d01.wav"))).get_json()["calls"][0][
        "id"
    ]
    runner_for(app).run_pending()
    call = client.get(f"/api/v1/calls/{call_id}", headers=headers).get_json()
    assert call["facts"]["place"] is None and call["incident_id"] is None
    response = client.post(f"/api/v1/calls/{call_id}/confirm", json={}, headers=headers)
    assert response.status_code == 422
    response = client.post(
        f"/api/v1/calls/{call_id}/confirm",
        json={"place_name": "高崎", "category": "road_flooding", "people": 2},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    confirmed = response.get_json()
    assert confirmed["facts"]["place"]["name"] == "高崎"
    with session_scope(get_storage(app)) as session:
        incident = session.get(Incident, confirmed["incident_id"])
        assert (incident.status, incident.place_name, incident.people) == ("confirmed", "高崎", 2)
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "call.confirm")).one()
        assert event.detail["corrections"]["place_name"] == {"from": None, "to": "高崎"}


def test_operator_corrects_a_resolved_call(app, client, api_headers, yaizu, stub_engine):
    stub_engine.texts = [CALLS["d04"]["text"]]
    headers = api_headers("operator")
    call_id = upload(client, headers, ("d04.mp3", audio_bytes("d04.mp3"))).get_json()["calls"][0][
        "id"
    ]
    runner_for(app).run_pending()
    call = client.get(f"/api/v1/calls/{call_id}", headers=headers).get_json()
    assert call["facts"]["place"]["name"] == "藤守" and call["incident_id"]
    response = client.post(
        f"/api/v1/calls/{call_id}/confirm",
        json={"category": "welfare_check", "vulnerable": True},
        headers=headers,
    )
    assert response.status_code == 200
    with session_scope(get_storage(app)) as session:
        incident = session.get(Incident, call["incident_id"])
        assert (incident.status, incident.category, incident.vulnerable) == (
            "confirmed",
            "welfare_check",
            True,
        )
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "call.confirm")).one()
        assert event.detail["corrections"]["category"] == {
            "from": "shelter_inquiry",
            "to": "welfare_check",
        }


def test_retention_purge_deletes_audio_and_transcript(app, client, api_headers, stub_engine):
    from datetime import timedelta

    from disaster_ai.apps.transcription.service import purge_expired
    from disaster_ai.storage.base import now

    stub_engine.texts = [CALLS["d03"]["text"]]
    headers = api_headers("operator")
    call_id = upload(client, headers, ("d03.wav", audio_bytes("d03.wav"))).get_json()["calls"][0][
        "id"
    ]
    runner_for(app).run_pending()
    assert purge_expired(app) == 0
    assert purge_expired(app, at=now() + timedelta(days=31)) == 1
    call = client.get(f"/api/v1/calls/{call_id}", headers=headers).get_json()
    assert call["status"] == "purged" and call["text"] == "" and call["segments"] == []
    assert call["facts"]["category"] == "landslide"  # the facts stay
    assert stored_files(app) == []
    assert client.get(f"/api/v1/calls/{call_id}/audio", headers=headers).status_code == 404


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_hook_dai_transcribe(app, client, api_headers, register_plugin):
    headers = api_headers("operator")
    # no engine answers for an unknown TRANSCRIPTION_ENGINE: the job fails with a clear error
    app.config["TRANSCRIPTION_ENGINE"] = "kotoba"
    call_id = upload(client, headers, ("a.wav", audio_bytes("d03.wav"))).get_json()["calls"][0][
        "id"
    ]
    runner_for(app).run_pending()
    call = client.get(f"/api/v1/calls/{call_id}", headers=headers).get_json()
    assert call["status"] == "failed" and "kotoba" in call["error"]

    class Kotoba(StubEngine):
        @hookimpl
        def dai_transcribe(self, audio, options):
            if options.engine != "kotoba":
                return None
            assert options.language == "ja" and options.beam_size == 5
            assert audio.dtype.name == "float32" and audio.shape[0] > 16000 * 7
            return super().dai_transcribe(audio, options)

    engine = Kotoba()
    engine.texts = [CALLS["d03"]["text"]]
    register_plugin(engine, name="kotoba")
    call_id = upload(client, headers, ("b.wav", audio_bytes("d03.wav"))).get_json()["calls"][0][
        "id"
    ]
    runner_for(app).run_pending()
    call = client.get(f"/api/v1/calls/{call_id}", headers=headers).get_json()
    assert call["status"] == "done" and call["engine"] == "stub" and engine.calls == 1


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_hook_dai_place_names(app, client, api_headers, register_plugin, stub_engine):
    class Landmarks:
        @hookimpl
        def dai_place_names(self, municipality):
            return [PlaceName("焼津漁港", "port-1", "landmark", ("ヤイヅギョコウ",))]

    register_plugin(Landmarks(), name="landmarks")
    stub_engine.texts = ["やいずぎょこうで波が岸壁を越えています。"]
    headers = api_headers("operator")
    call_id = upload(client, headers, ("c.wav", audio_bytes("d07.wav"))).get_json()["calls"][0][
        "id"
    ]
    runner_for(app).run_pending()
    call = client.get(f"/api/v1/calls/{call_id}", headers=headers).get_json()
    assert call["facts"]["place"] == {"name": "焼津漁港", "code": "port-1", "score": 1.0}
    assert call["incident_id"] is None  # only gazetteer towns are placed automatically


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_hook_dai_score_texts(app, client, api_headers, register_plugin, stub_engine):
    """An engine that can score texts against the audio lets a place Whisper garbled resolve:
    the candidate whose name fits the recording is taken, and only that one."""

    class Scorer:
        def __init__(self, fits):
            self.fits, self.seen = fits, []

        @hookimpl
        def dai_score_texts(self, audio, texts, options):
            if options.engine != "stub":
                return None
            assert audio.dtype.name == "float32" and audio.shape[0] <= 16000 * 30
            self.seen.append(list(texts))
            return [0.0] + [self.fits(text) for text in texts[1:]]

    # the caller said 三和; the transcript says サンバー, which the reading matches only weakly
    text = "屋根瓦が落ちてきました。サンバーです。"
    scorer = Scorer(lambda t: -3.0 if ("三和" in t or "サンワ" in t or "さんわ" in t) else -25.0)
    register_plugin(scorer, name="scorer")

    class Towns:
        @hookimpl
        def dai_place_names(self, municipality):
            return [PlaceName("三和", "town-sanwa", "town", ("サンワ",))]

    register_plugin(Towns(), name="towns")
    headers = api_headers("operator")
    stub_engine.texts = [text, text]
    first = upload(client, headers, ("a.wav", audio_bytes("d07.wav"))).get_json()["calls"][0]
    runner_for(app).run_pending()
    call = client.get(f"/api/v1/calls/{first['id']}", headers=headers).get_json()
    assert scorer.seen and scorer.seen[0][0] == text, call["facts"]  # the transcript first
    assert call["facts"]["place"]["name"] == "三和"
    assert call["facts"]["candidates"][0]["name"] == "三和"
    assert call["facts"]["candidates"][0]["acoustic"] == -3.0
    assert call["facts"]["place"]["code"] == "town-sanwa"

    # when no name fits the audio, the place stays unresolved (no guess, no incident)
    scorer.fits = lambda t: -25.0
    second = upload(client, headers, ("b.wav", audio_bytes("d03.wav"))).get_json()["calls"][0]
    runner_for(app).run_pending()
    call = client.get(f"/api/v1/calls/{second['id']}", headers=headers).get_json()
    assert call["facts"]["place"] is None and call["incident_id"] is None
    assert any(c["name"] == "三和" for c in call["facts"]["candidates"])
