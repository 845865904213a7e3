"""Shelters on the night: open/close and evacuees (人数, 世帯, 要配慮者) per shelter with their
history; the situation's shelter status follows; bad input is a Japanese message or a 422."""

from __future__ import annotations

import pytest
from report_helpers import audit_rows, cli, cli_json

from disaster_ai.testing import csrf_token_from

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def situation_status(app, key):
    from disaster_ai.apps.situation.models import ShelterStatus
    from disaster_ai.storage import get_storage, session_scope

    with session_scope(get_storage(app)) as session:
        row = session.get(ShelterStatus, key)
        return None if row is None else (row.is_open, row.occupancy)


def test_recording_feeds_the_situation_and_keeps_the_history(app, runner, event, clock):
    row = cli_json(
        runner,
        "reports",
        "shelter",
        "designated-1",
        "--open",
        "--people",
        "40",
        "--households",
        "15",
        "--vulnerable",
        "3",
    )
    assert (
        row["is_open"],
        row["people"],
        row["households"],
        row["vulnerable"],
        row["changed"],
    ) == (True, 40, 15, 3, True)
    assert situation_status(app, "designated-1") == (True, 40)  # the map and the bulletins see it
    clock.advance(minutes=30)
    cli(
        runner,
        "reports",
        "shelter",
        "designated-1",
        "--open",
        "--people",
        "55",
        "--households",
        "20",
    )
    same = cli_json(
        runner,
        "reports",
        "shelter",
        "designated-1",
        "--open",
        "--people",
        "55",
        "--households",
        "20",
    )
    assert same["changed"] is False  # a double submit writes nothing
    clock.advance(minutes=30)
    cli(runner, "reports", "shelter", "designated-1", "--closed")
    assert situation_status(app, "designated-1") == (False, 0)
    history = cli_json(runner, "reports", "shelters")["shelters"][0]
    assert (history["key"], history["is_open"], history["people"]) == ("designated-1", False, 0)
    from disaster_ai.apps.reports import shelters
    from disaster_ai.storage import get_storage, session_scope

    with session_scope(get_storage(app)) as session:
        rows = shelters.history(session, "designated-1")
    assert [(r["is_open"], r["people"], r["households"], r["vulnerable"]) for r in rows] == [
        (False, 0, None, None),
        (True, 55, 20, None),
        (True, 40, 15, 3),
    ]
    assert [r["event_id"] for r in rows] == [event["id"]] * 3
    assert [r["recorded_at"][11:16] for r in rows] == ["06:00", "05:30", "05:00"]
    assert len(audit_rows(app, "reports.shelter_evacuees")) == 3
    assert len(audit_rows(app, "shelter.status")) == 3


def test_a_head_count_changed_elsewhere_makes_households_unknown(app, runner, client, login, event):
    cli(
        runner,
        "reports",
        "shelter",
        "designated-2",
        "--open",
        "--people",
        "30",
        "--households",
        "12",
        "--vulnerable",
        "2",
    )
    # someone updates the head count on the situation's shelter page
    from disaster_ai.apps.situation import incidents as situation
    from disaster_ai.storage import get_storage, session_scope
    from disaster_ai.types import Actor

    with app.app_context(), session_scope(get_storage(app)) as session:
        situation.set_shelter_status(
            session, "designated-2", Actor(1, "admin", frozenset({"admin"})), occupancy=45
        )
    (row,) = [
        s for s in cli_json(runner, "reports", "shelters")["shelters"] if s["key"] == "designated-2"
    ]
    assert (row["people"], row["households"], row["vulnerable"]) == (45, None, None)


def test_the_phone_page_records_a_shelter_and_refuses_bad_counts_in_japanese(
    app, client, login, event
):
    login("operator")
    page = client.get("/apps/reports/shelters").get_data(as_text=True)
    assert "避難所別の避難者数" in page and "二区コミュニティ防災センター" in page
    token = csrf_token_from(page)
    url = "/apps/reports/shelters/designated-1"
    response = client.post(
        url,
        data={
            "csrf_token": token,
            "state": "open",
            "people": "１２０",
            "households": "45",
            "vulnerable": "8",
        },
    )
    assert response.status_code == 302 and "#shelter-" in response.headers["Location"]
    page = client.get("/apps/reports/shelters").get_data(as_text=True)
    assert "二区コミュニティ防災センター：保存しました。" in page
    assert situation_status(app, "designated-1") == (True, 120)
    for data, message in (
        ({"state": "open", "people": "たくさん"}, "整数で入力してください"),
        ({"state": "open", "people": ""}, "人数を入力してください"),
        ({"state": "closed", "people": "5"}, "閉鎖する避難所の避難者数は0です"),
        ({"state": "open", "people": "10", "households": "11"}, "世帯数が避難者数を超えています"),
        ({"people": "10"}, "開設か閉鎖かを選んでください"),
    ):
        refused = client.post(url, data={"csrf_token": token, **data})
        text = refused.get_data(as_text=True)
        assert refused.status_code == 422, data
        assert message in text, (
            data,
            text[text.find('class="error"') - 200 : text.find('class="error"') + 300],
        )
        assert 'aria-invalid="true"' in text
    assert situation_status(app, "designated-1") == (True, 120)  # nothing written
    history = client.get(url).get_data(as_text=True)
    assert "120" in history and "45" in history and "operator" in history
    assert client.get("/apps/reports/shelters/no-such-shelter").status_code == 404
    assert (
        client.post(
            "/apps/reports/shelters/no-such-shelter",
            data={"csrf_token": token, "state": "open", "people": "1"},
        ).status_code
        == 404
    )


def test_the_api_records_shelters(client, api_headers, event):
    headers = api_headers("operator")
    ok = client.post(
        "/api/v1/reports/shelters/designated-3",
        json={"is_open": True, "people": 12, "households": 5},
        headers=headers,
    )
    assert ok.status_code == 200, ok.get_json()
    assert (ok.get_json()["people"], ok.get_json()["households"], ok.get_json()["vulnerable"]) == (
        12,
        5,
        None,
    )
    listing = client.get("/api/v1/reports/shelters", headers=headers).get_json()
    assert listing["totals"]["open"] == 1 and listing["totals"]["people"] == 12
    assert listing["totals"]["vulnerable"] == {"value": None, "complete": False}
    bad = client.post(
        "/api/v1/reports/shelters/designated-3",
        json={"is_open": False, "people": 3},
        headers=headers,
    )
    assert bad.status_code == 422 and "people" in bad.get_json()["error"]["details"]["fields"]
    bad = client.post(
        "/api/v1/reports/shelters/designated-3",
        json={"is_open": True, "people": -1},
        headers=headers,
    )
    assert bad.status_code == 422
    missing = client.post(
        "/api/v1/reports/shelters/nope", json={"is_open": True, "people": 1}, headers=headers
    )
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    history = client.get(
        "/api/v1/reports/shelters/designated-3/history", headers=headers
    ).get_json()
    assert [h["people"] for h in history["history"]] == [12]
