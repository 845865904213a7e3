"""Data classes in the egress policy (#20): calls are personal data and never reach an outside
host unless an admin marked that host; the marking, its withdrawal and every refusal are
audited; a component may receive only its declared classes. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from disaster_ai import hookimpl
from disaster_ai.egress import EgressDenied, check_outbound
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import AuditEvent
from disaster_ai.testing import csrf_token_from

HOST = "asr.example.jp"
URL = f"https://{HOST}/v1/audio/transcriptions"


def events(app, action: str) -> list[tuple[str, dict]]:
    with app.app_context(), session_scope(get_storage(app)) as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return [(e.actor_name, dict(e.detail)) for e in rows]


def send(app, data_class: str, component: str | None = None, url: str = URL) -> str:
    with app.test_request_context():
        return check_outbound(
            url,
            "calls.transcribe",
            app_name="transcription",
            data_class=data_class,
            component=component,
        )


def test_personal_data_goes_out_only_to_a_host_an_admin_allowed(app, client, login):
    app.config.update(ALLOW_EXTERNAL_AI=True, EGRESS_ALLOWLIST=[HOST])
    assert send(app, "public") == HOST
    assert send(app, "personal", url="http://127.0.0.1:9000/asr") == "127.0.0.1"  # this server
    with pytest.raises(EgressDenied, match=HOST):
        send(app, "personal")
    [(_actor, refusal)] = events(app, "egress.refused")
    assert refusal["reason"] == "data_class_not_allowed"
    assert (refusal["host"], refusal["data_class"]) == (HOST, "personal")

    login("admin")
    page = client.get("/apps/governance/hosts").get_data(as_text=True)
    token = csrf_token_from(page)
    bad = client.post(
        "/apps/governance/hosts",
        data={"csrf_token": token, "host": "not a host!", "data_class": "personal", "reason": "x"},
    )
    assert bad.status_code == 422 and "ホスト名を入力してください" in bad.get_data(as_text=True)
    allowed = client.post(
        "/apps/governance/hosts",
        data={
            "csrf_token": token,
            "host": HOST.upper(),
            "data_class": "personal",
            "reason": "令和8年度 音声認識委託契約 第5条",
        },
    )
    assert allowed.status_code == 302
    [(actor, marking)] = events(app, "governance.host_allowed")
    assert actor == "admin" and marking["host"] == HOST and marking["data_class"] == "personal"
    assert send(app, "personal") == HOST
    with pytest.raises(EgressDenied):
        send(app, "confidential")  # allowed for personal data only

    # a component receives only its declared classes: the notice polish gets public text
    assert send(app, "public", component="notices.polish") == HOST
    with pytest.raises(EgressDenied):
        send(app, "personal", component="notices.polish")
    with pytest.raises(EgressDenied):
        send(app, "public", component="no.such.component")
    reasons = [detail["reason"] for _a, detail in events(app, "egress.refused")]
    assert reasons == [
        "data_class_not_allowed",
        "data_class_not_allowed",
        "data_class_refused",
        "data_class_refused",
    ]

    page = client.get("/apps/governance/hosts").get_data(as_text=True)
    assert f'data-host="{HOST}"' in page and "音声認識委託契約" in page
    marking_id = _marking_id(app)
    response = client.post(
        f"/apps/governance/hosts/{marking_id}/revoke", data={"csrf_token": csrf_token_from(page)}
    )
    assert response.status_code == 302
    assert events(app, "governance.host_revoked")[0][0] == "admin"
    with pytest.raises(EgressDenied):
        send(app, "personal")
    login("operator")
    assert client.get("/apps/governance/hosts").status_code == 403


def _marking_id(app) -> int:
    from disaster_ai.apps.governance.models import HostDataClass

    with app.app_context(), session_scope(get_storage(app)) as session:
        return session.scalar(select(HostDataClass.id))


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_without_the_governance_app_personal_data_stays_here(make_app):
    app = make_app(
        DISABLED_PLUGINS=["disaster_ai.apps.governance"],
        ALLOW_EXTERNAL_AI=True,
        EGRESS_ALLOWLIST=[HOST],
    )
    assert send(app, "public") == HOST
    with pytest.raises(EgressDenied):
        send(app, "personal")


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_hook_dai_egress_allows(app, register_plugin):
    seen = []

    class Vault:
        @hookimpl
        def dai_egress_allows(self, request):
            seen.append(request)
            if request.host == "vault.example.jp":
                return request.data_class == "confidential"
            if request.host == "broken.example.jp":
                raise RuntimeError("policy service down")
            return None

    register_plugin(Vault(), name="vault")
    app.config.update(
        ALLOW_EXTERNAL_AI=True, EGRESS_ALLOWLIST=["vault.example.jp", "broken.example.jp"]
    )
    assert send(app, "confidential", url="https://vault.example.jp/v1") == "vault.example.jp"
    assert seen[-1].data_class == "confidential" and seen[-1].app == "transcription"
    with pytest.raises(EgressDenied):
        send(app, "personal", url="https://vault.example.jp/v1")  # False: refused
    with pytest.raises(EgressDenied):
        send(app, "personal", url="https://broken.example.jp/v1")  # raised: counts as False
    count = len(seen)
    assert send(app, "public", url="https://vault.example.jp/v1")
    assert len(seen) == count  # public data without a component: not asked
