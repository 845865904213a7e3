"""Call triage from an imperfect transcript: category, life threat (yes / 要確認 / no), several
incidents, vulnerable people, people count and call-back request.

Everything the triage knows about words is in ``data/triage_lexicon.toml`` (reviewed like code);
this module only matches it. A transcript is analysed once (:func:`analyse`): OpenJTalk splits
it into words with their readings, so that each lexicon term is found

1. in the written text (exact),
2. in the katakana reading of the text, exactly or, for readings of ``fuzzy_min_kana`` kana or
   more, approximately (a weighted edit distance: a voicing or small-kana difference costs half),
   which forgives the wrong kanji with the right sound that Whisper often writes, and
3. in the on-readings of runs of kanji that do not form a dictionary word (the SudachiPy
   dictionary's readings of each kanji), so that a nonsense compound with the right sounds
   still counts.

A match followed, in its clause, by a negation (ません, ない, 無事 …) is dropped, unless the term
says the negation itself (意識がない). Short readings must sit on word boundaries, so a
two-kana term never matches inside a longer word.

The life-threat flag is recall first: a strong cue is ``yes``; a weak cue, an approximate match
of a strong cue, a fire or rescue call, a vulnerable person in a flood or outage call, or a
person still present at a hazard makes it ``check`` (要確認), which the desk shows as a flag
to confirm. Only a call with none of these is ``no``; an explicit reassurance (全員避難済み)
cancels the ``check`` reasons but never a strong cue.
"""

from __future__ import annotations

import functools
import itertools
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from disaster_ai.categories import BUILTIN_CODES as INCIDENT_CATEGORIES

LEXICON_PATH = Path(__file__).with_name("data") / "triage_lexicon.toml"
WEIGHTS = {"critical": 5.0, "strong": 3.0, "medium": 2.0, "weak": 1.0}
LIFE_LEVELS = ("no", "check", "yes")

# --- kana helpers ------------------------------------------------------------------------------

_HIRA_TO_KATA = {code: code + 0x60 for code in range(0x3041, 0x3097)}
_O_ROW = set("オコゴソゾトドノホボポモヨョロヲ")
_E_ROW = set("エケゲセゼテデネヘベペメレ")
_U_ROW = set("クグスズツヌフブプムユュル")
_SMALL = {
    "ァ": "ア",
    "ィ": "イ",
    "ゥ": "ウ",
    "ェ": "エ",
    "ォ": "オ",
    "ャ": "ヤ",
    "ュ": "ユ",
    "ョ": "ヨ",
}
_SMALL["ッ"] = "ツ"
_VOICED: dict[str, str] = {}
for _plain, _voiced in zip(
    "カキクケコサシスセソタチツテトハヒフヘホハヒフヘホ",
    "ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポ",
    strict=True,
):
    _VOICED[_voiced] = _plain
KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff々〆]")


def katakana(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_HIRA_TO_KATA)


def norm_kana(kana: str, collapse: bool = True) -> str:
    """Normalise a katakana reading for matching: ヅ→ズ, ヂ→ジ, ヲ→オ, ヴ→ブ; everything that is
    not katakana (punctuation, accent marks, kanji OpenJTalk could not read) removed; with
    ``collapse`` the long vowels too (ー, オウ/オオ after an o-row kana, エイ after an e-row
    kana), which forgives 長音 slips but makes short words collide (道路 ドーロ → ドロ = 泥):
    short terms are matched on the uncollapsed reading."""
    kana = katakana(kana)
    kana = kana.replace("ヅ", "ズ").replace("ヂ", "ジ").replace("ヲ", "オ").replace("ヴ", "ブ")
    out: list[str] = []
    for char in kana:
        if char == "ー" and not collapse:
            out.append(char)
            continue
        if not ("ァ" <= char <= "ヶ"):
            continue
        if not collapse and out and _long_vowel(out[-1], char):
            out.append("ー")  # ていでん and 停電 (テーデン) alike, ドーロ and ドロ apart
            continue
        if collapse and out and char in "ウオ" and out[-1] in _O_ROW:
            continue
        if collapse and out and char == "イ" and out[-1] in _E_ROW:
            continue
        if collapse and out and char == "ウ" and out[-1] in _U_ROW:
            continue
        out.append(char)
    return "".join(out)


def _long_vowel(previous: str, char: str) -> bool:
    return (
        (char in "ウオ" and previous in _O_ROW)
        or (char == "イ" and previous in _E_ROW)
        or (char == "ウ" and previous in _U_ROW)
    )


def sub_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    if _VOICED.get(a, a) == _VOICED.get(b, b) or _SMALL.get(a, a) == _SMALL.get(b, b):
        return 0.5
    return 1.0


def _indel_cost(char: str) -> float:
    # a dropped ッ or ン, or a devoiced or lengthened イ/ウ (断水 ダンスイ heard as ダンス), is
    # the commonest slip
    return 0.5 if char in "ッンーイウ" else 1.0


# Morae that a listener (and Whisper) confuses more easily than others, for place names only
# (``best_substring(..., near=NEAR_MORAE)``): an i or u after the same consonant, which Japanese
# devoices between voiceless consonants and at the end of a word (西津 ニシズ heard as ニシスジ,
# 元町 モトマチ written 元末 モトマツ, 桜屋敷 as さくらやすき), e and i after the same consonant
# (栄 サカエ heard as サカイ), and ハ/ワ (a name ending in ワ written with は, or は read ハ in
# a run of kana). Each costs as much as a voicing slip.
NEAR_MORAE: dict[tuple[str, str], float] = {}
for _i_row, _u_row in zip("シキチヒピジギビニミリ", "スクツフプズグブヌムル", strict=True):
    NEAR_MORAE[(_i_row, _u_row)] = NEAR_MORAE[(_u_row, _i_row)] = 0.5
for _i_row, _e_row in zip("イキシチニヒミリギジビピ", "エケセテネヘメレゲゼベペ", strict=True):
    NEAR_MORAE[(_i_row, _e_row)] = NEAR_MORAE[(_e_row, _i_row)] = 0.5
NEAR_MORAE[("ハ", "ワ")] = NEAR_MORAE[("ワ", "ハ")] = 0.5


