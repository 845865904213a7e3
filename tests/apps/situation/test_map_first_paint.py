"""Issue 18: the situation map paints its districts within 1 s on a warm visit.

The page asks for a small first part (districts, shelters, incidents) and the hazard zones
after; both answers carry an ETag, so a warm visit gets 304s and reuses the browser's copy.
Measured on the sample kit at 1366×768: before, one 1.88 MB answer and the districts drawn
612–1217 ms after navigation on warm visits; after, see docs/situation.md ("First paint").
"""

from __future__ import annotations

import statistics

import pytest
from situation_helpers import ensure_yaizu_layers

from disaster_ai.testing import browser_login

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)

FIRST_PAINT_LIMIT_MS = 1000


@pytest.mark.browser
@pytest.mark.slow
def test_a_warm_visit_draws_the_districts_within_a_second(live_server, browser, users, app):
    ensure_yaizu_layers(app)
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    statuses = []
    page.on(
        "requestfinished",
        lambda request: (
            "map-data.json?part=" in request.url
            and statuses.append((request.url.rsplit("=", 1)[1], request.response().status))
        ),
    )
    browser_login(page, live_server, "operator", users["operator"])
    timings = []
    for _visit in range(4):  # the first visit fills the caches; the next three are warm
        page.goto(f"{live_server}/apps/situation")
        page.wait_for_selector("#situation-map[data-details=loaded]", timeout=30_000)
        mark = page.evaluate(
            "performance.getEntriesByName('dai-map-districts').map((m) => m.startTime)"
        )
        assert len(mark) == 1  # the map script marks the moment the districts are drawn
        assert page.locator("path.dai-district").count() == 35
        assert page.locator("path.dai-hazard").count() == 6  # the details came after
        timings.append(mark[0])
    warm = timings[1:]
    print("first paint (ms), cold then warm:", [round(t) for t in timings])
    # the median of three warm visits: one slow visit on a busy CI machine does not decide
    assert statistics.median(warm) < FIRST_PAINT_LIMIT_MS, timings
    assert {part for part, _status in statuses} == {"first", "details"}
