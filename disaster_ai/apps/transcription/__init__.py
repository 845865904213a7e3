"""Call-recording transcription. Registered as a core plugin; engines, upload and fact
extraction arrive with the transcription issue."""

from flask_babel import lazy_gettext as _l

from disaster_ai import hookimpl
from disaster_ai.types import AppSpec, PermissionSpec

DESK = frozenset({"operator", "approver", "admin"})


@hookimpl
def dai_register_apps():
    return [AppSpec("calls", _l("Calls"), None, "operator", order=30)]


@hookimpl
def dai_register_permissions():
    return [PermissionSpec("calls.upload", DESK, "upload and transcribe call recordings")]
