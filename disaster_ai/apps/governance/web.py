"""Desk pages of the AI governance app (admin; AI incidents for every desk role).

- ``GET  /apps/governance``                    the model inventory
- ``POST /apps/governance/inventory/hash``     queue the checksums of the weight files
- ``GET  /apps/governance/inventory.json``     the inventory as JSON
- ``GET  /apps/governance/risk``               the risk sheets side by side; flags
- ``GET  /apps/governance/risk.md|risk.pdf``   the sheets for the municipality's rules
- ``GET  /apps/governance/usage``              monthly usage (chart and table)
- ``GET  /apps/governance/audit.csv``          AI audit entries of a date range (ids only)
- ``GET|POST /apps/governance/hosts``          outside hosts allowed personal/confidential data
- ``POST /apps/governance/hosts/<id>/revoke``  withdraw such a marking
- ``GET  /apps/governance/incidents``          AI incident reports; ``/new``, ``/<id>``,
  ``/<id>/edit``, ``/<id>.pdf`` (printable)
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from disaster_ai.apps.governance import incidents, inventory, policy, risk, usage
from disaster_ai.auth import current_actor, is_allowed, requires
from disaster_ai.storage.base import JST, now
from disaster_ai.storage.engine import db

bp = Blueprint(
    "governance_web", __name__, url_prefix="/apps/governance", template_folder="templates"
)

DATA_CLASS_LABELS = {
    "public": _l("Public"),
    "personal": _l("Personal (calls)"),
    "confidential": _l("Confidential"),
}
MEASURE_LABELS = {
    "calls": _l("AI calls"),
    "accepted": _l("Accepted by staff"),
    "guard_rejected": _l("Rejected by the guard"),
    "corrected": _l("Corrected by staff"),
}
SEVERITY_LABELS = {"low": _l("Low"), "medium": _l("Medium"), "high": _l("High")}
STATUS_LABELS = {"open": _l("Being handled"), "closed": _l("Handled")}
POLICY_PROBLEMS = {
    "invalid_host": _l("Give a host name such as ai.example.lg.jp."),
    "invalid_class": _l("Choose personal or confidential."),
    "reason_required": _l("Give the reason (the contract or decision that allows it)."),
    "already_allowed": _l("This host is already allowed to receive this class."),
    "not_found": _l("This marking no longer exists."),
}
INCIDENT_PROBLEMS = {
    "required": _l("Required."),
    "too_long": _l("Too long."),
    "invalid": _l("Not valid."),
    "not_a_number": _l("Give audit entry numbers separated by spaces or commas."),
    "too_many": _l("Too many audit entries."),
    "unknown": _l("An audit entry with this number does not exist."),
}


def _locale() -> str:
    return str(get_locale() or "ja")


def _labels() -> dict:
    return {
        "data_class_labels": DATA_CLASS_LABELS,
        "measure_labels": MEASURE_LABELS,
        "severity_labels": SEVERITY_LABELS,
        "status_labels": STATUS_LABELS,
    }


def _app():
    from flask import current_app

    return current_app._get_current_object()


@bp.get("")
@requires("governance.view")
def index():
    from disaster_ai.apps.governance.inventory import HASH_JOB

    rows = inventory.inventory(_app())
    return render_template(
        "governance/inventory.html",
        rows=rows,
        missing=[r["id"] for r in rows if r["weights"] and r["digest"] is None],
        hash_job=HASH_JOB,
        **_labels(),
    )


@bp.post("/inventory/hash")
@requires("governance.view")
def hash_weights():
    from disaster_ai.jobs import enqueue

    enqueue(inventory.HASH_JOB, {}, actor=current_actor())
    flash(_("The checksums are being computed: reload the page in a moment."))
    return redirect(url_for(".index"))


@bp.get("/inventory.json")
@requires("governance.view")
def inventory_json():
    return {"components": inventory.inventory(_app())}


@bp.get("/risk")
@requires("governance.view")
def risk_page():
    return render_template(
        "governance/risk.html",
        data=risk.overview(_app()),
        viewpoints=risk.VIEWPOINTS,
        locale=_locale(),
        **_labels(),
    )


@bp.get("/risk.md")
@requires("governance.view")
def risk_markdown():
    return Response(
        risk.markdown(_app(), _locale()),
        mimetype="text/markdown",
        headers={"Content-Disposition": 'attachment; filename="ai-risk-sheets.md"'},
    )


@bp.get("/risk.pdf")
@requires("governance.view")
def risk_pdf():
    from disaster_ai.pdf import html_to_pdf

    html = render_template(
        "governance/risk_print.html",
        data=risk.overview(_app()),
        viewpoints=risk.VIEWPOINTS,
        locale=_locale(),
        printed_at=now(),
    )
    return Response(
        html_to_pdf(html),
        mimetype="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="ai-risk-sheets.pdf"'},
    )


def _usage_context() -> dict:
    rows = usage.monthly_usage(db())
    return {"usage_rows": rows, "chart": usage.chart(rows), "measures": usage.MEASURES}


def usage_panel() -> Markup:
    """The chart and the CSV form, as a panel of the admin usage page. Rendered straight from
    the Jinja environment: render_template would run the context processors, which ask
    dai_extra_template_vars again for the same page."""
    from flask import current_app

    template = current_app.jinja_env.get_template("governance/_usage_panel.html")
    return Markup(template.render(**_usage_context(), **_labels(), **_export_days()))


def _export_days() -> dict:
    today = now().astimezone(JST).date()
    return {"default_since": (today - timedelta(days=30)).isoformat(), "default_until": today}


@bp.get("/usage")
@requires("governance.view")
def usage_page():
    return render_template(
        "governance/usage.html", **_usage_context(), **_labels(), **_export_days()
    )


@bp.get("/audit.csv")
@requires("governance.view")
def audit_csv():
    try:
        since = usage.parse_day(request.args.get("since"))
        until = usage.parse_day(request.args.get("until"))
    except ValueError:
        return {"error": {"code": "invalid", "message": _("Give the days as YYYY-MM-DD.")}}, 400
    today = now().astimezone(JST).date()
    until = until or today
    since = since or until - timedelta(days=30)
    if since > until:
        return {
            "error": {"code": "invalid", "message": _("The first day is after the last day.")}
        }, 400
    body = usage.export_csv(db(), since, until)
    name = f"ai-audit-{since.isoformat()}-{until.isoformat()}.csv"
    return Response(
        "\ufeff" + body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- hosts allowed per data class ------------------------------------------------------------


def _hosts_page(error: str | None = None, form=None, status: int = 200):
    return (
        render_template(
            "governance/hosts.html",
            markings=policy.host_markings(db()),
            markable=policy.MARKABLE,
            error=error,
            form=form or {},
            **_labels(),
        ),
        status,
    )


@bp.get("/hosts")
@requires("governance.hosts")
def hosts():
    return _hosts_page()


@bp.post("/hosts")
@requires("governance.hosts")
def mark_host():
    session = db()
    try:
        policy.mark_host(
            session,
            request.form.get("host", ""),
            request.form.get("data_class", ""),
            request.form.get("reason", ""),
            current_actor(),
        )
        session.commit()
    except policy.PolicyError as exc:
        session.rollback()
        return _hosts_page(str(POLICY_PROBLEMS[exc.code]), request.form, 422)
    flash(_("Allowed: the marking is recorded in the audit log."))
    return redirect(url_for(".hosts"))


@bp.post("/hosts/<int:marking_id>/revoke")
@requires("governance.hosts")
def revoke_host(marking_id: int):
    session = db()
    try:
        policy.unmark_host(session, marking_id, current_actor())
        session.commit()
    except policy.PolicyError:
        session.rollback()
        abort(404)
    flash(_("Withdrawn: the host receives public data only."))
    return redirect(url_for(".hosts"))


# --- AI incident reports ---------------------------------------------------------------------


def _features() -> list[str]:
    return [row["feature"] for row in risk.overview(_app())["features"]]


@bp.get("/incidents")
@requires("governance.incidents")
def incident_list():
    return render_template(
        "governance/incidents.html", incidents=incidents.list_incidents(db()), **_labels()
    )


def _form_page(incident=None, form=None, errors=None, status=200):
    return (
        render_template(
            "governance/incident_form.html",
            incident=incident,
            form=form or {},
            errors={k: str(INCIDENT_PROBLEMS.get(v, v)) for k, v in (errors or {}).items()},
            features=_features(),
            **_labels(),
        ),
        status,
    )


def _form_of(incident) -> dict:
    return {
        "title": incident.title,
        "occurred_at": incident.occurred_at.astimezone(JST).strftime("%Y-%m-%dT%H:%M"),
        "feature": incident.feature,
        "severity": incident.severity,
        "status": incident.status,
        "what_happened": incident.what_happened,
        "output": incident.output,
        "impact": incident.impact,
        "action_taken": incident.action_taken,
        "audit_ids": " ".join(str(i) for i in incident.audit_ids or []),
    }


@bp.get("/incidents/new")
@requires("governance.incidents")
def incident_new():
    form = {"audit_ids": request.args.get("audit_ids", ""), "severity": "medium"}
    return _form_page(form=form)


@bp.post("/incidents/new")
@requires("governance.incidents")
def incident_create():
    session = db()
    try:
        incident = incidents.create(session, request.form.to_dict(), current_actor())
        session.commit()
    except incidents.IncidentError as exc:
        session.rollback()
        return _form_page(form=request.form, errors=exc.fields, status=422)
    flash(_("AI incident recorded."))
    return redirect(url_for(".incident_page", incident_id=incident.id))


def _incident_or_404(incident_id: int):
    try:
        return incidents.get(db(), incident_id)
    except LookupError:
        abort(404)


@bp.get("/incidents/<int:incident_id>")
@requires("governance.incidents")
def incident_page(incident_id: int):
    incident = _incident_or_404(incident_id)
    return render_template(
        "governance/incident.html",
        incident=incident,
        entries=incidents.linked_entries(db(), incident),
        can_edit=is_allowed(current_actor(), "governance.incidents"),
        printable=False,
        **_labels(),
    )


@bp.get("/incidents/<int:incident_id>.pdf")
@requires("governance.incidents")
def incident_pdf(incident_id: int):
    from disaster_ai.pdf import html_to_pdf

    incident = _incident_or_404(incident_id)
    html = render_template(
        "governance/incident_print.html",
        incident=incident,
        entries=incidents.linked_entries(db(), incident),
        printed_at=now(),
        **_labels(),
    )
    return Response(
        html_to_pdf(html),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="ai-incident-{incident.id}.pdf"'},
    )


@bp.get("/incidents/<int:incident_id>/edit")
@requires("governance.incidents")
def incident_edit(incident_id: int):
    incident = _incident_or_404(incident_id)
    return _form_page(incident, _form_of(incident))


@bp.post("/incidents/<int:incident_id>/edit")
@requires("governance.incidents")
def incident_update(incident_id: int):
    incident = _incident_or_404(incident_id)
    session = db()
    try:
        incidents.update(session, incident.id, request.form.to_dict(), current_actor())
        session.commit()
    except incidents.IncidentError as exc:
        session.rollback()
        return _form_page(incident, request.form, exc.fields, 422)
    flash(_("AI incident updated."))
    return redirect(url_for(".incident_page", incident_id=incident_id))
