"""Delivering bulletins: the ``bulletins.deliver`` job and the two core providers.

The job loads one ``BulletinDelivery``, renders the bulletin from its snapshot and calls
``dai_deliver_bulletin(bulletin, channel)`` (firstresult). The core default (trylast, in the
plugin module) sends ``email`` through SMTP with the PDF attached and POSTs ``webhook`` as JSON.
Both go through the egress policy with ``kind="delivery"``: loopback always, any other host
only when it is in EGRESS_ALLOWLIST. Every attempt is recorded on the delivery row and in the
audit log; a failed attempt raises, so the job runner retries it with backoff, up to
BULLETIN_DELIVERY_MAX_ATTEMPTS.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import smtplib
import traceback
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.error import HTTPError

from disaster_ai import audit, events
from disaster_ai.apps.bulletins.models import Bulletin, BulletinDelivery
from disaster_ai.apps.bulletins.types import BulletinPayload, DeliveryChannel, DeliveryResult
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.types import SYSTEM_ACTOR

log = logging.getLogger(__name__)

APP = "bulletins"


class DeliveryFailed(RuntimeError):
    pass


def deliver(app, delivery_id: int, attempt: int = 1) -> dict:
    from disaster_ai.apps.bulletins.service import app_context

    with app_context(app):
        return _deliver(app, delivery_id, attempt)


def _deliver(app, delivery_id: int, attempt: int) -> dict:
    from disaster_ai.apps.bulletins import service
    from disaster_ai.apps.bulletins.schedules import clock

    storage = get_storage(app)
    with session_scope(storage) as session:
        delivery = session.get(BulletinDelivery, delivery_id)
        if delivery is None:
            raise service.GiveUp(f"no delivery {delivery_id}")
        if delivery.state == "delivered":
            return {"delivery_id": delivery_id, "state": "delivered", "already": True}
        bulletin = session.get(Bulletin, delivery.bulletin_id)
        channel = DeliveryChannel(
            delivery.channel,
            delivery.target,
            service.target_options(app, delivery.channel, delivery.target),
        )
        payload = service.payload_for(bulletin)
    max_attempts = int(app.config["BULLETIN_DELIVERY_MAX_ATTEMPTS"])
    pm = app.extensions["disaster_ai"]
    try:
        result = pm.hook.dai_deliver_bulletin(bulletin=payload, channel=channel)
        if result is None:
            raise DeliveryFailed(f"no plugin delivers the channel {channel.kind!r}")
        if not result.ok:
            raise DeliveryFailed(result.detail or "the provider reported a failure")
    except Exception as exc:
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:1000]
        final = attempt >= max_attempts
        with session_scope(storage) as session:
            row = session.get(BulletinDelivery, delivery_id)
            row.attempts += 1
            row.last_error = error
            row.state = "failed" if final else "retrying"
            row.updated_at = clock(app)
            audit.record(
                "bulletins.delivery_failed",
                app=APP,
                target=f"delivery:{delivery_id}",
                detail={
                    "bulletin_id": payload.id,
                    "channel": channel.kind,
                    "target": channel.target,
                    "attempt": attempt,
                    "final": final,
                    "error": error[:500],
                },
                actor=SYSTEM_ACTOR,
                session=session,
            )
        log.warning(
            "delivery %s (%s) attempt %s failed: %s", delivery_id, channel.kind, attempt, error
        )
        if final:
            events.emit(  # the row above is committed: dispatched at once
                events.DeliveryFailed(
                    id=delivery_id,
                    app=APP,
                    channel=channel.kind,
                    target=channel.target,
                    subject_id=payload.id,
                    error=error[:500],
                ),
                app=app,
            )
            raise service.GiveUp(error) from exc
        raise
    with session_scope(storage) as session:
        row = session.get(BulletinDelivery, delivery_id)
        row.attempts += 1
        row.state, row.last_error = "delivered", None
        row.delivered_at = row.updated_at = clock(app)
        audit.record(
            "bulletins.delivered",
            app=APP,
            target=f"delivery:{delivery_id}",
            detail={
                "bulletin_id": payload.id,
                "number": payload.number,
                "channel": channel.kind,
                "target": channel.target,
                "host": result.host,
                "external": result.external,
                "detail": result.detail[:500],
            },
            actor=SYSTEM_ACTOR,
            session=session,
        )
    return {"delivery_id": delivery_id, "state": "delivered", "host": result.host}


# --- the core providers ------------------------------------------------------------------------


def default_deliver(bulletin: BulletinPayload, channel: DeliveryChannel) -> DeliveryResult | None:
    """The trylast core implementation of ``dai_deliver_bulletin``."""
    if channel.kind == "email":
        return send_email(bulletin, channel)
    if channel.kind == "webhook":
        return post_webhook(bulletin, channel)
    return None


def send_email(bulletin: BulletinPayload, channel: DeliveryChannel, app=None) -> DeliveryResult:
    """Plain-text body, the HTML as an alternative, the PDF attached; through SMTP_HOST."""
    from flask import current_app

    from disaster_ai.egress import check_outbound, is_loopback_host

    app = app or current_app
    config = app.config
    host, port = config["SMTP_HOST"], int(config["SMTP_PORT"])
    check_outbound(f"smtp://{host}:{port}", "bulletin e-mail", app=app, kind="delivery")
    message = EmailMessage()
    message["Subject"] = bulletin.title
    message["From"] = config["SMTP_FROM"]
    message["To"] = channel.target
    message["Date"] = format_datetime(datetime.fromisoformat(bulletin.issued_at))
    message["Message-ID"] = make_msgid(idstring=f"bulletin-{bulletin.id}")
    message["X-Disaster-AI-Bulletin"] = f"{bulletin.event_id}/{bulletin.number}"
    message.set_content(bulletin.text)
    message.add_alternative(bulletin.html, subtype="html")
    if bulletin.pdf:
        message.add_attachment(
            bulletin.pdf, maintype="application", subtype="pdf", filename=bulletin.pdf_filename
        )
    with smtplib.SMTP(host, port, timeout=float(config["SMTP_TIMEOUT_SECONDS"])) as smtp:
        if config["SMTP_STARTTLS"]:
            smtp.starttls()
        if config.get("SMTP_USERNAME"):
            smtp.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
        refused = smtp.send_message(message)
    if refused:
        raise DeliveryFailed(f"the SMTP server refused {sorted(refused)}")
    return DeliveryResult(
        True, f"sent to {channel.target} via {host}:{port}", host, not is_loopback_host(host)
    )


def post_webhook(bulletin: BulletinPayload, channel: DeliveryChannel, app=None) -> DeliveryResult:
    """POST the bulletin's JSON document. With a ``secret`` in the target's settings, the body is
    signed: ``X-Disaster-AI-Signature: sha256=<hex HMAC of the body>``."""
    from urllib.parse import urlsplit

    from flask import current_app

    from disaster_ai.egress import is_loopback_host, outbound_request

    app = app or current_app
    if urlsplit(channel.target).scheme not in ("http", "https"):
        raise DeliveryFailed(f"a webhook target must be an http(s) URL: {channel.target}")
    body = bulletin.json_bytes()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "disaster-ai bulletins",
        "X-Disaster-AI-Event": "bulletin.issued",
        "X-Disaster-AI-Bulletin": f"{bulletin.event_id}/{bulletin.number}",
    }
    secret = channel.options.get("secret")
    if secret:
        digest = hmac.new(str(secret).encode(), body, hashlib.sha256).hexdigest()
        headers["X-Disaster-AI-Signature"] = f"sha256={digest}"
    try:
        outbound_request(
            channel.target,
            purpose="bulletin webhook",
            app_name=APP,
            data=body,
            headers=headers,
            timeout=float(app.config["BULLETIN_WEBHOOK_TIMEOUT_SECONDS"]),
            kind="delivery",
        )
    except HTTPError as exc:
        raise DeliveryFailed(f"the webhook answered HTTP {exc.code}") from None
    host = (urlsplit(channel.target).hostname or "").lower()
    return DeliveryResult(True, f"POST {channel.target}", host, not is_loopback_host(host))
