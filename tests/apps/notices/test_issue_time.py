"""The texts of an issued notice state the time of issue, approval binds to what the approver
saw, a notice needs an issuer, and a notice that names an unopened shelter is not issued
without someone opening it or the approver confirming why (issue 11)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from notice_helpers import designated_keys

from disaster_ai.apps.notices import facts as f
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import JST

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
DRAFTED = datetime(2026, 9, 12, 13, 46, 55, tzinfo=JST)


def scenario(**over):
    data = {
        "hazard": "inland_flood",
        "action": "発令",
        "level": 4,
        "districts": ["高新田自治会", "焼津第6"],
        "reason": "大雨により、道路や住宅が浸水するおそれが高まっています。",
    }
    data.update(over)
    return data


@pytest.fixture
def clock(monkeypatch):
    """``clock.at(t)``: the notices app's idea of now."""
    from disaster_ai.apps.notices import drafting, workflow

    class Clock:
        def at(self, moment: datetime):
            for module in (drafting, workflow):
                monkeypatch.setattr(module, "now", lambda m=moment: m)

    return Clock()


def _post(client, url, headers, json=None):
    return client.post(url, json=json, headers=headers)


@sqlite_only
def test_every_channel_states_the_time_of_issue_not_the_draft_time(
    app, yaizu, client, api_headers, shelters_open, clock
):
    operator, approver = api_headers("operator"), api_headers("approver")
    clock.at(DRAFTED)
    notice = _post(client, "/api/v1/notices", operator, scenario()).get_json()
    assert "午後1時46分" in notice["texts"]["radio"]
    _post(client, f"/api/v1/notices/{notice['id']}/submit", operator)
    clock.at(DRAFTED + timedelta(minutes=3))
    assert _post(client, f"/api/v1/notices/{notice['id']}/approve", approver).status_code == 200
    issued_at = DRAFTED + timedelta(minutes=9, seconds=38)  # 13:56:33
    clock.at(issued_at)
    issued = _post(client, f"/api/v1/notices/{notice['id']}/issue", approver).get_json()
    assert issued["status"] == "issued"
    texts = issued["texts"]
    stated = f.reading_time(issued_at)
    assert stated == "午後1時56分"
    for text in (
        texts["radio"],
        texts["mail"]["body"],
        texts["web"]["long"],
        texts["web"]["short"],
    ):
        assert stated in text and "午後1時46分" not in text
    assert f.en_datetime(issued_at) in texts["en"]
    assert issued["issued_at"].startswith("2026-09-12T13:56:33")
    cap = client.get(f"/api/v1/notices/{notice['id']}/cap.xml", headers=operator).get_data(
        as_text=True
    )
    assert "<sent>2026-09-12T13:56:33+09:00</sent>" in cap


@sqlite_only
def test_an_explicit_later_time_is_kept_and_an_edit_moves_to_the_time_of_issue(
    app, yaizu, client, api_headers, shelters_open, clock
):
    operator, approver = api_headers("operator"), api_headers("approver")
    clock.at(DRAFTED)
    later = DRAFTED.replace(hour=14, minute=30, second=0)
    planned = _post(
        client, "/api/v1/notices", operator, scenario(issued_at=later.isoformat())
    ).get_json()
    for step, headers in (("submit", operator), ("approve", approver), ("issue", approver)):
        response = _post(client, f"/api/v1/notices/{planned['id']}/{step}", headers)
        assert response.status_code == 200, response.get_json()
    assert "午後2時30分" in response.get_json()["texts"]["radio"]

    # a hand edit written at draft time states the draft time: it follows the time of issue
    draft = _post(client, "/api/v1/notices/drafts", operator, scenario()).get_json()
    edited = draft["radio"].replace("こちらは、", "こちらは、災害対策本部、", 1)
    notice = _post(
        client, "/api/v1/notices", operator, {**scenario(), "edits": {"radio": edited}}
    ).get_json()
    assert "午後1時46分" in notice["texts"]["radio"]
    _post(client, f"/api/v1/notices/{notice['id']}/submit", operator)
    _post(client, f"/api/v1/notices/{notice['id']}/approve", approver)
    clock.at(DRAFTED + timedelta(minutes=20))
    issued = _post(client, f"/api/v1/notices/{notice['id']}/issue", approver).get_json()
    assert issued["status"] == "issued", issued
    assert "午後2時6分" in issued["texts"]["radio"] and "災害対策本部" in issued["texts"]["radio"]
    assert "午後1時46分" not in issued["texts"]["radio"]


