"""The feeds on /healthz (not critical: the desk works on without JMA) and their last update on
/metrics (``disaster_ai_feed_last_update_age_seconds``)."""

from __future__ import annotations

from datetime import timedelta

from dai_jma.models import FeedState
from jma_helpers import sqlite_only

from disaster_ai.desk import Desk
from disaster_ai.storage.base import now


@sqlite_only
def test_each_feed_is_a_health_check_with_its_last_update(jma_app):
    app = jma_app(feed_url="https://www.data.jma.go.jp/developer/xml/feed/extra.xml")
    app.config["METRICS_TOKEN"] = "t0ken-for-prometheus"
    updated = now() - timedelta(minutes=7)
    with Desk(app, "jma").session() as session:
        session.add(FeedState(feed="extra", feed_updated=updated, stale=True, last_status="200"))
        session.add(FeedState(feed="long", feed_updated=now(), stale=False, last_status="304"))
    client = app.test_client()
    checks = client.get("/healthz").get_json()["checks"]
    assert checks["jma.feed.extra"]["ok"] is False and checks["jma.feed.extra"]["critical"] is False
    assert checks["jma.feed.long"]["ok"] is True
    assert updated.isoformat() in checks["jma.feed.extra"]["detail"]

    text = client.get(
        "/metrics", headers={"Authorization": "Bearer t0ken-for-prometheus"}
    ).get_data(as_text=True)
    [line] = [
        row
        for row in text.splitlines()
        if row.startswith('disaster_ai_feed_last_update_age_seconds{feed="jma.feed.extra"}')
    ]
    assert 420 <= float(line.split()[-1]) < 480
    assert 'disaster_ai_health_check_ok{check="jma.feed.extra",critical="false"} 0' in text
