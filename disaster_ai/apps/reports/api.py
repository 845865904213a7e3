"""Damage reports over HTTP (docs/reports.md shows every call with curl).

- ``GET  /api/v1/reports/items``                        the form's items
- ``GET  /api/v1/reports/events/<id>/tally``            the tally with the first-report countdown
- ``POST /api/v1/reports/events/<id>/tally``            set items (values or 未確認)
- ``GET  /api/v1/reports/events/<id>/history``          every version of one item (?item=…)
- ``GET  /api/v1/reports/events/<id>/proposals``        proposals from confirmed incidents
- ``POST /api/v1/reports/proposals/<id>``               accept (as is or edited) or reject
- ``GET  /api/v1/reports/events/<id>/reports``          the event's reports (第N報)
- ``POST /api/v1/reports/events/<id>/reports``          issue the next one
- ``GET  /api/v1/reports/<id>.<fmt>``                   pdf | csv | xlsx | json | txt | html
- ``GET  /api/v1/reports/shelters``                     shelters with their evacuees
- ``POST /api/v1/reports/shelters/<key>``               open/close and record evacuees
- ``GET  /api/v1/reports/shelters/<key>/history``       that shelter's recordings
"""

from __future__ import annotations

from typing import Annotated, Literal

from flask import Blueprint, Response, current_app, jsonify
from flask_babel import gettext as _
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
)

from disaster_ai.api.framework import api_doc, parse_body, parse_query
from disaster_ai.apps.reports import proposals, render, service, shelters, tally
from disaster_ai.apps.reports.common import ReportError, get_event
from disaster_ai.apps.reports.items import catalogue_for
from disaster_ai.apps.reports.models import SOURCES
from disaster_ai.auth import current_actor, requires
from disaster_ai.errors import ApiError
from disaster_ai.storage.engine import db

bp = Blueprint("reports_api", __name__, url_prefix="/api/v1/reports")

Source = Literal[SOURCES]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Path = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Value = StrictInt | StrictFloat | Annotated[str, StringConstraints(max_length=2000)]


class TallyIn(Strict):
    """Items to set, like the CLI's ``--set ITEM=VALUE`` and ``--unconfirmed ITEM``."""

    set: dict[Path, Value] = Field(
        default_factory=dict,
        max_length=tally.MAX_CHANGES,
        description='item path → value, e.g. {"住家被害.床上浸水.棟": 12}',
    )
    unconfirmed: list[Path] = Field(
        default_factory=list,
        max_length=tally.MAX_CHANGES,
        description="item paths to mark 未確認 (with a value in set: a provisional figure)",
    )
    source: Source = "desk"
    source_note: str = Field(default="", max_length=tally.MAX_NOTE)


class HistoryQuery(Strict):
    item: str = Field(min_length=1, max_length=128, description="the item's path")


class DecisionIn(Strict):
    action: Literal["accept", "reject"]
    item: str | None = Field(default=None, max_length=128, description="accept as another item")
    amount: StrictInt | StrictFloat | StrictStr | None = Field(
        default=None, description="accept another amount"
    )
    reason: str = Field(default="", max_length=proposals.MAX_REASON)


class IssueIn(Strict):
    reporter: str | None = Field(
        default=None, max_length=service.MAX_REPORTER, description="報告者名; default: you"
    )
    remark: str = Field(default="", max_length=service.MAX_REMARK)


class ShelterIn(Strict):
    is_open: bool
    people: int = Field(ge=0, le=shelters.MAX_PEOPLE)
    households: int | None = Field(default=None, ge=0, le=shelters.MAX_PEOPLE)
    vulnerable: int | None = Field(default=None, ge=0, le=shelters.MAX_PEOPLE)
    note: str = Field(default="", max_length=shelters.MAX_NOTE)


def _error(exc: ReportError) -> ApiError:
    if exc.status == 404:
        return ApiError(404, "not_found", exc.message)
    if exc.status == 409:
        return ApiError(409, "conflict", exc.message)
    fields = getattr(exc, "fields", None) or {exc.field or "body": exc.message}
    return ApiError(422, "invalid", _("Some fields are missing or invalid."), {"fields": fields})


