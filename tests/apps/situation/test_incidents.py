"""Incidents and shelter status: the JSON API and its service (disaster_ai.apps.situation.incidents).

The ``yaizu`` fixture loads the real Yaizu kit through ``disaster-ai init --sample yaizu``;
:func:`situation_helpers.ensure_yaizu_layers` checks that all four reference layers came in.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from situation_helpers import OGAWA_3, TOKYO_STATION, ensure_yaizu_layers

from disaster_ai.config import REPO_ROOT

SAMPLE = Path(REPO_ROOT) / "sample_data" / "yaizu"


# --- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture
def kit(app, yaizu):
    ensure_yaizu_layers(app)
    return yaizu


@pytest.fixture
def operator(api_headers):
    return api_headers("operator")


def district_containing(lon: float, lat: float) -> str:
    """Independent of the service: which 自治会区域 of the sample file holds the point."""
    import geopandas as gpd
    import shapely

    districts = gpd.read_file(SAMPLE / "yaizu_jichikai_areas.geojson")
    inside = districts[districts.contains(shapely.Point(lon, lat))]
    assert len(inside) == 1
    return f"jichikai-{inside['id'].iloc[0]}"


def counts(app) -> tuple[int, int, int]:
    """(incidents, shelter status rows, situation audit rows)."""
    from sqlalchemy import func, select

    from disaster_ai.apps.situation.models import Incident, ShelterStatus
    from disaster_ai.storage import get_storage, session_scope
    from disaster_ai.storage.models import AuditEvent

    with app.app_context(), session_scope(get_storage(app)) as session:
        return (
            session.scalar(select(func.count(Incident.id))),
            session.scalar(select(func.count()).select_from(ShelterStatus)),
            session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.app == "situation")),
        )


def audit_rows(app, action: str) -> list:
    from disaster_ai import audit
    from disaster_ai.storage import get_storage, session_scope

    with app.app_context(), session_scope(get_storage(app)) as session:
        return [
            (e.action, e.app, e.actor_name, e.target, e.detail)
            for e in audit.query_events(session, action=action)
        ]


def create(client, headers, **body):
    response = client.post("/api/v1/incidents", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- create ----------------------------------------------------------------------------------


def test_create_by_point_computes_the_district(app, client, kit, operator):
    lon, lat = 138.3212, 34.8601  # near 二区コミュニティ防災センター, 本町
    response = client.post(
        "/api/v1/incidents",
        headers=operator,
        json={
            "category": "rescue",
            "life_threat": True,
            "people": 2,
            "vulnerable": True,
            "source": "call",
            "occurred_at": "2026-09-23T06:10:00+09:00",
            "lon": lon,
            "lat": lat,
            "description": "2階に取り残され",
        },
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["district_key"] == district_containing(lon, lat)
    assert body["district_name"].endswith("自治会")
    assert (body["category"], body["life_threat"], body["people"], body["vulnerable"]) == (
        "rescue",
        True,
        2,
        True,
    )
    assert (body["status"], body["source"], body["created_by"]) == (
        "unverified",
        "call",
        "operator",
    )
    assert body["occurred_at"] == "2026-09-23T06:10:00+09:00"
    assert response.headers["Location"].endswith(f"/api/v1/incidents/{body['id']}")
    assert client.get(response.headers["Location"], headers=operator).get_json() == body
    (row,) = audit_rows(app, "incident.create")
    assert row[:4] == ("incident.create", "situation", "operator", f"incident:{body['id']}")
    assert row[4]["district_key"] == body["district_key"]


def test_create_by_district_key_is_drawn_at_the_district(client, kit, operator):
    import shapely

    body = create(client, operator, category="inundation", district_key="jichikai-10")
    assert (body["lon"], body["lat"], body["district_key"], body["district_name"]) == (
        None,
        None,
        "jichikai-10",
        "高新田自治会",
    )
    assert body["occurred_at"].endswith("+09:00")  # defaults to now, in Japan time
    feature = client.get("/api/v1/incidents.geojson", headers=operator).get_json()["features"][0]
    assert feature["properties"]["location_precision"] == "district"
    lon, lat = feature["geometry"]["coordinates"]
    assert district_containing(lon, lat) == "jichikai-10"
    assert shapely.Point(lon, lat).is_valid


def test_create_by_place_name_uses_the_gazetteer_point(client, kit, operator):
    body = create(client, operator, category="rescue", place_name="小川新町三丁目")
    assert (body["lon"], body["lat"]) == OGAWA_3
    assert body["place_name"] == "小川新町三丁目"
    assert body["district_key"] == district_containing(*OGAWA_3)
    # with a point, the place name is free text and needs no gazetteer entry
    free = create(
        client,
        operator,
        category="rescue",
        lon=OGAWA_3[0],
        lat=OGAWA_3[1],
        place_name="小川新町の交差点付近",
    )
    assert (
        free["place_name"] == "小川新町の交差点付近"
        and free["district_key"] == body["district_key"]
    )


BAD_BODIES = [
    ({"category": "tornado", "district_key": "jichikai-10"}, "category"),
    (
        {"category": "fire", "district_key": "jichikai-10", "occurred_at": "2026-09-23T06:10:00"},
        "occurred_at",
    ),
    (
        {
            "category": "fire",
            "district_key": "jichikai-10",
            "occurred_at": "2099-01-01T00:00:00+09:00",
        },
        "occurred_at",
    ),
    ({"category": "fire", "lon": TOKYO_STATION[0], "lat": TOKYO_STATION[1]}, "location"),
    ({"category": "fire", "lon": 138.40, "lat": 34.85}, "location"),  # 駿河湾, offshore
    ({"category": "fire", "lon": 238.3, "lat": 34.85}, "lon"),
    ({"category": "fire", "lon": 138.32}, "lat"),
    ({"category": "fire", "district_key": "jichikai-999"}, "district_key"),
    (
        {"category": "fire", "district_key": "jichikai-10", "lon": OGAWA_3[0], "lat": OGAWA_3[1]},
        "district_key",
    ),
    ({"category": "fire", "place_name": "霞が関一丁目"}, "place_name"),
    ({"category": "fire"}, "location"),
    ({"district_key": "jichikai-10"}, "category"),
    ({"category": "fire", "district_key": "jichikai-10", "people": -1}, "people"),
    ({"category": "fire", "district_key": "jichikai-10", "colour": "red"}, "colour"),
    ({"category": "fire", "district_key": "jichikai-10", "status": "done"}, "status"),
]


def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(app, client, kit, operator):
    before = counts(app)
    for body, field in BAD_BODIES:
        response = client.post("/api/v1/incidents", json=body, headers=operator)
        assert response.status_code == 422, body
        error = response.get_json()["error"]
        assert error["code"] == "invalid" and field in error["details"]["fields"], (body, error)
    assert counts(app) == before


def test_a_body_that_is_not_a_json_object_is_refused(app, client, kit, operator):
    before = counts(app)
    assert (
        client.post("/api/v1/incidents", data="category=fire", headers=operator).status_code == 415
    )
    assert client.post("/api/v1/incidents", json=["fire"], headers=operator).status_code == 400
    assert (
        client.post(
            "/api/v1/incidents", data="{", content_type="application/json", headers=operator
        ).status_code
        == 400
    )
    assert counts(app) == before


def test_without_a_districts_layer_a_point_must_lie_in_the_municipality(
    app, client, yaizu, operator
):
    # init --sample loads the boundary; drop the districts layer to see the fallback
    from sqlalchemy import update

    from disaster_ai.apps.situation.models import GeoLayerVersion
    from disaster_ai.storage import get_storage, session_scope

    with app.app_context(), session_scope(get_storage(app)) as session:
        session.execute(
            update(GeoLayerVersion).where(GeoLayerVersion.layer == "districts").values(active=False)
        )
    body = create(client, operator, category="fire", lon=OGAWA_3[0], lat=OGAWA_3[1])
    assert body["district_key"] is None
    response = client.post(
        "/api/v1/incidents",
        headers=operator,
        json={"category": "fire", "lon": TOKYO_STATION[0], "lat": TOKYO_STATION[1]},
    )
    assert (
        response.status_code == 422
        and "location" in response.get_json()["error"]["details"]["fields"]
    )
    response = client.post(
        "/api/v1/incidents",
        headers=operator,
        json={"category": "fire", "district_key": "jichikai-10"},
    )
    assert (
        response.status_code == 422
        and "district_key" in response.get_json()["error"]["details"]["fields"]
    )


# --- access ----------------------------------------------------------------------------------


def test_unauthenticated_callers_get_401(app, client, kit):
    before = counts(app)
    assert (
        client.post(
            "/api/v1/incidents", json={"category": "fire", "district_key": "jichikai-10"}
        ).status_code
        == 401
    )
    assert client.get("/api/v1/incidents").status_code == 401
    assert client.get("/api/v1/shelters").status_code == 401
    response = client.post("/api/v1/shelters/designated-1/status", json={"is_open": True})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthenticated"
    assert counts(app) == before


def test_every_desk_role_may_record_incidents(client, kit, api_headers):
    for role in ("operator", "approver", "admin"):
        body = create(client, api_headers(role), category="fire", district_key="jichikai-10")
        assert body["created_by"] == role


def test_unknown_ids_are_404(client, kit, operator):
    for response in (
        client.get("/api/v1/incidents/9999", headers=operator),
        client.patch("/api/v1/incidents/9999", json={"status": "resolved"}, headers=operator),
        client.post("/api/v1/incidents/9999/merge", json={"into": 1}, headers=operator),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


# --- edit, resolve, merge --------------------------------------------------------------------


def test_edit_and_resolve_are_audited_and_a_repeat_writes_nothing(app, client, kit, operator):
    incident = create(
        client,
        operator,
        category="road_flooding",
        lon=OGAWA_3[0],
        lat=OGAWA_3[1],
        place_name="交差点",
    )
    url = f"/api/v1/incidents/{incident['id']}"
    edited = client.patch(
        url, json={"people": 3, "status": "confirmed", "description": "膝まで"}, headers=operator
    )
    assert edited.status_code == 200
    assert (edited.get_json()["people"], edited.get_json()["status"]) == (3, "confirmed")
    (update,) = audit_rows(app, "incident.update")
    assert update[4]["changes"]["people"] == [None, 3]
    before = counts(app)
    assert client.patch(url, json={"people": 3}, headers=operator).status_code == 200
    assert counts(app) == before  # nothing changed, nothing written
    moved = client.patch(url, json={"district_key": "jichikai-10"}, headers=operator).get_json()
    assert (moved["lon"], moved["district_key"], moved["place_name"]) == (
        None,
        "jichikai-10",
        "交差点",
    )
    resolved = client.patch(url, json={"status": "resolved"}, headers=operator)
    assert resolved.get_json()["status"] == "resolved"
    (row,) = audit_rows(app, "incident.resolve")
    assert row[4]["changes"]["status"] == ["confirmed", "resolved"]
    for bad, field in (
        ({"category": None}, "category"),
        ({"occurred_at": "2026-09-23 06:10"}, "occurred_at"),
        ({"district_key": "nowhere"}, "district_key"),
        ({"id": 5}, "id"),
    ):
        before = counts(app)
        response = client.patch(url, json=bad, headers=operator)
        assert (
            response.status_code == 422
            and field in response.get_json()["error"]["details"]["fields"]
        )
        assert counts(app) == before


def test_merge_hides_the_duplicate_but_keeps_it_for_the_audit(app, client, kit, operator):
    kept = create(client, operator, category="rescue", place_name="小川新町三丁目", people=2)
    duplicate = create(
        client,
        operator,
        category="rescue",
        lon=OGAWA_3[0],
        lat=OGAWA_3[1],
        life_threat=True,
        vulnerable=True,
        people=4,
    )
    third = create(client, operator, category="rescue", place_name="小川新町三丁目")
    response = client.post(
        f"/api/v1/incidents/{duplicate['id']}/merge", json={"into": kept["id"]}, headers=operator
    )
    assert response.status_code == 200
    merged_into = response.get_json()
    assert merged_into["id"] == kept["id"]
    assert (merged_into["life_threat"], merged_into["vulnerable"], merged_into["people"]) == (
        True,
        True,
        4,
    )
    listed = client.get("/api/v1/incidents", headers=operator).get_json()
    assert {i["id"] for i in listed["incidents"]} == {kept["id"], third["id"]} and listed[
        "total"
    ] == 2
    assert duplicate["id"] not in {
        f["id"]
        for f in client.get("/api/v1/incidents.geojson", headers=operator).get_json()["features"]
    }
    everything = client.get("/api/v1/incidents?include_merged=true", headers=operator).get_json()
    assert everything["total"] == 3
    assert (
        client.get(f"/api/v1/incidents/{duplicate['id']}", headers=operator).get_json()[
            "merged_into"
        ]
        == kept["id"]
    )
    (row,) = audit_rows(app, "incident.merge")
    assert row[3] == f"incident:{duplicate['id']}" and row[4]["into"] == kept["id"]
    assert row[4]["inherited"]["life_threat"] == [False, True]
    before = counts(app)
    again = client.post(
        f"/api/v1/incidents/{duplicate['id']}/merge", json={"into": third["id"]}, headers=operator
    )
    assert again.status_code == 409
    into_merged = client.post(
        f"/api/v1/incidents/{third['id']}/merge", json={"into": duplicate["id"]}, headers=operator
    )
    assert (
        into_merged.status_code == 422
        and "into" in into_merged.get_json()["error"]["details"]["fields"]
    )
    itself = client.post(
        f"/api/v1/incidents/{third['id']}/merge", json={"into": third["id"]}, headers=operator
    )
    assert itself.status_code == 422
    missing = client.post(
        f"/api/v1/incidents/{third['id']}/merge", json={"into": 9999}, headers=operator
    )
    assert missing.status_code == 422 and "into" in missing.get_json()["error"]["details"]["fields"]
    edit_merged = client.patch(
        f"/api/v1/incidents/{duplicate['id']}", json={"status": "resolved"}, headers=operator
    )
    assert edit_merged.status_code == 409
    assert counts(app) == before


def test_merging_a_merge_target_moves_its_duplicates_along(client, kit, operator):
    a, b, c = (
        create(client, operator, category="fire", district_key="jichikai-10") for _ in range(3)
    )
    assert (
        client.post(
            f"/api/v1/incidents/{a['id']}/merge", json={"into": b["id"]}, headers=operator
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/api/v1/incidents/{b['id']}/merge", json={"into": c["id"]}, headers=operator
        ).status_code
        == 200
    )
    assert (
        client.get(f"/api/v1/incidents/{a['id']}", headers=operator).get_json()["merged_into"]
        == c["id"]
    )


# --- list filters ----------------------------------------------------------------------------


def test_list_filters_and_paging(client, kit, operator):
    other = district_containing(*OGAWA_3)
    create(
        client,
        operator,
        category="fire",
        district_key="jichikai-10",
        occurred_at="2026-09-23T05:00:00+09:00",
    )
    create(
        client,
        operator,
        category="rescue",
        district_key="jichikai-10",
        status="confirmed",
        occurred_at="2026-09-23T06:00:00+09:00",
    )
    create(
        client,
        operator,
        category="rescue",
        lon=OGAWA_3[0],
        lat=OGAWA_3[1],
        life_threat=True,
        occurred_at="2026-09-23T07:00:00+09:00",
    )
    create(
        client,
        operator,
        category="inundation",
        place_name="小川新町三丁目",
        status="resolved",
        occurred_at="2026-09-22T23:00:00+09:00",
    )

    def ids(query):
        response = client.get(f"/api/v1/incidents?{query}", headers=operator)
        assert response.status_code == 200, response.get_json()
        return [i["id"] for i in response.get_json()["incidents"]]

    assert ids("") == [3, 2, 1, 4]  # newest first
    assert ids("category=rescue") == [3, 2]
    assert ids("category=fire,inundation") == [1, 4]
    assert ids("status=unverified") == [3, 1]
    assert ids("district=jichikai-10") == [2, 1]
    assert ids(f"district={other}") == [3, 4]
    assert ids("since=2026-09-23T06:00:00%2B09:00") == [3, 2]
    assert ids("since=2026-09-23T06:00:00+09:00&until=2026-09-23T07:00:00+09:00") == [
        2
    ]  # "+" unencoded
    assert ids("until=2026-09-22T15:00:00Z") == [4]
    assert ids("life_threat=true") == [3]
    body = client.get("/api/v1/incidents?limit=2&offset=1", headers=operator).get_json()
    assert ([i["id"] for i in body["incidents"]], body["total"], body["limit"], body["offset"]) == (
        [2, 1],
        4,
        2,
        1,
    )
    for query, field in (
        ("category=tornado", "category"),
        ("status=done", "status"),
        ("since=2026-09-23T06:00:00", "since"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("offset=-1", "offset"),
        ("colour=red", "colour"),
    ):
        response = client.get(f"/api/v1/incidents?{query}", headers=operator)
        assert (
            response.status_code == 422
            and field in response.get_json()["error"]["details"]["fields"]
        ), query
    collection = client.get(
        "/api/v1/incidents.geojson?status=unverified,confirmed", headers=operator
    )
    assert collection.mimetype == "application/geo+json"
    assert [f["id"] for f in collection.get_json()["features"]] == [3, 2, 1]


# --- shelters --------------------------------------------------------------------------------


def test_shelters_list_with_status_and_the_five_inside_the_inland_flood_area(client, kit, operator):
    body = client.get("/api/v1/shelters", headers=operator).get_json()
    shelters = body["shelters"]
    designated = [s for s in shelters if s["key"].startswith("designated-")]
    assert len(designated) == 56 and all(
        s["state"] == "closed" and not s["is_open"] for s in shelters
    )
    assert "焼津市オープンデータ" in body["attribution"]
    first = next(s for s in shelters if s["key"] == "designated-1")
    assert (first["name"], first["capacity"], first["capacity_derived"]) == (
        "二区コミュニティ防災センター",
        135,
        True,
    )
    for shelter in designated:
        response = client.post(
            f"/api/v1/shelters/{shelter['key']}/status", json={"is_open": True}, headers=operator
        )
        assert response.status_code == 200
    states = {
        s["key"]: s for s in client.get("/api/v1/shelters", headers=operator).get_json()["shelters"]
    }
    unsafe = [s for s in states.values() if s["state"] == "unsafe"]
    assert len(unsafe) == 5 and all(s["key"].startswith("designated-") for s in unsafe)
    assert all(z["hazard"] == "inland_flood" for s in unsafe for z in s["hazard_zones"])
    assert sum(s["state"] == "usable" for s in states.values()) == 51


def test_shelter_status_update_is_audited_and_idempotent(app, client, kit, operator):
    url = "/api/v1/shelters/designated-1/status"
    response = client.post(url, json={"is_open": True, "occupancy": 40}, headers=operator)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["is_open"], body["occupancy"], body["state"], body["changed"]) == (
        True,
        40,
        "usable",
        True,
    )
    assert body["updated_by"] == "operator" and body["updated_at"].endswith("+09:00")
    (row,) = audit_rows(app, "shelter.status")
    assert row[:4] == ("shelter.status", "situation", "operator", "shelter:designated-1")
    assert row[4] == {
        "before": {"is_open": False, "occupancy": 0},
        "after": {"is_open": True, "occupancy": 40},
    }
    before = counts(app)
    again = client.post(url, json={"is_open": True, "occupancy": 40}, headers=operator).get_json()
    assert again["changed"] is False and counts(app) == before  # a double submit is harmless
    over = client.post(url, json={"occupancy": 500}, headers=operator).get_json()
    assert over["over_capacity"] is True and over["is_open"] is True
    closed = client.post(url, json={"is_open": False}, headers=operator).get_json()
    assert (closed["state"], closed["occupancy"]) == ("closed", 500)


def test_bad_shelter_status_is_a_422_and_writes_nothing(app, client, kit, operator):
    before = counts(app)
    for body, field in (
        ({"occupancy": -1}, "occupancy"),
        ({"occupancy": "many"}, "occupancy"),
        ({"is_open": "perhaps"}, "is_open"),
        ({}, "is_open"),
        ({"is_open": True, "capacity": 10}, "capacity"),
    ):
        response = client.post("/api/v1/shelters/designated-1/status", json=body, headers=operator)
        assert (
            response.status_code == 422
            and field in response.get_json()["error"]["details"]["fields"]
        ), body
    assert (
        client.post(
            "/api/v1/shelters/designated-1/status", data="open", headers=operator
        ).status_code
        == 415
    )
    assert counts(app) == before


def test_unknown_shelter_is_404(app, client, kit, operator):
    before = counts(app)
    response = client.post(
        "/api/v1/shelters/designated-999/status", json={"is_open": True}, headers=operator
    )
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert counts(app) == before


# --- the generated OpenAPI document ------------------------------------------------------------


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)  # no database question here
def test_the_openapi_document_describes_the_incident_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    create_op = spec["paths"]["/api/v1/incidents"]["post"]
    assert create_op["x-required-permission"] == "situation.edit"
    assert create_op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/IncidentIn"
    )
    assert spec["components"]["schemas"]["IncidentIn"]["additionalProperties"] is False
    assert "since" in {p["name"] for p in spec["paths"]["/api/v1/incidents"]["get"]["parameters"]}
    for path in (
        "/api/v1/incidents/{incident_id}",
        "/api/v1/incidents/{incident_id}/merge",
        "/api/v1/incidents.geojson",
        "/api/v1/shelters",
        "/api/v1/shelters/{key}/status",
    ):
        assert path in spec["paths"]
    assert spec["paths"]["/api/v1/shelters/{key}/status"]["post"]["summary"].startswith(
        "Open or close"
    )
