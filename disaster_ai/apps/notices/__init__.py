"""Evacuation-notice drafting (避難情報). Registered as a core plugin.

Module map (api → service modules → model, STYLE.md §5), one responsibility each:
  facts.py       the fixed vocabulary (levels, names, action phrases), the hazard registry
                 (dai_notice_hazards) and NoticeFacts
  models.py      the notices table (editions chained by supersedes/chain_id)
  base.py        the app's name, config and NoticeError
  reference.py   the reference layers (districts, shelters, zones), municipality, CAP area rings
  scenario.py    a scenario and its validation; hazard words
  shelters.py    which shelters a notice names (suggested or chosen by the operator)
  drafting.py    scenario → NoticeFacts → every channel, guard report, CAP lint
  in_force.py    what is in force per chain and per district: the one source for every surface
  workflow.py    draft → submitted → approved → issued / cancelled, audited
  polish.py      the ``notices.polish`` job (AI polish of a saved draft)
  renderers/     radio, areamail, web, english, easy_ja (Jinja2 templates), cap (CAP 1.2 + XSD)
  guard.py       the fact guard over any text (AI output or manual edit)
  llm.py         optional AI polish behind the guard (dai_llm_client)
  api.py         /api/v1/notices…
  web.py         /apps/notices desk pages
  cli.py         ``disaster-ai notices draft|list|check-templates``
"""

from flask_babel import lazy_gettext as _l

from disaster_ai import hookimpl
from disaster_ai.types import AppSpec, JobHandler, PermissionSpec

DESK = frozenset({"operator", "approver", "admin"})


@hookimpl
def dai_register_apps():
    return [AppSpec("notices", _l("Evacuation notices"), "notices_web.index", "operator", order=20)]


@hookimpl
def dai_register_permissions():
    return [
        PermissionSpec("notices.draft", DESK, "draft and submit evacuation notices"),
        PermissionSpec(
            "notices.approve",
            frozenset({"approver"}),
            "approve and issue notices drafted by someone else",
        ),
    ]


@hookimpl
def dai_register_blueprints():
    from disaster_ai.apps.notices import api, printing, web

    return [api.bp, web.bp, printing.bp]


@hookimpl
def dai_register_commands(cli):
    from disaster_ai.apps.notices.cli import notices_group

    cli.add_command(notices_group)


@hookimpl
def dai_job_handlers():
    from disaster_ai.apps.notices import polish

    # a local model takes ~15 s per channel; a retry polishes the same draft again, and a
    # draft changed meanwhile is left alone (its fingerprint)
    return [
        JobHandler(
            polish.POLISH_JOB,
            polish.polish_job,
            max_attempts=2,
            timeout_seconds=900,
            title=_l("AI polish of a notice draft"),
        )
    ]


@hookimpl(trylast=True)
def dai_llm_client(purpose):
    from flask import current_app

    from disaster_ai.apps.notices.llm import default_client

    return default_client(current_app.config, purpose)


@hookimpl
def dai_notices_in_force(at):
    from disaster_ai.apps.notices.in_force import notices_in_force

    return notices_in_force(at)


@hookimpl(trylast=True)
def dai_notice_hazards():
    """The five built-in hazards (洪水, 内水氾濫, 土砂災害, 高潮, 津波); a plugin's definition with
    the same code replaces one, and plugins add others."""
    from disaster_ai.apps.notices.facts import BUILTIN_HAZARDS

    return list(BUILTIN_HAZARDS)


@hookimpl
def dai_hazards():
    """The hazards that plugins add for notices only (``dai_notice_hazards``), so that the one
    hazard registry (``disaster_ai.hazards``) names them on the map and in bulletins too. The
    registry's built-in hazards keep their words."""
    from disaster_ai import hazards as registry
    from disaster_ai.apps.notices.facts import hazards
    from disaster_ai.types import Hazard

    return [
        Hazard(h.code, h.ja, h.en[:1].upper() + h.en[1:], order=h.order + 1000)
        for h in hazards().values()
        if h.code not in registry.BY_CODE
    ]


@hookimpl(trylast=True)
def dai_notice_suggest(session, suggestion, actor):
    """The suggestion inbox (提案) behind ``desk.notices.suggest``."""
    from disaster_ai.apps.notices.suggestions import suggest

    return suggest(session, suggestion, actor)


@hookimpl(trylast=True)
def dai_notice_outdate(session, outdated, actor):
    """Mark a suggestion (提案) outdated, behind ``desk.notices.outdate``."""
    from disaster_ai.apps.notices.suggestions import outdate

    return outdate(session, outdated, actor)


@hookimpl
def dai_add_hookspecs(pm):
    """This app's own hooks exist only while the app is loaded."""
    from disaster_ai.apps.notices import hookspecs

    pm.add_hookspecs(hookspecs)


@hookimpl
def dai_dashboard_panels(actor):
    """The suggestion inbox (提案): suggested notices waiting for the desk."""
    from disaster_ai.apps.notices.suggestions import dashboard_panels

    return dashboard_panels(actor)


@hookimpl
def dai_models():
    return ["disaster_ai.apps.notices.models"]


@hookimpl
def dai_migrations():
    from pathlib import Path

    from disaster_ai.types import MigrationSource

    folder = Path(__file__).resolve().parent / "migrations"
    return [MigrationSource("notices", str(folder), after=())]


@hookimpl
def dai_notifications(event):
    """The desk's live notifications about this app's events (alerts.py)."""
    from disaster_ai.apps.notices.alerts import notifications_for

    return notifications_for(event)


@hookimpl
def dai_ai_components(app):
    """This app's AI components for the governance inventory."""
    from disaster_ai.apps.notices import ai_inventory

    return ai_inventory.components(app)


@hookimpl
def dai_ai_risk_sheets():
    from disaster_ai.apps.notices import ai_inventory

    return ai_inventory.risk_sheets()


@hookimpl
def dai_audit_actions():
    """The audit actions this app records, as the audit page names them."""
    return {
        "notices.draft": _l("Notice drafted"),
        "notices.submit": _l("Notice submitted for approval"),
        "notices.approve": _l("Notice approved"),
        "notices.issue": _l("Notice issued"),
        "notices.cancel": _l("Notice cancelled or withdrawn"),
        "notices.reapproval_needed": _l("Notice needs approval again"),
        "notices.confirm_unopened_shelters": _l("Notice confirmed with shelters not yet open"),
        "notices.polish_request": _l("AI polish requested"),
        "notices.polish": _l("AI polish of a notice"),
        "notices.polish_skipped": _l("AI polish skipped"),
        "notices.suggest": _l("Notice suggested (提案)"),
        "notices.suggestion_outdated": _l("Suggestion (提案) outdated"),
    }
