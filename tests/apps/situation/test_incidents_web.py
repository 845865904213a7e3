"""The incident desk pages (/apps/situation/incidents): list with filters and paging, manual
entry (a map point or, without JavaScript, a district), edit with server-side validation in
Japanese, resolve and merge; each repeated submit is harmless. The browser test at the end (an
operator clicks the map, the incident appears in the dashboard feed without a reload) drives
Debian's chromium and saves docs/screenshots/incidents.png and dashboard.png."""

from __future__ import annotations

import re

import pytest
from situation_helpers import OGAWA_3, TOKYO_STATION, ensure_yaizu_layers
from sqlalchemy import func, select

from disaster_ai.testing import SCREENSHOTS, browser_login, csrf_token_from

BASE = "/apps/situation/incidents"


@pytest.fixture
def desk(app, client, yaizu, login, api_headers):
    """An operator logged in on the desk, with the Yaizu layers; returns the API headers."""
    ensure_yaizu_layers(app)
    login("operator")
    return api_headers("operator")


def token(client, path: str = BASE + "/new") -> str:
    return csrf_token_from(client.get(path).get_data(as_text=True))


def api_create(client, headers, **body) -> dict:
    response = client.post("/api/v1/incidents", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def count(app, model, *where) -> int:
    from disaster_ai.storage import get_storage, session_scope

    with app.app_context(), session_scope(get_storage(app)) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def incident_row(app, incident_id: int) -> dict:
    from disaster_ai.apps.situation.models import Incident
    from disaster_ai.storage import get_storage, session_scope

    with app.app_context(), session_scope(get_storage(app)) as session:
        row = session.get(Incident, incident_id)
        return {c.name: getattr(row, c.name) for c in Incident.__table__.columns}


def audit_count(app, action: str) -> int:
    from disaster_ai.storage.models import AuditEvent

    return count(app, AuditEvent, AuditEvent.action == action)


def errors_in(html: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="error" id="([\w-]+)-error" role="alert">([^<]*)</p>', html))


# --- permission ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [BASE, BASE + "/new", BASE + "/1", "/dashboard/feed.json", "/"])
def test_pages_send_a_visitor_who_is_not_logged_in_to_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_posts_without_login_change_nothing(app, client):
    from disaster_ai.apps.situation.models import Incident

    response = client.post(BASE + "/new", data={"category": "fire", "district_key": "x"})
    assert response.status_code in (302, 400)  # the CSRF check or the login redirect
    assert count(app, Incident) == 0


# --- list ----------------------------------------------------------------------------------


def test_the_list_filters_by_category_district_status_and_time(app, client, desk):
    rescue = api_create(
        client, desk, category="rescue", life_threat=True, place_name="小川新町三丁目"
    )
    flood = api_create(
        client,
        desk,
        category="road_flooding",
        district_key="jichikai-10",
        occurred_at="2026-09-23T06:00:00+09:00",
    )
    outage = api_create(client, desk, category="power_outage", district_key="jichikai-10")
    client.patch(f"/api/v1/incidents/{outage['id']}", json={"status": "resolved"}, headers=desk)

    def listed(query: str = "") -> set[int]:
        response = client.get(BASE + query)
        assert response.status_code == 200
        return {
            int(i)
            for i in re.findall(
                r'href="/apps/situation/incidents/(\d+)"', response.get_data(as_text=True)
            )
        }

    everything = {rescue["id"], flood["id"], outage["id"]}
    assert listed() == everything
    assert listed("?category=rescue") == {rescue["id"]}
    assert listed("?district=jichikai-10") == {flood["id"], outage["id"]}
    assert listed("?status=open") == {rescue["id"], flood["id"]}
    assert listed("?status=resolved") == {outage["id"]}
    assert listed("?until=2026-09-23") == {flood["id"]}  # the "to" day is included
    assert listed("?since=2026-09-24") == {rescue["id"], outage["id"]}
    assert listed("?life=1") == {rescue["id"]}
    # life-threatening incidents say so in text, with an icon, not by colour alone
    page = client.get(BASE + "?life=1").get_data(as_text=True)
    assert '<span class="life-badge"><span aria-hidden="true">⚠</span> 命の危険</span>' in page
    # a mistyped day is shown next to its field and the other filters still apply
    bad = client.get(BASE + "?since=2026-13-40&category=rescue")
    assert bad.status_code == 422
    assert errors_in(bad.get_data(as_text=True))["f-since"]
    assert f'/incidents/{rescue["id"]}"' in bad.get_data(as_text=True)


def test_the_list_pages(app, client, desk, monkeypatch):
    from disaster_ai.apps.situation import incidents_web

    monkeypatch.setattr(incidents_web, "PAGE_SIZE", 2)
    ids = [
        api_create(client, desk, category="fire", district_key="jichikai-10")["id"]
        for _ in range(5)
    ]
    first = client.get(BASE + "?category=fire").get_data(as_text=True)
    last = client.get(BASE + "?category=fire&page=3").get_data(as_text=True)

    def found(html):
        return [int(i) for i in re.findall(r'href="/apps/situation/incidents/(\d+)"', html)]

    assert found(first) == ids[::-1][:2] and found(last) == [ids[0]]
    assert 'rel="next" href="/apps/situation/incidents?page=2&amp;category=fire"' in first
    assert 'rel="prev"' in last and 'rel="next"' not in last


# --- new -----------------------------------------------------------------------------------


def test_an_incident_recorded_at_a_map_point_gets_its_district(app, client, desk):
    from disaster_ai.apps.situation.models import Incident

    form = {
        "csrf_token": token(client),
        "category": "rescue",
        "status": "unverified",
        "life_threat": "y",
        "people": "２",  # full-width, as typed on a Japanese keyboard
        "lon": f"{OGAWA_3[0]}",
        "lat": f"{OGAWA_3[1]}",
        "place_name": "小川新町の交差点付近",
        "description": "2階に取り残されている",
    }
    response = client.post(BASE + "/new", data=form)
    assert response.status_code == 302
    incident_id = int(response.headers["Location"].rsplit("/", 1)[1])
    row = incident_row(app, incident_id)
    assert (row["lon"], row["lat"], row["people"], row["life_threat"]) == (*OGAWA_3, 2, True)
    assert row["district_key"] and row["source"] == "manual" and row["created_by"] == "operator"
    assert audit_count(app, "incident.create") == 1
    # the same form submitted again (a double click) records nothing new
    again = client.post(BASE + "/new", data=form)
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/{incident_id}")
    assert count(app, Incident) == 1 and audit_count(app, "incident.create") == 1
    detail = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "命の危険" in detail and "2階に取り残されている" in detail


def test_without_javascript_the_operator_chooses_a_district(app, client, desk):
    page = client.get(BASE + "/new").get_data(as_text=True)
    assert '<option value="jichikai-10">' in page  # the fallback picker lists the districts
    response = client.post(
        BASE + "/new",
        data={
            "csrf_token": token(client),
            "category": "power_outage",
            "district_key": "jichikai-10",
        },
    )
    assert response.status_code == 302
    row = incident_row(app, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert (row["lon"], row["lat"], row["district_key"]) == (None, None, "jichikai-10")


def test_errors_are_shown_in_japanese_next_to_the_field_and_nothing_typed_is_lost(
    app, client, desk
):
    from disaster_ai.apps.situation.models import Incident

    csrf = token(client)
    missing = client.post(
        BASE + "/new",
        data={
            "csrf_token": csrf,
            "category": "",
            "people": "たくさん",
            "description": "川があふれそう",
        },
    )
    assert missing.status_code == 422
    html = missing.get_data(as_text=True)
    errors = errors_in(html)
    assert errors["category"] == "この項目は必須です。"
    assert errors["people"] == "整数で入力してください（例：120）。"
    assert "川があふれそう</textarea>" in html and 'value="たくさん"' in html
    # the service's rules, shown on the field they concern
    outside = client.post(
        BASE + "/new",
        data={
            "csrf_token": csrf,
            "category": "fire",
            "lon": str(TOKYO_STATION[0]),
            "lat": str(TOKYO_STATION[1]),
            "description": "東京駅",
        },
    )
    assert outside.status_code == 422
    html = outside.get_data(as_text=True)
    assert errors_in(html)["lon"] == "この地点は管外です（どの地区にも含まれません）。"
    assert f'value="{TOKYO_STATION[0]}"' in html and "東京駅</textarea>" in html
    both = client.post(
        BASE + "/new",
        data={
            "csrf_token": csrf,
            "category": "fire",
            "lon": str(OGAWA_3[0]),
            "lat": "",
            "district_key": "",
        },
    )
    assert errors_in(both.get_data(as_text=True))["lat"] == (
        "lon と lat は両方とも指定するか、どちらも指定しないでください。"
    )
    future = client.post(
        BASE + "/new",
        data={
            "csrf_token": csrf,
            "category": "fire",
            "district_key": "jichikai-10",
            "occurred_at": "2099-01-01T00:00",
        },
    )
    assert errors_in(future.get_data(as_text=True))["occurred_at"] == "未来の日時は指定できません。"
    nowhere = client.post(BASE + "/new", data={"csrf_token": csrf, "category": "fire"})
    assert nowhere.status_code == 422 and errors_in(nowhere.get_data(as_text=True))["lon"]
    assert count(app, Incident) == 0


def test_a_form_without_its_csrf_token_is_refused(app, client, desk):
    from disaster_ai.apps.situation.models import Incident

    response = client.post(BASE + "/new", data={"category": "fire", "district_key": "jichikai-10"})
    assert response.status_code in (400, 422)
    assert count(app, Incident) == 0


# --- edit, resolve, merge ------------------------------------------------------------------


def test_edit_saves_the_changes_and_a_repeat_changes_nothing(app, client, desk):
    incident = api_create(client, desk, category="inundation", lon=OGAWA_3[0], lat=OGAWA_3[1])
    path = f"{BASE}/{incident['id']}"
    form = {
        "csrf_token": token(client, path),
        "category": "inundation",
        "status": "confirmed",
        "people": "12",
        "vulnerable": "y",
        "occurred_at": "2026-09-23T06:05",
        "lon": f"{OGAWA_3[0]:.6f}",
        "lat": f"{OGAWA_3[1]:.6f}",
        "district_key": "",
        "place_name": "",
        "description": "床上浸水",
    }
    response = client.post(path, data=form)
    assert response.status_code == 302
    row = incident_row(app, incident["id"])
    assert (row["status"], row["people"], row["vulnerable"], row["description"]) == (
        "confirmed",
        12,
        True,
        "床上浸水",
    )
    assert (
        row["occurred_at"].isoformat().startswith("2026-09-2")
    )  # 06:05 JST = 21:05 UTC the day before
    assert audit_count(app, "incident.update") == 1
    assert client.post(path, data=form).status_code == 302
    assert audit_count(app, "incident.update") == 1  # the same values again write nothing
    # a validation error keeps what was typed and saves nothing
    bad = client.post(path, data={**form, "people": "-3", "description": "書きかけ"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert errors_in(html)["people"] == "0から100000までの数を入力してください。"
    assert "書きかけ</textarea>" in html
    moved = client.post(path, data={**form, "lon": "", "lat": "", "district_key": "no-such"})
    assert (
        errors_in(moved.get_data(as_text=True))["district_key"]
        == "キー no-such の地区はありません。"
    )
    assert incident_row(app, incident["id"])["description"] == "床上浸水"


def test_saving_the_untouched_form_changes_nothing(app, client, desk):
    incident = api_create(
        client,
        desk,
        category="fire",
        place_name="小川新町三丁目",
        occurred_at="2026-09-23T06:05:30+09:00",
        description="煙が見える",
    )
    path = f"{BASE}/{incident['id']}"
    page = client.get(path).get_data(as_text=True)
    assert 'value="2026-09-23T06:05"' in page
    form = {
        "csrf_token": csrf_token_from(page),
        "category": "fire",
        "status": "unverified",
        "people": "",
        "occurred_at": "2026-09-23T06:05",
        "lon": re.search(r'id="lon"[^>]*value="([^"]*)"', page).group(1),
        "lat": re.search(r'id="lat"[^>]*value="([^"]*)"', page).group(1),
        "district_key": "",
        "place_name": "小川新町三丁目",
        "description": "煙が見える",
    }
    response = client.post(path, data=form, follow_redirects=True)
    assert response.status_code == 200
    assert audit_count(app, "incident.update") == 0
    assert incident_row(app, incident["id"])["occurred_at"].second == 30


def test_resolve_twice_resolves_once(app, client, desk):
    incident = api_create(client, desk, category="fire", district_key="jichikai-10")
    path = f"{BASE}/{incident['id']}"
    csrf = token(client, path)
    assert client.post(path + "/resolve", data={"csrf_token": csrf}).status_code == 302
    assert incident_row(app, incident["id"])["status"] == "resolved"
    again = client.post(path + "/resolve", data={"csrf_token": csrf}, follow_redirects=True)
    assert again.status_code == 200
    assert audit_count(app, "incident.resolve") == 1
    assert "Mark as resolved" not in again.get_data(as_text=True)


def test_merge_a_duplicate_into_the_incident_to_keep(app, client, desk):
    kept = api_create(client, desk, category="rescue", place_name="小川新町三丁目")
    duplicate = api_create(
        client, desk, category="rescue", place_name="小川新町三丁目", life_threat=True, people=3
    )
    path = f"{BASE}/{duplicate['id']}"
    page = client.get(path).get_data(as_text=True)
    assert f'<input type="hidden" name="into" value="{kept["id"]}">' in page  # offered as candidate
    csrf = csrf_token_from(page)
    itself = client.post(path + "/merge", data={"csrf_token": csrf, "into": str(duplicate["id"])})
    assert itself.status_code == 422
    assert "事案をその事案自身に統合することはできません。" in itself.get_data(as_text=True)
    response = client.post(path + "/merge", data={"csrf_token": csrf, "into": f"#{kept['id']}"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/{kept['id']}")
    assert incident_row(app, duplicate["id"])["merged_into"] == kept["id"]
    row = incident_row(app, kept["id"])
    assert row["life_threat"] is True and row["people"] == 3  # merging never hides a danger
    # a second submit of the same merge is harmless
    again = client.post(path + "/merge", data={"csrf_token": csrf, "into": str(kept["id"])})
    assert again.status_code == 302 and audit_count(app, "incident.merge") == 1
    listing = client.get(BASE).get_data(as_text=True)
    assert (
        f'/incidents/{duplicate["id"]}"' not in listing and f'/incidents/{kept["id"]}"' in listing
    )
    # the duplicate's page says where it went and offers no edit
    merged_page = client.get(path).get_data(as_text=True)
    assert f'href="/apps/situation/incidents/{kept["id"]}">#{kept["id"]}</a>' in merged_page
    assert "edit-title" not in merged_page


def test_an_unknown_incident_is_a_404(client, desk):
    assert client.get(BASE + "/999").status_code == 404


# --- in a real browser ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _yaizu_layers(request):
    """Browser tests: every Yaizu layer is active before the live server serves a page."""
    if "live_server" in request.fixturenames:
        request.getfixturevalue("yaizu")
        ensure_yaizu_layers(request.getfixturevalue("app"))


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_an_incident_clicked_on_the_map_appears_in_the_dashboard_feed(
    app, client, live_server, browser, users, api_headers
):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    dashboard = context.new_page()
    dashboard.on("pageerror", lambda exc: errors.append(str(exc)))
    browser_login(dashboard, live_server, "operator", users["operator"])
    dashboard.wait_for_selector("#map[data-loaded]", timeout=20_000)
    dashboard.evaluate("window.__notReloaded = true")
    assert dashboard.locator("#incident-feed li").count() == 0
    assert dashboard.locator("#incident-feed-empty").is_visible()

    form = context.new_page()
    form.on("pageerror", lambda exc: errors.append(str(exc)))
    form.goto(f"{live_server}/apps/situation/incidents/new")
    form.wait_for_selector("#incident-map[data-loaded=true]", timeout=20_000)
    form.select_option("#category", "rescue")
    form.check("#life_threat")
    form.fill("#description", "2階に取り残されている")
    # a real click on the map where 小川新町三丁目 is
    x, y = form.evaluate(
        "([lon, lat]) => { const p = document.getElementById('incident-map').daiMap"
        ".latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        list(OGAWA_3),
    )
    box = form.locator("#incident-map").bounding_box()
    form.mouse.click(box["x"] + x, box["y"] + y)
    lon, lat = float(form.input_value("#lon")), float(form.input_value("#lat"))
    assert abs(lon - OGAWA_3[0]) < 0.0005 and abs(lat - OGAWA_3[1]) < 0.0005
    assert form.locator("#incident-map-status").inner_text()  # announced to screen readers
    form.click("form.incident-form button[type=submit]")
    form.wait_for_url(re.compile(r".*/apps/situation/incidents/\d+$"))
    incident_id = int(form.url.rsplit("/", 1)[1])
    row = incident_row(app, incident_id)
    assert row["district_key"] and row["life_threat"] is True and row["source"] == "manual"
    headers = api_headers("approver")
    for body in (
        {"category": "road_flooding", "lon": 138.3150, "lat": 34.8670, "people": 0},
        {"category": "power_outage", "district_key": "jichikai-10", "status": "confirmed"},
        {"category": "welfare_check", "place_name": "小川新町三丁目", "vulnerable": True},
    ):
        api_create(client, headers, **body)
    form.goto(f"{live_server}/apps/situation/incidents")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    form.screenshot(path=str(SCREENSHOTS / "incidents.png"), full_page=True)

    # the dashboard, never reloaded, shows it within a few polls
    item = dashboard.locator(f'#incident-feed li[data-id="{incident_id}"]')
    item.wait_for(timeout=20_000)
    assert dashboard.evaluate("window.__notReloaded === true")
    assert "命の危険" in item.inner_text() and "救助要請" in item.inner_text()
    assert "is-life" in (item.get_attribute("class") or "")
    assert not dashboard.locator("#incident-feed-empty").is_visible()
    # keyboard: the feed item is a link that takes the focus visibly
    item.locator("a").focus()
    outline = item.locator("a").evaluate("(el) => getComputedStyle(el).outlineStyle")
    assert outline != "none"
    dashboard.wait_for_timeout(500)
    dashboard.screenshot(path=str(SCREENSHOTS / "dashboard.png"))
    assert errors == []
    assert all(url.startswith(live_server) for url in requested), [
        u for u in requested if not u.startswith(live_server)
    ]


def test_hook_dai_incident_links(app, client, desk, register_plugin):
    from disaster_ai import hookimpl
    from disaster_ai.types import Link

    made = api_create(client, desk, category="fire", place_name="小川新町三丁目")
    seen = []

    class FieldReports:
        @hookimpl
        def dai_incident_links(self, session, incident_id, actor):
            seen.append((incident_id, actor.username, session is not None))
            return [Link("現地報告 #3", "/apps/field/3"), "not a link"]

    class Broken:
        @hookimpl
        def dai_incident_links(self, session, incident_id, actor):
            raise RuntimeError("the field system is down")

    register_plugin(FieldReports(), name="field-reports")
    register_plugin(Broken(), name="broken-links")
    page = client.get(f"{BASE}/{made['id']}")
    html = page.get_data(as_text=True)
    # the plugin's link is listed under 関連; the failing plugin and the non-link are left out
    assert page.status_code == 200
    assert '<a href="/apps/field/3">現地報告 #3</a>' in html and "関連" in html
    assert "not a link" not in html
    assert seen == [(made["id"], "operator", True)]
