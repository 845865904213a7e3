"""The national table of municipalities and 政令市 wards (data/municipalities.csv, built by
build_table.py; sources and licences in data/SOURCES.md), and the look-up that
`disaster-ai init --municipality CODE` and `disaster-ai municipality set` use.

A query is a 団体コード (6 digits, the check digit is verified), a JIS X 0402 code (5 digits) or
a name: 「一宮市」, 「美郷町」 with ``prefecture="秋田県"``, 「秋田県美郷町」, 「仙北郡美郷町」,
「浜松市中央区」. A name that several municipalities carry raises ``Ambiguous`` with the candidates.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

TABLE = Path(__file__).resolve().parent / "data" / "municipalities.csv"


@dataclass(frozen=True)
class Entry:
    lg_code: str
    jis_code: str
    prefecture: str
    prefecture_kana: str
    county: str
    name: str
    name_kana: str
    name_en: str
    kind: str  # municipality | special_ward | designated_city | ward
    parent_jis: str
    jma_area_code: str
    jma_area_source: str  # "derived" (JIS code + 00) or where the exception comes from

    @property
    def full_name(self) -> str:
        return f"{self.prefecture}{self.county}{self.name}"

    def as_dict(self) -> dict:
        return asdict(self)


class LookupProblem(ValueError):
    """The query names no municipality, or several. ``candidates`` lists the matches."""

    def __init__(self, message: str, candidates: tuple[Entry, ...] = ()):
        super().__init__(message)
        self.message = message
        self.candidates = candidates


class NotFound(LookupProblem):
    pass


class Ambiguous(LookupProblem):
    pass


def check_digit(jis: str) -> str:
    """The 6th digit of a 全国地方公共団体コード (総務省: 11 − (Σ digit × 6,5,4,3,2) mod 11, last digit)."""
    total = sum(int(d) * w for d, w in zip(jis, (6, 5, 4, 3, 2), strict=True))
    return str((11 - total % 11) % 10)


def lg_code(jis: str) -> str:
    return jis + check_digit(jis)


@cache
def entries() -> tuple[Entry, ...]:
    with TABLE.open(encoding="utf-8", newline="") as f:
        return tuple(Entry(**row) for row in csv.DictReader(f))


@cache
def _by_jis() -> dict[str, Entry]:
    return {e.jis_code: e for e in entries()}


def by_jis(jis: str) -> Entry | None:
    return _by_jis().get(jis)


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").replace(" ", "").replace("　", "").strip()


def _(message: str, **params) -> str:
    from flask import has_app_context

    if has_app_context():
        from flask_babel import gettext

        return gettext(message, **params)
    return message % params if params else message


def lookup(query: str, prefecture: str | None = None) -> Entry:
    """The one entry ``query`` names (see the module doc). Raises NotFound or Ambiguous."""
    text = _norm(query)
    pref = _norm(prefecture or "")
    if not text:
        raise NotFound(_("Give a 団体コード (6 digits), a JIS code (5 digits) or a name."))
    if text.isdigit():
        if len(text) == 6:
            if check_digit(text[:5]) != text[5]:
                raise NotFound(
                    _(
                        "%(code)s is not a 団体コード: its check digit should be %(digit)s.",
                        code=text,
                        digit=check_digit(text[:5]),
                    )
                )
            text = text[:5]
        if len(text) != 5:
            raise NotFound(
                _(
                    "%(code)s is neither a 団体コード (6 digits) nor a JIS code (5 digits).",
                    code=text,
                )
            )
        entry = by_jis(text)
        if entry is None:
            raise NotFound(_("No municipality has the code %(code)s.", code=text))
        return entry
    matches = [e for e in entries() if _matches(e, text)]
    if pref:
        matches = [
            e for e in matches if e.prefecture == pref or e.prefecture.rstrip("都道府県") == pref
        ]
    if not matches:
        raise NotFound(_("No municipality is called %(name)s.", name=query))
    if len(matches) > 1:
        listed = "、".join(f"{e.full_name}（{e.lg_code}）" for e in matches[:12])
        raise Ambiguous(
            _(
                "Several municipalities are called %(name)s: %(candidates)s. Give the prefecture "
                "(--prefecture) or the 団体コード.",
                name=query,
                candidates=listed,
            ),
            tuple(matches),
        )
    return matches[0]


def _matches(entry: Entry, text: str) -> bool:
    forms = {
        entry.name,
        entry.county + entry.name,
        entry.prefecture + entry.name,
        entry.prefecture + entry.county + entry.name,
    }
    return text in forms
