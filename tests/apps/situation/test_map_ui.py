"""The situation map and the shelter page in a real browser (Debian's chromium via playwright).

The app runs on a free localhost port in a thread (werkzeug), on SQLite with the Yaizu kit
(the shared ``live_server`` and ``browser`` fixtures of disaster_ai.testing).
Screenshots land in docs/screenshots/. Without /usr/bin/chromium the tests skip, unless
DISASTER_AI_REQUIRE_SERVICES=1 (then they fail).
"""

from __future__ import annotations

import pytest
from situation_helpers import OGAWA_3, ensure_yaizu_layers

from disaster_ai.testing import SCREENSHOTS, browser_login

# Pages, not storage, are under test here: SQLite only.
pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


@pytest.fixture(autouse=True)
def _yaizu_layers(request):
    """Browser tests: every Yaizu layer is active before the live server serves a page."""
    if "live_server" in request.fixturenames:
        request.getfixturevalue("yaizu")
        ensure_yaizu_layers(request.getfixturevalue("app"))


def add_incidents(client, headers) -> None:
    for body in (
        {
            "category": "rescue",
            "life_threat": True,
            "people": 2,
            "place_name": "小川新町三丁目",
            "description": "2階に取り残され <script>alert(1)</script>",
        },
        {"category": "road_flooding", "lon": 138.3150, "lat": 34.8670},
        {"category": "power_outage", "district_key": "jichikai-10"},
    ):
        assert client.post("/api/v1/incidents", json=body, headers=headers).status_code == 201
    assert (
        client.post(
            "/api/v1/shelters/designated-1/status",
            json={"is_open": True, "occupancy": 35},
            headers=headers,
        ).status_code
        == 200
    )


@pytest.mark.browser
@pytest.mark.slow
def test_the_situation_map_draws_every_layer_and_toggles_them(
    live_server, browser, client, api_headers, users
):
    add_incidents(client, api_headers("operator"))
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    browser_login(page, live_server, "operator", users["operator"])
    page.goto(f"{live_server}/apps/situation")
    page.wait_for_selector("#situation-map[data-loaded=true]", timeout=20_000)
    # the hazard zones come in the second answer, after the first paint
    page.wait_for_selector("#situation-map[data-details=loaded]", timeout=20_000)
    the_map = page.locator("#situation-map")
    assert the_map.get_attribute("data-count-districts") == "35"
    assert the_map.get_attribute("data-count-shelters") == "87"
    assert the_map.get_attribute("data-count-hazard-zones") == "6"
    assert the_map.get_attribute("data-count-incidents") == "3"
    assert page.locator("path.dai-district").count() == 35
    assert page.locator("path.dai-hazard").count() == 6
    assert page.locator(".leaflet-marker-icon .dai-shelter").count() == 87
    assert page.locator(".leaflet-marker-icon .dai-shelter--usable").count() == 1
    assert page.locator(".leaflet-marker-icon .dai-incident").count() == 3
    # the life-threatening one pulses, unless the user asked for less motion
    life = page.locator(".leaflet-marker-icon .dai-incident--life")
    assert life.count() == 1
    pulse = "(el) => getComputedStyle(el, '::after').animationName"
    assert life.evaluate(pulse) == "dai-pulse"
    page.emulate_media(reduced_motion="reduce")
    assert life.evaluate(pulse) == "none"
    page.emulate_media(reduced_motion="no-preference")
    # every dataset's credit is on the page, and nothing was fetched from another host
    credits = page.locator("#sit-attribution").inner_text()
    assert "自治会区域" in credits and "内水浸水想定区域" in credits and "避難所一覧" in credits
    assert "自主防災会境界" in credits  # the municipal boundary, from the providers plugin
    assert all(url.startswith(live_server) for url in requested), [
        u for u in requested if not u.startswith(live_server)
    ]
    # popups: key facts, and user text stays text
    life.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "小川新町三丁目" in popup.inner_text() and "<script>" in popup.inner_text()
    page.wait_for_timeout(400)  # the popup's fade-in
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "situation_map.png"))
    page.keyboard.press("Escape")
    # toggle the districts off and on again in the layer control
    toggle = page.locator(
        ".leaflet-control-layers-overlays label", has=page.locator("[data-layer=districts]")
    ).locator("input")
    toggle.uncheck()
    assert page.locator("path.dai-district").count() == 0
    assert page.locator("path.dai-hazard").count() == 6
    toggle.check()
    assert page.locator("path.dai-district").count() == 35
    page.locator(
        ".leaflet-control-layers-overlays label", has=page.locator("[data-layer=shelters]")
    ).locator("input").uncheck()
    assert page.locator(".leaflet-marker-icon .dai-shelter").count() == 0
    assert errors == []


