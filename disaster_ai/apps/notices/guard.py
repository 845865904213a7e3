"""The fact guard: checks that a text (AI output or a manual edit) says exactly the facts.

It runs per channel and returns a report: the rules checked, the violations (each with an id
the approver acknowledges) and the warnings. The rules:

``level``       警戒レベルN and the level's name are present; no other level or name appears; no
                「レベル」 without its number; no non-guideline name (避難命令, 避難指示（緊急）…)
``districts``   every target district is named and no other district of the layer appears
                (the short forms 「○○ほかN地区」 count, with the right N, where a channel shortens).
                A partial 解除 also names every district that stays in force (``remaining``),
                in a sentence that does not say it is lifted, and says each lifted one is lifted
``shelters``    the destinations named are exactly the chosen shelters (none invented, none
                shortened, none dropped; no other facility named as a destination)
``time``        the issue time is stated and no other time or date appears (compared as times:
                午後8時5分 = 午後８時５分 = 午後八時五分 = 20時5分 = 20:05; 「8時5分」 for 20:05 is
                another time)
``hazard``      the hazard word is present and no other hazard word appears
``action``      the level's action phrase is present, in a sentence that asks for it where the
                template's sentence does (発令); 解除しました (解除)
``issue_lift``  発令 and 解除 are not flipped; a 解除 text's headline says 解除 (never an
                issue-looking 「【警戒レベル4 避難指示】」)
``forbidden``   no 避難勧告 or other pre-2021 term (避難準備 alone: a warning)
``exercise``    【訓練】 present in exercise mode, absent otherwise
``issuer``      the municipality is a real name (not empty, 「○○市」, 「市区町村名」, 「(未設定)」 …)
                and is named
``slots``       no empty template slot: 「こちらは、です」, 「、は、」, 「（）」, 「避難先：。」 …
``length``      the channel's limit holds

Names are compared as tokens, longest first, so a name inside another (焼津 in 焼津市, 小川 in
小川中学校) is not taken for it, and every comparison runs on a canonical form of the text
(NFKC, kanji numerals of times, dates, 丁目, 第N and レベル as digits), so full-width and kanji
numerals say the same as ASCII digits.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from flask_babel import gettext as _

from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices.renderers import (
    Limits,
    district_en,
    full_width_length,
    shelter_en,
)

JA_CHANNELS = ("radio", "mail_title", "mail_body", "web_long", "web_short", "easy_ja")
SHORTENING = ("mail_body", "web_short")
# channels that name no destination (the SNS post is too short; the title has no room)
NO_SHELTERS = ("web_short", "mail_title")
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
    "slots",
    "length",
)

# Words that look like a level name but are not the guideline's (STANDARDS.md §2.2).
LOOKALIKE = re.compile(r"避難命令|避難指示\s*\(\s*緊急\s*\)|高齢者避難")
LOOKALIKE_EN = re.compile(r"Evacuation Order|Evacuation Advisory", re.IGNORECASE)
ASKED = re.compile(r"ください|下さい|しなさい|してほしい")
LIFT_WORDS = re.compile(r"解除|かいじょ|\blift(?:ed|s)?\b", re.IGNORECASE)
CONTINUE_WORDS = re.compile(
    r"継続|引き続き|ひきつづき|発令中|発令されて|続いて|続きます|つづいて|つづきます|"
    r"\bstill\b|\bremains?\b|\bcontinues?\b|in force|in effect",
    re.IGNORECASE,
)
# the action said and denied at the end of a sentence: 発令していません, 解除されていない。
NEGATED = re.compile(
    r"(?:発令|解除)(?:\([ぁ-ん]+\))?\s*(?:して|され|いたして)(?:い|お)?(?:ません|ない\s*(?:[。\n]|$))"
)
ISSUE_WORDS = re.compile(r"を\s*(?:発令|発表|出し)")
LIFT_DONE = re.compile(
    r"解除\s*(?:\(かいじょ\))?\s*(?:しました|されました|いたしました|します|しています|されています)"
)
LIFT_SHORT = re.compile(r"[をがは]\s*解除|解除\s*(?:しました|されました)")
# destinations in the templates' wording (canonical form): 避難先は、…です / 避難先：… /
# にげる ところ：… / Shelters: ….
DESTINATION_JA = re.compile(
    r"(?:避難先は、?|避難先:|にげる\s*ところ:)\s*([^。\n]*?)\s*(?:です。|です|。|\n|$)"
)
DESTINATION_EN = re.compile(r"Shelters:\s*([^\n]*?)\.(?:\s|$)")
# a reading in brackets after a name: (やいづし), (よみかた:だいご コミュニティ …)
READING = re.compile(r"\((?:よみかた:)?[\sぁ-ゖァ-ヺー・、,]+\)")
SEPARATORS = re.compile(r"(?:、|,|・|と|及び|および|並びに|または|又は|\band\b|\bor\b|&|\s)+")
# a facility named as a place to go (Japanese): anything ending in one of these words
FACILITY = re.compile(
    r"[^\s、。,.:()「」【】\u3000]{1,16}?"
    r"(?:小学校|中学校|高等学校|高校|公民館|会館|体育館|センター|ホール|集会所|公会堂|科学館)"
)
TIME_JA = re.compile(
    r"(午前|午後)?\s*(?<!\d)(\d{1,2})\s*時(?!間)\s*(?:(\d{1,2})\s*分|(半))?"
    r"|(?<!\d)(\d{1,2})\s*:\s*(\d{2})(?!\d)"
)
DATE_JA = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*日")
TIME_EN = re.compile(
    r"(?<![\d:])(\d{1,2}):(\d{2})(?:\s*([ap])\.?\s?m\b\.?)?"
    r"|(?<![\d:])(\d{1,2})\s*([ap])\.?\s?m\b\.?",
    re.IGNORECASE,
)
MONTHS = ("January February March April May June July August September October November "
          "December").split()  # fmt: skip
DATE_EN = re.compile(
    r"\b(\d{1,2}) (" + "|".join(MONTHS) + r") (\d{4})\b"
    r"|\b(" + "|".join(MONTHS) + r") (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})\b"
)
# Empty template slots: a particle or です with nothing before it (canonical form).
EMPTY_SLOTS = (
    re.compile(r"こちらは[\s、,]*です"),
    re.compile(r"は[、,]\s*です"),
    re.compile(r"[、,]\s*[はにのをがへ][、,。]"),
    re.compile(r"(?:^|】)[ \t\u3000]*[、,。]", re.MULTILINE),
    re.compile(r"^[ \t\u3000]*(?:から|は|に|を|が|の|へ)[\s、,]", re.MULTILINE),
    re.compile(r"\(\s*\)|【\s*】|「\s*」|『\s*』"),
    re.compile(r"[、,]\s*[、,。]"),
    re.compile(r":\s*(?:[。.]|$)", re.MULTILINE),
)
EMPTY_SLOTS_EN = (
    re.compile(r"\b(?:for|at|by|of|because of the risk of)\s+(?:for|at|and|because|by)\b"),
    re.compile(r"^[ \t]*(?:issued|lifted)\b", re.MULTILINE),
    re.compile(r"\s[.,]"),
    re.compile(r"\(\s*\)"),
    re.compile(r":\s*(?:\.|$)", re.MULTILINE),
)


@dataclass(frozen=True)
class Universe:
    """Every district and shelter name the guard must recognise as "another one"."""

    district_names: tuple[str, ...] = ()
    district_names_en: tuple[str, ...] = ()
    shelter_names: tuple[str, ...] = ()
    # every hazard of the registry (dai_notice_hazards); empty: the current registry
    hazards: tuple[f.NoticeHazard, ...] = ()


# --- the canonical form ---------------------------------------------------------------------

_KANJI_DIGITS = "〇一二三四五六七八九"
LEVEL_SPACE = re.compile(r"(?<=レベル)[ \t]+(?=\d)")
LEVEL_SPACE_EN = re.compile(r"(?<=Level)[ \t]*(?=\d)")
_KANJI_RUN = re.compile(r"[〇零一二三四五六七八九十]+")
_KANJI_OR_DIGITS = r"[\d〇零一二三四五六七八九十]+"


def _kanji_value(run: str) -> int | None:
    run = run.replace("零", "〇")
    if "十" in run:
        tens, _sep, ones = run.partition("十")
        if len(tens) > 1 or len(ones) > 1 or "十" in ones:
            return None
        return (_KANJI_DIGITS.index(tens) if tens else 1) * 10 + (
            _KANJI_DIGITS.index(ones) if ones else 0
        )
    return int("".join(str(_KANJI_DIGITS.index(c)) for c in run))


def _kanji_number(match: re.Match) -> str:
    """A kanji numeral as digits where it counts something the guard compares: the hour and
    minute of a time, a date, 丁目, 第N, レベルN and ほかN地区 (not 一時避難, 十分に …)."""
    run, text = match.group(0), match.string
    before, after = text[max(0, match.start() - 4) : match.start()], text[match.end() :]
    convert = (
        after.startswith("丁目")
        or before.endswith(("第", "レベル"))
        or (before.endswith("ほか") and after.startswith(("地区", "か所")))
        or (after.startswith("分") and re.search(r"時\s*$", before) is not None)
        or (after.startswith("日") and re.search(r"月\s*$", before) is not None)
        or re.match(rf"月\s*{_KANJI_OR_DIGITS}\s*日", after) is not None
        or (
            after.startswith("時")
            and (
                before.endswith(("午前", "午後"))
                or re.match(rf"時\s*(?:{_KANJI_OR_DIGITS}\s*分|半)", after) is not None
            )
        )
    )
    value = _kanji_value(run) if convert else None
    return run if value is None else str(value)


@lru_cache(maxsize=8192)
def canonical(text: str) -> str:
    """The form every comparison runs on: NFKC (full-width digits and brackets as ASCII) and
    kanji numerals as digits where they count (see :func:`_kanji_number`)."""
    text = _KANJI_RUN.sub(_kanji_number, unicodedata.normalize("NFKC", text or ""))
    return LEVEL_SPACE_EN.sub(" ", LEVEL_SPACE.sub("", text))


# --- names as tokens ------------------------------------------------------------------------


class _Names:
    """Known names (canonical form → kind) matched leftmost-longest, so that a name inside a
    longer known name is not counted (焼津 in 焼津市, 小川 in 小川中学校). ``base`` is a
    cached index (the universe's names) that ``entries`` take precedence over."""

    def __init__(self, entries, base: _Names | None = None):
        kind: dict[str, str] = {}
        for name, k in entries:
            if name and name not in kind:
                kind[name] = k
        lengths = defaultdict(set)
        for name in kind:
            lengths[name[0]].add(len(name))
        if base is None:
            self.kind = kind
            self.lengths = {c: sorted(ls, reverse=True) for c, ls in lengths.items()}
            return
        self.kind = {**base.kind, **kind}
        self.lengths = dict(base.lengths)
        for c, ls in lengths.items():
            self.lengths[c] = sorted(ls | set(base.lengths.get(c, ())), reverse=True)

    def scan(self, text: str) -> list[tuple[int, int, str, str]]:
        found, i, n = [], 0, len(text)
        kind, lengths = self.kind, self.lengths
        while i < n:
            for length in lengths.get(text[i], ()):
                if i + length > n:
                    continue
                name = text[i : i + length]
                if name in kind and _bounded(text, i, i + length):
                    found.append((i, i + length, name, kind[name]))
                    i += length
                    break
            else:
                i += 1
        return found


def _ascii_word(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _bounded(text: str, start: int, end: int) -> bool:
    """A Latin name must not be part of a longer word (Oi in Going)."""
    if _ascii_word(text[start]) and start > 0 and _ascii_word(text[start - 1]):
        return False
    return not (_ascii_word(text[end - 1]) and end < len(text) and _ascii_word(text[end]))


_INDEXES: dict[tuple, _Names] = {}


def _cached_index(key: tuple, entries) -> _Names:
    if key not in _INDEXES:
        if len(_INDEXES) > 64:
            _INDEXES.clear()
        _INDEXES[key] = _Names(entries())
    return _INDEXES[key]


def _universe_index(universe: Universe) -> _Names:
    def entries():
        out = [(canonical(n), "district") for n in universe.district_names if n]
        out += [(canonical(n), "district") for n in universe.district_names_en if n]
        out += [(canonical(n), "other_shelter") for n in universe.shelter_names if n]
        return out

    key = ("universe", universe.district_names, universe.district_names_en, universe.shelter_names)
    return _cached_index(key, entries)


def _hazard_index(hazards, english: bool) -> _Names:
    words = tuple((h.code, h.en if english else h.ja) for h in hazards)
    return _cached_index(
        ("hazards", words), lambda: [(canonical(w), code) for code, w in words if w]
    )


def _forms(names) -> list[tuple[str, ...]]:
    """Per item, its canonical names (Japanese and, where it differs, the English one)."""
    return [tuple(dict.fromkeys(canonical(n) for n in item if n)) for item in names]


def _mask(text: str, spans, char="\u3000") -> str:
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        out.append(text[last:start])
        out.append(char * (end - start))
        last = end
    out.append(text[last:])
    return "".join(out)


# --- the check ------------------------------------------------------------------------------


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

    raw = text or ""
    text = canonical(raw)

    # the issuer must be a real name, on every channel
    issuer = (facts.issuer_en or facts.issuer) if english else facts.issuer
    issuer_fake = f.issuer_placeholder(issuer)
    if issuer_fake:
        bad(
            "issuer",
            _(
                "the issuer is not a municipality name: 「%(value)s」 (set the municipality)",
                value=issuer or "",
            ),
        )

    # the operator's reason is a fact of its own: it may name a place, a time or a hazard
    reason = canonical(facts.reason) if facts.reason else ""
    body = text.replace(reason, "\u3000" * len(reason)) if reason else text

    _check_level(text, body, raw, facts, channel, limits, bad)

    # forbidden terms and the exercise mark
    for term in f.FORBIDDEN:
        if term in text or term in raw:
            bad("forbidden", _("forbidden legacy term: %(value)s", value=term))
    for term in f.DISCOURAGED:
        if term in text and not any(t in text for t in f.FORBIDDEN):
            warn("forbidden", _("%(value)s recalls a pre-2021 name", value=term))
    if facts.exercise and f.EXERCISE_MARK not in text:
        bad("exercise", _("exercise mode but 【訓練】 is missing"))
    if not facts.exercise and ("訓練" in text or "EXERCISE" in text.upper().split()):
        bad("exercise", _("a real notice must not say 訓練"))

    # empty template slots
    for pattern in EMPTY_SLOTS_EN if english else EMPTY_SLOTS:
        found = pattern.search(text)
        if found:
            snippet = text[max(0, found.start() - 6) : found.end() + 6].strip()
            bad("slots", _("an empty slot in the text: 「%(value)s」", value=snippet))
            break

    # length
    limit = {
        "mail_title": limits.mail_title,
        "mail_body": limits.mail_body,
        "web_short": limits.web_short,
    }.get(channel)
    if limit is not None and full_width_length(raw) > limit:
        bad(
            "length",
            _(
                "%(count)s characters, the limit is %(limit)s",
                count=full_width_length(raw),
                limit=limit,
            ),
        )

    if channel == "mail_title":
        _issue_lift(text, facts, english, bad, title=True)
        return _report(channel, violations, warnings)

    # every name the text may contain, as tokens
    targets = _forms((d.name, district_en(d)) if english else (d.name,) for d in facts.districts)
    remaining = (
        _forms((d.name, district_en(d)) if english else (d.name,) for d in facts.remaining)
        if facts.lifted
        else []
    )
    chosen = _forms((s.name, shelter_en(s)) if english else (s.name,) for s in facts.shelters)
    entries = [(n, "target") for forms in targets for n in forms]
    entries += [(n, "remaining") for forms in remaining for n in forms]
    entries += [(n, "shelter") for forms in chosen for n in forms]
    entries += [(canonical(n), "issuer") for n in (facts.issuer, facts.issuer_en) if n]
    tokens = _Names(entries, _universe_index(universe)).scan(body)

    _check_districts(body, tokens, facts, channel, targets, remaining, bad)
    if not facts.lifted:
        _check_shelters(body, tokens, channel, english, chosen, bad)
    _check_time(body, facts, channel, english, bad, warn)

    # hazard
    hazard_word = canonical(facts.hazard_en if english else facts.hazard_ja)
    if hazard_word not in text:
        bad("hazard", _("the hazard is missing: %(value)s", value=hazard_word))
    # as tokens: "flooding" alone is another hazard than the "inland flooding" it is part of
    hazards = _hazard_index(universe.hazards or tuple(f.hazards().values()), english)
    reported = set()
    for _s, _e, word, code in hazards.scan(body):
        if code != facts.hazard and word != hazard_word and word not in reported:
            reported.add(word)
            bad("hazard", _("another hazard appears: %(value)s", value=word))

    _check_action(text, facts, channel, english, bad)
    _issue_lift(text, facts, english, bad)

    # the issuer is named
    if not issuer_fake and canonical(issuer) not in text:
        bad("issuer", _("the issuer is missing: %(value)s", value=issuer))
    return _report(channel, violations, warnings)


def _check_level(text, body, raw, facts, channel, limits, bad):
    english = channel == "en"
    level_word = f"Alert Level {facts.level}" if english else f"警戒レベル{facts.level}"
    name = f.LEVEL_NAMES_EN[facts.level] if english else facts.name
    if channel in ("mail_title", "easy_ja"):
        level_word = f"レベル{facts.level}"
    # a 解除 title keeps 解除 first and may drop the number when it does not fit otherwise
    optional = (
        channel == "mail_title"
        and facts.lifted
        and full_width_length(raw) + len(level_word) > limits.mail_title
    )
    if level_word not in text and not optional:
        bad("level", _("the level is missing: %(value)s", value=level_word))
    if name not in text:
        bad("level", _("the level name is missing: %(value)s", value=name))
    names = f.LEVEL_NAMES_EN if english else f.LEVEL_NAMES
    for other, other_name in names.items():
        if other != facts.level and other_name in text:
            bad("level", _("another level's name appears: %(value)s", value=other_name))
    level_re = r"Alert Level\s*(\d+)" if english else r"レベル\s*(\d+)"
    for number in re.findall(level_re, text):
        if int(number) != facts.level:
            bad("level", _("another level appears: %(value)s", value=number))
    if re.search(r"Alert Level(?!\s*\d)" if english else r"レベル(?!\s*\d)", body):
        bad("level", _("a level without its number: %(value)s", value=level_word))
    lookalike = (LOOKALIKE_EN if english else LOOKALIKE).search(body)
    if lookalike:
        bad("level", _("not a guideline level name: %(value)s", value=lookalike.group(0)))


def _segments(text: str) -> list[str]:
    return [s for s in re.split(r"[。\n]|(?<=[.!?])\s+", text) if s.strip()]


def _short_forms(text, tokens, unit):
    """``(preceding token name or None, N)`` for every 「…ほかN地区」 (or か所) in ``text``."""
    out = []
    for m in re.finditer(rf"ほか\s*(\d+)\s*{unit}", text):
        before = None
        for _start, end, name, _kind in tokens:
            if end <= m.start() and not text[end : m.start()].strip():
                before = name
        out.append((before, int(m.group(1)), m.group(0)))
    return out


def _check_districts(body, tokens, facts, channel, targets, remaining, bad):
    named = {name for _s, _e, name, _k in tokens}
    short_ok = {"target": False, "remaining": False}
    for before, n, _said in _short_forms(body, tokens, "地区"):
        if targets and before in targets[0] and n == len(targets) - 1:
            short_ok["target"] = True
        elif remaining and before in remaining[0] and n == len(remaining) - 1:
            short_ok["remaining"] = True
        else:
            bad("districts", _("wrong district count: ほか%(value)s地区", value=n))
    shortening = channel in SHORTENING
    for group, kind in ((targets, "target"), (remaining, "remaining")):
        for i, forms in enumerate(group):
            if shortening and short_ok[kind] and i > 0:
                continue
            if not any(n in named for n in forms):
                if kind == "target":
                    bad("districts", _("district missing: %(value)s", value=forms[0]))
                else:
                    bad(
                        "districts",
                        _("a district that stays in force is not named: %(value)s", value=forms[0]),
                    )
    reported = set()
    for _s, _e, name, kind in tokens:
        if kind == "district" and name not in reported:
            reported.add(name)
            bad("districts", _("a district that is not targeted appears: %(value)s", value=name))
    if not remaining:
        return
    # a partial 解除: the lifted districts are said to be lifted, the others to stay in force
    segments = [
        (m.start(), m.end(), LIFT_WORDS.search(m.group(0)) is not None
         and CONTINUE_WORDS.search(m.group(0)) is None)
        for m in re.finditer(r"[^。\n]+?(?:[。\n]|(?<=[.!?])\s|$)", body)
    ]  # fmt: skip

    def lifted_in(start):
        return next((said for s0, s1, said in segments if s0 <= start < s1), False)

    for forms in remaining:
        if any(k == "remaining" and n in forms and lifted_in(s0) for s0, _e, n, k in tokens):
            bad(
                "districts",
                _("a district that stays in force is said to be lifted: %(value)s", value=forms[0]),
            )
    for i, forms in enumerate(targets):
        if shortening and short_ok["target"] and i > 0:
            continue
        if not any(k == "target" and n in forms and lifted_in(s0) for s0, _e, n, k in tokens):
            bad(
                "districts",
                _("a lifted district is not said to be lifted: %(value)s", value=forms[0]),
            )


def _check_shelters(body, tokens, channel, english, chosen, bad):
    named = {name for _s, _e, name, _k in tokens}
    short_ok = False
    for before, n, said in _short_forms(body, tokens, "か所"):
        if chosen and before in chosen[0] and n == len(chosen) - 1 and channel in SHORTENING:
            short_ok = True
        else:
            bad(
                "shelters", _("destination differs from the chosen shelters: %(value)s", value=said)
            )
    if channel not in NO_SHELTERS:
        missing = [
            forms[0]
            for i, forms in enumerate(chosen)
            if not (short_ok and i > 0) and not any(n in named for n in forms)
        ]
        if missing:
            bad(
                "shelters",
                _("the chosen shelters are not named: %(value)s", value="、".join(missing)),
            )
    reported = set()
    for _s, _e, name, kind in tokens:
        if kind == "other_shelter" and name not in reported:
            reported.add(name)
            bad("shelters", _("a shelter that was not chosen appears: %(value)s", value=name))
    # what is said after 避難先 is the chosen names and separators, nothing else
    known = _mask(body, [(s, e) for s, e, _n, k in tokens if k == "shelter"], "、")
    for m in (DESTINATION_EN if english else DESTINATION_JA).finditer(known):
        rest = READING.sub("", re.sub(r"ほか\s*\d+\s*か所", "", m.group(1)))
        rest = SEPARATORS.sub("", rest)
        if rest:
            said = body[m.start(1) : m.end(1)]
            bad(
                "shelters", _("destination differs from the chosen shelters: %(value)s", value=said)
            )
    if not english:
        # a facility that is no known name at all (an invented or shortened shelter)
        blank = _mask(body, [(s, e) for s, e, _n, _k in tokens])
        blank = READING.sub(lambda m: "\u3000" * len(m.group(0)), blank)  # a name's reading
        for m in FACILITY.finditer(blank):
            bad(
                "shelters",
                _("a facility that is not a chosen shelter: %(value)s", value=m.group(0)),
            )


def _check_time(body, facts, channel, english, bad, warn):
    at = facts.issued_at.astimezone(f.JST)
    expected = (at.hour, at.minute)
    shown = at.strftime("%H:%M") if english else f.reading_time(at)
    stated = False
    if english:
        for m in TIME_EN.finditer(body):
            if m.group(1):
                hour, minute, half = int(m.group(1)), int(m.group(2)), m.group(3)
            else:
                hour, minute, half = int(m.group(4)), 0, m.group(5)
            if half:
                hour = hour % 12 + (12 if half.lower() == "p" else 0)
            if (hour % 24, minute) == expected:
                stated = True
            else:
                bad("time", _("another time appears: %(value)s", value=m.group(0).strip()))
        for m in DATE_EN.finditer(body):
            day, month, year = (
                (m.group(1), m.group(2), m.group(3))
                if m.group(1)
                else (m.group(5), m.group(4), m.group(6))
            )
            if (int(day), MONTHS.index(month) + 1, int(year)) != (at.day, at.month, at.year):
                bad("time", _("another date appears: %(value)s", value=m.group(0)))
    else:
        for m in TIME_JA.finditer(body):
            if m.group(5):
                half, hour, minute = None, int(m.group(5)), int(m.group(6))
                if channel == "radio":
                    warn(
                        "time",
                        _("a radio script says the time as it is read: %(value)s", value=shown),
                    )
            else:
                half, hour = m.group(1), int(m.group(2))
                minute = 30 if m.group(4) else int(m.group(3) or 0)
            if half:
                hour = hour % 12 + (12 if half == "午後" else 0)
            said = m.group(0).strip()
            if (hour % 24, minute) == expected:
                stated = True
            elif not half and hour <= 12 and (hour + 12, minute) == expected:
                bad(
                    "time",
                    _("午前 or 午後 is missing: %(value)s reads as another time", value=said),
                )
            else:
                bad("time", _("another time appears: %(value)s", value=said))
        for m in DATE_JA.finditer(body):
            if (int(m.group(1)), int(m.group(2))) != (at.month, at.day):
                bad("time", _("another date appears: %(value)s", value=m.group(0)))
    if not stated:
        bad("time", _("the time is missing or changed: %(value)s", value=shown))


def _check_action(text, facts, channel, english, bad):
    easy = channel == "easy_ja"
    if facts.lifted:
        if english:
            ok = re.search(r"\blifted\b", text, re.IGNORECASE)
        else:
            ok = (LIFT_SHORT if channel == "web_short" else LIFT_DONE).search(text)
        if not ok:
            phrase = "lifted" if english else "を解除しました"
            bad("action", _("the action phrase is missing: %(value)s", value=phrase))
        return
    phrase = canonical(facts.required_phrase("en" if english else "easy_ja" if easy else channel))
    if phrase not in text:
        bad("action", _("the action phrase is missing: %(value)s", value=phrase))
        return
    # where the template asks (してください), the phrase is asked for, not only announced
    sentence = facts.action_sentence_easy if easy else facts.action_sentence
    if english or channel == "web_short" or "ください" not in sentence:
        return
    if not any(phrase in s and ASKED.search(s) for s in _segments(text)):
        bad("action", _("the action is not asked for: %(value)s", value=phrase))


def _issue_lift(text, facts, english, bad, title=False):
    if english:
        said_issue = re.search(r"\bissued\b", text) is not None
        said_lift = re.search(r"\blifted\b", text) is not None
    else:
        said_issue = bool(ISSUE_WORDS.search(text)) or (title and "発令" in text)
        said_lift = "解除" in text
    negated = None if english else NEGATED.search(text)
    if negated:
        bad("issue_lift", _("the 発令 or 解除 is denied: %(value)s", value=negated.group(0)))
    if facts.lifted:
        if said_issue:
            bad("issue_lift", _("a 解除 text says 発令"))
        if not said_lift and not title:
            bad("issue_lift", _("the 解除 is not stated"))
        _lift_headline(text, facts, english, bad)
    else:
        if said_lift:
            bad("issue_lift", _("a 発令 text says 解除"))
        if not said_issue and not title:
            bad("issue_lift", _("the 発令 is not stated"))


def _lift_headline(text, facts, english, bad):
    """A 解除 says 解除 in its headline: never an issue-looking 【警戒レベル4 避難指示】."""
    level_words = ("Alert Level", *f.LEVEL_NAMES_EN.values()) if english else (
        "レベル", *f.LEVEL_NAMES.values())  # fmt: skip
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    # the exercise frame's opening line says nothing about the notice
    while lines and f.EXERCISE_MARK in lines[0] and not any(w in lines[0] for w in level_words):
        lines.pop(0)
    if not lines:
        return
    first = lines[0].replace(f.EXERCISE_MARK, "", 1).strip()
    bracket = re.match(r"【([^】]*)】", first)
    if (
        bracket
        and any(w in bracket.group(1) for w in level_words)
        and not LIFT_WORDS.search(bracket.group(1))
    ):
        bad("issue_lift", _("a 解除 text starts with an issue-looking headline: %(value)s",
                            value=bracket.group(0)))  # fmt: skip
        return
    for line in lines:
        if any(w in line for w in level_words):
            if not LIFT_WORDS.search(line):
                bad("issue_lift", _("the headline of a 解除 does not say 解除: %(value)s",
                                    value=line[:40]))  # fmt: skip
            return


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
