"""A night at the desk on a phone-sized screen (Debian's chromium, the shared live_server and
browser fixtures): an operator opens the disaster event (覚知), sees the countdown to the first
report tick, enters three figures of the tally (one 未確認), records a shelter's evacuees, issues
第1報 and downloads its PDF. The time from opening the event to holding the PDF is measured and
printed (docs/reports.md quotes it). Screenshots: docs/screenshots/reports_tally_phone.png,
reports_shelters_phone.png, reports_issued_phone.png."""

from __future__ import annotations

import re
import time

import pytest
from report_helpers import pdf_text, squeeze

from disaster_ai.testing import SCREENSHOTS, browser_login

PHONE = {"width": 390, "height": 844}


def shot(page, name: str, at: str | None = None) -> None:
    """What the phone shows (the viewport), scrolled to ``at`` when given."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if at:
        page.locator(at).first.evaluate("(el) => el.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(SCREENSHOTS / name))


def fill_item(page, path: str, value: str | None = None, unconfirmed: bool = False) -> None:
    row = page.locator(f'.tally-item[data-path="{path}"]')
    if value is not None:
        row.locator("input[name^='v-']").fill(value)
    if unconfirmed:
        row.locator("input[type=checkbox]").check()


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_first_report_from_a_phone(app, live_server, browser, users, capsys):
    base = live_server
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # a failed load shows as its response below; chromium's own /favicon.ico probe has none
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    context.on(
        "response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    browser_login(page, base, "operator", users["operator"])

    page.goto(f"{base}/apps/reports")
    page.fill("#name", "令和8年台風第10号")
    started = time.monotonic()
    page.click("form[action='/apps/reports/events'] button[type=submit]")
    page.wait_for_url(re.compile(r"/apps/reports/events/\d+$"))
    event_url = page.url
    clock = page.locator(".countdown-clock")
    assert "第1報の期限まで" in page.locator(".countdown").inner_text()
    first = clock.inner_text()
    page.wait_for_function(
        "(before) => document.querySelector('.countdown-clock').textContent !== before",
        arg=first,
        timeout=5_000,
    )  # it ticks
    assert re.fullmatch(r"(29|30):\d\d", clock.inner_text())

    fill_item(page, "住家被害.床上浸水.棟", "12")
    fill_item(page, "人的被害.死者", "0")
    fill_item(page, "人的被害.行方不明者", unconfirmed=True)
    page.select_option("select[name=source]", "phone")
    page.fill("input[name=source_note]", "消防本部")
    # the inputs are usable on a phone: no horizontal scrolling, big enough to tap
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    box = page.locator(
        '.tally-item[data-path="住家被害.床上浸水.棟"] input[name^="v-"]'
    ).bounding_box()
    assert box["height"] >= 40
    page.locator(".tally-group").first.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/apps/reports/events/\d+#tally$"))
    assert "3項目を保存しました。" in page.locator(".flash").first.inner_text()
    flooded = page.locator('.tally-item[data-path="住家被害.床上浸水.棟"] .tally-current')
    assert "12棟" in flooded.inner_text() and "電話連絡（消防本部）" in flooded.inner_text()
    missing = page.locator('.tally-item[data-path="人的被害.行方不明者"] .tally-current')
    assert "未確認" in missing.inner_text()
    shot(page, "reports_tally_phone.png", at='.tally-item[data-path="人的被害.死者"]')

    page.goto(f"{base}/apps/reports/shelters")
    page.fill("#shelter-filter", "二区")
    card = page.locator('.evacuee-card[data-key="designated-1"]')
    assert card.is_visible()
    assert page.locator('.evacuee-card[data-key="designated-2"]').is_hidden()
    card.locator("input[name=state][value=open]").check()
    card.locator("input[name=people]").fill("40")
    card.locator("input[name=households]").fill("15")
    card.locator("input[name=vulnerable]").fill("3")
    card.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/apps/reports/shelters#shelter-"))
    assert "保存しました" in page.locator(".flash").first.inner_text()
    card = page.locator('.evacuee-card[data-key="designated-1"]')
    assert "40人" in card.locator(".meta").inner_text() and "15世帯" in card.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.fill("#shelter-filter", "二区")
    shot(page, "reports_shelters_phone.png", at="h1")

    page.goto(event_url)
    page.fill("#reporter", "防災 太郎")
    page.click("#issue-button")
    page.wait_for_url(re.compile(r"/apps/reports/reports/\d+$"))
    assert "第1報を発出しました。" in page.locator(".flash").first.inner_text()
    href = page.locator(".downloads a.primary").get_attribute("href")
    response = page.request.get(base + href)
    assert response.ok and response.headers["content-type"] == "application/pdf"
    pdf = response.body()
    elapsed = time.monotonic() - started
    text = squeeze(pdf_text(pdf))
    assert "令和8年台風第10号（第1報）" in text
    assert "床上浸水" in text and "12棟" in text
    assert "二区コミュニティ防災センター40人15世帯3人" in text
    assert "報告者名防災太郎" in text
    shot(page, "reports_issued_phone.png", at="h1")
    assert errors == []
    with capsys.disabled():
        print(f"\nopened event → first report PDF in hand (phone, browser): {elapsed:.1f} s")
    context.close()


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_the_bulletin_page_reloads_itself_after_issue_now(app, live_server, browser, users):
    """今すぐ発行 queues a job; the page waits for it and shows 第1報 without a manual reload."""
    from disaster_ai.apps.bulletins import service
    from disaster_ai.jobs.service import runner_for

    event = service.open_event(app, "令和8年台風第10号")
    base = live_server
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    browser_login(page, base, "operator", users["operator"])
    page.goto(f"{base}/apps/bulletins/events/{event['id']}")
    assert page.locator(".bulletin-number").count() == 0
    page.click("form[action$='/issue'] button[type=submit]")
    page.wait_for_url(re.compile(r"\?job=\d+$"))
    waiting = page.locator("[data-job-wait]")
    waiting.wait_for(state="visible")  # bulletins.js shows it while the job runs
    runner_for(app).run_pending()  # the worker (tests run jobs by hand)
    page.wait_for_url(f"{base}/apps/bulletins/events/{event['id']}", timeout=15_000)
    assert "第1報" in page.locator(".bulletin-number").first.inner_text()
    context.close()
