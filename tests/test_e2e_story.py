"""The whole desk story in a real browser (issue 7, "End-to-end tests").

Debian's chromium via playwright drives the real app, served on a free localhost port from a
thread (werkzeug; the shared ``live_server`` and ``browser`` fixtures of disaster_ai.testing),
on a fresh SQLite database with the Yaizu kit and the real faster-whisper
model (assembled and loaded once per session). The in-process job runner's threads run the
transcription and bulletin jobs. Every step is a real click in the browser:

1. the operator uploads d02.wav on the calls page;
2. the transcript appears, and the call's incident is in 小川新町三丁目 with category rescue;
3. the operator drafts a Lv4 避難指示 for 内水氾濫 in that incident's district, sees a suggested
   shelter outside the flood zone in the preview, saves the draft and submits it;
4. the operator is not offered an approve button; an approver approves it on its confirm page
   (opening the suggested shelters there with 開設する), then issues it on its confirm page;
5. the CAP downloaded from the notice page validates against CAP-v1.2.xsd;
6. an admin opens an event and clicks "Issue bulletin now": 第1報 lists the notice and the
   incident, and the PDF downloads.

Screenshots land in docs/screenshots/. Without /usr/bin/chromium the test skips, unless
DISASTER_AI_REQUIRE_SERVICES=1 (then it fails).
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from disaster_ai.config import REPO_ROOT
from disaster_ai.testing import SCREENSHOTS, browser_login

CLIP = Path(REPO_ROOT) / "sample_data" / "calls" / "audio" / "d02.wav"
CAP_XSD = Path(REPO_ROOT) / "disaster_ai" / "schemas" / "CAP-v1.2.xsd"
TOWN = "小川新町三丁目"


@pytest.fixture(scope="session")
def whisper_dir(tmp_path_factory):
    """The packaged Whisper base weights, assembled once per session."""
    from disaster_ai.apps.transcription import models_assembly

    return str(models_assembly.assemble(str(tmp_path_factory.mktemp("whisper-instance"))))


@pytest.fixture(scope="session")
def whisper_model(whisper_dir):
    """The real faster-whisper model, loaded once per session (the engine caches it)."""
    from disaster_ai.apps.transcription.engines import faster_whisper

    return faster_whisper.load_model(whisper_dir, compute_type="int8", cpu_threads=2)


@pytest.fixture
def app(make_app, whisper_dir, whisper_model):
    return make_app(WHISPER_MODEL_DIR=whisper_dir)


@pytest.fixture
def job_runner(app, live_server):
    """A thread running the queued jobs (transcription, bulletins) next to the live server."""
    from disaster_ai.jobs.service import runner_for

    stop = threading.Event()

    def run_jobs():
        while not stop.is_set():
            try:
                runner_for(app).run_pending()
            except Exception:  # noqa: BLE001 - a failed job shows on the pages under test
                pass
            stop.wait(0.3)

    jobs = threading.Thread(target=run_jobs, name="live-jobs", daemon=True)
    jobs.start()
    try:
        yield
    finally:
        stop.set()
        jobs.join(timeout=60)


def log_in(context, base: str, role: str, password: str):
    page = context.new_page()
    browser_login(page, base, role, password)
    return page


def reload_until(page, predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, page.content()[:3000]
        page.wait_for_timeout(500)
        page.reload()


def state(page) -> str:
    """The notice page's state line: 状態: <strong data-status="submitted">承認待ち</strong> …"""
    return (page.locator("h1 + p strong").first.get_attribute("data-status") or "").strip()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def the_incident(app, incident_id: int):
    from disaster_ai.apps.situation.models import Incident
    from disaster_ai.storage import get_storage, session_scope

    with app.app_context(), session_scope(get_storage(app)) as session:
        incident = session.get(Incident, incident_id)
        return {c: getattr(incident, c) for c in ("place_name", "category", "district_key")}


