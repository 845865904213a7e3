"""Desk pages of the transcription app (Japanese first; every string through flask_babel).

- ``GET  /apps/calls``                 recent calls and the upload form (several files)
- ``POST /apps/calls/upload``          store the files and queue their jobs (from calls.js with
                                       upload progress: JSON ``{"redirect": url}`` instead of a
                                       redirect, so the flash message survives for that page)
- ``GET  /apps/calls/<id>``            audio player, transcript (click a segment to seek; words
                                       below LOW_CONFIDENCE_WORD highlighted), facts, progress
- ``POST /apps/calls/<id>/confirm``    confirm or correct the facts → confirmed incident; a
                                       button per place candidate (``pick_place``) confirms
                                       with that place in one click
- ``POST /apps/calls/<id>/proposals/<n>``  make the n-th further incident of the call an
                                       unverified incident of its own
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional

from disaster_ai.apps.transcription import STAGE_LABELS, service
from disaster_ai.apps.transcription.facts import CATEGORIES
from disaster_ai.auth import current_actor, is_allowed, requires
from disaster_ai.storage.engine import db

bp = Blueprint(
    "calls_web",
    __name__,
    url_prefix="/apps/calls",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

STATUS_LABELS = {
    # TRANSLATORS: state of a call recording (待機中)
    "queued": _l("Queued"),
    # TRANSLATORS: state of a call recording (文字起こし中)
    "transcribing": _l("Transcribing"),
    # TRANSLATORS: state of a call recording (完了)
    "done": _l("Transcribed"),
    # TRANSLATORS: state of a call recording (失敗)
    "failed": _l("Failed"),
    # TRANSLATORS: state of a call recording (保存期間満了で削除済み)
    "purged": _l("Deleted after retention"),
}


LIFE_LABELS = {
    # TRANSLATORS: life threat flag of a call (生命の危険: あり)
    "yes": _l("Yes"),
    # TRANSLATORS: life threat flag of a call when a cue is uncertain (要確認)
    "check": _l("To be checked"),
    # TRANSLATORS: life threat flag of a call (なし)
    "no": _l("No"),
}


class UploadForm(FlaskForm):
    files = MultipleFileField(_l("Call recordings"))


class ConfirmForm(FlaskForm):
    place_name = StringField(_l("Place"), validators=[Optional(), Length(max=255)])
    category = SelectField(_l("Category"))
    life_threat = BooleanField(_l("Life threat"))
    vulnerable = BooleanField(_l("Vulnerable person involved"))
    people = IntegerField(_l("People"), validators=[Optional(), NumberRange(min=0, max=100000)])


def _category_choices():
    from disaster_ai import categories

    labels = categories.Labels()
    return [(c, labels.get(c, c)) for c in CATEGORIES]


@bp.get("")
@requires("calls.view")
def index():
    calls = [service.call_dict(c) for c in service.list_calls(db())]
    form = UploadForm() if is_allowed(current_actor(), "calls.upload") else None
    return render_template("calls/index.html", calls=calls, form=form, labels=STATUS_LABELS)


@bp.post("/upload")
@requires("calls.upload")
def upload():
    form = UploadForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Reload and try again."), "error")
        return _go(url_for("calls_web.index"))
    files = request.files.getlist("files")
    uploads = [(f.filename, f.mimetype, f.stream) for f in files if f.filename]
    if not uploads:
        flash(_("Choose one or more recordings."), "error")
        return _go(url_for("calls_web.index"))
    try:
        stored = service.store_uploads(current_app._get_current_object(), uploads, current_actor())
    except service.CallError as exc:
        from disaster_ai.apps.transcription.api import refusal_message

        flash(refusal_message(exc), "error")
        return _go(url_for("calls_web.index"))
    finally:
        for upload_file in files:  # werkzeug spools big parts to temporary files
            upload_file.close()
    queued = [call for call in stored if not call["duplicate"]]
    for (name, _type, _stream), call in zip(uploads, stored, strict=True):
        if call["duplicate"]:
            flash(
                _(
                    "%(file)s is the same recording as call %(id)s: it was not stored again.",
                    file=name,
                    id=call["id"],
                ),
                "info",
            )
    if queued:
        flash(_("%(count)d recordings queued for transcription.", count=len(queued)), "success")
    if len(stored) == 1:
        return _go(url_for("calls_web.call_page", call_id=stored[0]["id"]))
    return _go(url_for("calls_web.index"))


@bp.errorhandler(RequestEntityTooLarge)
def _upload_too_large(_exc):
    """A body over the upload limit (the same one as the API's): say so on the form."""
    config = current_app.config
    flash(
        _(
            "The upload is too large: at most %(files)d files of %(size)s MB each. "
            "Nothing was stored.",
            files=config["CALL_MAX_FILES"],
            size=f"{config['CALL_MAX_BYTES'] / 1024 / 1024:g}",
        ),
        "error",
    )
    return _go(url_for("calls_web.index"))


def _go(url: str):
    """A redirect; for calls.js (which shows the upload progress) the URL as JSON, so that
    the browser, not the script, loads the page that shows the flash message."""
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return jsonify({"redirect": url})
    return redirect(url)


@bp.get("/<int:call_id>")
@requires("calls.view")
def call_page(call_id: int):
    from disaster_ai.storage.models import Job

    session = db()
    try:
        call = service.call_dict(service.get_call(session, call_id))
    except service.CallError:
        return render_template("calls/missing.html"), 404
    job = session.get(Job, call["job_id"]) if call["job_id"] else None
    form = None
    if call["status"] == "done" and is_allowed(current_actor(), "calls.confirm"):
        f = call["facts"] or {}
        form = ConfirmForm(
            place_name=(f.get("place") or {}).get("name") or "",
            category=f.get("category") or "other",
            life_threat=bool(f.get("life_threat")),
            vulnerable=bool(f.get("vulnerable")),
            people=f.get("people"),
        )
        form.category.choices = _category_choices()
    return render_template(
        "calls/call.html",
        call=call,
        job=job,
        form=form,
        proposal_form=ProposalForm() if form is not None else None,
        life_labels=LIFE_LABELS,
        labels=STATUS_LABELS,
        stages=STAGE_LABELS,
        low=current_app.config["LOW_CONFIDENCE_WORD"],
        categories=dict(_category_choices()),
        place_map=_place_map(session, call),
    )


def _place_map(session, call: dict) -> dict | None:
    """The mini-map of the call's place: the point of its incident (or the incident's
    district, outlined), with the districts around it; None while the call has no incident or
    the incident no location."""
    if not call.get("incident_id"):
        return None
    try:
        incident = service.desk().incidents.get(call["incident_id"], session=session)
    except Exception:  # no situation app: no map, the page still shows
        return None
    if incident is None:  # the incident is gone (purged)
        return None
    if incident.lat is None and not incident.district_key:
        return None
    label = incident.place_name or incident.district_key or ""
    focus = None
    if incident.lat is not None and incident.lon is not None:
        focus = url_for(
            "situation_web.map_page",
            focus=f"{incident.lat:.6f},{incident.lon:.6f}",
            zoom=16,
            label=label,
        )
    return {
        "lat": incident.lat,
        "lon": incident.lon,
        "district": incident.district_key or "",
        "label": label,
        "layers_url": url_for("situation_web.map_data", layers="districts"),
        "focus_url": focus,
    }


@bp.post("/<int:call_id>/confirm")
@requires("calls.confirm")
def confirm(call_id: int):
    form = ConfirmForm()
    form.category.choices = _category_choices()
    if not form.validate_on_submit():
        flash(_("Some fields are missing or invalid."), "error")
        return redirect(url_for("calls_web.call_page", call_id=call_id))
    picked = (request.form.get("pick_place") or "").strip()
    if picked and picked not in _candidate_names(call_id):
        flash(_("Choose one of the proposed places, or type the place."), "error")
        return redirect(url_for("calls_web.call_page", call_id=call_id))
    values = {
        "place_name": picked or form.place_name.data or None,
        "category": form.category.data,
        "life_threat": bool(form.life_threat.data),
        "vulnerable": bool(form.vulnerable.data),
        "people": form.people.data,
    }
    session = db()
    from disaster_ai.errors import ApiError

    try:
        service.confirm_call(session, call_id, values, current_actor())
        session.commit()
    except (service.CallError, ApiError) as exc:
        session.rollback()
        flash(_("Not confirmed: %(reason)s", reason=exc.message), "error")
        return redirect(url_for("calls_web.call_page", call_id=call_id))
    flash(_("The incident is confirmed."), "success")
    return redirect(url_for("calls_web.call_page", call_id=call_id))


def _candidate_names(call_id: int) -> set[str]:
    """The place candidates kept on the call (the one-click choices)."""
    try:
        call = service.get_call(db(), call_id)
    except service.CallError:
        return set()
    return {c.get("name") for c in (call.facts or {}).get("candidates") or [] if c.get("name")}


class ProposalForm(FlaskForm):
    pass


@bp.post("/<int:call_id>/proposals/<int:index>")
@requires("calls.confirm")
def create_proposal(call_id: int, index: int):
    if not ProposalForm().validate_on_submit():
        flash(_("The form expired. Reload and try again."), "error")
        return redirect(url_for("calls_web.call_page", call_id=call_id))
    session = db()
    from disaster_ai.errors import ApiError

    try:
        service.create_proposal_incident(session, call_id, index - 1, current_actor())
        session.commit()
    except (service.CallError, ApiError) as exc:
        session.rollback()
        flash(_("Not created: %(reason)s", reason=exc.message), "error")
        return redirect(url_for("calls_web.call_page", call_id=call_id))
    flash(_("The further incident is recorded (unverified)."), "success")
    return redirect(url_for("calls_web.call_page", call_id=call_id))
