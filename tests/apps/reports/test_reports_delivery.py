"""Reports go by e-mail with the PDF attached (the bulletins' SMTP provider, against a real
aiosmtpd server on a free localhost port); failures are retried, recorded and audited."""

from __future__ import annotations

import email
import socket
from email import policy

import pytest
from report_helpers import audit_rows, cli, cli_json, pdf_text, squeeze

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    sink = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def test_a_report_is_emailed_with_its_pdf(app, runner, event, jobs, smtp_server, tmp_path):
    sink, port = smtp_server
    app.config.update(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
        REPORT_DELIVERY_TARGETS=[{"channel": "email", "target": "bousai@pref.example.lg.jp"}],
    )
    cli(runner, "reports", "tally", "--event", str(event["id"]), "--set", "住家被害.床上浸水.棟=12")
    cli(
        runner,
        "reports",
        "issue",
        "--event",
        str(event["id"]),
        "--format",
        "csv",
        "--out",
        str(tmp_path / "r.csv"),
        "--reporter",
        "防災 太郎",
    )
    jobs()
    (mail_from, rcpt, content) = sink.messages[0]
    assert rcpt == ["bousai@pref.example.lg.jp"]
    message = email.message_from_bytes(content, policy=policy.default)
    assert message["Subject"] == "令和8年台風第10号 災害報告（第4号様式）第1報"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "住家被害" in body and "床上浸水：12棟" in body and "報告者名：防災 太郎" in body
    (attachment,) = [p for p in message.iter_attachments()]
    assert attachment.get_filename() == f"report-{event['id']}-001.pdf"
    assert "12棟" in squeeze(pdf_text(attachment.get_content()))
    (report,) = cli_json(runner, "reports", "list", "--event", str(event["id"]))
    assert [d["state"] for d in report["deliveries"]] == ["delivered"]
    (delivered,) = audit_rows(app, "reports.delivered")
    assert delivered.detail["target"] == "bousai@pref.example.lg.jp"


def test_a_failing_delivery_is_retried_then_marked_failed(app, runner, event, jobs, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.config.update(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
        SMTP_TIMEOUT_SECONDS=2,
        REPORT_DELIVERY_MAX_ATTEMPTS=2,
        REPORT_DELIVERY_TARGETS=[{"channel": "email", "target": "bousai@pref.example.lg.jp"}],
    )
    cli(
        runner,
        "reports",
        "issue",
        "--event",
        str(event["id"]),
        "--format",
        "csv",
        "--out",
        str(tmp_path / "r.csv"),
    )
    jobs()
    (report,) = cli_json(runner, "reports", "list", "--event", str(event["id"]))
    (delivery,) = report["deliveries"]
    assert (delivery["state"], delivery["attempts"]) == ("failed", 2)
    assert (
        "Connection refused" in delivery["last_error"]
        or "refused" in delivery["last_error"].lower()
    )
    assert [r.detail["final"] for r in audit_rows(app, "reports.delivery_failed")] == [False, True]


def test_an_outside_mail_host_needs_the_egress_allowlist(app, runner, event, jobs, tmp_path):
    app.config.update(
        SMTP_HOST="mail.pref.example.lg.jp",
        REPORT_DELIVERY_MAX_ATTEMPTS=1,
        REPORT_DELIVERY_TARGETS=[{"channel": "email", "target": "bousai@pref.example.lg.jp"}],
    )
    cli(
        runner,
        "reports",
        "issue",
        "--event",
        str(event["id"]),
        "--format",
        "csv",
        "--out",
        str(tmp_path / "r.csv"),
    )
    jobs()
    (report,) = cli_json(runner, "reports", "list", "--event", str(event["id"]))
    assert report["deliveries"][0]["state"] == "failed"
    assert audit_rows(app, "egress.refused")
