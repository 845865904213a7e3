"""Scheduled situation bulletins (被害状況 第N報). Registered as a core plugin; events,
schedules and exports arrive with the bulletins issue."""

from flask_babel import lazy_gettext as _l

from disaster_ai import hookimpl
from disaster_ai.types import AppSpec, PermissionSpec

DESK = frozenset({"operator", "approver", "admin"})


@hookimpl
def dai_register_apps():
    return [AppSpec("bulletins", _l("Bulletins"), None, "operator", order=40)]


@hookimpl
def dai_register_permissions():
    return [
        PermissionSpec("bulletins.issue", DESK, "issue a bulletin now"),
        PermissionSpec("bulletins.schedule", frozenset({"admin"}), "open events and set schedules"),
    ]
