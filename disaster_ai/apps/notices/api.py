"""Evacuation notices over HTTP.

- ``POST /api/v1/notices/drafts``            a scenario → every channel, shelters, guard (no save)
- ``POST /api/v1/notices``                   save a draft (with optional manual edits)
- ``GET  /api/v1/notices``                   notices, newest first (``?status=issued``)
- ``GET  /api/v1/notices/in-force``          notices in force, per district
- ``GET  /api/v1/notices/hazards``           the hazards a notice can be about (plugins' too)
- ``GET  /api/v1/notices/<id>``              one notice: facts, texts, guard, history fields
- ``GET  /api/v1/notices/<id>/cap.xml``      its CAP 1.2 document
- ``GET  /api/v1/notices/<id>/cap-cancel.xml``  the CAP Cancel, once an issued notice is cancelled
- ``POST /api/v1/notices/<id>/polish``       queue the AI polish of a draft (a job; 202)
- ``POST /api/v1/notices/<id>/submit``       draft → submitted (desk)
- ``POST /api/v1/notices/<id>/approve``      submitted → approved (an approver, never the author)
- ``POST /api/v1/notices/<id>/issue``        approved → issued (approver)
- ``POST /api/v1/notices/<id>/cancel``       withdraw a draft, or cancel an issued notice
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, jsonify, request
from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field

from disaster_ai.api.framework import api_doc, parse_body
from disaster_ai.apps.notices import base, drafting, scenario, workflow
from disaster_ai.apps.notices import in_force as chains
from disaster_ai.apps.notices import polish as ai_polish
from disaster_ai.auth import current_actor, requires
from disaster_ai.errors import ApiError
from disaster_ai.storage.base import now
from disaster_ai.storage.engine import db

bp = Blueprint("notices_api", __name__, url_prefix="/api/v1/notices")


def _hazard_enum(schema: dict) -> None:
    """The OpenAPI enum of ``hazard``: the merged registry's codes and words (plugins' too),
    read when the document is built; outside an app, the built-ins."""
    from disaster_ai.apps.notices import facts

    registry = facts.hazards()
    schema["enum"] = [*registry, *(h.ja for h in registry.values())]


class ScenarioIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    hazard: str = Field(
        max_length=32,
        description="a hazard code or its Japanese word (GET /api/v1/notices/hazards): flood, "
        "inland_flood, landslide, storm_surge, tsunami (洪水 …) and any a plugin adds",
        json_schema_extra=_hazard_enum,
    )
    action: str = Field(default="発令", max_length=8, description="発令 or 解除")
    level: int | str = Field(description="3, 4 or 5")
    name: str | None = Field(
        default=None, max_length=32, description="optional; must match the level"
    )
    districts: list[str] = Field(default_factory=list, description="district keys or names")
    reason: str = Field(default="", max_length=500)
    shelters: list[str] | None = Field(
        default=None, description="shelter keys or names; omitted: suggested"
    )
    issued_at: datetime | None = Field(
        default=None, description="ISO 8601 with offset; default now"
    )
    exercise: bool = False
    supersedes: int | None = Field(
        default=None, description="the issued notice this one updates or lifts"
    )
    edits: dict[str, str] | None = Field(default=None, description="manual edits per channel")
    polish: bool = Field(default=False, description="ask the dai_llm_client (guarded)")


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    acknowledge: list[str] = Field(default_factory=list, description="guard violation ids")
    confirm_unopened_reason: str | None = Field(
        default=None,
        max_length=500,
        description="why the notice may name shelters that are not open (kept and audited); "
        "without it, such a notice is refused with 409 shelters_not_open",
    )
    seen: str | None = Field(
        default=None,
        max_length=64,
        description="texts_digest of the notice as the approver read it: refused with 409 "
        "texts_changed when the re-rendered texts differ",
    )


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


def api_error(exc: base.NoticeError) -> ApiError:
    """The core error format; ``code`` and the ``fields`` key stay machine-readable, the
    message is in the request's language (service messages go through gettext)."""
    message = str(exc.message)
    details = dict(exc.details)
    if exc.field:
        details["fields"] = {exc.field: message}
    return ApiError(exc.status, exc.code, message, details)