def inland_flood_zone_and_shelters(app):
    """The union of the inland-flood zones and the shelters, from the active layers."""
    from shapely.ops import unary_union

    from disaster_ai.apps.situation import layers
    from disaster_ai.storage import get_storage, session_scope

    with app.app_context(), session_scope(get_storage(app)) as session:
        zones = layers.load_layer(session, "hazard_zones")
        shelters = layers.load_layer(session, "shelters")
    flood = zones[[(p or {}).get("hazard") == "inland_flood" for p in zones["props"]]]
    assert len(flood), "the Yaizu kit has an inland-flood zone"
    return unary_union(list(flood.geometry)), shelters


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_the_desk_story_from_a_call_to_the_first_bulletin(
    app, live_server, job_runner, browser, users
):
    from lxml import etree

    base = live_server
    errors: list[str] = []
    operator_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    # The call page's <audio preload=metadata> makes chromium drop the recording's download
    # half-way; werkzeug's dev server then leaves the file open (ResourceWarning → error).
    # Playwright fetches the recording from the app in full and hands it to the page instead.
    operator_ctx.route(
        "**/api/v1/calls/*/audio", lambda route: route.fulfill(response=route.fetch())
    )
    operator = log_in(operator_ctx, base, "operator", users["operator"])
    operator.on("pageerror", lambda exc: errors.append(str(exc)))

    # 1. the operator uploads the call recording
    operator.goto(f"{base}/apps/calls")
    operator.set_input_files("#files", str(CLIP))
    operator.click("form[action$='/upload'] button[type=submit]")
    operator.wait_for_url(re.compile(r"/apps/calls/\d+$"))

    # 2. the transcript appears (the page refreshes itself while transcribing) with the facts
    operator.wait_for_selector("ol.segments", timeout=60_000)
    assert operator.locator("ol.segments button.segment").count() > 0
    facts = operator.locator("dl.facts").inner_text()
    assert TOWN in facts, facts
    incident_id = int(re.search(r"#(\d+)", facts.split(TOWN, 1)[1]).group(1))
    incident = the_incident(app, incident_id)
    assert incident["place_name"] == TOWN and incident["category"] == "rescue", incident
    district_key = incident["district_key"]
    assert district_key
    operator.goto(f"{base}/apps/calls")
    row = operator.locator("table.calls tbody tr").first
    assert TOWN in row.inner_text() and f"#{incident_id}" in row.inner_text()
    shot(operator, "calls.png")
    # the incident's own page shows the place and the category
    operator.goto(f"{base}/apps/situation/incidents/{incident_id}")
    assert TOWN in operator.content()
    assert operator.locator("select[name=category]").input_value() == "rescue"
    # and the situation map draws it (a life-threatening rescue call)
    operator.goto(f"{base}/apps/situation")
    operator.wait_for_selector("#situation-map[data-loaded=true]", timeout=20_000)
    assert operator.locator("#situation-map").get_attribute("data-count-incidents") == "1"
    assert operator.locator(".leaflet-marker-icon .dai-incident").count() == 1

    # 3. Lv4 避難指示 for inland flooding in the incident's district
    operator.goto(f"{base}/apps/notices")
    form = operator.locator("#notice-form")
    form.locator("select[name=hazard]").select_option("inland_flood")
    form.locator("select[name=action]").select_option("発令")
    form.locator("select[name=level]").select_option("4")
    form.locator(f"input[name=districts][value='{district_key}']").check()
    district_name = form.locator(
        f"#districts li[data-key='{district_key}'] .district-name"
    ).inner_text()
    operator.click("#notice-form button:not([formaction])")
    operator.wait_for_selector("section.preview")
    preview = operator.locator("section.preview")
    assert "警戒レベル4" in preview.inner_text() and "避難指示" in preview.inner_text()
    assert preview.locator(".warning[role=alert]").count() == 0  # no fallback
    suggested = [
        li.split(" — ")[0].strip()
        for li in preview.locator("xpath=./h3[1]/following-sibling::ul[1]/li").all_inner_texts()
    ]
    suggested = [s for s in suggested if s]
    assert suggested, preview.inner_text()
    zone, shelters = inland_flood_zone_and_shelters(app)
    named = shelters[shelters["name"].isin(suggested)]
    assert len(named), (suggested, list(shelters["name"])[:5])
    assert not any(zone.intersects(point) for point in named.geometry), suggested
    shot(operator, "notice_draft.png")
    operator.click("#notice-form button[formaction$='/save']")
    operator.wait_for_url(re.compile(r"/apps/notices/\d+$"))
    notice_url = operator.url
    notice_id = int(notice_url.rsplit("/", 1)[1])
    operator.click("form[action$='/submit'] button")
    operator.wait_for_url(notice_url)
    assert state(operator) == "submitted"

    # 4. the author is not offered the approve button; an approver approves and issues, each
    #    on its confirm page (the key facts; 開設する for a suggested shelter not open yet)
    assert operator.locator("#go-approve").count() == 0
    assert operator.locator("#go-issue").count() == 0
    approver_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    approver = log_in(approver_ctx, base, "approver", users["approver"])
    approver.on("pageerror", lambda exc: errors.append(str(exc)))
    approver.goto(notice_url)
    approver.click("#go-approve")
    approver.wait_for_url(f"{notice_url}/confirm/approve")
    assert district_name in approver.locator("dd[data-fact=districts]").inner_text()
    for _closed in range(approver.locator("#shelter-conflict form.open-shelter").count()):
        approver.locator("#shelter-conflict form.open-shelter button").first.click()
        approver.wait_for_url(f"{notice_url}/confirm/approve")
    assert approver.locator("dd[data-fact=shelters] li[data-open=false]").count() == 0
    for box in approver.locator("input[name=acknowledge]").all():
        box.check()  # the guard's warnings, read and acknowledged
    shot(approver, "notice_approve.png")
    approver.click("#confirm-button")
    approver.wait_for_url(notice_url)
    assert state(approver) == "approved", approver.locator("body").inner_text()
    approver.click("#go-issue")
    approver.wait_for_url(f"{notice_url}/confirm/issue")
    approver.click("#confirm-button")
    approver.wait_for_url(notice_url)
    assert state(approver) == "issued", approver.locator("body").inner_text()

    # 5. the CAP downloads and validates against the XSD
    with approver.expect_download() as info:  # served as an attachment
        approver.locator("a[href$='/cap.xml']").click()
    cap = Path(info.value.path()).read_bytes()
    schema = etree.XMLSchema(etree.parse(str(CAP_XSD)))
    alert = etree.fromstring(cap)
    assert schema.validate(alert), schema.error_log
    assert "避難指示" in cap.decode()

    # 6. an admin opens an event and issues 第1報 by hand
    admin_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    admin = log_in(admin_ctx, base, "admin", users["admin"])
    admin.on("pageerror", lambda exc: errors.append(str(exc)))
    admin.goto(f"{base}/apps/bulletins")
    admin.fill("#name", "令和8年 大雨")
    admin.locator("#hazard").select_option("inland_flood")
    admin.click("form[action$='/events'] button[type=submit]")
    admin.wait_for_url(re.compile(r"/apps/bulletins/events/\d+$"))
    event_url = admin.url
    admin.click("form[action$='/issue'] button[type=submit]")
    admin.wait_for_url(event_url)
    reload_until(admin, lambda: admin.locator("a.bulletin-number").count() > 0)
    admin.locator("a.bulletin-number").first.click()
    admin.wait_for_url(re.compile(r"/apps/bulletins/\d+$"))
    view = admin.locator("section.bulletin-view").inner_text()
    assert "第1報" in view, view[:500]
    assert district_name in view and "避難指示" in view, view
    assert TOWN in view, view
    shot(admin, "bulletin.png")
    with admin.expect_download() as info:
        admin.locator("p.downloads a", has_text="PDF").click()
    pdf = Path(info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000

    assert notice_id and not errors, errors
    for ctx in (operator_ctx, approver_ctx, admin_ctx):
        ctx.close()
