"""防災行政無線 script: attention line twice, station ID, body, closing repeat, 【訓練】 frame."""

from __future__ import annotations

from disaster_ai.apps.notices.facts import NoticeFacts


def render(facts: NoticeFacts, templates) -> str:
    return templates.render("radio", facts)
