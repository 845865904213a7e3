"""The notice drafting form's enhancements (issue 4 "In the UI", issue 7 "Notices"): the live
preview JSON, the district picker on the map, copy buttons, the notices in force per district,
and the district levels in the map data. Browser tests use the shared ``live_server`` and
``browser`` fixtures (disaster_ai.testing) and save docs/screenshots/notice_form_live.png."""

from __future__ import annotations

import json
import re

import pytest

from disaster_ai.storage import get_storage, session_scope
from disaster_ai.testing import SCREENSHOTS, browser_login, csrf_token_from

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


# --- the operator's shelters, the issued-at time, errors beside the fields, the status words ---


def shelter_names(app, hazard: str) -> tuple[dict[str, str], list[str]]:
    """Every shelter of the layer (key → name) and the keys NOT designated for ``hazard``."""
    from disaster_ai.apps.notices import reference

    with app.app_context(), session_scope(get_storage(app)) as session:
        layers = reference.reference_layers(session)
        frame = layers.shelters
        names = dict(zip(frame["key"].astype(str), frame["name"].astype(str), strict=True))
        other = [
            str(key)
            for key, hazards in zip(frame["key"], frame["hazards"], strict=True)
            if hazards is None or hazard not in list(hazards)
        ]
    return names, other


def hidden_values(html: str, name: str) -> list[str]:
    return re.findall(rf'<input type="hidden" name="{name}" value="([^"]*)">', html)


def field_error(html: str, field: str) -> str:
    """The text of the error beside the control named by the service's ``field`` ("" if none)."""
    match = re.search(
        rf'<p class="error field-error" id="err-{field}"( hidden)?>(.*?)</p>', html, re.S
    )
    assert match, f"no error slot for {field}"
    return "" if match.group(1) else match.group(2).strip()


def radio_text(html: str) -> str:
    match = re.search(
        r'<article class="channel" data-channel="radio">.*?<pre data-copy>(.*?)</pre>', html, re.S
    )
    assert match, "no radio script in the page"
    return match.group(1)


@sqlite_only
def test_an_operator_chosen_shelter_not_designated_is_named_and_warned_about(
    app, yaizu, client, login
):
    login("operator")
    html = client.get("/apps/notices").get_data(as_text=True)
    assert 'id="shelter-choice"' not in html  # the shelters come with the first preview
    first = client.post("/apps/notices/preview", data=form_data(html)).get_data(as_text=True)
    assert 'id="shelter-choice"' in first and 'id="shelter-add"' in first
    suggested = hidden_values(first, "shelters_suggested")
    assert suggested  # a shelter outside the inland-flood zone is proposed
    for key in suggested:  # the suggestion, ticked
        assert f'name="shelters" value="{key}" checked' in first
    names, not_designated = shelter_names(app, "inland_flood")
    key = next(k for k in not_designated if k not in suggested)
    assert f'<option value="{key}">{names[key]}</option>' in first  # any layer shelter can be added

    chosen = form_data(html, shelters=["", key], shelters_suggested=suggested)  # "" = the list
    page = client.post("/apps/notices/preview", data=chosen)
    text = page.get_data(as_text=True)
    assert page.status_code == 200, text
    assert f"{names[key]}はこの災害種別の指定を受けていません。" in text  # the warning
    assert names[key] in radio_text(text)
    for other in suggested:  # the app's suggestion stays offered, unticked
        assert names[other] not in radio_text(text)
        assert f'name="shelters" value="{other}">' in text
    assert f'name="shelters" value="{key}" checked' in text
    # the live preview says the same, with the fieldset to swap in
    body = client.post("/apps/notices/preview.json", data=chosen).get_json()["result"]
    assert [s["key"] for s in body["shelters"]] == [key]
    assert body["shelters"][0]["chosen_by"] == "operator"
    assert any(names[key] in w and "指定" in w for w in body["warnings_text"])
    assert f'value="{key}" checked' in body["shelters_html"]
    assert f'value="{body["fingerprint"]}"' in body["shelters_html"]
    # the reset lets the app suggest again
    again = client.post("/apps/notices/preview.json", data=dict(chosen, shelters_reset="y"))
    assert [s["key"] for s in again.get_json()["result"]["shelters"]] == suggested