@sqlite_only
def test_a_change_other_than_the_time_sends_the_notice_back_for_approval(
    app, yaizu, client, api_headers, shelters_open, clock
):
    operator, approver = api_headers("operator"), api_headers("approver")
    clock.at(DRAFTED)
    notice = _post(client, "/api/v1/notices", operator, scenario()).get_json()
    _post(client, f"/api/v1/notices/{notice['id']}/submit", operator)
    approved = _post(client, f"/api/v1/notices/{notice['id']}/approve", approver).get_json()
    app.config["MUNICIPALITY_NAME"] = "高新田市"  # the issuer changed after approval
    clock.at(DRAFTED + timedelta(minutes=5))
    refused = _post(client, f"/api/v1/notices/{notice['id']}/issue", approver)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "reapproval_needed"
    again = client.get(f"/api/v1/notices/{notice['id']}", headers=operator).get_json()
    assert again["status"] == "submitted" and again["approved_by"] is None
    assert again["texts"] != approved["texts"]
    assert "高新田市" in again["texts"]["radio"]

    # approval binds to what the approver saw: a stale digest is refused
    stale = _post(
        client,
        f"/api/v1/notices/{notice['id']}/approve",
        approver,
        {"seen": "0" * 64},
    )
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "texts_changed"
    from disaster_ai.apps.notices.workflow import texts_digest

    seen = texts_digest(
        {**again["texts"], "cap": _cap_of(app, notice["id"])}
    )  # what the page showed (the API hides the CAP text)
    ok = _post(client, f"/api/v1/notices/{notice['id']}/approve", approver, {"seen": seen})
    assert ok.status_code == 200, ok.get_json()
    assert _post(client, f"/api/v1/notices/{notice['id']}/issue", approver).status_code == 200


def _cap_of(app, notice_id):
    from disaster_ai.apps.notices.models import Notice

    with app.app_context(), session_scope(get_storage(app)) as session:
        return session.get(Notice, notice_id).texts["cap"]


@sqlite_only
def test_an_unopened_shelter_blocks_the_issue_until_opened_or_confirmed(
    app, yaizu, client, api_headers, open_shelters, clock
):
    from disaster_ai.audit import query_events

    operator, approver = api_headers("operator"), api_headers("approver")
    clock.at(DRAFTED)
    notice = _post(client, "/api/v1/notices", operator, scenario()).get_json()
    keys = [s["key"] for s in notice["shelters"]]
    assert keys and all(s["must_open"] for s in notice["shelters"])
    _post(client, f"/api/v1/notices/{notice['id']}/submit", operator)
    refused = _post(client, f"/api/v1/notices/{notice['id']}/approve", approver)
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "shelters_not_open" and error["details"]["shelters"] == keys
    # 開設する: once open, approval and 発令 go through without a confirmation
    open_shelters(keys)
    assert _post(client, f"/api/v1/notices/{notice['id']}/approve", approver).status_code == 200
    # closed again before 発令: blocked
    from disaster_ai.apps.situation.models import ShelterStatus

    with app.app_context(), session_scope(get_storage(app)) as session:
        session.get(ShelterStatus, keys[0]).is_open = False
    blocked = _post(client, f"/api/v1/notices/{notice['id']}/issue", approver)
    assert blocked.status_code == 409
    assert blocked.get_json()["error"]["code"] == "shelters_not_open"
    # while it is issued with a confirmation, the in-force entries name the conflict
    closed = next(k for k in designated_keys(app, "inland_flood") if k not in keys)
    second = _post(
        client, "/api/v1/notices", operator, scenario(districts=["飯淵自治会"], shelters=[closed])
    ).get_json()
    _post(client, f"/api/v1/notices/{second['id']}/submit", operator)
    confirmed = _post(
        client,
        f"/api/v1/notices/{second['id']}/approve",
        approver,
        {"confirm_unopened_reason": "職員が向かっている。到着次第開設する。"},
    )
    assert confirmed.status_code == 200, confirmed.get_json()
    issued = _post(client, f"/api/v1/notices/{second['id']}/issue", approver)
    assert issued.status_code == 200, issued.get_json()
    items = client.get("/api/v1/notices/in-force", headers=operator).get_json()["items"]
    names = {s["name"] for s in second["shelters"]}
    assert any(set(i["closed_shelters"]) & names for i in items)
    # the bulletin says so while it lasts
    from disaster_ai.apps.bulletins.render import _notice_lines
    from disaster_ai.apps.bulletins.snapshot import notices_part

    with app.app_context():
        part = notices_part(app.extensions["disaster_ai"], datetime.now(JST))
    warning = [line for line in _notice_lines(part) if line.startswith("【注意】")]
    assert warning and next(iter(names)) in warning[0] and "開設されていません" in warning[0]
    with app.app_context(), session_scope(get_storage(app)) as session:
        events = [
            e
            for e in query_events(session, app="notices")
            if e.action == "notices.confirm_unopened_shelters"
        ]
    assert events and "到着次第開設する" in str(events[0].detail)