@pytest.mark.browser
@pytest.mark.slow
def test_the_dashboard_map_uses_the_same_layers(live_server, browser, client, api_headers, users):
    add_incidents(client, api_headers("operator"))
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    browser_login(page, live_server, "operator", users["operator"])
    page.wait_for_selector("#map[data-loaded]", timeout=20_000)
    assert page.locator("#map path.dai-district").count() == 35
    assert page.locator("#map .leaflet-marker-icon .dai-shelter").count() == 87
    assert page.locator("#map .leaflet-marker-icon .dai-incident--life").count() == 1
    assert "自治会区域" in page.locator("#map-attribution").inner_text()
    assert errors == []


@pytest.mark.browser
@pytest.mark.slow
def test_the_shelter_page_works_on_a_375_px_phone(app, live_server, browser, users):
    context = browser.new_context(
        viewport={"width": 375, "height": 740},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    page = context.new_page()
    browser_login(page, live_server, "operator", users["operator"])
    page.goto(f"{live_server}/apps/situation/shelters")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
    page.fill("[data-shelter-filter]", "二区コミュニティ")
    card = page.locator(".shelter-card[data-key='designated-1']")
    assert card.is_visible() and page.locator(".shelter-card:visible").count() == 1
    # a wrong number: the message appears next to the field and the typed text is kept
    card.locator("input[type=radio][value=open]").check()
    card.locator("input[inputmode=numeric]").fill("たくさん")
    card.locator("button[type=submit]").click()
    card = page.locator(".shelter-card[data-key='designated-1']")
    error = card.locator(".field.has-error .error[role=alert]")
    assert error.count() == 1 and error.inner_text()
    assert card.locator("input[inputmode=numeric]").input_value() == "たくさん"
    assert card.locator("input[type=radio][value=open]").is_checked()
    # full-width digits, as a Japanese phone keyboard types them, are fine
    card.locator("input[inputmode=numeric]").fill("１２０")
    card.locator("button[type=submit]").click()
    page.wait_for_selector(".flash")
    card = page.locator(".shelter-card[data-key='designated-1']")
    assert card.locator("input[inputmode=numeric]").input_value() == "120"
    assert "is-open" in card.get_attribute("class")
    assert card.locator(".badge--usable").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / "situation_shelters_phone.png"))
    context.close()

    from sqlalchemy import select

    from disaster_ai import audit
    from disaster_ai.apps.situation.models import ShelterStatus
    from disaster_ai.storage import get_storage, session_scope

    with app.app_context(), session_scope(get_storage(app)) as session:
        status = session.get(ShelterStatus, "designated-1")
        assert (status.is_open, status.occupancy, status.updated_by) == (True, 120, "operator")
        (event,) = audit.query_events(session, action="shelter.status")
        assert event.detail["after"] == {"is_open": True, "occupancy": 120}
        assert (
            session.scalar(
                select(ShelterStatus.occupancy).where(ShelterStatus.shelter_key == "designated-2")
            )
            is None
        )


def test_the_map_and_shelter_pages_need_a_login(client):
    assert client.get("/apps/situation").status_code == 302
    assert client.get("/apps/situation/shelters").status_code == 302
    assert client.get("/apps/situation/map-data.json").status_code == 302


def test_place_point_is_on_the_map(client, login, yaizu, app, api_headers):
    ensure_yaizu_layers(app)
    assert (
        client.post(
            "/api/v1/incidents",
            json={"category": "rescue", "place_name": "小川新町三丁目"},
            headers=api_headers("operator"),
        ).status_code
        == 201
    )
    login("operator")
    body = client.get("/apps/situation/map-data.json?layers=incidents,shelters").get_json()
    assert [layer["id"] for layer in body["layers"]] == ["shelters", "incidents"]
    (feature,) = body["layers"][1]["geojson"]["features"]
    assert feature["geometry"]["coordinates"] == list(OGAWA_3)
    assert body["tiles"] is None


