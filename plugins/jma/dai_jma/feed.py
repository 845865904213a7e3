"""The JMA PULL feeds: the poller (``jma.poll``, every minute at :20), the gap check against
the long feed (``jma.gap_check``, hourly) and stale detection. Everything through
``desk.egress.get``/``fetch`` (kind ``feed``: the host must be in ``EGRESS_ALLOWLIST``, every
fetch audited).

- The feed is asked with ``If-Modified-Since`` (its last ``Last-Modified``); 304 costs nothing.
- Each message file is fetched exactly once: every URL fetched is kept in ``jma_fetches``,
  whatever came of it, and never asked again (JMA blocks clients that re-download).
- Only the types this plugin reads are fetched (and, with the ``offices`` setting, only those
  offices' files).
- A feed whose content does not move is stale: the ``updated`` time it carries is older than
  ``stale_minutes`` (default 4, so that it is flagged within 5 minutes of its last change; the
  high-frequency feeds are rewritten every minute), whether
  the server answers 200 with old content or 304. Flagged on the page, in ``jma status`` and in
  the audit log (``jma.feed_stale``), cleared when it moves again (``jma.feed_fresh``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from lxml import etree
from sqlalchemy import select

from disaster_ai.desk import Desk, current_desk

from . import NAME, clock
from .models import FeedState, Fetch, Gap
from .parse import SUPPORTED, NotATelegram, _safe_parser, data_type_from_name
from .store import ingest

log = logging.getLogger(__name__)
ATOM = "{http://www.w3.org/2005/Atom}"
DEFAULT_STALE_MINUTES = 4


@dataclass(frozen=True)
class Entry:
    url: str
    data_type: str
    title: str
    updated: datetime | None
    office: str


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def parse_feed(body: bytes) -> tuple[datetime | None, list[Entry]]:
    """The feed's ``updated`` time and its entries (link, type from the file name, office)."""
    try:
        root = etree.fromstring(body, parser=_safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"the feed is not well-formed XML: {exc}") from None
    if root.tag != f"{ATOM}feed":
        raise ValueError("not an Atom feed")
    entries = []
    for entry in root.iterfind(f"{ATOM}entry"):
        link = entry.find(f"{ATOM}link")
        url = (link.get("href") if link is not None else None) or entry.findtext(f"{ATOM}id")
        if not url:
            continue
        url = url.strip()
        stem = Path(url.split("?", 1)[0]).stem
        entries.append(
            Entry(
                url=url,
                data_type=data_type_from_name(stem),
                title=(entry.findtext(f"{ATOM}title") or "").strip(),
                updated=_when(entry.findtext(f"{ATOM}updated")),
                office=stem.rsplit("_", 1)[-1] if "_" in stem else "",
            )
        )
    return _when(root.findtext(f"{ATOM}updated")), entries


def wanted(desk: Desk, entry: Entry) -> bool:
    if not SUPPORTED.match(entry.data_type or ""):
        return False
    offices = desk.config.get("offices") or ()
    return not offices or entry.office in offices


def _state(session, feed: str, url: str) -> FeedState:
    row = session.get(FeedState, feed)
    if row is None:
        row = FeedState(feed=feed, url=url, last_modified="", last_status="", stale=False)
        session.add(row)
    row.url = url
    return row


def _fetch_new(desk: Desk, entries: list[Entry], via: str) -> dict:
    """Fetch each wanted entry never fetched before, once, and ingest it."""
    counts = {"fetched": 0, "stored": 0, "failed": 0}
    with desk.session() as session:
        known = set(
            session.scalars(select(Fetch.url).where(Fetch.url.in_([e.url for e in entries])))
        )
    for entry in entries:
        if entry.url in known or not wanted(desk, entry):
            continue
        known.add(entry.url)
        result = ""
        try:
            body = desk.egress.fetch(entry.url, purpose="JMA telegram")
            counts["fetched"] += 1
            _, created = ingest(desk, body, url=entry.url, source=via)
            counts["stored"] += int(created)
        except NotATelegram as exc:
            result = f"not a telegram: {exc}"
        except Exception as exc:  # a failed file is recorded, never fetched again
            result = f"{type(exc).__name__}: {exc}"
            counts["failed"] += 1
            log.warning("jma: %s: %s", entry.url, result)
        with desk.session() as session:
            session.add(
                Fetch(url=entry.url[:500], fetched_at=clock.now(), via=via, result=result[:300])
            )
    return counts


