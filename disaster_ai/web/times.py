"""Dates and times as the desk shows and reads them: Japanese format, Japan time.

Forms never use ``<input type=date>`` or ``datetime-local``: those show the browser's locale
(「mm/dd/yyyy」 on an English-language browser). They use a text field that takes what a person
in Japan writes, and the page shows the value back the same way:

- ``2026年7月1日 20時05分``, ``2026年7月1日 20:05``, ``2026年7月1日 午後8時5分``
- ``2026/7/1 20:05``, ``2026-07-01 20:05``, ``2026-07-01T20:05`` (ISO, Japan time)
- ``令和8年7月1日 20:05`` (the era year), ``7月1日 20:05`` (this year)

Full-width digits are read too (NFKC). Filters for templates: ``jp_datetime`` (「2026年7月1日（水）
20:05」 in Japanese, "1 July 2026, 20:05 JST" in English) and ``jp_date``.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from disaster_ai.i18n import reader_reads_english
from disaster_ai.storage.base import JST, now

WEEKDAYS_JA = "月火水木金土日"
# The eras a date of the desk can be in (first Gregorian year of each).
ERAS = {"令和": 2019, "平成": 1989}

_DATE = re.compile(
    r"^(?:(?P<era>令和|平成)?(?P<y>元|\d{1,4})\s*[年/\-.]\s*)?"
    r"(?P<m>\d{1,2})\s*[月/\-.]\s*(?P<d>\d{1,2})\s*日?"
)
_WEEKDAY = re.compile(r"^\s*[(（][月火水木金土日][)）]")
_TIME = re.compile(
    r"^(?P<half>午前|午後)?\s*(?P<h>\d{1,2})\s*"
    r"(?:[:時]\s*(?:(?P<min>\d{1,2})\s*分?)?(?::\d{1,2})?)?$"
)


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


def _read_date(text: str) -> tuple[date, str]:
    """The date at the start of ``text`` and what follows it (ValueError when none)."""
    match = _DATE.match(text)
    if match is None:
        raise ValueError(text)
    year_text = match.group("y")
    if year_text is None:
        year = now().year
    else:
        year = 1 if year_text == "元" else int(year_text)
        era = match.group("era")
        if era:
            year = ERAS[era] + year - 1
        elif year < 100:
            year += 2000
    day = date(year, int(match.group("m")), int(match.group("d")))
    rest = text[match.end() :]
    weekday = _WEEKDAY.match(rest)
    if weekday:
        rest = rest[weekday.end() :]
    return day, rest.strip()


def parse_local_datetime(text: str) -> datetime | None:
    """A moment typed in Japan time (the formats above) → an aware datetime; empty → None.
    ValueError when it cannot be read."""
    text = _normal(text)
    if not text:
        return None
    try:  # ISO 8601, with or without an offset
        moment = datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        pass
    else:
        return moment.replace(tzinfo=JST) if moment.tzinfo is None else moment.astimezone(JST)
    day, rest = _read_date(text.replace("T", " "))
    match = _TIME.match(rest)
    if match is None or not rest:
        raise ValueError(text)
    hour, minute = int(match.group("h")), int(match.group("min") or 0)
    if match.group("half"):
        if hour > 12:
            raise ValueError(text)
        hour = hour % 12 + (12 if match.group("half") == "午後" else 0)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=JST)


def parse_local_date(text: str) -> date | None:
    """A day typed in Japanese format (2026年7月1日, 2026/7/1, 2026-07-01); empty → None."""
    text = _normal(text)
    if not text:
        return None
    day, rest = _read_date(text)
    if rest:
        raise ValueError(text)
    return day


def input_datetime(value) -> str:
    """The value a text field shows for a moment: 「2026年7月1日 20:05」 (any language: the
    field takes the Japanese form)."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment.astimezone(JST)
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"


def input_date(value) -> str:
    if not value:
        return ""
    day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    return f"{day.year}年{day.month}月{day.day}日"


def jp_datetime(value, seconds: bool = False) -> str:
    """A time for people: 「2026年7月1日（水）20:05」, or "1 July 2026, 20:05 JST" in English."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment.astimezone(JST)
    clock = moment.strftime("%H:%M:%S" if seconds else "%H:%M")
    if reader_reads_english():
        return f"{moment.day} {moment:%B %Y}, {clock} JST"
    weekday = WEEKDAYS_JA[moment.weekday()]
    return f"{moment.year}年{moment.month}月{moment.day}日（{weekday}）{clock}"


def jp_date(value) -> str:
    """A day for people: 「2026年7月1日（水）」, or "1 July 2026" in English."""
    if not value:
        return ""
    day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    if reader_reads_english():
        return f"{day.day} {day:%B %Y}"
    return f"{day.year}年{day.month}月{day.day}日（{WEEKDAYS_JA[day.weekday()]}）"


def register_filters(app) -> None:
    app.add_template_filter(jp_datetime, "jp_datetime")
    app.add_template_filter(jp_date, "jp_date")
    app.add_template_filter(input_datetime, "input_datetime")
    app.add_template_filter(input_date, "input_date")


# --- the era dates of official documents (bulletins, damage reports) -----------------------


def _era(day: date) -> str:
    if day >= date(2019, 5, 1):
        year = day.year - 2018
        return f"令和{'元' if year == 1 else year}年"
    if day >= date(1989, 1, 8):
        year = day.year - 1988
        return f"平成{'元' if year == 1 else year}年"
    return f"{day.year}年"


def ja_datetime(value: str | None) -> str:
    """``2026-09-05T10:00:00+09:00`` → ``令和8年9月5日 10時00分``."""
    if not value:
        return ""
    t = datetime.fromisoformat(value).astimezone(JST)
    return f"{_era(t.date())}{t.month}月{t.day}日 {t.hour}時{t.minute:02d}分"
