"""The damage tally of an event: every item's value or 未確認, where it came from, who entered
it and when. A change never overwrites: it adds the next version of the item, and the change
and its audit row commit together (``reports.tally_set``).

An item with no entry yet is 未確認: the form wants an explicit 0 for "none", so that a first
report sent within 30 minutes says plainly what is not known yet.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from disaster_ai import audit
from disaster_ai.apps.reports.common import (
    APP,
    SOURCE_JA,
    STATE_JA,
    ReportError,
    app_context,
    clock,
    get_event,
    iso,
)
from disaster_ai.apps.reports.items import (
    Catalogue,
    ItemError,
    ReportItem,
    _,
    as_number,
    catalogue_for,
    format_decimal,
    parse_value,
)
from disaster_ai.apps.reports.models import SOURCES, TallyEntry
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.types import SYSTEM_ACTOR, Actor

MAX_CHANGES = 200
MAX_NOTE = 255
RETRIES = 10


@dataclass(frozen=True)
class Change:
    """One item to set: a value (text as typed) and/or the state 未確認."""

    item: str
    value: object = None
    unconfirmed: bool = False


@dataclass(frozen=True)
class Source:
    kind: str = "desk"
    note: str = ""
    incident_ids: tuple[int, ...] = ()
    proposal_id: int | None = None


@dataclass
class _Planned:
    item: ReportItem
    value: str | None
    state: str
    incident_ids: list = field(default_factory=list)


def check_source(source: Source) -> Source:
    if source.kind not in SOURCES:
        raise ReportError(
            _(
                "Unknown source %(source)s; sources: %(all)s.",
                source=source.kind,
                all=", ".join(SOURCES),
            ),
            "source",
        )
    if len(source.note or "") > MAX_NOTE:
        raise ReportError(
            _("The source note is longer than %(max)s characters.", max=MAX_NOTE), "source_note"
        )
    return source


def plan_changes(catalogue: Catalogue, changes: list[Change]) -> list[_Planned]:
    """Validate every change before anything is written (all or nothing)."""
    if not changes:
        raise ReportError(_("Give at least one item to set."), "items")
    if len(changes) > MAX_CHANGES:
        raise ReportError(_("At most %(max)s items at once.", max=MAX_CHANGES), "items")
    planned: dict[str, _Planned] = {}
    for change in changes:
        try:
            item = catalogue.get(change.item)
            if not item.enterable:
                raise ItemError(
                    item.path,
                    _("%(path)s is computed by the desk and cannot be entered.", path=item.path),
                )
            value = None
            if change.value is not None and change.value != "":
                value = parse_value(item, change.value)
            elif not change.unconfirmed:
                raise ItemError(item.path, _("%(path)s: give a value or 未確認.", path=item.path))
        except ItemError as exc:
            raise ReportError(exc.message, exc.item) from None
        state = "unconfirmed" if change.unconfirmed else "confirmed"
        if item.path in planned:
            previous = planned[item.path]
            value = value if value is not None else previous.value
            state = "unconfirmed" if "unconfirmed" in (state, previous.state) else state
        planned[item.path] = _Planned(item, value, state)
    return list(planned.values())


def latest_entries(session, event_id: int) -> dict[str, TallyEntry]:
    """The current version of every item entered for the event."""
    rows = session.scalars(
        select(TallyEntry)
        .where(TallyEntry.event_id == event_id)
        .order_by(TallyEntry.item, TallyEntry.version)
    )
    return {row.item: row for row in rows}


def set_items(
    app,
    event_id: int,
    changes: list[Change],
    *,
    source: Source | None = None,
    actor: Actor | None = None,
    add: bool = False,
) -> dict:
    """Set items of the event's tally; returns ``{"changed": [item dicts], "unchanged": [paths]}``.

    ``add=True`` adds each numeric value to the current one (a proposal accepted). Setting the
    same value and state again writes nothing. Concurrent writers of the same item each get
    their own version (the UNIQUE constraint and a retry)."""
    actor = actor or SYSTEM_ACTOR
    source = check_source(source or Source())
    with app_context(app):
        catalogue = catalogue_for(app)
        planned = plan_changes(catalogue, changes)
        for attempt in range(RETRIES):
            try:
                return _write(app, event_id, planned, source, actor, add, catalogue)
            except (IntegrityError, OperationalError) as exc:
                if isinstance(exc, OperationalError) and "locked" not in str(exc).lower():
                    raise
                time.sleep(random.uniform(0, 0.05 * (attempt + 1)))
        raise ReportError(_("The tally is busy; try again."), "items")


def _write(app, event_id, planned, source: Source, actor: Actor, add: bool, catalogue) -> dict:
    with session_scope(get_storage(app)) as session:
        return write_in(session, app, event_id, planned, source, actor, add, catalogue)


def write_in(session, app, event_id, planned, source: Source, actor: Actor, add: bool, catalogue):
    """The tally change inside the caller's transaction (which commits it, or retries the
    whole transaction on an IntegrityError: a concurrent writer took the version)."""
    moment = clock(app)
    get_event(session, event_id, open_only=True)
    latest = latest_entries(session, event_id)
    changed, unchanged, audit_changes = [], [], []
    for plan in planned:
        before = latest.get(plan.item.path)
        value, state = plan.value, plan.state
        incident_ids = list(before.incident_ids or []) if before is not None else []
        if add and plan.item.kind != "text" and value is not None:
            base = Decimal(before.value) if before is not None and before.value else Decimal(0)
            value = _canonical(plan.item, base + Decimal(value))
        for incident_id in source.incident_ids:
            if incident_id not in incident_ids:
                incident_ids.append(int(incident_id))
        if before is not None and (before.value, before.state) == (value, state) and not add:
            unchanged.append(plan.item.path)
            continue
        version = (
            session.scalar(
                select(func.max(TallyEntry.version)).where(
                    TallyEntry.event_id == event_id, TallyEntry.item == plan.item.path
                )
            )
            or 0
        ) + 1
        entry = TallyEntry(
            event_id=event_id,
            item=plan.item.path,
            version=version,
            value=value,
            state=state,
            source=source.kind,
            source_note=(source.note or "").strip(),
            incident_ids=incident_ids,
            proposal_id=source.proposal_id,
            entered_by=actor.username[:64],
            entered_at=moment,
        )
        session.add(entry)
        session.flush()
        changed.append(entry)
        audit_changes.append(
            {
                "item": plan.item.path,
                "version": version,
                "before": None if before is None else [before.value, before.state],
                "after": [value, state],
            }
        )
    if audit_changes:
        audit.record(
            "reports.tally_set",
            app=APP,
            target=f"event:{event_id}",
            detail={
                "event_id": event_id,
                "source": source.kind,
                "source_note": source.note,
                "incident_ids": list(source.incident_ids),
                "proposal_id": source.proposal_id,
                "changes": audit_changes,
            },
            actor=actor,
            session=session,
        )
    return {
        "changed": [entry_dict(catalogue.get(e.item), e) for e in changed],
        "unchanged": unchanged,
    }


def _canonical(item: ReportItem, number: Decimal) -> str:
    return str(int(number)) if item.kind == "count" else format_decimal(number)


# --- reading ---------------------------------------------------------------------------------


def entry_dict(item: ReportItem, entry: TallyEntry | None) -> dict:
    """An item as the API, the desk and the report snapshot show it."""
    value = entry.value if entry is not None else None
    state = entry.state if entry is not None else "unconfirmed"
    return {
        "path": item.path,
        "group": item.group,
        "name": item.name,
        "unit": item.unit,
        "kind": item.kind,
        "forms": list(item.forms),
        "derived": item.derived,
        "auto": item.auto or None,
        "value": value,
        "number": as_number(value) if value is not None and item.kind != "text" else None,
        "state": state,
        "state_ja": STATE_JA[state],
        "entered": entry is not None,
        "version": entry.version if entry is not None else 0,
        "source": entry.source if entry is not None else None,
        "source_ja": SOURCE_JA.get(entry.source, entry.source) if entry is not None else None,
        "source_note": entry.source_note if entry is not None else "",
        "incident_ids": list(entry.incident_ids or []) if entry is not None else [],
        "entered_by": entry.entered_by if entry is not None else None,
        "entered_at": iso(entry.entered_at) if entry is not None else None,
    }


def derived_dict(item: ReportItem, parts: list[dict]) -> dict:
    """A sum item: the sum of the parts that have a value; 確定 only when every part is."""
    data = entry_dict(item, None)
    known = [p for p in parts if p["value"] is not None]
    if known:
        total = sum((Decimal(p["value"]) for p in known), Decimal(0))
        data["value"] = _canonical(item, total)
        data["number"] = as_number(data["value"])
    confirmed = bool(parts) and all(p["state"] == "confirmed" for p in parts)
    data["state"] = "confirmed" if confirmed else "unconfirmed"
    data["state_ja"] = STATE_JA[data["state"]]
    data["source_ja"] = "自動計算"
    data["sum"] = [p["path"] for p in parts]
    data["partial"] = bool(known) and not confirmed
    return data


def current_tally(session, event_id: int, catalogue: Catalogue, auto: dict | None = None) -> list:
    """Every item of the catalogue, in the form's order: entered items from their latest
    version, sums computed, ``auto`` items from ``auto`` (path → dict with value and state;
    without it they stay 未確認)."""
    latest = latest_entries(session, event_id)
    by_path: dict[str, dict] = {}
    out = []
    for item in catalogue.items:
        if item.derived:
            continue
        if item.auto:
            data = entry_dict(item, None)
            data.update((auto or {}).get(item.auto) or {})
            data["source_ja"] = SOURCE_JA["auto"]
        else:
            data = entry_dict(item, latest.get(item.path))
        by_path[item.path] = data
    for item in catalogue.items:
        if item.derived:
            by_path[item.path] = derived_dict(item, [by_path[p] for p in item.sum])
        out.append(by_path[item.path])
    return out


def history(session, event_id: int, path: str, catalogue: Catalogue) -> list[dict]:
    """Every version of one item, newest first."""
    item = catalogue.get(path)
    rows = session.scalars(
        select(TallyEntry)
        .where(TallyEntry.event_id == event_id, TallyEntry.item == item.path)
        .order_by(TallyEntry.version.desc())
    )
    return [entry_dict(item, row) for row in rows]


def summary_counts(tally: list[dict]) -> dict:
    """How many enterable items are 確定, 未確認 with a value, and not entered at all."""
    entered = [t for t in tally if not t["derived"] and not t["auto"]]
    return {
        "items": len(entered),
        "confirmed": sum(1 for t in entered if t["state"] == "confirmed"),
        "unconfirmed": sum(1 for t in entered if t["state"] == "unconfirmed" and t["entered"]),
        "not_entered": sum(1 for t in entered if not t["entered"]),
    }