@sqlite_only
def test_an_unknown_shelter_is_refused_beside_the_shelters_and_nothing_typed_is_lost(
    app, yaizu, client, login
):
    login("operator")
    html = client.get("/apps/notices").get_data(as_text=True)
    data = form_data(
        html,
        districts=["jichikai-10", "jichikai-11"],
        shelters=["どこにもない避難所"],
        shelters_suggested=["x"],
        issued_at="2026-07-01T20:05",
        exercise="y",
        level="5",
    )
    page = client.post("/apps/notices/preview", data=data)
    text = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "登録されていない避難所: どこにもない避難所" in field_error(text, "shelters")
    assert (
        'value="どこにもない避難所" checked aria-invalid="true" aria-describedby="err-shelters"'
        in text
    )
    summary = re.search(r'<div class="error-summary" role="alert"[^>]*>(.*?)</div>', text, re.S)
    assert summary and "「避難所」を確認してください" in summary.group(1)
    assert "(shelters)" not in text and "(shelters)" not in summary.group(1)
    assert field_error(text, "districts") == ""  # only the field at fault
    # everything typed is still there
    for key in ("jichikai-10", "jichikai-11"):
        assert f'<option value="{key}" selected>' in text
    assert f'value="{REASON}"' in text
    assert 'value="2026-07-01T20:05"' in text
    assert re.search(r'name="exercise" id="exercise" value="y" checked', text)
    assert re.search(r'<option value="5" selected>', text)
    assert hidden_values(text, "shelters_suggested") == ["x"]
    # the live preview names the field, and its label for the summary
    refused = client.post("/apps/notices/preview.json", data=data)
    error = refused.get_json()["error"]
    assert refused.status_code == 422 and error["field"] == "shelters"
    assert error["field_label"] == "避難所" and "どこにもない避難所" in error["message"]
    assert "shelters" not in error["summary"]


@sqlite_only
def test_the_issued_at_time_typed_in_the_form_is_read_aloud_and_a_bad_one_is_refused_beside_it(
    app, yaizu, client, login
):
    login("operator")
    html = client.get("/apps/notices").get_data(as_text=True)
    assert '<input type="datetime-local" name="issued_at" id="issued_at"' in html
    page = client.post("/apps/notices/preview", data=form_data(html, issued_at="2026-07-01T20:05"))
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "午後8時5分" in radio_text(text)
    assert "2026-07-01T20:05:00+09:00" in text  # CAP: Japan time with its offset
    assert 'value="2026-07-01T20:05"' in text
    body = client.post(
        "/apps/notices/preview.json", data=form_data(html, issued_at="2026-07-01T20:05")
    )
    assert body.get_json()["result"]["scenario"]["issued_at"] == "2026-07-01T20:05:00+09:00"

    bad = client.post("/apps/notices/preview", data=form_data(html, issued_at="7月1日の夜"))
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "YYYY-MM-DD HH:MM" in field_error(text, "issued_at")
    assert 'aria-invalid="true" aria-describedby="err-issued_at issued_at-hint"' in text
    assert 'value="7月1日の夜"' in text and f'value="{REASON}"' in text
    refused = client.post(
        "/apps/notices/preview.json", data=form_data(html, issued_at="7月1日の夜")
    )
    assert refused.status_code == 422 and refused.get_json()["error"]["field"] == "issued_at"


@sqlite_only
def test_save_stores_the_previewed_shelters_and_the_history_says_the_state_in_japanese(
    app, yaizu, client, login, api_headers
):
    login("operator")
    html = client.get("/apps/notices").get_data(as_text=True)
    first = client.post("/apps/notices/preview", data=form_data(html)).get_data(as_text=True)
    suggested = hidden_values(first, "shelters_suggested")
    names, not_designated = shelter_names(app, "inland_flood")
    key = next(k for k in not_designated if k not in suggested)
    chosen = form_data(
        html, shelters=[key], shelters_suggested=suggested, issued_at="2026-07-01T20:05"
    )
    preview = client.post("/apps/notices/preview", data=chosen).get_data(as_text=True)
    assert 'id="notice-save"' in preview and 'id="notice-save" hidden' not in preview
    (fingerprint,) = hidden_values(preview, "preview_fingerprint")

    # a form changed after its preview is not saved: the new preview is shown to check
    changed = client.post(
        "/apps/notices/save", data=dict(chosen, reason="別の理由", preview_fingerprint=fingerprint)
    )
    assert changed.status_code == 409
    assert "保存していません" in changed.get_data(as_text=True)

    saved = client.post("/apps/notices/save", data=dict(chosen, preview_fingerprint=fingerprint))
    assert saved.status_code == 302, saved.get_data(as_text=True)
    notice_id = int(saved.headers["Location"].rsplit("/", 1)[1])
    notice = client.get(f"/api/v1/notices/{notice_id}", headers=api_headers("operator")).get_json()
    assert [s["key"] for s in notice["shelters"]] == [key]
    assert notice["issued_at"] == "2026-07-01T20:05:00+09:00"
    assert names[key] in notice["texts"]["radio"]

    issued = issue_notice(client, api_headers, ["jichikai-11"])
    login("operator")
    page = client.get("/apps/notices").get_data(as_text=True)
    assert '<td data-status="draft">下書き</td>' in page
    assert '<td data-status="issued">発出済み</td>' in page
    assert '<span data-status="issued">発出済み</span>' in page  # the notices per district
    shown = client.get(f"/apps/notices/{issued['id']}").get_data(as_text=True)
    assert '<strong data-status="issued">発出済み</strong>' in shown


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
    browser_login(page, live_server, "operator", users["operator"])
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


