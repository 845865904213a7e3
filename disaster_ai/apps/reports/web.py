"""Desk pages of the reports app (Japanese first; every string through flask_babel).

- ``GET  /apps/reports``                               events with the first-report countdown
- ``POST /apps/reports/events``                        open an event (BULLETIN_EVENT_OPEN_ROLES)
- ``GET  /apps/reports/events/<id>``                   tally, proposals, reports, 第N報を発出
- ``POST /apps/reports/events/<id>/tally``             save the tally form
- ``POST /apps/reports/events/<id>/issue``             issue the next report
- ``GET  /apps/reports/events/<id>/history?item=…``    one item's versions
- ``POST /apps/reports/proposals/<id>``                accept / edit / reject a proposal
- ``GET  /apps/reports/reports/<id>``                  one report, downloads, deliveries
- ``GET  /apps/reports/shelters``                      shelters on a phone: open/close, evacuees
- ``POST /apps/reports/shelters/<key>``                record one shelter
- ``GET  /apps/reports/shelters/<key>``                that shelter's history

Every form carries a CSRF token (Flask-WTF). Views call the service modules only.
"""

from __future__ import annotations

import hashlib
import unicodedata

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy.exc import SQLAlchemyError

from disaster_ai.apps.reports import proposals, render, service, shelters, tally
from disaster_ai.apps.reports.common import (
    SOURCE_LABELS,
    NotFound,
    ReportError,
    desk,
    get_event,
)
from disaster_ai.apps.reports.items import catalogue_for
from disaster_ai.apps.reports.models import SOURCES
from disaster_ai.auth import current_actor, is_allowed, requires
from disaster_ai.storage.engine import db
from disaster_ai.web.forms import EventForm

