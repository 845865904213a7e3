"""Accessibility (issue 18): axe-core finds no serious or critical violation on any page of the
desk, in Japanese and in English.

axe-core comes from PyPI (axe-playwright-python ships axe.min.js) and is injected into each page
locally: no CDN. The pages are every GET page the running app has (its URL map, so a new page
of an app or a plugin is covered without editing this list), each filled with real data: an
incident, a notice awaiting approval, a call, a disaster event with a bulletin and a damage
report, a user, an AI incident report, a JMA telegram. A page with an id in its address that
this test cannot fill fails the test, so a new kind of page has to be added here.

Debian's chromium through the shared ``live_server`` and ``browser`` fixtures; skips without
/usr/bin/chromium unless DISASTER_AI_REQUIRE_SERVICES=1. Saves docs/screenshots/admin_user.png.
"""

from __future__ import annotations

import pytest

from disaster_ai import hookimpl
from disaster_ai.testing import SCREENSHOTS, browser_login

VIEWPORT = {"width": 1366, "height": 768}
SERIOUS = {"serious", "critical"}
# parts of a page that the page itself reloads (not documents of their own)
FRAGMENTS = {"jma.live"}
# pages that need a query to be a page: one item's history of the damage tally
QUERY = {"reports_web.item_history": {"item": "人的被害.死者"}}
# Not pages: files, JSON, streams, the language switch, the logout and monitoring.
NOT_PAGES = (
    ".json",
    ".csv",
    ".pdf",
    ".md",
    ".png",
    "/static/",
    "/stream",
    "/lang/",
    "/logout",
    "/healthz",
    "/metrics",
)


class _Stub:
    """A transcription engine that answers at once (the page, not Whisper, is under test)."""

    @hookimpl
    def dai_transcribe(self, audio, options):
        from disaster_ai.apps.transcription.types import Transcript, TranscriptSegment

        text = "大雨で道路が冠水しています。車が動けません。"
        duration = round(audio.shape[0] / 16000, 3)
        return Transcript(
            text=text,
            segments=(TranscriptSegment(0.0, duration, text, 0.8, (), 0.01),),
            language="ja",
            duration_s=duration,
            engine="stub",
            model="stub-model",
        )


@pytest.fixture
def app(make_app):
    """The desk with the installed plugins loaded too (the JMA feed and the example plugin):
    their pages are checked like the core's."""
    return make_app(LOAD_ENTRY_POINTS=True, PLUGINS={"jma": {}})


