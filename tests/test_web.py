"""The desk shell: dashboard with the municipality outline, admin pages, /healthz, static assets."""

from disaster_ai import audit


def test_dashboard_shows_the_yaizu_outline_from_local_assets(client, login, yaizu):
    login("operator")
    html = client.get("/").get_data(as_text=True)
    assert 'id="map"' in html
    assert "leaflet.js" in html and "unpkg" not in html and "cdn" not in html.lower()
    layers = client.get("/map/layers.json").get_json()["layers"]
    outline = next(layer for layer in layers if layer["id"] == "municipality")
    feature = outline["geojson"]["features"][0]
    assert feature["properties"]["name"] == "焼津市" and feature["geometry"]["type"] == "Polygon"
    assert (
        "焼津市オープンデータ" in feature["properties"]["attribution"]
    )  # CC BY credit shown on the map
    assert '<span class="muni">焼津市</span>' in html  # the header names the loaded municipality
    with client.get("/static/desk/vendor/leaflet/leaflet.js") as asset:
        assert asset.status_code == 200 and b"Leaflet" in asset.data


def test_the_municipality_api_says_what_to_do_before_init(client, api_headers):
    response = client.get("/api/v1/municipality", headers=api_headers("operator"))
    message = response.get_json()["error"]["message"]
    assert response.status_code == 404 and "init --municipality" in message
    assert "yaizu" not in message  # a new town is never told to load the sample


def test_municipality_api_after_loading_the_sample(client, api_headers, yaizu):
    body = client.get("/api/v1/municipality", headers=api_headers("operator")).get_json()
    assert (body["name"], body["lg_code"], body["jis_code"]) == ("焼津市", "222127", "22212")
    assert body["prefecture"] == "静岡県" and body["jma_area_code"]
    assert "焼津市オープンデータ" in body["attribution"]


def test_audit_page_filters_by_action_and_user(app, client, login):
    with app.app_context():
        audit.record("notice.approve", app="notices", target="notice:7")
        audit.record("bulletin.issue", app="bulletins", target="bulletin:1")
    login("admin")
    html = client.get("/admin/audit?action=notice.").get_data(as_text=True)
    assert "notice:7" in html and "bulletin:1" not in html
    assert "auth.login" in client.get("/admin/audit?actor=admin").get_data(as_text=True)
    bad_day = client.get("/admin/audit?day=23/09/2026")
    assert bad_day.status_code == 200 and 'role="alert"' in bad_day.get_data(as_text=True)


def test_usage_page_lists_ai_calls_per_app(app, client, login):
    with app.app_context():
        audit.record_ai_call(
            app="transcription",
            engine="faster-whisper",
            model="base",
            input_text="x",
            output="y",
            duration_ms=2500,
        )
    login("admin")
    html = client.get("/admin/usage").get_data(as_text=True)
    assert "transcription" in html and "2.5" in html


def test_healthz_reports_each_check_and_is_503_without_a_scheduler(client):
    response = client.get("/healthz")
    body = response.get_json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["scheduler"]["ok"] is False
    assert response.status_code == 503 and body["status"] == "degraded"


def test_healthz_is_ok_when_worker_and_scheduler_report(app, client):
    from disaster_ai.jobs.service import beat

    beat(app, "worker:test:1", "worker")
    beat(app, "scheduler", "scheduler")
    response = client.get("/healthz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "ok"


def test_healthz_on_an_unmigrated_database_says_so(make_app):
    app = make_app(migrate=False)
    body = app.test_client().get("/healthz").get_json()
    assert body["checks"]["database"] == {
        "ok": False,
        "detail": "not migrated: run disaster-ai init",
        "critical": True,
    }


def test_every_response_carries_a_request_id(client):
    assert len(client.get("/login").headers["X-Request-ID"]) == 32
    assert client.get("/login", headers={"X-Request-ID": "abc"}).headers["X-Request-ID"] == "abc"


def test_log_lines_are_one_json_object_with_request_id_and_user(app, client, login, capsys):
    import json
    import logging

    @app.get("/log-probe")
    def probe():
        logging.getLogger("disaster_ai.probe").warning("probe line")
        return "ok"

    login("operator")
    client.get("/log-probe", headers={"X-Request-ID": "rid-7"})
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if "probe line" in line
    ]
    assert lines and lines[0]["request_id"] == "rid-7" and lines[0]["user"] == "operator"
