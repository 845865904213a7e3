"""Live notifications by role: domain events become per-role notifications in the table, the
desk's pages receive them as server-sent events (resumable with Last-Event-ID) or by polling,
and each links to its page."""

from __future__ import annotations

import json
import re

import pytest

from disaster_ai import events, hookimpl
from disaster_ai.types import Notification

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
FAST_STREAM = {"NOTIFY_STREAM_SECONDS": 0.3, "NOTIFY_POLL_SECONDS": 0.2}


def stream_events(client, **kwargs) -> tuple[list[dict], str, object]:
    response = client.get("/notifications/stream", **kwargs)
    text = response.get_data(as_text=True)
    found = [json.loads(data) for data in re.findall(r"event: notification\ndata: (.*)\n", text)]
    return found, text, response


def poll(client, after=None) -> list[dict]:
    response = client.get("/notifications.json", query_string={"after": after} if after else {})
    assert response.status_code == 200
    return response.get_json()["notifications"]


def login_as(app, users, role: str):
    from disaster_ai.testing import csrf_token_from

    client = app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": role, "password": users[role], "csrf_token": token})
    return client


def submitted(notice_id=7, by="operator") -> events.NoticeSubmitted:
    return events.NoticeSubmitted(
        id=notice_id,
        hazard="inland_flood",
        action="発令",
        level=4,
        districts=("d-1", "d-2"),
        author=by,
        submitted_by=by,
    )


@sqlite_only
def test_a_submitted_notice_reaches_approvers_not_its_submitter(app, users):
    app.config.update(FAST_STREAM)
    with app.app_context():
        events.emit(submitted())
    approver = login_as(app, users, "approver")
    operator = login_as(app, users, "operator")
    admin = login_as(app, users, "admin")
    [item] = poll(approver)
    assert item["event"] == "notice.submitted" and item["severity"] == "urgent"
    assert item["title"] == "避難情報 #7 が承認を待っています"
    assert item["url"] == "/apps/notices/7"
    assert poll(operator) == []  # the submitter caused it
    assert [i["id"] for i in poll(admin)] == [item["id"]]  # admin holds every role
    english = app.test_client()
    with english.session_transaction() as session:
        session["lang"] = "en"
    token = re.search(r'value="([^"]+)"', english.get("/login").get_data(as_text=True)).group(1)
    english.post(
        "/login", data={"username": "approver", "password": users["approver"], "csrf_token": token}
    )
    assert poll(english)[0]["title"] == "Notice #7 waits for approval"


@sqlite_only
def test_the_stream_sends_events_then_resumes_from_last_event_id(app, users):
    app.config.update(FAST_STREAM)
    approver = login_as(app, users, "approver")
    with app.app_context():
        events.emit(submitted(1))
        events.emit(submitted(2))
    found, text, response = stream_events(approver)
    assert response.mimetype == "text/event-stream"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert "no-cache" in response.headers["Cache-Control"]
    assert text.startswith("retry: 3000\n")
    assert [f["url"] for f in found] == ["/apps/notices/1", "/apps/notices/2"]
    first = found[0]["id"]
    again, _text, _r = stream_events(approver, headers={"Last-Event-ID": str(first)})
    assert [f["url"] for f in again] == ["/apps/notices/2"]  # resumed after the first
    nothing, text, _r = stream_events(approver, headers={"Last-Event-ID": str(found[1]["id"])})
    assert nothing == [] and f"id: {found[1]['id']}" in text


@sqlite_only
def test_a_notification_made_while_the_stream_is_open_arrives_with_a_heartbeat(app, users):
    import threading

    app.config.update(
        NOTIFY_STREAM_SECONDS=1.2, NOTIFY_POLL_SECONDS=0.2, NOTIFY_HEARTBEAT_SECONDS=0.3
    )
    approver = login_as(app, users, "approver")

    def later():
        import time

        time.sleep(0.5)
        with app.app_context():
            events.emit(submitted(3))

    thread = threading.Thread(target=later)
    thread.start()
    found, text, _r = stream_events(approver, query_string={"after": "0"})
    thread.join()
    assert [f["url"] for f in found] == ["/apps/notices/3"]
    assert ": heartbeat" in text


@sqlite_only
def test_when_every_stream_slot_is_taken_the_stream_answers_as_a_poll(app, users):
    from disaster_ai import notifications

    app.config.update(FAST_STREAM, NOTIFY_MAX_STREAMS=1, NOTIFY_FALLBACK_POLL_SECONDS=15)
    approver = login_as(app, users, "approver")
    with app.app_context():
        events.emit(submitted(4))
    slots = notifications._slots(app)
    assert slots.acquire(blocking=False)
    try:
        found, text, _r = stream_events(approver)
    finally:
        slots.release()
    assert text.startswith("retry: 15000\n: busy")
    assert [f["url"] for f in found] == ["/apps/notices/4"]


