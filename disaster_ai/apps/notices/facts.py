"""The fixed vocabulary of 避難情報 (STANDARDS.md §2) and the facts one notice is rendered from.

Only the facts vary between notices (municipality, districts, hazard, reason, shelters, times);
the level, its name and its action phrases are fixed here and never come from a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from disaster_ai.storage.base import JST

ISSUE = "発令"
LIFT = "解除"
ACTIONS = (ISSUE, LIFT)

LEVEL_NAMES = {3: "高齢者等避難", 4: "避難指示", 5: "緊急安全確保"}
LEVEL_NAMES_EN = {
    3: "Evacuation of Elderly People, etc.",
    4: "Evacuation Instruction",
    5: "Emergency Safety Measures",
}
LEVEL_NAMES_EASY = {3: "高齢者等避難", 4: "避難指示", 5: "緊急安全確保"}
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

# Hazards a notice can be about: situation hazard code -> Japanese word, English, やさしい日本語.
HAZARDS = {
    "flood": ("洪水", "flooding", "洪水(こうずい)"),
    "inland_flood": ("内水氾濫", "inland flooding", "内水氾濫(みずが あふれる こと)"),
    "landslide": ("土砂災害", "landslides", "土砂災害(がけ くずれ など)"),
    "storm_surge": ("高潮", "storm surge", "高潮(たかしお)"),
    "tsunami": ("津波", "tsunami", "津波(つなみ)"),
}
# Per-hazard reason phrases the form offers (free text is allowed too).
REASONS = {
    "flood": ["河川の水位が上昇し、氾濫するおそれが高まっています。"],
    "inland_flood": ["大雨により、道路や住宅が浸水するおそれが高まっています。"],
    "landslide": ["土砂災害警戒情報が発表され、土砂災害の危険性が高まっています。"],
    "storm_surge": ["台風の接近により、高潮による浸水のおそれが高まっています。"],
    "tsunami": ["津波警報が発表されています。"],
}

# Forbidden in every output (STANDARDS.md §2.2) → error; 避難準備 alone → warning.
FORBIDDEN = ("避難勧告", "避難準備・高齢者等避難開始", "避難準備情報", "災害発生情報")
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


# --- kana → Hepburn (small, deterministic; no dictionary) ---------------------------------

_BASE = {
    "あ": "a", "い": "i", "う": "u", "え": "e", "お": "o",
    "か": "ka", "き": "ki", "く": "ku", "け": "ke", "こ": "ko",
    "さ": "sa", "し": "shi", "す": "su", "せ": "se", "そ": "so",
    "た": "ta", "ち": "chi", "つ": "tsu", "て": "te", "と": "to",
    "な": "na", "に": "ni", "ぬ": "nu", "ね": "ne", "の": "no",
    "は": "ha", "ひ": "hi", "ふ": "fu", "へ": "he", "ほ": "ho",
    "ま": "ma", "み": "mi", "む": "mu", "め": "me", "も": "mo",
    "や": "ya", "ゆ": "yu", "よ": "yo",
    "ら": "ra", "り": "ri", "る": "ru", "れ": "re", "ろ": "ro",
    "わ": "wa", "ゐ": "i", "ゑ": "e", "を": "o", "ん": "n",
    "が": "ga", "ぎ": "gi", "ぐ": "gu", "げ": "ge", "ご": "go",
    "ざ": "za", "じ": "ji", "ず": "zu", "ぜ": "ze", "ぞ": "zo",
    "だ": "da", "ぢ": "ji", "づ": "zu", "で": "de", "ど": "do",
    "ば": "ba", "び": "bi", "ぶ": "bu", "べ": "be", "ぼ": "bo",
    "ぱ": "pa", "ぴ": "pi", "ぷ": "pu", "ぺ": "pe", "ぽ": "po",
    "ゔ": "vu", "ぁ": "a", "ぃ": "i", "ぅ": "u", "ぇ": "e", "ぉ": "o",
}  # fmt: skip
_YOON = {"ゃ": "a", "ゅ": "u", "ょ": "o"}
_SMALL_VOWEL = {"ぁ": "a", "ぃ": "i", "ぅ": "u", "ぇ": "e", "ぉ": "o"}


def kana_to_romaji(kana: str) -> str:
    """Modified Hepburn without macrons (おお/おう → o, うう → u), capitalised per word.
    Katakana is folded to hiragana; anything else is kept as it is."""
    text = "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in kana.strip())
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if c == "っ":
            follow = _BASE.get(nxt, "")
            if follow:
                out.append("t" if follow.startswith("ch") else follow[0])
            i += 1
            continue
        if c == "ー":
            i += 1
            continue
        if c in _BASE and nxt in _SMALL_VOWEL and c not in "あいうえおぁぃぅぇぉ":
            stem = {"て": "t", "で": "d", "ふ": "f", "ゔ": "v", "し": "sh", "ち": "ch", "じ": "j"}
            out.append(stem.get(c, _BASE[c][:-1]) + _SMALL_VOWEL[nxt])
            i += 2
            continue
        if c in _BASE and nxt in _YOON:
            base = _BASE[c]
            stem = {"shi": "sh", "chi": "ch", "ji": "j"}.get(base, base[:-1] + "y")
            out.append(stem + _YOON[nxt])
            i += 2
            continue
        if c == "ん":
            out.append("n")
            i += 1
            continue
        if c in _BASE:
            roman = _BASE[c]
            # long vowels: おう/おお → o, うう → u
            if out and roman in ("u", "o") and c in "うお" and out[-1].endswith("o"):
                i += 1
                continue
            if out and roman == "u" and c == "う" and out[-1].endswith("u"):
                i += 1
                continue
            out.append(roman)
            i += 1
            continue
        out.append(" " if c in "　・ " else c)
        i += 1
    words = "".join(out).split(" ")
    return " ".join(w[:1].upper() + w[1:] for w in words if w)


# --- the facts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class District:
    key: str
    name: str
    name_kana: str = ""
    population: float | None = None
    ring: tuple[tuple[float, float], ...] = ()  # simplified outer ring, (lon, lat), closed

    @property
    def romaji(self) -> str:
        return kana_to_romaji(self.name_kana) if self.name_kana else ""


@dataclass(frozen=True)
class ShelterChoice:
    key: str
    name: str
    name_kana: str = ""
    districts: tuple[str, ...] = ()  # keys of the target districts it serves
    why: str = ""
    must_open: bool = False  # designated and safe but not open yet
    distance_m: float | None = None
    chosen_by: str = "suggested"  # suggested | operator

    @property
    def romaji(self) -> str:
        return kana_to_romaji(self.name_kana) if self.name_kana else ""


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

    @property
    def name(self) -> str:
        return LEVEL_NAMES[self.level]

    @property
    def hazard_ja(self) -> str:
        return HAZARDS.get(self.hazard, (self.hazard, self.hazard, self.hazard))[0]

    @property
    def hazard_en(self) -> str:
        return HAZARDS.get(self.hazard, (self.hazard, self.hazard, self.hazard))[1]

    @property
    def hazard_easy(self) -> str:
        return HAZARDS.get(self.hazard, (self.hazard, self.hazard, self.hazard))[2]

    @property
    def lifted(self) -> bool:
        return self.action == LIFT

    @property
    def fallback(self) -> bool:
        return not self.shelters

    @property
    def msg_type(self) -> str:
        if self.lifted or self.cancel:
            return "Cancel"
        return "Update" if self.references else "Alert"
