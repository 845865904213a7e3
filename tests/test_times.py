"""Dates and times in Japanese format: what the forms read, what the pages show."""

from datetime import date, datetime

import pytest
from flask import Flask
from flask_babel import Babel, force_locale

from disaster_ai.storage.base import JST
from disaster_ai.web import times

WANT = datetime(2026, 7, 1, 20, 5, tzinfo=JST)


@pytest.mark.parametrize(
    "typed",
    [
        "2026年7月1日 20:05",
        "2026年7月1日 20時05分",
        "2026年7月1日 午後8時5分",
        "2026年7月1日（水） 20:05",
        "令和8年7月1日 20:05",
        "2026/7/1 20:05",
        "2026-07-01 20:05",
        "2026-07-01T20:05",
        "２０２６年７月１日　２０：０５",  # full-width, as an IME types it
    ],
)
def test_a_time_typed_the_japanese_way_is_read_as_japan_time(typed):
    assert times.parse_local_datetime(typed) == WANT


@pytest.mark.parametrize(
    "typed", ["7月1日の夜", "2026年13月1日 20:05", "2026/7/1", "2026/7/1 25:00", "午後13時"]
)
def test_a_time_that_cannot_be_read_is_refused(typed):
    with pytest.raises(ValueError):
        times.parse_local_datetime(typed)


def test_empty_means_no_time_and_a_day_alone_is_read_as_a_day():
    assert times.parse_local_datetime("  ") is None
    assert times.parse_local_date("2026年7月1日") == date(2026, 7, 1)
    assert times.parse_local_date("2026/7/1") == date(2026, 7, 1)


def test_times_are_shown_in_japanese_format_never_iso_or_us():
    app = Flask(__name__)
    Babel(app, default_locale="ja")
    with app.test_request_context():
        assert times.input_datetime("2026-07-01T11:05:00+00:00") == "2026年7月1日 20:05"
        assert times.jp_datetime(WANT) == "2026年7月1日（水）20:05"
        assert times.jp_date(date(2026, 7, 1)) == "2026年7月1日（水）"
        with force_locale("en"):
            assert times.jp_datetime(WANT) == "1 July 2026, 20:05 JST"
        for shown in (times.input_datetime(WANT), times.jp_datetime(WANT)):
            assert "/" not in shown and "-" not in shown
