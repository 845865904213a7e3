"""The dashboard and its live feed (/dashboard/feed.json): new incidents since an id, the
notices in force (dai_notices_in_force) and the latest bulletin. Every panel comes from
dai_dashboard_panels: a disabled app shows no panel."""

from __future__ import annotations

import pytest

from disaster_ai import hookimpl
from disaster_ai.testing import browser_login

NOTICE_PLUGINS = ["disaster_ai.apps.notices", "disaster_ai.apps.notices.in_force"]


def create(client, headers, **body) -> dict:
    body.setdefault("district_key", "jichikai-10")
    response = client.post("/api/v1/incidents", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def desk(app, client, yaizu, login, api_headers):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "apps" / "situation"))
    from situation_helpers import ensure_yaizu_layers

    ensure_yaizu_layers(app)
    login("operator")
    return api_headers("operator")


def test_the_feed_needs_a_login(client):
    response = client.get("/dashboard/feed.json")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_feed_lists_the_newest_incidents_then_only_new_ones(app, client, desk):
    made = [create(client, desk, category="fire") for _ in range(12)]
    first = client.get("/dashboard/feed.json").get_json()
    incidents = first["incidents"]
    assert incidents["available"] is True
    assert [i["id"] for i in incidents["items"]] == [m["id"] for m in made[-10:]]  # oldest first
    assert incidents["last_id"] == made[-1]["id"]
    assert incidents["items"][0]["url"] == f"/apps/situation/incidents/{made[2]['id']}"
    assert incidents["items"][0]["category_label"] == "火災"
    nothing = client.get(f"/dashboard/feed.json?since_id={incidents['last_id']}").get_json()
    assert nothing["incidents"]["items"] == []
    assert nothing["incidents"]["last_id"] == incidents["last_id"]
    rescue = create(client, desk, category="rescue", life_threat=True, place_name="小川新町三丁目")
    duplicate = create(client, desk, category="fire")
    client.post(
        f"/api/v1/incidents/{duplicate['id']}/merge", json={"into": rescue["id"]}, headers=desk
    )
    new = client.get(f"/dashboard/feed.json?since_id={incidents['last_id']}").get_json()
    assert [i["id"] for i in new["incidents"]["items"]] == [rescue["id"]]  # merged ones left out
    item = new["incidents"]["items"][0]
    assert item["life_threat"] is True and item["place_name"] == "小川新町三丁目"
    assert item["occurred_at"].endswith("+09:00") and len(item["time"]) == 5
    assert new["incidents"]["last_id"] == rescue["id"]
    # a since_id that is not a number is ignored: the newest ones again
    assert client.get("/dashboard/feed.json?since_id=x").get_json()["incidents"]["items"]


def test_the_dashboard_renders_the_panels(app, client, desk):
    create(client, desk, category="rescue", life_threat=True)
    html = client.get("/").get_data(as_text=True)
    for marker in (
        'id="map"',
        'id="incident-feed"',
        'id="notices"',
        'id="latest-bulletin"',
        'id="jobs"',
        'data-url="/dashboard/feed.json"',
    ):
        assert marker in html, marker
    assert '<span class="life-badge"><span aria-hidden="true">⚠</span> 命の危険</span>' in html
    assert "被害状況報はまだ発行されていません。" in html  # the Japanese default


class NoticesInForce:
    @hookimpl
    def dai_notices_in_force(self, at):
        return [
            {
                "district_key": "jichikai-10",
                "district_name": "小川第1自治会",
                "level": 4,
                "name": "避難指示",
                "hazard": "inland_flood",
                "issued_at": "2026-09-23T06:00:00+09:00",
            },
            {
                "district_key": "jichikai-11",
                "district_name": "小川第2自治会",
                "level": 5,
                "name": "緊急安全確保",
                "hazard": "inland_flood",
                "issued_at": "2026-09-23T07:00:00+09:00",
            },
        ]


def test_notices_in_force_come_from_the_hook_highest_level_first(
    app, client, desk, register_plugin
):
    register_plugin(NoticesInForce(), "notices-in-force-test")
    notices = client.get("/dashboard/feed.json").get_json()["notices"]
    assert notices["available"] is True
    assert [(n["level"], n["name"]) for n in notices["items"]] == [
        (5, "緊急安全確保"),
        (4, "避難指示"),
    ]
    html = client.get("/").get_data(as_text=True)
    # the level is written out with its number and name, not shown by colour alone
    assert "警戒レベル5 緊急安全確保" in html or "Alert level 5 緊急安全確保" in html
    assert "小川第1自治会" in html


class BrokenNotices:
    @hookimpl
    def dai_notices_in_force(self, at):
        raise RuntimeError("database away")