def best_substring(
    pattern: str,
    text: str,
    near: dict[tuple[str, str], float] | None = None,
    ends: frozenset[int] | set[int] = frozenset(),
) -> tuple[float, int, int]:
    """The smallest weighted edit cost of ``pattern`` against any substring of ``text``, with
    that substring's start and end (Sellers' algorithm, with the start carried along). ``near``
    gives a lower cost to some further substitutions (``NEAR_MORAE``); among ends of the same
    cost, one in ``ends`` (a word's end) comes first, then the longest."""
    if not pattern:
        return 0.0, 0, 0
    n = len(text)
    previous = [0.0] * (n + 1)  # a match may start anywhere: row 0 is free
    starts = list(range(n + 1))
    text_indel = [_indel_cost(t) for t in text]
    for p in pattern:
        p_indel = _indel_cost(p)
        p_base = _VOICED.get(p, p)
        p_small = _SMALL.get(p, p)
        current = [previous[0] + p_indel] + [0.0] * n
        cur_starts = [0] * (n + 1)
        for j in range(1, n + 1):
            t = text[j - 1]
            if t == p:
                diagonal = previous[j - 1]
            elif _VOICED.get(t, t) == p_base or _SMALL.get(t, t) == p_small:
                diagonal = previous[j - 1] + 0.5
            elif near is not None and (p, t) in near:
                diagonal = previous[j - 1] + near[(p, t)]
            else:
                diagonal = previous[j - 1] + 1.0
            up = previous[j] + p_indel
            left = current[j - 1] + text_indel[j - 1]
            if diagonal <= up and diagonal <= left:
                current[j], cur_starts[j] = diagonal, starts[j - 1]
            elif up <= left:
                current[j], cur_starts[j] = up, starts[j]
            else:
                current[j], cur_starts[j] = left, cur_starts[j - 1]
        previous, starts = current, cur_starts
    end = min(range(n + 1), key=lambda j: (previous[j], j not in ends, -j))
    return previous[end], starts[end], end


def _bigrams(kana: str) -> set[str]:
    return {kana[i : i + 2] for i in range(len(kana) - 1)}


# --- analysis: words, readings, positions -------------------------------------------------------


@dataclass(frozen=True)
class Token:
    surface: str
    kana: str  # normalised reading (long vowels collapsed)
    strict: str  # normalised reading with the long vowels kept
    pos: str
    pos1: str
    pos2: str
    s_start: int  # offsets in Analysis.surface
    s_end: int
    k_start: int  # offsets in Analysis.kana
    k_end: int
    t_start: int  # offsets in Analysis.strict
    t_end: int
    raw: str = ""  # the reading with every vowel kept (テイシズ, not テシズ)


@dataclass(frozen=True)
class Analysis:
    text: str
    tokens: tuple[Token, ...]
    surface: str  # the tokens' surfaces joined (NFKC; OpenJTalk writes digits as kanji)
    kana: str  # the collapsed readings joined
    strict: str  # the readings with long vowels joined
    alternatives: tuple[tuple[int, int, str], ...] = ()  # (first token, last token + 1, reading)

    def _token_at(self, offset: int, which: str) -> int:
        for index, token in enumerate(self.tokens):
            start, end = getattr(token, which + "_start"), getattr(token, which + "_end")
            if start <= offset < end:
                return index
        return max(0, len(self.tokens) - 1)

    def token_at_kana(self, offset: int) -> int:
        return self._token_at(offset, "k")

    def token_at_strict(self, offset: int) -> int:
        return self._token_at(offset, "t")

    def token_at_surface(self, offset: int) -> int:
        return self._token_at(offset, "s")

    @functools.cached_property
    def strict_starts(self) -> frozenset[int]:
        return frozenset(t.t_start for t in self.tokens)

    @functools.cached_property
    def strict_ends(self) -> frozenset[int]:
        return frozenset(t.t_end for t in self.tokens)

    @functools.cached_property
    def bigrams(self) -> set[str]:
        grams = _bigrams(self.kana)
        for _a, _b, reading in self.alternatives:
            grams |= _bigrams(reading)
        return grams

    def sentence_bounds(self, index: int) -> tuple[int, int]:
        """The token range of the sentence holding token ``index``."""
        start = index
        while start > 0 and self.tokens[start - 1].surface not in SENTENCE_END:
            start -= 1
        end = index
        while end < len(self.tokens) and self.tokens[end].surface not in SENTENCE_END:
            end += 1
        return start, end


SENTENCE_END = frozenset("。！？!?")
PUNCTUATION = frozenset("、。！？!?,.・「」『』（）()")


@functools.lru_cache(maxsize=1)
def _sudachi():
    try:
        from sudachipy import Dictionary
    except ImportError:  # pragma: no cover - a core dependency
        return None
    try:
        return Dictionary(dict="core")
    except Exception:  # no dictionary package: the alternative readings are skipped
        return None


@functools.lru_cache(maxsize=8192)
def kanji_readings(char: str) -> tuple[str, ...]:
    """Every reading the SudachiPy dictionary has for one kanji (on and kun), normalised."""
    dictionary = _sudachi()
    if dictionary is None:
        return ()
    found = []
    for morpheme in dictionary.lookup(char):
        if morpheme.surface() == char:
            reading_ = norm_kana(morpheme.reading_form())
            if reading_ and reading_ not in found:
                found.append(reading_)
    return tuple(found)


MAX_ALTERNATIVES = 24


def _alternatives(tokens: list[Token]) -> list[tuple[int, int, str]]:
    """Readings of runs of kanji that OpenJTalk split into one- or two-kanji pieces, made from
    each kanji's dictionary readings: 電中 → デンチュウ (電柱), 関水 → カンスイ (冠水)."""
    result = []
    index = 0
    while index < len(tokens):
        run_end = index
        while (
            run_end < len(tokens)
            and tokens[run_end].surface
            and len(tokens[run_end].surface) <= 2
            and all(KANJI.match(c) for c in tokens[run_end].surface)
        ):
            run_end += 1
        chars = "".join(t.surface for t in tokens[index:run_end])
        single = any(len(t.surface) == 1 for t in tokens[index:run_end])
        if 2 <= len(chars) <= 4 and run_end - index >= 2 and single:
            own = "".join(t.kana for t in tokens[index:run_end])
            options = [kanji_readings(c) or (own,) for c in chars]
            seen = {own}
            for combo in itertools.islice(itertools.product(*options), MAX_ALTERNATIVES):
                alternative = "".join(combo)
                if alternative not in seen:
                    seen.add(alternative)
                    result.append((index, run_end, alternative))
            index = run_end
        else:
            index = max(run_end, index + 1)
    return result


