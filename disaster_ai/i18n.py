"""Language selection: the user's saved locale, then the session's choice, then Japanese."""

from __future__ import annotations

from flask import current_app, g, request, session
from flask_babel import lazy_gettext

_l = lazy_gettext


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang") if request else None
    if chosen in languages:
        session["lang"] = chosen
        return chosen
    actor = g.get("actor")
    if session.get("lang") in languages:
        return session["lang"]
    if actor is not None and actor.locale in languages:
        return actor.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]
