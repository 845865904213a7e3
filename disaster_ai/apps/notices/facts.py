"""The fixed vocabulary of 避難情報 (STANDARDS.md §2) and the facts one notice is rendered from.

Only the facts vary between notices (municipality, districts, hazard, reason, shelters, times);
the level, its name and its action phrases are fixed here and never come from a model.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from disaster_ai import hazards as hazard_registry
from disaster_ai import levels
from disaster_ai.kana import kana_to_romaji  # noqa: F401  re-exported
from disaster_ai.plugins import call_each
from disaster_ai.storage.base import JST
from disaster_ai.types import NoticeAction, NoticeHazard

ISSUE = "発令"
LIFT = "解除"
ACTIONS = (ISSUE, LIFT)

# The level names come from the one registry (disaster_ai.levels); the やさしい日本語 notice
# writes the official name too (its readings are in readings.LEVEL_FURIGANA).
LEVEL_NAMES = levels.names("ja")
LEVEL_NAMES_EN = levels.names("en")
LEVEL_NAMES_EASY = levels.names("ja")
# The attention line (said twice on radio) and the mail title: short and fixed.
ATTENTION = {3: "高齢者等は避難", 4: "危険な場所から全員避難", 5: "直ちに安全確保"}
# The phrase the guard requires in every issue text (a substring of the action sentence).
REQUIRED_PHRASE = {3: "高齢者等は避難", 4: "全員避難", 5: "直ちに安全確保"}
ACTION_SENTENCE = {
    3: "危険な場所にいる高齢者等は避難を開始してください。その他の方も避難の準備を整え、危険を感じたら自主的に避難してください。",
    4: "危険な場所にいる方は、速やかに全員避難を開始してください。",
    5: "命の危険があります。直ちに安全確保してください。",
}
ACTION_SENTENCE_EN = {
    3: "Elderly people and others who need time to evacuate must leave dangerous areas now. Everyone else should prepare to evacuate.",
    4: "Everyone in a dangerous area must evacuate now.",
    5: "Your life is in danger. Take action to save your life immediately.",
}
ACTION_SENTENCE_EASY = {
    3: "おとしより や 体(からだ)が 不自由(ふじゆう)な 人(ひと)は、危(あぶ)ない 場所(ばしょ)から にげて ください。",
    4: "危(あぶ)ない 場所(ばしょ)に いる 人(ひと)は、みんな にげて ください。",
    5: "命(いのち)が 危(あぶ)ないです。すぐに 安全(あんぜん)な ところへ 行(い)って ください。",
}
# What the guard requires per language (each a substring of the action sentence above).
REQUIRED_PHRASE_EN = {
    3: "Elderly people",
    4: "Everyone in a dangerous area must evacuate",
    5: "immediately",
}
REQUIRED_PHRASE_EASY = {3: "おとしより", 4: "みんな にげて", 5: "すぐに 安全"}
FALLBACK = (
    "避難所への移動がかえって危険な場合は、近くの安全な場所に移動するか、"
    "屋内の高いところに移動して、身の安全を確保してください。"
)
FALLBACK_EN = (
    "If moving to a shelter is dangerous, go to a nearby safe place, or move to a higher floor "
    "indoors and stay safe."
)
FALLBACK_EASY = "外(そと)が 危(あぶ)ない ときは、近(ちか)くの 安全(あんぜん)な 場所(ばしょ)か、建物(たてもの)の 高(たか)い 階(かい)へ 行(い)って ください。"

# Hazards a notice can be about. The built-in five are given by the notices plugin's own
# ``dai_notice_hazards`` (core-as-plugins); a plugin adds others (火山, ため池決壊 …) or replaces
# one with the same code. Read the merged registry with :func:`hazards` / :func:`hazard`.
# Their Japanese words are the hazard registry's (disaster_ai.hazards); what is added here is
# the notices' own wording: the English in a sentence, やさしい日本語, reasons, CAP category.
_WORD = {h.code: h.ja for h in hazard_registry.BUILTIN}
BUILTIN_HAZARDS = (
    NoticeHazard(
        "flood", _WORD["flood"], "flooding", "洪水(こうずい)",
        reasons=("河川の水位が上昇し、氾濫するおそれが高まっています。",), order=10,
    ),
    NoticeHazard(
        "inland_flood", _WORD["inland_flood"], "inland flooding", "内水氾濫(みずが あふれる こと)",
        reasons=("大雨により、道路や住宅が浸水するおそれが高まっています。",), order=20,
    ),
    NoticeHazard(
        "landslide", _WORD["landslide"], "landslides", "土砂災害(がけ くずれ など)",
        reasons=("土砂災害警戒情報が発表され、土砂災害の危険性が高まっています。",),
        cap_category="Geo", order=30,
    ),
    NoticeHazard(
        "storm_surge", _WORD["storm_surge"], "storm surge", "高潮(たかしお)",
        reasons=("台風の接近により、高潮による浸水のおそれが高まっています。",), order=40,
    ),
    NoticeHazard(
        "tsunami", _WORD["tsunami"], "tsunami", "津波(つなみ)",
        reasons=("津波警報が発表されています。",), cap_category="Geo", order=50,
    ),
)  # fmt: skip
CAP_CATEGORIES = ("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
                  "Transport", "Infra", "CBRNE", "Other")  # fmt: skip
HAZARD_CODE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_REGISTRY_KEY = "disaster_ai.notices.hazards"
log = logging.getLogger(__name__)


def hazard_problems(h: NoticeHazard) -> list[str]:
    """The vocabulary check of one hazard definition (empty: fine)."""
    problems = []
    if not isinstance(h, NoticeHazard):
        return [f"not a NoticeHazard: {h!r}"]
    if not HAZARD_CODE.match(h.code or ""):
        problems.append(f"code {h.code!r} must be 2-32 of a-z, 0-9 and _ (starting with a letter)")
    for attr in ("ja", "en", "easy_ja"):
        if not str(getattr(h, attr) or "").strip():
            problems.append(f"{attr} is empty")
    if h.cap_category not in CAP_CATEGORIES:
        problems.append(f"cap_category {h.cap_category!r} is not a CAP 1.2 category")
    if h.cap_event_code and re.search(r"[\s<&]", h.cap_event_code):
        problems.append("cap_event_code has a space, < or &")
    if h.ja and any(h.ja in name or name in h.ja for name in LEVEL_NAMES.values()):
        problems.append(f"the hazard word {h.ja} overlaps a level name")
    # the guard flags another hazard's word in a text: the fixed wording must not contain it
    fixed = _fixed_wording()
    for word in (h.ja, h.en):
        if word and word in fixed:
            problems.append(f"the hazard word {word!r} occurs in the fixed notice wording")
    texts = [h.ja, h.en, h.easy_ja, *h.reasons]
    actions = h.actions if isinstance(h.actions, dict) else None
    if actions is None:
        problems.append("actions must be a dict {level: NoticeAction}")
        actions = {}
    for level, action in actions.items():
        if level not in LEVEL_NAMES:
            problems.append(f"actions: level {level!r} is not 3, 4 or 5")
            continue
        if not isinstance(action, NoticeAction):
            problems.append(f"actions[{level}] is not a NoticeAction")
            continue
        texts.extend(vars(action).values())
        for suffix, sentences, phrases in (
            ("", ACTION_SENTENCE, REQUIRED_PHRASE),
            ("_en", ACTION_SENTENCE_EN, REQUIRED_PHRASE_EN),
            ("_easy", ACTION_SENTENCE_EASY, REQUIRED_PHRASE_EASY),
        ):
            sentence = getattr(action, "sentence" + suffix) or sentences[level]
            required = getattr(action, "required" + suffix) or phrases[level]
            if required not in sentence:
                problems.append(
                    f"actions[{level}]: the required phrase {required!r} is not in the sentence"
                    f" {sentence!r}"
                )
        # the shortest mail and the radio's attention line say only the attention phrase
        attention = action.attention or ATTENTION[level]
        required = action.required or REQUIRED_PHRASE[level]
        if required not in attention:
            problems.append(
                f"actions[{level}]: the required phrase {required!r} is not in the attention"
                f" line {attention!r}"
            )
    for text in texts:
        for term in FORBIDDEN:
            if term in str(text):
                problems.append(f"forbidden legacy term {term} in {text!r}")
    return problems


_FIXED: list[str] = []


def _fixed_wording() -> str:
    """The level names, action phrases, fallbacks and the package templates' own text."""
    if not _FIXED:
        from pathlib import Path

        tables = (LEVEL_NAMES, LEVEL_NAMES_EN, ATTENTION, ACTION_SENTENCE, ACTION_SENTENCE_EN,
                  ACTION_SENTENCE_EASY)  # fmt: skip
        parts = [text for table in tables for text in table.values()]
        parts += [FALLBACK, FALLBACK_EN, FALLBACK_EASY]
        folder = Path(__file__).resolve().parent / "templates" / "text"
        for path in sorted(folder.glob("*.txt")):
            parts.append(re.sub(r"\{[{%#].*?[}%#]\}", "\n", path.read_text(encoding="utf-8")))
        _FIXED.append("\n".join(parts))
    return _FIXED[0]


