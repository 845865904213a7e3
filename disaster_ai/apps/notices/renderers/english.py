"""English version from the per-level phrase table.

Names are written word by word from their readings (``District.name_en``, readings.py): the
layer's kana, else Japan Post's data for the municipality, else a guess the desk flags. A
partial 解除 names the districts lifted and those that stay under the level; a lift's headline
starts with "Lifted"."""

from __future__ import annotations

from disaster_ai.apps.notices.facts import NoticeFacts


def render(facts: NoticeFacts, templates) -> str:
    return templates.render("en", facts)
