"""Desk pages for incidents: list with filters, detail with edit / resolve / merge, and manual
entry by clicking the map (a district picker is the fallback without JavaScript).

- ``GET       /apps/situation/incidents``                  list (category, district, status, time; paged)
- ``GET|POST  /apps/situation/incidents/new``              record an incident
- ``GET|POST  /apps/situation/incidents/<id>``             detail and edit
- ``POST      /apps/situation/incidents/<id>/resolve``     resolve
- ``POST      /apps/situation/incidents/<id>/merge``       merge this duplicate into another

Thin views (STYLE.md §5): the forms only parse what was typed; every rule about incidents
lives in :mod:`disaster_ai.apps.situation.incidents`, and its errors are shown next to the
field they name. Every form carries a CSRF token; a repeated submit changes nothing.
"""

from __future__ import annotations

import math
import unicodedata
from datetime import datetime, timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, ValidationError

from disaster_ai.apps.situation import incidents as service
from disaster_ai.apps.situation.models import INCIDENT_STATUSES, Incident
from disaster_ai.apps.situation.web import COUNT_RANGE, MAX_OCCUPANCY, CountField, tile_config
from disaster_ai.auth import current_actor, is_allowed, requires
from disaster_ai.errors import ApiError
from disaster_ai.security import DB_INT_MAX, parse_db_int
from disaster_ai.storage.base import JST, now
from disaster_ai.storage.engine import db

