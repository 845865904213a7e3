"""The desk pages: an operator opens the event (覚知) and sees the countdown, enters the tally,
decides proposals and issues 第1報; the bulletin page reloads itself after 今すぐ発行."""

from __future__ import annotations

import re

import pytest
from report_helpers import add_incident

from disaster_ai.testing import csrf_token_from

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def field_name(path: str, kind: str = "v") -> str:
    from disaster_ai.apps.reports.web import field_id

    return f"{kind}-{field_id(path)}"


def test_operator_opens_an_event_and_issues_the_first_report(app, client, login, yaizu, clock):
    login("operator")
    index = client.get("/apps/reports").get_data(as_text=True)
    assert "災害はまだ登録されていません" in index
    token = csrf_token_from(index)
    opened = client.post(
        "/apps/reports/events",
        data={"csrf_token": token, "name": "令和8年台風第10号", "hazard": "inland_flood"},
    )
    assert opened.status_code == 302
    event_url = opened.headers["Location"]
    page = client.get(event_url).get_data(as_text=True)
    assert "第1報の期限まで" in page
    assert 'data-deadline="2026-09-05T05:30:00+09:00"' in page and 'data-seconds="1800"' in page
    assert ">30:00<" in page

    clock.advance(minutes=12)
    saved = client.post(
        event_url + "/tally",
        data={
            "csrf_token": token,
            "source": "phone",
            "source_note": "消防本部",
            field_name("住家被害.床上浸水.棟"): "１２",
            field_name("人的被害.死者"): "0",
            field_name("人的被害.行方不明者", "u"): "1",
        },
    )
    assert saved.status_code == 302
    page = client.get(event_url).get_data(as_text=True)
    assert "3項目を保存しました。" in page
    assert "確定 2項目、未確認 1項目" in page
    assert ">18:00<" in page  # 18 minutes left
    assert re.search(r"<strong>12棟</strong>\s*· 電話連絡（消防本部） · operator 05:12", page)

    refused = client.post(
        event_url + "/tally",
        data={
            "csrf_token": token,
            field_name("田.冠水"): "1.234",
            field_name("人的被害.死者"): "1",
        },
    )
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "田.冠水：小数は2桁までで入力してください（ha）。" in text
    assert 'value="1.234"' in text  # what was typed stays
    assert "<strong>0人</strong>" in text  # nothing written

    history = client.get(event_url + "/history?item=住家被害.床上浸水.棟").get_data(as_text=True)
    assert "電話連絡" in history and "12棟" in history

    clock.advance(minutes=6)
    issued = client.post(event_url + "/issue", data={"csrf_token": token, "reporter": "防災 太郎"})
    assert issued.status_code == 302
    report = client.get(issued.headers["Location"]).get_data(as_text=True)
    assert "第1報を発出しました。" in report
    assert "令和8年台風第10号 災害報告（第4号様式）第1報" in report
    assert "覚知から18.0分" in report
    pdf = re.search(r'href="(/api/v1/reports/\d+\.pdf)"', report).group(1)
    response = client.get(pdf)
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    csv = client.get(pdf.replace(".pdf", ".csv"))
    assert csv.headers["Content-Type"].startswith("text/csv")
    assert "住家被害.床上浸水.棟,12,棟,確定" in csv.get_data(as_text=True)
    page = client.get(event_url).get_data(as_text=True)
    assert "第1報は覚知から18.0分で発出しました。" in page
    assert "第2報を今すぐ発出" in page


def test_the_countdown_says_when_the_first_report_is_overdue(client, login, event, clock):
    login("operator")
    clock.advance(minutes=31)
    page = client.get(f"/apps/reports/events/{event['id']}").get_data(as_text=True)
    assert "第1報の期限を過ぎています" in page and 'data-seconds="-60"' in page and ">1:00<" in page
    index = client.get("/apps/reports").get_data(as_text=True)
    assert "第1報の期限を過ぎています" in index


def test_proposals_are_decided_on_the_event_page(app, client, login, event):
    incident = add_incident(app, category="inundation", place_name="駅前通り")
    login("operator")
    url = f"/apps/reports/events/{event['id']}"
    page = client.get(url).get_data(as_text=True)
    assert f"#{incident}" in page and "駅前通り" in page and "提案：住家被害.床下浸水.棟 +1" in page
    action = re.search(r'action="(/apps/reports/proposals/\d+)"', page).group(1)
    token = csrf_token_from(page)
    done = client.post(
        action,
        data={
            "csrf_token": token,
            "action": "accept",
            "item": "住家被害.床上浸水.棟",
            "amount": "1",
        },
    )
    assert done.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert f"事案 #{incident} を集計に反映しました：住家被害.床上浸水.棟 +1" in page
    assert "<strong>1棟</strong>" in page and "受付事案（事案 #" in page
    again = client.post(action, data={"csrf_token": token, "action": "accept"})
    assert again.status_code == 302
    assert "この提案は処理済みです" in client.get(url).get_data(as_text=True)


def test_who_may_open_an_event_is_a_setting(app, client, login, yaizu):
    app.config["BULLETIN_EVENT_OPEN_ROLES"] = ["admin"]
    login("operator")
    index = client.get("/apps/reports").get_data(as_text=True)
    assert 'action="/apps/reports/events"' not in index
    token = csrf_token_from(index)
    assert (
        client.post("/apps/reports/events", data={"csrf_token": token, "name": "x"}).status_code
        == 403
    )
    refused = client.post("/api/v1/events", json={"name": "x"})
    assert refused.status_code in (400, 403)


def test_the_bulletin_page_waits_for_its_job_and_reloads(app, client, login, event, jobs):
    login("operator")
    url = f"/apps/bulletins/events/{event['id']}"
    page = client.get(url).get_data(as_text=True)
    issued = client.post(url + "/issue", data={"csrf_token": csrf_token_from(page), "remark": ""})
    assert issued.status_code == 302
    waiting_url = issued.headers["Location"]
    job_id = int(re.search(r"job=(\d+)", waiting_url).group(1))
    waiting = client.get(waiting_url).get_data(as_text=True)
    assert f'data-job-wait="/api/v1/jobs/{job_id}"' in waiting
    assert f'data-reload-url="{url}"' in waiting
    assert "/apps/bulletins/static/bulletins.js" in waiting
    assert "このページは自動で更新されます" in waiting
    assert client.get(f"/api/v1/jobs/{job_id}").get_json()["state"] == "queued"
    jobs()
    done = client.get(waiting_url).get_data(as_text=True)
    assert "data-job-wait" not in done and "第1報" in done
    assert client.get("/apps/bulletins/static/bulletins.js").status_code == 200
