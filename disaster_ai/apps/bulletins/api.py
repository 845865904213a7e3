"""Bulletins over HTTP: events, schedules, bulletins and their formats.

- ``GET  /api/v1/events``                       events, open ones first
- ``POST /api/v1/events``                       open an event (BULLETIN_EVENT_OPEN_ROLES)
- ``POST /api/v1/events/<id>/close``            close it (admin)
- ``GET  /api/v1/events/<id>/schedules``        its schedules, with the next slot
- ``POST /api/v1/events/<id>/schedules``        add a cron or interval schedule (admin)
- ``PATCH /api/v1/schedules/<id>``              pause or resume a schedule (admin)
- ``GET  /api/v1/events/<id>/bulletins``        its bulletins with delivery status
- ``POST /api/v1/events/<id>/bulletins``        issue now: 202 with the job id
- ``GET  /api/v1/bulletins/<id>``               one bulletin with its deliveries
- ``GET  /api/v1/bulletins/<id>.<fmt>``         json | html | pdf | txt, rendered from the snapshot
- ``GET  /api/v1/bulletins/<id>/map.png``       the map frozen with it
- ``POST /api/v1/deliveries/<id>/retry``        send a failed delivery again
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import Blueprint, Response, current_app, jsonify
from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field

from disaster_ai.api.framework import api_doc, parse_body
from disaster_ai.apps.bulletins import service
from disaster_ai.apps.bulletins.schedules import InvalidSchedule
from disaster_ai.auth import current_actor, requires
from disaster_ai.errors import ApiError
from disaster_ai.storage.engine import db

bp = Blueprint("bulletins_api", __name__, url_prefix="/api/v1")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EventIn(Strict):
    name: str = Field(min_length=1, max_length=128, description="e.g. 令和8年台風第10号")
    hazard: str | None = Field(
        default=None,
        max_length=32,
        description="the situation hazard for shelters and exposure, e.g. inland_flood",
    )
    exercise: bool = Field(default=False, description="an exercise: 【訓練】 on every bulletin")


class ScheduleIn(Strict):
    kind: Literal["cron", "interval"]
    cron: str | None = Field(
        default=None,
        max_length=128,
        description="5-field crontab in Japan time, weekdays as names, e.g. '0 6,12,18 * * *'",
    )
    interval_minutes: int | None = Field(default=None, gt=0, le=7 * 24 * 60)
    start_at: datetime | None = Field(
        default=None, description="interval anchor / first possible slot, with offset"
    )
    active: bool = True


class SchedulePatch(Strict):
    active: bool


class IssueIn(Strict):
    remark: str = Field(default="", max_length=service.MAX_REMARK)


def _error(exc: Exception) -> ApiError:
    if isinstance(exc, InvalidSchedule):
        return ApiError(
            422,
            "invalid",
            _("The schedule is invalid: %(reason)s", reason=exc.message),
            {"fields": {exc.field: exc.message}},
        )
    if isinstance(exc, service.EventNotFound):
        return ApiError(404, "not_found", _("No such disaster event or schedule."))
    if isinstance(exc, service.BulletinNotFound):
        return ApiError(404, "not_found", _("No such bulletin or delivery."))
    if isinstance(exc, service.EventClosed):
        return ApiError(409, "conflict", _("This disaster event is closed."), {"reason": str(exc)})
    if isinstance(exc, service.NoMunicipality):
        return ApiError(409, "no_municipality", str(exc))
    if isinstance(exc, service.InvalidInput):
        return ApiError(
            422,
            "invalid",
            _("Some fields are missing or invalid."),
            {"fields": {exc.field: str(exc)}},
        )
    raise exc


def _app():
    return current_app._get_current_object()


# --- events --------------------------------------------------------------------------------


@bp.get("/events")
@requires("bulletins.view")
@api_doc(tag="bulletins", responses={200: "Disaster events, open ones first"})
def list_events():
    """Disaster events with their bulletin counts."""
    return jsonify({"events": service.list_events(db())})


@bp.post("/events")
@requires("bulletins.event_open")
@api_doc(body=EventIn, tag="bulletins", responses={201: "The event, opened"})
def create_event():
    """Open a disaster event; its bulletins are numbered 第1報, 第2報, …"""
    body = parse_body(EventIn)
    try:
        event = service.open_event(
            _app(), body.name, hazard=body.hazard, exercise=body.exercise, actor=current_actor()
        )
    except service.BulletinError as exc:
        raise _error(exc) from None
    return jsonify(event), 201


@bp.post("/events/<int:event_id>/close")
@requires("bulletins.schedule")
@api_doc(tag="bulletins", responses={200: "The event, closed", 409: "Already closed"})
def close_event(event_id: int):
    """Close a disaster event: its schedules stop and no bulletin can be issued for it."""
    try:
        return jsonify(service.close_event(_app(), event_id, actor=current_actor()))
    except service.BulletinError as exc:
        raise _error(exc) from None


# --- schedules -----------------------------------------------------------------------------


@bp.get("/events/<int:event_id>/schedules")
@requires("bulletins.view")
@api_doc(tag="bulletins")
def list_schedules(event_id: int):
    """The event's schedules, each with its next slot."""
    try:
        rows = service.list_schedules(db(), event_id, current_app.config["TIMEZONE"])
    except service.BulletinError as exc:
        raise _error(exc) from None
    return jsonify({"schedules": rows})