bp = Blueprint(
    "situation_incidents_web",
    __name__,
    url_prefix="/apps/situation/incidents",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

PAGE_SIZE = 50
MERGE_CANDIDATES = 30
DOUBLE_SUBMIT_WINDOW = timedelta(minutes=2)
REQUIRED = _l("This field is required.")
NOT_A_COORDINATE = _l("Enter a number in degrees, e.g. 138.3215.")
NOT_A_TIME = _l("Write the time as YYYY-MM-DD HH:MM.")
NOT_A_DAY = _l("Write the day as YYYY-MM-DD.")
NO_LOCATION = _l("Click the map, or choose a district or a place.")


# --- forms ---------------------------------------------------------------------------------


class CoordinateField(StringField):
    """Degrees as typed (full-width digits accepted); empty → None."""

    def process_formdata(self, valuelist):
        self.data = None
        self.raw = valuelist[0] if valuelist else ""
        text = unicodedata.normalize("NFKC", self.raw or "").strip()
        if not text:
            return
        try:
            value = float(text)
        except ValueError:
            raise ValueError(str(NOT_A_COORDINATE)) from None
        if not math.isfinite(value):
            raise ValueError(str(NOT_A_COORDINATE))
        self.data = value

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else f"{self.data:.6f}"


class LocalTimeField(StringField):
    """``<input type=datetime-local>``: a Japan-time moment without seconds; empty → None."""

    def process_formdata(self, valuelist):
        self.data = None
        text = unicodedata.normalize("NFKC", valuelist[0] if valuelist else "").strip()
        if not text:
            return
        try:
            moment = datetime.fromisoformat(text.replace(" ", "T"))
        except ValueError:
            raise ValueError(str(NOT_A_TIME)) from None
        self.data = moment.replace(tzinfo=JST) if moment.tzinfo is None else moment

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else self.data.astimezone(JST).strftime("%Y-%m-%dT%H:%M")


def _people_in_range(form, field):
    if field.data is not None and not 0 <= field.data <= MAX_OCCUPANCY:
        raise ValidationError(str(COUNT_RANGE))


def category_choices(blank: bool = True) -> list[SelectChoice]:
    choices = [SelectChoice("", _l("Choose…"))] if blank else []
    return choices + [SelectChoice(k, v) for k, v in service.CATEGORY_LABELS.items()]


def status_choices() -> list[SelectChoice]:
    return [SelectChoice(k, v) for k, v in service.STATUS_LABELS.items()]


class IncidentForm(FlaskForm):
    category = SelectField(
        _l("Category"), validators=[InputRequired(REQUIRED)], validate_choice=False
    )
    status = SelectField(_l("Status"), default="unverified", validate_choice=False)
    life_threat = BooleanField(_l("Life-threatening"))
    vulnerable = BooleanField(_l("Vulnerable people involved"))
    people = CountField(_l("People affected"), validators=[_people_in_range])
    occurred_at = LocalTimeField(_l("Occurred at"))
    lon = CoordinateField(_l("Longitude"))
    lat = CoordinateField(_l("Latitude"))
    district_key = SelectField(_l("District"), validate_choice=False)
    place_name = StringField(_l("Place"), validators=[Length(max=255)])
    description = TextAreaField(_l("Description"), validators=[Length(max=4000)])

    def setup(self, districts: dict[str, str]) -> IncidentForm:
        self.category.choices = category_choices()
        self.status.choices = status_choices()
        self.district_key.choices = [SelectChoice("", _l("— none (the map point decides) —"))] + [
            SelectChoice(key, name) for key, name in sorted(districts.items(), key=_by_name)
        ]
        return self

    def location_values(self) -> dict:
        return {
            "lon": self.lon.data,
            "lat": self.lat.data,
            "district_key": self.district_key.data or None,
            "place_name": (self.place_name.data or "").strip(),
        }

    def plain_values(self) -> dict:
        values = {
            "category": self.category.data,
            "status": self.status.data or "unverified",
            "life_threat": bool(self.life_threat.data),
            "vulnerable": bool(self.vulnerable.data),
            "people": self.people.data,
            "description": (self.description.data or "").strip(),
        }
        if self.occurred_at.data is not None:
            values["occurred_at"] = self.occurred_at.data
        return values

    def show_service_errors(self, error: ApiError) -> None:
        fields = (error.details or {}).get("fields") or {}
        for name, message in fields.items():
            target = {"location": "lon", "into": None}.get(name, name)
            if name == "location" and not any(self.location_values().values()):
                message = str(NO_LOCATION)  # the service's text names the API fields
            field = getattr(self, target, None) if target else None
            if field is None or not hasattr(field, "errors"):
                self.form_errors.append(str(message))
            else:
                field.errors = [*list(field.errors), str(message)]
        if not fields:
            self.form_errors.append(str(error.message))


class MergeForm(FlaskForm):
    into = StringField(_l("Incident number to keep"), validators=[InputRequired(REQUIRED)])


class ResolveForm(FlaskForm):
    pass


def _by_name(item):
    return item[1] or "", item[0]


def _districts(session) -> dict[str, str]:
    index = service.district_index(session)
    return dict(index.names) if index is not None else {}


def _can_edit() -> bool:
    return is_allowed(current_actor(), "situation.edit")


# --- list ----------------------------------------------------------------------------------


def _day(name: str, problems: dict) -> datetime | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=JST)
    except ValueError:
        problems[name] = str(NOT_A_DAY)
        return None


def list_filter(districts: dict, limit: int, page: int = 1):
    """The list's filters from the query string (the list page and its print view share
    them): ``(IncidentFilter, args, query, life_only, problems)``."""
    problems: dict[str, str] = {}
    args = {
        k: request.args.get(k, "").strip()
        for k in ("category", "district", "status", "since", "until")
    }
    category = args["category"] if args["category"] in service.CATEGORY_LABELS else ""
    status = args["status"] if args["status"] in (*INCIDENT_STATUSES, "open") else ""
    district = args["district"] if args["district"] in districts else ""
    since, until = _day("since", problems), _day("until", problems)
    life_only = request.args.get("life") == "1"
    f = service.IncidentFilter(
        categories=(category,) if category else (),
        statuses=("unverified", "confirmed") if status == "open" else ((status,) if status else ()),
        district=district or None,
        since=since,
        until=until + timedelta(days=1) if until else None,  # the "until" day is included
        life_threat=True if life_only else None,
        limit=limit,
        offset=(page - 1) * limit,
    )
    query = {k: v for k, v in args.items() if v}
    if life_only:
        query["life"] = "1"
    return f, args, query, life_only, problems


