"""Incidents propose tally changes; the desk decides.

A confirmed incident (or one confirmed and since resolved) whose category has a rule in the
item catalogue (``[[proposals]]``: building_damage → 住家被害.一部破損.棟 …) proposes adding 1 to
that item, or its head count for rules with ``people = true``. The operator accepts it as it
is, edits the item or the amount first, or rejects it; the tally changes only then.

Nothing is counted twice:
- one proposal per incident and event (a UNIQUE constraint), whatever happens later;
- a merged duplicate proposes nothing, and its pending proposal is withdrawn;
- an incident whose merged duplicates already had a proposal accepted proposes nothing;
- accepting is a conditional update (pending → accepted): two operators clicking at once
  add the increment once.

Incidents from ``PROPOSAL_LOOKBACK`` before the event's opening onwards count (damage reported
just before the desk opened the event belongs to it).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from disaster_ai import audit
from disaster_ai.apps.reports import tally
from disaster_ai.apps.reports.common import (
    APP,
    Conflict,
    NotFound,
    ReportError,
    app_context,
    clock,
    desk,
    get_event,
    iso,
)
from disaster_ai.apps.reports.items import ItemError, _, catalogue_for, parse_value
from disaster_ai.apps.reports.models import TallyProposal
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.types import SYSTEM_ACTOR, Actor

PROPOSAL_LOOKBACK = timedelta(hours=12)
COUNTED_STATUSES = ("confirmed", "resolved")
MAX_REASON = 255


def sync(app, event_id: int) -> dict:
    """Create the missing proposals of an open event and withdraw those of merged duplicates;
    returns ``{"created": n, "withdrawn": n}``. Safe to call any time, from any process."""
    incidents = desk(app).incidents
    with app_context(app):
        catalogue = catalogue_for(app)
        rules = {r.category: r for r in catalogue.proposals}
        created = withdrawn = 0
        with session_scope(get_storage(app)) as session:
            event = get_event(session, event_id)
            if event.closed_at is not None or not rules:
                return {"created": 0, "withdrawn": 0}
            existing = {
                p.incident_id: p
                for p in session.scalars(
                    select(TallyProposal).where(TallyProposal.event_id == event_id)
                )
            }
            merged = (
                {
                    i.id: i.merged_into
                    for i in incidents.query(ids=existing, merged=True, session=session)
                }
                if existing
                else {}
            )
            moment = clock(app)
            for incident_id, into in merged.items():
                proposal = existing[incident_id]
                if proposal.state == "pending":
                    proposal.state = "withdrawn"
                    proposal.reason = f"重複（#{into} に統合）"
                    proposal.decided_at, proposal.decided_by = moment, "system"
                    withdrawn += 1
            counted_roots = {
                _root(app, session, incident_id): incident_id
                for incident_id, p in existing.items()
                if p.state == "accepted" and incident_id in merged
            }
            for root, counted in counted_roots.items():
                proposal = existing.get(root)
                if proposal is not None and proposal.state == "pending":
                    # the kept incident's duplicate was counted already
                    proposal.state = "withdrawn"
                    proposal.reason = f"重複（#{counted} として集計済み）"
                    proposal.decided_at, proposal.decided_by = moment, "system"
                    withdrawn += 1
            candidates = incidents.query(
                statuses=COUNTED_STATUSES,
                categories=list(rules),
                since=event.opened_at - PROPOSAL_LOOKBACK,
                session=session,
            )
            for incident in candidates:
                if incident.id in existing or incident.id in counted_roots:
                    continue
                if event.closed_at is not None and incident.occurred_at > event.closed_at:
                    continue
                rule = rules[incident.category]
                amount = incident.people if rule.people and incident.people else 1
                session.add(
                    TallyProposal(
                        event_id=event_id,
                        incident_id=incident.id,
                        category=incident.category,
                        item=rule.item,
                        amount=str(amount),
                        state="pending",
                        created_at=moment,
                    )
                )
                created += 1
            try:
                session.flush()
            except IntegrityError:  # another process proposed the same incidents just now
                session.rollback()
                return {"created": 0, "withdrawn": 0}
        return {"created": created, "withdrawn": withdrawn}


def _root(app, session, incident_id: int) -> int:
    seen = set()
    current = incident_id
    while current not in seen:
        seen.add(current)
        found = desk(app).incidents.get(current, session=session)
        into = None if found is None else found.merged_into
        if into is None:
            return current
        current = into
    return current


def proposal_dict(p: TallyProposal, incident=None) -> dict:
    data = {
        "id": p.id,
        "event_id": p.event_id,
        "incident_id": p.incident_id,
        "category": p.category,
        "item": p.item,
        "amount": p.amount,
        "state": p.state,
        "created_at": iso(p.created_at),
        "decided_by": p.decided_by,
        "decided_at": iso(p.decided_at),
        "decided_item": p.decided_item,
        "decided_amount": p.decided_amount,
        "reason": p.reason,
        "entry_id": p.entry_id,
    }
    if incident is not None:
        data["incident"] = {
            "id": incident.id,
            "status": incident.status,
            "place_name": incident.place_name,
            "description": incident.description,
            "people": incident.people,
            "occurred_at": iso(incident.occurred_at),
        }
    return data


def list_proposals(session, event_id: int, state: str | None = None) -> list[dict]:
    from flask import current_app

    query = select(TallyProposal).where(TallyProposal.event_id == event_id)
    if state:
        query = query.where(TallyProposal.state == state)
    rows = list(session.scalars(query.order_by(TallyProposal.id)))
    incidents = (
        {
            i.id: i
            for i in desk(current_app._get_current_object()).incidents.query(
                ids=[r.incident_id for r in rows], merged=None, session=session
            )
        }
        if rows
        else {}
    )
    return [proposal_dict(r, incidents.get(r.incident_id)) for r in rows]


def decide(
    app,
    proposal_id: int,
    action: str,
    *,
    item: str | None = None,
    amount=None,
    reason: str = "",
    actor: Actor | None = None,
) -> dict:
    """``accept`` (optionally with another item or amount) or ``reject`` a pending proposal.
    A proposal already decided is a 409: the first decision stands."""
    actor = actor or SYSTEM_ACTOR
    if action not in ("accept", "reject"):
        raise ReportError(_("The action must be accept or reject."), "action")
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise ReportError(_("At most %(max)s characters.", max=MAX_REASON), "reason")
    with app_context(app):
        catalogue = catalogue_for(app)
        with session_scope(get_storage(app)) as session:
            proposal = session.get(TallyProposal, proposal_id)
            if proposal is None:
                raise NotFound(_("No proposal %(id)s.", id=proposal_id), "proposal")
            get_event(session, proposal.event_id, open_only=True)
            chosen_item = item or proposal.item
            chosen_amount = proposal.amount if amount is None or amount == "" else amount
        try:
            target = catalogue.get(chosen_item)
            if not target.enterable or target.kind == "text":
                raise ItemError(target.path, _("%(path)s is not a number item.", path=target.path))
            chosen_amount = parse_value(target, chosen_amount)
        except ItemError as exc:
            raise ReportError(exc.message, "item" if item else "amount") from None
        edited = target.path != proposal.item or chosen_amount != proposal.amount
        for attempt in range(tally.RETRIES):
            try:
                with session_scope(get_storage(app)) as session:
                    _decide_in(
                        session,
                        app,
                        catalogue,
                        proposal,
                        action,
                        target,
                        chosen_amount,
                        reason,
                        edited,
                        actor,
                    )
                break
            except IntegrityError:
                if attempt == tally.RETRIES - 1:
                    raise
        with session_scope(get_storage(app)) as session:
            return list_proposals_by_id(session, proposal_id)


def _decide_in(session, app, catalogue, proposal, action, target, amount, reason, edited, actor):
    """Claim the proposal (pending → decided, a conditional update), audit it and, when it is
    accepted, add the amount to the tally: one transaction, so neither happens without the
    other."""
    moment = clock(app)
    proposal_id, event_id, incident_id = proposal.id, proposal.event_id, proposal.incident_id
    claimed = session.execute(
        update(TallyProposal)
        .where(TallyProposal.id == proposal_id, TallyProposal.state == "pending")
        .values(
            state="accepted" if action == "accept" else "rejected",
            decided_by=actor.username[:64],
            decided_at=moment,
            decided_item=target.path if action == "accept" else None,
            decided_amount=amount if action == "accept" else None,
            reason=reason,
        )
    ).rowcount
    if claimed != 1:
        state = session.scalar(select(TallyProposal.state).where(TallyProposal.id == proposal_id))
        raise Conflict(_("This proposal was already decided (%(state)s).", state=state), "proposal")
    audit.record(
        f"reports.proposal_{action}",
        app=APP,
        target=f"proposal:{proposal_id}",
        detail={
            "event_id": event_id,
            "incident_id": incident_id,
            "proposed": [proposal.item, proposal.amount],
            "decided": [target.path, amount] if action == "accept" else None,
            "edited": edited if action == "accept" else False,
            "reason": reason,
        },
        actor=actor,
        session=session,
    )
    if action != "accept" or Decimal(amount) == 0:
        return
    planned = [tally._Planned(target, amount, "confirmed")]
    source = tally.Source(
        "incidents", f"事案 #{incident_id}", incident_ids=(incident_id,), proposal_id=proposal_id
    )
    result = tally.write_in(session, app, event_id, planned, source, actor, True, catalogue)
    from disaster_ai.apps.reports.models import TallyEntry

    version = result["changed"][0]["version"]
    entry_id = session.scalar(
        select(TallyEntry.id).where(
            TallyEntry.event_id == event_id,
            TallyEntry.item == target.path,
            TallyEntry.version == version,
        )
    )
    session.execute(
        update(TallyProposal).where(TallyProposal.id == proposal_id).values(entry_id=entry_id)
    )


def list_proposals_by_id(session, proposal_id: int) -> dict:
    from flask import current_app

    proposal = session.get(TallyProposal, proposal_id)
    incident = desk(current_app._get_current_object()).incidents.get(
        proposal.incident_id, session=session
    )
    return proposal_dict(proposal, incident)
