"""The confirm steps and a partial 解除 in a real browser (issue 11, "Done means").

Debian's chromium (the shared ``live_server`` and ``browser`` fixtures of disaster_ai.testing)
walks the desk: an operator drafts a Lv4 避難指示 for three districts on the form; an approver
reaches 承認 only through its confirm page, opens one shelter there (開設する) and gives a reason
for the others, then 発令 through its confirm page; the operator starts the 解除 from the issued
notice, unticks one district and saves; the approver approves and issues the 解除 through their
confirm pages. The district left out stays in force, with its 発令 in its history, and the 解除
texts name it. Screenshots land in docs/screenshots/ (notice_confirm_approve.png,
notice_confirm_issue.png, notice_confirm_lift.png, notice_partial_lift_form.png,
notice_partial_lift_texts.png).
"""

from __future__ import annotations

import re

import pytest

from disaster_ai.testing import SCREENSHOTS, browser_login

REASON = "大雨により、道路や住宅が浸水するおそれが高まっています。"
THREE = ["jichikai-10", "jichikai-11", "jichikai-12"]
NOTICE_URL = re.compile(r"/apps/notices/\d+$")


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def state(page) -> str:
    return (page.locator("h1 + p strong").first.get_attribute("data-status") or "").strip()


def fact(page, name: str) -> str:
    return page.locator(f"dd[data-fact={name}]").inner_text()


def channel_text(page, channel: str) -> str:
    return page.locator(f".channels article[data-channel={channel}] pre").inner_text()