@functools.lru_cache(maxsize=4096)
def analyse(text: str) -> Analysis:
    """Split a transcript into words with readings (OpenJTalk's front end)."""
    import pyopenjtalk

    text = unicodedata.normalize("NFKC", text or "").strip()
    tokens: list[Token] = []
    surface, kana, strict = "", "", ""
    if text:
        try:
            features = pyopenjtalk.run_frontend(text)
        except Exception:  # a sentence OpenJTalk cannot read: one token of its kana
            features = [{"string": text, "pron": katakana(text), "pos": "", "pos_group1": ""}]
        for feature in features:
            word = unicodedata.normalize("NFKC", feature.get("string", ""))
            pron = feature.get("pron", "") or ""
            if not word:
                continue
            joined = bool(tokens) and tokens[-1].surface not in PUNCTUATION
            collapsed = _continue(kana if joined else "", pron)
            kept = _continue(strict if joined else "", pron, collapse=False)
            tokens.append(
                Token(
                    word,
                    collapsed,
                    kept,
                    feature.get("pos", ""),
                    feature.get("pos_group1", ""),
                    feature.get("pos_group2", ""),
                    len(surface),
                    len(surface) + len(word),
                    len(kana),
                    len(kana) + len(collapsed),
                    len(strict),
                    len(strict) + len(kept),
                    norm_kana(pron, collapse=False).replace("ー", ""),
                )
            )
            surface, kana, strict = surface + word, kana + collapsed, strict + kept
    return Analysis(text, tuple(tokens), surface, kana, strict, tuple(_alternatives(tokens)))


def _continue(before: str, pron: str, collapse: bool = True) -> str:
    """A word's normalised reading after the reading so far. A one-vowel word (を read オ)
    lengthens the vowel before it, as a listener hears it: ハマト|を|目 reads ハマトメ, like
    浜当目. Longer words keep their own reading."""
    own = norm_kana(pron, collapse)
    if not before or len(own) != 1 or before[-1] == "ー":
        return own
    return norm_kana(before[-1] + katakana(pron), collapse)[1:]


def reading(text: str) -> str:
    """The normalised katakana reading of a text."""
    return analyse(text).kana


# --- the lexicon ------------------------------------------------------------------------------

# the polite negative of a negative stem: 戻らな → 戻りません, 来な → 来ません, 出られな → 出られません
_A_TO_I = dict(zip("らかさたなまわがばこ", "りきしちにみいぎびき", strict=True))


_A_TO_TE = {
    "ら": "って",
    "た": "って",
    "わ": "って",
    "か": "いて",
    "が": "いで",
    "ま": "んで",
    "ば": "んで",
    "な": "んで",
    "さ": "して",
    "こ": "きて",
}


def negative_forms(written: str) -> list[str]:
    """A term written as a negative stem (…な) also matches its ません form, its ている forms
    (連絡が取れな → 連絡が取れません, 取れていない, 取れていません; つながらな → つながって
    いない) and …がない its …がありません form, so the lexicon lists each negative once."""
    if not written.endswith("な") or len(written) < 2:
        return []
    stem = written[:-1]
    if stem.endswith(("が", "は")):  # 意識がな → 意識がありません
        return [stem + "ありません"]
    if stem.endswith("てい"):  # 息をしていな → 息をしていません
        return [stem + "ません"]
    last = stem[-1]
    forms = [stem[:-1] + _A_TO_I.get(last, last) + "ません"]
    te = stem[:-1] + _A_TO_TE[last] if last in _A_TO_TE else stem + "て"
    forms += [te + "いな", te + "いません"]
    return forms


@dataclass(frozen=True)
class Term:
    written: str  # as in the lexicon (the name shown as evidence)
    forms: tuple[str, ...]  # written forms matched on the text
    readings: tuple[str, ...]  # collapsed readings
    stricts: tuple[str, ...]  # readings with long vowels
    weight: float = 1.0
    self_negative: bool = False
    parts: tuple[Term, ...] = ()  # a term written "A…B": A, then B a few words later


SPLIT = "…"


def _term(spec: str, weight: float = 1.0, self_negative: bool = False) -> Term:
    if SPLIT in spec:
        parts = tuple(_term(part, weight) for part in spec.split(SPLIT) if part)
        written = unicodedata.normalize("NFKC", spec)
        negative = self_negative or written.endswith("な")
        return Term(written, (), (), (), weight, negative, parts)
    written, *extra = spec.split("|")
    written = unicodedata.normalize("NFKC", written)
    forms = [written, *negative_forms(written)]
    collapsed = [analyse(f).kana for f in forms] + [norm_kana(k) for k in extra]
    kept = [analyse(f).strict for f in forms] + [norm_kana(k, collapse=False) for k in extra]
    return Term(
        written,
        tuple(dict.fromkeys(forms)),
        tuple(dict.fromkeys(r for r in collapsed if r)),
        tuple(dict.fromkeys(r for r in kept if r)),
        weight,
        self_negative or written.endswith("な"),
    )


@dataclass(frozen=True)
class Lexicon:
    categories: dict[str, tuple[Term, ...]]
    life_strong: tuple[Term, ...]
    with_person: tuple[Term, ...]
    persons: tuple[Term, ...]
    life_weak: tuple[Term, ...]
    presence: tuple[Term, ...]
    person_presence: tuple[Term, ...]
    needs_power: tuple[Term, ...]
    reassurance: tuple[Term, ...]
    vulnerable: tuple[Term, ...]
    callback: tuple[Term, ...]
    callback_decline: tuple[Term, ...]
    another: tuple[str, ...]
    negation: tuple[str, ...]
    clause_end: tuple[str, ...]
    config: dict = field(default_factory=dict)
    caught: tuple[Term, ...] = ()
    immobile: tuple[Term, ...] = ()
    acute: tuple[Term, ...] = ()
    doubt: tuple[str, ...] = ()

    @functools.cached_property
    def fuzzy(self) -> tuple[int, float, float]:
        """(fuzzy_min_kana, fuzzy_max_cost, fuzzy_weight) of [matching]."""
        return (
            int(self.setting("matching", "fuzzy_min_kana", default=4)),
            float(self.setting("matching", "fuzzy_max_cost", default=0.2)),
            float(self.setting("matching", "fuzzy_weight", default=0.7)),
        )

    def setting(self, *path, default=None):
        value = self.config
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return default
            value = value[key]
        return value


