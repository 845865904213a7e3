"""Call recordings over HTTP.

- ``POST /api/v1/calls``                 upload one or more recordings (multipart ``files``): 202
- ``GET  /api/v1/calls``                 the latest calls
- ``GET  /api/v1/calls/<id>``            one call: status, job progress, transcript, facts
- ``GET  /api/v1/calls/<id>/audio``      the stored audio (for the desk's player)
- ``POST /api/v1/calls/<id>/confirm``    confirm or correct the facts → incident "confirmed"
- ``POST /api/v1/calls/<id>/proposals/<n>``  record the n-th further incident of the call

Every text in a response passes through the callback-number mask.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, send_file
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ConfigDict, Field

from disaster_ai.api.framework import api_doc, parse_body
from disaster_ai.apps.transcription import service
from disaster_ai.apps.transcription.facts import CATEGORIES
from disaster_ai.auth import current_actor, requires
from disaster_ai.errors import ApiError
from disaster_ai.storage.engine import db

bp = Blueprint("calls_api", __name__, url_prefix="/api/v1")
FORM_OVERHEAD = 1024 * 1024


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    place_name: str | None = Field(
        default=None, max_length=255, description="a place of the places layer, e.g. 本町二丁目"
    )
    category: str | None = Field(default=None, description="one of " + ", ".join(CATEGORIES))
    life_threat: bool | None = None
    people: int | None = Field(default=None, ge=0, le=100000)
    vulnerable: bool | None = None


@bp.app_url_value_preprocessor
def _allow_large_uploads(endpoint, _values):
    """Recordings are bigger than MAX_CONTENT_LENGTH: raise this request's limit first, for the
    API and the desk's upload form alike (app-wide: it runs before the form's CSRF check)."""
    if endpoint in ("calls_api.upload_calls", "calls_web.upload") and request.method == "POST":
        config = current_app.config
        request.max_content_length = (
            config["CALL_MAX_BYTES"] * config["CALL_MAX_FILES"] + FORM_OVERHEAD
        )


REASONS = {
    # TRANSLATORS: why an uploaded call recording was refused
    "empty": _l("the file is empty or holds no audio"),
    "not_audio": _l("the file is not a recognised audio format"),
    "corrupt": _l("the audio data is damaged"),
    "truncated": _l("the file was cut off (truncated)"),
    "too_long": _l("the recording is longer than the limit of %(limit)s seconds"),
    "too_large": _l("the file is larger than the limit of %(limit)s bytes"),
    "unsupported_codec": _l("this audio codec is not supported"),
}


def refusal_message(exc: service.CallError) -> str:
    """A translated message for a refused upload: which file, and why."""
    reason = exc.details.get("reason")
    if reason not in REASONS:
        return exc.message
    limit = current_app.config["CALL_MAX_SECONDS" if reason == "too_long" else "CALL_MAX_BYTES"]
    why = str(REASONS[reason]) % {"limit": limit}
    return _(
        "%(file)s: %(reason)s. Nothing was stored.", file=exc.details.get("file") or "?", reason=why
    )


def as_api_error(exc: service.CallError) -> ApiError:
    details = dict(exc.details)
    if "reason" in details:
        details["detail"] = exc.message  # the decoder's own words, in English
    return ApiError(exc.status, exc.code, refusal_message(exc), details)


def upload_from_request() -> list[dict]:
    files = request.files.getlist("files") + request.files.getlist("files[]")
    uploads = [(f.filename, f.mimetype, f.stream) for f in files if f.filename]
    if not uploads:
        raise ApiError(
            422,
            "invalid",
            _("Send one or more recordings in the field files."),
            {"fields": {"files": "missing"}},
        )
    try:
        return service.store_uploads(current_app._get_current_object(), uploads, current_actor())
    except service.CallError as exc:
        raise as_api_error(exc) from None
    finally:
        for upload in files:  # werkzeug spools big parts to temporary files
            upload.close()


@bp.post("/calls")
@requires("calls.upload")
@api_doc(
    tag="calls",
    responses={
        200: "Every file is a recording already stored (same sha256): the existing calls, "
        "each with duplicate true; nothing new was queued",
        202: "The stored calls, each with its queued job (a file already stored is its existing "
        "call, with duplicate true)",
        413: "Too many files or a file over CALL_MAX_BYTES",
        415: "An unsupported audio codec",
        422: "Not audio, empty, damaged, truncated, or over CALL_MAX_SECONDS; nothing stored",
    },
)
def upload_calls():
    """Upload call recordings (multipart/form-data, field ``files``, one or more).

    WAV (PCM, μ-law, A-law), MP3, M4A/AAC, OGG/Opus. Each file is checked (size, container,
    codec, duration) before anything is stored; one bad file rejects the whole upload. The
    rows are committed and the transcription jobs queued before any decoding. A file with the
    same bytes as a call neither purged nor failed makes no new call, job or incident: its entry is the
    existing call with ``duplicate: true``."""
    calls = upload_from_request()
    # only recordings already stored (same bytes): nothing new was queued
    status = 200 if all(call["duplicate"] for call in calls) else 202
    return jsonify({"calls": calls}), status


@bp.get("/calls")
@requires("calls.view")
@api_doc(tag="calls")
def list_calls():
    """The latest 100 calls, newest first."""
    return jsonify({"calls": [service.call_dict(c) for c in service.list_calls(db())]})


@bp.get("/calls/<int:call_id>")
@requires("calls.view")
@api_doc(tag="calls", responses={200: "The call", 404: "No such call"})
def get_call(call_id: int):
    """One call with its job's state and progress, transcript segments and facts."""
    from disaster_ai.jobs import job_to_dict
    from disaster_ai.storage.models import Job

    try:
        call = service.get_call(db(), call_id)
    except service.CallError as exc:
        raise as_api_error(exc) from None
    body = service.call_dict(call)
    job = db().get(Job, call.job_id) if call.job_id else None
    body["job"] = job_to_dict(job) if job is not None else None
    return jsonify(body)


