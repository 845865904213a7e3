"""Variables every desk template gets: the actor, the navigation, the locale."""

from __future__ import annotations

import logging

from flask import current_app, request, url_for
from flask_babel import get_locale
from werkzeug.routing import BuildError

from disaster_ai import levels
from disaster_ai.auth import current_actor, is_allowed
from disaster_ai.plugins import safe_collect
from disaster_ai.types import MenuItem

log = logging.getLogger(__name__)

ROLE_ORDER = {"operator": 0, "approver": 1, "admin": 2}


def navigation(actor) -> list[MenuItem]:
    if actor is None:
        return []
    pm = current_app.extensions["disaster_ai"]
    items = []
    for spec in safe_collect(pm, "dai_register_apps"):
        if not spec.endpoint or not actor.has_role(spec.required_role):
            continue
        try:
            items.append(MenuItem(str(spec.title), url_for(spec.endpoint), spec.order))
        except BuildError:  # a plugin naming a page it never mounted must not break every page
            log.error(
                "app %s names unknown endpoint %s; left out of the navigation",
                spec.id,
                spec.endpoint,
            )
    items += safe_collect(pm, "dai_desk_menu_items", actor=actor, request=request)
    return sorted(items, key=lambda item: item.order)


def municipality_name(app=None) -> str:
    """``MUNICIPALITY_NAME``, else the municipality profile's name, else ""."""
    from sqlalchemy.exc import SQLAlchemyError

    from disaster_ai.municipality import profile
    from disaster_ai.storage import get_storage, session_scope

    app = app or current_app
    if app.config["MUNICIPALITY_NAME"]:
        return app.config["MUNICIPALITY_NAME"]
    try:
        with session_scope(get_storage(app)) as session:
            row = profile.current(session)
            return (row.name if row is not None else "") or ""
    except SQLAlchemyError:  # not migrated yet: the login page must still render
        return ""


def font_warning() -> str | None:
    """Said on every desk page when maps and PDFs cannot show Japanese (disaster_ai/fonts.py)."""
    from disaster_ai.fonts import missing_message

    return missing_message()


def template_context() -> dict:
    actor = current_actor()
    pm = current_app.extensions["disaster_ai"]
    extra = {}
    template = request.endpoint or ""
    found = safe_collect(pm, "dai_extra_template_vars", template=template, request=request)
    for values in reversed(found):  # the implementation pluggy calls first wins a shared key
        if isinstance(values, dict):
            extra.update(values)
    return {
        "actor": actor,
        "nav_items": navigation(actor),
        "locale": str(get_locale()),
        "municipality_name": municipality_name(),
        "can": lambda action: is_allowed(actor, action),
        "font_warning": font_warning() if actor is not None else None,
        # the level badges' colours, from the one registry (disaster_ai.levels)
        "level_badge_css": levels.badge_css(),
        **extra,
    }
