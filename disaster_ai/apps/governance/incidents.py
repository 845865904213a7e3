"""AI incident reports: what happened, which output, the impact, the action taken, linked to
audit entries (for example a wrong triage that delayed a rescue, or a storm of guard
rejections). Every create and change is audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from disaster_ai import audit
from disaster_ai.apps.governance.models import INCIDENT_SEVERITIES, INCIDENT_STATES, AIIncident
from disaster_ai.storage.base import JST, now
from disaster_ai.storage.models import AuditEvent
from disaster_ai.types import Actor

APP = "governance"
TEXT_FIELDS = ("what_happened", "output", "impact", "action_taken")
MAX_TEXT = 5000
MAX_AUDIT_IDS = 200


class IncidentError(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__(", ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def parse_audit_ids(text) -> list[int]:
    """'12, 15 20' or a list → [12, 15, 20] (unique, in order)."""
    if isinstance(text, list | tuple):
        parts = [str(p) for p in text]
    else:
        parts = str(text or "").replace(",", " ").replace("、", " ").split()
    ids = []
    for part in parts:
        if not part.strip().isdigit():
            raise IncidentError({"audit_ids": "not_a_number"})
        value = int(part)
        if value not in ids:
            ids.append(value)
    if len(ids) > MAX_AUDIT_IDS:
        raise IncidentError({"audit_ids": "too_many"})
    return ids


def _clean(session: Session, values: dict) -> dict:
    problems = {}
    title = str(values.get("title") or "").strip()
    if not title:
        problems["title"] = "required"
    elif len(title) > 200:
        problems["title"] = "too_long"
    if not str(values.get("what_happened") or "").strip():
        problems["what_happened"] = "required"
    for name in TEXT_FIELDS:
        if len(str(values.get(name) or "")) > MAX_TEXT:
            problems[name] = "too_long"
    severity = values.get("severity") or "medium"
    if severity not in INCIDENT_SEVERITIES:
        problems["severity"] = "invalid"
    status = values.get("status") or "open"
    if status not in INCIDENT_STATES:
        problems["status"] = "invalid"
    occurred = values.get("occurred_at")
    occurred_at = now()
    if occurred:
        try:
            occurred_at = datetime.fromisoformat(str(occurred).strip())
        except ValueError:
            problems["occurred_at"] = "invalid"
        else:
            if occurred_at.tzinfo is None:
                occurred_at = occurred_at.replace(tzinfo=JST)
    try:
        audit_ids = parse_audit_ids(values.get("audit_ids"))
    except IncidentError as exc:
        problems.update(exc.fields)
        audit_ids = []
    if audit_ids and not problems:
        known = set(session.scalars(select(AuditEvent.id).where(AuditEvent.id.in_(audit_ids))))
        if set(audit_ids) - known:
            problems["audit_ids"] = "unknown"
    if problems:
        raise IncidentError(problems)
    return {
        "title": title,
        "occurred_at": occurred_at,
        "feature": str(values.get("feature") or "").strip()[:64],
        "severity": severity,
        "status": status,
        "audit_ids": audit_ids,
        **{name: str(values.get(name) or "").strip() for name in TEXT_FIELDS},
    }


def create(session: Session, values: dict, actor: Actor) -> AIIncident:
    clean = _clean(session, values)
    incident = AIIncident(**clean, reported_by=actor.username)
    session.add(incident)
    session.flush()
    audit.record(
        "governance.ai_incident",
        app=APP,
        target=f"ai_incident:{incident.id}",
        detail={
            "severity": incident.severity,
            "feature": incident.feature,
            "audit_ids": incident.audit_ids,
        },
        actor=actor,
        session=session,
    )
    return incident


def update(session: Session, incident_id: int, values: dict, actor: Actor) -> AIIncident:
    incident = get(session, incident_id)
    clean = _clean(session, values)
    for name, value in clean.items():
        setattr(incident, name, value)
    incident.updated_by = actor.username
    incident.updated_at = now()
    incident.version += 1
    audit.record(
        "governance.ai_incident_update",
        app=APP,
        target=f"ai_incident:{incident.id}",
        detail={
            "status": incident.status,
            "version": incident.version,
            "audit_ids": incident.audit_ids,
        },
        actor=actor,
        session=session,
    )
    return incident


def get(session: Session, incident_id: int) -> AIIncident:
    incident = session.get(AIIncident, incident_id)
    if incident is None:
        raise LookupError(incident_id)
    return incident


def list_incidents(session: Session, limit: int = 200) -> list[AIIncident]:
    return list(
        session.scalars(select(AIIncident).order_by(AIIncident.occurred_at.desc()).limit(limit))
    )


def linked_entries(session: Session, incident: AIIncident) -> list[dict]:
    """The linked audit entries, without their output text (ids, codes, digests)."""
    if not incident.audit_ids:
        return []
    rows = session.scalars(
        select(AuditEvent).where(AuditEvent.id.in_(incident.audit_ids)).order_by(AuditEvent.id)
    )
    return [
        {
            "id": e.id,
            "at": e.at.astimezone(JST),
            "action": e.action,
            "app": e.app or "",
            "actor_id": e.actor_id,
            "target": e.target or "",
            "model": e.ai_model or (e.detail or {}).get("model") or "",
            "accepted": (e.detail or {}).get("accepted"),
            "decision": (e.detail or {}).get("decision") or "",
        }
        for e in rows
    ]
