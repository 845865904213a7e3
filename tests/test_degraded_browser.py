"""The desk in a real browser while the server is in trouble: every page shows one banner in the
server's own words (here the database restarting), and the banner goes once the server answers
again — the page itself, and what the operator typed into it, stays."""

from __future__ import annotations

import json

import pytest

from disaster_ai.testing import browser_login

MESSAGE = (
    "データベースに一時的に接続できません。送信した内容は保存されていません。"
    "内容を控えて、数秒後にもう一度送信してください。"
)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_a_banner_says_the_database_is_away_and_goes_when_it_is_back(live_server, browser, users):
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    browser_login(page, live_server, "operator", users["operator"])
    page.goto(f"{live_server}/apps/notices")
    page.wait_for_selector("#dai-alerts[data-transport=sse]", state="attached")
    assert page.locator("#dai-degraded").is_hidden()

    body = json.dumps(
        {"error": {"code": "database_unavailable", "message": MESSAGE, "details": {}}}
    )

    def unavailable(route):
        route.fulfill(status=503, body=body, content_type="application/json")

    # the database goes away: the next page's live stream and its poll meet the 503
    page.route("**/notifications/stream*", unavailable)
    page.route("**/notifications.json*", unavailable)
    page.goto(f"{live_server}/apps/notices")
    typed = "堤防の様子を確認中"
    field = page.locator("#reason")
    field.fill(typed)
    banner = page.wait_for_selector("#dai-degraded:not([hidden])", timeout=45_000)
    assert MESSAGE in banner.inner_text()
    assert banner.get_attribute("role") == "alert"
    assert field.input_value() == typed  # nothing the operator typed was touched

    page.unroute("**/notifications/stream*")
    page.unroute("**/notifications.json*")
    page.wait_for_selector("#dai-degraded", state="hidden", timeout=30_000)
    assert field.input_value() == typed
    assert errors == []
    context.close()
