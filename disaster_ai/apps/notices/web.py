"""Desk pages of the notices app (Japanese first; every UI string through flask_babel).

- ``GET  /apps/notices``                   the drafting form and the notices (history)
- ``POST /apps/notices/preview``           every channel side by side, the shelters, the guard
- ``POST /apps/notices/preview.json``      the same as JSON, for the form's live preview (CSRF)
- ``POST /apps/notices/save``              save the previewed scenario as a draft
- ``GET  /apps/notices/<id>``              one notice: texts, guard, workflow buttons, CAP
- ``POST /apps/notices/<id>/polish``       queue the AI polish of a draft (a job), back to the page
- ``POST /apps/notices/<id>/<step>``       submit | approve | issue | cancel

Views call the service modules (drafting, workflow, in_force…) only. The notice texts come from the Japanese templates, not gettext.

The form works without JavaScript (the district list, the preview button). The desk script
``notice_form.js`` adds the district picker on the map, the live preview of every channel and
the copy buttons; its strings come from the template, translated.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
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

from disaster_ai.apps.notices import base, drafting, reference, workflow
from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices import in_force as chains
from disaster_ai.apps.notices import polish as ai_polish
from disaster_ai.auth import current_actor, is_allowed, requires
from disaster_ai.storage.engine import db

bp = Blueprint("notices_web", __name__, url_prefix="/apps/notices", template_folder="templates")


def _district_choices():
    try:
        layers = reference.reference_layers(db())
    except base.NoticeError:
        return []
    return list(zip(layers.districts["key"], layers.districts["name"], strict=True))


# The form's controls, as the error summary names them (the service's ``field`` codes).
FIELD_LABELS = {
    "hazard": _l("Hazard"),
    "action": _l("Action"),
    "level": _l("Level"),
    "districts": _l("Districts"),
    "reason": _l("Reason"),
    "shelters": _l("Shelters"),
    "issued_at": _l("Issued at (Japan time)"),
    "exercise": _l("Exercise (訓練)"),
}
# A notice's workflow states (models.STATUSES), as the desk names them.
STATUS_LABELS = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted for approval"),
    "approved": _l("Approved"),
    "issued": _l("Issued to the public"),
    "superseded": _l("Superseded by a newer edition"),
    "cancelled": _l("Cancelled"),
}
NOT_A_TIME = _l("Write the time as YYYY-MM-DD HH:MM.")


def _status_label(status: str) -> str:
    label = STATUS_LABELS.get(status)
    return str(label) if label is not None else status


def _form_values(form) -> dict:
    """What the operator typed, as typed (the page fills the form again from it)."""
    seen: list[str] = []
    for value in form.getlist("shelters"):
        value = value.strip()
        if value and value not in seen:
            seen.append(value)
    return {
        "hazard": form.get("hazard", ""),
        "action": form.get("action", f.ISSUE),
        "level": form.get("level", ""),
        "districts": form.getlist("districts"),
        "reason": form.get("reason", ""),
        "shelters": seen,
        "shelters_suggested": [s for s in form.getlist("shelters_suggested") if s],
        "shelters_reset": form.get("shelters_reset") == "y",
        "issued_at": form.get("issued_at", "").strip(),
        "exercise": form.get("exercise") == "y",
        "supersedes": form.get("supersedes") or None,
    }


def _issued_at(text: str) -> str | None:
    """``<input type=datetime-local>`` (Japan time, as the incidents form reads it) → ISO 8601
    with ``+09:00``; empty → None (the service uses now)."""
    import unicodedata
    from datetime import datetime

    from disaster_ai.storage.base import JST

    text = unicodedata.normalize("NFKC", text or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise base.NoticeError(422, "invalid_time", str(NOT_A_TIME), "issued_at") from None
    moment = moment.replace(tzinfo=JST) if moment.tzinfo is None else moment
    return moment.astimezone(JST).isoformat()


def _chosen_shelters(values: dict) -> list[str] | None:
    """The operator's shelters, or None to let the app suggest: nothing ticked, the reset
    asked for, or exactly the app's last suggestion ticked (then the suggestion follows the
    districts and the hazard)."""
    chosen = values["shelters"]
    if values["shelters_reset"] or not chosen:
        return None
    suggested = values["shelters_suggested"]
    if suggested and set(chosen) == set(suggested):
        return None
    return chosen


def _scenario(values: dict) -> dict:
    """The service's scenario from the form's values (NoticeError on a bad time)."""
    return {
        "hazard": values["hazard"],
        "action": values["action"] or f.ISSUE,
        "level": values["level"],
        "districts": values["districts"],
        "reason": values["reason"],
        "shelters": _chosen_shelters(values),
        "issued_at": _issued_at(values["issued_at"]),
        "exercise": values["exercise"],
        "supersedes": values["supersedes"],
    }


def _fingerprint(values: dict, result: dict) -> str:
    """What a preview showed: the typed scenario and the shelters it named. Save compares it
    with what it would store, so it stores exactly what was previewed."""
    import hashlib
    import json

    shown = {
        key: values[key]
        for key in ("hazard", "action", "level", "reason", "issued_at", "exercise", "supersedes")
    }
    shown["districts"] = sorted(values["districts"])
    shown["shelters"] = [s["key"] for s in result.get("shelters") or []]
    raw = json.dumps(shown, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _layer_shelters() -> list[tuple[str, str]]:
    try:
        layers = reference.reference_layers(db())
    except base.NoticeError:
        return []
    frame = layers.shelters
    if frame is None or not len(frame):
        return []
    return sorted(
        zip((str(k) for k in frame["key"]), (str(n) for n in frame["name"]), strict=True),
        key=lambda item: item[1],
    )


def _shelter_choice(values: dict, result: dict | None) -> dict | None:
    """The shelters fieldset (after a preview): the shelters the notice names, ticked; the app's
    unticked suggestions; any other shelter of the layer to add. None before a preview."""
    if result is None and not values["shelters"] and not values["shelters_suggested"]:
        return None
    everything = _layer_shelters()
    names = dict(everything)
    items: list[dict] = []
    if result is not None:
        shown = result.get("shelters") or []
        operator = any(s.get("chosen_by") == "operator" for s in shown)
        suggested = values["shelters_suggested"] if operator else [s["key"] for s in shown]
        for s in shown:
            items.append({"key": s["key"], "name": s["name"], "checked": True, "why": s["why"]})
    else:  # refused: everything the operator ticked stays ticked, known or not
        suggested = values["shelters_suggested"]
        for key in values["shelters"]:
            items.append({"key": key, "name": names.get(key, key), "checked": True, "why": ""})
    listed = {item["key"] for item in items}
    for key in suggested:
        if key not in listed:
            items.append(
                {
                    "key": key,
                    "name": names.get(key, key),
                    "checked": False,
                    "why": _("Suggested by the app"),
                }
            )
            listed.add(key)
    return {
        "items": items,
        "others": [(k, n) for k, n in everything if k not in listed],
        "suggested": suggested,
        "fingerprint": _fingerprint(values, result) if result is not None else "",
    }


def _warning_text(code: str) -> str:
    kind, _sep, subject = code.partition(":")
    if kind == "no_shelter_for_hazard":
        return _(
            "No shelter is designated for this hazard: the notice gives the fallback (a nearby safe place or a higher floor indoors)."
        )
    if kind == "no_usable_shelter_for_hazard":
        return _(
            "No designated shelter outside the hazard zone is available: the notice gives the fallback."
        )
    if kind == "shelter_must_open":
        return _("%(name)s is not open yet: open it before issuing.", name=subject)
    if kind == "shelter_not_designated":
        return _("%(name)s is not designated for this hazard.", name=subject)
    if kind == "shelter_in_zone":
        return _("%(name)s lies inside the hazard zone.", name=subject)
    if kind == "no_reading":
        return _(
            "%(name)s has no kana reading: the English text keeps the Japanese name.", name=subject
        )
    return code


# The fact guard's rules (guard.RULES) and the polished channels, as the desk names them.
RULE_LABELS = {
    "level": _l("Alert level and its name"),
    "districts": _l("District names"),
    "shelters": _l("Shelters named"),
    "time": _l("Time stated"),
    "hazard": _l("Hazard word"),
    "action": _l("Action phrase"),
    "issue_lift": _l("Issue or lift"),
    "forbidden": _l("Discontinued terms"),
    "exercise": _l("Exercise mark"),
    "issuer": _l("Issuing municipality"),
    "length": _l("Length limit"),
}
CHANNEL_LABELS = {
    "radio": _l("Radio script"),
    "mail_title": _l("Emergency area mail (title)"),
    "mail_body": _l("Emergency area mail (body)"),
    "web_long": _l("Web"),
    "web_short": _l("SNS"),
    "en": _l("English"),
    "easy_ja": _l("Easy Japanese"),
    "cap": _l("CAP 1.2"),
}


def _rule_label(rule: str) -> str:
    label = RULE_LABELS.get(rule)
    return str(label) if label is not None else rule


def _channel_label(channel: str) -> str:
    label = CHANNEL_LABELS.get(channel)
    return str(label) if label is not None else channel


def _district_history(notices: list[dict]) -> list[dict]:
    """Per district: the notice in force there now (the highest level) and the issued and
    cancelled notices that named it, newest first (from the notices listed on the page)."""
    from disaster_ai.storage.base import now
    from disaster_ai.web import levels

    in_force = levels.highest_by_district(chains.in_force_entries(db(), now()))
    rows: dict[str, dict] = {}
    for notice in notices:
        if notice["status"] not in ("issued", "cancelled"):
            continue
        for district in notice["districts"]:
            row = rows.setdefault(
                district["key"], {"key": district["key"], "name": district["name"], "notices": []}
            )
            row["notices"].append(notice)
    for key, row in rows.items():
        current = in_force.get(key)
        row["in_force"] = (
            {
                "id": current["notice_id"],
                "level": current["level"],
                "label": levels.level_label(
                    current["level"], current["name"], current["hazard_name"]
                ),
                "colours": levels.LEVEL_COLOURS[current["level"]],
            }
            if current is not None
            else None
        )
    return sorted(rows.values(), key=lambda r: (-(r["in_force"] or {}).get("level", 0), r["name"]))


def _field_label(field: str | None) -> str | None:
    label = FIELD_LABELS.get(field or "")
    return str(label) if label is not None else None


def _error_summary(exc: base.NoticeError) -> str:
    """The line at the top of the form: the field by its label (the message is beside it)."""
    label = _field_label(exc.field)
    if label is None:
        return _("The notice could not be drafted: %(message)s", message=exc.message)
    return _("The notice could not be drafted: check %(field)s.", field=label)


def _page(values: dict | None = None, result: dict | None = None, **context):
    from disaster_ai.web import levels

    values = values or {}
    context.setdefault("error", None)
    notices = [workflow.notice_json(n, full=False) for n in workflow.list_notices(db(), limit=100)]
    error = context["error"]
    return render_template(
        "notices/index.html",
        scenario=values,
        result=result,
        shelter_choice=_shelter_choice(values, result) if values else None,
        field_error=error.field if error is not None and _field_label(error.field) else None,
        error_summary=_error_summary(error) if error is not None else "",
        hazards=[(code, words[0]) for code, words in f.HAZARDS.items()],
        levels=f.LEVEL_NAMES,
        reasons=f.REASONS,
        district_choices=_district_choices(),
        notices=notices,
        district_history=_district_history(notices),
        level_legend=levels.legend(),
        map_url=url_for("situation_web.map_data", layers="hazard_zones,districts")
        if "situation_web" in current_app.blueprints
        and is_allowed(current_actor(), "situation.view")
        else None,
        warning_text=_warning_text,
        rule_label=_rule_label,
        channel_label=_channel_label,
        status_label=_status_label,
        **context,
    )


@bp.get("")
@requires("notices.draft")
def index():
    return _page()


@bp.post("/preview")
@requires("notices.draft")
def preview():
    values = _form_values(request.form)
    try:
        result = drafting.draft(db(), _scenario(values))
    except base.NoticeError as exc:
        return _page(values, error=exc), 422
    return _page(values, result)


@bp.post("/preview.json")
@requires("notices.draft")
def preview_json():
    """The live preview: the form's fields in, every channel, the shelters (and the shelters
    fieldset, rendered here like the page's), the warnings (as text in the desk language) and
    the guard report out; 422 with the field, its label and the message on a bad scenario."""
    values = _form_values(request.form)
    try:
        result = drafting.draft(db(), _scenario(values))
    except base.NoticeError as exc:
        return jsonify(
            {
                "ok": False,
                "error": {
                    "field": exc.field,
                    "field_label": _field_label(exc.field),
                    "message": exc.message,
                    "summary": _error_summary(exc),
                },
            }
        ), 422
    result = dict(result)
    result["warnings_text"] = [_warning_text(code) for code in result.get("warnings") or []]
    result["districts"] = [d["name"] for d in result["scenario"]["districts"]]
    result["guard"] = _labelled(result["guard"])
    choice = _shelter_choice(values, result)
    result["fingerprint"] = choice["fingerprint"]
    result["shelters_html"] = render_template("notices/_shelters.html", choice=choice)
    return jsonify({"ok": True, "result": result})


def _labelled(report: dict) -> dict:
    """The guard report with each finding's channel and rule named in the desk language."""

    def label(item: dict) -> dict:
        return dict(
            item,
            channel_label=_channel_label(item["channel"]),
            rule_label=_rule_label(item["rule"]),
        )

    return dict(
        report,
        violations=[label(v) for v in report.get("violations", [])],
        warnings=[label(w) for w in report.get("warnings", [])],
    )