def _check_stale(desk: Desk, session, row: FeedState) -> None:
    limit = timedelta(minutes=int(desk.config.get("stale_minutes", DEFAULT_STALE_MINUTES)))
    moment = clock.now()
    reference = row.feed_updated or row.first_polled_at
    stale = reference is not None and moment - reference >= limit
    if stale and not row.stale:
        row.stale, row.stale_since = True, moment
        desk.audit(
            "jma.feed_stale",
            target=row.url[:255],
            detail={
                "feed": row.feed,
                "feed_updated": row.feed_updated.isoformat() if row.feed_updated else None,
                "minutes": int((moment - reference).total_seconds() // 60),
            },
            session=session,
        )
    elif not stale and row.stale:
        row.stale, row.stale_since = False, None
        desk.audit(
            "jma.feed_fresh", target=row.url[:255], detail={"feed": row.feed}, session=session
        )


def poll_feed(desk: Desk, feed: str, url: str, via: str = "feed") -> dict:
    """Read one feed with If-Modified-Since, fetch what is new, check staleness."""
    with desk.session() as session:
        row = _state(session, feed, url)
        since = row.last_modified
    headers = {"If-Modified-Since": since} if since else {}
    moment = clock.now()
    try:
        response = desk.egress.get(url, purpose=f"JMA feed {feed}", headers=headers)
    except Exception as exc:
        with desk.session() as session:
            row = _state(session, feed, url)
            row.last_polled_at = moment
            row.first_polled_at = row.first_polled_at or moment
            row.last_status = f"{type(exc).__name__}: {exc}"[:100]
            _check_stale(desk, session, row)
        raise
    entries: list[Entry] = []
    updated = None
    if not response.not_modified:
        updated, entries = parse_feed(response.body)
    with desk.session() as session:
        row = _state(session, feed, url)
        row.first_polled_at = row.first_polled_at or moment
        row.last_polled_at = row.last_ok_at = moment
        row.last_status = str(response.status)
        row.last_modified = response.headers.get("last-modified", row.last_modified)[:64]
        if updated is not None and (row.feed_updated is None or updated > row.feed_updated):
            row.feed_updated = updated
        _check_stale(desk, session, row)
    counts = _fetch_new(desk, entries, via) if entries else {"fetched": 0, "stored": 0, "failed": 0}
    return {"feed": feed, "status": response.status, "entries": len(entries), **counts}


def poll(url: str) -> dict:
    """The scheduled job ``jma.poll``: the high-frequency feed once."""
    desk = current_desk(NAME)
    result = poll_feed(desk, "extra", url)
    desk.audit("jma.poll", target=url[:255], detail=result)
    return result


def gap_check(url: str) -> dict:
    """The scheduled job ``jma.gap_check``: the long feed against what was fetched. An entry
    of a wanted type, newer than our first poll of the high-frequency feed, that we never
    fetched is a gap: recorded (``jma.gap``) and fetched now, once."""
    desk = current_desk(NAME)
    with desk.session() as session:
        main = session.get(FeedState, "extra")
        since = main.first_polled_at if main is not None else None
    response = desk.egress.get(url, purpose="JMA long feed", headers={})
    _, entries = parse_feed(response.body) if not response.not_modified else (None, [])
    with desk.session() as session:
        row = _state(session, "extra_l", url)
        row.first_polled_at = row.first_polled_at or clock.now()
        row.last_polled_at = row.last_ok_at = clock.now()
        row.last_status = str(response.status)
        fetched = set(session.scalars(select(Fetch.url)))
        missing = [
            e
            for e in entries
            if e.url not in fetched
            and wanted(desk, e)
            and since is not None
            and (e.updated is None or e.updated >= since)
        ]
        for entry in missing:
            if session.scalar(select(Gap).where(Gap.url == entry.url)) is None:
                session.add(
                    Gap(url=entry.url[:500], entry_updated=entry.updated, detected_at=clock.now())
                )
    if missing:
        desk.audit("jma.gap", target=url[:255], detail={"missing": [e.url for e in missing][:50]})
    counts = _fetch_new(desk, missing, "gap")
    result = {"feed": "extra_l", "entries": len(entries), "gaps": len(missing), **counts}
    desk.audit("jma.gap_check", target=url[:255], detail=result)
    return result
