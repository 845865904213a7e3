"""Language selection: the session's choice, then the user's saved locale, then Japanese."""

from __future__ import annotations

from collections.abc import Callable, Mapping

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


class RegistryLabels(Mapping):
    """``{code: word}`` of a vocabulary registry (hazards, incident categories), read from the
    registry when used, in the current language (``locale=None``) or always in one (``"ja"``).
    Stands in for the label tables that each module used to keep."""

    def __init__(self, registry: Callable[[], Mapping], label: Callable, locale: str | None = None):
        self._registry = registry
        self._label = label
        self.locale = locale

    def __getitem__(self, code):
        if code not in self._registry():
            raise KeyError(code)
        return self._label(code, self.locale)

    def __iter__(self):
        return iter(self._registry())

    def __len__(self):
        return len(self._registry())
