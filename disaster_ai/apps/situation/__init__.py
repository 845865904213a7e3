"""Map-based situation picture (districts, shelters, hazard zones, incidents).

Registered as a core plugin; its layers, analysis and pages arrive with the situation issue."""

from flask_babel import lazy_gettext as _l

from disaster_ai import hookimpl
from disaster_ai.types import AppSpec, PermissionSpec

DESK = frozenset({"operator", "approver", "admin"})


@hookimpl
def dai_register_apps():
    return [AppSpec("situation", _l("Situation"), None, "operator", order=10)]


@hookimpl
def dai_register_permissions():
    return [
        PermissionSpec("situation.view", DESK, "see the situation map and summaries"),
        PermissionSpec("situation.edit", DESK, "record incidents and update shelters"),
        PermissionSpec("geo.import", frozenset({"admin"}), "import geodata layers"),
    ]