def test_a_failing_notices_plugin_does_not_break_the_dashboard(app, client, desk, register_plugin):
    register_plugin(BrokenNotices(), "broken-notices")
    assert client.get("/").status_code == 200
    assert client.get("/dashboard/feed.json").get_json()["notices"] == {
        "available": True,
        "items": [],
        "district_levels": {},
    }


def test_the_latest_bulletin_is_linked(app, client, desk):
    from disaster_ai.apps.bulletins.models import Bulletin, DisasterEvent
    from disaster_ai.storage import get_storage, session_scope

    with app.app_context(), session_scope(get_storage(app)) as session:
        event = DisasterEvent(name="台風第10号")
        session.add(event)
        session.flush()
        for number in (1, 2):
            session.add(
                Bulletin(
                    event_id=event.id,
                    number=number,
                    trigger="manual",
                    snapshot={"bulletin": {"title": f"被害状況 第{number}報"}},
                )
            )
    bulletin = client.get("/dashboard/feed.json").get_json()["bulletin"]
    assert bulletin["available"] is True and bulletin["item"]["title"] == "被害状況 第2報"
    assert bulletin["item"]["url"] == f"/apps/bulletins/{bulletin['item']['id']}"
    assert "被害状況 第2報</a>" in client.get("/").get_data(as_text=True)


def test_the_panels_are_drawn_in_order_from_their_own_templates(app, client, desk):
    feed = client.get("/dashboard/feed.json").get_json()
    panels = {p["key"]: p for p in feed["panels"]}
    assert [p["key"] for p in feed["panels"]][:3] == ["notices", "incidents", "bulletin"]
    assert panels["notices"]["title"] == "発令中の避難情報"  # through i18n
    assert 'id="notices"' in panels["notices"]["html"]
    assert 'id="incident-feed"' in panels["incidents"]["html"]
    assert panels["incidents"]["script"].endswith("/dashboard_incidents.js")
    assert (
        panels["bulletin"]["script"] == "" and 'id="latest-bulletin"' in panels["bulletin"]["html"]
    )
    html = client.get("/").get_data(as_text=True)
    assert html.index('data-panel="notices"') < html.index('data-panel="incidents"')
    assert f'<script src="{panels["incidents"]["script"]}"></script>' in html
    assert 'data-panel="incidents"\n             data-live="script"' in html


def test_the_notices_panel_gives_the_map_its_district_levels(app, client, desk, register_plugin):
    register_plugin(NoticesInForce(), "notices-in-force-test")
    levels = client.get("/dashboard/feed.json").get_json()["notices"]["district_levels"]
    assert levels == {
        "jichikai-10": {"level": 4, "label": "警戒レベル4 避難指示 (内水氾濫)"},
        "jichikai-11": {"level": 5, "label": "警戒レベル5 緊急安全確保 (内水氾濫)"},
    }


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_the_example_plugin_adds_its_own_panel(make_app):
    from disaster_ai.auth import create_user
    from disaster_ai.config import REPO_ROOT
    from disaster_ai.storage import get_storage, session_scope
    from disaster_ai.testing import TEST_PASSWORDS, csrf_token_from

    app = make_app(PLUGINS_DIR=f"{REPO_ROOT}/plugins")
    with app.app_context(), session_scope(get_storage(app)) as session:
        create_user(session, "admin", "admin", TEST_PASSWORDS["admin"])
    client = app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    client.post(
        "/login",
        data={"username": "admin", "password": TEST_PASSWORDS["admin"], "csrf_token": token},
    )
    feed = client.get("/dashboard/feed.json").get_json()
    [hello] = [p for p in feed["panels"] if p["key"] == "hello"]
    assert hello["order"] == 900 and feed["panels"][-1]["key"] == "hello"
    assert '<p class="hello-municipality"><a href="/apps/hello">' in hello["html"]
    assert 'data-panel="hello"' in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_each_panel_degrades_when_its_app_is_disabled(make_app, users):
    from disaster_ai.testing import TEST_PASSWORDS, csrf_token_from

    app = make_app(
        DISABLED_PLUGINS=[
            "disaster_ai.apps.bulletins",
            "disaster_ai.apps.situation",
            *NOTICE_PLUGINS,
        ]
    )
    client = app.test_client()
    from disaster_ai.auth import create_user
    from disaster_ai.storage import get_storage, session_scope

    with app.app_context(), session_scope(get_storage(app)) as session:
        from sqlalchemy import select

        from disaster_ai.storage.models import User

        if session.scalar(select(User).where(User.username == "operator")) is None:
            create_user(session, "operator", "operator", TEST_PASSWORDS["operator"])
    page = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={
            "username": "operator",
            "password": TEST_PASSWORDS["operator"],
            "csrf_token": csrf_token_from(page),
        },
    )
    feed = client.get("/dashboard/feed.json")
    assert feed.status_code == 200
    body = feed.get_json()
    assert not {"incidents", "bulletin", "notices"} & set(body)
    assert body["panels"] == [] and body["since_id"] is None
    html = client.get("/").get_data(as_text=True)
    assert 'id="jobs"' in html and 'id="map"' in html
    assert "data-panel=" not in html  # a disabled app shows no panel


