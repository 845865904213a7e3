"""Desk pages of the bulletins app (Japanese first; every string through flask_babel).

- ``GET  /apps/bulletins``                          events (open one) and recent bulletins
- ``POST /apps/bulletins/events``                   open an event (BULLETIN_EVENT_OPEN_ROLES)
- ``GET  /apps/bulletins/events/<id>``              schedules, bulletins, "Issue bulletin now"
- ``POST /apps/bulletins/events/<id>/close``        close it (admin)
- ``POST /apps/bulletins/events/<id>/schedules``    add a schedule (admin)
- ``POST /apps/bulletins/schedules/<id>/toggle``    pause / resume (admin)
- ``POST /apps/bulletins/events/<id>/issue``        queue a ``bulletins.issue`` job (desk)
- ``GET  /apps/bulletins/<id>``                     the bulletin, downloads, delivery status
- ``POST /apps/bulletins/deliveries/<id>/retry``    send a failed delivery again (desk)

Every form is a Flask-WTF form (CSRF). Views call service.py only.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from disaster_ai.apps.bulletins import render, service
from disaster_ai.apps.bulletins.schedules import InvalidSchedule
from disaster_ai.auth import current_actor, is_allowed, requires
from disaster_ai.storage.engine import db
from disaster_ai.web.forms import (  # noqa: F401  (the event form is shared with the reports)
    NO_HAZARD,
    EventForm,
    hazard_choices,
)

bp = Blueprint(
    "bulletins_web",
    __name__,
    url_prefix="/apps/bulletins",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


TRIGGER_LABELS = {
    "manual": _l("Issued by hand"),
    "scheduled": _l("Scheduled"),
    "catch_up": _l("Catch-up after downtime"),
}
DELIVERY_LABELS = {
    "pending": _l("Waiting"),
    "retrying": _l("Retrying"),
    "delivered": _l("Delivered"),
    "failed": _l("Failed"),
}
REQUIRED = _l("This field is required.")


class ScheduleForm(FlaskForm):
    kind = RadioField(
        _l("Kind"),
        choices=[
            SelectChoice("interval", _l("Every N minutes")),
            SelectChoice("cron", _l("At fixed times (cron)")),
        ],
        default="interval",
        validators=[DataRequired(REQUIRED)],
    )
    interval_minutes = IntegerField(
        _l("Interval in minutes"),
        validators=[
            Optional(),
            NumberRange(min=1, max=7 * 24 * 60, message=_l("Enter 1 to 10080 minutes.")),
        ],
    )
    cron = StringField(
        _l("Cron expression (minute hour day month weekday, Japan time)"),
        validators=[Optional(), Length(max=128)],
        render_kw={"placeholder": "0 6,12,18 * * *"},
    )


class IssueForm(FlaskForm):
    remark = TextAreaField(_l("Remark (特記事項)"), validators=[Length(max=service.MAX_REMARK)])


class ActionForm(FlaskForm):
    """A button: only the CSRF token."""


def _actor():
    return current_actor()


def _app():
    return current_app._get_current_object()


@bp.get("")
@requires("bulletins.view")
def index():
    session = db()
    events = service.list_events(session)
    recent = service.list_bulletins(session)[:20]
    names = {e["id"]: e["name"] for e in events}
    return render_template(
        "bulletins/index.html",
        events=events,
        recent=recent,
        names=names,
        form=EventForm() if is_allowed(_actor(), "bulletins.event_open") else None,
        labels=TRIGGER_LABELS,
    )


@bp.post("/events")
@requires("bulletins.event_open")
def create_event():
    form = EventForm()
    if not form.validate_on_submit():
        session = db()
        events = service.list_events(session)
        return render_template(
            "bulletins/index.html",
            events=events,
            recent=service.list_bulletins(session)[:20],
            names={e["id"]: e["name"] for e in events},
            form=form,
            labels=TRIGGER_LABELS,
        ), 422
    event = service.open_event(
        _app(),
        form.name.data,
        hazard=form.hazard.data or None,
        exercise=form.exercise.data,
        actor=_actor(),
    )
    flash(_("Event opened: %(name)s", name=event["name"]), "success")
    return redirect(url_for("bulletins_web.event_page", event_id=event["id"]))


def _event_page(event_id: int, schedule_form=None, issue_form=None, status: int = 200):
    session = db()
    try:
        event = service.get_event(session, event_id)
        schedules = service.list_schedules(session, event_id, current_app.config["TIMEZONE"])
        bulletins = service.list_bulletins(session, event_id)
    except service.EventNotFound:
        abort(404)
    actor = _actor()
    is_open = event.closed_at is None
    return render_template(
        "bulletins/event.html",
        event=service.event_dict(event),
        schedules=schedules,
        bulletins=bulletins,
        schedule_form=(schedule_form or ScheduleForm())
        if is_open and is_allowed(actor, "bulletins.schedule")
        else None,
        issue_form=(issue_form or IssueForm())
        if is_open and is_allowed(actor, "bulletins.issue")
        else None,
        action_form=ActionForm(),
        can_schedule=is_allowed(actor, "bulletins.schedule"),
        labels=TRIGGER_LABELS,
        delivery_labels=DELIVERY_LABELS,
        waiting_job=_waiting_job(),
    ), status


def _waiting_job() -> int | None:
    """The issuing job the page waits for (``?job=N`` after 今すぐ発行), when it is still
    queued or running; bulletins.js reloads the page when it is done."""
    from flask import request

    from disaster_ai.storage.models import Job

    raw = request.args.get("job", "")
    if not raw.isdigit() or len(raw) > 12:
        return None
    job = db().get(Job, int(raw))
    if job is None or job.kind != service.ISSUE_JOB or job.state not in ("queued", "running"):
        return None
    return job.id


@bp.get("/events/<int:event_id>")
@requires("bulletins.view")
def event_page(event_id: int):
    return _event_page(event_id)


@bp.post("/events/<int:event_id>/close")
@requires("bulletins.schedule")
def close_event(event_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        event = service.close_event(_app(), event_id, actor=_actor())
    except service.EventNotFound:
        abort(404)
    except service.EventClosed:
        flash(_("This disaster event is closed."), "error")
        return redirect(url_for("bulletins_web.event_page", event_id=event_id))
    flash(_("Event closed: %(name)s", name=event["name"]), "success")
    return redirect(url_for("bulletins_web.event_page", event_id=event_id))


@bp.post("/events/<int:event_id>/schedules")
@requires("bulletins.schedule")
def add_schedule(event_id: int):
    form = ScheduleForm()
    if not form.validate_on_submit():
        return _event_page(event_id, schedule_form=form, status=422)
    try:
        service.add_schedule(
            _app(),
            event_id,
            kind=form.kind.data,
            cron=form.cron.data,
            interval_minutes=form.interval_minutes.data,
            actor=_actor(),
        )
    except InvalidSchedule as exc:
        field = form.cron if exc.field == "cron" else form.interval_minutes
        field.errors = [*field.errors, exc.message]
        return _event_page(event_id, schedule_form=form, status=422)
    except service.EventNotFound:
        abort(404)
    except service.EventClosed:
        flash(_("This disaster event is closed."), "error")
        return redirect(url_for("bulletins_web.event_page", event_id=event_id))
    flash(_("Schedule added."), "success")
    return redirect(url_for("bulletins_web.event_page", event_id=event_id))


@bp.post("/schedules/<int:schedule_id>/toggle")
@requires("bulletins.schedule")
def toggle_schedule(schedule_id: int):
    from disaster_ai.apps.bulletins.models import BulletinSchedule

    if not ActionForm().validate_on_submit():
        abort(400)
    schedule = db().get(BulletinSchedule, schedule_id)
    if schedule is None:
        abort(404)
    event_id, active = schedule.event_id, schedule.active
    db().rollback()
    try:
        service.set_schedule_active(_app(), schedule_id, not active, actor=_actor())
    except service.EventClosed:
        flash(_("This disaster event is closed."), "error")
    else:
        flash(_("Schedule paused.") if active else _("Schedule resumed."), "success")
    return redirect(url_for("bulletins_web.event_page", event_id=event_id))


@bp.post("/events/<int:event_id>/issue")
@requires("bulletins.issue")
def issue_now(event_id: int):
    from disaster_ai.jobs import enqueue

    form = IssueForm()
    if not form.validate_on_submit():
        return _event_page(event_id, issue_form=form, status=422)
    try:
        service.get_open_event(db(), event_id)
    except service.EventNotFound:
        abort(404)
    except service.EventClosed:
        flash(_("This disaster event is closed."), "error")
        return redirect(url_for("bulletins_web.event_page", event_id=event_id))
    try:
        service.require_municipality(db())
    except service.NoMunicipality as exc:
        flash(str(exc), "error")
        return redirect(url_for("bulletins_web.event_page", event_id=event_id))
    job_id = enqueue(
        service.ISSUE_JOB, {"event_id": event_id, "remark": form.remark.data or ""}, actor=_actor()
    )
    flash(
        _(
            "The bulletin is being issued (job %(job)s). This page updates by itself when it is "
            "ready.",
            job=job_id,
        ),
        "success",
    )
    return redirect(url_for("bulletins_web.event_page", event_id=event_id, job=job_id))


@bp.get("/<int:bulletin_id>")
@requires("bulletins.view")
def bulletin_page(bulletin_id: int):
    session = db()
    try:
        bulletin = service.get_bulletin(session, bulletin_id)
    except service.BulletinNotFound:
        abort(404)
    deliveries = [service.delivery_dict(d) for d in service.deliveries_of(session, bulletin_id)]
    document = render.render_html(
        bulletin.snapshot,
        bulletin.map_png,
        standalone=False,
        map_url=url_for("bulletins_api.bulletin_map", bulletin_id=bulletin_id),
    )
    return render_template(
        "bulletins/bulletin.html",
        bulletin=service.bulletin_dict(bulletin),
        event=bulletin.snapshot["event"],
        document=document,
        deliveries=deliveries,
        action_form=ActionForm(),
        can_issue=is_allowed(_actor(), "bulletins.issue"),
        labels=TRIGGER_LABELS,
        delivery_labels=DELIVERY_LABELS,
    )


@bp.post("/deliveries/<int:delivery_id>/retry")
@requires("bulletins.issue")
def retry_delivery(delivery_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        delivery = service.retry_delivery(_app(), delivery_id, actor=_actor())
    except service.BulletinNotFound:
        abort(404)
    except service.InvalidInput:
        flash(_("This delivery has already succeeded."), "error")
        return redirect(url_for("bulletins_web.index"))
    from disaster_ai.apps.bulletins.models import BulletinDelivery

    bulletin_id = db().get(BulletinDelivery, delivery["id"]).bulletin_id
    flash(_("Delivery queued again."), "success")
    return redirect(url_for("bulletins_web.bulletin_page", bulletin_id=bulletin_id))
