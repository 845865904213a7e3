"""The words of the admin pages for audit codes: one registry of audit actions, and the apps'
names for the usage page.

- **Actions**: the core names its own (login, users, tokens, jobs, egress …) here; every app or
  plugin names the actions it records through ``dai_audit_actions`` (``{code: lazy label}``).
  The first label for a code wins (the core's, then the plugins in pluggy's order). A code
  nobody names is shown as the code itself, so a new action is never hidden.
- **Apps**: the ``app`` column of the audit log holds an app id (``notices``) or nothing (the
  core). Its name is the title of the app's ``AppSpec`` (``dai_register_apps``), matched by the
  spec's id or by the name of the plugin that registered it; else the code.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from disaster_ai.plugins import collect_by_plugin, safe_collect

CORE = "core"
CORE_TITLE = _l("Core (login, users, settings)")

# The core's own audit actions (disaster_ai/{auth,audit,egress,jobs,municipality,cli} and web).
CORE_ACTIONS = {
    "auth.login": _l("Logged in"),
    "auth.logout": _l("Logged out"),
    "auth.login_failed": _l("Login failed"),
    "user.create": _l("User created"),
    "user.update": _l("User changed"),
    "user.deactivate": _l("User deactivated"),
    "user.reactivate": _l("User reactivated"),
    "user.password_reset": _l("Password reset by an administrator"),
    "token.create": _l("API token created"),
    "token.revoke": _l("API token revoked"),
    "job.retry": _l("Job retried"),
    "job.failed": _l("Job failed"),
    "egress.call": _l("Outbound call"),
    "egress.failed": _l("Outbound call failed"),
    "egress.refused": _l("Outbound call refused"),
    "ai.call": _l("AI call"),
    "ai.review": _l("AI output reviewed"),
    "system.init": _l("Desk initialised"),
    "system.backup": _l("Backup made"),
    "system.restore": _l("Backup restored"),
    "municipality.set": _l("Municipality set"),
}


def action_labels(pm=None) -> dict[str, str]:
    """Every known action code → its label in the current language."""
    pm = pm or current_app.extensions["disaster_ai"]
    labels = {code: str(label) for code, label in CORE_ACTIONS.items()}
    for contribution in safe_collect(pm, "dai_audit_actions"):
        if not isinstance(contribution, dict):
            continue
        for code, label in contribution.items():
            labels.setdefault(str(code), str(label))
    return labels


def app_labels(pm=None) -> dict[str, str]:
    """Every known app code → its name in the current language (``core`` included)."""
    pm = pm or current_app.extensions["disaster_ai"]
    labels = {CORE: str(CORE_TITLE)}
    for plugin, spec in collect_by_plugin(pm, "dai_register_apps"):
        title = str(spec.title)
        labels.setdefault(spec.id, title)
        labels.setdefault(plugin, title)
        labels.setdefault(plugin.rsplit(".", 1)[-1], title)
    return labels


def label(labels: dict[str, str], code: str | None) -> str:
    """The label of ``code``, or the code itself when nobody named it."""
    code = code or ""
    return labels.get(code, code)
