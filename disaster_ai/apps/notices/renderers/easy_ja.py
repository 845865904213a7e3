"""やさしい日本語 version (short sentences, 分かち書き, readings in brackets), from phrase tables."""

from __future__ import annotations

from disaster_ai.apps.notices.facts import NoticeFacts


def render(facts: NoticeFacts, templates) -> str:
    return templates.render("easy_ja", facts)
