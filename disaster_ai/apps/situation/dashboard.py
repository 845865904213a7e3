"""The situation app's dashboard panels (``dai_dashboard_panels``): the incident feed and the
notices in force. The dashboard page itself belongs to the core, which knows no app."""

from __future__ import annotations

from flask import current_app, url_for

from disaster_ai import hazards, levels
from disaster_ai.auth import is_allowed
from disaster_ai.plugins import safe_collect
from disaster_ai.storage.base import JST, now
from disaster_ai.storage.engine import db
from disaster_ai.types import DashboardPanel
from disaster_ai.web import levels as web_levels

FEED_FIRST = 10  # incidents on a fresh dashboard
FEED_BATCH = 50  # new incidents per poll at most (the next poll brings the rest)
FEED_KEYS = (
    "id",
    "category",
    "category_label",
    "life_threat",
    "status",
    "status_label",
    "district_name",
    "place_name",
    "people",
    "occurred_at",
)


def panels(actor, since_id: int | None) -> list[DashboardPanel]:
    out = []
    if actor is not None and is_allowed(actor, "situation.view"):
        out.append(DashboardPanel("incidents", incidents_panel(actor, since_id)))
    out.append(DashboardPanel("notices", notices_panel()))
    return out


def incidents_panel(actor, since_id: int | None) -> dict:
    """The newest incidents (no since_id), or those recorded after since_id, oldest first."""
    from disaster_ai.apps.situation import incidents as service
    from disaster_ai.apps.situation.models import Incident

    session = db()
    query = service.visible_incidents()
    if since_id is None:
        rows = list(session.scalars(query.order_by(Incident.id.desc()).limit(FEED_FIRST)))[::-1]
    else:
        query = query.where(Incident.id > since_id).order_by(Incident.id)
        rows = list(session.scalars(query.limit(FEED_BATCH)))
    index = service.district_index(session)
    items = []
    for row in rows:
        item = service.incident_dict(row, index)
        local = row.occurred_at.astimezone(JST)
        items.append(
            {key: item[key] for key in FEED_KEYS}
            | {
                "time": local.strftime("%H:%M"),
                "day": local.strftime("%Y-%m-%d"),
                "url": url_for("situation_incidents_web.detail_page", incident_id=row.id),
            }
        )
    return {
        "available": True,
        "items": items,
        "last_id": max([row.id for row in rows] + [since_id or 0]),
        "list_url": url_for("situation_incidents_web.list_page"),
        "new_url": url_for("situation_incidents_web.new_page")
        if is_allowed(actor, "situation.edit")
        else None,
    }


def notices_panel() -> dict:
    """Notices in force from ``dai_notices_in_force``; unavailable when nothing implements it."""
    pm = current_app.extensions["disaster_ai"]
    if not pm.hook.dai_notices_in_force.get_hookimpls():
        return {"available": False}
    items = []
    for entry in safe_collect(pm, "dai_notices_in_force", at=now()):
        if not isinstance(entry, dict):
            continue
        try:
            level = int(entry.get("level") or 0)
        except (TypeError, ValueError):
            level = 0
        hazard = str(entry.get("hazard") or "")
        items.append(
            {
                "level": level,
                "name": str(entry.get("name") or levels.names("ja").get(level, "")),
                # the badge in the reader's language (「警戒レベル4 避難指示」, "Alert level 4 …")
                "label": web_levels.level_text(level, entry.get("name")),
                "district_key": str(entry.get("district_key") or ""),
                "district_name": str(entry.get("district_name") or entry.get("district_key") or ""),
                "hazard": hazard,
                "hazard_label": hazards.label(hazard),
                "issued_at": str(entry.get("issued_at") or ""),
                # shelters the notice sends people to that are not open: shown while it lasts
                "closed_shelters": [str(s) for s in entry.get("closed_shelters") or []],
            }
        )
    items.sort(key=lambda n: (-n["level"], n["district_name"]))
    return {"available": True, "items": items}
