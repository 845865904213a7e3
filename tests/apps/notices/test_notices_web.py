"""The notice drafting form's enhancements (issue 4 "In the UI", issue 7 "Notices"): the live
preview JSON, the district picker on the map, copy buttons, the notices in force per district,
and the district levels in the map data. Browser tests use the shared ``live_server`` and
``browser`` fixtures (disaster_ai.testing) and save docs/screenshots/notice_form_live.png."""

from __future__ import annotations

import json
import re

import pytest

from disaster_ai.storage import get_storage, session_scope
from disaster_ai.testing import SCREENSHOTS, csrf_token_from

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
REASON = "大雨により、道路や住宅が浸水するおそれが高まっています。"


def issue_notice(client, api_headers, districts, level=4, hazard="inland_flood") -> dict:
    """Draft (operator) → submit → approve and issue (approver): the notice is in force."""
    operator, approver = api_headers("operator"), api_headers("approver")
    body = {
        "hazard": hazard,
        "action": "発令",
        "level": level,
        "districts": districts,
        "reason": REASON,
    }
    created = client.post("/api/v1/notices", json=body, headers=operator)
    assert created.status_code == 201, created.get_json()
    nid = created.get_json()["id"]
    assert client.post(f"/api/v1/notices/{nid}/submit", headers=operator).status_code == 200
    approved = client.post(f"/api/v1/notices/{nid}/approve", headers=approver)
    if approved.status_code != 200:  # guard warnings need an acknowledgement
        ids = [v["id"] for v in created.get_json()["guard"]["violations"]]
        approved = client.post(
            f"/api/v1/notices/{nid}/approve", json={"acknowledge": ids}, headers=approver
        )
    assert approved.status_code == 200, approved.get_json()
    issued = client.post(f"/api/v1/notices/{nid}/issue", headers=approver)
    assert issued.get_json()["status"] == "issued", issued.get_json()
    return issued.get_json()


def form_data(html: str, **over) -> dict:
    data = {
        "csrf_token": csrf_token_from(html),
        "hazard": "inland_flood",
        "action": "発令",
        "level": "4",
        "districts": ["jichikai-10"],
        "reason": REASON,
    }
    data.update(over)
    return data


# --- fast tests (no browser) -------------------------------------------------------------------


@sqlite_only
def test_the_form_offers_the_map_picker_live_preview_and_translated_script_strings(
    app, yaizu, client, login
):
    login("operator")
    html = client.get("/apps/notices").get_data(as_text=True)
    assert 'id="notice-map"' in html and 'data-url="/apps/situation/map-data.json?' in html
    assert 'data-preview-url="/apps/notices/preview.json"' in html
    assert "/static/desk/notice_form.js" in html and "vendor/leaflet/leaflet.js" in html
    assert 'id="live-preview"' in html
    blob = re.search(
        r'<script type="application/json" id="notice-form-strings">(.*?)</script>', html, re.S
    )
    strings = json.loads(blob.group(1))
    assert strings["copied"] == "コピーしました"  # the copy confirmation, translated for the script
    assert [lv["label"] for lv in strings["levels"]] == [
        "警戒レベル5 緊急安全確保",
        "警戒レベル4 避難指示",
        "警戒レベル3 高齢者等避難",
    ]
    # the district list stays: the no-JS and keyboard way to choose
    assert '<select name="districts" id="districts" multiple' in html
    assert "http://" not in html.replace("http://127.0.0.1", "")  # no CDN


@sqlite_only
def test_the_live_preview_json_has_every_channel_the_shelters_and_the_guard(
    app, yaizu, client, login
):
    login("operator")
    html = client.get("/apps/notices").get_data(as_text=True)
    response = client.post("/apps/notices/preview.json", data=form_data(html))
    assert response.status_code == 200, response.get_json()
    result = response.get_json()["result"]
    assert {"radio", "mail", "web", "cap", "en", "easy_ja", "shelters", "guard"} <= set(result)
    name = result["districts"][0]
    assert name in result["radio"] and "警戒レベル4" in result["radio"]
    assert isinstance(result["warnings_text"], list)
    assert all("_" not in text.split(":")[0] for text in result["warnings_text"])  # not codes
    # the full-page path still works without JavaScript
    page = client.post("/apps/notices/preview", data=form_data(html))
    assert page.status_code == 200 and '<section class="preview">' in page.get_data(as_text=True)


