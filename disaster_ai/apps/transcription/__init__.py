"""Call-recording transcription. Registered as a core plugin.

Module map (api → service → model, STYLE.md §5):
  models.py           the call_recordings table
  types.py            hook payloads: TranscribeOptions, Transcript, PlaceName
  audio.py            probe (no decoding) and decode to 16 kHz mono float32 with PyAV
  models_assembly.py  assemble the packaged Whisper weights into instance/models/
  engines/            faster_whisper.py (the default engine), openai_whisper.py and
                      transformers_whisper.py (optional)
  convert.py          CTranslate2 weights → openai-whisper checkpoint and transformers folder
                      (models convert-whisper)
  gazetteer.py        the core dai_place_names: places layer and shelters (with their points)
  triage.py           category, life threat (yes / 要確認 / no), further incidents, people,
                      vulnerable people, call-back: matches data/triage_lexicon.toml on the text
                      and its reading
  facts.py            place resolution by readings (context support, landmarks, 丁目), and the
                      facts of a call (triage after the place names are masked), callback masking
  evaluation.py       scoring the triage against a labelled corpus (benchmarks, tests)
  service.py          uploads, the transcription job, incidents, confirm/correct, purge
  api.py              /api/v1/calls…
  web.py              /apps/calls desk pages
  cli.py              ``disaster-ai transcribe``, ``disaster-ai models assemble|convert-whisper``
"""

from __future__ import annotations

from pathlib import Path

from flask_babel import lazy_gettext as _l

from disaster_ai import hookimpl
from disaster_ai.types import AppSpec, HealthCheck, JobHandler, JobSpec, PermissionSpec

DESK = frozenset({"operator", "approver", "admin"})


@hookimpl
def dai_register_apps():
    return [AppSpec("calls", _l("Calls"), "calls_web.index", "operator", order=30)]


@hookimpl
def dai_register_permissions():
    return [
        PermissionSpec("calls.upload", DESK, "upload and transcribe call recordings"),
        PermissionSpec("calls.view", DESK, "read call transcripts, facts and audio"),
        PermissionSpec("calls.confirm", DESK, "confirm or correct the facts of a call"),
    ]


@hookimpl
def dai_register_blueprints():
    from disaster_ai.apps.transcription import api, web

    return [api.bp, web.bp]


@hookimpl
def dai_register_commands(cli):
    from disaster_ai.apps.transcription.cli import models_group, transcribe_command

    cli.add_command(transcribe_command)
    existing = getattr(cli, "commands", {}).get("models")
    if existing is None:
        cli.add_command(models_group)
    elif hasattr(existing, "add_command"):  # another plugin made the group: join it
        for command in models_group.commands.values():
            existing.add_command(command)


# The transcription job's stages (service.transcribe_job reports them as the job message).
STAGE_LABELS = {
    "decoding": _l("Decoding the audio"),
    "transcribing": _l("Transcribing"),
    "facts": _l("Extracting the facts"),
    "done": _l("Done"),
}


@hookimpl
def dai_job_handlers():
    from disaster_ai.apps.transcription import service

    return [
        JobHandler(
            service.TRANSCRIBE_JOB,
            service.transcribe_job,
            max_attempts=2,
            timeout_seconds=1800,
            title=_l("Transcribe a call"),
            stages=STAGE_LABELS,
        )
    ]


@hookimpl
def dai_register_jobs(config):
    from apscheduler.triggers.interval import IntervalTrigger

    from disaster_ai.apps.transcription.service import PURGE_JOB_ID, run_purge

    minutes = int(config["CALL_PURGE_INTERVAL_MINUTES"])
    return [
        JobSpec(PURGE_JOB_ID, IntervalTrigger(minutes=minutes), run_purge, misfire_grace_time=600)
    ]


