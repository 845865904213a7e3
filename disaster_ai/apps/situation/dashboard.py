"""The situation app's dashboard panels (``dai_dashboard_panels``): the notices in force (which
also shade the map's districts) and the incident feed (kept live by its own script,
``static/dashboard_incidents.js``). The dashboard page itself belongs to the core, which knows
no app: each panel brings its template (``templates/situation/dashboard_*.html``)."""

from __future__ import annotations

from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

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
    notices = notices_panel()
    if notices is not None:
        out.append(
            DashboardPanel(
                "notices",
                notices,
                title=_l("Notices in force"),
                order=10,
                template="situation/dashboard_notices.html",
            )
        )
    if actor is not None and is_allowed(actor, "situation.view"):
        out.append(
            DashboardPanel(
                "incidents",
                incidents_panel(actor, since_id),
                title=_l("Incident feed"),
                order=20,
                template="situation/dashboard_incidents.html",
                # new incidents are added to the list (a live log), never the list redrawn
                script=url_for("situation_web.static", filename="dashboard_incidents.js"),
            )
        )
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


def notices_panel() -> dict | None:
    """Notices in force from ``dai_notices_in_force`` (None, no panel, when nothing implements
    it), with ``district_levels``: the highest level in force per district, for the map."""
    pm = current_app.extensions["disaster_ai"]
    if not pm.hook.dai_notices_in_force.get_hookimpls():
        return None
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
    return {"available": True, "items": items, "district_levels": district_levels(items)}


def district_levels(items: list[dict]) -> dict[str, dict]:
    """``{district_key: {level, label}}``: the highest level in force in each district, labelled
    「警戒レベル4 避難指示 (内水氾濫)」 (the map's tooltip; the number and the name, never the colour
    alone)."""
    out: dict[str, dict] = {}
    for n in items:
        key, level = n["district_key"], n["level"]
        if not key or level not in levels.LEVELS:
            continue
        if key in out and out[key]["level"] >= level:
            continue
        head = f"{_('Alert level %(level)s', level=level)} {n['name']}"
        label = f"{head} ({n['hazard_label']})" if n["hazard_label"] else head
        out[key] = {"level": level, "label": label}
    return out