def _app():
    return current_app._get_current_object()


@bp.get("/items")
@requires("reports.view")
@api_doc(tag="reports", responses={200: "The form's items in print order"})
def list_items():
    """The items of 第4号様式: path, unit, kind, parts, sums, and how each is filled."""
    catalogue = catalogue_for(_app())
    return jsonify(
        {
            "items": [
                {
                    "path": i.path,
                    "unit": i.unit,
                    "kind": i.kind,
                    "forms": list(i.forms),
                    "sum": list(i.sum),
                    "auto": i.auto or None,
                    "enterable": i.enterable,
                    "note": i.note,
                }
                for i in catalogue.items
            ]
        }
    )


def _tally_body(event_id: int) -> dict:
    session = db()
    event = get_event(session, event_id)
    items = service.live_tally(_app(), session, event_id)
    return {
        "event_id": event_id,
        "event_name": event.name,
        "open": event.closed_at is None,
        "deadline": service.deadline_status(
            _app(), event, service.first_issued_at(session, event_id)
        ),
        "summary": tally.summary_counts(items),
        "items": items,
    }


@bp.get("/events/<int:event_id>/tally")
@requires("reports.view")
@api_doc(tag="reports", responses={200: "Every item with its value or 未確認, source, who, when"})
def get_tally(event_id: int):
    """The event's tally as a report issued now would print it, and the first-report countdown."""
    try:
        return jsonify(_tally_body(event_id))
    except ReportError as exc:
        raise _error(exc) from None


@bp.post("/events/<int:event_id>/tally")
@requires("reports.edit")
@api_doc(
    body=TallyIn,
    tag="reports",
    responses={200: "The items changed and the whole tally", 409: "The event is closed"},
)
def set_tally(event_id: int):
    """Set items: ``set`` gives values by item path, ``unconfirmed`` marks items 未確認 (both:
    a provisional figure). All or nothing; the same value again writes nothing. Audited as
    reports.tally_set."""
    body = parse_body(TallyIn)
    unconfirmed = set(body.unconfirmed)
    changes = [tally.Change(path, value, path in unconfirmed) for path, value in body.set.items()]
    changes += [tally.Change(path, None, True) for path in body.unconfirmed if path not in body.set]
    try:
        result = tally.set_items(
            _app(),
            event_id,
            changes,
            source=tally.Source(body.source, body.source_note),
            actor=current_actor(),
        )
        db().rollback()  # read what was just committed (SQLite keeps a read snapshot)
        return jsonify({**result, **_tally_body(event_id)})
    except ReportError as exc:
        raise _error(exc) from None


@bp.get("/events/<int:event_id>/history")
@requires("reports.view")
@api_doc(query=HistoryQuery, tag="reports", responses={200: "Every version, newest first"})
def item_history(event_id: int):
    """Every version of one item of the event's tally: value, state, source, who and when."""
    q = parse_query(HistoryQuery)
    try:
        session = db()
        get_event(session, event_id)
        rows = tally.history(session, event_id, q.item, catalogue_for(_app()))
    except ReportError as exc:
        raise _error(exc) from None
    except ValueError as exc:  # ItemError: an unknown item
        raise ApiError(
            422, "invalid", _("Some fields are missing or invalid."), {"fields": {"item": str(exc)}}
        ) from None
    return jsonify({"item": q.item, "versions": rows})


@bp.get("/events/<int:event_id>/proposals")
@requires("reports.view")
@api_doc(tag="reports", responses={200: "Proposals, oldest first"})
def list_proposals(event_id: int):
    """Proposals from confirmed incidents (missing ones are created first)."""
    try:
        get_event(db(), event_id)
        db().rollback()
        proposals.sync(_app(), event_id)
        return jsonify({"proposals": proposals.list_proposals(db(), event_id)})
    except ReportError as exc:
        raise _error(exc) from None


