"""The one registry of incident categories (``dai_incident_categories``).

The API, the forms, the map (colour and symbol), the situation report and the call triage all
read the categories from here; it is part of the core so that every app can read it without
importing the situation app. The situation app's own implementation (``trylast``) gives the
built-in ones below; a plugin adds others, or replaces a built-in one by giving the same code.
A definition that fails the check (code, words, colour, symbol) is refused and logged; a
failing implementation is skipped. Outside an app (a pure analysis, a script) the built-in
ones apply.
"""

from __future__ import annotations

import logging

from disaster_ai.i18n import RegistryLabels, reader_locale, vocabulary_problems
from disaster_ai.types import IncidentCategory

log = logging.getLogger(__name__)

BUILTIN = (
    IncidentCategory("river", "河川", "River", "#1d4ed8", "河", 10),
    IncidentCategory("inundation", "浸水", "Inundation", "#075985", "浸", 20),
    IncidentCategory("road_flooding", "道路冠水", "Road flooding", "#0e7490", "冠", 30),
    IncidentCategory("landslide", "土砂災害", "Landslide", "#92400e", "土", 40),
    IncidentCategory("storm_surge", "高潮", "Storm surge", "#1e3a8a", "潮", 50),
    IncidentCategory("fire", "火災", "Fire", "#b91c1c", "火", 60),
    IncidentCategory("building_damage", "建物被害", "Building damage", "#7c2d12", "建", 70),
    IncidentCategory("wind_damage", "風害", "Wind damage", "#3f6212", "風", 80),
    IncidentCategory("infrastructure", "インフラ被害", "Infrastructure", "#4b5563", "設", 90),
    IncidentCategory("power_outage", "停電", "Power outage", "#854d0e", "電", 100),
    IncidentCategory("water_outage", "断水", "Water outage", "#115e59", "断", 110),
    IncidentCategory("rescue", "救助要請", "Rescue", "#be123c", "救", 120),
    IncidentCategory("welfare_check", "安否確認", "Welfare check", "#6d28d9", "安", 130),
    IncidentCategory(
        "shelter_inquiry", "避難所の問い合わせ", "Shelter inquiry", "#047857", "避", 140
    ),
    IncidentCategory("other", "その他", "Other", "#374151", "他", 1000),
)
BUILTIN_CODES = tuple(c.code for c in BUILTIN)
_KEY = "disaster_ai.incident_categories"


def category_problems(item) -> list[str]:
    if not isinstance(item, IncidentCategory):
        return [f"expected IncidentCategory, got {type(item).__name__}"]
    problems = vocabulary_problems(item, ja_max=40)
    if len(item.symbol or "") != 1:
        problems.append(f"symbol {item.symbol!r}: one character")
    return problems


def collect(pm) -> tuple[dict[str, IncidentCategory], list[dict]]:
    """Every implementation, in the hook order: the first valid definition of a code wins.
    Returns (registry in list order, problems)."""
    from disaster_ai.plugins import call_each

    merged: dict[str, IncidentCategory] = {}
    problems: list[dict] = []
    outcomes = (
        call_each(pm, "dai_incident_categories")
        if hasattr(pm.hook, "dai_incident_categories")
        else []
    )
    for outcome in outcomes:
        if outcome.error is not None:
            problems.append(
                {"plugin": outcome.plugin, "category": "", "problem": str(outcome.error)}
            )
            continue
        for item in outcome.value or []:
            found = category_problems(item)
            if found:
                log.error("incident category of %s refused: %s", outcome.plugin, found)
                problems.extend(
                    {"plugin": outcome.plugin, "category": getattr(item, "code", ""), "problem": p}
                    for p in found
                )
            elif item.code not in merged:
                merged[item.code] = item
    ordered = dict(sorted(merged.items(), key=lambda kv: (kv[1].order, kv[0])))
    return ordered, problems


def registry() -> dict[str, IncidentCategory]:
    """The categories of the running app (the built-in ones outside an app)."""
    from flask import current_app, has_app_context

    if not has_app_context() or "disaster_ai" not in current_app.extensions:
        return {c.code: c for c in BUILTIN}
    pm = current_app.extensions["disaster_ai"]
    key = frozenset(id(p) for p in pm.get_plugins())
    cached = current_app.extensions.get(_KEY)
    if cached is None or cached["key"] != key:
        found, problems = collect(pm)
        cached = {"key": key, "categories": found or {c.code: c for c in BUILTIN}}
        cached["problems"] = problems
        current_app.extensions[_KEY] = cached
    return cached["categories"]


def codes() -> tuple[str, ...]:
    return tuple(registry())


def label(code: str, locale: str | None = None) -> str:
    """The category's word in ``locale`` (Japanese unless the locale is another language)."""
    if locale is None:
        locale = reader_locale()
    category = registry().get(code)
    if category is None:
        return code
    return category.ja if locale.startswith("ja") else category.en


def map_table() -> dict[str, list[str]]:
    """For the map script: ``{code: [colour, symbol]}``."""
    return {code: [c.colour, c.symbol] for code, c in registry().items()}


def Labels(locale: str | None = None) -> RegistryLabels:  # noqa: N802  (reads like a class)
    """``{code: word}`` of this registry, read when used: in the current language
    (``locale=None``) or always in one (``"ja"``)."""
    return RegistryLabels(registry, label, locale)
