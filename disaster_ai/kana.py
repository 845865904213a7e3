"""Kana → Hepburn romaji: small, deterministic, no dictionary. Used by the notices app (English
names of districts and shelters) and by the municipality table builder."""

from __future__ import annotations

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


def hiragana(text: str) -> str:
    """Katakana folded to hiragana; anything else kept as it is."""
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


def kana_to_romaji(kana: str) -> str:
    """Modified Hepburn without macrons (おお/おう → o, うう → u), capitalised per word.
    Katakana is folded to hiragana; anything else is kept as it is."""
    text = hiragana(kana.strip())
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
