"""Scheduled situation bulletins (被害状況 第N報). Registered as a core plugin.

Module map (api → service → model, STYLE.md §5):
  models.py      disaster events, schedules, bulletins (UNIQUE (event, number) and slot_key), deliveries
  types.py       the hook payloads (BulletinContext, BulletinSection, BulletinPayload, DeliveryChannel, DeliveryResult)
  snapshot.py    the frozen snapshot: situation digest + map, notices in force, plugin sections
  render.py      HTML (Jinja2), text, JSON and PDF (WeasyPrint) from a snapshot only
  schedules.py   APScheduler triggers from schedule rows, and the ``bulletins.tick`` job
  service.py     events, schedules, issuing with numbering, listing, job handlers
  delivery.py    the ``bulletins.deliver`` job; SMTP e-mail and webhook POST providers
  api.py         /api/v1/events…, /api/v1/bulletins/<id>.<fmt>
  web.py         /apps/bulletins desk pages
  cli.py         ``disaster-ai bulletins issue|list|export|tick|events``
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from disaster_ai import hookimpl
from disaster_ai.types import AppSpec, JobHandler, JobSpec, PermissionSpec

DESK = frozenset({"operator", "approver", "admin"})
# A cap for the job runner; BULLETIN_DELIVERY_MAX_ATTEMPTS decides when a delivery gives up.
DELIVERY_JOB_ATTEMPTS = 50


@hookimpl
def dai_register_apps():
    return [AppSpec("bulletins", _l("Bulletins"), "bulletins_web.index", "operator", order=40)]


@hookimpl
def dai_register_permissions():
    return [
        PermissionSpec("bulletins.view", DESK, "read bulletins, events and schedules"),
        PermissionSpec("bulletins.issue", DESK, "issue a bulletin now"),
        PermissionSpec(
            "bulletins.schedule", frozenset({"admin"}), "close events and set schedules"
        ),
        # The roles actually allowed come from BULLETIN_EVENT_OPEN_ROLES (dai_permission_allowed).
        PermissionSpec("bulletins.event_open", DESK, "open a disaster event (覚知)"),
    ]


@hookimpl
def dai_permission_allowed(actor, action, resource):
    """``bulletins.event_open``: the roles in BULLETIN_EVENT_OPEN_ROLES (a setting, by default
    every desk role: the desk opens the event the moment the disaster becomes known). Every
    other action is left to the next implementation."""
    if action != "bulletins.event_open":
        return None
    from flask import current_app

    roles = current_app.config.get("BULLETIN_EVENT_OPEN_ROLES") or ["admin"]
    return any(actor.has_role(role) for role in roles)


@hookimpl
def dai_register_blueprints():
    from disaster_ai.apps.bulletins import api, web

    return [api.bp, web.bp]


@hookimpl
def dai_register_commands(cli):
    from disaster_ai.apps.bulletins.cli import bulletins_group

    cli.add_command(bulletins_group)


@hookimpl
def dai_job_handlers():
    from disaster_ai.apps.bulletins import service

    return [
        JobHandler(
            service.ISSUE_JOB,
            service.issue_job,
            max_attempts=3,
            timeout_seconds=300,
            title=_l("Issue a bulletin"),
        ),
        JobHandler(
            service.DELIVER_JOB,
            service.deliver_job,
            max_attempts=DELIVERY_JOB_ATTEMPTS,
            timeout_seconds=120,
            title=_l("Deliver a bulletin"),
        ),
    ]


@hookimpl
def dai_register_jobs(config):
    from apscheduler.triggers.interval import IntervalTrigger

    from disaster_ai.apps.bulletins.schedules import TICK_JOB_ID, run_tick

    seconds = int(config["BULLETIN_TICK_SECONDS"])
    # A missed tick is simply run late: the tick itself catches up missed slots.
    return [
        JobSpec(TICK_JOB_ID, IntervalTrigger(seconds=seconds), run_tick, misfire_grace_time=300)
    ]


@hookimpl(trylast=True)
def dai_deliver_bulletin(bulletin, channel):
    from disaster_ai.apps.bulletins.delivery import default_deliver

    return default_deliver(bulletin, channel)


@hookimpl(trylast=True)
def dai_desk_part(name):
    """The facade's disaster events (``desk.disasters``)."""
    if name != "disasters":
        return None
    from disaster_ai.apps.bulletins.desk_parts import DisastersPart

    return DisastersPart()


@hookimpl
def dai_add_hookspecs(pm):
    """This app's own hooks exist only while the app is loaded."""
    from disaster_ai.apps.bulletins import hookspecs

    pm.add_hookspecs(hookspecs)


@hookimpl
def dai_dashboard_panels(actor):
    """The latest bulletin."""
    from disaster_ai.apps.bulletins import dashboard

    return dashboard.panels(actor)


@hookimpl
def dai_models():
    return ["disaster_ai.apps.bulletins.models"]


@hookimpl
def dai_migrations():
    from pathlib import Path

    from disaster_ai.types import MigrationSource

    folder = Path(__file__).resolve().parent / "migrations"
    return [MigrationSource("bulletins", str(folder), after=())]


@hookimpl
def dai_notifications(event):
    """The desk's live notifications about this app's events (alerts.py)."""
    from disaster_ai.apps.bulletins.alerts import notifications_for

    return notifications_for(event)


@hookimpl
def dai_audit_actions():
    """The audit actions this app records, as the audit page names them."""
    return {
        "bulletins.issue": _l("Bulletin issued"),
        "bulletins.delivered": _l("Bulletin delivered"),
        "bulletins.delivery_failed": _l("Bulletin delivery failed"),
        "bulletins.delivery_retry": _l("Bulletin delivery retried"),
        "bulletins.event_open": _l("Disaster event opened"),
        "bulletins.event_close": _l("Disaster event closed"),
        "bulletins.schedule_add": _l("Bulletin schedule added"),
        "bulletins.schedule_pause": _l("Bulletin schedule paused"),
        "bulletins.schedule_resume": _l("Bulletin schedule resumed"),
        "bulletins.section_failed": _l("Bulletin section failed"),
        "bulletins.slots_skipped": _l("Missed bulletin times skipped"),
    }
