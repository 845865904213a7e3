"""The notice form's fields as a tired operator meets them (issue 18, the notice form): the
districts as checkboxes in the order of their readings, reason suggestions of the chosen hazard
only, and the time typed and shown in Japanese format (never the browser's 「mm/dd/yyyy」).
The filter and the map picker run in the browser: tests/apps/notices/test_notice_form_browser.py."""

from __future__ import annotations

import re

import pytest

from disaster_ai.apps.notices import facts as f
from disaster_ai.testing import csrf_token_from

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def districts_in_page(html: str) -> list[tuple[str, str, str]]:
    return re.findall(r'<li data-reading="([^"]*)" data-name="([^"]*)" data-key="([^"]*)">', html)


@sqlite_only
def test_districts_are_checkboxes_in_the_order_of_their_readings(app, yaizu, client, login):
    login("operator")
    html = client.get("/apps/notices").get_data(as_text=True)
    rows = districts_in_page(html)
    assert len(rows) > 20
    readings = [reading for reading, _name, _key in rows]
    assert all(readings), "every district of the sample has a reading"
    assert readings == sorted(readings)  # 五十音順 (hiragana sorts in gojūon order)
    assert all(re.fullmatch(r"[ぁ-ゖー]+", r) for r in readings), readings[:5]
    assert '<select name="districts"' not in html
    assert html.count('<input type="checkbox" name="districts"') == len(rows)
    # the filter is there for the script (hidden without it: it would do nothing)
    assert 'id="district-filter"' in html and 'id="district-filter-box" hidden' in html


@sqlite_only
def test_reason_suggestions_are_those_of_the_chosen_hazard_only(app, yaizu, client, login):
    login("operator")
    html = client.get("/apps/notices").get_data(as_text=True)
    first = re.search(r'<option value="([^"]+)"', html.split('name="hazard"')[1]).group(1)
    listed = re.search(r'<datalist id="reasons" data-hazard="([^"]*)">(.*?)</datalist>', html)
    assert listed.group(1) == first
    shown = re.findall(r'<option value="([^"]+)">', listed.group(2))
    assert shown == list(f.REASONS[first])
    others = {r for code in f.HAZARDS if code != first for r in f.REASONS[code]}
    assert not (others - set(f.REASONS[first])) & set(shown)

    # after a preview for another hazard, that hazard's suggestions (what was typed stays)
    token = csrf_token_from(html)
    data = {
        "csrf_token": token,
        "hazard": "landslide",
        "action": "発令",
        "level": "4",
        "districts": [],
        "reason": "自分で書いた理由",
    }
    text = client.post("/apps/notices/preview", data=data).get_data(as_text=True)
    listed = re.search(r'<datalist id="reasons" data-hazard="([^"]*)">(.*?)</datalist>', text)
    assert listed.group(1) == "landslide"
    assert re.findall(r'<option value="([^"]+)">', listed.group(2)) == list(f.REASONS["landslide"])
    assert 'value="自分で書いた理由"' in text


@sqlite_only
def test_the_time_field_is_japanese_text_and_reads_what_a_person_types(app, yaizu, client, login):
    login("operator")
    html = client.get("/apps/notices").get_data(as_text=True)
    field = re.search(r'<input type="text" name="issued_at"[^>]*>', html, re.S).group(0)
    assert "datetime-local" not in html and 'type="date"' not in html
    placeholder = re.search(r'placeholder="([^"]+)"', field).group(1)
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}", placeholder)
    data = {
        "csrf_token": csrf_token_from(html),
        "hazard": "inland_flood",
        "action": "発令",
        "level": "4",
        "districts": ["jichikai-10"],
        "reason": "大雨により、道路や住宅が浸水するおそれが高まっています。",
        "issued_at": "2026年7月1日 午後8時5分",
    }
    body = client.post("/apps/notices/preview.json", data=data).get_json()
    assert body["result"]["scenario"]["issued_at"] == "2026-07-01T20:05:00+09:00"