@functools.lru_cache(maxsize=4)
def load_lexicon(path: str | None = None) -> Lexicon:
    data = tomllib.loads(Path(path or LEXICON_PATH).read_text(encoding="utf-8"))
    unknown = set(data.get("categories", {})) - set(INCIDENT_CATEGORIES)
    if unknown:
        raise ValueError(f"triage lexicon: unknown categories {sorted(unknown)}")
    categories = {}
    for name in INCIDENT_CATEGORIES:
        spec = data.get("categories", {}).get(name, {})
        terms = [_term(t, WEIGHTS[level]) for level in WEIGHTS for t in spec.get(level, [])]
        categories[name] = tuple(terms)
    life = data.get("life_threat", {})
    self_negative = set(life.get("self_negative", []))

    def terms(key, section=life, weight=1.0, negative=False):
        return tuple(_term(t, weight, negative or t in self_negative) for t in section.get(key, []))

    return Lexicon(
        categories=categories,
        life_strong=terms("strong", weight=3.0),
        with_person=terms("with_person", weight=3.0),
        persons=terms("persons", negative=True),
        life_weak=terms("weak"),
        presence=terms("presence"),
        person_presence=terms("person_presence"),
        needs_power=terms("needs_power"),
        reassurance=terms("reassurance", negative=True),
        vulnerable=terms("terms", data.get("vulnerable", {})),
        callback=terms("request", data.get("callback", {})),
        callback_decline=terms("decline", data.get("callback", {}), negative=True),
        another=tuple(data.get("proposals", {}).get("another", [])),
        negation=tuple(data.get("negation", {}).get("after", [])),
        clause_end=tuple(data.get("negation", {}).get("clause_end", [])),
        config=data,
        caught=terms("caught"),
        immobile=terms("immobile"),
        acute=terms("acute"),
        doubt=tuple(life.get("doubt", [])),
    )


# --- matching -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    term: Term
    first: int  # token indices, inclusive / exclusive
    last: int
    exact: bool
    score: float  # 1.0 exact, less for an approximate match
    negated: bool = False
    how: str = "text"  # text | reading | fuzzy | kanji

    @property
    def value(self) -> float:
        return self.term.weight * self.score


# いません, いない, ありません, ない …, read as kana (collapsed)
NEGATED_EXISTENCE = (
    "イマセン",
    "イナイ",
    "イナカ",
    "アリマセン",
    "ナイ",
    "ナカツ",
    "ナカッ",
    "ナシ",
)

LIGHT_VERBS = frozenset(
    "し する して い いる あり ある 出 出る 来 き こ くる なっ なり なる 起き おり おる 見当たら".split()
)


def _content(token: Token) -> bool:
    """A word that carries its own meaning: a negation after it negates it, not the term
    before (避難所まで歩いて行けない does not deny the 避難所)."""
    if token.pos == "動詞":
        return token.pos1 != "非自立" and token.surface not in LIGHT_VERBS
    if token.pos == "形容詞":
        return not token.surface.startswith(("な", "無"))
    if token.pos == "名詞":
        return token.pos1 not in ("非自立", "接尾", "代名詞")
    return False


def _negated(analysis: Analysis, last: int, lexicon: Lexicon) -> bool:
    """Whether a negation follows token ``last - 1`` in its clause, before any other content
    word: けが人はいません, 停電はしていない, 火事じゃない. A marker counts only as whole
    words (ず is not the start of ずっと); idioms that hold a negation without negating
    (かもしれない) and doubt (人が乗っているか見えない) do not count."""
    limit = int(lexicon.setting("negation", "max_tokens", default=7))
    ignored = tuple(lexicon.setting("negation", "not_negation", default=[]))
    tokens = analysis.tokens[last : last + limit]
    # by sound too, for kana Whisper split oddly (けがにんわいません: けがに|ん|わい|ませ|ん)
    heard = ""
    for token in tokens[:5]:
        if token.surface in PUNCTUATION:
            break
        heard += token.kana
    if heard[:1] in ("ワ", "ハ", "ガ", "モ"):
        heard = heard[1:]
    if heard.startswith(NEGATED_EXISTENCE):
        return True
    for index, token in enumerate(tokens):
        if token.surface in PUNCTUATION or token.surface in ("か", "かどうか"):
            return False
        rest = "".join(t.surface for t in tokens[index:])
        bounds, offset = {0}, 0
        for t in tokens[index:]:
            offset += len(t.surface)
            bounds.add(offset)
        if rest.startswith(ignored):
            return False
        for marker in lexicon.negation:
            if rest.startswith(marker) and len(marker) in bounds:
                return True
        if _content(token) or any(
            "".join(t.surface for t in tokens[: index + 1]).endswith(end)
            for end in lexicon.clause_end
        ):
            return False
    return False


_KANA_WORD = re.compile(r"^[\u3041-\u309f\u30a0-\u30ffー]+$")


def _kana_word(token: Token) -> bool:
    return bool(_KANA_WORD.match(token.surface)) and len(token.surface) > 2


def _near_short(term: Term, strict: str, analysis: Analysis, add, fuzzy_weight: float) -> None:
    """A 3-kana term one voicing or small-kana slip off, at the start of a word (停電 heard as
    デーデン): counted as an approximate match."""
    size = len(strict)
    text = analysis.strict
    for start in sorted(analysis.strict_starts):
        window = text[start : start + size]
        if len(window) != size or window == strict:
            continue
        cost = sum(sub_cost(a, b) for a, b in zip(strict, window, strict=True))
        if cost == 0.5:
            first = analysis.token_at_strict(start)
            last = analysis.token_at_strict(start + size - 1) + 1
            add(first, last, False, fuzzy_weight * (1 - cost / size), "fuzzy")


def _word_index(words: list[str], offset: int) -> int:
    total = 0
    for index, word in enumerate(words):
        if total >= offset:
            return index
        total += len(word)
    return len(words)


