"""Evacuation-notice drafting (避難情報). Registered as a core plugin; drafting, channels, CAP
and approval arrive with the notices issue. The approver role is declared here already."""

from flask_babel import lazy_gettext as _l

from disaster_ai import hookimpl
from disaster_ai.types import AppSpec, PermissionSpec

DESK = frozenset({"operator", "approver", "admin"})


@hookimpl
def dai_register_apps():
    return [AppSpec("notices", _l("Evacuation notices"), None, "operator", order=20)]


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
