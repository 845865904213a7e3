"""Map-based situation picture: districts, places, shelters, hazard zones and incidents.

Module map (api → service → model, STYLE.md §5):
  models.py            tables (versioned layers, shelter status, incidents)
  layers.py            store / activate / read layer versions
  importer.py          file → validated EPSG:4326 GeoDataFrame (formats, CRS, Shift_JIS, mappings;
                       the work is in importing/)
  analysis.py          vectorised geopandas analysis (pure: frames in, dataclasses/dicts out)
  summary.py           the situation document, Japanese text and static PNG map (report/)
  incidents.py         incident and shelter-status service
  api_layers.py        /api/v1/layers/<name>, layer import upload
  api_situation.py     /api/v1/situation
  api_incidents.py     /api/v1/incidents, /api/v1/shelters/<key>/status
  cli_geo.py           `disaster-ai geo import|layers|activate`
  cli_situation.py     `disaster-ai situation --json|--text|--png`
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from disaster_ai import hookimpl
from disaster_ai.types import AppSpec, PermissionSpec

DESK = frozenset({"operator", "approver", "admin"})


@hookimpl
def dai_register_apps():
    return [AppSpec("situation", _l("Situation"), "situation_web.map_page", "operator", order=10)]


@hookimpl
def dai_register_permissions():
    return [
        PermissionSpec("situation.view", DESK, "see the situation map and summaries"),
        PermissionSpec("situation.edit", DESK, "record incidents and update shelters"),
        PermissionSpec("geo.import", frozenset({"admin"}), "import geodata layers"),
        PermissionSpec("admin.municipality", frozenset({"admin"}), "set the municipality profile"),
    ]


@hookimpl
def dai_register_blueprints():
    from disaster_ai.apps.situation import (
        api_incidents,
        api_layers,
        api_situation,
        incidents_web,
        web,
    )
    from disaster_ai.municipality import web as municipality_web

    # the municipality profile page lives with the layers it frames (the situation app)
    return [
        api_layers.bp,
        api_situation.bp,
        api_incidents.bp,
        web.bp,
        incidents_web.bp,
        municipality_web.bp,
    ]


@hookimpl
def dai_map_layers(bbox):
    from disaster_ai.apps.situation import web

    return web.map_layer_sources(bbox)


@hookimpl
def dai_register_commands(cli):
    from disaster_ai.apps.situation import cli_geo, cli_situation

    cli.add_command(cli_geo.geo_group)
    cli.add_command(cli_situation.situation_command)


@hookimpl
def dai_load_sample(context):
    from disaster_ai.apps.situation import importer

    return importer.load_sample_layers(context)


@hookimpl(trylast=True)
def dai_incident_upsert(session, upsert, actor):
    """The core's incident store behind ``desk.incidents.upsert``."""
    from disaster_ai.apps.situation.upsert import upsert_incident

    return upsert_incident(session, upsert, actor)


@hookimpl(trylast=True)
def dai_desk_part(name):
    """The facade's incidents, layers and shelters (``desk.incidents.query`` …)."""
    from disaster_ai.apps.situation.desk_parts import part

    return part(name)


@hookimpl
def dai_dashboard_panels(actor, since_id):
    """The incident feed and the notices in force."""
    from disaster_ai.apps.situation import dashboard

    return dashboard.panels(actor, since_id)


@hookimpl
def dai_models():
    return ["disaster_ai.apps.situation.models"]


@hookimpl
def dai_migrations():
    from pathlib import Path

    from disaster_ai.types import MigrationSource

    folder = Path(__file__).resolve().parent / "migrations"
    return [MigrationSource("situation", str(folder), after=())]


@hookimpl
def dai_add_hookspecs(pm):
    """This app's own hooks exist only while the app is loaded."""
    from disaster_ai.apps.situation import hookspecs

    pm.add_hookspecs(hookspecs)


@hookimpl(trylast=True)
def dai_incident_categories():
    """The built-in incident categories; a plugin's category with the same code replaces one."""
    from disaster_ai.categories import BUILTIN

    return list(BUILTIN)


@hookimpl
def dai_extra_template_vars(template):
    """The map script draws each category with the registry's colour and symbol."""
    from disaster_ai.categories import map_table

    values = {"incident_categories_map": map_table()}
    # the other maps of the desk (the dashboard's card, the notice form's district picker, a
    # call's mini-map) get the same base map as the map page
    if template == "web.dashboard" or template.startswith(("notices_web.", "calls_web.")):
        from disaster_ai.apps.situation.web import tile_config

        values["map_tiles"] = tile_config()
    if template == "web.dashboard":
        values["dashboard_map"] = _dashboard_map()
    return values


def _dashboard_map() -> dict | None:
    """The dashboard's map card drawn with this app's layers (the core's dashboard names no
    app): where its data comes from, and the templates that load the map's styles and scripts.
    None for a user who may not see the situation."""
    from flask import current_app, url_for

    from disaster_ai.auth import current_actor, is_allowed

    if not is_allowed(current_actor(), "situation.view"):
        return None
    return {
        "layers_url": url_for("situation_web.map_data"),
        "live_url": url_for("situation_web.map_data", layers="incidents,shelters"),
        "refresh_seconds": current_app.config["MAP_REFRESH_SECONDS"],
        "shelters_url": url_for("situation_web.shelters_page"),
        "head_template": "situation/_map_head.html",
        "scripts_template": "situation/_map_scripts.html",
    }


@hookimpl
def dai_bulletin_situation(session, hazard, since, now, with_map):
    """The situation part of the bulletins (被害状況 第N報): digest and map (bulletin_part.py)."""
    from disaster_ai.apps.situation.bulletin_part import situation_part

    return situation_part(session, hazard, since, now, with_map=with_map)


@hookimpl
def dai_notifications(event):
    """The desk's live notifications about this app's events (alerts.py)."""
    from disaster_ai.apps.situation.alerts import notifications_for

    return notifications_for(event)


@hookimpl
def dai_search(query, actor, lang):
    """Towns (by reading too), districts, shelters and incidents for the search box."""
    from disaster_ai.apps.situation.search import results

    return results(query, lang)


@hookimpl
def dai_audit_actions():
    """The audit actions this app records, as the audit page names them."""
    return {
        "incident.create": _l("Incident recorded"),
        "incident.update": _l("Incident changed"),
        "incident.merge": _l("Incidents merged"),
        "incident.resolve": _l("Incident resolved"),
        "shelter.status": _l("Shelter status changed"),
        "geo.import": _l("Map layer imported"),
        "geo.activate": _l("Map layer made active"),
        "geo.derive": _l("Districts derived from town points"),
        "geo.shelter_hazards": _l("Shelters' hazards updated"),
    }