@sqlite_only
def test_the_live_preview_names_the_field_and_needs_the_csrf_token(app, yaizu, client, login):
    login("operator")
    html = client.get("/apps/notices").get_data(as_text=True)
    refused = client.post("/apps/notices/preview.json", data=form_data(html, level="2"))
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["field"] == "level" and error["message"]
    no_token = form_data(html)
    del no_token["csrf_token"]
    assert client.post("/apps/notices/preview.json", data=no_token).status_code == 400


@sqlite_only
def test_map_data_carries_each_districts_level_in_force(app, yaizu, client, login, api_headers):
    notice = issue_notice(client, api_headers, ["高新田自治会"], level=4)
    key = notice["districts"][0]["key"]
    login("operator")
    body = client.get("/apps/situation/map-data.json?layers=districts").get_json()
    (districts,) = body["layers"]
    by_key = {f["properties"]["key"]: f["properties"] for f in districts["geojson"]["features"]}
    props = by_key[key]
    assert props["notice_level"] == 4 and props["notice_name"] == "避難指示"
    assert props["notice_label"] == "警戒レベル4 避難指示 (内水氾濫)"
    assert props["notice_fill"] == "#aa00aa" and props["notice_text"] == "#ffffff"
    assert sum(1 for p in by_key.values() if p.get("notice_level")) == 1
    # the dashboard's full map data says the same
    full = client.get("/apps/situation/map-data.json").get_json()
    kinds = {layer["kind"]: layer for layer in full["layers"]}
    assert {"districts", "hazard_zones", "shelters", "incidents"} <= set(kinds)
    shaded = [
        f for f in kinds["districts"]["geojson"]["features"] if f["properties"].get("notice_level")
    ]
    assert [f["properties"]["key"] for f in shaded] == [key]
    # and the form shows it in the notices in force per district
    html = client.get("/apps/notices").get_data(as_text=True)
    assert f'<tr data-district="{key}">' in html
    assert "警戒レベル4 避難指示 (内水氾濫)" in html


class TwoLevels:
    from disaster_ai import hookimpl

    @hookimpl
    def dai_notices_in_force(self, at):
        base = {"district_key": "jichikai-10", "district_name": "x", "hazard": "flood"}
        return [
            dict(base, level=3, name="高齢者等避難", issued_at="2026-07-01T20:00:00+09:00"),
            dict(base, level=5, name="緊急安全確保", issued_at="2026-07-01T19:00:00+09:00"),
            dict(base, level=4, name="避難指示", issued_at="2026-07-01T21:00:00+09:00"),
            {"district_key": "jichikai-11", "level": "bad"},
        ]


@sqlite_only
def test_the_highest_level_in_force_wins(app, yaizu, client, login, register_plugin):
    register_plugin(TwoLevels(), "two-levels")
    login("operator")
    body = client.get("/apps/situation/map-data.json?layers=districts").get_json()
    by_key = {
        f["properties"]["key"]: f["properties"] for f in body["layers"][0]["geojson"]["features"]
    }
    assert by_key["jichikai-10"]["notice_level"] == 5
    assert by_key["jichikai-10"]["notice_label"] == "警戒レベル5 緊急安全確保 (洪水)"
    assert by_key["jichikai-10"]["notice_fill"] == "#0c000c"
    assert "notice_level" not in by_key["jichikai-11"]


def test_level_colours_meet_wcag_aa():
    from disaster_ai.web import levels

    assert levels.contrast_ratio("#ffffff", "#000000") == pytest.approx(21)
    for level, colours in levels.LEVEL_COLOURS.items():
        ratio = levels.contrast_ratio(colours["fill"], colours["text"])
        assert ratio >= 4.5, (level, ratio)
    # Lv3's standard red cannot carry white text
    assert levels.contrast_ratio("#ff2800", "#ffffff") < 4.5


