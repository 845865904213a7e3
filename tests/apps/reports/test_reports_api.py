"""The reports API: the one error format, 4xx for every bad input, permissions."""

from __future__ import annotations

import pytest
from report_helpers import add_incident

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_tally_issue_and_formats_over_http(app, client, api_headers, event, clock):
    headers = api_headers("operator")
    base = f"/api/v1/reports/events/{event['id']}"
    body = {
        "set": {"住家被害.床上浸水.棟": 12, "人的被害.死者": "0", "概況.発生場所": "市内全域"},
        "unconfirmed": ["人的被害.行方不明者"],
        "source": "field_team",
        "source_note": "第2班",
    }
    saved = client.post(base + "/tally", json=body, headers=headers)
    assert saved.status_code == 200, saved.get_json()
    data = saved.get_json()
    assert len(data["changed"]) == 4 and data["summary"]["confirmed"] == 3
    items = {i["path"]: i for i in data["items"]}
    assert items["住家被害.床上浸水.棟"]["number"] == 12
    assert items["住家被害.床上浸水.棟"]["source"] == "field_team"
    assert data["deadline"]["seconds_left"] == 1800 and data["deadline"]["overdue"] is False

    got = client.get(base + "/tally", headers=headers).get_json()
    assert {i["path"]: i["value"] for i in got["items"]}["概況.発生場所"] == "市内全域"
    history = client.get(base + "/history?item=住家被害.床上浸水.棟", headers=headers).get_json()
    assert [v["value"] for v in history["versions"]] == ["12"]

    clock.advance(minutes=9)
    issued = client.post(base + "/reports", json={"reporter": "防災 太郎"}, headers=headers)
    assert issued.status_code == 201, issued.get_json()
    report = issued.get_json()
    assert (report["number"], report["reporter"], report["issued_by"]) == (
        1,
        "防災 太郎",
        "operator",
    )
    for fmt, start in (
        ("pdf", b"%PDF"),
        ("xlsx", b"PK"),
        ("csv", "\ufeff項目".encode()),
        ("json", b"{"),
    ):
        response = client.get(report["formats"][fmt], headers=headers)
        assert response.status_code == 200 and response.data.startswith(start), fmt
    assert (
        "attachment"
        in client.get(report["formats"]["xlsx"], headers=headers).headers["Content-Disposition"]
    )
    listed = client.get(base + "/reports", headers=headers).get_json()["reports"]
    assert [r["number"] for r in listed] == [1]
    after = client.get(base + "/tally", headers=headers).get_json()["deadline"]
    assert after["first_issued_at"] == "2026-09-05T05:09:00+09:00" and after["met"] is True
    assert after["minutes_to_first"] == 9.0


def test_bad_requests_are_4xx_in_the_error_format(app, client, api_headers, event):
    headers = api_headers("operator")
    base = f"/api/v1/reports/events/{event['id']}"
    cases = [
        ({"set": {"住家被害.全焼.棟": 1}}, "住家被害.全焼.棟"),
        ({"set": {"田.冠水": 1.234}}, "田.冠水"),
        ({"set": {"人的被害.死者": True}}, "set.人的被害.死者"),
        ({"set": {}}, "items"),
        ({"set": {"り災者数": 3}}, "り災者数"),
        ({"set": {"人的被害.死者": 1}, "source": "rumour"}, "source"),
        ({"set": {"人的被害.死者": 1}, "unconfirmed": ["x" * 200]}, "unconfirmed.0"),
    ]
    for body, field in cases:
        response = client.post(base + "/tally", json=body, headers=headers)
        assert response.status_code == 422, (body, response.get_json())
        assert field in str(error_of(response)["details"]["fields"]), (body, response.get_json())
    assert client.get(base + "/tally", headers=headers).get_json()["summary"]["confirmed"] == 0
    missing = client.get("/api/v1/reports/events/999/tally", headers=headers)
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    bad_item = client.get(base + "/history?item=nothing", headers=headers)
    assert bad_item.status_code == 422
    assert client.get("/api/v1/reports/999.pdf", headers=headers).status_code == 404
    assert client.get("/api/v1/reports/1.docx", headers=headers).status_code == 404
    assert client.get(base + "/tally").status_code == 401

    from disaster_ai.apps.bulletins import service

    service.close_event(app, event["id"])
    closed = client.post(base + "/tally", json={"set": {"人的被害.死者": 0}}, headers=headers)
    assert closed.status_code == 409 and error_of(closed)["code"] == "conflict"
    assert client.post(base + "/reports", json={}, headers=headers).status_code == 409


def test_proposals_over_http(app, client, api_headers, event):
    headers = api_headers("operator")
    incident = add_incident(app, category="fire")
    rows = client.get(
        f"/api/v1/reports/events/{event['id']}/proposals", headers=headers
    ).get_json()["proposals"]
    assert [(p["incident_id"], p["item"], p["state"]) for p in rows] == [
        (incident, "火災発生.建物", "pending")
    ]
    url = f"/api/v1/reports/proposals/{rows[0]['id']}"
    bad = client.post(url, json={"action": "accept", "amount": "-2"}, headers=headers)
    assert bad.status_code == 422
    bad = client.post(url, json={"action": "accept", "item": "概況.発生場所"}, headers=headers)
    assert bad.status_code == 422 and "item" in error_of(bad)["details"]["fields"]
    ok = client.post(url, json={"action": "accept"}, headers=headers)
    assert ok.status_code == 200 and ok.get_json()["state"] == "accepted"
    again = client.post(url, json={"action": "reject"}, headers=headers)
    assert again.status_code == 409
    assert (
        client.post(
            "/api/v1/reports/proposals/999", json={"action": "reject"}, headers=headers
        ).status_code
        == 404
    )
