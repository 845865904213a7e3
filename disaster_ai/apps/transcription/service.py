"""Call recordings: store uploads, run transcription jobs, extract facts, make incidents.

Order of work (the issue's rule): an upload is validated cheaply (size, container, codec and
duration by demuxing, no decoding), stored under a random name, its row committed and its job
queued; only the job decodes the audio and runs the engine. A bad file in a batch rejects the
whole batch and leaves nothing behind. No ``request`` and no templates here (STYLE.md §5).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import tempfile
import time
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import numpy as np
from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from disaster_ai import audit, events
from disaster_ai.apps.transcription import audio, facts, models_assembly
from disaster_ai.apps.transcription.models import CallRecording
from disaster_ai.apps.transcription.types import PlaceName, TranscribeOptions, Transcript
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import JST, now
from disaster_ai.types import SYSTEM_ACTOR, Actor

log = logging.getLogger(__name__)
APP = "transcription"


def desk(app=None):
    """This app's facade (``disaster_ai.desk``): incidents and layers belong to the situation
    app, which this app reaches only through it."""
    from disaster_ai.desk import Desk

    return Desk(app or current_app._get_current_object(), APP)


TRANSCRIBE_JOB = "transcription.transcribe"
PURGE_JOB_ID = "purge"  # the scheduler makes it "transcription.purge"
READ_CHUNK = 1 << 16
PROMPT_HEAD = "災害対応窓口への電話です。"
PROMPT_MAX_CHARS = 180  # Whisper keeps the last 223 prompt tokens; stay well below


class CallError(Exception):
    """A rejected upload or action; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}


class CallNotFound(CallError):
    def __init__(self, call_id):
        super().__init__(404, "not_found", f"no call recording with id {call_id}")


# --- storage ---------------------------------------------------------------------------------


def calls_dir(app) -> Path:
    folder = Path(app.instance_path) / "calls"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def audio_path(app, call: CallRecording) -> Path | None:
    return None if not call.stored_name else calls_dir(app) / call.stored_name


def _extension(name: str) -> str:
    ext = os.path.splitext(name or "")[1].lower()
    return (
        ext if ext in {".wav", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".flac", ".mp4"} else ".bin"
    )