def find(
    term: Term, analysis: Analysis, lexicon: Lexicon, fuzzy: bool = True, skip=frozenset()
) -> list[Hit]:
    """Every place a term occurs in the analysed text (see the module docstring). Tokens in
    ``skip`` (a place name's, say) are never part of a hit."""
    if term.parts:
        return _find_split(term, analysis, lexicon, fuzzy, skip)
    hits: list[Hit] = []
    fuzzy_min, max_cost, fuzzy_weight = lexicon.fuzzy

    def add(first, last, exact, score, how):
        if not skip.intersection(range(first, last)):
            hits.append(Hit(term, first, last, exact, score, how=how))

    surface = analysis.surface
    for form in term.forms:
        start = surface.find(form)
        while start >= 0:
            first = analysis.token_at_surface(start)
            last = analysis.token_at_surface(start + len(form) - 1) + 1
            # a one- or two-character form must be whole words (子 is not in 様子)
            if len(form) > 2 or (
                analysis.tokens[first].s_start == start
                and analysis.tokens[last - 1].s_end == start + len(form)
            ):
                add(first, last, True, 1.0, "text")
            start = surface.find(form, start + 1)
    found_exact = bool(hits)
    # short readings: exact, on the reading with long vowels, on word boundaries (or at the
    # start of a word in kana, as Whisper writes unknown words: カジデース)
    for strict in term.stricts:
        if len(strict.replace("ー", "")) >= fuzzy_min:
            continue
        position = analysis.strict.find(strict)
        while position >= 0:
            end = position + len(strict)
            if position in analysis.strict_starts and (
                len(strict) > 2
                or end in analysis.strict_ends
                or (
                    len(strict) >= 2
                    and _kana_word(analysis.tokens[analysis.token_at_strict(position)])
                )
            ):
                first = analysis.token_at_strict(position)
                add(first, analysis.token_at_strict(end - 1) + 1, True, 1.0, "reading")
                found_exact = True
            position = analysis.strict.find(strict, position + 1)
        if not found_exact and fuzzy and len(strict.replace("ー", "")) >= 3:
            _near_short(term, strict, analysis, add, fuzzy_weight)
    # long readings: exact or approximate, on the collapsed reading
    kana = analysis.kana
    for reading_ in term.readings:
        size = len(reading_)
        if size < fuzzy_min:
            continue
        position = kana.find(reading_)
        while position >= 0:
            first = analysis.token_at_kana(position)
            add(first, analysis.token_at_kana(position + size - 1) + 1, True, 1.0, "reading")
            found_exact = True
            position = kana.find(reading_, position + 1)
        # a negative stem differs from its positive form by one kana: never approximate
        if not fuzzy or found_exact or term.written.endswith("な"):
            continue
        for first, last, alternative in analysis.alternatives:
            if reading_ in alternative:
                add(first, last, False, fuzzy_weight, "kanji")
                break
        grams = _bigrams(reading_)
        allowed = max_cost * size
        if len(grams & analysis.bigrams) < max(1, len(grams) - 2 * int(allowed + 0.5)):
            continue
        cost, begin, end = best_substring(reading_, kana)
        if 0 < cost <= allowed and end > begin:
            first = analysis.token_at_kana(begin)
            last = analysis.token_at_kana(end - 1) + 1
            add(first, last, False, fuzzy_weight * (1 - cost / size), "fuzzy")
    if not term.self_negative:
        hits = [
            Hit(
                h.term,
                h.first,
                h.last,
                h.exact,
                h.score,
                _negated(analysis, h.last, lexicon),
                h.how,
            )
            for h in hits
        ]
    return hits


def _find_split(term: Term, analysis: Analysis, lexicon: Lexicon, fuzzy: bool, skip) -> list[Hit]:
    """A term written "A…B": each part found as a term of its own, B starting at most
    ``[matching] split_gap`` words after A ends, in the same clause (川の水が田んぼにあふれて
    for 川の水…あふれ, 電気が全部消えて for 電気…消え). A negation after B cancels it."""
    gap = int(lexicon.setting("matching", "split_gap", default=4))
    ends = set(lexicon.clause_end) | SENTENCE_END
    found: list[list[Hit]] = [find(part, analysis, lexicon, fuzzy, skip) for part in term.parts]
    chains = [(h.first, h.last, h.exact, h.score) for h in found[0]]
    for hits in found[1:]:
        longer = []
        for first, last, exact, score in chains:
            for hit in hits:
                if not (last <= hit.first <= last + gap):
                    continue
                between = analysis.tokens[last : hit.first]
                if any(t.surface in ends for t in between):
                    continue
                longer.append((first, hit.last, exact and hit.exact, min(score, hit.score)))
        chains = longer
    result = []
    for first, last, exact, score in dict.fromkeys(chains):
        negated = not term.self_negative and _negated(analysis, last, lexicon)
        how = "text" if exact else "fuzzy"
        result.append(Hit(term, first, last, exact, score, negated, how))
    return result


def _best_hits(hits: list[Hit]) -> list[Hit]:
    """Non-overlapping hits, the most valuable (then the longest) first; negated ones dropped."""
    chosen: list[Hit] = []
    taken: set[int] = set()
    for hit in sorted(
        (h for h in hits if not h.negated),
        key=lambda h: (-h.value, -(h.last - h.first), -len(h.term.written)),
    ):
        span = set(range(hit.first, max(hit.last, hit.first + 1)))
        if span & taken:
            continue
        chosen.append(hit)
        taken |= span
    return chosen


def match_terms(terms, analysis: Analysis, lexicon: Lexicon, fuzzy=True, skip=frozenset()):
    hits: list[Hit] = []
    for term in terms:
        hits.extend(find(term, analysis, lexicon, fuzzy, skip))
    return hits


def _live(hits: list[Hit]) -> list[Hit]:
    return [h for h in hits if not h.negated]


# --- category ---------------------------------------------------------------------------------------


def category_hits(analysis: Analysis, lexicon: Lexicon, skip=frozenset()) -> dict[str, list[Hit]]:
    """The counted hits per category: not negated, not overlapping (the most valuable kept)."""
    result = {}
    for category, terms in lexicon.categories.items():
        if terms:
            hits = _best_hits(match_terms(terms, analysis, lexicon, skip=skip))
            if hits:
                result[category] = hits
    return result


def scores_of(hits: dict[str, list[Hit]], first: int = 0, last: int | None = None):
    """Scores and evidence per category from the hits inside tokens [first, last)."""
    scores: dict[str, float] = {}
    evidence: dict[str, list[str]] = {}
    for category, found in hits.items():
        inside = [h for h in found if h.first >= first and (last is None or h.first < last)]
        total = sum(h.value for h in inside)
        if total > 0:
            scores[category] = round(total, 3)
            evidence[category] = [h.term.written for h in inside]
    return scores, evidence


def category_scores(
    analysis: Analysis, lexicon: Lexicon, skip=frozenset()
) -> tuple[dict[str, float], dict]:
    return scores_of(category_hits(analysis, lexicon, skip))