@pytest.mark.browser
@pytest.mark.slow
@sqlite_only
def test_unticking_the_suggested_shelter_and_adding_another_updates_the_live_preview(
    app, live_server, browser, users
):
    names, not_designated = shelter_names(app, "inland_flood")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    browser_login(page, live_server, "operator", users["operator"])
    page.goto(f"{live_server}/apps/notices")
    page.evaluate("window.__notReloaded = true")
    assert page.locator("#notice-save").is_hidden()  # nothing previewed yet
    page.select_option("select[name=hazard]", "inland_flood")
    page.select_option("select[name=level]", "4")
    page.fill("input[name=reason]", REASON)
    page.select_option("select[name=districts]", ["jichikai-10"])

    suggested = page.locator("#shelter-choice input[name=shelters][type=checkbox]:checked")
    suggested.first.wait_for(timeout=20_000)
    old_key = suggested.first.get_attribute("value")
    radio = "#live-preview article[data-channel=radio] pre"
    page.wait_for_function(
        "([sel, name]) => { const p = document.querySelector(sel); return p && p.textContent.includes(name); }",
        arg=[radio, names[old_key]],
        timeout=20_000,
    )
    assert page.locator("#notice-save").is_visible()
    new_key = next(k for k in not_designated if k != old_key)

    page.uncheck(f"#shelter-choice input[name=shelters][value='{old_key}']")
    page.select_option("#shelter-add", new_key)
    page.wait_for_function(
        "([sel, name, old]) => { const p = document.querySelector(sel);"
        " return p && p.textContent.includes(name) && !p.textContent.includes(old); }",
        arg=[radio, names[new_key], names[old_key]],
        timeout=20_000,
    )
    assert page.evaluate("window.__notReloaded === true")  # no page reload
    # the fieldset follows: the choice ticked, the suggestion offered again, unticked
    assert page.locator(f"#shelter-choice input[name=shelters][value='{new_key}']").is_checked()
    assert not page.locator(f"#shelter-choice input[name=shelters][value='{old_key}']").is_checked()
    warning = page.locator("#live-preview .warning", has_text=names[new_key]).first
    assert "指定を受けていません" in warning.inner_text()

    # a shelter the layer does not have (a tampered form): the message beside the shelters,
    # gone with the next good preview
    page.evaluate(
        "() => { const s = document.getElementById('shelter-add'); s.add(new Option('x', 'どこにもない避難所'));"
        " s.value = 'どこにもない避難所'; s.dispatchEvent(new Event('change', { bubbles: true })); }"
    )
    page.wait_for_selector("#err-shelters:not([hidden])", timeout=20_000)
    assert "どこにもない避難所" in page.locator("#err-shelters").inner_text()
    assert page.get_attribute("#shelter-add", "aria-invalid") == "true"
    assert "「避難所」" in page.locator("#live-preview-body").inner_text()
    assert page.locator("#notice-save").is_hidden()
    page.select_option("#shelter-add", "")
    page.fill("#issued_at", "2026-07-01T20:05")
    page.wait_for_function(
        "([sel]) => { const p = document.querySelector(sel); return p && p.textContent.includes('午後8時5分'); }",
        arg=[radio],
        timeout=20_000,
    )
    assert page.locator("#err-shelters").is_hidden()
    assert page.get_attribute("#shelter-add", "aria-invalid") is None
    assert names[new_key] in page.locator(radio).inner_text()

    # Save stores exactly the previewed shelters
    page.wait_for_timeout(600)  # no other preview on its way
    page.click("#notice-save")
    page.wait_for_url(re.compile(r"/apps/notices/\d+$"))
    assert names[new_key] in page.locator("body").inner_text()
    assert page.locator("h1 + p strong").first.get_attribute("data-status") == "draft"
    assert errors == []
    context.close()
