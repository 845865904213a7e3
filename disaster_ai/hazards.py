"""The one registry of hazards (``dai_hazards``): code, Japanese and English words, colour.

Every app reads a hazard's words from here: the notice form and the notices' wording (through
the notices app's ``dai_notice_hazards``, whose built-in hazards take their Japanese word from
this table), the map (hazard zones, shelters' designations, the districts' notices and the
legend), the dashboard, the bulletins and the reports. The built-in hazards are the eight kinds
a 指定緊急避難場所 is designated for (災害対策基本法施行令): they come last, so a plugin's
definition with the same code replaces one. A plugin adds a hazard with ``dai_hazards``; a
hazard a plugin adds for notices only (``dai_notice_hazards``) reaches this registry through
the notices app, so it is named on the map and in bulletins too.

A definition that fails the check (code, words, colour, a retired 避難情報 name, a word that
overlaps a level's name or another hazard's word) is refused and logged; a failing
implementation is skipped. Outside an app (a pure analysis, a script) the built-ins apply.
"""

from __future__ import annotations

import logging

from disaster_ai import levels
from disaster_ai.i18n import RegistryLabels, reader_locale, vocabulary_problems
from disaster_ai.types import Hazard

log = logging.getLogger(__name__)

BUILTIN = (
    Hazard("flood", "洪水", "Flood", "#1d4ed8", 10),
    Hazard("inland_flood", "内水氾濫", "Inland flooding", "#0e7490", 20),
    Hazard("landslide", "土砂災害", "Landslide", "#92400e", 30),
    Hazard("storm_surge", "高潮", "Storm surge", "#1e3a8a", 40),
    Hazard("tsunami", "津波", "Tsunami", "#075985", 50),
    Hazard("earthquake", "地震", "Earthquake", "#7c2d12", 60),
    Hazard("large_fire", "大規模な火事", "Large fire", "#b91c1c", 70),
    Hazard("volcano", "火山現象", "Volcano", "#6b21a8", 80),
)
BUILTIN_CODES = tuple(h.code for h in BUILTIN)
BY_CODE = {h.code: h for h in BUILTIN}
_KEY = "disaster_ai.hazards"


def hazard_problems(item) -> list[str]:
    """The vocabulary check of one definition (empty: fine)."""
    if not isinstance(item, Hazard):
        return [f"expected Hazard, got {type(item).__name__}"]
    problems = vocabulary_problems(item, ja_max=20, code_min=2)
    ja, en = str(item.ja or "").strip(), str(item.en or "").strip()
    for word in (ja, en):
        for term in levels.LEGACY_NAMES:
            if term in word:
                problems.append(f"forbidden legacy term {term} in {word!r}")
    names = [*levels.names("ja").values(), *levels.names("en").values()]
    if any(w and (w in name or name in w) for w in (ja, en) for name in names):
        problems.append("the words overlap a level's name (警戒レベルの名称)")
    return problems


def collect(pm) -> tuple[dict[str, Hazard], list[dict]]:
    """Every ``dai_hazards`` implementation in the hook order, then the built-ins: the first
    valid definition of a code wins. Returns (registry in order, problems)."""
    from disaster_ai.plugins import call_each

    candidates: dict[str, tuple[str, Hazard]] = {}
    problems: list[dict] = []

    def refuse(plugin, code, found):
        log.error("hazard %r of %s refused: %s", code, plugin, found)
        problems.extend({"plugin": plugin, "hazard": code, "problem": p} for p in found)

    outcomes = call_each(pm, "dai_hazards") if hasattr(pm.hook, "dai_hazards") else []
    batches = [(o.plugin, o.value, o.error) for o in outcomes] + [("core", BUILTIN, None)]
    for plugin, items, error in batches:
        if error is not None:
            problems.append({"plugin": plugin, "hazard": "", "problem": str(error)})
            continue
        for item in items or []:
            found = hazard_problems(item)
            if found:
                refuse(plugin, getattr(item, "code", ""), found)
            elif item.code not in candidates:
                candidates[item.code] = (plugin, item)
    # a word names one hazard: the built-ins' words first, then the plugins' in hook order
    merged: dict[str, Hazard] = {}
    words: dict[str, str] = {}
    ranked = sorted(candidates.values(), key=lambda pair: pair[0] != "core")
    for plugin, item in ranked:
        if item.ja in words or item.en in words:
            other = words.get(item.ja) or words.get(item.en)
            refuse(plugin, item.code, [f"the word {item.ja}/{item.en} is already hazard {other}"])
            continue
        merged[item.code] = item
        words[item.ja] = words[item.en] = item.code
    ordered = dict(sorted(merged.items(), key=lambda kv: (kv[1].order, kv[0])))
    return ordered, problems


def _cached(app=None) -> dict | None:
    from flask import current_app, has_app_context

    if app is None:
        if not has_app_context():
            return None
        app = current_app._get_current_object()
    if "disaster_ai" not in app.extensions:
        return None
    pm = app.extensions["disaster_ai"]
    key = frozenset(id(p) for p in pm.get_plugins())
    cached = app.extensions.get(_KEY)
    if cached is None or cached["key"] != key:
        app.extensions[_KEY] = cached = {"key": key, "hazards": {}, "problems": []}
        cached["hazards"], cached["problems"] = collect(pm)  # re-entrant reads see {}
    return cached


def registry(app=None) -> dict[str, Hazard]:
    """The hazards of ``app`` (default: the current app; outside an app, the built-ins), code
    → :class:`Hazard`, in order."""
    cached = _cached(app)
    if cached is None or not cached["hazards"]:
        return dict(BY_CODE)
    return dict(cached["hazards"])


def problems(app=None) -> list[dict]:
    """Definitions refused by the check (``{plugin, hazard, problem}``)."""
    cached = _cached(app)
    return list(cached["problems"]) if cached else []


def codes(app=None) -> tuple[str, ...]:
    return tuple(registry(app))


def label(code: str, locale: str | None = None) -> str:
    """The hazard's word in ``locale`` (default: the request's language; Japanese unless it is
    another language). An unknown code is returned as it is."""
    hazard = registry().get(code)
    if hazard is None:
        return str(code or "")
    return hazard.ja if (locale or reader_locale()).startswith("ja") else hazard.en


def legend(locale: str | None = None) -> list[dict]:
    """For a map or a page: ``[{code, label, ja, en, colour}]`` in order."""
    return [
        {"code": h.code, "label": label(h.code, locale), "ja": h.ja, "en": h.en, "colour": h.colour}
        for h in registry().values()
    ]


def Labels(locale: str | None = None) -> RegistryLabels:  # noqa: N802  (reads like a class)
    """``{code: word}`` of this registry, read when used: in the current language
    (``locale=None``) or always in one (``"ja"``)."""
    return RegistryLabels(registry, label, locale)
