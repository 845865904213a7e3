"""Language selection: the session's choice, then the user's saved locale, then Japanese."""

from __future__ import annotations

from flask import current_app, g, has_request_context, request, session
from flask_babel import lazy_gettext

_l = lazy_gettext


def select_locale() -> str:
    config = current_app.config
    if not has_request_context():
        return config["BABEL_DEFAULT_LOCALE"]  # CLI, jobs, scheduler
    languages = config["LANGUAGES"]
    chosen = request.args.get("lang")
    if chosen in languages:
        session["lang"] = chosen
        return chosen
    if session.get("lang") in languages:
        return session["lang"]
    actor = g.get("actor")
    if actor is not None and actor.locale in languages:
        return actor.locale
    return config["BABEL_DEFAULT_LOCALE"]