def collect_hazards(pm) -> tuple[dict[str, NoticeHazard], list[dict]]:
    """Call every ``dai_notice_hazards`` implementation (plugins before the trylast core one):
    the first valid definition of a code wins. Returns (registry in form order, problems)."""
    merged: dict[str, NoticeHazard] = {}
    problems: list[dict] = []
    words: dict[str, str] = {}
    for outcome in call_each(pm, "dai_notice_hazards"):  # pluggy's order, one at a time
        if outcome.error is not None:  # an optional collector: logged and skipped
            exc = outcome.error
            problems.append(
                {
                    "plugin": outcome.plugin,
                    "hazard": "",
                    "problem": f"{type(exc).__name__}: {exc}",
                }
            )
            continue
        for item in outcome.value or []:
            code = getattr(item, "code", "")
            found = hazard_problems(item)
            if not found and code not in merged and words.get(item.ja, code) != code:
                found = [f"the word {item.ja} is already hazard {words[item.ja]}"]
            if found:
                log.error("hazard %r of plugin %s refused: %s", code, outcome.plugin, found)
                problems.extend(
                    {"plugin": outcome.plugin, "hazard": code, "problem": p} for p in found
                )
                continue
            if code in merged:
                continue  # an earlier (plugin) definition replaced this one
            merged[code] = item
            words[item.ja] = code
    ordered = dict(sorted(merged.items(), key=lambda kv: (kv[1].order, kv[0])))
    return ordered, problems


