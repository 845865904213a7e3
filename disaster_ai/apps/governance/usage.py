"""Monthly AI usage (per app, user role and model) and the CSV export of the AI audit trail.

Both read only the audit log:

- ``ai.call`` rows are the model calls; ``detail.accepted == false`` marks an output the fact
  guard rejected;
- ``ai.review`` rows are the human decisions on an AI output (``detail.decision``:
  ``accepted`` or ``corrected``), each with the named person (the audit row's actor);
- ``egress.*`` rows of kind ``ai`` are outbound AI calls and refusals.

The CSV carries ids, codes, digests and times only: no transcript, prompt or output text and no
user name (the actor's id and role).
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select

from disaster_ai.storage.base import JST
from disaster_ai.storage.models import AuditEvent, User

REVIEW_ACTION = "ai.review"
MEASURES = ("calls", "accepted", "guard_rejected", "corrected")
CSV_COLUMNS = (
    "id",
    "at",
    "action",
    "app",
    "actor_id",
    "role",
    "target",
    "engine",
    "model",
    "feature",
    "decision",
    "guard_accepted",
    "data_class",
    "host",
    "reason",
    "input_sha256",
    "output_sha256",
    "duration_ms",
)


def _roles(session) -> tuple[dict[int, str], dict[str, str]]:
    by_id, by_name = {}, {}
    for user_id, username, role in session.execute(select(User.id, User.username, User.role)):
        by_id[user_id] = role
        by_name[username] = role
    return by_id, by_name


def _role(roles, actor_id, actor_name) -> str:
    by_id, by_name = roles
    return by_id.get(actor_id) or by_name.get(actor_name) or "system"


def _ai_rows(session, since: datetime | None = None, until: datetime | None = None):
    query = (
        select(AuditEvent)
        .where(
            or_(
                AuditEvent.action.in_(("ai.call", REVIEW_ACTION)),
                AuditEvent.action.startswith("egress."),
            )
        )
        .order_by(AuditEvent.id)
    )
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    for event in session.scalars(query).yield_per(500):
        if event.action.startswith("egress.") and (event.detail or {}).get("kind") != "ai":
            continue
        yield event


def monthly_usage(session, months: int = 12) -> list[dict]:
    """One row per month (Japan time), app, role and model, newest month first:
    ``calls``, ``accepted``, ``guard_rejected``, ``corrected``."""
    today = datetime.now(JST).date().replace(day=1)
    first = today
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    since = datetime.combine(first, time(), JST)
    roles = _roles(session)
    rows: dict[tuple, dict] = {}
    for event in _ai_rows(session, since):
        if event.action.startswith("egress."):
            continue
        detail = event.detail or {}
        model = event.ai_model or detail.get("model") or ""
        month = event.at.astimezone(JST).strftime("%Y-%m")
        role = _role(roles, event.actor_id, event.actor_name)
        key = (month, event.app or "core", role, model)
        row = rows.setdefault(
            key,
            {"month": month, "app": key[1], "role": role, "model": model}
            | dict.fromkeys(MEASURES, 0),
        )
        if event.action == "ai.call":
            row["calls"] += 1
            if detail.get("accepted") is False:
                row["guard_rejected"] += 1
        elif detail.get("decision") == "accepted":
            row["accepted"] += 1
        elif detail.get("decision") == "corrected":
            row["corrected"] += 1
    return sorted(
        rows.values(), key=lambda r: (r["month"], r["app"], r["role"], r["model"]), reverse=True
    )


def monthly_totals(rows: list[dict]) -> list[dict]:
    """The rows summed per month, oldest first (the chart)."""
    months: dict[str, dict] = {}
    for row in rows:
        total = months.setdefault(
            row["month"], {"month": row["month"]} | dict.fromkeys(MEASURES, 0)
        )
        for measure in MEASURES:
            total[measure] += row[measure]
    return [months[m] for m in sorted(months)]


def chart(rows: list[dict], width: int = 640, height: int = 220) -> dict:
    """Bar geometry of the monthly totals for the SVG chart: one group of four bars a month."""
    totals = monthly_totals(rows)
    peak = max([t[m] for t in totals for m in MEASURES] or [0]) or 1
    left, bottom, top = 40, 30, 10
    inner = height - bottom - top
    group = (width - left) / max(len(totals), 1)
    bar = max(min(group / (len(MEASURES) + 1), 28), 2)
    groups = []
    for index, total in enumerate(totals):
        x0 = left + index * group + bar / 2
        bars = []
        for j, measure in enumerate(MEASURES):
            h = inner * total[measure] / peak
            bars.append(
                {
                    "measure": measure,
                    "value": total[measure],
                    "x": round(x0 + j * bar, 1),
                    "y": round(top + inner - h, 1),
                    "w": round(bar - 1, 1),
                    "h": round(h, 1),
                }
            )
        groups.append({"month": total["month"], "x": round(x0, 1), "bars": bars})
    return {
        "width": width,
        "height": height,
        "peak": peak,
        "groups": groups,
        "baseline": height - bottom,
        "left": left,
        "top": top,
    }


def parse_day(text: str | None) -> date | None:
    if not text:
        return None
    return date.fromisoformat(text.strip())


def day_range(since: date, until: date) -> tuple[datetime, datetime]:
    """[since 00:00, until+1 00:00) in Japan time: both days are included."""
    return (
        datetime.combine(since, time(), JST),
        datetime.combine(until + timedelta(days=1), time(), JST),
    )


def _sha(value: str | None) -> str:
    if not value:
        return ""
    if value.startswith("sha256:"):
        return value.removeprefix("sha256:")
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def export_rows(session, since: date, until: date) -> list[dict]:
    """The AI audit entries of the days ``since`` … ``until`` (Japan time) as CSV rows."""
    start, end = day_range(since, until)
    roles = _roles(session)
    out = []
    for event in _ai_rows(session, start, end):
        detail = event.detail or {}
        accepted = detail.get("accepted")
        out.append(
            {
                "id": event.id,
                "at": event.at.astimezone(JST).isoformat(),
                "action": event.action,
                "app": event.app or "",
                "actor_id": "" if event.actor_id is None else event.actor_id,
                "role": _role(roles, event.actor_id, event.actor_name),
                "target": event.target or "",
                "engine": event.ai_engine or detail.get("engine") or "",
                "model": event.ai_model or detail.get("model") or "",
                "feature": detail.get("feature") or detail.get("purpose") or "",
                "decision": detail.get("decision") or "",
                "guard_accepted": "" if accepted is None else str(bool(accepted)).lower(),
                "data_class": detail.get("data_class") or "",
                "host": detail.get("host")
                or (event.target if event.action.startswith("egress.") else "")
                or "",
                "reason": detail.get("reason") or "",
                "input_sha256": event.input_digest or "",
                "output_sha256": _sha(event.output),
                "duration_ms": "" if event.duration_ms is None else event.duration_ms,
            }
        )
    return out


def export_csv(session, since: date, until: date) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(export_rows(session, since, until))
    return buffer.getvalue()
