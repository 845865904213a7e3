"""Facade additions for feed plugins (issue 17): conditional GETs (``desk.egress.get``, 304),
the municipality's codes (``desk.municipality()``, 政令市 wards included) and marking a 提案
outdated (``desk.notices.outdate`` → ``dai_notice_outdate``)."""

from __future__ import annotations

import threading
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from disaster_ai import hookimpl
from disaster_ai.desk import Desk
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import AuditEvent

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


@pytest.fixture
def conditional_feed():
    """``/feed.xml`` with a Last-Modified; If-Modified-Since with that value answers 304."""
    from datetime import UTC, datetime

    stamp = format_datetime(datetime(2026, 9, 5, 0, 0, tzinfo=UTC), usegmt=True)
    answers = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            if self.headers.get("If-Modified-Since") == stamp:
                answers.append(304)
                self.send_response(304)
                self.end_headers()
                return
            answers.append(200)
            body = b"<feed/>"
            self.send_response(200)
            self.send_header("Last-Modified", stamp)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/feed.xml", stamp, answers
    server.shutdown()
    server.server_close()


@sqlite_only
def test_egress_get_sends_if_modified_since_and_reads_304(app, conditional_feed):
    url, stamp, answers = conditional_feed
    desk = Desk(app, "river_feed")
    first = desk.egress.get(url, purpose="test feed")
    assert (first.status, first.body, first.not_modified) == (200, b"<feed/>", False)
    assert first.headers["last-modified"] == stamp
    again = desk.egress.get(url, purpose="test feed", headers={"If-Modified-Since": stamp})
    assert again.not_modified and again.body == b"" and answers == [200, 304]
    with session_scope(get_storage(app)) as session:
        calls = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "egress.call")))
    assert [c.detail["status"] for c in calls] == [200, 304]
    assert all(c.app == "river_feed" and c.detail["kind"] == "feed" for c in calls)


@sqlite_only
def test_municipality_profile_gives_the_jma_area_codes(app, runner):
    desk = Desk(app, "jma")
    assert desk.municipality() is None
    assert runner.invoke(["municipality", "set", "01214"]).exit_code == 0
    wakkanai = desk.municipality()
    assert (wakkanai.name, wakkanai.jis_code, wakkanai.lg_code) == ("稚内市", "01214", "012149")
    assert wakkanai.jma_area_codes == ("0121400",) and wakkanai.wards == ()
    # a 政令市: its own class20 codes (横浜市北部/南部) and every ward's
    assert runner.invoke(["municipality", "set", "141003"]).exit_code == 0
    yokohama = desk.municipality()
    assert {"1410011", "1410012", "1410000", "1410100"} <= set(yokohama.jma_area_codes)
    assert "14101" in yokohama.wards and len(yokohama.wards) == 18


@sqlite_only
def test_hook_dai_notice_outdate(app, register_plugin):
    from disaster_ai.types import SuggestionRef

    asked = []

    class ElsewhereInbox:
        @hookimpl
        def dai_notice_outdate(self, session, outdated, actor):
            asked.append((outdated.plugin, outdated.ref, outdated.reason, actor.username))
            return SuggestionRef(77, created=False)

    register_plugin(ElsewhereInbox(), name="inbox")
    ref = Desk(app, "jma").notices.outdate("w-9", reason="取消")
    assert ref.notice_id == 77 and asked == [("jma", "w-9", "取消", "jma")]


def test_outdating_marks_the_suggestion_and_shows_it(app, yaizu, api_headers):
    from disaster_ai.apps.situation import layers
    from disaster_ai.apps.situation.models import GeoFeature

    with session_scope(get_storage(app)) as session:
        version = layers.active_version(session, "districts")
        district = session.scalar(select(GeoFeature.key).where(GeoFeature.version_id == version.id))
    desk = Desk(app, "river_feed")
    made = desk.notices.suggest(hazard="landslide", level=4, districts=[district], ref="W-1")
    assert desk.notices.outdate("nothing-made", reason="取消") is None
    marked = desk.notices.outdate("W-1", reason="気象庁情報の取消")
    assert marked.notice_id == made.notice_id
    assert desk.notices.outdate("W-1", reason="again") == marked  # once: the first reason stays
    notice = app.test_client().get(
        f"/api/v1/notices/{made.notice_id}", headers=api_headers("operator")
    )
    outdated = notice.get_json()["suggestion"]["outdated"]
    assert outdated["reason"] == "気象庁情報の取消" and outdated["at"].endswith("+09:00")
    with session_scope(get_storage(app)) as session:
        rows = list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == "notices.suggestion_outdated")
            )
        )
    assert len(rows) == 1 and rows[0].detail["ref"] == "W-1"