bp = Blueprint(
    "reports_web",
    __name__,
    url_prefix="/apps/reports",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

DELIVERY_LABELS = {
    "pending": _l("Waiting"),
    "retrying": _l("Retrying"),
    "delivered": _l("Delivered"),
    "failed": _l("Failed"),
}
PROPOSAL_LABELS = {
    # TRANSLATORS: a tally proposal from an incident (未処理)
    "pending": _l("Pending"),
    # TRANSLATORS: a tally proposal from an incident (反映済み)
    "accepted": _l("Accepted"),
    # TRANSLATORS: a tally proposal from an incident (却下)
    "rejected": _l("Rejected"),
    # TRANSLATORS: a tally proposal from an incident (取り下げ: its incident was merged)
    "withdrawn": _l("Withdrawn"),
}


class ActionForm(FlaskForm):
    """A form whose fields are read by hand (the tally): only the CSRF token."""


def _app():
    return current_app._get_current_object()


def field_id(path: str) -> str:
    return "i" + hashlib.sha1(path.encode("utf-8")).hexdigest()[:10]


# --- events --------------------------------------------------------------------------------


def _events(session) -> list[dict]:
    events = desk(_app()).disasters.listing(session=session)
    for event in events:
        row = get_event(session, event["id"])
        first = service.first_issued_at(session, event["id"])
        event["deadline"] = service.deadline_status(_app(), row, first)
        event["reports"] = len(service.list_reports(session, event["id"]))
    return events


@bp.get("")
@requires("reports.view")
def index():
    actor = current_actor()
    return render_template(
        "reports/index.html",
        events=_events(db()),
        form=EventForm() if is_allowed(actor, "bulletins.event_open") else None,
    )


@bp.post("/events")
@requires("bulletins.event_open")
def open_event():
    form = EventForm()
    if not form.validate_on_submit():
        return render_template("reports/index.html", events=_events(db()), form=form), 422
    event = desk(_app()).disasters.open(
        form.name.data,
        hazard=form.hazard.data or None,
        exercise=form.exercise.data,
        actor=current_actor(),
    )
    flash(_("Event opened: %(name)s", name=event["name"]), "success")
    return redirect(url_for(".event_page", event_id=event["id"]))


def _default_reporter() -> str:
    actor = current_actor()
    return service.reporter_for(_app(), actor, None)


def _event_page(event_id: int, errors: dict | None = None, typed: dict | None = None, status=200):
    session = db()
    try:
        event = get_event(session, event_id)
    except NotFound:
        abort(404)
    session.rollback()
    if event.closed_at is None:
        proposals.sync(_app(), event_id)
    session = db()
    actor = current_actor()
    items = service.live_tally(_app(), session, event_id)
    groups: dict[str, list] = {}
    for item in items:
        item["field"] = field_id(item["path"])
        item["display"] = render.display_name(item)
        groups.setdefault(item["group"], []).append(item)
    catalogue = catalogue_for(_app())
    reports = service.list_reports(session, event_id)
    is_open = event.closed_at is None
    return render_template(
        "reports/event.html",
        event=event,
        is_open=is_open,
        groups=list(groups.items()),
        notes={i.path: i.note for i in catalogue.items},
        enterable=[i.path for i in catalogue.enterable() if i.kind != "text"],
        summary=tally.summary_counts(items),
        deadline=service.deadline_status(_app(), event, service.first_issued_at(session, event_id)),
        proposals=proposals.list_proposals(session, event_id),
        reports=reports,
        next_number=(reports[0]["number"] + 1) if reports else 1,
        errors=errors or {},
        typed=typed or {},
        sources=[(s, SOURCE_LABELS[s]) for s in SOURCES if s != "incidents"],
        action_form=ActionForm(),
        can_edit=is_open and is_allowed(actor, "reports.edit"),
        can_issue=is_open and is_allowed(actor, "reports.issue"),
        reporter=_default_reporter(),
        proposal_labels=PROPOSAL_LABELS,
        delivery_labels=DELIVERY_LABELS,
        value=render.value_text,
    ), status


@bp.get("/events/<int:event_id>")
@requires("reports.view")
def event_page(event_id: int):
    return _event_page(event_id)


@bp.post("/events/<int:event_id>/tally")
@requires("reports.edit")
def save_tally(event_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    catalogue = catalogue_for(_app())
    changes, typed = [], {}
    for item in catalogue.enterable():
        key = field_id(item.path)
        raw = unicodedata.normalize("NFC", request.form.get(f"v-{key}", "")).strip()
        unconfirmed = request.form.get(f"u-{key}") == "1"
        typed[item.path] = {"value": raw, "unconfirmed": unconfirmed}
        if raw == "" and not unconfirmed:
            continue
        changes.append(tally.Change(item.path, raw or None, unconfirmed))
    source = request.form.get("source", "desk")
    note = request.form.get("source_note", "")
    if not changes:
        flash(_("Nothing to save: type a figure or tick 未確認."), "info")
        return redirect(url_for(".event_page", event_id=event_id))
    try:
        result = tally.set_items(
            _app(),
            event_id,
            changes,
            source=tally.Source(source if source in SOURCES else "desk", note),
            actor=current_actor(),
        )
    except NotFound:
        abort(404)
    except ReportError as exc:
        return _event_page(event_id, errors={exc.field: exc.message}, typed=typed, status=422)
    count = len(result["changed"])
    if count:
        flash(_("Saved %(count)s items.", count=count), "success")
    else:
        flash(_("Nothing changed."), "info")
    return redirect(url_for(".event_page", event_id=event_id, _anchor="tally"))


@bp.post("/events/<int:event_id>/issue")
@requires("reports.issue")
def issue_now(event_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    reporter = request.form.get("reporter", "")
    remark = request.form.get("remark", "")
    try:
        result = service.issue(
            _app(), event_id, reporter=reporter, remark=remark, actor=current_actor()
        )
    except NotFound:
        abort(404)
    except ReportError as exc:
        return _event_page(event_id, errors={exc.field: exc.message}, status=422)
    flash(_("Report No. %(number)s issued.", number=result.number), "success")
    return redirect(url_for(".report_page", report_id=result.report_id))


@bp.get("/events/<int:event_id>/history")
@requires("reports.view")
def item_history(event_id: int):
    session = db()
    try:
        event = get_event(session, event_id)
        rows = tally.history(session, event_id, request.args.get("item", ""), catalogue_for(_app()))
    except NotFound:
        abort(404)
    except ValueError:
        abort(404)
    item = catalogue_for(_app()).get(request.args.get("item", ""))
    return render_template(
        "reports/history.html", event=event, item=item, rows=rows, value=render.value_text
    )


@bp.post("/proposals/<int:proposal_id>")
@requires("reports.edit")
def decide_proposal(proposal_id: int):
    from disaster_ai.apps.reports.models import TallyProposal

    if not ActionForm().validate_on_submit():
        abort(400)
    row = db().get(TallyProposal, proposal_id)
    if row is None:
        abort(404)
    event_id = row.event_id
    db().rollback()
    action = request.form.get("action")
    try:
        decided = proposals.decide(
            _app(),
            proposal_id,
            action if action in ("accept", "reject") else "",
            item=request.form.get("item") or None,
            amount=request.form.get("amount") or None,
            reason=request.form.get("reason", ""),
            actor=current_actor(),
        )
    except ReportError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".event_page", event_id=event_id, _anchor="proposals"))
    if decided["state"] == "accepted":
        flash(
            _(
                "Incident #%(id)s counted: %(item)s +%(amount)s.",
                id=decided["incident_id"],
                item=decided["decided_item"],
                amount=decided["decided_amount"],
            ),
            "success",
        )
    else:
        flash(_("Incident #%(id)s not counted.", id=decided["incident_id"]), "info")
    return redirect(url_for(".event_page", event_id=event_id, _anchor="proposals"))


@bp.get("/reports/<int:report_id>")
@requires("reports.view")
def report_page(report_id: int):
    session = db()
    try:
        report = service.get_report(session, report_id)
    except NotFound:
        abort(404)
    reports = {r["id"]: r for r in service.list_reports(session, report.event_id)}
    snap = report.snapshot
    return render_template(
        "reports/report.html",
        report=reports[report_id],
        snap=snap,
        items=snap["items"],
        value=render.value_text,
        previous=render.previous_text,
        label=render.display_name,
        delivery_labels=DELIVERY_LABELS,
    )


# --- shelters on the night -------------------------------------------------------------------


def shelter_anchor(key: str) -> str:
    return "shelter-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:10]


def _count(raw: str | None, field: str, errors: dict, required: bool = False) -> int | None:
    text = unicodedata.normalize("NFKC", raw or "").strip().replace(",", "")
    if text == "":
        if required:
            errors[field] = _("Enter the number of people (0 when empty).")
        return None
    if not text.isdigit():
        errors[field] = _("Enter a whole number, e.g. 120.")
        return None
    value = int(text)
    if value > shelters.MAX_PEOPLE:
        errors[field] = _("Enter a number from 0 to %(max)s.", max=shelters.MAX_PEOPLE_TEXT)
        return None
    return value


def _shelters_page(failed: tuple[str, dict, dict] | None = None, status: int = 200):
    listing = shelters.listing(_app(), db())
    rows = []
    for s in listing["shelters"]:
        typed, errors = {}, {}
        if failed and failed[0] == s["key"]:
            typed, errors = failed[1], failed[2]
        rows.append({"s": s, "anchor": shelter_anchor(s["key"]), "typed": typed, "errors": errors})
    return render_template(
        "reports/shelters.html",
        rows=rows,
        totals=shelters.totals(listing["shelters"]),
        attribution=listing["attribution"],
        can_edit=is_allowed(current_actor(), "reports.shelters"),
        action_form=ActionForm(),
    ), status


@bp.get("/shelters")
@requires("reports.view")
def shelters_page():
    return _shelters_page()


@bp.post("/shelters/<key>")
@requires("reports.shelters")
def record_shelter(key: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    form = request.form
    errors: dict[str, str] = {}
    state = form.get("state")
    if state not in ("open", "closed"):
        errors["state"] = _("Choose open or closed.")
    people = _count(form.get("people"), "people", errors, required=state == "open")
    households = _count(form.get("households"), "households", errors)
    vulnerable = _count(form.get("vulnerable"), "vulnerable", errors)
    typed = {
        name: form.get(name, "") for name in ("state", "people", "households", "vulnerable", "note")
    }
    if not errors:
        try:
            row = shelters.record(
                _app(),
                key,
                shelters.Recording(
                    state == "open",
                    people or 0,
                    households,
                    vulnerable,
                    form.get("note", "")[: shelters.MAX_NOTE],
                ),
                actor=current_actor(),
            )
        except NotFound:
            abort(404)
        except ReportError as exc:
            errors = getattr(exc, "fields", None) or {exc.field or "people": exc.message}
        else:
            if row["changed"]:
                flash(_("%(name)s: saved.", name=row["name"]), "success")
            else:
                flash(_("%(name)s: nothing changed.", name=row["name"]), "info")
            return redirect(url_for(".shelters_page", _anchor=shelter_anchor(key)))
    return _shelters_page(failed=(key, typed, errors), status=422)


@bp.get("/shelters/<key>")
@requires("reports.view")
def shelter_history(key: str):
    try:
        feature = desk(_app()).shelters.get(key, session=db())
    except SQLAlchemyError:
        feature = None
    if feature is None:
        abort(404)
    return render_template(
        "reports/shelter_history.html", name=feature.name, key=key, rows=shelters.history(db(), key)
    )
