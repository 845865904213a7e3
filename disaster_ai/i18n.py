"""Language selection: the session's choice, then the user's saved locale, then Japanese."""

from __future__ import annotations

import re
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


def reader_locale() -> str:
    """The language the current reader gets ("ja", "en"): the request's locale, or Japanese
    outside a request (CLI, jobs, the scheduler)."""
    if not has_request_context():
        return "ja"
    from flask_babel import get_locale

    return str(get_locale() or "ja")


def reader_reads_english() -> bool:
    return reader_locale().startswith("en")


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


VOCABULARY_CODE = re.compile(r"[a-z][a-z0-9_]{0,31}")
VOCABULARY_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def vocabulary_problems(item, *, ja_max: int, en_max: int = 60, code_min: int = 1) -> list[str]:
    """The checks every vocabulary entry (a hazard, an incident category) passes: a code of
    ``code_min``-32 of a-z, 0-9 and _ with a letter first, both words (ja, en) within their
    lengths, a #rrggbb colour. Empty: fine. Each registry adds its own checks."""
    problems = []
    code = item.code or ""
    if not VOCABULARY_CODE.fullmatch(code) or len(code) < code_min:
        problems.append(f"code {item.code!r}: use {code_min}-32 of a-z, 0-9 and _, a letter first")
    ja, en = str(item.ja or "").strip(), str(item.en or "").strip()
    if not ja or not en:
        problems.append("both words, ja and en, are needed")
    if len(ja) > ja_max or len(en) > en_max:
        problems.append(f"the words are too long (ja ≤ {ja_max}, en ≤ {en_max} characters)")
    if not VOCABULARY_COLOUR.fullmatch(item.colour or ""):
        problems.append(f"colour {item.colour!r}: write it as #rrggbb")
    return problems
