"""Test plugin, web family: a permission, a desk page, an API endpoint and its nav entry.

Loaded through PLUGINS_DIR (blueprints and permissions are collected when the app is built)."""

from flask import Blueprint, jsonify, render_template_string
from flask_babel import lazy_gettext as _l

from disaster_ai import hookimpl
from disaster_ai.auth import requires
from disaster_ai.types import AppSpec, PermissionSpec

ui = Blueprint("tide_gauge_pages", __name__, url_prefix="/apps/tide")
api = Blueprint("tide_gauge_pages_api", __name__, url_prefix="/api/v1/tide")

LEVELS = {"焼津港": 142, "大井川港": 118}


@hookimpl
def dai_register_permissions():
    return [PermissionSpec("tide.view", frozenset({"approver"}), "read the tide gauges")]


@hookimpl
def dai_register_blueprints():
    return [ui, api]


@hookimpl
def dai_register_apps():
    return [AppSpec("tide", _l("Tide gauges"), "tide_gauge_pages.index", "approver", order=60)]


@ui.get("")
@requires("tide.view")
def index():
    return render_template_string(
        '{% extends "base.html" %}{% block content %}<h1>Tide gauges</h1>'
        "<ul>{% for name, cm in levels.items() %}<li>{{ name }}: {{ cm }} cm</li>{% endfor %}</ul>"
        "{% endblock %}",
        levels=LEVELS,
    )


@api.get("/levels")
@requires("tide.view")
def levels():
    return jsonify({"levels": LEVELS})
