"""AI governance for the municipality's AI統括責任者 (CAIO). Registered as a core plugin.

Module map (api → service → model, STYLE.md §5):
  hookspecs.py   dai_ai_components (the model inventory), dai_ai_risk_sheets (one sheet per feature)
  models.py      hosts allowed per data class, cached weight digests, AI incident reports
  inventory.py   the inventory: components from every plugin, sha256 of the weight files (lazy, cached)
  risk.py        risk sheets (TOML, the four DS-920 viewpoints), features without a sheet, Markdown
  usage.py       monthly usage per app/role/model from the audit log; the AI audit CSV export
  policy.py      data classes in the egress policy (dai_egress_allows), hosts marked by an admin
  incidents.py   AI incident reports linked to audit entries
  web.py         /apps/governance pages; the usage chart on the admin usage page
  cli.py         ``disaster-ai ai inventory|risk-sheets|usage|audit-export``
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from disaster_ai import hookimpl
from disaster_ai.types import AppSpec, JobHandler, PermissionSpec

ADMIN = frozenset({"admin"})
DESK = frozenset({"operator", "approver", "admin"})


@hookimpl
def dai_register_apps():
    return [AppSpec("governance", _l("AI governance"), "governance_web.index", "admin", order=90)]


@hookimpl
def dai_register_permissions():
    return [
        PermissionSpec("governance.view", ADMIN, "read the AI inventory, risk sheets and usage"),
        PermissionSpec("governance.hosts", ADMIN, "allow outside hosts to receive personal data"),
        PermissionSpec("governance.incidents", DESK, "record and read AI incident reports"),
    ]


@hookimpl
def dai_register_blueprints():
    from disaster_ai.apps.governance import web

    return [web.bp]


@hookimpl
def dai_register_commands(cli):
    from disaster_ai.apps.governance.cli import ai_group

    cli.add_command(ai_group)


@hookimpl
def dai_job_handlers():
    from disaster_ai.apps.governance import inventory

    return [
        JobHandler(
            inventory.HASH_JOB,
            inventory.hash_job,
            max_attempts=1,
            timeout_seconds=3600,
            title=_l("Compute the checksums of the AI weight files"),
        )
    ]


@hookimpl
def dai_egress_allows(request):
    from flask import current_app

    from disaster_ai.apps.governance.policy import egress_allows

    return egress_allows(current_app, request)


@hookimpl
def dai_extra_template_vars(template, request):
    """The monthly usage chart on the admin usage page (``admin_usage_panels``)."""
    if template != "web.admin_usage":
        return None
    from disaster_ai.apps.governance.web import usage_panel

    return {"admin_usage_panels": [usage_panel()]}


@hookimpl
def dai_add_hookspecs(pm):
    """This app's own hooks exist only while the app is loaded."""
    from disaster_ai.apps.governance import hookspecs

    pm.add_hookspecs(hookspecs)


@hookimpl
def dai_models():
    return ["disaster_ai.apps.governance.models"]


@hookimpl
def dai_migrations():
    from pathlib import Path

    from disaster_ai.types import MigrationSource

    folder = Path(__file__).resolve().parent / "migrations"
    return [MigrationSource("governance", str(folder))]