# --- in a real browser: districts shaded by the notice level in force ------------------------


def issue_lv4(client, headers_for, district: str) -> dict:
    operator, approver = headers_for("operator"), headers_for("approver")
    body = {
        "hazard": "inland_flood",
        "action": "発令",
        "level": 4,
        "districts": [district],
        "reason": "大雨により、道路や住宅が浸水するおそれが高まっています。",
    }
    created = client.post("/api/v1/notices", json=body, headers=operator)
    assert created.status_code == 201, created.get_json()
    nid = created.get_json()["id"]
    client.post(f"/api/v1/notices/{nid}/submit", headers=operator)
    ids = [v["id"] for v in created.get_json()["guard"]["violations"]]
    # the suggested shelters are not open in this test: the approver confirms with a reason
    approved = client.post(
        f"/api/v1/notices/{nid}/approve",
        json={
            "acknowledge": ids,
            "confirm_unopened_reason": "職員が向かっており、到着次第開設する",
        },
        headers=approver,
    )
    assert approved.status_code == 200, approved.get_json()
    issued = client.post(f"/api/v1/notices/{nid}/issue", headers=approver).get_json()
    assert issued["status"] == "issued", issued
    return issued


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_the_dashboard_shades_a_district_once_a_lv4_notice_is_issued(
    app, client, live_server, browser, users, api_headers
):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    browser_login(page, live_server, "operator", users["operator"])
    page.wait_for_selector("#map[data-loaded]", timeout=20_000)
    page.evaluate("window.__notReloaded = true")
    assert page.get_attribute("#map", "data-shaded-districts") == "0"
    legend = page.locator("#level-legend").inner_text()
    for text in ("警戒レベル5 緊急安全確保", "警戒レベル4 避難指示", "警戒レベル3 高齢者等避難"):
        assert text in legend  # number and name, never colour alone

    notice = issue_lv4(client, api_headers, "高新田自治会")
    key = notice["districts"][0]["key"]
    # the feed poll (every 5 s) shades it without a reload
    path = page.locator(f'#map path[data-district="{key}"][data-notice-level="4"]')
    path.wait_for(timeout=20_000)
    assert page.evaluate("window.__notReloaded === true")
    assert path.get_attribute("fill") == "#aa00aa"
    label = page.evaluate(
        "(key) => document.getElementById('map').daiDistrictLevels[key].label", key
    )
    assert label == "警戒レベル4 避難指示 (内水氾濫)"
    assert page.get_attribute("#map", "data-shaded-districts") == "1"
    # a fresh dashboard shades it from the map data straight away
    page.reload()
    page.wait_for_selector(
        f'#map path[data-district="{key}"][data-notice-level="4"]', timeout=20_000
    )
    tooltip = page.evaluate(
        "(key) => { let text = ''; document.getElementById('map').daiDistrictLayers.eachLayer("
        "(l) => { if (l.feature.properties.key === key) text = l.getTooltip().getContent(); });"
        " return text; }",
        key,
    )
    assert "警戒レベル4 避難指示 (内水氾濫)" in tooltip
    assert errors == []
    context.close()


def test_english_mode_names_the_levels_in_english_on_badges_and_the_map(
    app, client, desk, api_headers
):
    import re

    notice = issue_lv4(client, api_headers, "高新田自治会")
    key = notice["districts"][0]["key"]
    client.get("/lang/en")
    html = client.get("/").get_data(as_text=True)
    badges = re.findall(r'<span class="level-badge lv-4">([^<]*)</span>', html)
    assert badges == ["Alert level 4 Evacuation Instruction"]  # not 「Alert level 4 避難指示」
    feed = client.get("/dashboard/feed.json").get_json()
    assert feed["notices"]["items"][0]["label"] == "Alert level 4 Evacuation Instruction"
    data = client.get("/apps/situation/map-data.json?part=first").get_json()
    (districts,) = [layer for layer in data["layers"] if layer["id"] == "districts"]
    (shaded,) = [f for f in districts["geojson"]["features"] if f["properties"]["key"] == key]
    assert shaded["properties"]["notice_label"] == (
        "Alert level 4 Evacuation Instruction (Inland flooding)"
    )
    # the Japanese desk keeps the official names
    client.get("/lang/ja")
    html = client.get("/").get_data(as_text=True)
    assert re.findall(r'<span class="level-badge lv-4">([^<]*)</span>', html) == [
        "警戒レベル4 避難指示"
    ]
