"""jma: JMA 防災情報XML for the desk (a plugin on the public API only).

It reads JMA's PULL feed (or a folder that another system fills, at an LGWAN site), stores
every telegram once with its raw XML, shows the warnings in force for this municipality with
their 警戒レベル相当, and suggests notices (提案) from an editable rule table. It uses only
``hookimpl``, ``disaster_ai.types``, ``disaster_ai.auth.requires`` and the facade
``disaster_ai.desk``. Settings (instance/config.py), all optional::

    PLUGINS = {"jma": {
        "feed_url": "https://www.data.jma.go.jp/developer/xml/feed/extra.xml",
        "long_feed_url": "https://www.data.jma.go.jp/developer/xml/feed/extra_l.xml",
        "drop_folder": "/srv/jma/incoming",      # LGWAN: XML files copied in by another system
        "rules_file": "/etc/disaster-ai/jma_rules.toml",
        "stale_minutes": 4,                      # flag the feed when it has not moved for this long
        "offices": ["220000"],                   # only these offices' files (default: all)
        "area_codes": ["2221200"],               # default: from the municipality profile
    }}

docs/jma.md says how to set up an internet-connected site and an LGWAN site.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flask_babel import lazy_gettext as _l

from disaster_ai import hookimpl
from disaster_ai.types import (
    AppSpec,
    DashboardPanel,
    HealthCheck,
    JobSpec,
    MigrationSource,
    PermissionSpec,
)

__version__ = "0.1.0"

NAME = "jma"
SETTINGS = {
    "feed_url": str,
    "long_feed_url": str,
    "drop_folder": str,
    "rules_file": str,
    "stale_minutes": int,
    "offices": list,
    "area_codes": list,
}
DESK_ROLES = frozenset({"operator", "approver", "admin"})


def settings(desk) -> dict:
    """This plugin's settings, checked; ValueError with a message for IT staff otherwise."""
    raw = desk.config
    where = f"PLUGINS[{NAME!r}]"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be a dict of settings, not {type(raw).__name__}")
    unknown = sorted(set(raw) - set(SETTINGS))
    if unknown:
        raise ValueError(f"{where} has unknown settings {unknown}; known: {sorted(SETTINGS)}")
    for key, expected in SETTINGS.items():
        if key in raw and (not isinstance(raw[key], expected) or isinstance(raw[key], bool)):
            raise ValueError(f"{where}[{key!r}] must be a {expected.__name__}, not {raw[key]!r}")
    for key in ("feed_url", "long_feed_url"):
        if raw.get(key) and not raw[key].startswith(
            ("https://", "http://127.0.0.1", "http://localhost")
        ):
            raise ValueError(f"{where}[{key!r}] must be an https:// URL (JMA serves HTTPS only)")
    if raw.get("stale_minutes", 5) < 2:
        raise ValueError(f"{where}['stale_minutes'] must be 2 or more")
    if raw.get("rules_file"):
        from .store import load_rules

        load_rules(raw["rules_file"])  # a wrong rule table disables the plugin with the reason
    return dict(raw)


# --- hooks ---------------------------------------------------------------------------------


@hookimpl
def dai_startup(desk):
    settings(desk)


@hookimpl
def dai_models():
    from . import models

    return [models]


@hookimpl
def dai_migrations():
    return [MigrationSource(NAME, str(Path(__file__).resolve().parent / "migrations"))]


@hookimpl
def dai_register_permissions():
    return [PermissionSpec(f"{NAME}.view", DESK_ROLES, "see JMA warnings and telegrams")]


@hookimpl
def dai_register_blueprints():
    from . import web

    return [web.bp]


@hookimpl
def dai_register_apps():
    return [AppSpec(NAME, _l("JMA warnings"), endpoint=f"{NAME}.index", order=150)]


@hookimpl
def dai_register_commands(cli):
    from .cli import jma_group

    cli.add_command(jma_group)


@hookimpl
def dai_register_jobs(config, desk):
    conf = settings(desk)
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    from . import drop, feed

    jobs = []
    if conf.get("feed_url"):
        # JMA rewrites the high-frequency feed every minute: ask at :20 past each minute
        jobs.append(
            JobSpec(
                "poll",
                CronTrigger(second=20),
                feed.poll,
                {"url": conf["feed_url"]},
                misfire_grace_time=40,
            )
        )
    if conf.get("long_feed_url"):
        jobs.append(
            JobSpec(
                "gap_check",
                CronTrigger(minute=25, second=40),
                feed.gap_check,
                {"url": conf["long_feed_url"]},
                misfire_grace_time=600,
            )
        )
    if conf.get("drop_folder"):
        jobs.append(
            JobSpec(
                "folder",
                IntervalTrigger(seconds=30),
                drop.folder_job,
                {"folder": conf["drop_folder"]},
                misfire_grace_time=20,
            )
        )
    return jobs


@hookimpl
def dai_dashboard_panels(actor):
    """The warnings in force on the dashboard (it refreshes them with its live feed)."""
    from disaster_ai.desk import current_desk

    from .web import can_view, dashboard_items

    if not can_view(actor):
        return []
    items = dashboard_items(current_desk(NAME))
    data = {"available": True, "items": items, "empty": str(_l("No JMA warnings in force."))}
    return [DashboardPanel("jma", data, title=_l("JMA warnings (level equivalents)"), order=50)]


@hookimpl
def dai_health_checks(app):
    """One line per polled feed on /healthz, not critical (the desk works on without JMA): not
    ok while the feed is stale; its own update time goes to /metrics
    (``disaster_ai_feed_last_update_age_seconds{feed="jma.feed.extra"}``)."""
    from sqlalchemy import select

    from disaster_ai.desk import Desk

    from .models import FeedState

    with Desk(app, NAME).session() as session:
        rows = session.scalars(select(FeedState).order_by(FeedState.feed)).all()
    return [
        HealthCheck(
            f"{NAME}.feed.{row.feed}",
            not row.stale,
            f"updated {row.feed_updated.isoformat() if row.feed_updated else '-'}, "
            f"last poll {row.last_polled_at.isoformat() if row.last_polled_at else '-'} "
            f"({row.last_status or '-'})",
            critical=False,
            updated_at=row.feed_updated,
        )
        for row in rows
    ]
