"""hello_municipality: the example outside plugin for disaster-ai.

It uses only the public API (``hookimpl``, ``disaster_ai.types``, ``disaster_ai.auth.requires``
and the facade ``disaster_ai.desk``) and adds:

- a page at ``/apps/hello`` (login required) that greets the municipality,
- a navigation entry for that page,
- a small panel on the dashboard (``dai_dashboard_panels``, drawn by its own template),
- a ``disaster-ai hello [--json]`` command.

Configuration, in ``instance/config.py``::

    PLUGINS = {"hello_municipality": {"greeting": "焼津市 災害対策本部へようこそ"}}

or in the environment: ``DISASTER_AI_PLUGINS__hello_municipality__greeting='"ようこそ"'``.
``dai_startup`` checks it once the app is built; a wrong value disables this plugin with a
clear message on the admin plugins page (``/-/plugins``) and the desk keeps running.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import click
from flask import Blueprint, render_template, url_for
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from disaster_ai import hookimpl
from disaster_ai.auth import requires
from disaster_ai.desk import Desk, current_desk
from disaster_ai.types import AppSpec, DashboardPanel

__version__ = "0.1.0"

NAME = "hello_municipality"  # the key of this plugin's settings in app.config["PLUGINS"]
SETTINGS = {"greeting": str}  # every setting and its type

bp = Blueprint(NAME, __name__, url_prefix="/apps/hello", template_folder="templates")


# --- configuration -----------------------------------------------------------------------


def settings_from(desk: Desk) -> dict:
    """This plugin's settings, checked. Raises ValueError with a message meant for IT staff."""
    raw = desk.config
    where = f"PLUGINS[{NAME!r}]"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be a dict of settings, not {type(raw).__name__} ({raw!r})")
    unknown = sorted(set(raw) - set(SETTINGS))
    if unknown:
        raise ValueError(
            f"{where} has unknown settings {unknown}; known settings: {sorted(SETTINGS)}"
        )
    for key, expected in SETTINGS.items():
        if key in raw and not isinstance(raw[key], expected):
            raise ValueError(
                f"{where}[{key!r}] must be a {expected.__name__}, not "
                f"{type(raw[key]).__name__} ({raw[key]!r})"
            )
    if "greeting" in raw and not raw["greeting"].strip():
        raise ValueError(f"{where}['greeting'] must not be empty")
    return dict(raw)


def greeting_for(desk: Desk) -> dict:
    """What the page and the command show."""
    municipality = desk.municipality_name() or None  # MUNICIPALITY_NAME, else the profile's
    greeting = settings_from(desk).get("greeting")
    if not greeting and municipality:
        greeting = _("Hello from the disaster desk of %(municipality)s!", municipality=municipality)
    elif not greeting:
        greeting = _("Hello from the disaster desk!")
    return {
        "municipality": municipality,
        "greeting": greeting,
        "plugin": NAME,
        "version": __version__,
    }


# --- hooks -------------------------------------------------------------------------------


@hookimpl
def dai_startup(desk):
    settings_from(desk)  # fail fast: a wrong setting disables this plugin at startup


@hookimpl
def dai_register_blueprints():
    return [bp]


@hookimpl
def dai_register_apps():
    return [
        AppSpec("hello", _l("Hello"), endpoint=f"{NAME}.index", required_role="operator", order=500)
    ]


@hookimpl
def dai_dashboard_panels(actor):
    """A small card on the dashboard: the greeting, linking to this plugin's page."""
    if actor is None:
        return []
    data = greeting_for(current_desk(NAME)) | {"url": url_for(f"{NAME}.index")}
    return [
        DashboardPanel(
            "hello",
            data,
            title=_l("Hello"),
            order=900,  # after the desk's own panels
            template="hello_municipality/dashboard_panel.html",
        )
    ]


@hookimpl
def dai_register_commands(cli):
    cli.add_command(hello_command)


# --- web ---------------------------------------------------------------------------------


@bp.get("")
@requires("desk.view")
def index():
    return render_template("hello_municipality/hello.html", **greeting_for(current_desk(NAME)))


# --- CLI ---------------------------------------------------------------------------------


@click.command("hello", help="Greet the municipality (the example plugin hello_municipality).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@with_appcontext
def hello_command(as_json):
    data = greeting_for(current_desk(NAME))
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(data["greeting"])
