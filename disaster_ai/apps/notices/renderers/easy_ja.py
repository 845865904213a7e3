"""やさしい日本語 version (short sentences, 分かち書き, readings in brackets), from phrase tables.

Readings (furigana) go after the level name, the municipality and every district name, from
the names' readings (readings.py); the shelters' readings follow their list on a line of their
own, so the list itself stays exactly the chosen names. A 解除 explains the hazard word as a
発令 does, starts with 【解除(かいじょ)】, and in a partial 解除 names the districts that stay
under the level."""

from __future__ import annotations

from disaster_ai.apps.notices import readings
from disaster_ai.apps.notices.facts import NoticeFacts


def _names(items) -> str:
    return "、".join(readings.furigana(item.name, item.reading) for item in items)


def context(facts: NoticeFacts) -> dict:
    """The template values of this channel, on top of the renderers' base context."""
    issuer = readings.resolve(facts.issuer, "", facts.issuer, facts.jis_code)
    shelter_readings = [s.reading.furigana or s.name for s in facts.shelters]
    return {
        "name_easy": readings.LEVEL_FURIGANA.get(facts.level, facts.name),
        "issuer_easy": readings.furigana(facts.issuer, issuer),
        "districts_easy": _names(facts.districts),
        "remaining_easy": _names(facts.remaining),
        "shelters_reading": "、".join(shelter_readings)
        if any(s.reading.furigana for s in facts.shelters)
        else "",
    }


def render(facts: NoticeFacts, templates) -> str:
    return templates.render("easy_ja", facts, **context(facts))
