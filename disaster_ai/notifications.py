"""Live notifications by role: domain events become toasts on the desk's open pages.

After a domain event commits (:mod:`disaster_ai.events`), :func:`record` asks every plugin
for its notifications about it (``dai_notifications``), renders each one's texts in every desk
language, and keeps them in the ``notifications`` table. The desk's pages read that table:

- ``/notifications/stream``: server-sent events. The stream reads the table every
  ``NOTIFY_POLL_SECONDS``, sends a heartbeat comment every ``NOTIFY_HEARTBEAT_SECONDS`` and
  ends after ``NOTIFY_STREAM_SECONDS``; the browser reconnects with ``Last-Event-ID``. At most
  ``NOTIFY_MAX_STREAMS`` streams stay open per process (a waitress thread each); beyond that a
  stream answers what is waiting at once and asks the browser to come back later (a light poll).
- ``/notifications.json?after=ID``: the same as JSON, for browsers without EventSource.

Because the table is the only channel, it works with the in-process server and with several
processes or hosts on one database, and a page opened later still gets the recent ones.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from disaster_ai.plugins import safe_collect
from disaster_ai.storage.base import now
from disaster_ai.storage.engine import get_storage, session_scope
from disaster_ai.storage.models import Notification as NotificationRow
from disaster_ai.types import Actor, Notification

log = logging.getLogger(__name__)

SEVERITIES = ("urgent", "info")
_PRUNE_EVERY = 200  # rows added between two prunes


def record(app, event) -> list[int]:
    """Keep the notifications the plugins give for ``event``; returns the new rows' ids."""
    pm = app.extensions["disaster_ai"]
    with app.app_context():
        found = safe_collect(pm, "dai_notifications", event=event)
        chosen: dict[str, Notification] = {}
        for item in found:  # pluggy's order: the first of a key wins
            if isinstance(item, Notification) and item.key not in chosen:
                chosen[item.key] = item
        if not chosen:
            return []
        rows = [_row(app, event, item) for item in chosen.values()]
        rows = [row for row in rows if row is not None]
        with session_scope(get_storage(app)) as session:
            session.add_all(rows)
            session.flush()
            ids = [row.id for row in rows]
            if ids and ids[-1] % _PRUNE_EVERY < len(ids):
                prune(session, app)
        return ids


def _row(app, event, item: Notification) -> NotificationRow | None:
    try:
        link = app.url_map.bind("localhost").build(item.endpoint, dict(item.values))
    except Exception:  # noqa: BLE001 - a plugin naming an unknown page must not lose the toast
        log.warning("notification %s links to unknown page %s", item.key, item.endpoint)
        link = ""
    texts = {}
    for lang in app.config["LANGUAGES"]:
        with force_locale(lang):
            texts[lang] = {"title": str(item.title)[:300], "body": str(item.body or "")[:600]}
    return NotificationRow(
        created_at=now(),
        event=event.name[:64],
        key=item.key[:128],
        severity=item.severity if item.severity in SEVERITIES else "info",
        roles=list(item.roles),
        users=list(item.users),
        exclude_user=item.exclude_user[:64],
        texts=texts,
        link=link[:512],
    )


def prune(session: Session, app) -> None:
    before = now() - timedelta(days=float(app.config["NOTIFY_KEEP_DAYS"]))
    session.execute(delete(NotificationRow).where(NotificationRow.created_at < before))


def visible_to(row: NotificationRow, actor: Actor) -> bool:
    if actor.username == row.exclude_user:
        return False
    return actor.username in (row.users or []) or any(actor.has_role(r) for r in row.roles or [])


def as_dict(row: NotificationRow, lang: str, script_root: str = "") -> dict:
    texts = row.texts or {}
    text = texts.get(lang) or next(iter(texts.values()), {"title": "", "body": ""})
    return {
        "id": row.id,
        "event": row.event,
        "key": row.key,
        "severity": row.severity,
        "title": text.get("title", ""),
        "body": text.get("body", ""),
        "url": (script_root + row.link) if row.link else "",
        "created_at": row.created_at.replace(microsecond=0).isoformat(),
    }


def latest_id(session: Session) -> int:
    return session.scalar(select(NotificationRow.id).order_by(NotificationRow.id.desc())) or 0


def pending(
    session: Session, actor: Actor, lang: str, after: int | None, script_root: str = ""
) -> list[dict]:
    """The notifications for ``actor`` newer than id ``after`` (None: a fresh page, so the
    last ``NOTIFY_BACKLOG_HOURS``), oldest first, at most 50."""
    since = now() - timedelta(hours=float(current_app.config["NOTIFY_BACKLOG_HOURS"]))
    query = select(NotificationRow).where(NotificationRow.created_at >= since)
    if after is not None:
        query = query.where(NotificationRow.id > after)
    rows = session.scalars(query.order_by(NotificationRow.id.desc()).limit(500))
    mine = [as_dict(r, lang, script_root) for r in rows if visible_to(r, actor)][:50]
    return list(reversed(mine))


# --- server-sent events ---------------------------------------------------------------------

_streams_lock = threading.Lock()


def _slots(app) -> threading.BoundedSemaphore:
    with _streams_lock:
        slots = app.extensions.get("disaster_ai.notify_slots")
        if slots is None:
            slots = threading.BoundedSemaphore(max(0, int(app.config["NOTIFY_MAX_STREAMS"])) or 1)
            app.extensions["disaster_ai.notify_slots"] = slots
        return slots


def _message(item: dict) -> str:
    data = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
    return f"id: {item['id']}\nevent: notification\ndata: {data}\n\n"


def stream(app, actor: Actor, lang: str, after: int | None, script_root: str = "") -> Iterator[str]:
    """The event stream for one page: what is pending, then new notifications as they are
    committed, heartbeats in between, until ``NOTIFY_STREAM_SECONDS`` have passed."""
    config = app.config
    slots = _slots(app)
    held = slots.acquire(blocking=False)
    storage = get_storage(app)
    try:
        with app.app_context():
            with session_scope(storage) as session:
                if after is None:  # a fresh page: the backlog, then everything after now
                    items = pending(session, actor, lang, None, script_root)
                    after = max([latest_id(session), *(i["id"] for i in items)])
                else:
                    items = pending(session, actor, lang, after, script_root)
            if not held:  # every slot is taken: answer as a poll, come back later
                retry = int(float(config["NOTIFY_FALLBACK_POLL_SECONDS"]) * 1000)
                yield f"retry: {retry}\n: busy\n\n"
                for item in items:
                    yield _message(item)
                if not items:  # tell the browser where it is, so it resumes from here
                    yield f"id: {after}\n: nothing new\n\n"
                return
            yield "retry: 3000\n: connected\n\n"
            for item in items:
                yield _message(item)
            if items:
                after = items[-1]["id"]
            else:
                yield f"id: {after}\n\n"
            end = time.monotonic() + float(config["NOTIFY_STREAM_SECONDS"])
            poll = max(0.2, float(config["NOTIFY_POLL_SECONDS"]))
            heartbeat = float(config["NOTIFY_HEARTBEAT_SECONDS"])
            last_sent = time.monotonic()
            while time.monotonic() < end:
                time.sleep(min(poll, max(0.0, end - time.monotonic())))
                with session_scope(storage) as session:
                    items = pending(session, actor, lang, after, script_root)
                for item in items:
                    yield _message(item)
                    after = item["id"]
                    last_sent = time.monotonic()
                if time.monotonic() - last_sent >= heartbeat:
                    yield ": heartbeat\n\n"
                    last_sent = time.monotonic()
    finally:
        if held:
            slots.release()