@sqlite_only
def test_approval_and_rejection_reach_the_author_only(app, users):
    with app.app_context():
        events.emit(
            events.NoticeApproved(
                id=5, hazard="inland_flood", level=4, author="operator", approved_by="approver"
            )
        )
        events.emit(
            events.NoticeRejected(
                id=6,
                hazard="inland_flood",
                level=3,
                author="operator",
                rejected_by="approver",
                reason="対象地区が違う",
            )
        )
    operator = login_as(app, users, "operator")
    titles = [(i["title"], i["body"]) for i in poll(operator)]
    assert titles == [
        ("避難情報 #5 が承認されました", "approver が承認しました。発令できます。"),
        ("避難情報 #6 が差し戻されました", "approver が取り消しました: 対象地区が違う"),
    ]
    assert poll(login_as(app, users, "approver")) == []


@sqlite_only
def test_a_failed_job_reaches_the_admins_and_whoever_queued_it(app, users, register_plugin):
    from disaster_ai import jobs
    from disaster_ai.jobs.service import execute_job
    from disaster_ai.types import JobHandler

    class Failing:
        @hookimpl
        def dai_job_handlers(self):
            def run(ctx):
                raise RuntimeError("the disk is full")

            return [JobHandler("test.fail", run, max_attempts=1)]

    register_plugin(Failing(), name="failing")
    with app.app_context():
        from disaster_ai.auth import actor_for
        from disaster_ai.storage import get_storage, session_scope
        from disaster_ai.storage.models import User

        with session_scope(get_storage(app)) as session:
            operator = actor_for(session.query(User).filter_by(username="operator").one())
        job_id = jobs.enqueue("test.fail", {}, actor=operator)
    assert execute_job(app, job_id) == "failed"
    admin = poll(login_as(app, users, "admin"))
    assert [(i["event"], i["url"]) for i in admin] == [("job.failed", f"/api/v1/jobs/{job_id}")]
    assert "the disk is full" in admin[0]["body"]
    assert [i["id"] for i in poll(login_as(app, users, "operator"))] == [admin[0]["id"]]
    assert poll(login_as(app, users, "approver")) == []


@sqlite_only
def test_a_life_threat_incident_reaches_operators_and_old_ones_are_not_replayed(app, users):
    from disaster_ai.desk import Desk

    desk = Desk(app, "river_feed")
    desk.incidents.upsert("e-1", category="river", life_threat=True, lon=138.3, lat=34.87)
    desk.incidents.upsert("e-2", category="river", lon=138.3, lat=34.87)  # verified? no: info
    operator = login_as(app, users, "operator")
    items = poll(operator)
    assert [i["severity"] for i in items] == ["urgent", "info"]
    assert items[0]["title"].startswith("命の危険: 河川")
    assert re.fullmatch(r"/apps/situation/incidents/\d+", items[0]["url"])
    assert poll(operator, after=items[-1]["id"]) == []


class Gauge:
    @hookimpl
    def dai_notifications(self, event):
        if not isinstance(event, events.BulletinIssued):
            return []
        return [
            Notification(
                key=f"bulletin:{event.id}",
                title=f"第{event.number}報",
                endpoint="web.dashboard",
                roles=("operator",),
            ),
            Notification(key=f"bulletin:{event.id}", title="duplicate", endpoint="web.dashboard"),
            Notification(key="nowhere", title="no page", endpoint="no.such.page", users=("admin",)),
        ]


class Broken:
    @hookimpl
    def dai_notifications(self, event):
        raise RuntimeError("broken listener")


@sqlite_only
def test_hook_dai_notifications(app, users, register_plugin):
    register_plugin(Gauge(), name="gauge")
    register_plugin(Broken(), name="broken")
    with app.app_context():
        events.emit(
            events.BulletinIssued(id=3, event_id=1, number=2, issued_at="2026-07-01T20:00:00+09:00")
        )
    items = poll(login_as(app, users, "operator"))
    assert [(i["title"], i["url"]) for i in items] == [("第2報", "/")]  # first of a key wins
    admin = poll(login_as(app, users, "admin"))
    assert [(i["title"], i["url"]) for i in admin] == [("第2報", "/"), ("no page", "")]


@sqlite_only
def test_the_desk_pages_carry_the_toast_region_search_box_and_sound_switch(app, client, login):
    login("operator")
    html = client.get("/").get_data(as_text=True)
    assert 'id="dai-alerts"' in html and 'data-stream-url="/notifications/stream"' in html
    assert 'role="search"' in html and 'id="dai-sound"' in html and "alerts.js" in html
    assert client.get("/notifications/stream").status_code == 200
    stranger = app.test_client()
    assert stranger.get("/notifications.json").status_code in (302, 401)