def wait_for_preview_naming(page, names: list[str]) -> None:
    page.wait_for_function(
        "(names) => { const p = document.querySelector("
        "'#live-preview article[data-channel=radio] pre');"
        " return p && names.every((n) => p.textContent.includes(n)); }",
        arg=names,
        timeout=30_000,
    )
    page.wait_for_timeout(800)  # no other preview on its way


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_confirm_steps_and_a_partial_lift_in_the_browser(app, live_server, browser, users):
    base = live_server
    errors: list[str] = []
    operator_ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    approver_ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    operator = operator_ctx.new_page()
    approver = approver_ctx.new_page()
    for page in (operator, approver):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    browser_login(operator, base, "operator", users["operator"])
    browser_login(approver, base, "approver", users["approver"])

    # 1. the operator drafts a Lv4 避難指示 for three districts and submits it
    operator.goto(f"{base}/apps/notices")
    form = operator.locator("#notice-form")
    form.locator("select[name=hazard]").select_option("inland_flood")
    form.locator("select[name=level]").select_option("4")
    form.locator("input[name=reason]").fill(REASON)
    for key in THREE:
        form.locator(f"input[name=districts][value='{key}']").check()
    names = {
        key: form.locator(f"#districts li[data-key='{key}']").get_attribute("data-name")
        for key in THREE
    }
    wait_for_preview_naming(operator, list(names.values()))
    # every channel shows its length and limit as it is typed
    sns = operator.locator("#live-preview article[data-channel=web_short] .channel-length")
    assert re.fullmatch(r"SNS: \d+字（上限140字）", sns.inner_text())
    mail = operator.locator("#live-preview article[data-channel=mail] .channel-length")
    assert "（上限15字）" in mail.nth(0).inner_text()
    assert "（上限200字）" in mail.nth(1).inner_text()
    operator.click("#notice-save")
    operator.wait_for_url(NOTICE_URL)
    notice_url = operator.url
    operator.click("form[action$='/submit'] button")
    operator.wait_for_url(notice_url)
    assert state(operator) == "submitted"
    assert operator.locator("#go-approve").count() == 0  # never the author's
    assert "解除する" not in operator.locator("body").inner_text()
    withdraw = operator.locator("#go-withdraw")
    assert withdraw.inner_text() == "取り下げる…"
    assert operator.locator(".notice-actions #go-withdraw").count() == 0  # apart

    # 2. 承認 only through its confirm page: the facts, 開設する for one shelter, a reason
    approver.goto(notice_url)
    approver.click("#go-approve")
    approver.wait_for_url(re.compile(r"/confirm/approve$"))
    assert state_on_confirm(approver) == "submitted"  # reaching the page approves nothing
    assert fact(approver, "level") == "警戒レベル4 避難指示 (内水氾濫)"
    for name in names.values():
        assert name in fact(approver, "districts")
    assert "発令ボタンを押した時刻" in fact(approver, "time")
    closed = approver.locator("#shelter-conflict li[data-shelter]")
    assert closed.count() >= 1, approver.locator("body").inner_text()
    opened_key = closed.first.get_attribute("data-shelter")
    opened_name = approver.locator(f"dd[data-fact=shelters] li[data-shelter='{opened_key}']")
    assert "未開設" in opened_name.inner_text()
    closed.first.locator("button").click()  # 開設する
    approver.wait_for_url(re.compile(r"/confirm/approve$"))
    assert "開設しました" in approver.locator(".flash").first.inner_text()
    opened = approver.locator(f"dd[data-fact=shelters] li[data-shelter='{opened_key}']")
    assert opened.get_attribute("data-open") == "true" and "開設中" in opened.inner_text()
    still_closed = approver.locator("dd[data-fact=shelters] li[data-open=false]").count()
    if still_closed:
        approver.fill("#confirm_unopened_reason", "発令と同時に開設します。職員が向かっています。")
    for box in approver.locator("input[name=acknowledge]").all():
        box.check()
    shot(approver, "notice_confirm_approve.png")
    approver.click("#confirm-button")
    approver.wait_for_url(notice_url)
    assert state(approver) == "approved", approver.locator("body").inner_text()

    # 3. 発令 through its confirm page
    approver.click("#go-issue")
    approver.wait_for_url(re.compile(r"/confirm/issue$"))
    assert approver.locator("#confirm-title").inner_text() == "発令の確認"
    assert "発令ボタンを押した時刻" in fact(approver, "time")
    assert "（上限140字）" in fact(approver, "channels")
    shot(approver, "notice_confirm_issue.png")
    approver.click("#confirm-button")
    approver.wait_for_url(notice_url)
    assert state(approver) == "issued"
    assert "発令を取り消す…" in approver.locator("#go-cancel").inner_text()

    # 4. the operator starts the 解除 from the issued notice and unticks one district
    operator.goto(notice_url)
    operator.click("#go-lift")
    operator.wait_for_url(re.compile(r"/apps/notices/lift/\d+$"))
    assert "解除" in operator.locator("#lift-banner").inner_text()
    form = operator.locator("#notice-form")
    assert form.locator("select[name=action]").input_value() == "解除"
    chosen = form.locator("input[name=districts]:checked").evaluate_all(
        "(boxes) => boxes.map((b) => b.value)"
    )
    assert sorted(chosen) == THREE
    lifted, stays = THREE[:2], THREE[2]
    form.locator(f"input[name=districts][value='{stays}']").uncheck()
    wait_for_preview_naming(operator, [names[stays], *(names[k] for k in lifted)])
    shot(operator, "notice_partial_lift_form.png")
    operator.click("#notice-save")
    operator.wait_for_url(NOTICE_URL)
    lift_url = operator.url
    assert names[stays] in operator.locator("#remaining").inner_text()
    operator.click("form[action$='/submit'] button")
    operator.wait_for_url(lift_url)

    # 5. the approver approves and issues the 解除 through the confirm pages
    approver.goto(lift_url)
    approver.click("#go-approve")
    approver.wait_for_url(re.compile(r"/confirm/approve$"))
    assert fact(approver, "remaining").startswith(names[stays])
    for box in approver.locator("input[name=acknowledge]").all():
        box.check()
    approver.click("#confirm-button")
    approver.wait_for_url(lift_url)
    assert state(approver) == "approved", approver.locator("body").inner_text()
    approver.click("#go-issue")
    approver.wait_for_url(re.compile(r"/confirm/issue$"))
    assert approver.locator("#confirm-title").inner_text() == "解除の確認"
    assert fact(approver, "districts") == "、".join(names[k] for k in lifted)
    assert names[stays] in fact(approver, "remaining")
    assert "解除ボタンを押した時刻" in fact(approver, "time")
    shot(approver, "notice_confirm_lift.png")
    approver.click("#confirm-button")
    approver.wait_for_url(lift_url)
    assert state(approver) == "issued"

    # 6. the 解除 texts name the district that stays in force; the table keeps it with its 発令
    for channel in ("radio", "mail", "web_long", "web_short", "easy_ja"):
        text = channel_text(approver, channel)
        assert names[stays] in text, (channel, text)
        assert all(names[k] in text for k in lifted), (channel, text)
    assert "解除" in channel_text(approver, "web_short").split("\n", 1)[0]
    assert names[stays] in approver.locator("#chain-in-force").inner_text()
    shot(approver, "notice_partial_lift_texts.png")

    approver.goto(f"{base}/apps/notices")
    row = approver.locator(f"tr[data-district='{stays}']")
    assert "警戒レベル4 避難指示 (内水氾濫)" in row.locator("td").first.inner_text()
    history = row.locator("td").nth(1).inner_text()
    notice_id = notice_url.rsplit("/", 1)[1]
    assert f"#{notice_id}" in history and "発令" in history and "解除" in history
    for key in lifted:
        assert (
            "発令中の避難情報なし"
            in approver.locator(f"tr[data-district='{key}'] td").first.inner_text()
        )

    assert errors == []
    operator_ctx.close()
    approver_ctx.close()


def state_on_confirm(page) -> str:
    return (
        page.locator(".confirm-notice [data-status]").get_attribute("data-status") or ""
    ).strip()
