"""English version from the per-level phrase table; names transliterated from their kana."""

from __future__ import annotations

from disaster_ai.apps.notices.facts import NoticeFacts


def render(facts: NoticeFacts, templates) -> str:
    return templates.render("en", facts)