@bp.post("/save")
@requires("notices.draft")
def save():
    """Save the previewed scenario. The form carries the preview's fingerprint: when what would
    be stored differs from what was previewed (the form changed since, or the suggested
    shelters did), nothing is saved and the page shows the new preview to check."""
    values = _form_values(request.form)
    session = db()
    try:
        scenario = _scenario(values)
        previewed = request.form.get("preview_fingerprint")
        if previewed is not None:
            result = drafting.draft(session, scenario)
            if previewed != _fingerprint(values, result):
                return _page(values, result, preview_changed=True), 409
        notice = workflow.save_draft(session, scenario, current_actor())
        session.commit()
    except base.NoticeError as exc:
        session.rollback()
        return _page(values, error=exc), 422
    flash(_("Draft saved."))
    return redirect(url_for("notices_web.show", notice_id=notice.id))


@bp.get("/<int:notice_id>")
@requires("notices.draft")
def show(notice_id: int):
    try:
        notice = workflow.get_notice(db(), notice_id)
    except base.NoticeError:
        abort(404)
    actor = current_actor()
    approver = is_allowed(actor, "notices.approve")
    jobs = ai_polish.polish_jobs(db(), notice.id, limit=50)
    return render_template(
        "notices/notice.html",
        notice=workflow.notice_json(notice),
        can_polish=notice.status == "draft"
        and is_allowed(actor, "notices.draft")
        and ai_polish.polish_available(),
        polish_job=jobs[0] if jobs else None,
        polish_running=bool(jobs) and jobs[0].state in ai_polish.ACTIVE_JOB_STATES,
        polish_message=ai_polish.polish_job_message(jobs[0]) if jobs else "",
        polish_report=(notice.guard or {}).get("polish"),
        rule_label=_rule_label,
        channel_label=_channel_label,
        status_label=_status_label,
        can_approve=approver
        and notice.created_by != actor.username
        and notice.status == "submitted",
        can_issue=approver and notice.status == "approved",
        can_submit=notice.status == "draft",
        can_cancel=notice.status in ("draft", "submitted")
        or (approver and notice.status in ("approved", "issued")),
        own=notice.created_by == actor.username,
    )