def _scenario(body: ScenarioIn) -> dict:
    return body.model_dump(exclude={"edits", "polish"})


def _optional_body(model):
    if request.content_length in (None, 0) and not request.data:
        return model()
    return parse_body(model)


@bp.post("/drafts")
@requires("notices.draft")
@api_doc(
    body=ScenarioIn,
    responses={
        200: "every channel and the guard report",
        409: "no_districts or no_issuer: the desk is not set up for notices yet",
    },
    tag="notices",
)
def draft():
    """Draft every channel from a scenario (nothing is saved)."""
    body = parse_body(ScenarioIn)
    try:
        return jsonify(drafting.draft(db(), _scenario(body), body.edits, body.polish))
    except base.NoticeError as exc:
        raise api_error(exc) from None


@bp.post("")
@requires("notices.draft")
@api_doc(
    body=ScenarioIn,
    responses={
        201: "the saved draft",
        409: "no_districts or no_issuer: the desk is not set up for notices yet",
    },
    tag="notices",
)
def create():
    """Save a draft notice."""
    body = parse_body(ScenarioIn)
    session = db()
    try:
        notice = workflow.save_draft(session, _scenario(body), current_actor(), body.edits)
        session.commit()
    except base.NoticeError as exc:
        session.rollback()
        raise api_error(exc) from None
    return jsonify(workflow.notice_json(notice)), 201


@bp.get("")
@requires("notices.draft")
@api_doc(tag="notices")
def index():
    """Notices, newest first."""
    status = request.args.get("status") or None
    return jsonify(
        {
            "notices": [
                workflow.notice_json(n, full=False) for n in workflow.list_notices(db(), status)
            ]
        }
    )


@bp.get("/hazards")
@requires("notices.draft")
@api_doc(tag="notices")
def hazards():
    """The hazards a notice can be about, in the form's order: the built-in five and any a
    plugin adds (``dai_notice_hazards``), with their words and reason phrases."""
    return jsonify({"hazards": scenario.hazard_choices()})


@bp.get("/in-force")
@requires("notices.draft")
@api_doc(tag="notices")
def in_force():
    """Evacuation notices in force now, one entry per district."""
    return jsonify({"items": chains.in_force_entries(db(), now())})


def _notice(notice_id: int):
    try:
        return workflow.get_notice(db(), notice_id)
    except base.NoticeError as exc:
        raise api_error(exc) from None


@bp.get("/<int:notice_id>")
@requires("notices.draft")
@api_doc(tag="notices")
def show(notice_id: int):
    """One notice with its texts and guard report."""
    return jsonify(workflow.notice_json(_notice(notice_id)))


@bp.get("/<int:notice_id>/cap.xml")
@requires("notices.draft")
@api_doc(responses={200: "CAP 1.2 XML"}, tag="notices")
def cap_xml(notice_id: int):
    """The notice's CAP 1.2 document (validated against the OASIS schema)."""
    notice = _notice(notice_id)
    xml = (notice.texts or {}).get("cap", "")
    return Response(
        xml,
        mimetype="application/xml",
        headers={
            "Content-Disposition": f'attachment; filename="{notice.identifier or notice.id}.xml"'
        },
    )


@bp.get("/<int:notice_id>/cap-cancel.xml")
@requires("notices.draft")
@api_doc(responses={200: "CAP 1.2 XML (msgType Cancel)"}, tag="notices")
def cap_cancel_xml(notice_id: int):
    """The CAP Cancel of an issued notice that was cancelled (404 when there is none)."""
    notice = _notice(notice_id)
    xml = (notice.texts or {}).get("cap_cancel")
    if not xml:
        raise ApiError(404, "not_found", _("This notice was not cancelled after it was issued."))
    return Response(
        xml,
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{notice.identifier}-C.xml"'},
    )