# --- in a real browser ---------------------------------------------------------------------------


def district_point(app, key: str) -> tuple[float, float]:
    from disaster_ai.apps.situation import layers

    with app.app_context(), session_scope(get_storage(app)) as session:
        frame = layers.load_layer(session, "districts")
    geometry = frame[frame["key"] == key].geometry.iloc[0]
    point = geometry.representative_point()
    return point.x, point.y


@pytest.mark.browser
@pytest.mark.slow
@sqlite_only
def test_a_district_clicked_on_the_form_map_is_chosen_and_named_in_the_live_preview(
    app, live_server, browser, users
):
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000},
        permissions=["clipboard-read", "clipboard-write"],
    )
    errors: list[str] = []
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server}/login")
    page.fill("#username", "operator")
    page.fill("#password", users["operator"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/apps/notices")
    page.wait_for_selector("#notice-map[data-loaded=true]", timeout=20_000)
    page.evaluate("window.__notReloaded = true")
    page.select_option("select[name=hazard]", "inland_flood")
    page.select_option("select[name=level]", "4")
    page.fill("input[name=reason]", REASON)
    assert int(page.get_attribute("#notice-map", "data-zone-features") or 0) > 0  # context

    key = "jichikai-10"
    name = page.locator(f"select[name=districts] option[value='{key}']").inner_text().strip()
    lon, lat = district_point(app, key)
    x, y = page.evaluate(
        "([lon, lat]) => { const p = document.getElementById('notice-map').daiMap"
        ".latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        [lon, lat],
    )
    box = page.locator("#notice-map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    assert page.locator(f"select[name=districts] option[value='{key}']").evaluate(
        "(o) => o.selected"
    )
    assert page.get_attribute("#notice-map", "data-selected") == key
    assert name in page.locator("#district-picked").inner_text()

    radio = page.locator("#live-preview article[data-channel=radio] pre")
    radio.wait_for(timeout=20_000)
    page.wait_for_function(
        "(name) => { const p = document.querySelector('#live-preview article[data-channel=radio] pre');"
        " return p && p.textContent.includes(name); }",
        arg=name,
        timeout=20_000,
    )
    assert "警戒レベル4" in radio.inner_text()
    assert page.evaluate("window.__notReloaded === true")  # no page reload
    assert page.locator("#live-preview article.channel").count() == 7

    # the list changes the map too (both ways), and the preview follows
    other = page.locator("select[name=districts] option[value='jichikai-11']").inner_text().strip()
    page.select_option("select[name=districts]", [key, "jichikai-11"])
    assert set(page.get_attribute("#notice-map", "data-selected").split(",")) == {
        key,
        "jichikai-11",
    }
    page.wait_for_function(
        "(name) => { const p = document.querySelector('#live-preview article[data-channel=radio] pre');"
        " return p && p.textContent.includes(name); }",
        arg=other,
        timeout=20_000,
    )
    page.wait_for_timeout(800)  # no other preview on its way

    # copy the radio script: the clipboard has it and the confirmation is shown
    copy = page.locator("#live-preview article[data-channel=radio] .copy-button")
    copy.focus()
    assert copy.evaluate("(el) => getComputedStyle(el).outlineStyle") != "none"
    page.keyboard.press("Enter")
    done = page.locator("#live-preview article[data-channel=radio] .copy-done")
    done.wait_for(timeout=5_000)
    page.wait_for_function(
        "() => document.querySelector('#live-preview article[data-channel=radio] .copy-done')"
        ".textContent.length > 0"
    )
    assert done.inner_text() == "コピーしました"
    copied = page.evaluate("navigator.clipboard.readText()")
    assert name in copied and "警戒レベル4" in copied

    page.wait_for_timeout(600)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "notice_form_live.png"), full_page=True)
    assert errors == []
    assert all(url.startswith(live_server) for url in requested)
    context.close()
