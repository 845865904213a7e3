"""The fact guard: checks that a text (AI output or a manual edit) says exactly the facts.

It runs per channel and returns a report: the rules checked, the violations (each with an id
the approver acknowledges) and the warnings. The rules:

``level``       警戒レベルN and the level's name are present; no other level or name appears
``districts``   every target district is named and no other district of the layer appears
                (the short forms 「○○ほかN地区」 count, with the right N, where a channel shortens)
``shelters``    the destinations named are exactly the chosen shelters (none invented, none dropped)
``time``        the issue time is stated unchanged and no other time appears
``hazard``      the hazard word is present and no other hazard word appears
``action``      the level's action phrase is present (発令 only)
``issue_lift``  発令 and 解除 are not flipped
``forbidden``   no 避難勧告 or other pre-2021 term (避難準備 alone: a warning)
``exercise``    【訓練】 present in exercise mode, absent otherwise
``issuer``      the municipality is named
``length``      the channel's limit holds
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _

from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices.renderers import (
    Limits,
    district_en,
    full_width_length,
    join_en,
    join_ja,
    shelter_en,
)
from disaster_ai.apps.notices.renderers.areamail import short_list

JA_CHANNELS = ("radio", "mail_title", "mail_body", "web_long", "web_short", "easy_ja")
SHORTENING = ("mail_body", "web_short")
TIME_JA = re.compile(r"午[前後]\s*\d{1,2}\s*時(?:\s*\d{1,2}\s*分)?|\d{1,2}\s*[:：]\s*\d{2}")
TIME_EN = re.compile(r"\d{1,2}:\d{2}")
DATE_EN = re.compile(r"\b\d{1,2} (?:January|February|March|April|May|June|July|August|"
                     r"September|October|November|December) \d{4}\b")  # fmt: skip
SHELTER_JA = re.compile(r"(?:避難先は、|避難先：|にげる ところ：)([^。\n]*?)(?:です。|。|\n|$)")
SHELTER_EN = re.compile(r"Shelters: ([^\n]*?)\.(?:\n|$)")
# What a 解除 text must state in full, per channel (default: を解除しました).
LIFT_PHRASE = {
    "en": "lifted Alert Level",
    "easy_ja": "解除(かいじょ)しました",
    "web_short": "を解除",
}
RULES = (
    "level",
    "districts",
    "shelters",
    "time",
    "hazard",
    "action",
    "issue_lift",
    "forbidden",
    "exercise",
    "issuer",
    "length",
)


@dataclass(frozen=True)
class Universe:
    """Every district and shelter name the guard must recognise as "another one"."""

    district_names: tuple[str, ...] = ()
    district_names_en: tuple[str, ...] = ()
    shelter_names: tuple[str, ...] = ()
    # every hazard of the registry (dai_notice_hazards); empty: the current registry
    hazards: tuple[f.NoticeHazard, ...] = ()


def _strip(text: str, names) -> str:
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        text = text.replace(name, "\u3000")
    return text


def check(
    text: str,
    facts: f.NoticeFacts,
    channel: str,
    universe: Universe | None = None,
    limits: Limits | None = None,
) -> dict:
    """The guard report for one channel's text."""
    universe = universe or Universe()
    limits = limits or Limits()
    violations: list[dict] = []
    warnings: list[dict] = []
    english = channel == "en"
    easy = channel == "easy_ja"

    def bad(rule, message):
        violations.append(
            {
                "id": f"{channel}:{rule}:{len(violations)}",
                "channel": channel,
                "rule": rule,
                "message": message,
            }
        )

    def warn(rule, message):
        warnings.append({"channel": channel, "rule": rule, "message": message})

    text = text or ""
    # level + name
    level_word = f"Alert Level {facts.level}" if english else f"警戒レベル{facts.level}"
    name = f.LEVEL_NAMES_EN[facts.level] if english else facts.name
    if channel in ("mail_title", "easy_ja"):
        level_word = f"レベル{facts.level}"
    if level_word not in text:
        bad("level", _("the level is missing: %(value)s", value=level_word))
    if name not in text:
        bad("level", _("the level name is missing: %(value)s", value=name))
    names = f.LEVEL_NAMES_EN if english else f.LEVEL_NAMES
    for other, other_name in names.items():
        if other != facts.level and other_name in text:
            bad("level", _("another level's name appears: %(value)s", value=other_name))
    level_re = r"Alert Level\s*(\d)" if english else r"レベル\s*(\d)"
    for number in re.findall(level_re, text):
        if int(number) != facts.level:
            bad("level", _("another level appears: %(value)s", value=number))

    # forbidden terms and the exercise mark
    for term in f.FORBIDDEN:
        if term in text:
            bad("forbidden", _("forbidden legacy term: %(value)s", value=term))
    for term in f.DISCOURAGED:
        if term in text and not any(t in text for t in f.FORBIDDEN):
            warn("forbidden", _("%(value)s recalls a pre-2021 name", value=term))
    if facts.exercise and f.EXERCISE_MARK not in text:
        bad("exercise", _("exercise mode but 【訓練】 is missing"))
    if not facts.exercise and ("訓練" in text or "EXERCISE" in text.upper().split()):
        bad("exercise", _("a real notice must not say 訓練"))

    # length
    limit = {
        "mail_title": limits.mail_title,
        "mail_body": limits.mail_body,
        "web_short": limits.web_short,
    }.get(channel)
    if limit is not None and full_width_length(text) > limit:
        bad(
            "length",
            _(
                "%(count)s characters, the limit is %(limit)s",
                count=full_width_length(text),
                limit=limit,
            ),
        )

    if channel == "mail_title":
        _issue_lift(text, facts, english, bad, title=True)
        return _report(channel, violations, warnings)

    # districts
    targets = [district_en(d) if english else d.name for d in facts.districts]
    all_names = universe.district_names_en if english else universe.district_names
    shortened = False
    if channel in SHORTENING and len(targets) > 1:
        short = short_list(targets, "地区")
        if short in text:
            shortened = True
    if shortened:
        if targets[0] not in text:
            bad("districts", _("district missing: %(value)s", value=targets[0]))
    else:
        for target in targets:
            if target not in text:
                bad("districts", _("district missing: %(value)s", value=target))
    for match in re.findall(r"ほか(\d+)地区", text):
        if int(match) != len(targets) - 1:
            bad("districts", _("wrong district count: ほか%(value)s地区", value=match))
    rest = _strip(text, targets)
    for other in all_names:
        if other and other not in targets and other in rest:
            bad("districts", _("a district that is not targeted appears: %(value)s", value=other))

    # shelters (destinations), only in 発令 texts
    if not facts.lifted:
        chosen = [shelter_en(s) if english else s.name for s in facts.shelters]
        pattern = SHELTER_EN if english else SHELTER_JA
        found = [m.strip() for m in pattern.findall(text)]
        allowed = {join_en(chosen) if english else join_ja(chosen)}
        if not english:
            allowed.add(short_list(chosen, "か所"))
        if chosen and not found and channel not in SHORTENING:
            bad(
                "shelters", _("the chosen shelters are not named: %(value)s", value=join_ja(chosen))
            )
        for segment in found:
            if segment not in allowed:
                bad(
                    "shelters",
                    _("destination differs from the chosen shelters: %(value)s", value=segment),
                )
        rest_s = _strip(text, chosen)
        for other in universe.shelter_names:
            if other and other not in chosen and other in rest_s:
                bad("shelters", _("a shelter that was not chosen appears: %(value)s", value=other))

    # time
    if english:
        expected = facts.issued_at.astimezone(f.JST).strftime("%H:%M")
        expected_date = f.en_datetime(facts.issued_at).split(",")[0]
        if expected not in text:
            bad("time", _("the time is missing or changed: %(value)s", value=expected))
        for found_time in TIME_EN.findall(text):
            if found_time != expected:
                bad("time", _("another time appears: %(value)s", value=found_time))
        for found_date in DATE_EN.findall(text):
            if found_date != expected_date:
                bad("time", _("another date appears: %(value)s", value=found_date))
    else:
        expected = f.reading_time(facts.issued_at)
        if expected not in text:
            bad("time", _("the time is missing or changed: %(value)s", value=expected))
        for found_time in TIME_JA.findall(text):
            if found_time.replace(" ", "") != expected and not expected.startswith(
                found_time.replace(" ", "")
            ):
                bad("time", _("another time appears: %(value)s", value=found_time))

    # hazard
    hazard_word = facts.hazard_en if english else facts.hazard_ja
    if hazard_word not in text:
        bad("hazard", _("the hazard is missing: %(value)s", value=hazard_word))
    # the operator's reason is a fact of its own: it may mention another hazard
    rest_h = text.replace(facts.reason, "\u3000") if facts.reason else text
    for other in universe.hazards or tuple(f.hazards().values()):
        word = other.en if english else other.ja
        if other.code != facts.hazard and word and word not in hazard_word and word in rest_h:
            bad("hazard", _("another hazard appears: %(value)s", value=word))

    # action phrase and 発令/解除
    if not facts.lifted:
        phrase = facts.required_phrase("en" if english else "easy_ja" if easy else channel)
    else:
        phrase = LIFT_PHRASE.get(channel, "を解除しました")
    if phrase not in text:
        bad("action", _("the action phrase is missing: %(value)s", value=phrase))
    _issue_lift(text, facts, english, bad)

    # issuer
    issuer = (facts.issuer_en or facts.issuer) if english else facts.issuer
    if issuer not in text:
        bad("issuer", _("the issuer is missing: %(value)s", value=issuer))
    return _report(channel, violations, warnings)


