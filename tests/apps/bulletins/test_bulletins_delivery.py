"""Delivery: SMTP e-mail against a real aiosmtpd server and a signed webhook POST against a local
http.server, both on free localhost ports; failures retried, shown in the UI and audited; hosts
outside this machine only through the egress allowlist."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import socket
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bulletin_helpers import audit_actions

from disaster_ai.apps.bulletins import render, service
from disaster_ai.storage import get_storage, session_scope

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


class SmtpSink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    with socket.socket() as probe:  # a free port (aiosmtpd checks its server by connecting to it)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


class Hook:
    """A local webhook receiver; ``fail_next`` answers HTTP 500 that many times first."""

    def __init__(self):
        self.requests = []
        self.fail_next = 0


@pytest.fixture
def webhook():
    hook = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.requests.append((self.path, self.headers, body))  # case-insensitive
            status = 500 if hook.fail_next > 0 else 204
            hook.fail_next -= 1
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook, f"http://127.0.0.1:{server.server_address[1]}/hooks/bulletins"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def deliveries(app, bulletin_id):
    with session_scope(get_storage(app)) as session:
        return [service.delivery_dict(d) for d in service.deliveries_of(session, bulletin_id)]


def test_email_with_the_pdf_attached(app, event, smtp_server, jobs):
    sink, port = smtp_server
    app.config.update(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
        SMTP_FROM="bousai@city.yaizu.lg.jp",
        BULLETIN_DELIVERY_TARGETS=[{"channel": "email", "target": "honbu@city.yaizu.lg.jp"}],
    )
    result = service.issue_bulletin(app, event["id"], with_map=False)
    (pending,) = deliveries(app, result.bulletin_id)
    assert pending["state"] == "pending" and pending["job_id"]  # queued after the commit
    jobs()
    ((mail_from, rcpt, content),) = sink.messages
    assert (mail_from, rcpt) == ("bousai@city.yaizu.lg.jp", ["honbu@city.yaizu.lg.jp"])
    message = email.message_from_bytes(content, policy=policy.default)
    assert message["Subject"] == "令和8年台風第10号に係る被害状況等について（第1報）"
    assert "第1報" in message.get_body(("plain",)).get_content()
    assert "<h1>" in message.get_body(("html",)).get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"bulletin-{event['id']}-001.pdf"
    assert attachment.get_content().startswith(b"%PDF")
    (done,) = deliveries(app, result.bulletin_id)
    assert (done["state"], done["attempts"], done["last_error"]) == ("delivered", 1, None)
    (audited,) = audit_actions(app, "bulletins.delivered")
    assert audited.detail["channel"] == "email" and audited.detail["host"] == "127.0.0.1"
    assert audited.detail["external"] is False


def test_signed_webhook_post_of_the_json_document(app, event, webhook, jobs):
    hook, url = webhook
    app.config["BULLETIN_DELIVERY_TARGETS"] = [
        {"channel": "webhook", "target": url, "secret": "s3cret"}
    ]
    result = service.issue_bulletin(app, event["id"], with_map=False)
    jobs()
    ((path, headers, body),) = hook.requests
    assert path == "/hooks/bulletins"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["X-Disaster-AI-Event"] == "bulletin.issued"
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Disaster-AI-Signature"] == f"sha256={expected}"
    document = json.loads(body)
    assert document["bulletin"]["number"] == 1 and document["event"]["name"] == "令和8年台風第10号"
    from bulletin_helpers import bulletin_rows

    (row,) = bulletin_rows(app)
    assert json.loads(render.render_json(row.snapshot)) == document
    assert deliveries(app, result.bulletin_id)[0]["state"] == "delivered"
    assert result.bulletin_id


def test_failures_are_retried_audited_and_shown(app, event, webhook, jobs, client, login):
    hook, url = webhook
    app.config["BULLETIN_DELIVERY_TARGETS"] = [{"channel": "webhook", "target": url}]
    hook.fail_next = 2
    first = service.issue_bulletin(app, event["id"], with_map=False)
    jobs()
    (delivery,) = deliveries(app, first.bulletin_id)
    assert (delivery["state"], delivery["attempts"], delivery["last_error"]) == (
        "delivered",
        3,
        None,
    )
    failed = audit_actions(app, "bulletins.delivery_failed")
    assert [a.detail["attempt"] for a in failed] == [1, 2]
    assert "HTTP 500" in failed[0].detail["error"] and not failed[0].detail["final"]

    # the receiver stays down longer than BULLETIN_DELIVERY_MAX_ATTEMPTS allows
    app.config["BULLETIN_DELIVERY_MAX_ATTEMPTS"] = 2
    hook.fail_next = 10
    second = service.issue_bulletin(app, event["id"], with_map=False)
    jobs()
    (delivery,) = deliveries(app, second.bulletin_id)
    assert (delivery["state"], delivery["attempts"]) == ("failed", 2)
    assert "the webhook answered HTTP 500" in delivery["last_error"]
    assert audit_actions(app, "bulletins.delivery_failed")[-1].detail["final"] is True
    from disaster_ai.storage.models import Job

    with session_scope(get_storage(app)) as session:
        assert session.get(Job, delivery["job_id"]).state == "failed"

    login("operator")
    page = client.get(f"/apps/bulletins/{second.bulletin_id}").get_data(as_text=True)
    assert "the webhook answered HTTP 500" in page and "delivery--failed" in page
    from disaster_ai.testing import csrf_token_from

    hook.fail_next = 0
    response = client.post(
        f"/apps/bulletins/deliveries/{delivery['id']}/retry",
        data={"csrf_token": csrf_token_from(page)},
    )
    assert response.status_code == 302
    jobs()
    assert deliveries(app, second.bulletin_id)[0]["state"] == "delivered"
    assert audit_actions(app, "bulletins.delivery_retry")[0].actor_name == "operator"


def test_outside_hosts_need_the_egress_allowlist(app, event, jobs):
    from disaster_ai.egress import EgressDenied, check_outbound

    app.config["BULLETIN_DELIVERY_TARGETS"] = [
        {"channel": "webhook", "target": "https://hooks.pref.example.lg.jp/bulletins"}
    ]
    app.config["BULLETIN_DELIVERY_MAX_ATTEMPTS"] = 1
    result = service.issue_bulletin(app, event["id"], with_map=False)
    jobs()
    (delivery,) = deliveries(app, result.bulletin_id)
    assert delivery["state"] == "failed" and "EgressDenied" in delivery["last_error"]
    assert "hooks.pref.example.lg.jp" in delivery["last_error"]

    with app.app_context():
        app.config["EGRESS_ALLOWLIST"] = ["hooks.pref.example.lg.jp"]
        assert app.config["ALLOW_EXTERNAL_AI"] is False
        url = "https://hooks.pref.example.lg.jp/bulletins"
        assert (
            check_outbound(url, "bulletin webhook", kind="delivery") == "hooks.pref.example.lg.jp"
        )
        with pytest.raises(
            EgressDenied
        ):  # an AI call to the same host still needs ALLOW_EXTERNAL_AI
            check_outbound(url, "llm", kind="ai")
        with pytest.raises(EgressDenied):
            check_outbound("smtp://mail.example.org:25", "bulletin e-mail", kind="delivery")
        assert (
            check_outbound("smtp://localhost:25", "bulletin e-mail", kind="delivery") == "localhost"
        )


def test_a_delivery_left_without_a_job_is_queued_by_the_next_tick(
    app, event, clock, webhook, jobs, monkeypatch
):
    from disaster_ai.apps.bulletins import schedules
    from disaster_ai.apps.bulletins.models import BulletinDelivery

    hook, url = webhook
    app.config["BULLETIN_DELIVERY_TARGETS"] = [{"channel": "webhook", "target": url}]
    with monkeypatch.context() as patched:  # the process "stops" right after the commit
        patched.setattr(service, "_enqueue_delivery", lambda app, delivery_id: None)
        result = service.issue_bulletin(app, event["id"], with_map=False)
    (stranded,) = deliveries(app, result.bulletin_id)
    assert (stranded["state"], stranded["job_id"]) == ("pending", None)
    schedules.tick(app, clock.advance(seconds=30))  # too recent: maybe still being queued
    assert deliveries(app, result.bulletin_id)[0]["job_id"] is None
    schedules.tick(app, clock.advance(seconds=60))
    assert deliveries(app, result.bulletin_id)[0]["job_id"] is not None
    jobs()
    assert (
        deliveries(app, result.bulletin_id)[0]["state"] == "delivered" and len(hook.requests) == 1
    )
    with session_scope(get_storage(app)) as session:
        assert session.get(BulletinDelivery, stranded["id"]).attempts == 1