def _fill_the_desk(app, runner, api_headers, tmp_path) -> dict[str, object]:
    """Real data behind every page with an id; returns the values for the URL rules."""
    import shutil
    from pathlib import Path

    from sqlalchemy import select
    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.test import encode_multipart

    from disaster_ai.apps.governance import incidents as ai_incidents
    from disaster_ai.apps.situation.models import GeoFeature, GeoLayerVersion
    from disaster_ai.auth import actor_for
    from disaster_ai.config import REPO_ROOT
    from disaster_ai.jobs.service import runner_for
    from disaster_ai.storage import get_storage, session_scope
    from disaster_ai.storage.models import User

    client = app.test_client()
    operator, admin = api_headers("operator"), api_headers("admin")
    with app.app_context(), session_scope(get_storage(app)) as session:
        district = session.scalars(
            select(GeoFeature.name)
            .join(GeoLayerVersion, GeoLayerVersion.id == GeoFeature.version_id)
            .where(GeoLayerVersion.layer == "districts", GeoLayerVersion.active.is_(True))
            .order_by(GeoFeature.id)
        ).first()
        user = session.scalar(select(User).where(User.username == "operator"))
        user_id = user.id
        ai_incident = ai_incidents.create(
            session,
            {"title": "文字起こしの誤り", "what_happened": "地名が別の町名になった"},
            actor_for(session.scalar(select(User).where(User.username == "admin"))),
        )
        session.flush()
        ai_incident_id = ai_incident.id

    incident = client.post(
        "/api/v1/incidents",
        json={
            "category": "road_flooding",
            "description": "道路が冠水",
            "lat": 34.87,
            "lon": 138.32,
        },
        headers=operator,
    )
    assert incident.status_code == 201, incident.get_json()
    notice_id, _violations = _submitted_notice(client, operator, district)  # awaits approval
    issued_id = _issued_notice(client, operator, api_headers("approver"), district)

    clip = sorted((Path(REPO_ROOT) / "sample_data" / "calls" / "audio").glob("*.mp3"))[0]
    with open(clip, "rb") as stream:
        boundary, body = encode_multipart(
            MultiDict({"files": FileStorage(stream=stream, filename=clip.name)})
        )
    call = client.post(
        "/api/v1/calls",
        data=body,
        headers=operator,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert call.status_code == 202, call.get_json()
    call_id = call.get_json()["calls"][0]["id"]
    runner_for(app).run_pending()
    assert client.get(f"/api/v1/calls/{call_id}", headers=operator).get_json()["status"] == "done"

    event = client.post(
        "/api/v1/events",
        json={"name": "令和8年台風第10号", "hazard": "inland_flood"},
        headers=admin,
    )
    assert event.status_code == 201, event.get_json()
    event_id = event.get_json()["id"]
    queued = client.post(f"/api/v1/events/{event_id}/bulletins", json={}, headers=admin)
    assert queued.status_code == 202, queued.get_json()
    runner_for(app).run_pending()
    bulletins = client.get(f"/api/v1/events/{event_id}/bulletins", headers=admin).get_json()
    report = client.post(
        f"/api/v1/reports/events/{event_id}/reports", json={"reporter": "防災 太郎"}, headers=admin
    )
    assert report.status_code == 201, report.get_json()
    shelter = client.get("/api/v1/reports/shelters", headers=admin).get_json()["shelters"][0]

    folder = tmp_path / "jma-drop"
    folder.mkdir()
    samples = Path(REPO_ROOT) / "plugins" / "jma" / "tests" / "fixtures" / "samples"
    shutil.copy(next(samples.glob("*VXWW50*.xml")), folder)
    taken = runner.invoke(["jma", "ingest", str(folder), "--json"])
    assert taken.exit_code == 0, taken.output
    import json

    telegram_id = json.loads(taken.output)[0]["id"]
    return {
        "incident_id": incident.get_json()["id"],
        "notice_id": notice_id,
        "issued_notice_id": issued_id,
        "step": "approve",
        "call_id": call_id,
        "event_id": event_id,
        "bulletin_id": bulletins["bulletins"][0]["id"],
        "report_id": report.get_json()["id"],
        "key": shelter["key"],
        "user_id": user_id,
        "telegram_id": telegram_id,
        "ai_incident_id": ai_incident_id,
    }


def _submitted_notice(client, operator: dict, district: str) -> tuple[int, list[str]]:
    """A Lv4 notice for ``district``, drafted and submitted: (id, its guard violations' ids)."""
    created = client.post(
        "/api/v1/notices",
        json={
            "hazard": "inland_flood",
            "action": "発令",
            "level": 4,
            "districts": [district],
            "reason": "大雨により、道路や住宅が浸水するおそれが高まっています。",
        },
        headers=operator,
    )
    assert created.status_code == 201, created.get_json()
    nid = created.get_json()["id"]
    submitted = client.post(f"/api/v1/notices/{nid}/submit", json={}, headers=operator)
    assert submitted.status_code == 200, submitted.get_json()
    return nid, [v["id"] for v in created.get_json()["guard"]["violations"]]


def _issued_notice(client, operator: dict, approver: dict, district: str) -> int:
    """A Lv4 notice issued for ``district`` (its 解除 form is a page too)."""
    nid, violations = _submitted_notice(client, operator, district)
    approved = client.post(
        f"/api/v1/notices/{nid}/approve",
        json={
            "acknowledge": violations,
            "confirm_unopened_reason": "職員が向かっており、到着次第開設する",
        },
        headers=approver,
    )
    assert approved.status_code == 200, approved.get_json()
    issued = client.post(f"/api/v1/notices/{nid}/issue", headers=approver)
    assert issued.get_json()["status"] == "issued", issued.get_json()
    return nid


def _pages(app, values: dict) -> list[str]:
    """Every GET page of the URL map, its ids filled from ``values``."""
    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith("/api/"):
            continue
        if any(part in rule.rule for part in NOT_PAGES) or rule.endpoint.endswith("static"):
            continue
        arguments = {}
        for name in rule.arguments:
            if name == "incident_id" and rule.endpoint.startswith("governance"):
                arguments[name] = values["ai_incident_id"]
            else:
                assert name in values, f"no data for {rule.rule}: add it to _fill_the_desk"
                arguments[name] = values[name]
        if rule.endpoint in FRAGMENTS:
            continue
        if rule.endpoint == "notices_web.lift":  # the 解除 form of the issued notice
            arguments["notice_id"] = values["issued_notice_id"]
        arguments.update(QUERY.get(rule.endpoint, {}))
        with app.test_request_context():
            from flask import url_for

            pages.append(url_for(rule.endpoint, **arguments))
    pages.append("/search?q=" + "冠水")
    return sorted(set(pages))


def _serious(results) -> list[str]:
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in SERIOUS:
            targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
            found.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return found


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_axe_finds_no_serious_violation_on_any_page(
    app, runner, live_server, browser, users, api_headers, register_plugin, tmp_path
):
    from axe_playwright_python.sync_playwright import Axe

    register_plugin(_Stub(), name="axe-stub-engine")
    values = _fill_the_desk(app, runner, api_headers, tmp_path)
    pages = _pages(app, values)
    shots = {f"/admin/users/{values['user_id']}": "admin_user.png"}
    assert len(pages) >= 40, pages
    axe = Axe()
    problems: dict[str, list[str]] = {}
    for locale, language in (("ja-JP", "ja"), ("en-GB", "en")):
        context = browser.new_context(viewport=VIEWPORT, locale=locale)
        page = context.new_page()
        # the login page, logged out
        page.goto(f"{live_server}/lang/{language}")
        page.goto(f"{live_server}/login")
        found = _serious(axe.run(page))
        if found:
            problems[f"{language} /login"] = found
        browser_login(page, live_server, "admin", users["admin"])
        page.goto(f"{live_server}/lang/{language}")
        for path in pages:
            response = page.goto(f"{live_server}{path}")
            assert response is not None and response.status < 400, (path, response.status)
            page.wait_for_load_state("load")
            if language == "ja" and path in shots:  # docs/screenshots/, quoted by the docs
                page.screenshot(path=str(SCREENSHOTS / shots[path]), full_page=True)
            found = _serious(axe.run(page))
            if found:
                problems[f"{language} {path}"] = found
        context.close()
    assert not problems, "\n".join(f"{page}: {found}" for page, found in problems.items())
