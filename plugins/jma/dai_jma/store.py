"""Telegrams in, warnings in force and suggestions out.

``ingest`` stores a telegram once (by the SHA-256 of its bytes, and by its URL), with its raw
XML and this municipality's items, handles 取消, and then ``refresh`` recomputes what is in
force and what the rule table suggests: a new 提案 through ``desk.notices.suggest`` for a rule
that newly applies, ``desk.notices.outdate`` for a suggestion whose information was cancelled,
lifted or lowered. Only 通常 telegrams count; 訓練 and 試験 ones are stored and shown as such.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from disaster_ai.desk import ApiError, Desk

from . import clock
from .models import Suggestion, Telegram
from .parse import kind_info, parse_bytes

log = logging.getLogger(__name__)
NOT_IN_FORCE = {"解除", "なし", "発表警報・注意報はなし", ""}
SHORT_LIVED = {"VPOA50", "VPBS50"}  # no 解除 follows: shown as in force for a few hours
SHORT_LIVED_HOURS = 3
RULE_ID = re.compile(r"^[A-Za-z0-9_-]{1,60}$")


@dataclass(frozen=True)
class Rule:
    id: str
    phenomenon: tuple[str, ...]
    min_level: int
    hazard: str
    level: int
    districts: tuple[str, ...]
    reason: str = ""
    types: tuple[str, ...] = ()

    def matches(self, warning: dict) -> bool:
        if warning["phenomenon"] not in self.phenomenon:
            return False
        if self.types and not warning["type"].startswith(self.types):
            return False
        return (warning["level"] or 0) >= self.min_level


def load_rules(path: str | Path | None = None) -> list[Rule]:
    """The rule table (rules.toml, or the municipality's copy). ValueError naming the rule
    and the field when it is wrong."""
    path = Path(path) if path else Path(__file__).parent / "rules.toml"
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ValueError(f"cannot read the JMA rule table {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"the JMA rule table {path} is not valid TOML: {exc}") from None
    rules, seen = [], set()
    for number, raw in enumerate(data.get("rule", []), 1):
        where = f"{path.name}: rule {number} ({raw.get('id', '?')})"
        try:
            rule = Rule(
                id=str(raw["id"]),
                phenomenon=tuple(str(p) for p in raw["phenomenon"]),
                min_level=int(raw["min_level"]),
                hazard=str(raw["hazard"]),
                level=int(raw["level"]),
                districts=tuple(str(d) for d in raw.get("districts", [])),
                reason=str(raw.get("reason", "")),
                types=tuple(str(t) for t in raw.get("types", [])),
            )
        except KeyError as exc:
            raise ValueError(f"{where}: {exc.args[0]!r} is missing") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        if not RULE_ID.match(rule.id) or rule.id in seen:
            raise ValueError(f"{where}: the id must be unique, letters, digits, - and _")
        if rule.level not in (3, 4, 5):
            raise ValueError(f"{where}: level must be 3, 4 or 5")
        seen.add(rule.id)
        rules.append(rule)
    return rules


def area_codes(desk: Desk) -> tuple[str, ...]:
    """This municipality's JMA 市町村等 codes (from the profile; a 政令市's wards included),
    or the ``area_codes`` setting when it is given."""
    configured = desk.config.get("area_codes")
    if configured:
        return tuple(str(c) for c in configured)
    profile = desk.municipality()
    return profile.jma_area_codes if profile else ()


def _when(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def ingest(
    desk: Desk, data: bytes, *, file_name: str = "", url: str | None = None, source: str = "feed"
) -> tuple[Telegram, bool]:
    """Store one telegram (NotATelegram for anything else). Returns (row, created): a telegram
    already stored (same bytes, or same URL) is not stored again and changes nothing."""
    digest = hashlib.sha256(data).hexdigest()
    name = file_name or (url.rsplit("/", 1)[-1] if url else "")
    parsed = parse_bytes(data, file=name)
    codes = area_codes(desk)
    with desk.session() as session:
        existing = session.scalar(select(Telegram).where(Telegram.sha256 == digest))
        if existing is None and url:
            existing = session.scalar(select(Telegram).where(Telegram.url == url))
        if existing is not None:
            session.expunge(existing)
            return existing, False
        row = Telegram(
            sha256=digest,
            url=url,
            file_name=Path(name).name[:255],
            data_type=parsed.type,
            title=parsed.title[:200],
            head_title=parsed.head_title[:200],
            status=parsed.status[:16],
            info_type=parsed.info_type[:16],
            reported_at=_when(parsed.reported_at),
            event_id=parsed.event_id[:64],
            serial=parsed.serial[:16],
            office=parsed.office[:100],
            headline=parsed.headline,
            source=source,
            received_at=clock.now(),
            items=[item.as_dict() for item in parsed.items_for(codes)],
            raw_xml=data.decode("utf-8", errors="replace"),
        )
        session.add(row)
        session.flush()
        if parsed.info_type == "取消" and parsed.actionable:
            _cancel_previous(session, row)
        desk.audit(
            "jma.telegram",
            target=f"jma_telegram:{row.id}",
            detail={
                "type": row.data_type,
                "status": row.status,
                "info_type": row.info_type,
                "source": source,
                "ours": bool(row.items),
            },
            session=session,
        )
        session.flush()
        session.expunge(row)
    refresh(desk)
    return row, True


def _cancel_previous(session, row: Telegram) -> None:
    """取消: the telegram it cancels (the latest earlier one of the same type, office and
    event) no longer counts."""
    query = (
        select(Telegram)
        .where(
            Telegram.data_type == row.data_type,
            Telegram.office == row.office,
            Telegram.event_id == row.event_id,
            Telegram.status == "通常",
            Telegram.info_type != "取消",
            Telegram.cancelled_by.is_(None),
            Telegram.id != row.id,
        )
        .order_by(Telegram.reported_at.desc(), Telegram.id.desc())
    )
    for earlier in session.scalars(query):
        if (
            row.reported_at is None
            or earlier.reported_at is None
            or (earlier.reported_at <= row.reported_at)
        ):
            earlier.cancelled_by = row.id
            return


def _group(row: Telegram) -> tuple:
    """Telegrams that replace each other: warnings per type and office (each lists the full
    state of its areas), a river forecast per type, office and event."""
    if row.data_type.startswith("VXKO"):
        return (row.data_type, row.office, row.event_id)
    return (row.data_type, row.office)


def in_force(session, at: datetime | None = None) -> list[dict]:
    """The warnings and information in force for this municipality: from the latest valid
    通常 telegram of each group, the kinds not lifted. Highest level first."""
    at = at or clock.now()
    rows = session.scalars(
        select(Telegram)
        .where(Telegram.status == "通常", Telegram.cancelled_by.is_(None))
        .order_by(Telegram.reported_at, Telegram.id)
    )
    latest: dict[tuple, Telegram] = {}
    for row in rows:
        if row.info_type == "取消":
            continue
        latest[_group(row)] = row  # ordered by time: the last one wins
    warnings = []
    for row in latest.values():
        if row.data_type in SHORT_LIVED and row.reported_at is not None:
            if at - row.reported_at > timedelta(hours=SHORT_LIVED_HOURS):
                continue
        for item in row.items or []:
            for kind in item["kinds"]:
                if kind["status"] in NOT_IN_FORCE or kind["name"] in ("なし", "解除"):
                    continue
                info = kind_info(row.data_type, kind["code"])
                warnings.append(
                    {
                        "phenomenon": info.get("phenomenon") or kind["name"],
                        "name": kind["name"],
                        "label": info.get("label") or kind["name"],
                        "code": kind["code"],
                        "status": kind["status"],
                        "level": kind["level"],
                        "area_code": item["area_code"],
                        "area_name": item["area_name"],
                        "type": row.data_type,
                        "telegram_id": row.id,
                        "reported_at": row.reported_at.isoformat() if row.reported_at else "",
                    }
                )
    warnings.sort(key=lambda w: (-(w["level"] or 0), w["phenomenon"], w["area_code"]))
    return warnings


def refresh(desk: Desk, rules: list[Rule] | None = None) -> dict:
    """Compare what is in force with the rule table: suggest for a rule that newly applies,
    outdate a suggestion whose information is gone. Returns the counts."""
    rules = rules if rules is not None else load_rules(desk.config.get("rules_file"))
    counts = {"suggested": 0, "outdated": 0, "skipped": 0}
    with desk.session() as session:
        warnings = in_force(session)
        open_rows = {
            s.rule_id: s
            for s in session.scalars(select(Suggestion).where(Suggestion.outdated_at.is_(None)))
        }
        for rule in rules:
            matching = [w for w in warnings if rule.matches(w)]
            current = open_rows.get(rule.id)
            if current is not None and not matching:
                cancelled = session.get(Telegram, current.telegram_id)
                reason = (
                    "取消"
                    if cancelled is not None and cancelled.cancelled_by is not None
                    else "解除または引き下げ"
                )
                _outdate(desk, session, current, reason)
                counts["outdated"] += 1
            elif current is None and matching:
                if _suggest(desk, session, rule, matching):
                    counts["suggested"] += 1
                else:
                    counts["skipped"] += 1
    return counts


def _outdate(desk: Desk, session, row: Suggestion, reason: str) -> None:
    row.outdated_at = clock.now()
    row.outdated_reason = reason
    desk.notices.outdate(row.ref, reason=f"気象庁情報の{reason}", session=session)
    desk.audit(
        "jma.suggestion_outdated",
        target=f"notice:{row.notice_id}",
        detail={"rule": row.rule_id, "ref": row.ref, "reason": reason},
        session=session,
    )


def _suggest(desk: Desk, session, rule: Rule, matching: list[dict]) -> bool:
    if not rule.districts:
        log.warning("jma: rule %s applies but names no districts; nothing suggested", rule.id)
        return False
    top = max(matching, key=lambda w: w["level"] or 0)
    telegram = session.get(Telegram, top["telegram_id"])
    ref = f"{rule.id}#{telegram.id}"
    taken = set(session.scalars(select(Suggestion.ref).where(Suggestion.ref.startswith(ref))))
    if ref in taken:  # the same telegram in force again (its later 取消): a new suggestion
        ref = f"{ref}+{len(taken)}"
    title = (
        f"{telegram.head_title or telegram.title}（{top['label']}：警戒レベル{top['level']}相当）"
    )
    try:
        made = desk.notices.suggest(
            hazard=rule.hazard,
            level=rule.level,
            districts=list(rule.districts),
            ref=ref,
            title=title[:255],
            url=f"/apps/jma/telegrams/{telegram.id}",
            reason=rule.reason,
            detail={
                "telegram_id": telegram.id,
                "type": telegram.data_type,
                "kind": top["name"],
                "jma_level_equivalent": top["level"],
                "reported_at": top["reported_at"],
                "rule": rule.id,
            },
            session=session,
        )
    except ApiError as exc:
        log.warning("jma: rule %s refused by the notices app: %s", rule.id, exc)
        return False
    session.add(
        Suggestion(
            ref=ref,
            rule_id=rule.id,
            telegram_id=telegram.id,
            notice_id=made.notice_id,
            phenomenon=top["phenomenon"],
            level=top["level"],
            created_at=clock.now(),
        )
    )
    session.flush()
    return True