def _transition(func, notice_id: int, *args):
    session = db()
    try:
        notice = func(session, notice_id, current_actor(), *args)
        session.commit()
    except base.NoticeError as exc:
        if exc.persist:  # e.g. the notice went back for approval: keep that
            session.commit()
        else:
            session.rollback()
        raise api_error(exc) from None
    return jsonify(workflow.notice_json(notice))


@bp.post("/<int:notice_id>/polish")
@requires("notices.draft")
@api_doc(
    tag="notices",
    responses={
        202: "Queued (or already queued or running): the job id, its state and job_url",
        404: "No such notice",
        409: "The notice is not a draft, or AI polish is not configured",
    },
)
def polish(notice_id: int):
    """Queue the AI polish of a saved draft (``notices.polish`` job; poll ``job_url``).

    Each accepted channel text becomes the draft's edit; a rejected one keeps its text, and
    ``guard.polish`` on the notice names the violated rules. A second request while the job is
    queued or running returns the same job."""
    from disaster_ai.jobs import job_to_dict

    session = db()
    try:
        job, created = ai_polish.request_polish(session, notice_id, current_actor())
        session.commit()
    except base.NoticeError as exc:
        session.rollback()
        raise api_error(exc) from None
    return jsonify(
        {
            "job_id": job.id,
            "state": job.state,
            "created": created,
            "job_url": f"/api/v1/jobs/{job.id}",
            "job": job_to_dict(job),
            "notice_id": notice_id,
        }
    ), 202


@bp.post("/<int:notice_id>/submit")
@requires("notices.draft")
@api_doc(tag="notices", responses={200: "Submitted", 409: "wrong_state: not a draft"})
def submit(notice_id: int):
    """Submit a draft for approval."""
    return _transition(workflow.submit, notice_id)


@bp.post("/<int:notice_id>/approve")
@requires("notices.approve")
@api_doc(
    body=ApproveIn,
    tag="notices",
    responses={
        200: "The approved notice",
        403: "The author of a notice can never approve it",
        404: "No such notice",
        409: "wrong_state, texts_changed, cap_errors, unacknowledged_violations, "
        "review_failed or shelters_not_open (the code says which)",
    },
)
def approve(notice_id: int):
    """Approve a submitted notice (never one's own); acknowledge each guard violation.

    A notice that names shelters that are not open needs ``confirm_unopened_reason``: the
    reason is kept on the notice and audited."""
    body = _optional_body(ApproveIn)
    return _transition(
        workflow.approve, notice_id, body.acknowledge, body.confirm_unopened_reason, body.seen
    )


@bp.post("/<int:notice_id>/issue")
@requires("notices.approve")
@api_doc(
    tag="notices",
    responses={
        200: "The issued notice, its texts stating the time of issue",
        404: "No such notice",
        409: "wrong_state, predecessor_not_in_force, shelters_not_open, or reapproval_needed "
        "(the texts changed since approval: the notice is back to submitted)",
    },
)
def issue(notice_id: int):
    """Issue an approved notice: every channel is rendered again with the time of issue (or
    the later time the operator set), it becomes immutable and in force."""
    return _transition(workflow.issue, notice_id)


@bp.post("/<int:notice_id>/cancel")
@requires("notices.draft")
@api_doc(
    body=CancelIn,
    tag="notices",
    responses={200: "Withdrawn or cancelled", 409: "wrong_state: already withdrawn or cancelled"},
)
def cancel(notice_id: int):
    """Withdraw a draft, or cancel an issued notice (approver)."""
    body = _optional_body(CancelIn)
    notice = _notice(notice_id)
    from disaster_ai.auth import is_allowed

    if notice.status in ("approved", "issued") and not is_allowed(
        current_actor(), "notices.approve"
    ):
        raise ApiError(
            403, "forbidden", _("Only an approver may cancel an approved or issued notice.")
        )
    return _transition(workflow.cancel, notice_id, body.reason)