def _issue_lift(text, facts, english, bad, title=False):
    if english:
        said_issue, said_lift = "issued" in text, "lifted" in text
    else:
        said_issue = bool(re.search(r"を\s?発令", text)) or (title and "発令" in text)
        said_lift = "解除" in text
    if facts.lifted:
        if said_issue:
            bad("issue_lift", _("a 解除 text says 発令"))
        if not said_lift and not title:
            bad("issue_lift", _("the 解除 is not stated"))
    else:
        if said_lift:
            bad("issue_lift", _("a 発令 text says 解除"))
        if not said_issue and not title:
            bad("issue_lift", _("the 発令 is not stated"))


def _report(channel, violations, warnings) -> dict:
    return {
        "channel": channel,
        "rules": list(RULES),
        "violations": violations,
        "warnings": warnings,
        "ok": not violations,
    }


def channel_texts(rendered: dict) -> dict:
    """The guarded texts of a render_all() result, by guard channel name."""
    return {
        "radio": rendered["radio"],
        "mail_title": rendered["mail"]["title"],
        "mail_body": rendered["mail"]["body"],
        "web_long": rendered["web"]["long"],
        "web_short": rendered["web"]["short"],
        "en": rendered["en"],
        "easy_ja": rendered["easy_ja"],
    }


def check_all(
    texts: dict, facts: f.NoticeFacts, universe: Universe | None = None, limits=None
) -> dict:
    """One report over every channel: rules checked, violations, warnings, ok."""
    violations, warnings = [], []
    for channel, text in texts.items():
        report = check(text, facts, channel, universe, limits)
        violations.extend(report["violations"])
        warnings.extend(report["warnings"])
    return {
        "rules_checked": list(RULES),
        "channels": list(texts),
        "violations": violations,
        "warnings": warnings,
        "ok": not violations,
    }
