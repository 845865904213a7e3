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
    body = {}
    approved = client.post(f"/api/v1/notices/{nid}/approve", json=body, headers=approver)
    for _attempt in range(2):
        if approved.status_code == 200:
            break
        code = approved.get_json()["error"]["code"]
        if code == "unacknowledged_violations":  # guard warnings need an acknowledgement
            body["acknowledge"] = [v["id"] for v in created.get_json()["guard"]["violations"]]
        elif code == "shelters_not_open":  # the suggested shelters are not open yet
            body["confirm_unopened_reason"] = "職員が開設に向かっています。"
        approved = client.post(f"/api/v1/notices/{nid}/approve", json=body, headers=approver)
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
    # the district checkboxes stay: the no-JS and keyboard way to choose
    assert '<input type="checkbox" name="districts" value="' in html
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
        r'<article class="channel" data-channel="radio">.*?<pre data-copy[^>]*>(.*?)</pre>',
        html,
        re.S,
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
    assert {"jichikai-10", "jichikai-11"} <= set(selected_districts(text))
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
    assert '<input type="text" name="issued_at" id="issued_at" lang="ja"' in html
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
    assert "2026年7月1日 20:05" in field_error(text, "issued_at")
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
    name = page.locator(f"#districts li[data-key='{key}']").get_attribute("data-name")
    lon, lat = district_point(app, key)
    x, y = page.evaluate(
        "([lon, lat]) => { const p = document.getElementById('notice-map').daiMap"
        ".latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        [lon, lat],
    )
    box = page.locator("#notice-map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    assert page.locator(f"input[name=districts][value='{key}']").is_checked()
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
    other = page.locator("#districts li[data-key='jichikai-11']").get_attribute("data-name")
    page.check("input[name=districts][value='jichikai-11']")
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
    page.check("input[name=districts][value='jichikai-10']")

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


# --- the confirm steps of 承認, 発令 and 取り下げ/取消, 開設する, the 解除 prefilled (issue 11) ------


def submitted_notice(client, api_headers, districts, **over) -> dict:
    """A notice drafted and submitted by the operator (its suggested shelters not open)."""
    operator = api_headers("operator")
    body = {
        "hazard": "inland_flood",
        "action": "発令",
        "level": 4,
        "districts": districts,
        "reason": REASON,
        **over,
    }
    created = client.post("/api/v1/notices", json=body, headers=operator)
    assert created.status_code == 201, created.get_json()
    nid = created.get_json()["id"]
    submitted = client.post(f"/api/v1/notices/{nid}/submit", headers=operator)
    assert submitted.status_code == 200, submitted.get_json()
    return submitted.get_json()


def notice_state(client, api_headers, nid: int) -> dict:
    return client.get(f"/api/v1/notices/{nid}", headers=api_headers("operator")).get_json()


def confirm_form(html: str, **over) -> dict:
    """The fields the confirm page's final form posts (CSRF, confirmed, seen, acknowledges)."""
    form = re.search(r'<form method="post" action="[^"]*" id="confirm-form".*?</form>', html, re.S)
    assert form, "no confirm form on the page"
    data: dict = {
        name: value
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(0)
        )
    }
    data["acknowledge"] = re.findall(r'name="acknowledge" value="([^"]+)"', form.group(0))
    data.update(over)
    return data


def fact(html: str, name: str) -> str:
    """The text of one key fact on a confirm page (tags stripped)."""
    match = re.search(rf'<dd data-fact="{name}">(.*?)</dd>', html, re.S)
    assert match, f"no {name} on the confirm page"
    return re.sub(r"<[^>]+>", "", match.group(1))


def flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash[^"]*" role="status">(.*?)</p>', html, re.S)


@sqlite_only
def test_approve_goes_through_its_confirm_page_and_binds_to_the_texts_seen(
    app, yaizu, client, login, api_headers
):
    notice = submitted_notice(client, api_headers, ["jichikai-10", "jichikai-11"])
    nid = notice["id"]
    assert notice["shelters"], "the kit suggests shelters (none open yet)"
    login("approver")
    page = client.get(f"/apps/notices/{nid}").get_data(as_text=True)
    # the notice page links to the confirm step: nothing on it posts an approval or an issue
    assert f'href="/apps/notices/{nid}/confirm/approve"' in page
    assert f'action="/apps/notices/{nid}/approve"' not in page
    assert f'action="/apps/notices/{nid}/issue"' not in page
    token = csrf_token_from(page)

    # one click (no confirmed, or confirmed without what was seen) only leads to the confirm page
    for data in ({"csrf_token": token}, {"csrf_token": token, "confirmed": "1"}):
        response = client.post(f"/apps/notices/{nid}/approve", data=data)
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"/apps/notices/{nid}/confirm/approve")
    assert notice_state(client, api_headers, nid)["status"] == "submitted"

    confirm = client.get(f"/apps/notices/{nid}/confirm/approve")
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert "承認の確認" in html
    assert fact(html, "level") == "警戒レベル4 避難指示 (内水氾濫)"
    assert fact(html, "hazard") == "内水氾濫"
    for district in notice["districts"]:
        assert district["name"] in fact(html, "districts")
    shelters = fact(html, "shelters")
    for shelter in notice["shelters"]:
        assert f"{shelter['name']} · 未開設" in shelters
    assert "発令ボタンを押した時刻" in fact(html, "time")
    assert "2026" not in fact(html, "time") and "T" not in fact(html, "time")  # no ISO string
    channels = fact(html, "channels")
    texts = notice["texts"]
    assert f"緊急速報メール（件名）: {len(texts['mail']['title'])}字（上限15字）" in channels
    body_len = len(texts["mail"]["body"].replace("\n", ""))
    assert f"緊急速報メール（本文）: {body_len}字（上限200字）" in channels
    assert f"SNS: {len(texts['web']['short'].replace(chr(10), ''))}字（上限140字）" in channels
    assert texts["radio"] in html.replace("&#39;", "'")  # the texts approved are on the page
    assert 'name="confirm_unopened_reason"' in html and "required" in html

    # a digest of other texts than those now rendered: refused, nothing approved
    wrong = client.post(
        f"/apps/notices/{nid}/approve",
        data=confirm_form(html, seen="0" * 64, confirm_unopened_reason="職員が向かっています"),
    )
    assert wrong.status_code == 409
    again = wrong.get_data(as_text=True)
    assert 'id="confirm-error"' in again and 'id="confirm-form"' in again  # read them again
    assert confirm_form(again)["seen"] == confirm_form(html)["seen"] != "0" * 64
    assert notice_state(client, api_headers, nid)["status"] == "submitted"

    # the shelters are not open and no reason is given: refused beside the reason, kept typed
    refused = client.post(f"/apps/notices/{nid}/approve", data=confirm_form(html))
    text = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert 'id="confirm-error"' in text and notice["shelters"][0]["name"] in text
    assert 'aria-invalid="true">' in text
    assert notice_state(client, api_headers, nid)["status"] == "submitted"

    reason = "発令と同時に開設します。職員が向かっています。"
    done = client.post(
        f"/apps/notices/{nid}/approve", data=confirm_form(html, confirm_unopened_reason=reason)
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/apps/notices/{nid}")
    assert notice_state(client, api_headers, nid)["status"] == "approved"
    shown = client.get(f"/apps/notices/{nid}").get_data(as_text=True)
    assert "承認しました。" in flashes(shown)
    assert reason in shown and "approver" in shown  # the confirmation, with who gave it

    from disaster_ai.audit import query_events

    with app.app_context(), session_scope(get_storage(app)) as session:
        events = query_events(session, action="notices.confirm_unopened_shelters")
    assert [e.detail["reason"] for e in events] == [reason]


@sqlite_only
def test_open_a_shelter_from_the_confirm_page_then_approve_without_a_reason(
    app, yaizu, client, login, api_headers
):
    notice = submitted_notice(client, api_headers, ["jichikai-10"])
    nid = notice["id"]
    login("approver")
    html = client.get(f"/apps/notices/{nid}/confirm/approve").get_data(as_text=True)
    token = csrf_token_from(html)
    names = {s["key"]: s["name"] for s in notice["shelters"]}
    assert names
    for key in names:  # one 開設する button per shelter that is not open
        assert f'<input type="hidden" name="shelter" value="{key}">' in html

    # a shelter the notice does not name is not opened from here
    other = next(k for k in shelter_names(app, "inland_flood")[0] if k not in names)
    response = client.post(
        f"/apps/notices/{nid}/open-shelter",
        data={"csrf_token": token, "shelter": other, "back": "approve"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/apps/notices/{nid}/confirm/approve")

    for key in names:
        opened = client.post(
            f"/apps/notices/{nid}/open-shelter",
            data={"csrf_token": token, "shelter": key, "back": "approve"},
        )
        assert opened.status_code == 302
    html = client.get(f"/apps/notices/{nid}/confirm/approve").get_data(as_text=True)
    assert "開設しました" in " ".join(flashes(html))
    shelters = fact(html, "shelters")
    for name in names.values():
        assert f"{name} · 開設中" in shelters
    assert 'id="shelter-conflict"' not in html and 'name="confirm_unopened_reason"' not in html
    # the situation app opened them (audited there), and not the shelter the notice does not name
    from disaster_ai.audit import query_events

    with app.app_context(), session_scope(get_storage(app)) as session:
        targets = {e.target for e in query_events(session, action="shelter.status")}
    assert targets == {f"shelter:{k}" for k in names}

    done = client.post(f"/apps/notices/{nid}/approve", data=confirm_form(html))
    assert done.status_code == 302, done.get_data(as_text=True)
    approved = notice_state(client, api_headers, nid)
    assert approved["status"] == "approved"


@sqlite_only
def test_issue_goes_through_its_confirm_page(app, yaizu, client, login, api_headers):
    notice = submitted_notice(client, api_headers, ["jichikai-10"])
    nid = notice["id"]
    approver = api_headers("approver")
    approved = client.post(
        f"/api/v1/notices/{nid}/approve",
        json={"confirm_unopened_reason": "職員が向かっています。"},
        headers=approver,
    )
    assert approved.status_code == 200, approved.get_json()
    login("approver")
    page = client.get(f"/apps/notices/{nid}").get_data(as_text=True)
    assert f'href="/apps/notices/{nid}/confirm/issue"' in page
    one_click = client.post(
        f"/apps/notices/{nid}/issue", data={"csrf_token": csrf_token_from(page)}
    )
    assert one_click.status_code == 303
    assert one_click.headers["Location"].endswith(f"/apps/notices/{nid}/confirm/issue")
    assert notice_state(client, api_headers, nid)["status"] == "approved"

    html = client.get(f"/apps/notices/{nid}/confirm/issue").get_data(as_text=True)
    assert "発令の確認" in html and "この内容で発令する" in html
    assert fact(html, "level") == "警戒レベル4 避難指示 (内水氾濫)"
    assert notice["districts"][0]["name"] in fact(html, "districts")
    assert "発令ボタンを押した時刻" in fact(html, "time")
    assert "承認者が確認済み" in fact(html, "shelters")  # named while closed, with a reason
    assert "（上限15字）" in fact(html, "channels")
    english = client.get(f"/apps/notices/{nid}/confirm/issue?lang=en").get_data(as_text=True)
    assert "Confirm the 発令" in english and "The time the 発令 button is pressed" in english
    assert re.search(r"\d+ of 15 characters", fact(english, "channels"))
    assert "+09:00" not in fact(english, "time")  # a time for people, in English too
    client.get(f"/apps/notices/{nid}?lang=ja")  # back to Japanese

    done = client.post(f"/apps/notices/{nid}/issue", data=confirm_form(html))
    assert done.status_code == 302
    assert notice_state(client, api_headers, nid)["status"] == "issued"
    shown = client.get(f"/apps/notices/{nid}").get_data(as_text=True)
    assert '<strong data-status="issued">発出済み</strong>' in shown
    issued = notice_state(client, api_headers, nid)
    # a second confirmed post (a double submit) issues nothing more: it is said why
    again = client.post(f"/apps/notices/{nid}/issue", data=confirm_form(html))
    assert again.status_code == 302
    shown = client.get(f"/apps/notices/{nid}").get_data(as_text=True)
    assert "実行できませんでした" in " ".join(flashes(shown))
    assert notice_state(client, api_headers, nid)["published_at"] == issued["published_at"]


@sqlite_only
def test_a_draft_is_withdrawn_and_an_issued_notice_cancelled_never_lifted_by_that_button(
    app, yaizu, client, login, api_headers
):
    login("operator")
    draft = client.post(
        "/api/v1/notices",
        json={"hazard": "inland_flood", "level": 4, "districts": ["jichikai-12"], "reason": REASON},
        headers=api_headers("operator"),
    ).get_json()
    page = client.get(f"/apps/notices/{draft['id']}").get_data(as_text=True)
    assert "解除する" not in page and "解除の文案を作る" not in page  # no 解除 on a draft
    assert 'class="button danger" id="go-withdraw"' in page and "取り下げる…" in page
    actions = page.split('<div class="actions notice-actions">', 1)[1].split("</div>", 1)[0]
    assert "取り下げ" not in actions  # away from the workflow buttons
    confirm = client.get(f"/apps/notices/{draft['id']}/confirm/cancel").get_data(as_text=True)
    assert "取り下げの確認" in confirm and "住民には何も送られません" in confirm
    done = client.post(f"/apps/notices/{draft['id']}/cancel", data=confirm_form(confirm))
    assert done.status_code == 302
    shown = client.get(f"/apps/notices/{draft['id']}").get_data(as_text=True)
    assert '<strong data-status="cancelled">取り下げ済み</strong>' in shown
    assert "取り下げました。" in flashes(shown)

    issued = issue_notice(client, api_headers, ["jichikai-13"])
    login("approver")
    page = client.get(f"/apps/notices/{issued['id']}").get_data(as_text=True)
    assert "発令を取り消す…" in page and "取り下げる…" not in page
    assert f'href="/apps/notices/lift/{issued["id"]}"' in page and "解除の文案を作る" in page
    confirm = client.get(f"/apps/notices/{issued['id']}/confirm/cancel").get_data(as_text=True)
    assert "発令の取り消しの確認" in confirm and "解除の文案を作ってください" in confirm
    assert fact(confirm, "chain") == issued["districts"][0]["name"]  # what stops being in force
    no_reason = client.post(f"/apps/notices/{issued['id']}/cancel", data=confirm_form(confirm))
    assert no_reason.status_code == 422
    assert notice_state(client, api_headers, issued["id"])["status"] == "issued"
    done = client.post(
        f"/apps/notices/{issued['id']}/cancel",
        data=confirm_form(confirm, reason="地区を取り違えて発令したため"),
    )
    assert done.status_code == 302
    assert notice_state(client, api_headers, issued["id"])["status"] == "cancelled"
    shown = client.get(f"/apps/notices/{issued['id']}").get_data(as_text=True)
    assert '<strong data-status="cancelled">取消済み</strong>' in shown
    assert f'href="/api/v1/notices/{issued["id"]}/cap-cancel.xml"' in shown


def selected_districts(html: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="districts" value="([^"]+)" checked', html)


def district_options(html: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="districts" value="([^"]+)"', html)


@sqlite_only
def test_a_partial_lift_starts_prefilled_from_the_issued_notice(
    app, yaizu, client, login, api_headers
):
    three = ["jichikai-10", "jichikai-11", "jichikai-12"]
    issued = issue_notice(client, api_headers, three)
    names = {d["key"]: d["name"] for d in issued["districts"]}
    login("operator")
    page = client.get(f"/apps/notices/{issued['id']}").get_data(as_text=True)
    assert f'href="/apps/notices/lift/{issued["id"]}"' in page
    assert "現在発令中の地区" in page and all(n in page for n in names.values())

    lift = client.get(f"/apps/notices/lift/{issued['id']}")
    html = lift.get_data(as_text=True)
    assert lift.status_code == 200
    assert "<h2>解除の文案を作る</h2>" in html and 'id="lift-banner"' in html
    assert '<option value="解除" selected>' in html
    assert re.search(r'<option value="inland_flood" selected>', html)
    assert re.search(r'<option value="4" selected>', html)
    assert hidden_values(html, "supersedes") == [str(issued["id"])]
    assert sorted(selected_districts(html)) == three  # every district in force, chosen
    assert sorted(district_options(html)) == three  # and nothing else offered
    assert 'id="shelter-choice"' not in html  # a 解除 names no shelter
    assert '<section class="preview">' in html and "解除" in radio_text(html)

    # untick one district: a partial 解除 that names the district staying under Lv4
    stays, lifted = three[2], three[:2]
    data = form_data(html, action="解除", districts=lifted, supersedes=str(issued["id"]), reason="")
    preview = client.post("/apps/notices/preview", data=data)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200, text
    radio = radio_text(text)
    assert names[stays] in radio and all(names[k] in radio for k in lifted)
    (fingerprint,) = hidden_values(text, "preview_fingerprint")
    saved = client.post("/apps/notices/save", data=dict(data, preview_fingerprint=fingerprint))
    assert saved.status_code == 302, saved.get_data(as_text=True)
    lift_id = int(saved.headers["Location"].rsplit("/", 1)[1])
    draft = notice_state(client, api_headers, lift_id)
    assert draft["action"] == "解除" and draft["supersedes"] == issued["id"]
    assert sorted(d["key"] for d in draft["districts"]) == lifted
    shown = client.get(f"/apps/notices/{lift_id}").get_data(as_text=True)
    assert f"一部解除：{names[stays]}は引き続き警戒レベル4 避難指示 (内水氾濫)です。" in shown
    assert "解除の文案を作る" not in shown  # a draft is not lifted

    # its confirm steps say what stays in force
    operator = api_headers("operator")
    assert client.post(f"/api/v1/notices/{lift_id}/submit", headers=operator).status_code == 200
    login("approver")
    confirm = client.get(f"/apps/notices/{lift_id}/confirm/approve").get_data(as_text=True)
    assert fact(confirm, "districts") == "、".join(names[k] for k in lifted)
    assert fact(confirm, "remaining").startswith(names[stays])
    assert "引き続き警戒レベル4 避難指示 (内水氾濫)" in fact(confirm, "remaining")
    assert 'data-fact="shelters"' not in confirm
    done = client.post(f"/apps/notices/{lift_id}/approve", data=confirm_form(confirm))
    assert done.status_code == 302, done.get_data(as_text=True)
    confirm = client.get(f"/apps/notices/{lift_id}/confirm/issue").get_data(as_text=True)
    assert "解除の確認" in confirm and "この内容で解除を発表する" in confirm
    assert "解除ボタンを押した時刻" in fact(confirm, "time")
    assert fact(confirm, "remaining").startswith(names[stays])
    assert (
        client.post(f"/apps/notices/{lift_id}/issue", data=confirm_form(confirm)).status_code == 302
    )
    assert notice_state(client, api_headers, lift_id)["status"] == "issued"

    # the district left out is still in force, with its 発令 in its history, and can be lifted
    index = client.get("/apps/notices").get_data(as_text=True)
    row = re.search(rf'<tr data-district="{stays}">.*?</tr>', index, re.S).group(0)
    assert "警戒レベル4 避難指示 (内水氾濫)" in row and f"#{issued['id']}" in row
    assert f'href="/apps/notices/lift/{issued["id"]}"' in row
    lifted_row = re.search(rf'<tr data-district="{lifted[0]}">.*?</tr>', index, re.S).group(0)
    assert "<td>発令中の避難情報なし</td>" in lifted_row and "level-badge" not in lifted_row
    for start in (issued["id"], lift_id):  # from either edition: the chain's head
        again = client.get(f"/apps/notices/lift/{start}").get_data(as_text=True)
        assert selected_districts(again) == [stays]
        assert hidden_values(again, "supersedes") == [str(lift_id)]

    # a draft, or no notice: nothing to lift
    other = client.post(
        "/api/v1/notices",
        json={"hazard": "inland_flood", "level": 4, "districts": [stays], "reason": REASON},
        headers=operator,
    ).get_json()
    refused = client.get(f"/apps/notices/lift/{other['id']}")
    assert refused.status_code == 302
    assert refused.headers["Location"].endswith(f"/apps/notices/{other['id']}")
    assert client.get("/apps/notices/lift/99999").status_code == 404
    token = csrf_token_from(index)
    bad = client.post("/apps/notices/preview", data=dict(data, supersedes="１２", csrf_token=token))
    assert bad.status_code == 422 and "１２" in bad.get_data(as_text=True)


@sqlite_only
def test_every_channel_shows_its_length_and_limit_and_over_the_limit_is_said_in_words(
    app, yaizu, client, login, api_headers
):
    from disaster_ai.apps.notices.renderers import full_width_length

    login("operator")
    html = client.get("/apps/notices").get_data(as_text=True)
    result = client.post("/apps/notices/preview.json", data=form_data(html)).get_json()["result"]
    lengths = result["lengths"]
    assert lengths["mail_title"]["limit"] == 15 and lengths["mail_body"]["limit"] == 200
    assert lengths["web_short"]["limit"] == 140 and lengths["radio"]["limit"] is None
    assert lengths["mail_body"]["count"] == full_width_length(result["mail"]["body"])
    assert lengths["web_short"]["text"] == f"{lengths['web_short']['count']}字（上限140字）"
    page = client.post("/apps/notices/preview", data=form_data(html)).get_data(as_text=True)
    assert f"SNS: {lengths['web_short']['count']}字（上限140字）" in page

    # a manual edit longer than the SNS limit: the notice page says so in words
    long_post = "【警戒レベル4 避難指示】" + "浸水のおそれがあります。" * 14
    created = client.post(
        "/api/v1/notices",
        json={
            "hazard": "inland_flood",
            "level": 4,
            "districts": ["jichikai-10"],
            "reason": REASON,
            "edits": {"web_short": long_post},
        },
        headers=api_headers("operator"),
    ).get_json()
    count = full_width_length(long_post)
    assert count > 140
    shown = client.get(f"/apps/notices/{created['id']}").get_data(as_text=True)
    over = re.search(r'<p class="channel-length over-limit"[^>]*>(.*?)</p>', shown, re.S)
    assert over, "the over-limit channel is not marked"
    words = re.sub(r"<[^>]+>", "", over.group(1))
    assert words == f"上限超過 SNS: {count}字：上限140字を{count - 140}字超えています"


@sqlite_only
def test_the_dashboard_shows_a_notice_naming_shelters_that_are_not_open(
    app, yaizu, client, login, api_headers
):
    issued = issue_notice(client, api_headers, ["jichikai-10"])
    closed = [s["name"] for s in issued["shelters"]]
    assert closed  # issued with the approver's reason, the shelters still closed
    login("operator")
    feed = client.get("/dashboard/feed.json").get_json()["notices"]["items"]
    assert [n["closed_shelters"] for n in feed] == [closed]
    page = client.get("/").get_data(as_text=True)
    assert f"開設していない避難所を案内しています：{'、'.join(closed)}" in page
    index = client.get("/apps/notices").get_data(as_text=True)
    assert f"開設していない避難所を案内しています：{'、'.join(closed)}" in index
