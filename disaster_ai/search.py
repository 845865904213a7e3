"""The desk's search box: one query, every plugin's answers (``dai_search``).

The core checks the query, asks each plugin (a failing one is logged and skipped), merges the
answers by score and cuts them to ``SEARCH_MAX_RESULTS``. Plugins match names with
:class:`Matcher`, which also finds a place by its reading: in hiragana, katakana or romaji
(``おおがわ``, ``オオガワ``, ``ogawa`` / ``oogawa``).
"""

from __future__ import annotations

import re
import unicodedata

from flask import current_app
from flask_babel import gettext as _

from disaster_ai.errors import ApiError
from disaster_ai.kana import kana_to_romaji
from disaster_ai.plugins import safe_collect
from disaster_ai.types import SearchResult

MAX_QUERY = 100


def fold(text: str) -> str:
    """NFKC, lower case, no spaces; katakana folded to hiragana."""
    text = unicodedata.normalize("NFKC", text or "").strip().lower()
    text = "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)
    return re.sub(r"[\s\u3000・･\-‐]+", "", text)


def romaji_key(text: str) -> str:
    """Romaji without long vowels or separators, so ``Oogawa``, ``Ōgawa`` and ``ogawa`` meet."""
    text = unicodedata.normalize("NFKD", text or "").lower()
    text = "".join(c for c in text if "a" <= c <= "z")
    for long, short in (("ou", "o"), ("oo", "o"), ("uu", "u"), ("nn", "n")):
        text = text.replace(long, short)
    return text


def _is_kana(text: str) -> bool:
    return bool(text) and all("ぁ" <= c <= "ゖ" or c == "ー" for c in text)


class Matcher:
    """Scores a name (and its reading, and other text such as an address) against a query."""

    def __init__(self, query: str):
        self.query = query
        self.folded = fold(query)
        self.kana = self.folded if _is_kana(self.folded) else ""
        ascii_only = self.folded.isascii() and any(c.isalpha() for c in self.folded)
        self.romaji = romaji_key(self.folded) if ascii_only else ""

    def score(self, name: str, reading: str = "", *others: str) -> int:
        """100 the name itself, 80 a name that starts with the query, 70 the reading,
        60 a reading that starts with it (kana or romaji), 40 a name that contains it,
        30 another text (an address) that contains it; 0 no match."""
        q = self.folded
        if not q:
            return 0
        n = fold(name)
        if n == q:
            return 100
        if n.startswith(q):
            return 80
        r = fold(reading)
        if r and self.kana:
            if r == self.kana:
                return 70
            if r.startswith(self.kana):
                return 60
        if r and self.romaji and len(self.romaji) >= 2:
            rk = romaji_key(kana_to_romaji(r))
            if rk == self.romaji:
                return 70
            if rk.startswith(self.romaji):
                return 60
        if q in n:
            return 40
        if any(q in fold(other) for other in others if other):
            return 30
        return 0


def check_query(query: str | None) -> str:
    query = (query or "").strip()
    if not query:
        raise ApiError(422, "invalid", _("Type what to search for."), {"fields": {"q": "empty"}})
    if len(query) > MAX_QUERY:
        raise ApiError(
            422,
            "invalid",
            _("Search for at most %(n)s characters.", n=MAX_QUERY),
            {"fields": {"q": "too_long"}},
        )
    return query


def search(query: str, actor, lang: str) -> list[SearchResult]:
    """Every plugin's answers to ``query`` (checked with :func:`check_query` first), best
    first, at most ``SEARCH_MAX_RESULTS``."""
    query = check_query(query)
    pm = current_app.extensions["disaster_ai"]
    found = [
        item
        for item in safe_collect(pm, "dai_search", query=query, actor=actor, lang=lang)
        if isinstance(item, SearchResult)
    ]
    found.sort(key=lambda r: (-r.score, r.kind, r.label))
    return found[: int(current_app.config["SEARCH_MAX_RESULTS"])]


def result_dict(result: SearchResult) -> dict:
    return {
        "kind": result.kind,
        "kind_label": str(result.kind_label),
        "label": result.label,
        "detail": result.detail,
        "url": result.url,
        "lat": result.lat,
        "lon": result.lon,
        "score": result.score,
    }
