"""The bulletins API: events, schedules, issue-now through a job, formats, and the one error format
(unknown event 404, closed event 409, bad cron or interval 422, each naming the field)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


@pytest.fixture
def admin(api_headers):
    return api_headers("admin")


@pytest.fixture
def operator(api_headers):
    return api_headers("operator")


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def open_event(client, headers, **body):
    response = client.post(
        "/api/v1/events", json={"name": "令和8年台風第10号", **body}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_events_open_list_close(client, clock, admin, operator):
    assert client.get("/api/v1/events", headers=operator).get_json() == {"events": []}
    # who may open an event is a setting (BULLETIN_EVENT_OPEN_ROLES): every desk role by default
    client.application.config["BULLETIN_EVENT_OPEN_ROLES"] = ["admin"]
    denied = client.post("/api/v1/events", json={"name": "x"}, headers=operator)
    assert denied.status_code == 403 and "bulletins.event_open" in error_of(denied)["message"]
    client.application.config["BULLETIN_EVENT_OPEN_ROLES"] = ["operator", "approver", "admin"]
    event = open_event(client, admin, hazard="inland_flood")
    assert event == {
        "id": 1,
        "name": "令和8年台風第10号",
        "hazard": "inland_flood",
        "exercise": False,
        "opened_at": "2026-09-05T05:00:00+09:00",
        "opened_by": "admin",
        "closed_at": None,
        "closed_by": None,
        "open": True,
        "bulletins": 0,
    }
    bad = client.post("/api/v1/events", json={"name": ""}, headers=admin)
    assert bad.status_code == 422 and "name" in error_of(bad)["details"]["fields"]
    bad = client.post("/api/v1/events", json={"name": "x", "hazard": "meteor"}, headers=admin)
    assert bad.status_code == 422 and list(error_of(bad)["details"]["fields"]) == ["hazard"]
    clock.advance(days=2)
    closed = client.post("/api/v1/events/1/close", headers=admin)
    assert (
        closed.status_code == 200 and closed.get_json()["closed_at"] == "2026-09-07T05:00:00+09:00"
    )
    again = client.post("/api/v1/events/1/close", headers=admin)
    assert again.status_code == 409 and error_of(again)["code"] == "conflict"
    assert client.post("/api/v1/events/9/close", headers=admin).status_code == 404
    listed = client.get("/api/v1/events", headers=operator).get_json()["events"]
    assert [(e["id"], e["open"]) for e in listed] == [(1, False)]


def test_schedules_validate_and_name_the_field(client, clock, admin, operator):
    event = open_event(client, admin)
    url = f"/api/v1/events/{event['id']}/schedules"
    cases = [
        ({"kind": "cron", "cron": "99 * * * *"}, "cron"),
        ({"kind": "cron", "cron": "0 9 * * 1"}, "cron"),
        ({"kind": "cron"}, "cron"),
        ({"kind": "interval", "interval_minutes": 0}, "interval_minutes"),
        ({"kind": "interval", "interval_minutes": -60}, "interval_minutes"),
        ({"kind": "interval"}, "interval_minutes"),
        ({"kind": "hourly", "interval_minutes": 60}, "kind"),
        ({"kind": "interval", "interval_minutes": 60, "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        response = client.post(url, json=body, headers=admin)
        assert response.status_code == 422, body
        assert field in error_of(response)["details"]["fields"], (body, error_of(response))
    assert (
        client.post(
            url, json={"kind": "interval", "interval_minutes": 60}, headers=operator
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/v1/events/42/schedules",
            json={"kind": "interval", "interval_minutes": 60},
            headers=admin,
        ).status_code
        == 404
    )
    created = client.post(url, json={"kind": "cron", "cron": "0 6,12,18 * * *"}, headers=admin)
    assert created.status_code == 201
    schedule = created.get_json()
    assert schedule["next_slot"] == "2026-09-05T06:00:00+09:00" and schedule["active"] is True
    listed = client.get(url, headers=operator).get_json()["schedules"]
    assert [s["id"] for s in listed] == [schedule["id"]]
    paused = client.patch(
        f"/api/v1/schedules/{schedule['id']}", json={"active": False}, headers=admin
    )
    assert paused.status_code == 200 and paused.get_json()["active"] is False
    client.post(f"/api/v1/events/{event['id']}/close", headers=admin)
    closed = client.post(url, json={"kind": "interval", "interval_minutes": 60}, headers=admin)
    assert closed.status_code == 409


def test_issue_now_commits_a_job_then_every_format_downloads(
    app, client, clock, admin, operator, jobs
):
    event = open_event(client, admin)
    response = client.post(
        f"/api/v1/events/{event['id']}/bulletins", json={"remark": "県に報告済み"}, headers=operator
    )
    assert response.status_code == 202
    job_id = response.get_json()["job_id"]
    assert response.get_json()["job_url"] == f"/api/v1/jobs/{job_id}"
    job = client.get(f"/api/v1/jobs/{job_id}", headers=operator).get_json()
    assert (job["kind"], job["state"], job["created_by"]) == (
        "bulletins.issue",
        "queued",
        "operator",
    )
    jobs()
    job = client.get(f"/api/v1/jobs/{job_id}", headers=operator).get_json()
    assert job["state"] == "succeeded" and job["result"]["number"] == 1
    # no body is fine too
    assert (
        client.post(f"/api/v1/events/{event['id']}/bulletins", headers=operator).status_code == 202
    )
    jobs()

    listed = client.get(f"/api/v1/events/{event['id']}/bulletins", headers=operator).get_json()[
        "bulletins"
    ]
    assert [(b["number"], b["trigger"], b["created_by"]) for b in listed] == [
        (2, "manual", "operator"),
        (1, "manual", "operator"),
    ]
    first = listed[1]
    assert first["remark"] == "県に報告済み" and first["slot_key"] == f"job:{job_id}"
    expected = {
        "json": "application/json",
        "html": "text/html; charset=utf-8",
        "txt": "text/plain; charset=utf-8",
        "pdf": "application/pdf",
    }
    for fmt, content_type in expected.items():
        got = client.get(f"/api/v1/bulletins/{first['id']}.{fmt}", headers=operator)
        assert got.status_code == 200 and got.headers["Content-Type"] == content_type
        assert f"bulletin-{event['id']}-001.{fmt}" in got.headers["Content-Disposition"]
    document = json.loads(
        client.get(f"/api/v1/bulletins/{first['id']}.json", headers=operator).data
    )
    assert document["bulletin"]["title"] == "令和8年台風第10号に係る被害状況等について（第1報）"
    assert (
        "特記事項\n県に報告済み"
        in client.get(f"/api/v1/bulletins/{first['id']}.txt", headers=operator).text
    )
    png = client.get(f"/api/v1/bulletins/{first['id']}/map.png", headers=operator)
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    one = client.get(f"/api/v1/bulletins/{first['id']}", headers=operator).get_json()
    assert one["number"] == 1 and one["deliveries"] == []

    unknown_format = client.get(f"/api/v1/bulletins/{first['id']}.xml", headers=operator)
    assert (
        unknown_format.status_code == 404 and "fmt" in error_of(unknown_format)["details"]["fields"]
    )
    assert client.get("/api/v1/bulletins/999.json", headers=operator).status_code == 404
    assert client.get(f"/api/v1/bulletins/{first['id']}.json").status_code == 401


def test_issue_now_refuses_unknown_and_closed_events(client, clock, admin, operator):
    missing = client.post("/api/v1/events/5/bulletins", json={}, headers=operator)
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    event = open_event(client, admin)
    client.post(f"/api/v1/events/{event['id']}/close", headers=admin)
    closed = client.post(f"/api/v1/events/{event['id']}/bulletins", json={}, headers=operator)
    assert closed.status_code == 409 and error_of(closed)["code"] == "conflict"
    too_long = client.post(
        f"/api/v1/events/{event['id']}/bulletins", json={"remark": "あ" * 5000}, headers=operator
    )
    assert too_long.status_code == 422 and "remark" in error_of(too_long)["details"]["fields"]


def test_the_endpoints_are_in_the_openapi_document(client, operator):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/events",
        "/api/v1/events/{event_id}/schedules",
        "/api/v1/events/{event_id}/bulletins",
        "/api/v1/bulletins/{bulletin_id}.{fmt}",
    ):
        assert path in paths, path
    assert (
        paths["/api/v1/events/{event_id}/bulletins"]["post"]["x-required-permission"]
        == "bulletins.issue"
    )


def test_an_issue_job_for_an_event_closed_meanwhile_fails_without_retrying(
    app, client, clock, admin, operator, jobs
):
    event = open_event(client, admin)
    job_id = client.post(f"/api/v1/events/{event['id']}/bulletins", headers=operator).get_json()[
        "job_id"
    ]
    client.post(f"/api/v1/events/{event['id']}/close", headers=admin)
    jobs()
    job = client.get(f"/api/v1/jobs/{job_id}", headers=operator).get_json()
    assert (job["state"], job["attempts"]) == ("failed", 1)
    assert "closed" in job["error"]
    assert client.get(f"/api/v1/events/{event['id']}/bulletins", headers=operator).get_json() == {
        "bulletins": []
    }


@pytest.mark.no_profile
def test_no_bulletin_without_a_municipality_profile(app, client, clock, admin, operator):
    """A bulletin says who issues it: without the municipality profile it is refused, with the
    command to run, before any job is queued."""
    event = open_event(client, admin)
    response = client.post(f"/api/v1/events/{event['id']}/bulletins", json={}, headers=operator)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "no_municipality"
    assert "disaster-ai init --municipality" in error["message"]