@bp.get("")
@requires("situation.view")
def list_page():
    session = db()
    districts = _districts(session)
    page = min(max(1, parse_db_int(request.args.get("page")) or 1), DB_INT_MAX // PAGE_SIZE)
    f, args, query, life_only, problems = list_filter(districts, PAGE_SIZE, page)
    rows, total = service.list_incidents(session, f)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return render_template(
        "situation/incidents_list.html",
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        query=query,
        args=args,
        life_only=life_only,
        problems=problems,
        districts=districts,
        categories=service.CATEGORY_LABELS,
        statuses=service.STATUS_LABELS,
        can_edit=_can_edit(),
        labels=_labels(),
    ), 422 if problems else 200


PRINT_LIMIT = 1000  # one printed list; a larger one asks for narrower filters


@bp.get("/print")
@requires("situation.view")
def print_page():
    """The incident list with the list page's filters, A4, black on white (印刷)."""
    from disaster_ai.web.printing import render_print

    session = db()
    districts = _districts(session)
    f, args, query, life_only, problems = list_filter(districts, PRINT_LIMIT)
    rows, total = service.list_incidents(session, f)
    shown = {
        "category": service.CATEGORY_LABELS.get(args["category"], ""),
        "district": districts.get(args["district"], ""),
        "status": service.STATUS_LABELS.get(args["status"], "")
        if args["status"] != "open"
        else _("Open (not resolved)"),
        "since": args["since"],
        "until": args["until"],
    }
    return render_print(
        "situation/incidents_print.html",
        rows=rows,
        total=total,
        limit=PRINT_LIMIT,
        query=query,
        shown={k: v for k, v in shown.items() if v},
        life_only=life_only,
        problems=problems,
        districts=districts,
        labels=_labels(),
    ), 422 if problems else 200


def _labels() -> dict:
    return {
        "category": service.CATEGORY_LABELS,
        "status": service.STATUS_LABELS,
        "source": service.SOURCE_LABELS,
    }


# --- new -----------------------------------------------------------------------------------


def _render_new(form: IncidentForm, status: int = 200):
    return render_template(
        "situation/incidents_new.html",
        form=form,
        tiles=tile_config(),
        map_data_url=url_for("situation_web.map_data", layers="districts,incidents"),
    ), status


def _recent_twin(session, values: dict, location: dict) -> Incident | None:
    """The same incident recorded by the same operator moments ago: a double submit."""
    actor = current_actor()
    query = (
        select(Incident)
        .where(
            Incident.created_by == actor.username[:64],
            Incident.created_at >= now() - DOUBLE_SUBMIT_WINDOW,
            Incident.category == values["category"],
            Incident.description == values["description"],
        )
        .order_by(Incident.id.desc())
        .limit(5)
    )
    for incident in session.scalars(query):
        same_place = (
            (location["lon"], location["lat"]) == (incident.lon, incident.lat)
            if location["lon"] is not None
            else (location["district_key"] or None) == incident.district_key
            or (location["place_name"] and location["place_name"] == incident.place_name)
        )
        if same_place and incident.life_threat == values["life_threat"]:
            return incident
    return None


@bp.route("/new", methods=["GET", "POST"])
@requires("situation.edit")
def new_page():
    session = db()
    form = IncidentForm().setup(_districts(session))
    if request.method == "GET":
        form.status.data = form.status.data or "unverified"
        return _render_new(form)
    if not form.validate_on_submit():
        return _render_new(form, 422)
    values = {**form.plain_values(), "source": "manual"}
    location = form.location_values()
    twin = _recent_twin(session, values, location)
    if twin is not None:
        flash(_("Incident %(id)s was already recorded.", id=twin.id), "info")
        return redirect(url_for(".detail_page", incident_id=twin.id))
    try:
        incident = service.create_incident(session, {**values, **location}, current_actor())
    except ApiError as exc:
        session.rollback()
        form.show_service_errors(exc)
        return _render_new(form, 422)
    session.commit()
    flash(_("Incident %(id)s was recorded.", id=incident.id), "success")
    return redirect(url_for(".detail_page", incident_id=incident.id))


# --- detail, edit, resolve, merge ----------------------------------------------------------


def _form_for(incident: Incident, districts: dict, formdata=None) -> IncidentForm:
    data = {
        "category": incident.category,
        "status": incident.status,
        "life_threat": incident.life_threat,
        "vulnerable": incident.vulnerable,
        "people": incident.people,
        "occurred_at": incident.occurred_at,
        "lon": incident.lon,
        "lat": incident.lat,
        "district_key": "" if incident.lon is not None else (incident.district_key or ""),
        "place_name": incident.place_name or "",
        "description": incident.description or "",
    }
    return IncidentForm(formdata=formdata, data=data).setup(districts)


def _merge_candidates(session, incident: Incident) -> list[Incident]:
    """Open incidents that may be the same one: same district first, then the same category."""
    if incident.merged_into is not None:
        return []
    base = (
        service.visible_incidents()
        .where(Incident.id != incident.id, Incident.status != "resolved")
        .order_by(Incident.occurred_at.desc(), Incident.id.desc())
        .limit(MERGE_CANDIDATES)
    )
    found: dict[int, Incident] = {}
    if incident.district_key:
        for row in session.scalars(base.where(Incident.district_key == incident.district_key)):
            found[row.id] = row
    for row in session.scalars(base.where(Incident.category == incident.category)):
        found.setdefault(row.id, row)
    return list(found.values())[:MERGE_CANDIDATES]


def _render_detail(incident: Incident, form=None, merge_form=None, status: int = 200):
    session = db()
    districts = _districts(session)
    can_edit = _can_edit() and incident.merged_into is None
    if can_edit and form is None:
        form = _form_for(incident, districts)
    return render_template(
        "situation/incidents_detail.html",
        incident=incident,
        info=service.incident_dict(incident, service.district_index(session)),
        form=form if can_edit else None,
        merge_form=(merge_form or MergeForm()) if can_edit else None,
        resolve_form=ResolveForm() if can_edit else None,
        candidates=_merge_candidates(session, incident) if can_edit else [],
        districts=districts,
        labels=_labels(),
        tiles=tile_config(),
        map_data_url=url_for("situation_web.map_data", layers="districts,incidents"),
        links=_links(session, incident),
    ), status


def _links(session, incident: Incident) -> list:
    """What other plugins link to this incident (``dai_incident_links``: the call it was
    heard in …), in the hook order; a failing implementation is left out."""
    from disaster_ai.plugins import call_each
    from disaster_ai.types import Link

    links = []
    for outcome in call_each(
        current_app.extensions["disaster_ai"],
        "dai_incident_links",
        session=session,
        incident_id=incident.id,
        actor=current_actor(),
    ):
        links.extend(link for link in outcome.value or [] if isinstance(link, Link))
    return links


@bp.get("/<int:incident_id>")
@requires("situation.view")
def detail_page(incident_id: int):
    return _render_detail(service.get_incident(db(), incident_id))


def _changed_location(incident: Incident, location: dict) -> dict:
    """Only the location fields the operator changed (an unchanged location is not
    re-checked, so an old incident stays editable after the districts layer changes)."""
    stored = {
        "lon": incident.lon,
        "lat": incident.lat,
        "district_key": None if incident.lon is not None else incident.district_key,
        "place_name": incident.place_name or "",
    }
    if all(_same(location[k], stored[k]) for k in stored):
        return {}
    if (
        location["lon"] is None
        and location["lat"] is None
        and location["district_key"] is None
        and not location["place_name"]
    ):
        return {"location": None}
    return location


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 5e-7
    return a == b


@bp.post("/<int:incident_id>")
@requires("situation.edit")
def edit_page(incident_id: int):
    session = db()
    incident = service.get_incident(session, incident_id)
    if incident.merged_into is not None:
        flash(
            _(
                "Incident %(id)s was merged into %(into)s; edit that one.",
                id=incident.id,
                into=incident.merged_into,
            ),
            "info",
        )
        return redirect(url_for(".detail_page", incident_id=incident.merged_into))
    form = IncidentForm().setup(_districts(session))
    if not form.validate_on_submit():
        return _render_detail(incident, form=form, status=422)
    values = form.plain_values()
    shown = incident.occurred_at.astimezone(JST).replace(second=0, microsecond=0)
    if values.get("occurred_at") == shown:
        values.pop("occurred_at")  # the form shows minutes: an untouched time keeps its seconds
    location = _changed_location(incident, form.location_values())
    if "location" in location:
        form.show_service_errors(service.invalid({"location": ""}))
        return _render_detail(incident, form=form, status=422)
    before = incident.updated_at
    try:
        service.update_incident(session, incident_id, {**values, **location}, current_actor())
    except ApiError as exc:
        session.rollback()
        incident = service.get_incident(session, incident_id)
        form.show_service_errors(exc)
        return _render_detail(incident, form=form, status=422)
    session.commit()
    if incident.updated_at != before:
        flash(_("Incident %(id)s was saved.", id=incident.id), "success")
    else:
        flash(_("Nothing changed."), "info")
    return redirect(url_for(".detail_page", incident_id=incident.id))


@bp.post("/<int:incident_id>/resolve")
@requires("situation.edit")
def resolve_page(incident_id: int):
    session = db()
    form = ResolveForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for(".detail_page", incident_id=incident_id))
    incident = service.get_incident(session, incident_id)
    if incident.merged_into is not None:
        flash(
            _(
                "Incident %(id)s was merged into %(into)s; edit that one.",
                id=incident.id,
                into=incident.merged_into,
            ),
            "info",
        )
        return redirect(url_for(".detail_page", incident_id=incident.merged_into))
    if incident.status == "resolved":
        flash(_("Incident %(id)s is already resolved.", id=incident.id), "info")
    else:
        service.update_incident(session, incident_id, {"status": "resolved"}, current_actor())
        session.commit()
        flash(_("Incident %(id)s was resolved.", id=incident.id), "success")
    return redirect(url_for(".detail_page", incident_id=incident_id))