@bp.get("/calls/<int:call_id>/audio")
@requires("calls.view")
@api_doc(tag="calls", responses={200: "The recording as uploaded", 404: "No such call or purged"})
def call_audio(call_id: int):
    """The recording as uploaded (range requests allowed, so the player can seek)."""
    try:
        call = service.get_call(db(), call_id)
    except service.CallError as exc:
        raise as_api_error(exc) from None
    path = service.audio_path(current_app._get_current_object(), call)
    if path is None or not path.is_file():
        raise ApiError(404, "not_found", _("The recording was deleted after its retention period."))
    return send_file(
        path, mimetype=call.content_type or "application/octet-stream", conditional=True
    )


@bp.post("/calls/<int:call_id>/confirm")
@requires("calls.confirm")
@api_doc(body=ConfirmIn, tag="calls", responses={200: "The call", 409: "Not transcribed yet"})
def confirm_call(call_id: int):
    """Confirm the extracted facts, or correct them (place, category, flags, people). The
    incident is created (when the place was unresolved) or updated, and marked confirmed."""
    body = parse_body(ConfirmIn)
    values = body.model_dump(exclude_unset=True)
    if values.get("category") is not None and values["category"] not in CATEGORIES:
        raise ApiError(
            422,
            "invalid",
            _("Some fields are missing or invalid."),
            {"fields": {"category": "unknown category"}},
        )
    session = db()
    try:
        result = service.confirm_call(session, call_id, values, current_actor())
        session.commit()
    except service.CallError as exc:
        session.rollback()
        raise as_api_error(exc) from None
    except ApiError:
        session.rollback()
        raise
    return jsonify(result)


@bp.post("/calls/<int:call_id>/proposals/<int:index>")
@requires("calls.confirm")
@api_doc(
    tag="calls",
    responses={
        200: "The call, with the incident id on that proposal",
        404: "No such call or proposal",
        409: "Already created",
        422: "No place known for it",
    },
)
def create_proposal(call_id: int, index: int):
    """Record the ``index``-th (1-based) further incident of a call (``facts.proposals``) as an
    unverified incident of its own."""
    session = db()
    try:
        result = service.create_proposal_incident(session, call_id, index - 1, current_actor())
        session.commit()
    except service.CallError as exc:
        session.rollback()
        raise as_api_error(exc) from None
    except ApiError:
        session.rollback()
        raise
    return jsonify(result)
