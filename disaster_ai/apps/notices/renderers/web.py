"""Web page (long) and SNS post (short, ≤ 140 characters, shortened like the mail)."""

from __future__ import annotations

from disaster_ai.apps.notices.facts import NoticeFacts
from disaster_ai.apps.notices.renderers import RenderError, full_width_length, join_ja
from disaster_ai.apps.notices.renderers.areamail import short_list


def render(facts: NoticeFacts, templates, limits) -> dict:
    names = [d.name for d in facts.districts]
    remaining = [d.name for d in facts.remaining]  # a partial 解除: what stays in force
    short = None
    for districts, rest in (
        (join_ja(names), join_ja(remaining)),
        (short_list(names, "地区"), short_list(remaining, "地区")),
    ):
        text = templates.render("web_short", facts, v={"districts": districts, "remaining": rest})
        if full_width_length(text) <= limits.web_short:
            short = text
            break
    if short is None:
        raise RenderError("web_short", f"longer than {limits.web_short} characters: {text}")
    return {"long": templates.render("web_long", facts), "short": short}
