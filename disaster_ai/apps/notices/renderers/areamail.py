"""緊急速報メール: title ≤ 15 and body ≤ 200 full-width characters, hard-checked.

When the full text does not fit, variants are tried in a fixed order (so the same facts always
give the same text): drop the reason → 「○○ほかN地区」 → shelters as 「○○ほかNか所」 → a short
fallback → the short action. Level, name, action and issuer are in every variant. If even the
shortest variant is too long, :class:`RenderError` is raised: never a silent truncation.
"""

from __future__ import annotations

from disaster_ai.apps.notices.facts import NoticeFacts
from disaster_ai.apps.notices.renderers import RenderError, full_width_length, join_ja


def short_list(names: list[str], unit: str) -> str:
    if len(names) <= 1:
        return join_ja(names)
    return f"{names[0]}ほか{len(names) - 1}{unit}"


def variants(facts: NoticeFacts):
    districts = [d.name for d in facts.districts]
    shelters = [s.name for s in facts.shelters]
    full_d, short_d = join_ja(districts), short_list(districts, "地区")
    full_s, short_s = join_ja(shelters), short_list(shelters, "か所")
    # a partial 解除 names the districts that stay in force, shortened with the lifted ones
    remaining = [d.name for d in facts.remaining]
    full_r, short_r = join_ja(remaining), short_list(remaining, "地区")
    full = dict(districts=full_d, remaining=full_r)
    short = dict(districts=short_d, remaining=short_r)
    plan = [
        dict(**full, reason=True, shelters=full_s, fallback=True, full_action=True),
        dict(**full, reason=False, shelters=full_s, fallback=True, full_action=True),
        dict(**short, reason=False, shelters=full_s, fallback=True, full_action=True),
        dict(**short, reason=False, shelters=short_s, fallback=True, full_action=True),
        dict(**short, reason=False, shelters=short_s, fallback=False, full_action=True),
        dict(**short, reason=False, shelters=short_s, fallback=False, full_action=False),
    ]
    seen = []
    for v in plan:
        if v not in seen:
            seen.append(v)
            yield v


def title(facts: NoticeFacts, templates, limit: int = 15) -> str:
    action = facts.action
    # a 解除 says 解除 first and never drops it (the level number goes first); a 発令 may drop
    # the word 発令 as a last resort (the level and its name remain)
    if facts.lifted:
        plan = (("警戒レベル", action), ("レベル", action), ("", action))
    else:
        plan = (("警戒レベル", action), ("レベル", action), ("レベル", ""))
    for prefix, title_action in plan:
        text = templates.render("mail_title", facts, title_prefix=prefix, title_action=title_action)
        if full_width_length(text) <= limit:
            return text
    raise RenderError("mail_title", f"the title is longer than {limit} characters: {text}")


def render(facts: NoticeFacts, templates, limits) -> dict:
    body = None
    for number, v in enumerate(variants(facts)):
        text = templates.render("mail_body", facts, v=v)
        if full_width_length(text) <= limits.mail_body:
            body = text
            shortened = number > 0
            break
    if body is None:
        raise RenderError(
            "mail_body",
            f"even the shortest body is longer than {limits.mail_body} characters "
            f"({full_width_length(text)}): name fewer districts or split the notice",
        )
    return {
        "title": title(facts, templates, limits.mail_title),
        "body": body,
        "shortened": shortened,
    }
