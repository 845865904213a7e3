"""The plugin facade (disaster_ai.desk): config, session, audit, jobs, egress.fetch (kind feed),
incidents.upsert, notices.suggest and the after-commit domain events, as a plugin uses them."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from disaster_ai import egress, hookimpl
from disaster_ai.desk import Desk, DeskUnavailable, IncidentCreated, current_desk
from disaster_ai.errors import ApiError
from disaster_ai.events import NoticeIssued, SuggestionCreated
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import AuditEvent

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
AT = {"lon": 138.3, "lat": 34.87}  # a point; no layers are loaded, so any point is accepted


class Listener:
    """A plugin that keeps every domain event it hears, with the desk it was given."""

    def __init__(self):
        self.heard = []

    @hookimpl
    def dai_domain_event(self, event, desk):
        self.heard.append((event, desk.name))


def audit_rows(app, action: str) -> list[AuditEvent]:
    with app.app_context(), session_scope(get_storage(app)) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def feed_server():
    """A local HTTP server: ``/feed.json`` answers JSON, anything else 404."""
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            hits.append(self.path)
            if self.path != "/feed.json":
                self.send_error(404)
                return
            body = b'{"items": [{"id": "A-1", "category": "road_flooding"}]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    server.server_close()


# --- config, audit -------------------------------------------------------------------------


@sqlite_only
def test_a_desk_gives_the_plugin_its_own_settings_read_only(make_app):
    app = make_app(PLUGINS={"tide": {"station": "港"}, "other": {"secret": "x"}})
    desk = Desk(app, "tide")
    assert dict(desk.config) == {"station": "港"}
    assert dict(Desk(app, "unconfigured").config) == {}
    with pytest.raises(TypeError):
        desk.config["station"] = "changed"  # type: ignore[index]
    with pytest.raises(TypeError):
        desk.settings["MUNICIPALITY_NAME"] = "x"  # type: ignore[index]
    with app.app_context():
        assert current_desk("tide").config["station"] == "港"


@sqlite_only
def test_audit_through_the_desk_names_the_plugin(app):
    Desk(app, "tide").audit("tide.read", target="gauge:1", detail={"cm": 120})
    [row] = audit_rows(app, "tide.read")
    assert (row.app, row.actor_name, row.target, row.detail) == (
        "tide",
        "tide",
        "gauge:1",
        {"cm": 120},
    )


# --- incidents.upsert and IncidentCreated ------------------------------------------------


def test_upsert_is_idempotent_by_external_reference(app, register_plugin):
    listener = Listener()
    register_plugin(listener, name="listener")
    desk = Desk(app, "river_feed")
    first = desk.incidents.upsert("gauge-7", category="river", description="水位上昇", **AT)
    again = desk.incidents.upsert("gauge-7", category="river", description="水位上昇", **AT)
    assert first.created and not again.created and again.id == first.id
    assert first.external_ref == "river_feed:gauge-7" and not again.changed
    changed = desk.incidents.upsert("gauge-7", category="river", description="氾濫危険水位", **AT)
    assert changed.id == first.id and changed.changed

    from disaster_ai.apps.situation.models import Incident

    with app.app_context(), session_scope(get_storage(app)) as session:
        rows = list(session.scalars(select(Incident)))
    assert len(rows) == 1
    assert (rows[0].source, rows[0].created_by, rows[0].description) == (
        "feed",
        "river_feed",
        "氾濫危険水位",
    )
    # one creation event, after the commit, to every listener with its own desk
    created = [(e, name) for e, name in listener.heard if isinstance(e, IncidentCreated)]
    assert len(created) == 1
    event, desk_name = created[0]
    assert (event.id, event.external_ref, desk_name) == (first.id, "river_feed:gauge-7", "listener")
    assert [r.action for r in audit_rows(app, "incident.create")] == ["incident.create"]
    assert len(audit_rows(app, "incident.update")) == 1  # the unchanged upsert wrote nothing


@sqlite_only
def test_two_plugins_with_the_same_reference_get_two_incidents(app):
    a = Desk(app, "feed_a").incidents.upsert("1", category="fire", **AT)
    b = Desk(app, "feed_b").incidents.upsert("1", category="fire", **AT)
    assert a.id != b.id


@sqlite_only
def test_upsert_refuses_bad_values_with_a_message_per_field(app):
    desk = Desk(app, "river_feed")
    with pytest.raises(ApiError) as caught:
        desk.incidents.upsert("x", category="meteor")
    assert caught.value.status == 422 and "category" in caught.value.details["fields"]
    with pytest.raises(ValueError):
        desk.incidents.upsert("   ", category="fire", **AT)


@sqlite_only
def test_no_event_for_a_change_that_rolls_back(app, register_plugin):
    listener = Listener()
    register_plugin(listener, name="listener")
    desk = Desk(app, "river_feed")
    with pytest.raises(RuntimeError), desk.session() as session:
        desk.incidents.upsert("gone", category="fire", session=session, **AT)
        raise RuntimeError("the plugin's own step failed")
    assert listener.heard == []
    with desk.session() as session:
        ref = desk.incidents.upsert("kept", category="fire", session=session, **AT)
        assert listener.heard == []  # not before the commit
    assert [e.id for e, _ in listener.heard] == [ref.id]


@sqlite_only
def test_a_failing_listener_does_not_hide_the_event_from_the_others(app, register_plugin):
    class Broken:
        @hookimpl(tryfirst=True)
        def dai_domain_event(self, event):
            raise RuntimeError("listener bug")

    listener = Listener()
    register_plugin(listener, name="listener")
    register_plugin(Broken(), name="broken")
    ref = Desk(app, "river_feed").incidents.upsert("a", category="fire", **AT)
    assert ref.created and [e.id for e, _ in listener.heard] == [ref.id]


@sqlite_only
def test_incidents_are_unavailable_when_the_situation_app_is_blocked(make_app):
    app = make_app(DISABLED_PLUGINS=["disaster_ai.apps.situation"])
    with pytest.raises(DeskUnavailable):
        Desk(app, "river_feed").incidents.upsert("a", category="fire", **AT)


# --- egress.fetch (kind feed) ------------------------------------------------------------


@sqlite_only
def test_fetch_reads_a_local_feed_and_audits_it(app, feed_server):
    base, hits = feed_server
    body = Desk(app, "river_feed").egress.fetch(f"{base}/feed.json", purpose="river levels")
    assert b'"A-1"' in body and hits == ["/feed.json"]
    [row] = audit_rows(app, "egress.call")
    assert row.app == "river_feed" and row.detail["kind"] == "feed"
    assert row.detail["bytes_in"] == len(body) and row.detail["purpose"] == "river levels"


@sqlite_only
def test_fetch_errors_are_audited_and_raised(app, feed_server):
    base, _hits = feed_server
    with pytest.raises(egress.FeedError, match="404"):
        Desk(app, "river_feed").egress.fetch(f"{base}/missing", purpose="river levels")
    [row] = audit_rows(app, "egress.failed")
    assert row.detail["error"] == "HTTP 404"


@sqlite_only
def test_fetch_refuses_hosts_outside_the_allowlist_and_other_schemes(make_app):
    app = make_app(EGRESS_ALLOWLIST=["feeds.example.jp"])
    desk = Desk(app, "river_feed")
    for url in (
        "https://elsewhere.example.com/x.json",
        "file:///etc/passwd",
        "ftp://feeds.example.jp/",
    ):
        with pytest.raises(egress.EgressDenied):
            desk.egress.fetch(url, purpose="river levels")
    reasons = [r.detail["reason"] for r in audit_rows(app, "egress.refused")]
    assert reasons == ["not_in_allowlist", "not_a_url", "not_a_url"]
    # an allowlisted host passes the policy (the fetch itself is not made here)
    with app.app_context():
        assert egress.check_outbound("https://feeds.example.jp/a", "t", kind="feed") == (
            "feeds.example.jp"
        )


# --- jobs ----------------------------------------------------------------------------------


@sqlite_only
def test_scheduled_jobs_are_listed_and_run_now_through_the_desk(app, register_plugin):
    from apscheduler.triggers.interval import IntervalTrigger

    from disaster_ai.types import JobSpec

    ran = []

    def poll(plugin):
        ran.append(plugin)

    class Poller:
        @hookimpl
        def dai_register_jobs(self, config, desk):
            return [JobSpec("poll", IntervalTrigger(minutes=5), poll, {"plugin": desk.name})]

    register_plugin(Poller(), name="acme.poller")
    desk = Desk(app, "acme.poller")
    assert "poller.poll" in desk.jobs.scheduled()
    desk.jobs.run_scheduled("poller.poll")
    assert ran == ["acme.poller"]
    with pytest.raises(KeyError):
        desk.jobs.run_scheduled("poller.nope")


# --- notices.suggest -------------------------------------------------------------------------


def first_district_keys(app, count=1) -> list[str]:
    from disaster_ai.apps.situation import layers
    from disaster_ai.apps.situation.models import GeoFeature

    with app.app_context(), session_scope(get_storage(app)) as session:
        version = layers.active_version(session, "districts")
        query = select(GeoFeature.key).where(GeoFeature.version_id == version.id)
        return list(session.scalars(query.order_by(GeoFeature.id).limit(count)))


def test_a_suggestion_is_a_draft_the_desk_approves_and_issues(
    app, yaizu, client, api_headers, register_plugin
):
    listener = Listener()
    register_plugin(listener, name="listener")
    desk = Desk(app, "river_feed")
    districts = first_district_keys(app)
    ref = desk.notices.suggest(
        hazard="flood",
        level=3,
        districts=districts,
        ref="warning-42",
        title="氾濫警戒情報",
        url="https://feeds.example.jp/42",
        reason="河川の水位が上昇しています。",
        exercise=True,
    )
    again = desk.notices.suggest(
        hazard="flood", level=3, districts=districts, ref="warning-42", exercise=True
    )
    assert ref.created and not again.created and again.notice_id == ref.notice_id
    assert ref.url == f"/apps/notices/{ref.notice_id}"

    operator, approver = api_headers("operator"), api_headers("approver")
    notice = client.get(f"/api/v1/notices/{ref.notice_id}", headers=operator).get_json()
    assert notice["status"] == "draft" and notice["created_by"] == "river_feed"
    assert notice["suggestion"]["ref"] == "warning-42"
    assert notice["suggestion"]["url"] == "https://feeds.example.jp/42"
    suggested = [e for e, _ in listener.heard if isinstance(e, SuggestionCreated)]
    assert [(e.notice_id, e.plugin) for e in suggested] == [(ref.notice_id, "river_feed")]
    assert not [e for e, _ in listener.heard if isinstance(e, NoticeIssued)]

    # never issued by itself: a draft cannot be approved or issued
    assert (
        client.post(f"/api/v1/notices/{ref.notice_id}/issue", headers=approver).status_code == 409
    )
    # the operator adopts it; the normal approval follows
    nid = ref.notice_id
    assert client.post(f"/api/v1/notices/{nid}/submit", headers=operator).status_code == 200
    approved = client.post(
        f"/api/v1/notices/{nid}/approve",
        json={"confirm_unopened_reason": "職員が向かっており、発令と同時に開設する"},
        headers=approver,
    )
    assert approved.status_code == 200, approved.get_json()
    issued = client.post(f"/api/v1/notices/{nid}/issue", headers=approver)
    assert issued.get_json()["status"] == "issued"
    [(event, _)] = [(e, n) for e, n in listener.heard if isinstance(e, NoticeIssued)]
    assert (event.id, event.level, event.districts) == (nid, 3, tuple(districts))
    assert event.published_by == "approver"
    assert len(audit_rows(app, "notices.suggest")) == 1


@sqlite_only
def test_whoever_adopts_a_suggestion_cannot_approve_it(app, yaizu, client, api_headers, login):
    desk = Desk(app, "river_feed")
    ref = desk.notices.suggest(
        hazard="flood",
        level=3,
        districts=first_district_keys(app),
        ref="w-1",
        title="氾濫警戒情報",
        url="javascript:alert(1)",
        exercise=True,
    )
    login("operator")
    page = client.get(f"/apps/notices/{ref.notice_id}").get_data(as_text=True)
    assert ">提案</span>" in page and "river_feed" in page and "氾濫警戒情報" in page
    assert "javascript:" not in page  # a source link that is not http(s) is dropped
    listing = client.get("/apps/notices").get_data(as_text=True)
    row = f'/apps/notices/{ref.notice_id}">{ref.notice_id}</a></td><td data-status="draft">'
    assert row + '<span class="suggested">提案</span>' in listing
    # the desk is told on the dashboard, in the 提案 inbox
    feed = client.get("/dashboard/feed.json").get_json()
    assert [p["key"] for p in feed["panels"]].count("suggestions") == 1
    inbox = feed["suggestions"]
    assert inbox["items"][0]["url"] == f"/apps/notices/{ref.notice_id}"
    assert inbox["items"][0]["note"] == "river_feed · 氾濫警戒情報"
    assert f'<a href="/apps/notices/{ref.notice_id}">' in client.get("/").get_data(as_text=True)
    approver = api_headers("approver")
    assert (
        client.post(f"/api/v1/notices/{ref.notice_id}/submit", headers=approver).status_code == 200
    )
    own = client.post(
        f"/api/v1/notices/{ref.notice_id}/approve",
        json={"confirm_unopened_reason": "開設済み"},
        headers=approver,
    )
    assert own.status_code == 403 and own.get_json()["error"]["code"] == "own_notice"


# --- the facade's hooks --------------------------------------------------------------------


@sqlite_only
def test_hook_dai_domain_event(app, register_plugin):
    listener = Listener()
    register_plugin(listener, name="listener")
    ref = Desk(app, "river_feed").incidents.upsert("e-1", category="fire", **AT)
    [(event, desk_name)] = listener.heard
    assert isinstance(event, IncidentCreated) and event.name == "incident.created"
    assert (event.id, event.category, event.source, desk_name) == (
        ref.id,
        "fire",
        "feed",
        "listener",
    )
    assert event.occurred_at.endswith("+09:00")


@sqlite_only
def test_hook_dai_incident_upsert(app, register_plugin):
    from disaster_ai.types import IncidentRef

    asked = []

    class CityIncidentSystem:
        @hookimpl
        def dai_incident_upsert(self, session, upsert, actor):
            asked.append((upsert.external_ref, dict(upsert.values), actor.username))
            return IncidentRef(9001, upsert.external_ref, created=True)

    register_plugin(CityIncidentSystem(), name="city_incidents")
    ref = Desk(app, "river_feed").incidents.upsert("x-1", category="fire", **AT)
    assert ref == IncidentRef(9001, "river_feed:x-1", created=True)
    assert asked == [("river_feed:x-1", {"category": "fire", **AT}, "river_feed")]


@sqlite_only
def test_hook_dai_notice_suggest(app, register_plugin):
    from disaster_ai.types import SuggestionRef

    asked = []

    class ElsewhereInbox:
        @hookimpl
        def dai_notice_suggest(self, session, suggestion, actor):
            asked.append((suggestion.hazard, suggestion.level, suggestion.source.ref))
            return SuggestionRef(77, created=True, url="https://inbox.example.jp/77")

    register_plugin(ElsewhereInbox(), name="inbox")
    ref = Desk(app, "river_feed").notices.suggest(
        hazard="flood", level=4, districts=["d-1"], ref="w-9"
    )
    assert ref.notice_id == 77 and asked == [("flood", 4, "w-9")]