@hookimpl
def dai_health_checks(app):
    from disaster_ai.apps.transcription import models_assembly, service

    engine = app.config["TRANSCRIPTION_ENGINE"]
    if engine == "openai-whisper":
        checkpoint = Path(service.openai_checkpoint(app))
        ok = checkpoint.is_file()
        detail = (
            str(checkpoint)
            if ok
            else f"{checkpoint} is missing: run `disaster-ai models convert-whisper`"
        )
        return [HealthCheck("transcription.model", ok, detail, critical=False)]
    if engine == "transformers":
        folder = Path(service.transformers_dir(app))
        ok = (folder / "config.json").is_file()
        detail = (
            str(folder) if ok else f"{folder} is missing: run `disaster-ai models convert-whisper`"
        )
        return [HealthCheck("transcription.model", ok, detail, critical=False)]
    if engine != "faster-whisper":
        return []
    problem = models_assembly.check(Path(service.model_dir(app)))
    return [
        HealthCheck(
            "transcription.model",
            problem is None,
            problem or "whisper-base-ct2 assembled",
            critical=False,
        )
    ]


@hookimpl(trylast=True)
def dai_transcribe(audio, options):
    from disaster_ai.apps.transcription.service import default_transcribe

    return default_transcribe(audio, options)


@hookimpl(trylast=True)
def dai_score_texts(audio, texts, options):
    from disaster_ai.apps.transcription.service import default_score_texts

    return default_score_texts(audio, texts, options)


@hookimpl
def dai_place_names(municipality):
    from disaster_ai.apps.transcription.gazetteer import core_place_names

    return core_place_names()


@hookimpl
def dai_add_hookspecs(pm):
    """This app's own hooks exist only while the app is loaded."""
    from disaster_ai.apps.transcription import hookspecs

    pm.add_hookspecs(hookspecs)


@hookimpl
def dai_models():
    return ["disaster_ai.apps.transcription.models"]


@hookimpl
def dai_migrations():
    from pathlib import Path

    from disaster_ai.types import MigrationSource

    folder = Path(__file__).resolve().parent / "migrations"
    return [MigrationSource("transcription", str(folder), after=("situation",))]


@hookimpl
def dai_incident_links(session, incident_id, actor):
    """The calls an incident was heard in, for the incident's page (back to the call)."""
    from flask import url_for
    from flask_babel import gettext
    from sqlalchemy import select

    from disaster_ai.apps.transcription.models import CallRecording
    from disaster_ai.auth import is_allowed
    from disaster_ai.storage.base import JST
    from disaster_ai.types import Link

    if not is_allowed(actor, "calls.view"):
        return []
    calls = session.execute(
        select(CallRecording.id, CallRecording.uploaded_at)
        .where(CallRecording.incident_id == incident_id)
        .order_by(CallRecording.id)
    ).all()
    return [
        Link(
            gettext(
                "Call #%(id)s (%(time)s)",
                id=call_id,
                time=f"{uploaded.astimezone(JST):%m/%d %H:%M}",
            ),
            url_for("calls_web.call_page", call_id=call_id),
        )
        for call_id, uploaded in calls
    ]


@hookimpl
def dai_notifications(event):
    """The desk's live notifications about this app's events (alerts.py)."""
    from disaster_ai.apps.transcription.alerts import notifications_for

    return notifications_for(event)


@hookimpl
def dai_ai_components(app):
    """This app's AI components for the governance inventory."""
    from disaster_ai.apps.transcription import ai_inventory

    return ai_inventory.components(app)


@hookimpl
def dai_ai_risk_sheets():
    from disaster_ai.apps.transcription import ai_inventory

    return ai_inventory.risk_sheets()


@hookimpl
def dai_audit_actions():
    """The audit actions this app records, as the audit page names them."""
    return {
        "call.upload": _l("Call recording uploaded"),
        "call.duplicate": _l("Call recording was a duplicate"),
        "call.proposal": _l("Call proposal changed"),
        "call.confirm": _l("Call confirmed as an incident"),
        "call.purge": _l("Call recordings purged"),
    }