@bp.post("/events/<int:event_id>/schedules")
@requires("bulletins.schedule")
@api_doc(
    body=ScheduleIn,
    tag="bulletins",
    responses={201: "The schedule", 409: "The event is closed", 422: "Bad cron or interval"},
)
def create_schedule(event_id: int):
    """Add a schedule: ``cron`` (e.g. ``0 6,12,18 * * *``) or ``interval`` (minutes), in Japan time."""
    body = parse_body(ScheduleIn)
    try:
        schedule = service.add_schedule(
            _app(),
            event_id,
            kind=body.kind,
            cron=body.cron,
            interval_minutes=body.interval_minutes,
            start_at=body.start_at,
            active=body.active,
            actor=current_actor(),
        )
    except (service.BulletinError, InvalidSchedule) as exc:
        raise _error(exc) from None
    return jsonify(schedule), 201


@bp.patch("/schedules/<int:schedule_id>")
@requires("bulletins.schedule")
@api_doc(
    body=SchedulePatch, tag="bulletins", responses={200: "The schedule", 409: "The event is closed"}
)
def update_schedule(schedule_id: int):
    """Pause or resume a schedule (resuming starts from now: no catch-up for the pause)."""
    body = parse_body(SchedulePatch)
    try:
        return jsonify(
            service.set_schedule_active(_app(), schedule_id, body.active, actor=current_actor())
        )
    except service.BulletinError as exc:
        raise _error(exc) from None


# --- bulletins -----------------------------------------------------------------------------


@bp.get("/events/<int:event_id>/bulletins")
@requires("bulletins.view")
@api_doc(tag="bulletins")
def list_bulletins(event_id: int):
    """The event's bulletins, newest first, with links to every format and delivery status."""
    try:
        return jsonify({"bulletins": service.list_bulletins(db(), event_id)})
    except service.BulletinError as exc:
        raise _error(exc) from None


@bp.post("/events/<int:event_id>/bulletins")
@requires("bulletins.issue")
@api_doc(
    body=IssueIn,
    tag="bulletins",
    responses={
        202: "Queued: the job id",
        404: "No such event",
        409: "The event is closed, or the municipality profile is not set (no_municipality)",
    },
)
def issue_now(event_id: int):
    """Issue a bulletin now. The work runs as a job (``bulletins.issue``); poll ``job_url``."""
    from disaster_ai.jobs import enqueue

    body = parse_body(IssueIn) if _has_body() else IssueIn()
    try:
        service.get_open_event(db(), event_id)
        service.require_municipality(db())
    except service.BulletinError as exc:
        raise _error(exc) from None
    job_id = enqueue(
        service.ISSUE_JOB, {"event_id": event_id, "remark": body.remark}, actor=current_actor()
    )
    return jsonify({"job_id": job_id, "job_url": f"/api/v1/jobs/{job_id}"}), 202


def _has_body() -> bool:
    from flask import request

    return bool(request.get_data(cache=True))


@bp.get("/bulletins/<int:bulletin_id>")
@requires("bulletins.view")
@api_doc(tag="bulletins")
def get_bulletin(bulletin_id: int):
    """One bulletin with its deliveries."""
    session = db()
    try:
        bulletin = service.get_bulletin(session, bulletin_id)
    except service.BulletinError as exc:
        raise _error(exc) from None
    return jsonify(service.bulletin_dict(bulletin, service.deliveries_of(session, bulletin_id)))


@bp.get("/bulletins/<int:bulletin_id>.<fmt>")
@requires("bulletins.view")
@api_doc(tag="bulletins", responses={200: "The bulletin in that format", 404: "Unknown format"})
def bulletin_format(bulletin_id: int, fmt: str):
    """The bulletin as ``json``, ``html``, ``pdf`` or ``txt``, rendered from its frozen snapshot."""
    if fmt not in ("json", "html", "pdf", "txt"):
        raise ApiError(
            404,
            "not_found",
            _("Unknown format %(fmt)s: use json, html, pdf or txt.", fmt=fmt),
            {"fields": {"fmt": "one of json, html, pdf, txt"}},
        )
    try:
        bulletin = service.get_bulletin(db(), bulletin_id)
    except service.BulletinError as exc:
        raise _error(exc) from None
    body, content_type, filename = service.render_bulletin(bulletin, fmt)
    response = Response(body, content_type=content_type)
    disposition = "attachment" if fmt == "pdf" else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


@bp.get("/bulletins/<int:bulletin_id>/map.png")
@requires("bulletins.view")
@api_doc(tag="bulletins", responses={200: "The map frozen with the bulletin", 404: "No map"})
def bulletin_map(bulletin_id: int):
    """The situation map frozen with the bulletin (PNG)."""
    try:
        bulletin = service.get_bulletin(db(), bulletin_id)
    except service.BulletinError as exc:
        raise _error(exc) from None
    if not bulletin.map_png:
        raise ApiError(404, "not_found", _("This bulletin has no map."))
    return Response(bulletin.map_png, mimetype="image/png")


@bp.post("/deliveries/<int:delivery_id>/retry")
@requires("bulletins.issue")
@api_doc(tag="bulletins", responses={200: "Queued again", 422: "Already delivered"})
def retry_delivery(delivery_id: int):
    """Send a failed delivery again."""
    try:
        return jsonify(service.retry_delivery(_app(), delivery_id, actor=current_actor()))
    except service.BulletinError as exc:
        raise _error(exc) from None