def _registry() -> dict | None:
    from flask import current_app, has_app_context

    if not has_app_context() or "disaster_ai" not in current_app.extensions:
        return None
    pm = current_app.extensions["disaster_ai"]
    key = frozenset(id(p) for p in pm.get_plugins())
    cached = current_app.extensions.get(_REGISTRY_KEY)
    if cached is None or cached["key"] != key:
        registry, problems = collect_hazards(pm)
        cached = {"key": key, "hazards": registry, "problems": problems}
        current_app.extensions[_REGISTRY_KEY] = cached
    return cached


def hazards() -> dict[str, NoticeHazard]:
    """The merged hazard registry, code → :class:`NoticeHazard`, in the form's order: every
    ``dai_notice_hazards`` implementation of the current app (outside an app: the built-ins)."""
    registry = _registry()
    if registry is None:
        return {h.code: h for h in BUILTIN_HAZARDS}
    return dict(registry["hazards"])


def hazard(code: str) -> NoticeHazard | None:
    return hazards().get(code)


def hazard_registry_problems() -> list[dict]:
    """Hazard definitions refused by the vocabulary check (``{plugin, hazard, problem}``)."""
    registry = _registry()
    return list(registry["problems"]) if registry else []


def hazard_choices() -> list[tuple[str, str]]:
    """``[(code, Japanese word)]`` for a form's hazard list, in order (plugins' hazards too)."""
    return [(code, h.ja) for code, h in hazards().items()]


class _HazardWords(Mapping):
    """Compatibility read: ``HAZARDS[code] == (ja, en, easy_ja)`` over the merged registry."""

    def __getitem__(self, code):
        h = hazards()[code]
        return (h.ja, h.en, h.easy_ja)

    def __iter__(self):
        return iter(hazards())

    def __len__(self):
        return len(hazards())