def _spool(app, stream: BinaryIO, max_bytes: int) -> tuple[Path, int, str]:
    """Copy an upload to a temporary file in the instance, enforcing the size limit."""
    incoming = calls_dir(app) / ".incoming"
    incoming.mkdir(exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=incoming, delete=False)
    digest, size = hashlib.sha256(), 0
    try:
        with handle:
            while chunk := stream.read(READ_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise audio.AudioError(
                        "too_large", f"the file is larger than the limit of {max_bytes} bytes"
                    )
                digest.update(chunk)
                handle.write(chunk)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return Path(handle.name), size, digest.hexdigest()


def store_uploads(app, uploads: list[tuple[str, str, BinaryIO]], actor: Actor) -> list[dict]:
    """Validate and store (file name, content type, stream) uploads, then queue one job each.

    All or nothing: the first bad file raises :class:`CallError` (422/413/415) and every file
    of the batch written so far is removed. A file with the same bytes (sha256) as a call
    neither purged nor failed is not stored again: its entry is that call. Returns the calls as dicts, each
    with ``duplicate`` (true for an existing call)."""
    from disaster_ai.jobs import enqueue

    config = app.config
    if not uploads:
        raise CallError(400, "bad_request", "send one or more files in the field 'files'")
    if len(uploads) > config["CALL_MAX_FILES"]:
        raise CallError(413, "too_large", f"at most {config['CALL_MAX_FILES']} files per upload")
    spooled: list[tuple[Path, int, str, audio.AudioInfo, str, str]] = []
    stored: list[Path] = []
    try:
        for index, (name, content_type, stream) in enumerate(uploads):
            try:
                path, size, sha = _spool(app, stream, config["CALL_MAX_BYTES"])
                spooled.append((path, size, sha, None, name, content_type))  # type: ignore[arg-type]
                info = audio.probe(str(path), max_seconds=config["CALL_MAX_SECONDS"], size=size)
            except audio.AudioError as exc:
                status = {"too_large": 413, "unsupported_codec": 415}.get(exc.code, 422)
                raise CallError(
                    status,
                    "too_large"
                    if status == 413
                    else ("unsupported_media_type" if status == 415 else "invalid"),
                    f"{name or 'file ' + str(index + 1)}: {exc.message}",
                    {"file": name, "index": index, "reason": exc.code},
                ) from None
            spooled[-1] = (path, size, sha, info, name, content_type)
        moment = now()
        expires = moment + timedelta(days=config["CALL_RETENTION_DAYS"])
        rows: list[CallRecording] = []
        order: list[tuple[bool, CallRecording]] = []  # (duplicate?, call) in upload order
        with session_scope(get_storage(app)) as session:
            for path, size, sha, info, name, content_type in spooled:
                same = _same_recording(session, sha, rows)
                if same is not None:  # the same bytes again: link to that call, store nothing
                    Path(path).unlink(missing_ok=True)
                    order.append((True, same))
                    continue
                stored_name = secrets.token_hex(16) + _extension(name)
                target = calls_dir(app) / stored_name
                os.replace(path, target)
                stored.append(target)
                call = CallRecording(
                    original_name=(name or "")[:255],
                    stored_name=stored_name,
                    content_type=(content_type or "")[:128],
                    size_bytes=size,
                    sha256=sha,
                    container=info.container[:32],
                    codec=info.codec[:32],
                    sample_rate=info.sample_rate,
                    channels=info.channels,
                    duration_s=info.duration_s,
                    status="queued",
                    uploaded_by=actor.username[:64],
                    uploaded_at=moment,
                    expires_at=expires,
                )
                session.add(call)
                rows.append(call)
                order.append((False, call))
            session.flush()
            for duplicate, call in order:
                if duplicate:
                    audit.record(
                        "call.duplicate",
                        app=APP,
                        actor=actor,
                        target=f"call:{call.id}",
                        detail={"sha256": call.sha256, "incident_id": call.incident_id},
                        session=session,
                    )
            for call in rows:
                audit.record(
                    "call.upload",
                    app=APP,
                    actor=actor,
                    target=f"call:{call.id}",
                    detail={
                        "bytes": call.size_bytes,
                        "duration_s": call.duration_s,
                        "codec": call.codec,
                    },
                    session=session,
                )
            ids = [(duplicate, call.id) for duplicate, call in order]
    except BaseException:
        for path, *_rest in spooled:
            Path(path).unlink(missing_ok=True)
        for path in stored:
            path.unlink(missing_ok=True)
        raise
    # the rows are committed: now queue the work (enqueue commits each job row itself)
    result = []
    for duplicate, call_id in ids:
        if duplicate:
            with session_scope(get_storage(app)) as session:
                result.append(call_dict(session.get(CallRecording, call_id)) | {"duplicate": True})
            continue
        job_id = enqueue(TRANSCRIBE_JOB, {"call_id": call_id}, actor=actor, app=app)
        with session_scope(get_storage(app)) as session:
            call = session.get(CallRecording, call_id)
            call.job_id = job_id
            session.flush()
            result.append(call_dict(call) | {"duplicate": False})
    return result


def _same_recording(session: Session, sha: str, batch: list[CallRecording]) -> CallRecording | None:
    """The call already holding these exact bytes (same sha256), in this upload or stored,
    neither purged nor failed (a failed one may be tried again); None for a new recording."""
    for call in batch:
        if call.sha256 == sha:
            return call
    return session.scalars(
        select(CallRecording)
        .where(
            CallRecording.sha256 == sha,
            CallRecording.purged_at.is_(None),
            CallRecording.status != "failed",
        )
        .order_by(CallRecording.id)
        .limit(1)
    ).first()


# --- engine ------------------------------------------------------------------------------------


def model_dir(app) -> str:
    return app.config["WHISPER_MODEL_DIR"] or str(models_assembly.model_path(app.instance_path))


def openai_checkpoint(app) -> str:
    return app.config["OPENAI_WHISPER_CHECKPOINT"] or str(
        models_assembly.models_dir(app.instance_path) / "whisper-base-openai.pt"
    )


def transformers_dir(app) -> str:
    return app.config["TRANSFORMERS_WHISPER_DIR"] or str(
        models_assembly.models_dir(app.instance_path) / "whisper-base-hf"
    )


def engine_model_path(app) -> str:
    """The model file or folder of the configured engine."""
    engine = app.config["TRANSCRIPTION_ENGINE"]
    if engine == "openai-whisper":
        return openai_checkpoint(app)
    if engine == "transformers":
        return transformers_dir(app)
    return model_dir(app)


def require_model(app) -> None:
    """Raise ModelMissing (with the command that makes it) when only the core engines can
    answer and the configured one's model is not in place (what their loaders check). A
    plugin's own engine answers for itself."""
    from disaster_ai.errors import ModelMissing

    core = __name__.rsplit(".", 1)[0]  # disaster_ai.apps.transcription
    impls = app.extensions["disaster_ai"].hook.dai_transcribe.get_hookimpls()
    if any(getattr(impl.plugin, "__name__", None) != core for impl in impls):
        return
    engine = app.config["TRANSCRIPTION_ENGINE"]
    if engine == "openai-whisper":
        if not Path(openai_checkpoint(app)).is_file():
            raise ModelMissing(openai_checkpoint(app), "disaster-ai models convert-whisper")
    elif engine == "transformers":
        if not (Path(transformers_dir(app)) / "config.json").is_file():
            raise ModelMissing(transformers_dir(app), "disaster-ai models convert-whisper")
    elif engine == "faster-whisper":
        if not (Path(model_dir(app)) / "model.bin").is_file():
            raise ModelMissing(model_dir(app), "disaster-ai models assemble")


def gazetteer(app) -> facts.Gazetteer | None:
    """The municipality's place names with readings, cached per app until the layers change."""
    from disaster_ai.desk import DeskUnavailable
    from disaster_ai.plugins import safe_collect
    from disaster_ai.web.context import municipality_name

    with app.app_context():
        municipality = municipality_name(app)
        try:
            versions = tuple(sorted(desk(app).layers.active_versions().values()))
        except DeskUnavailable:  # no situation app: the plugins' place names only
            versions = ()
        key = (municipality, versions)
        cache = app.extensions.setdefault("disaster_ai.transcription.gazetteer", {})
        if key not in cache:
            pm = app.extensions["disaster_ai"]
            places = [
                p
                for p in safe_collect(pm, "dai_place_names", municipality=municipality)
                if isinstance(p, PlaceName)
            ]
            cache.clear()
            cache[key] = facts.build_gazetteer(places, municipality) if places else None
        return cache[key]


def gazetteer_prompt(gaz: facts.Gazetteer | None, municipality: str = "") -> str:
    municipality = municipality or (gaz.municipality if gaz is not None else "")
    head = f"{municipality}の{PROMPT_HEAD}" if municipality else PROMPT_HEAD
    if gaz is None:
        return head
    names, length = [], len(head)
    for name in gaz.prompt_names:
        if length + len(name) + 1 > PROMPT_MAX_CHARS:
            break
        names.append(name)
        length += len(name) + 1
    # the names first and the sentence last: Whisper keeps the *end* of a long prompt
    return "、".join(names) + "。" + head


def transcribe_options(
    app, *, duration_s: float = 0.0, biasing: bool | None = None
) -> TranscribeOptions:
    config = app.config
    # No prompt by default. Measured on the dev clips (docs/benchmarks.md): even the one
    # sentence PROMPT_HEAD made faster-whisper with word timings ~4× slower (it re-decodes the
    # tail of each window) and raised CER (15.5 → 18.4 % on telephone audio).
    prompt = ""
    if config["WHISPER_GAZETTEER_PROMPT"] if biasing is None else biasing:
        prompt = gazetteer_prompt(gazetteer(app))
    factor = config["WHISPER_COMPUTE_LIMIT_FACTOR"]
    return TranscribeOptions(
        language=config["WHISPER_LANGUAGE"],
        beam_size=int(config["WHISPER_BEAM_SIZE"]),
        vad=bool(config["WHISPER_VAD"]),
        word_timestamps=bool(config["WHISPER_WORD_TIMESTAMPS"]),
        initial_prompt=prompt,
        max_new_tokens=config["WHISPER_MAX_NEW_TOKENS"],
        max_seconds_compute=(max(30.0, duration_s * factor) if factor else None),
        engine=config["TRANSCRIPTION_ENGINE"],
        model_name=(
            os.path.basename(os.path.normpath(transformers_dir(app)))
            if config["TRANSCRIPTION_ENGINE"] == "transformers"
            else models_assembly.WHISPER_BASE.name
        ),
        model_path=engine_model_path(app),
        compute_type=config["WHISPER_COMPUTE_TYPE"],
        cpu_threads=int(config["WHISPER_CPU_THREADS"]),
    )


def run_engine(
    app, samples, options: TranscribeOptions, actor: Actor | None = None, call_id: int | None = None
) -> Transcript:
    """Call ``dai_transcribe`` and audit the call (engine, model, input digest, time, and of
    the transcript only its sha256 and length: the audit log is append-only, so personal data
    in it could never be purged with the call)."""
    pm = app.extensions["disaster_ai"]
    started = time.perf_counter()
    transcript = pm.hook.dai_transcribe(audio=samples, options=options)
    if transcript is None:
        raise CallError(
            500,
            "no_engine",
            f"no transcription engine answered for TRANSCRIPTION_ENGINE={options.engine!r}",
        )
    elapsed = int((time.perf_counter() - started) * 1000)
    with app.app_context():
        audit.record(
            "ai.call",
            app=APP,
            actor=actor,
            target=None if call_id is None else f"call:{call_id}",
            detail={
                "duration_s": transcript.duration_s,
                "truncated": transcript.truncated,
                "chars": len(transcript.text),
            },
            ai_engine=transcript.engine,
            ai_model=transcript.model or options.model_name,
            input_digest=hashlib.sha256(
                memoryview(np.ascontiguousarray(samples)).cast("B")
            ).hexdigest(),
            output="sha256:" + hashlib.sha256(transcript.text.encode("utf-8")).hexdigest(),
            duration_ms=elapsed,
        )
    return transcript


def default_transcribe(samples, options: TranscribeOptions) -> Transcript | None:
    """The ``trylast`` core engines: faster-whisper with the assembled packaged weights (the
    default); openai-whisper with a converted checkpoint and transformers with any Whisper
    folder, when their extras are installed."""
    if options.engine == "transformers":
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401

            from disaster_ai.apps.transcription.engines import transformers_whisper
        except ImportError:
            raise CallError(
                500,
                "no_engine",
                "transformers is not installed (see docs/transcription.md, the [transformers] extra)",
            ) from None
        loaded = transformers_whisper.load_model(
            options.model_path, cpu_threads=options.cpu_threads
        )
        return transformers_whisper.transcribe(loaded, samples, options, progress=options.progress)
    if options.engine == "openai-whisper":
        try:
            import torch  # noqa: F401
            import whisper  # noqa: F401

            from disaster_ai.apps.transcription.engines import openai_whisper
        except ImportError:
            raise CallError(
                500,
                "no_engine",
                "openai-whisper is not installed (see docs/transcription.md, the "
                "[openai-whisper] extra)",
            ) from None
        model = openai_whisper.load_model(options.model_path, cpu_threads=options.cpu_threads)
        return openai_whisper.transcribe(model, samples, options, progress=options.progress)
    if options.engine != "faster-whisper":
        return None
    from disaster_ai.apps.transcription.engines import faster_whisper

    model = faster_whisper.load_model(
        options.model_path, compute_type=options.compute_type, cpu_threads=options.cpu_threads
    )
    return faster_whisper.transcribe(model, samples, options, progress=options.progress)


def default_score_texts(samples, texts, options: TranscribeOptions) -> list[float] | None:
    """The ``trylast`` scorer: faster-whisper's (the other core engines do not score)."""
    if options.engine != "faster-whisper":
        return None
    from disaster_ai.apps.transcription.engines import faster_whisper

    model = faster_whisper.load_model(
        options.model_path, compute_type=options.compute_type, cpu_threads=options.cpu_threads
    )
    return faster_whisper.score_texts(model, samples, list(texts), options.language or "ja")


def call_facts(app, transcript: Transcript, samples=None) -> facts.CallFacts:
    """The facts of a transcript; with the recording's ``samples`` and ``PLACE_ACOUSTIC_CHECK``
    on, the candidate places are checked against the audio (acoustic.py)."""
    from disaster_ai.apps.transcription import acoustic

    gaz = gazetteer(app)
    check = None
    if samples is not None and gaz is not None and app.config["PLACE_ACOUSTIC_CHECK"]:
        pm = app.extensions["disaster_ai"]
        # the engine that wrote the transcript scores it (a plugin engine may answer for
        # its own name; the default scores faster-whisper's transcripts)
        options = replace(transcribe_options(app), engine=transcript.engine)

        def score(chunk, texts):
            try:
                return pm.hook.dai_score_texts(audio=chunk, texts=list(texts), options=options)
            except Exception:  # the check is a refinement: the facts stand without it
                log.exception("dai_score_texts failed; the place stays as the reading found it")
                return None

        check = acoustic.place_check(transcript.text, transcript.segments, samples, score)
    return facts.extract(
        transcript.text, gaz, app.config["PLACE_MATCH_THRESHOLD"], place_check=check
    )


# --- the job -------------------------------------------------------------------------------------


def transcribe_job(ctx) -> dict:
    """Job handler: decode, transcribe, extract facts, create the unverified incident."""
    from disaster_ai.jobs import JobGiveUp

    app = ctx.app
    call_id = ctx.payload["call_id"]
    storage = get_storage(app)
    with session_scope(storage) as session:
        call = session.get(CallRecording, call_id)
        if call is None or not call.stored_name:
            raise JobGiveUp(f"call {call_id} is gone (purged?)")
        call.status = "transcribing"
        path = audio_path(app, call)
        duration = call.duration_s
        actor = Actor(id=None, username=ctx.created_by, roles=frozenset({"operator"}), via="system")
    report = JobProgress(app, ctx)
    report(5, "decoding")
    try:
        samples = audio.decode(
            str(path), max_seconds=app.config["CALL_MAX_SECONDS"], expected_seconds=duration
        )
    except (audio.AudioError, FileNotFoundError) as exc:
        _fail(app, call_id, str(exc))
        raise JobGiveUp(str(exc)) from None
    report(10, "transcribing")
    options = transcribe_options(app, duration_s=duration)
    # the engines report the share of the audio done (segment end / duration), 0–99
    options = replace(options, progress=lambda pct: report(10 + int(pct * 0.85), "transcribing"))
    try:
        transcript = run_engine(app, samples, options, actor, call_id=call_id)
    except CallError as exc:  # no engine: retrying cannot help
        _fail(app, call_id, exc.message)
        raise JobGiveUp(exc.message) from None
    except FileNotFoundError as exc:  # the model is not assembled: neither can it
        _fail(app, call_id, str(exc))
        raise JobGiveUp(str(exc)) from None
    except Exception as exc:
        _fail(app, call_id, f"{type(exc).__name__}: {exc}")
        raise
    report(96, "facts")
    with app.app_context():
        found = call_facts(app, transcript, samples)
    del samples
    with app.app_context(), session_scope(storage) as session:
        call = session.get(CallRecording, call_id)
        result = apply_transcript(app, session, call, transcript, actor, found)
    report(100, "done")
    # the job row outlives the call's retention: it keeps ids and status, never the transcript
    return {
        "call_id": result["id"],
        "status": result["status"],
        "incident_id": result.get("incident_id"),
    }


PROGRESS_LISTENERS = "disaster_ai.transcription.progress_listeners"


class JobProgress:
    """Reports a transcription job's progress (percent, message) to the job row, which the
    desk's job queue and the call page show, and to the listeners in
    ``app.extensions[PROGRESS_LISTENERS]`` (the CLI prints them to stderr). Never goes
    backwards, and writes the row only when the percent or the message changes."""

    def __init__(self, app, ctx):
        self.app, self.ctx = app, ctx
        self.percent, self.message = -1, None

    def __call__(self, percent: int, message: str) -> None:
        percent = max(int(percent), self.percent)
        if (percent, message) == (self.percent, self.message):
            return
        self.percent, self.message = percent, message
        self.ctx.progress(percent, message)
        for listener in list(self.app.extensions.get(PROGRESS_LISTENERS, ())):
            listener(self.ctx.payload.get("call_id"), percent, message)


def _fail(app, call_id: int, error: str) -> None:
    with session_scope(get_storage(app)) as session:
        call = session.get(CallRecording, call_id)
        if call is not None:
            call.status, call.error = "failed", error[:2000]


def apply_transcript(
    app,
    session: Session,
    call: CallRecording,
    transcript: Transcript,
    actor: Actor,
    found: facts.CallFacts | None = None,
) -> dict:
    """Store the transcript and facts (``found``, or those of the text alone) on the call and,
    when the place resolved, create the unverified incident (source "call") at that place.
    Returns the call dict."""
    if found is None:
        found = call_facts(app, transcript)
    call.engine = transcript.engine[:32]
    call.model = (transcript.model or "")[:128]
    call.language = (transcript.language or "")[:8]
    call.text = transcript.text
    call.segments = [asdict(s) for s in transcript.segments]
    call.facts = found.to_dict() | {"truncated": transcript.truncated}
    call.transcribed_at = now()
    call.status = "done"
    call.error = ""
    if found.place is not None and call.incident_id is None:
        call.incident_id = _create_incident(session, call, found, actor)
    session.flush()
    call.facts = dict(call.facts) | {
        "duplicates": possible_duplicates(
            session,
            (found.place.name if found.place else None),
            found.category,
            exclude=call.incident_id,
            window_minutes=duplicate_window(app),
        )
    }
    session.flush()
    if found.life_threat_level in ("yes", "check"):  # 生命の危険 or 要確認: the desk hears it
        events.emit(
            events.CallFlagged(
                id=call.id,
                level=found.life_threat_level,
                category=found.category or "",
                place_name=found.place.name if found.place else "",
                incident_id=call.incident_id,
            ),
            session=session,
        )
    return call_dict(call)


DUPLICATE_WINDOW_MINUTES = 120


def duplicate_window(app) -> int:
    """Minutes within which two calls about the same place and category may be one incident
    (``CALL_DUPLICATE_WINDOW_MINUTES``, default 120)."""
    return int(app.config.get("CALL_DUPLICATE_WINDOW_MINUTES", DUPLICATE_WINDOW_MINUTES))


def possible_duplicates(
    session: Session,
    place_name: str | None,
    category: str,
    *,
    exclude: int | None = None,
    window_minutes: int = DUPLICATE_WINDOW_MINUTES,
    at=None,
) -> list[dict]:
    """Open incidents at the same place with the same category, reported within the window
    before ``at``: proposed to the operator for merging (on the incident's page), never merged
    here."""
    if not place_name or not category or category == "other":
        return []
    at = at or now()
    found = desk().incidents.query(
        place_name=place_name,
        categories=(category,),
        exclude_statuses=("resolved",),
        since=at - timedelta(minutes=window_minutes),
        exclude_id=exclude,
        newest_first=True,
        limit=5,
        session=session,
    )
    return [
        {
            "incident_id": row.id,
            "category": row.category,
            "place_name": row.place_name,
            "occurred_at": iso(row.occurred_at),
            "status": row.status,
        }
        for row in found
    ]


def _create_incident(
    session: Session, call: CallRecording, found: facts.CallFacts, actor: Actor
) -> int | None:
    from disaster_ai.errors import ApiError

    values = {
        "category": found.category,
        "life_threat": found.life_threat,
        "people": found.people,
        "vulnerable": found.vulnerable,
        "source": "call",
        "status": "unverified",
        "description": facts.mask_phone(call.text)[:2000],
    }
    place = found.place
    if place.kind == "town":
        values["place_name"] = place.name
    elif place.kind == "shelter" and place.lon is not None and place.lat is not None:
        values |= {"place_name": place.name, "lon": place.lon, "lat": place.lat}
    else:
        return None  # districts, or a shelter without a point: the operator places it
    try:
        with session.begin_nested():
            incident = desk().incidents.create(values, actor=actor, session=session)
    except ApiError as exc:  # the place is not in the active places layer any more
        log.warning("call %s: no incident at %s: %s", call.id, place.name, exc.message)
        return None
    return incident.id


# --- reading and correcting ----------------------------------------------------------------------


def iso(moment):
    return None if moment is None else moment.astimezone(JST).replace(microsecond=0).isoformat()


def masked_segments(segments: list[dict]) -> list[dict]:
    out = []
    for seg in segments or []:
        seg = dict(seg)
        seg["text"] = facts.mask_phone(seg.get("text", ""))
        seg["words"] = [
            dict(w, word=facts.mask_phone(w.get("word", ""))) for w in seg.get("words") or []
        ]
        out.append(seg)
    return out


def call_dict(call: CallRecording) -> dict:
    """The API form of a call. Every text passes through the callback-number mask."""
    f = dict(call.facts or {})
    return {
        "id": call.id,
        "original_name": call.original_name,
        "status": call.status,
        "job_id": call.job_id,
        "codec": call.codec,
        "sample_rate": call.sample_rate,
        "channels": call.channels,
        "duration_s": call.duration_s,
        "size_bytes": call.size_bytes,
        "engine": call.engine,
        "model": call.model,
        "language": call.language,
        "text": facts.mask_phone(call.text or ""),
        "segments": masked_segments(call.segments),
        "facts": {
            "place": f.get("place"),
            "category": f.get("category"),
            "life_threat": f.get("life_threat"),
            # yes | check (要確認) | no; older calls only have the boolean
            "life_threat_level": f.get("life_threat_level")
            or ("yes" if f.get("life_threat") else "no"),
            "life_threat_reasons": f.get("life_threat_reasons", []),
            "people": f.get("people"),
            "vulnerable": f.get("vulnerable"),
            "callback": f.get("callback"),
            "callback_requested": f.get("callback_requested", bool(f.get("callback"))),
            "candidates": f.get("candidates", [])[:3],
            "proposals": f.get("proposals", []),
            "duplicates": f.get("duplicates", []),
            "truncated": f.get("truncated", False),
        }
        if f
        else None,
        "error": call.error,
        "incident_id": call.incident_id,
        "uploaded_by": call.uploaded_by,
        "uploaded_at": iso(call.uploaded_at),
        "transcribed_at": iso(call.transcribed_at),
        "expires_at": iso(call.expires_at),
        "purged_at": iso(call.purged_at),
    }


def get_call(session: Session, call_id: int) -> CallRecording:
    call = session.get(CallRecording, call_id)
    if call is None:
        raise CallNotFound(call_id)
    return call


def list_calls(session: Session, limit: int = 100) -> list[CallRecording]:
    return list(
        session.scalars(select(CallRecording).order_by(CallRecording.id.desc()).limit(limit))
    )


CONFIRMABLE = ("place_name", "category", "life_threat", "people", "vulnerable")


def confirm_call(session: Session, call_id: int, values: dict, actor: Actor) -> dict:
    """The operator confirms (or corrects) the facts. Creates the incident when there was none
    (the place was unresolved), or updates it; the incident becomes "confirmed". Corrections
    are audited with the old and new values."""
    call = get_call(session, call_id)
    if call.status != "done":
        raise CallError(409, "conflict", "the call is not transcribed yet")
    f = dict(call.facts or {})
    old = {
        "place_name": (f.get("place") or {}).get("name"),
        "category": f.get("category"),
        "life_threat": f.get("life_threat"),
        "people": f.get("people"),
        "vulnerable": f.get("vulnerable"),
    }
    new = {k: values[k] for k in CONFIRMABLE if k in values}
    changes = {k: {"from": old.get(k), "to": v} for k, v in new.items() if old.get(k) != v}
    merged = {**old, **new}
    if not merged.get("place_name"):
        raise CallError(
            422,
            "invalid",
            "give the place: it could not be resolved from the call",
            {"fields": {"place_name": "required"}},
        )
    incident_values = {
        "category": merged["category"] or "other",
        "life_threat": bool(merged["life_threat"]),
        "people": merged["people"],
        "vulnerable": bool(merged["vulnerable"]),
        "status": "confirmed",
    }
    if call.incident_id is None:
        incident_values |= {
            "source": "call",
            "place_name": merged["place_name"],
            "description": facts.mask_phone(call.text)[:2000],
        }
        incident = desk().incidents.create(incident_values, actor=actor, session=session)
        call.incident_id = incident.id
    else:
        if "place_name" in changes:
            incident_values["place_name"] = merged["place_name"]
        desk().incidents.update(call.incident_id, incident_values, actor=actor, session=session)
    place = dict(f.get("place") or {})
    if "place_name" in changes or not place:
        place = {"name": merged["place_name"], "code": None, "score": None, "corrected": True}
    call.facts = f | {
        "place": place,
        "category": incident_values["category"],
        "life_threat": incident_values["life_threat"],
        "life_threat_level": "yes" if incident_values["life_threat"] else "no",
        "people": incident_values["people"],
        "vulnerable": incident_values["vulnerable"],
        "confirmed_by": actor.username,
    }
    session.flush()
    audit.record(
        "call.confirm",
        app=APP,
        actor=actor,
        target=f"call:{call.id}",
        detail={"incident_id": call.incident_id, "corrections": changes},
        session=session,
    )
    # the human review of the AI output (docs/governance.md): who accepted or corrected the
    # triage (and the place heard in the transcript) that now feeds the incident and reports
    audit.record(
        "ai.review",
        app=APP,
        actor=actor,
        target=f"call:{call.id}",
        detail={
            "feature": "calls.triage",
            "decision": "corrected" if changes else "accepted",
            "fields": sorted(changes),
            "incident_id": call.incident_id,
            "engine": call.engine,
            "model": call.model,
        },
        session=session,
    )
    return call_dict(call)


def create_proposal_incident(session: Session, call_id: int, index: int, actor: Actor) -> dict:
    """Make the ``index``-th further incident of a call (a second thing the caller reported,
    e.g. an outage besides the flooded road) an unverified incident of its own, at the place
    proposed for it (its own sentence's place, else the call's). Audited."""
    call = get_call(session, call_id)
    f = dict(call.facts or {})
    proposals = [dict(p) for p in f.get("proposals", [])]
    if call.status != "done" or not 0 <= index < len(proposals):
        raise CallError(404, "not_found", f"call {call_id} has no further incident {index + 1}")
    proposal = proposals[index]
    if proposal.get("incident_id"):
        raise CallError(409, "conflict", "this incident was already created")
    place = (proposal.get("place") or {}).get("name") or (f.get("place") or {}).get("name")
    if not place:
        raise CallError(
            422,
            "invalid",
            "give the place: it could not be resolved from the call",
            {"fields": {"place_name": "required"}},
        )
    incident = desk().incidents.create(
        {
            "category": proposal["category"],
            "life_threat": False,
            "source": "call",
            "status": "unverified",
            "place_name": place,
            "description": facts.mask_phone(proposal.get("text") or call.text or "")[:2000],
        },
        actor=actor,
        session=session,
    )
    proposal["incident_id"] = incident.id
    proposals[index] = proposal
    call.facts = f | {"proposals": proposals}
    session.flush()
    audit.record(
        "call.proposal",
        app=APP,
        actor=actor,
        target=f"call:{call.id}",
        detail={"incident_id": incident.id, "category": proposal["category"], "place": place},
        session=session,
    )
    return call_dict(call)


# --- retention -------------------------------------------------------------------------------------


def _purge_incident_copies(session: Session, call: CallRecording) -> int:
    """Replace the transcript that an incident made from the call still holds as its
    description (as made, not edited since) with a note; returns how many were replaced."""
    from flask_babel import gettext as _

    copies = {}  # incident id -> the description it was made with
    if call.incident_id and call.text:
        copies[call.incident_id] = facts.mask_phone(call.text)[:2000]
    for proposal in (call.facts or {}).get("proposals", []):
        if proposal.get("incident_id"):
            copies[proposal["incident_id"]] = facts.mask_phone(
                proposal.get("text") or call.text or ""
            )[:2000]
    replaced = 0
    for incident_id, made_with in copies.items():
        note = _(
            "The transcript of call %(id)s was deleted after its retention period.", id=call.id
        )
        if made_with and desk().incidents.replace_description(
            incident_id, old=made_with, new=note, session=session
        ):
            replaced += 1
    return replaced


def _purge_facts(f: dict) -> dict:
    """The call's facts without the further incidents' sentences quoted from the transcript
    (the category, place, people and cue words stay)."""
    proposals = [{k: v for k, v in p.items() if k != "text"} for p in f.get("proposals", [])]
    return f | {"proposals": proposals} if "proposals" in f else dict(f)


def purge_expired(app, at=None) -> int:
    """Delete the audio and transcript of calls past their retention; keep the row, facts
    (without quoted sentences) and incident link. An incident's description that is still the
    copied transcript becomes a note. Also removes stray temporary uploads older than a day."""
    at = at or now()
    count = incidents = 0
    with app.app_context(), session_scope(get_storage(app)) as session:
        if session.get_bind().dialect.name == "sqlite":
            # overwrite the freed pages, so that the old text is not left in the file
            session.execute(text("PRAGMA secure_delete = ON"))
        rows = session.scalars(
            select(CallRecording).where(
                CallRecording.expires_at <= at, CallRecording.purged_at.is_(None)
            )
        ).all()
        for call in rows:
            path = audio_path(app, call)
            if path is not None:
                path.unlink(missing_ok=True)
            incidents += _purge_incident_copies(session, call)
            call.facts = _purge_facts(call.facts or {})
            call.stored_name = None
            call.text = ""
            call.segments = []
            call.purged_at = at
            call.status = "purged"
            count += 1
        if count:
            audit.record(
                "call.purge",
                app=APP,
                actor=SYSTEM_ACTOR,
                detail={"calls": count, "incident_descriptions": incidents},
                session=session,
            )
    storage = get_storage(app)
    if count and storage.engine.dialect.name == "sqlite":
        # the write-ahead log still holds the pages as they were: fold it into the (zeroed)
        # database file and empty it
        with storage.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    incoming = calls_dir(app) / ".incoming"
    if incoming.is_dir():
        for stray in incoming.iterdir():
            if time.time() - stray.stat().st_mtime > 86400:
                stray.unlink(missing_ok=True)
    return count


def run_purge() -> int:
    """The scheduler's ``transcription.purge`` job (module-level, importable by reference)."""
    return purge_expired(current_app._get_current_object())
