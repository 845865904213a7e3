"""Core default providers: authentication, permissions, error handling, health checks, the
municipality outline layer and sample loading. Every firstresult default is ``trylast`` so a
municipality plugin can override it by implementing the same hook."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from disaster_ai import hookimpl
from disaster_ai.apps.providers import errors, health, sample
from disaster_ai.apps.providers.identity import actor_from_request
from disaster_ai.types import AppSpec, LayerSource, PermissionSpec

ALL = frozenset({"operator", "approver", "admin"})
ADMIN = frozenset({"admin"})


@hookimpl(trylast=True)
def dai_actor_from_request(request):
    return actor_from_request(request)


@hookimpl(trylast=True)
def dai_permission_allowed(actor, action, resource):
    from flask import current_app

    spec = current_app.extensions["disaster_ai.permissions"].get(action)
    if spec is None:
        return False  # an action nobody declared is denied, never silently allowed
    return any(actor.has_role(role) for role in spec.roles)


@hookimpl
def dai_register_permissions():
    return [
        PermissionSpec("desk.view", ALL, "open the desk and read the situation"),
        PermissionSpec("tokens.manage", ALL, "create and revoke one's own API tokens"),
        PermissionSpec("jobs.view", ALL, "see the job queue"),
        PermissionSpec("jobs.retry", ALL, "queue a failed job again"),
        PermissionSpec("admin.users", ADMIN, "manage users and roles"),
        PermissionSpec("admin.audit", ADMIN, "read the audit log and usage"),
        PermissionSpec("admin.plugins", ADMIN, "see plugins and their status"),
    ]


@hookimpl
def dai_register_commands(cli):
    from disaster_ai.audit_chain import register_commands

    register_commands(cli)


@hookimpl
def dai_register_apps():
    return [
        AppSpec("dashboard", _l("Dashboard"), "web.dashboard", "operator", order=0),
        AppSpec("admin", _l("Admin"), "web.admin_users", "admin", order=900),
    ]


@hookimpl(trylast=True)
def dai_handle_exception(request, exception):
    return errors.handle(request, exception)


@hookimpl
def dai_health_checks(app):
    return health.core_checks(app)


@hookimpl
def dai_map_layers(bbox):
    outline = sample.municipality_outline()
    if outline is None:
        return []
    return [
        LayerSource(
            "municipality",
            str(_l("Municipal boundary")),
            outline,
            {"color": "#1f2937", "weight": 3, "fill": False},
        )
    ]


@hookimpl
def dai_load_sample(context):
    return sample.load_municipality(context)


@hookimpl(trylast=True)
def dai_notifications(event):
    """A job that gave up reaches the admins and whoever queued it (an app that owns the job
    kind may say more, under the same key, and wins)."""
    from disaster_ai import events
    from disaster_ai.types import Notification

    if not isinstance(event, events.JobFailed):
        return []
    return [
        Notification(
            key=f"job:{event.id}",
            title=_l("Job #%(id)s failed (%(kind)s)", id=event.id, kind=event.kind),
            body=event.error[:200],
            endpoint="api_core.get_job",
            values={"job_id": event.id},
            roles=("admin",),
            users=(event.created_by,) if event.created_by not in ("", "system") else (),
            severity="urgent",
        )
    ]