def test_map_data_reads_the_same_incident_features_as_the_incidents_service(
    client, login, yaizu, app, api_headers
):
    """The map data reads the incidents as plain columns (fast); the features must be the
    ones ``incidents.incident_feature`` builds from ORM rows."""
    from disaster_ai.apps.situation import incidents as service
    from disaster_ai.storage import get_storage, session_scope

    ensure_yaizu_layers(app)
    add_incidents(client, api_headers("operator"))
    resolved = client.post(
        "/api/v1/incidents",
        json={"category": "fire", "district_key": "jichikai-11"},
        headers=api_headers("operator"),
    ).get_json()
    client.patch(
        f"/api/v1/incidents/{resolved['id']}",
        json={"status": "resolved"},
        headers=api_headers("operator"),
    )
    login("operator")

    def same_as_the_service(count):
        body = client.get("/apps/situation/map-data.json?layers=incidents").get_json()
        (layer,) = body["layers"]
        with app.test_request_context(), session_scope(get_storage(app)) as session:
            expected = service.incidents_geojson(
                session, service.IncidentFilter(statuses=("unverified", "confirmed"), limit=5000)
            )
        expected_features = [f for f in expected["features"] if f["geometry"] is not None]
        assert layer["geojson"]["features"] == expected_features
        assert len(expected_features) == count
        assert layer["geojson"]["total"] == expected["total"]
        assert layer["kind"] == "incidents" and layer["title"]
        return expected_features

    features = same_as_the_service(3)
    # an edit shows at once (each incident's JSON is kept only until its updated_at moves)
    edited = client.patch(
        f"/api/v1/incidents/{features[0]['id']}",
        json={"people": 7, "status": "confirmed"},
        headers=api_headers("operator"),
    )
    assert edited.status_code == 200, edited.get_json()
    features = same_as_the_service(3)
    assert features[0]["properties"]["people"] == 7
    client.patch(
        f"/api/v1/incidents/{features[1]['id']}",
        json={"status": "resolved"},
        headers=api_headers("operator"),
    )
    same_as_the_service(2)


def _shelter_form_fields(html: str, key: str) -> dict:
    """The hidden fields of one shelter's form (its prefixed CSRF token)."""
    import re

    from disaster_ai.apps.situation.web import form_prefix

    prefix = form_prefix(key)
    token = re.search(rf'name="{prefix}-csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    return {f"{prefix}-csrf_token": token}, prefix


def test_shelter_form_validates_on_the_server_and_a_double_submit_is_harmless(
    app, client, login, yaizu
):
    from disaster_ai import audit
    from disaster_ai.storage import get_storage, session_scope

    ensure_yaizu_layers(app)
    login("operator")
    html = client.get("/apps/situation/shelters?lang=en").get_data(as_text=True)
    hidden, prefix = _shelter_form_fields(html, "designated-1")
    url = "/apps/situation/shelters/designated-1"
    for occupancy, message in (
        ("-5", "Enter a number from 0 to 100000."),
        ("lots", "Enter a whole number, e.g. 120."),
        ("", "Enter the number of people (0 when empty)."),
    ):
        response = client.post(
            url, data={**hidden, f"{prefix}-state": "open", f"{prefix}-occupancy": occupancy}
        )
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert message in page and f'value="{occupancy}"' in page  # the message, and what was typed
    missing_state = client.post(url, data={**hidden, f"{prefix}-occupancy": "3"})
    assert missing_state.status_code == 422 and "Choose open or closed." in missing_state.get_data(
        as_text=True
    )
    no_csrf = client.post(url, data={f"{prefix}-state": "open", f"{prefix}-occupancy": "3"})
    assert no_csrf.status_code == 400
    assert client.post("/apps/situation/shelters/designated-999", data=hidden).status_code == 404
    with app.app_context(), session_scope(get_storage(app)) as session:
        assert audit.query_events(session, action="shelter.status") == []
    good = {**hidden, f"{prefix}-state": "open", f"{prefix}-occupancy": "1,200"}
    first = client.post(url, data=good, follow_redirects=True)
    assert first.status_code == 200 and "saved" in first.get_data(as_text=True)
    second = client.post(url, data=good, follow_redirects=True)
    assert "nothing changed" in second.get_data(as_text=True)
    with app.app_context(), session_scope(get_storage(app)) as session:
        (event,) = audit.query_events(session, action="shelter.status")
        assert event.detail["after"] == {"is_open": True, "occupancy": 1200}