class _HazardReasons(Mapping):
    """Compatibility read: ``REASONS[code] == [reason phrases]`` over the merged registry."""

    def __getitem__(self, code):
        return list(hazards()[code].reasons)

    def __iter__(self):
        return iter(hazards())

    def __len__(self):
        return len(hazards())


HAZARDS = _HazardWords()
REASONS = _HazardReasons()

# Forbidden in every output (STANDARDS.md §2.2) → error; 避難準備 alone → warning.
FORBIDDEN = levels.LEGACY_NAMES
DISCOURAGED = ("避難準備",)
EXERCISE_MARK = "【訓練】"

WEEKDAYS_JA = "月火水木金土日"


def reading_time(at: datetime) -> str:
    """A time written to be read aloud: 午後8時5分 / 午前0時 (no colon, no 24-hour digits)."""
    at = at.astimezone(JST)
    hour = at.hour
    half = "午前" if hour < 12 else "午後"
    hour12 = hour % 12
    minute = f"{at.minute}分" if at.minute else ""
    return f"{half}{hour12}時{minute}"


def reading_datetime(at: datetime) -> str:
    at = at.astimezone(JST)
    return f"{at.month}月{at.day}日{reading_time(at)}"


def en_datetime(at: datetime) -> str:
    at = at.astimezone(JST)
    return at.strftime("%-d %B %Y, %H:%M") + " JST"


# An issuer that is not a real municipality name.
_PLACEHOLDER_ISSUER = re.compile(
    r"未設定|未定|名称未|市区町村名|市町村名|自治体名|団体名|発信者名|"
    r"placeholder|example|sample|dummy|\bTBD\b|\bTODO\b|^(?:test|none|null|n/a)$|"
    r"^[○〇●◯×✕xX*?？＊□■△▲＿_\-]+\s*(?:[市区町村都道府県]|city|town|village)?$|"
    r"^(?:[市区町村都道府県]|city|town|village|municipality)$",
    re.IGNORECASE,
)


def issuer_placeholder(name: str | None) -> bool:
    """True when ``name`` is not a real municipality name: empty, without a single letter, kana
    or kanji, or a placeholder such as 「○○市」「市区町村名」「(未設定)」 ``example`` (a notice must
    say who issues it; drafting refuses, and the guard flags it on every channel)."""
    import unicodedata

    text = unicodedata.normalize("NFKC", name or "").strip()
    if not re.search(r"[^\W\d_]", text):  # no letter, kana or kanji at all
        return True
    return bool(_PLACEHOLDER_ISSUER.search(text.strip("()[]「」 ")))


# every way a template writes the stated time (a manual edit is moved to the time of issue)
TIME_FORMATS = (reading_time, en_datetime)


# kana → Hepburn lives in the core (disaster_ai.kana): the municipality table uses it too


# --- the facts ----------------------------------------------------------------------------


class _Named:
    """A district's or shelter's name as other channels say it (readings.py): its reading from
    the layer's kana, else Japan Post's data for the municipality, else a marked guess.
    ``municipality`` and ``jis_code`` choose the postal data; NoticeFacts sets them from its
    issuer."""

    @property
    def reading(self):
        from disaster_ai.apps.notices import readings

        return readings.resolve(self.name, self.name_kana, self.municipality, self.jis_code)

    @property
    def name_en(self) -> str:
        """The name as English texts write it, word by word: 「Yaizu Bunka Kaikan」."""
        return self.reading.english or self.name

    @property
    def romaji(self) -> str:
        return self.name_en

    @property
    def reading_kana(self) -> str:
        """The reading in hiragana, words spaced (empty: the name needs or has none)."""
        return self.reading.furigana

    @property
    def reading_source(self) -> str:
        """data | postal | fixed | guessed | none (readings.py)."""
        return self.reading.source

    @property
    def reading_guessed(self) -> bool:
        """True when the reading (and so the English form) is not from data: the desk shows
        「読みは推定」 and the reading, for a person to check."""
        return self.reading.guessed