@bp.post("/<int:notice_id>/polish")
@requires("notices.draft")
def polish(notice_id: int):
    """Queue the AI polish of a draft; the page then shows the job's progress and report."""
    session = db()
    try:
        _job, created = ai_polish.request_polish(session, notice_id, current_actor())
        session.commit()
    except base.NoticeError as exc:
        session.rollback()
        if exc.status == 404:
            abort(404)
        flash(_("Not done: %(message)s", message=exc.message))
    else:
        flash(
            _("AI polish requested: the texts are checked by the fact guard when it is done.")
            if created
            else _("AI polish is already running for this draft.")
        )
    return redirect(url_for("notices_web.show", notice_id=notice_id))


STEPS = {
    "submit": ("notices.draft", workflow.submit),
    "approve": ("notices.approve", workflow.approve),
    "issue": ("notices.approve", workflow.issue),
    "cancel": ("notices.draft", workflow.cancel),
}


@bp.post("/<int:notice_id>/<step>")
@requires("notices.draft")
def step(notice_id: int, step: str):
    if step not in STEPS:
        abort(404)
    action, func = STEPS[step]
    actor = current_actor()
    if not is_allowed(actor, action):
        abort(403)
    session = db()
    args = [request.form.getlist("acknowledge")] if step == "approve" else []
    try:
        if step == "cancel":
            notice = workflow.get_notice(session, notice_id)
            if notice.status in ("approved", "issued") and not is_allowed(actor, "notices.approve"):
                abort(403)
        func(session, notice_id, actor, *args)
        session.commit()
    except base.NoticeError as exc:
        session.rollback()
        flash(_("Not done: %(message)s", message=exc.message))
    return redirect(url_for("notices_web.show", notice_id=notice_id))
