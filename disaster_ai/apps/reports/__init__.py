"""Damage reports to the prefecture (消防庁 第4号様式 その1 災害概況即報 / その2 被害状況即報)
and evacuee counts per shelter. Registered as a core plugin; it uses only what an outside plugin
could: hooks, storage, ``auth.requires``, jobs, and the public functions of the bulletins
(events, delivery) and situation (shelter status) apps.

Module map (api → service → model, STYLE.md §5):
  data/items.toml  the form's items (path, unit, kind, sums, auto items) and incident proposals
  items.py         the item catalogue: the data file + REPORT_ITEMS_FILES + dai_report_items
  models.py        tally versions, proposals, reports (第N報), deliveries, shelter evacuee history
  tally.py         set / read / history of an event's tally (values or 未確認, source, who, when)
  proposals.py     incidents propose increments; accept, edit or reject
  shelters.py      open/close and evacuees per shelter (through the situation app's status)
  service.py       issuing 第N報 from a frozen snapshot, the 30-minute countdown, deliveries
  render.py        PDF (その1/その2), CSV, XLSX, text, HTML, JSON from the snapshot only
  sections.py      the 被害状況 bulletin's sections (dai_bulletin_sections)
  api.py           /api/v1/reports/…
  web.py           /apps/reports desk pages (tally, proposals, reports, shelters on a phone)
  cli.py           ``disaster-ai reports items|tally|issue|export|list|proposals|shelter``
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from disaster_ai import hookimpl
from disaster_ai.types import AppSpec, JobHandler, PermissionSpec

DESK = frozenset({"operator", "approver", "admin"})


@hookimpl
def dai_register_apps():
    return [
        AppSpec("reports", _l("Damage reports"), "reports_web.index", "operator", order=45),
        AppSpec(
            "reports_shelters", _l("Evacuees"), "reports_web.shelters_page", "operator", order=46
        ),
    ]


@hookimpl
def dai_register_permissions():
    return [
        PermissionSpec("reports.view", DESK, "read damage tallies and reports"),
        PermissionSpec("reports.edit", DESK, "enter tally figures and decide proposals"),
        PermissionSpec("reports.issue", DESK, "issue a damage report (第N報)"),
        PermissionSpec("reports.shelters", DESK, "open/close shelters and record evacuees"),
    ]


@hookimpl
def dai_register_blueprints():
    from disaster_ai.apps.reports import api, web

    return [api.bp, web.bp]


@hookimpl
def dai_register_commands(cli):
    from disaster_ai.apps.reports.cli import reports_group

    cli.add_command(reports_group)


@hookimpl
def dai_job_handlers():
    from disaster_ai.apps.reports import service

    return [
        JobHandler(
            service.DELIVER_JOB,
            service.deliver_job,
            max_attempts=50,  # REPORT_DELIVERY_MAX_ATTEMPTS decides when it gives up
            timeout_seconds=120,
            title=_l("Deliver a damage report"),
        )
    ]


@hookimpl
def dai_startup(app):
    """Fail fast on a broken item file (REPORT_ITEMS_FILES) or settings."""
    from disaster_ai.apps.reports.items import catalogue_for

    minutes = app.config.get("REPORT_FIRST_DEADLINE_MINUTES")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
        raise ValueError("REPORT_FIRST_DEADLINE_MINUTES must be a positive whole number")
    with app.app_context():
        catalogue_for(app)


@hookimpl
def dai_bulletin_sections(context):
    from disaster_ai.apps.reports.sections import bulletin_sections

    return bulletin_sections(context)


@hookimpl
def dai_add_hookspecs(pm):
    """This app's own hooks exist only while the app is loaded."""
    from disaster_ai.apps.reports import hookspecs

    pm.add_hookspecs(hookspecs)


@hookimpl
def dai_models():
    return ["disaster_ai.apps.reports.models"]


@hookimpl
def dai_migrations():
    from pathlib import Path

    from disaster_ai.types import MigrationSource

    folder = Path(__file__).resolve().parent / "migrations"
    return [MigrationSource("reports", str(folder), after=("bulletins",))]


@hookimpl
def dai_audit_actions():
    """The audit actions this app records, as the audit page names them."""
    return {
        "reports.issue": _l("Damage report issued"),
        "reports.delivered": _l("Damage report delivered"),
        "reports.delivery_failed": _l("Damage report delivery failed"),
        "reports.tally_set": _l("Damage tally changed"),
        "reports.shelter_evacuees": _l("Shelter evacuees recorded"),
    }