def _add_cause(analysis: Analysis, hits: dict[str, list[Hit]], scores: dict, lexicon: Lexicon):
    """The labelling rule's "the hazard before the damage it causes": a strong term of a
    ``[cause] categories`` hazard followed by a cause marker (地滑りで, 強風のせいで) adds
    ``[cause] bonus`` to its category, so 地滑りで道路にひびが入って is a landslide."""
    markers = tuple(lexicon.setting("cause", "after", default=[]))
    bonus = float(lexicon.setting("cause", "bonus", default=0))
    if not markers or not bonus:
        return
    for category in lexicon.setting("cause", "categories", default=[]):
        for hit in hits.get(category, []):
            following = "".join(t.surface for t in analysis.tokens[hit.last : hit.last + 3])
            if hit.term.weight >= WEIGHTS["strong"] and following.startswith(markers):
                scores[category] = round(scores.get(category, 0) + bonus, 3)
                break


def _precedent(scores: dict[str, float], lexicon: Lexicon) -> str | None:
    """The category of ``[precedence]`` that reached its score, if any (a fire)."""
    for category, minimum in lexicon.setting("precedence", default={}).items():
        if scores.get(category, 0) >= float(minimum):
            return category
    return None


def pick_category(scores: dict[str, float], lexicon: Lexicon) -> str:
    floor = float(lexicon.setting("matching", "other_below", default=1.5))
    priority = list(lexicon.setting("proposals", "priority", default=INCIDENT_CATEGORIES))
    if not scores or max(scores.values()) < floor:
        return "other"
    first = _precedent(scores, lexicon)
    if first is not None:
        return first

    def rank(category):
        order = priority.index(category) if category in priority else len(priority)
        return (scores[category], -order)

    return max(scores, key=rank)


# --- life threat ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LifeThreat:
    level: str  # yes | check | no
    reasons: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        return self.level != "no"


def _person_near(analysis: Analysis, hit: Hit, persons: list[Hit]) -> bool:
    """Whether a person word is the cue's subject: before it in its sentence (at most 10
    words back), or right after it (流された人)."""
    start, _end = analysis.sentence_bounds(hit.first)
    subject = ("が", "は", "も", "と")
    honorific = ("さん", "ちゃん", "様", "さま", "くん", "君")

    def particle_after(p: Hit) -> bool:
        index = p.last
        if index < len(analysis.tokens) and analysis.tokens[index].surface in honorific:
            index += 1
        return index < len(analysis.tokens) and analysis.tokens[index].surface in subject

    return any(
        (start <= p.first < hit.first and hit.first - p.last <= 10 and particle_after(p))
        or (hit.last <= p.first <= hit.last + 2)
        for p in persons
    )


def _person_absent(analysis: Analysis, hit: Hit, lexicon: Lexicon) -> bool:
    """人はいません, 誰もいない: the person word is denied."""
    following = "".join(t.surface for t in analysis.tokens[hit.last : hit.last + 5])
    return following.startswith(tuple(lexicon.setting("life_threat", "person_absent", default=[])))


def _persons(analysis: Analysis, lexicon: Lexicon, skip=frozenset()) -> list[Hit]:
    return [
        p
        for p in match_terms(lexicon.persons, analysis, lexicon, fuzzy=False, skip=skip)
        if not _person_absent(analysis, p, lexicon)
    ]


def person_presence(analysis: Analysis, lexicon: Lexicon, skip=frozenset()) -> list[Hit]:
    """A person word right before a presence predicate: 中に祖父がいます, 母が残っています."""
    persons = _persons(analysis, lexicon, skip)
    if not persons:
        return []
    ends = {p.last for p in persons}
    terms = lexicon.person_presence
    return [
        h
        for h in _live(match_terms(terms, analysis, lexicon, fuzzy=False, skip=skip))
        if h.first in ends
    ]


def person_cues(analysis: Analysis, lexicon: Lexicon, skip=frozenset()) -> list[Hit]:
    """Cues that are a danger to life when said of a person (母が倒れて, 人が流され)."""
    persons = _persons(analysis, lexicon, skip)
    if not persons:
        return []
    cues = _live(match_terms(lexicon.with_person, analysis, lexicon, fuzzy=False, skip=skip))
    return [h for h in cues if _person_near(analysis, h, persons)]


def _doubted(analysis: Analysis, hit: Hit, lexicon: Lexicon) -> bool:
    """The caller does not know whether it is so: a doubt marker (かもしれない, か分からない,
    かどうか, か見えない …) after the cue, in its sentence, within ``[life_threat]
    doubt_tokens`` words (逃げ遅れた人がいるかもしれません, 人が乗っているか見えません)."""
    if not lexicon.doubt:
        return False
    limit = int(lexicon.setting("life_threat", "doubt_tokens", default=8))
    _start, end = analysis.sentence_bounds(max(hit.last - 1, hit.first))
    after = "".join(t.surface for t in analysis.tokens[hit.last : min(end, hit.last + limit)])
    return any(marker in after for marker in lexicon.doubt)


@dataclass(frozen=True)
class Cues:
    """What the call says about people in danger (see :func:`danger_cues`)."""

    caught: tuple[Hit, ...] = ()  # a person caught by the hazard: a rescue, whatever it is
    doubted: tuple[Hit, ...] = ()  # the same, but the caller does not know (要確認)
    fuzzy: tuple[Hit, ...] = ()  # approximate matches of strong cues
    presence: tuple[Hit, ...] = ()  # somebody is still at the hazard
    device: tuple[Hit, ...] = ()  # a medical device that needs power
    acute: tuple[Hit, ...] = ()  # the person has collapsed or does not respond
    reassured: bool = False