@dataclass(frozen=True)
class District(_Named):
    key: str
    name: str
    name_kana: str = ""
    population: float | None = None
    ring: tuple[tuple[float, float], ...] = ()  # simplified outer ring, (lon, lat), closed
    municipality: str = field(default="", compare=False, repr=False)
    jis_code: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class ShelterChoice(_Named):
    key: str
    name: str
    name_kana: str = ""
    districts: tuple[str, ...] = ()  # keys of the target districts it serves
    why: str = ""
    must_open: bool = False  # designated and safe but not open yet
    distance_m: float | None = None
    chosen_by: str = "suggested"  # suggested | operator
    municipality: str = field(default="", compare=False, repr=False)
    jis_code: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class NoticeFacts:
    """Everything a renderer may use. Renderers are pure functions of these facts."""

    hazard: str
    action: str
    level: int
    districts: tuple[District, ...]
    issued_at: datetime
    issuer: str
    shelters: tuple[ShelterChoice, ...] = ()
    reason: str = ""
    exercise: bool = False
    issuer_en: str = ""
    jis_code: str = ""
    lg_code: str = ""
    identifier: str = "JP-000000-0000-0000"
    sender: str = "bousai@example.lg.jp"
    references: tuple[str, ...] = ()  # CAP "sender,identifier,sent" triplets
    expires: datetime | None = None
    warnings: tuple[str, ...] = field(default=())
    cancel: bool = False  # the CAP Cancel of an issued notice withdrawn as erroneous
    # the hazard's definition (service.build_facts sets it from the registry; None: look it up)
    hazard_info: NoticeHazard | None = None
    # a partial 解除: the districts of the chain that stay under the level (District)
    remaining: tuple = ()

    def __post_init__(self):
        # names are read with the postal data of the issuing municipality (readings.py)
        for attr in ("districts", "shelters", "remaining"):
            items = getattr(self, attr)
            if any(isinstance(i, _Named) and not (i.municipality or i.jis_code) for i in items):
                bound = tuple(
                    replace(i, municipality=self.issuer, jis_code=self.jis_code)
                    if isinstance(i, _Named) and not (i.municipality or i.jis_code)
                    else i
                    for i in items
                )
                object.__setattr__(self, attr, bound)

    @property
    def name(self) -> str:
        return LEVEL_NAMES[self.level]

    @property
    def hazard_def(self) -> NoticeHazard:
        found = self.hazard_info or hazard(self.hazard)
        if found is None:
            return NoticeHazard(self.hazard, self.hazard, self.hazard, self.hazard)
        return found

    @property
    def hazard_ja(self) -> str:
        return self.hazard_def.ja

    @property
    def hazard_en(self) -> str:
        return self.hazard_def.en

    @property
    def hazard_easy(self) -> str:
        return self.hazard_def.easy_ja

    def _action(self, attr: str, default: dict) -> str:
        action = self.hazard_def.actions.get(self.level)
        return (getattr(action, attr) if action is not None else "") or default[self.level]

    @property
    def attention(self) -> str:
        return self._action("attention", ATTENTION)

    @property
    def action_sentence(self) -> str:
        return self._action("sentence", ACTION_SENTENCE)

    @property
    def action_sentence_en(self) -> str:
        return self._action("sentence_en", ACTION_SENTENCE_EN)

    @property
    def action_sentence_easy(self) -> str:
        return self._action("sentence_easy", ACTION_SENTENCE_EASY)

    def required_phrase(self, channel: str = "") -> str:
        """The action phrase the guard demands in a 発令 text of this channel."""
        if channel == "en":
            return self._action("required_en", REQUIRED_PHRASE_EN)
        if channel == "easy_ja":
            return self._action("required_easy", REQUIRED_PHRASE_EASY)
        return self._action("required", REQUIRED_PHRASE)

    @property
    def lifted(self) -> bool:
        return self.action == LIFT

    @property
    def fallback(self) -> bool:
        return not self.shelters

    @property
    def msg_type(self) -> str:
        if self.cancel or (self.lifted and not self.remaining):
            return "Cancel"
        return "Update" if self.references else "Alert"