@bp.post("/proposals/<int:proposal_id>")
@requires("reports.edit")
@api_doc(
    body=DecisionIn,
    tag="reports",
    responses={200: "The decided proposal", 409: "Already decided, or the event is closed"},
)
def decide_proposal(proposal_id: int):
    """Accept a proposal (optionally as another item or amount) or reject it. The first
    decision stands: a second one is a 409. Audited as reports.proposal_accept/_reject."""
    body = parse_body(DecisionIn)
    try:
        return jsonify(
            proposals.decide(
                _app(),
                proposal_id,
                body.action,
                item=body.item,
                amount=body.amount,
                reason=body.reason,
                actor=current_actor(),
            )
        )
    except ReportError as exc:
        raise _error(exc) from None


@bp.get("/events/<int:event_id>/reports")
@requires("reports.view")
@api_doc(tag="reports", responses={200: "The event's reports, newest first"})
def list_reports(event_id: int):
    """The event's reports (第N報) with their formats and deliveries."""
    try:
        return jsonify({"reports": service.list_reports(db(), event_id)})
    except ReportError as exc:
        raise _error(exc) from None


@bp.post("/events/<int:event_id>/reports")
@requires("reports.issue")
@api_doc(
    body=IssueIn,
    tag="reports",
    responses={201: "The report, issued", 409: "The event is closed"},
)
def issue_report(event_id: int):
    """Issue the event's next report (第N報) from the tally as it stands; its deliveries are
    queued. Audited as reports.issue."""
    body = parse_body(IssueIn)
    try:
        result = service.issue(
            _app(), event_id, reporter=body.reporter, remark=body.remark, actor=current_actor()
        )
        session = db()
        session.rollback()
        report = service.get_report(session, result.report_id)
        return jsonify(service.report_dict(report, [])), 201
    except ReportError as exc:
        raise _error(exc) from None


@bp.get("/<int:report_id>.<fmt>")
@requires("reports.view")
@api_doc(tag="reports", responses={200: "The report in that format"})
def report_file(report_id: int, fmt: str):
    """A report as pdf, csv, xlsx, json, txt or html, rendered from its frozen snapshot."""
    try:
        fmt = render.normalise_format(fmt)
    except ValueError:
        raise ApiError(404, "not_found", _("No such resource.")) from None
    try:
        report = service.get_report(db(), report_id)
    except ReportError as exc:
        raise _error(exc) from None
    body, content_type, filename = service.render_report(report, fmt)
    response = Response(body, content_type=content_type)
    disposition = "inline" if fmt in ("pdf", "html", "txt", "json") else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


@bp.get("/shelters")
@requires("reports.view")
@api_doc(tag="reports", responses={200: "Every shelter with its state and evacuees"})
def list_shelters():
    """Shelters of the active layer: open or closed, 人数, 世帯, 要配慮者 (null: 未確認)."""
    listing = shelters.listing(_app(), db())
    return jsonify({**listing, "totals": shelters.totals(listing["shelters"])})


@bp.post("/shelters/<key>")
@requires("reports.shelters")
@api_doc(body=ShelterIn, tag="reports", responses={200: "The shelter with its new figures"})
def record_shelter(key: str):
    """Open or close a shelter and record its evacuees. The state and head count also go to
    the situation (map, summary, bulletins). Audited as reports.shelter_evacuees."""
    body = parse_body(ShelterIn)
    try:
        return jsonify(
            shelters.record(
                _app(),
                key,
                shelters.Recording(
                    body.is_open, body.people, body.households, body.vulnerable, body.note
                ),
                actor=current_actor(),
            )
        )
    except ReportError as exc:
        raise _error(exc) from None


@bp.get("/shelters/<key>/history")
@requires("reports.view")
@api_doc(tag="reports", responses={200: "The shelter's recordings, newest first"})
def shelter_history(key: str):
    """Every recording of one shelter: open/closed, 人数, 世帯, 要配慮者, who and when."""
    return jsonify({"key": key, "history": shelters.history(db(), key)})