def danger_cues(analysis: Analysis, lexicon: Lexicon, skip=frozenset()) -> Cues:
    """The life-threat cues of a call, sorted by what they mean for the category:

    - ``caught``: an exact strong cue (閉じ込め, 息をしていない, 中に人 …) or a cue said of a
      person (母が倒れて, 子どもが戻らない); a person present in a house the hazard has
      caught (埋まって, つぶれ, のみこまれ …, the lexicon's ``caught``); a person present who
      cannot move by themselves (寝たきり, 足が不自由 …, ``immobile``) in a flood, surge,
      landslide or collapse (``immobile_hazards``);
    - ``doubted``: such a cue that the caller is not sure of (…かもしれません);
    - ``presence``: somebody still at the hazard (中にいます, 家に残っています)."""
    life = lexicon.config.get("life_threat", {})
    strong = _live(match_terms(lexicon.life_strong, analysis, lexicon, skip=skip))
    exact = [h for h in strong if h.exact] + person_cues(analysis, lexicon, skip)
    presence = _live(match_terms(lexicon.presence, analysis, lexicon, fuzzy=False, skip=skip))
    presence += person_presence(analysis, lexicon, skip)
    reassured = bool(
        _live(match_terms(lexicon.reassurance, analysis, lexicon, fuzzy=False, skip=skip))
    )
    firm = [h for h in presence if not _doubted(analysis, h, lexicon)]
    if firm and not reassured:
        house = _live(match_terms(lexicon.caught, analysis, lexicon, fuzzy=False, skip=skip))
        still = _live(match_terms(lexicon.immobile, analysis, lexicon, fuzzy=False, skip=skip))
        if house:
            exact += house[:1] + firm[:1]
        elif still:
            scores, _evidence = category_scores(analysis, lexicon, skip)
            hazards = life.get("immobile_hazards", [])
            if hazards and pick_category(scores, lexicon) in hazards:
                exact += still[:1] + firm[:1]
    caught = [h for h in exact if not _doubted(analysis, h, lexicon)]
    doubted = [h for h in exact if _doubted(analysis, h, lexicon)]
    return Cues(
        caught=tuple(caught),
        doubted=tuple(doubted),
        fuzzy=tuple(h for h in strong if not h.exact),
        presence=tuple(presence),
        device=tuple(
            _live(match_terms(lexicon.needs_power, analysis, lexicon, fuzzy=False, skip=skip))
        ),
        acute=tuple(_live(match_terms(lexicon.acute, analysis, lexicon, fuzzy=False, skip=skip))),
        reassured=reassured,
    )


def rescue_cues(analysis: Analysis, lexicon: Lexicon, skip=frozenset()) -> list[Hit]:
    """The cues that make a call a rescue: a person caught by the hazard (see
    :func:`danger_cues`)."""
    return list(danger_cues(analysis, lexicon, skip).caught)


def device_outage(cues: Cues, scores: dict) -> bool:
    """A medical device without power, the person not (yet) collapsed: the desk must bring
    power, so the call stays a power outage (the labelling rule, docs/transcription.md)."""
    return bool(cues.device) and not cues.acute and scores.get("power_outage", 0) >= 2


def life_threat(
    analysis: Analysis,
    category: str,
    vulnerable: bool,
    lexicon: Lexicon,
    scores: dict,
    skip=frozenset(),
    cues: Cues | None = None,
) -> LifeThreat:
    life = lexicon.config.get("life_threat", {})
    min_fuzzy = int(life.get("fuzzy_check_min_kana", 5))
    cues = cues or danger_cues(analysis, lexicon, skip)
    if cues.caught:
        return LifeThreat("yes", tuple(dict.fromkeys(h.term.written for h in cues.caught)))
    device = cues.device
    if device and (category == "power_outage" or scores.get("power_outage", 0) >= 2):
        return LifeThreat("yes", tuple(dict.fromkeys(h.term.written for h in device)))
    presence = [h for h in cues.presence if not _doubted(analysis, h, lexicon)]
    reassured = cues.reassured
    if presence and not reassured and category in life.get("presence_yes", []):
        return LifeThreat("yes", tuple(dict.fromkeys(h.term.written for h in presence)))
    reasons: list[str] = [f"{h.term.written}?" for h in device]  # a device: is the power on?
    # the caller is not sure somebody is there: never silent, always 要確認
    reasons += [f"{h.term.written}?" for h in cues.doubted]
    reasons += [f"{h.term.written}?" for h in cues.presence if h not in presence]
    if presence and not reassured and category in life.get("presence_check", []):
        reasons += [h.term.written for h in presence]
    if not reassured:
        # an approximate match of a long strong cue: somebody should listen again
        reasons += [
            f"~{h.term.written}"
            for h in cues.fuzzy
            if h.term.readings and len(h.term.readings[0]) >= min_fuzzy
        ]
        if category in life.get("check_categories", []):
            reasons.append(f"category:{category}")
        weak = _live(match_terms(lexicon.life_weak, analysis, lexicon, fuzzy=False, skip=skip))
        reasons += [h.term.written for h in weak]
        if vulnerable and category in life.get("vulnerable_check", []):
            reasons.append("vulnerable")
    if reasons:
        return LifeThreat("check", tuple(dict.fromkeys(reasons)))
    return LifeThreat("no")


# --- other facts ---------------------------------------------------------------------------------------

KANJI_DIGITS = "〇一二三四五六七八九"
_AGE = re.compile(r"([0-9]+|[一二三四五六七八九]?十[一二三四五六七八九]?)\s*(?:代|台|歳|才)")
_PEOPLE = re.compile(r"([0-9]+|[一二三四五六七八九十百]+)\s*人")
_ABOUT_PEOPLE = re.compile(r"(十|[0-9]+)\s*数\s*人")


def kanji_number(token: str) -> int | None:
    """12, 十二, 二十, 百 → int; None when it is not a number."""
    token = unicodedata.normalize("NFKC", token)
    if token.isdigit():
        return int(token)
    if not token or any(c not in KANJI_DIGITS + "十百" for c in token):
        return None
    total, current = 0, 0
    for char in token:
        if char == "百":
            total += (current or 1) * 100
            current = 0
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = current * 10 + KANJI_DIGITS.index(char)
    return total + current


def is_vulnerable(
    analysis: Analysis, lexicon: Lexicon, skip=frozenset()
) -> tuple[bool, tuple[str, ...]]:
    hits = _live(match_terms(lexicon.vulnerable, analysis, lexicon, fuzzy=False, skip=skip))
    reasons = [h.term.written for h in hits]
    threshold = int(lexicon.setting("vulnerable", "elderly_age", default=70))
    for match in _AGE.finditer(analysis.surface):
        age = kanji_number(match.group(1))
        if age is not None and threshold <= age < 130:
            reasons.append(match.group(0))
    return bool(reasons), tuple(dict.fromkeys(reasons))


