"""Data never leaves the building unless the IT person configures it to."""

import socket

import pytest

from disaster_ai.egress import EgressDenied, check_outbound, is_loopback_host, outbound_request


class OutboundGuard:
    """Blocks and records every connection to a non-loopback address."""

    def __init__(self, monkeypatch):
        self.attempts = []
        real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
        guard = self

        def address_of(address):
            return address[0] if isinstance(address, tuple) else address

        def connect(sock, address):
            guard._check(sock, address_of(address))
            return real_connect(sock, address)

        def connect_ex(sock, address):
            guard._check(sock, address_of(address))
            return real_connect_ex(sock, address)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)

    def _check(self, sock, host):
        if sock.family == socket.AF_UNIX or is_loopback_host(str(host)):
            return
        self.attempts.append(host)
        raise ConnectionRefusedError(f"test guard: outbound connection to {host} blocked")


@pytest.fixture
def guard(monkeypatch):
    return OutboundGuard(monkeypatch)


def test_core_flows_open_no_outbound_connection(
    app, client, runner, login, api_headers, guard, register_plugin
):
    from disaster_ai import hookimpl
    from disaster_ai.jobs import enqueue
    from disaster_ai.jobs.service import runner_for
    from disaster_ai.types import JobHandler

    class Plugin:
        @hookimpl
        def dai_job_handlers(self):
            return [JobHandler("egress.test", lambda ctx: {"ok": True})]

    register_plugin(Plugin())
    assert runner.invoke(["init", "--sample", "yaizu", "--no-demo-users"]).exit_code == 0
    assert login("operator").status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/map/layers.json").get_json()["layers"]
    headers = api_headers("admin")
    for path in (
        "/api/v1/me",
        "/api/v1/municipality",
        "/api/v1/jobs",
        "/api/v1/audit",
        "/api/v1/usage",
        "/api/v1/plugins",
        "/api/v1/openapi.json",
    ):
        assert client.get(path, headers=headers).status_code == 200, path
    with app.app_context():
        job_id = enqueue("egress.test", {})
    runner_for(app).run_pending()
    assert client.get(f"/api/v1/jobs/{job_id}", headers=headers).get_json()["state"] == "succeeded"
    client.get("/healthz")
    assert guard.attempts == []


def test_the_guard_itself_catches_an_outbound_attempt(guard):
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("192.0.2.1", 80), timeout=1)  # TEST-NET-1, never routed
    assert guard.attempts == ["192.0.2.1"]


def test_external_ai_calls_are_refused_by_default(app):
    with app.app_context(), pytest.raises(EgressDenied, match="DISASTER_AI_ALLOW_EXTERNAL_AI"):
        check_outbound("https://api.example.com/v1/chat", "llm")


def test_only_allowlisted_hosts_pass_when_external_ai_is_enabled(make_app):
    app = make_app(ALLOW_EXTERNAL_AI=True, EGRESS_ALLOWLIST=["llm.city.example.jp"])
    with app.app_context():
        assert check_outbound("https://llm.city.example.jp/v1", "llm") == "llm.city.example.jp"
        with pytest.raises(EgressDenied, match="EGRESS_ALLOWLIST"):
            check_outbound("https://api.example.com/v1", "llm")


def test_loopback_is_always_allowed(app):
    with app.app_context():
        for url in ("http://127.0.0.1:8080/x", "http://localhost:11434/api", "http://[::1]:1/"):
            assert check_outbound(url, "llm")


def test_an_allowed_external_call_is_audited(make_app, guard, monkeypatch):
    from sqlalchemy import select

    from disaster_ai.storage import get_storage, session_scope
    from disaster_ai.storage.models import AuditEvent

    app = make_app(ALLOW_EXTERNAL_AI=True, EGRESS_ALLOWLIST=["llm.city.example.jp"])

    class FakeResponse:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return b'{"text": "ok"}'

    monkeypatch.setattr("urllib.request.urlopen", lambda request, timeout: FakeResponse())
    with app.app_context():
        body = outbound_request(
            "https://llm.city.example.jp/v1", purpose="polish", app_name="notices", data=b"x"
        )
    assert body == b'{"text": "ok"}'
    with session_scope(get_storage(app)) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "egress.call"))
        assert (event.app, event.target, event.detail["purpose"]) == (
            "notices",
            "llm.city.example.jp",
            "polish",
        )
