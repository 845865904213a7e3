"""The desk's live notifications: the server-sent-events stream and its JSON fallback
(:mod:`disaster_ai.notifications`)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context
from flask_babel import get_locale

from disaster_ai import notifications
from disaster_ai.auth import current_actor, requires
from disaster_ai.security import parse_db_int
from disaster_ai.storage.engine import db

bp = Blueprint("live", __name__)


def _after() -> int | None:
    """Where the page stands: ``Last-Event-ID`` (a reconnecting EventSource) or ``?after=``."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("after")
    return parse_db_int(raw) if raw else None


@bp.get("/notifications/stream")
@requires("desk.view")
def notification_stream():
    """Server-sent events: one ``notification`` event per toast for this user, heartbeat
    comments in between. The stream ends after ``NOTIFY_STREAM_SECONDS``; the browser
    reconnects by itself and resumes with ``Last-Event-ID``."""
    app = current_app._get_current_object()
    actor, lang = current_actor(), str(get_locale())
    after, root = _after(), request.script_root
    db().close()  # the stream reads with its own short sessions; hold no connection
    body = stream_with_context(notifications.stream(app, actor, lang, after, root))
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache, no-transform"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


@bp.get("/notifications.json")
@requires("desk.view")
def notification_poll():
    """The same notifications as JSON (``?after=ID``), for pages that cannot hold a stream;
    ``latest`` is where to resume, ``poll_seconds`` when to ask again."""
    session = db()
    after = _after()
    items = notifications.pending(
        session, current_actor(), str(get_locale()), after, request.script_root
    )
    latest = max([after or 0, notifications.latest_id(session) if after is None else 0])
    latest = max([latest, *(item["id"] for item in items)])
    return jsonify(
        {
            "notifications": items,
            "latest": latest,
            "poll_seconds": float(current_app.config["NOTIFY_FALLBACK_POLL_SECONDS"]),
        }
    )