def count_people(analysis: Analysis, lexicon: Lexicon) -> int | None:
    """The largest number of people the caller names (3人, 三人, ふたり, 夫婦 …), or None."""
    not_before = tuple(lexicon.setting("people", "not_before", default=[]))
    found: list[int] = []
    text = analysis.surface
    for match in _PEOPLE.finditer(text):
        after = text[match.end() : match.end() + 1]
        if after in ("工", "口") or text[max(0, match.start() - 2) : match.start()] in not_before:
            continue
        number = kanji_number(match.group(1))
        if number is not None and 0 < number < 10000:
            found.append(number)
    for match in _ABOUT_PEOPLE.finditer(text):
        number = kanji_number(match.group(1))
        if number:
            found.append(number)
    words = lexicon.setting("people", "words", default={})
    if not found:
        for word, number in words.items():
            position = text.find(word)
            if position >= 0 and not text.startswith("暮らし", position + len(word)):
                found.append(int(number))
    return max(found) if found else None


# callback numbers: 0X0-XXXX-XXXX, 054-XXX-XXXX, with hyphens, spaces or none, in any width
PHONE = re.compile(r"(?<!\d)0\d{1,4}[-‐ー－\s]?\d{1,4}[-‐ー－\s]?\d{3,4}(?!\d)")


def callback_requested(analysis: Analysis, lexicon: Lexicon) -> bool:
    if _live(match_terms(lexicon.callback_decline, analysis, lexicon, fuzzy=False)):
        return False
    if PHONE.search(analysis.text):
        return True
    return bool(_live(match_terms(lexicon.callback, analysis, lexicon, fuzzy=False)))


# --- several incidents -----------------------------------------------------------------------------

_SENTENCE = re.compile(r"[^。！？!?]+[。！？!?]?")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text or "") if s.strip()]


@dataclass(frozen=True)
class Proposal:
    category: str
    score: float
    text: str  # the sentence it comes from


def _related(a: str, b: str, lexicon: Lexicon) -> bool:
    pairs = lexicon.setting("proposals", "same_incident", default=[])
    return any({a, b} == set(pair) for pair in pairs)


def proposals(
    analysis: Analysis, hits: dict[str, list[Hit]], primary: str, lexicon: Lexicon
) -> list[Proposal]:
    """The further incidents of a call: a category that leads a sentence of its own with at
    least ``min_score``, is not the primary one and is not part of it (``same_incident``), or
    is introduced by an "another thing" connector (それと, あと …)."""
    minimum = float(lexicon.setting("proposals", "min_score", default=3))
    found: dict[str, Proposal] = {}
    start = 0
    while start < len(analysis.tokens):
        first, last = analysis.sentence_bounds(start)
        start = last + 1
        scores, _evidence = scores_of(hits, first, last)
        if not scores:
            continue
        category = pick_category(scores, lexicon)
        if category in ("other", primary) or scores[category] < minimum:
            continue
        sentence = "".join(
            t.surface for t in analysis.tokens[first : min(last + 1, len(analysis.tokens))]
        )
        connector = any(word in sentence for word in lexicon.another)
        if _related(category, primary, lexicon) and not connector:
            continue
        if category not in found or scores[category] > found[category].score:
            found[category] = Proposal(category, scores[category], sentence)
    return sorted(found.values(), key=lambda p: -p.score)


# --- the whole triage ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Triage:
    category: str
    scores: dict
    evidence: dict
    life: LifeThreat
    vulnerable: bool
    vulnerable_reasons: tuple[str, ...]
    people: int | None
    callback_requested: bool
    further: tuple[Proposal, ...] = ()

    def to_dict(self) -> dict:
        return {
            "category": self.category,
            "category_scores": self.scores,
            "evidence": self.evidence,
            "life_threat_level": self.life.level,
            "life_threat_reasons": list(self.life.reasons),
            "vulnerable": self.vulnerable,
            "vulnerable_reasons": list(self.vulnerable_reasons),
            "people": self.people,
            "callback_requested": self.callback_requested,
            "proposals": [
                {"category": p.category, "score": p.score, "text": p.text} for p in self.further
            ],
        }


def skip_tokens(analysis: Analysis, words) -> frozenset[int]:
    """The tokens of the given words (place names) in the analysed text: a town called 森川 or
    新港 must not count as a river or a port."""
    skip: set[int] = set()
    for word in words:
        word = unicodedata.normalize("NFKC", word or "")
        if not word:
            continue
        start = analysis.surface.find(word)
        while start >= 0:
            first = analysis.token_at_surface(start)
            last = analysis.token_at_surface(start + len(word) - 1) + 1
            skip.update(range(first, last))
            start = analysis.surface.find(word, start + 1)
    return frozenset(skip)


def triage(
    text: str,
    lexicon: Lexicon | None = None,
    skip: frozenset[int] = frozenset(),
    skip_words: tuple[str, ...] = (),
) -> Triage:
    """Triage a transcript. ``skip`` are token indices of :func:`analyse` (text) to ignore, and
    ``skip_words`` written words to ignore (the place names the caller said)."""
    lexicon = lexicon or load_lexicon()
    analysis = analyse(text)
    skip = frozenset(skip) | skip_tokens(analysis, skip_words)
    hits = category_hits(analysis, lexicon, skip)
    scores, evidence = scores_of(hits)
    _add_cause(analysis, hits, scores, lexicon)
    # the labelling rule (docs/transcription.md): a person caught by the hazard makes it a rescue,
    # whatever the hazard, except a fire; a device without power stays an outage
    cues = danger_cues(analysis, lexicon, skip)
    bonus = float(lexicon.setting("life_threat", "rescue_bonus", default=0))
    if bonus and cues.caught:
        scores["rescue"] = round(scores.get("rescue", 0) + bonus, 3)
        evidence.setdefault("rescue", []).extend(h.term.written for h in cues.caught)
    category = pick_category(scores, lexicon)
    if device_outage(cues, scores):
        category = "power_outage"
    elif cues.caught and _precedent(scores, lexicon) is None:
        category = "rescue"
    elif category == "rescue" and cues.doubted and not cues.caught:
        # nobody known to be caught: the hazard, flagged 要確認
        scores_left = {c: v for c, v in scores.items() if c != "rescue"}
        category = pick_category(scores_left, lexicon) if scores_left else category
    vulnerable, why = is_vulnerable(analysis, lexicon, skip)
    life = life_threat(analysis, category, vulnerable, lexicon, scores, skip, cues)
    return Triage(
        category=category,
        scores=scores,
        evidence=evidence,
        life=life,
        vulnerable=vulnerable,
        vulnerable_reasons=why,
        people=count_people(analysis, lexicon),
        callback_requested=callback_requested(analysis, lexicon),
        further=tuple(proposals(analysis, hits, category, lexicon)),
    )