@sqlite_only
def test_no_notice_without_a_municipality_name(app, yaizu, client, api_headers):
    from sqlalchemy import delete

    from disaster_ai.storage.models import Municipality

    app.config.pop("MUNICIPALITY_NAME", None)
    app.config.pop("NOTICE_ISSUER", None)
    with app.app_context(), session_scope(get_storage(app)) as session:
        session.execute(delete(Municipality))
    refused = _post(client, "/api/v1/notices/drafts", api_headers("operator"), scenario())
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "no_issuer"
    assert "市区町村" in error["message"] and "init --municipality" in error["message"]


@sqlite_only
def test_an_update_must_name_every_district_still_in_force(
    app, yaizu, client, api_headers, shelters_open
):
    operator, approver = api_headers("operator"), api_headers("approver")
    first = _post(client, "/api/v1/notices", operator, scenario(level=3)).get_json()
    for step, headers in (("submit", operator), ("approve", approver), ("issue", approver)):
        assert _post(client, f"/api/v1/notices/{first['id']}/{step}", headers).status_code == 200
    narrower = _post(
        client,
        "/api/v1/notices/drafts",
        operator,
        scenario(level=4, districts=["高新田自治会"], supersedes=first["id"]),
    )
    assert narrower.status_code == 422
    error = narrower.get_json()["error"]
    assert error["code"] == "update_drops_districts" and "焼津第6自治会" in error["message"]


@sqlite_only
def test_cancelling_a_mistaken_lift_puts_the_districts_back_in_force(
    app, yaizu, client, api_headers, shelters_open
):
    operator, approver = api_headers("operator"), api_headers("approver")

    def issue(data):
        notice = _post(client, "/api/v1/notices", operator, data).get_json()
        for step, headers in (("submit", operator), ("approve", approver), ("issue", approver)):
            response = _post(client, f"/api/v1/notices/{notice['id']}/{step}", headers)
            assert response.status_code == 200, response.get_json()
        return notice

    def in_force():
        items = client.get("/api/v1/notices/in-force", headers=operator).get_json()["items"]
        return {i["district_name"] for i in items}

    first = issue(scenario())
    lift = issue(scenario(action="解除", districts=["高新田自治会"], supersedes=first["id"]))
    assert in_force() == {"焼津第6自治会"}
    cancelled = _post(
        client, f"/api/v1/notices/{lift['id']}/cancel", approver, {"reason": "地区を誤った"}
    )
    assert cancelled.status_code == 200
    assert in_force() == {"高新田自治会", "焼津第6自治会"}  # as before the mistaken 解除
    restored = client.get(f"/api/v1/notices/{first['id']}", headers=operator).get_json()
    assert restored["status"] == "issued"
    cap = client.get(f"/api/v1/notices/{lift['id']}/cap-cancel.xml", headers=operator).get_data(
        as_text=True
    )
    assert lift["identifier"] in cap and first["identifier"] not in cap
    # the right 解除 now supersedes the restored 発令
    issue(scenario(action="解除", districts=["焼津第6"], supersedes=first["id"]))
    assert in_force() == {"高新田自治会"}
    refused = _post(
        client, "/api/v1/notices/drafts", operator, scenario(action="解除", supersedes="１２")
    )
    assert refused.status_code == 422
    assert "supersedes" in refused.get_json()["error"]["details"]["fields"]
    from disaster_ai.apps.notices.base import NoticeError
    from disaster_ai.apps.notices.scenario import parse_scenario

    with app.test_request_context(), pytest.raises(NoticeError) as error:
        parse_scenario(scenario(action="解除", supersedes="１２"))  # the desk form and the CLI
    assert error.value.code == "invalid_supersedes" and error.value.status == 422
