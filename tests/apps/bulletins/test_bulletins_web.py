"""The desk pages: events, schedules, "Issue bulletin now" (a CSRF form that queues a job), the
bulletin view with downloads and delivery status, and who may do what."""

from __future__ import annotations

import re

import pytest

from disaster_ai.testing import csrf_token_from

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def form_post(client, page_url: str, action: str, data: dict | None = None):
    page = client.get(page_url).get_data(as_text=True)
    assert f'action="{action}"' in page, f"no form posting to {action}"
    return client.post(action, data={"csrf_token": csrf_token_from(page), **(data or {})})


def test_admin_opens_an_event_schedules_it_and_closes_it(app, client, login, clock):
    login("admin")
    index = client.get("/apps/bulletins")
    assert index.status_code == 200
    html = index.get_data(as_text=True)
    assert 'href="/apps/bulletins"' in html  # in the navigation
    response = form_post(
        client,
        "/apps/bulletins",
        "/apps/bulletins/events",
        {"name": "令和8年台風第10号", "hazard": "inland_flood"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/apps/bulletins/events/1"
    )
    page = client.get("/apps/bulletins/events/1").get_data(as_text=True)
    assert "令和8年台風第10号" in page

    bad = form_post(
        client,
        "/apps/bulletins/events/1",
        "/apps/bulletins/events/1/schedules",
        {"kind": "cron", "cron": "0 9 * * 1-5"},
    )
    # the error stands next to the cron field, tied to it for screen readers
    assert bad.status_code == 422
    assert 'aria-describedby="cron-error"' in bad.get_data(as_text=True)
    assert 'id="cron-error" role="alert"' in bad.get_data(as_text=True)
    good = form_post(
        client,
        "/apps/bulletins/events/1",
        "/apps/bulletins/events/1/schedules",
        {"kind": "cron", "cron": "0 6,12,18 * * *"},
    )
    assert good.status_code == 302
    page = client.get("/apps/bulletins/events/1").get_data(as_text=True)
    assert "<code>0 6,12,18 * * *</code>" in page and "2026-09-05 06:00" in page
    toggle = re.search(r'action="(/apps/bulletins/schedules/\d+/toggle)"', page).group(1)
    assert form_post(client, "/apps/bulletins/events/1", toggle).status_code == 302
    close = form_post(client, "/apps/bulletins/events/1", "/apps/bulletins/events/1/close")
    assert close.status_code == 302
    page = client.get("/apps/bulletins/events/1").get_data(as_text=True)
    assert "/apps/bulletins/events/1/issue" not in page  # closed: no more bulletins


def test_operator_issues_now_and_reads_the_bulletin(app, client, login, event, jobs):
    login("operator")
    index = client.get("/apps/bulletins").get_data(as_text=True)
    assert 'action="/apps/bulletins/events"' in index  # the desk opens events (a setting)
    response = form_post(
        client,
        f"/apps/bulletins/events/{event['id']}",
        f"/apps/bulletins/events/{event['id']}/issue",
        {"remark": "道路冠水多数"},
    )
    assert response.status_code == 302
    from sqlalchemy import select

    from disaster_ai.storage import get_storage, session_scope
    from disaster_ai.storage.models import Job

    with session_scope(get_storage(app)) as session:
        job = session.scalars(select(Job).order_by(Job.id.desc())).first()
        assert (job.kind, job.state, job.created_by) == ("bulletins.issue", "queued", "operator")
        job_id = job.id
    flashed = client.get(f"/apps/bulletins/events/{event['id']}").get_data(as_text=True)
    assert re.search(rf'class="flash success" role="status">[^<]*\b{job_id}\b', flashed)
    jobs()
    page = client.get(f"/apps/bulletins/events/{event['id']}").get_data(as_text=True)
    link = re.search(r'<a href="(/apps/bulletins/\d+)" class="bulletin-number">', page)
    assert link, page
    for fmt in ("html", "pdf", "json", "txt"):
        assert f".{fmt}" in page
    view = client.get(link.group(1)).get_data(as_text=True)
    assert "令和8年台風第10号に係る被害状況等について（第1報）" in view
    assert "道路冠水多数" in view
    assert re.search(
        r'<img src="/api/v1/bulletins/\d+/map.png"', view
    )  # not inlined in the desk page

    # operators may not close events or change schedules, nor open events when the setting
    # BULLETIN_EVENT_OPEN_ROLES leaves them out
    assert client.post("/apps/bulletins/events", data={"name": "x"}).status_code in (400, 403)
    token = csrf_token_from(page)
    app.config["BULLETIN_EVENT_OPEN_ROLES"] = ["admin"]
    assert (
        client.post("/apps/bulletins/events", data={"name": "x", "csrf_token": token}).status_code
        == 403
    )
    assert 'action="/apps/bulletins/events"' not in client.get("/apps/bulletins").get_data(
        as_text=True
    )
    assert (
        client.post(
            f"/apps/bulletins/events/{event['id']}/close", data={"csrf_token": token}
        ).status_code
        == 403
    )


def test_issue_without_csrf_token_is_refused(app, client, login, event):
    login("operator")
    response = client.post(f"/apps/bulletins/events/{event['id']}/issue", data={"remark": ""})
    assert response.status_code == 400
    from bulletin_helpers import bulletin_rows

    assert bulletin_rows(app) == []


def test_pages_404_for_unknown_ids(client, login, clock):
    login("operator")
    assert client.get("/apps/bulletins/events/77").status_code == 404
    assert client.get("/apps/bulletins/77").status_code == 404