@bp.post("/<int:incident_id>/merge")
@requires("situation.edit")
def merge_page(incident_id: int):
    session = db()
    incident = service.get_incident(session, incident_id)
    form = MergeForm()
    if incident.merged_into is not None:
        # a repeated submit: the merge already happened
        flash(
            _(
                "Incident %(id)s was already merged into %(into)s.",
                id=incident.id,
                into=incident.merged_into,
            ),
            "info",
        )
        return redirect(url_for(".detail_page", incident_id=incident.merged_into))
    if not form.validate_on_submit():
        return _render_detail(incident, merge_form=form, status=422)
    text = unicodedata.normalize("NFKC", form.into.data or "").strip().lstrip("#")
    into = parse_db_int(text)
    if into is None:
        form.into.errors = [str(_l("Enter the number of an incident, e.g. 12."))]
        return _render_detail(incident, merge_form=form, status=422)
    try:
        kept = service.merge_incident(session, incident_id, into, current_actor())
    except ApiError as exc:
        session.rollback()
        incident = service.get_incident(session, incident_id)
        fields = (exc.details or {}).get("fields") or {}
        form.into.errors = [str(m) for m in fields.values()] or [str(exc.message)]
        return _render_detail(incident, merge_form=form, status=422)
    session.commit()
    flash(_("Incident %(id)s was merged into %(into)s.", id=incident_id, into=kept.id), "success")
    return redirect(url_for(".detail_page", incident_id=kept.id))


@bp.app_template_filter("jst_minute")
def jst_minute(moment: datetime | None) -> str:
    """A stored time as Japan time to the minute, e.g. 2026-09-23 06:05."""
    return "" if moment is None else moment.astimezone(JST).strftime("%Y-%m-%d %H:%M")
