"""Issuing damage reports (第N報 per event) from a frozen snapshot, the first-report deadline,
deliveries by e-mail (the bulletins' delivery providers), and reading reports back.

The snapshot holds everything rendering needs (render.py reads nothing else): the tally with
every item's value or 未確認 and its source, the notices in force and the shelters, the
municipality, the reporter and the previous report's figures. Report N therefore renders to the
same CSV and the same PDF text after the live tally has moved on.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from disaster_ai import audit
from disaster_ai.apps.reports import render, shelters, tally
from disaster_ai.apps.reports.common import (
    APP,
    NotFound,
    ReportError,
    app_context,
    clock,
    desk,
    get_event,
    iso,
)
from disaster_ai.apps.reports.items import _, catalogue_for
from disaster_ai.apps.reports.models import DamageReport, DamageReportDelivery
from disaster_ai.jobs.service import JobGiveUp
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.types import SYSTEM_ACTOR, Actor

log = logging.getLogger(__name__)

SCHEMA = "disaster-ai/damage-report/1"
DELIVER_JOB = "reports.deliver"
MAX_REPORTER = 128
MAX_REMARK = 2000
NUMBER_RETRIES = 20


@dataclass(frozen=True)
class IssueResult:
    report_id: int
    number: int


# --- the first report's deadline ---------------------------------------------------------------


def deadline_status(app, event, first_issued_at: datetime | None, now: datetime | None = None):
    """The desk's countdown: the first report is due REPORT_FIRST_DEADLINE_MINUTES (30) after
    the event was opened (覚知)."""
    minutes = int(app.config["REPORT_FIRST_DEADLINE_MINUTES"])
    now = now or clock(app)
    deadline = event.opened_at + timedelta(minutes=minutes)
    data = {
        "opened_at": iso(event.opened_at),
        "deadline": iso(deadline),
        "minutes": minutes,
        "first_issued_at": iso(first_issued_at),
        "seconds_left": None,
        "overdue": False,
        "met": None,
        "minutes_to_first": None,
    }
    if first_issued_at is None:
        data["seconds_left"] = int((deadline - now).total_seconds())
        data["overdue"] = now > deadline
    else:
        data["met"] = first_issued_at <= deadline
        data["minutes_to_first"] = round(
            (first_issued_at - event.opened_at).total_seconds() / 60, 1
        )
    return data


def first_issued_at(session, event_id: int) -> datetime | None:
    return session.scalar(
        select(DamageReport.issued_at).where(
            DamageReport.event_id == event_id, DamageReport.number == 1
        )
    )


# --- the snapshot --------------------------------------------------------------------------


def _municipality(app, session) -> dict:
    from disaster_ai.municipality import profile

    row = profile.current(session)
    name = app.config.get("MUNICIPALITY_NAME") or (row.name if row is not None else "") or ""
    return {
        "name": name,
        "prefecture": row.prefecture if row is not None else "",
        "jis_code": row.jis_code if row is not None else "",
    }


def _notices(app, now: datetime) -> dict:
    part = desk(app).notices.in_force(now)
    return {
        "status": part["status"],
        "items": [
            {
                "level": n["level"],
                "name": n["name"],
                "district_name": n["district_name"],
                "hazard_name": n["hazard_name"],
                "issued_at": n["issued_at"],
            }
            for n in part["items"]
        ],
    }


def _shelters(app, session) -> dict:
    try:
        listing = shelters.listing(app, session)
    except Exception as exc:  # no situation layers: the report says 未確認
        log.exception("shelters unavailable for the report")
        return {"available": False, "error": str(exc)[:300], "open": [], "totals": None}
    opened = [s for s in listing["shelters"] if s["is_open"]]
    return {
        "available": listing["version"] is not None,
        "open": [
            {
                "key": s["key"],
                "name": s["name"],
                "people": s["people"],
                "households": s["households"],
                "vulnerable": s["vulnerable"],
                "recorded_at": s["recorded_at"] or s["updated_at"],
            }
            for s in opened
        ],
        "totals": shelters.totals(listing["shelters"]),
    }


def auto_values(notices: dict, shelter_part: dict) -> dict:
    """The ``auto`` items' values (number of districts per notice level; shelter totals)."""
    values = {}
    recorded = notices["status"] != "none_recorded"
    for level in (5, 4, 3):
        districts = {n["district_name"] for n in notices["items"] if n["level"] == level}
        values[f"notices.{level}"] = _auto(len(districts) if recorded else None, recorded)
    totals = shelter_part.get("totals")
    ok = bool(shelter_part.get("available")) and totals is not None
    values["shelters.open"] = _auto(totals["open"] if ok else None, ok)
    values["shelters.people"] = _auto(totals["people"] if ok else None, ok)
    for name in ("households", "vulnerable"):
        part = totals[name] if ok else {"value": None, "complete": False}
        values[f"shelters.{name}"] = _auto(part["value"], ok and part["complete"])
    return values


def _auto(number, confirmed: bool) -> dict:
    state = "confirmed" if confirmed and number is not None else "unconfirmed"
    return {
        "value": None if number is None else str(number),
        "number": number,
        "state": state,
        "state_ja": {"confirmed": "確定", "unconfirmed": "未確認"}[state],
        "entered": number is not None,
        "source": "auto",
    }


def live_tally(app, session, event_id: int) -> list[dict]:
    """The tally as a report issued now would print it (auto items included)."""
    now = clock(app)
    return tally.current_tally(
        session,
        event_id,
        catalogue_for(app),
        auto_values(_notices(app, now), _shelters(app, session)),
    )


def take_snapshot(app, session, event, now: datetime, reporter: str, remark: str) -> dict:
    catalogue = catalogue_for(app)
    notices = _notices(app, now)
    shelter_part = _shelters(app, session)
    items = tally.current_tally(session, event.id, catalogue, auto_values(notices, shelter_part))
    previous = session.scalars(
        select(DamageReport)
        .where(DamageReport.event_id == event.id)
        .order_by(DamageReport.number.desc())
        .limit(1)
    ).first()
    before = {}
    if previous is not None:
        before = {i["path"]: i for i in previous.snapshot["items"]}
    for item in items:
        old = before.get(item["path"])
        item["previous"] = None if old is None else {"value": old["value"], "state": old["state"]}
        item["changed"] = old is not None and (old["value"], old["state"]) != (
            item["value"],
            item["state"],
        )
    first = first_issued_at(session, event.id)
    return {
        "schema": SCHEMA,
        "report": {
            "number": None,
            "issued_at": iso(now),
            "reporter": reporter,
            "remark": remark,
            "previous": None
            if previous is None
            else {"number": previous.number, "issued_at": iso(previous.issued_at)},
        },
        "event": {
            "id": event.id,
            "name": event.name,
            "hazard": event.hazard,
            "exercise": event.exercise,
            "opened_at": iso(event.opened_at),
        },
        "municipality": _municipality(app, session),
        "deadline": deadline_status(app, event, first or now, now),
        "items": items,
        "notices": notices,
        "shelters": shelter_part,
    }


# --- issuing -------------------------------------------------------------------------------


def reporter_for(app, actor: Actor | None, reporter: str | None) -> str:
    """The 報告者名: as given, else the user's display name, else REPORT_REPORTER."""
    reporter = (reporter or "").strip()
    if reporter:
        return reporter
    if actor is not None and actor.id is not None:
        from disaster_ai.storage.models import User

        with session_scope(get_storage(app)) as session:
            user = session.get(User, actor.id)
            if user is not None and (user.display_name or "").strip():
                return user.display_name.strip()
    return (app.config.get("REPORT_REPORTER") or "").strip()


def issue(
    app,
    event_id: int,
    *,
    reporter: str | None = None,
    remark: str = "",
    actor: Actor | None = None,
) -> IssueResult:
    """Take the snapshot and insert report N+1 of the event; queue its deliveries."""
    actor = actor or SYSTEM_ACTOR
    remark = (remark or "").strip()
    if len(remark) > MAX_REMARK:
        raise ReportError(_("At most %(max)s characters.", max=MAX_REMARK), "remark")
    with app_context(app):
        reporter = reporter_for(app, actor, reporter)
        if len(reporter) > MAX_REPORTER:
            raise ReportError(_("At most %(max)s characters.", max=MAX_REPORTER), "reporter")
        for attempt in range(NUMBER_RETRIES):
            try:
                result, delivery_ids = _insert(app, event_id, reporter, remark, actor)
                break
            except (IntegrityError, OperationalError) as exc:
                if isinstance(exc, OperationalError) and "locked" not in str(exc).lower():
                    raise
                log.info("report number of event %s taken concurrently; retrying", event_id)
                time.sleep(random.uniform(0, 0.05 * (attempt + 1)))
        else:
            raise ReportError(_("The tally is busy; try again."), "event")
        for delivery_id in delivery_ids:
            _enqueue_delivery(app, delivery_id)
        return result


def _insert(app, event_id, reporter, remark, actor) -> tuple[IssueResult, list[int]]:
    now = clock(app)
    with session_scope(get_storage(app)) as session:
        event = get_event(session, event_id, open_only=True)
        snap = take_snapshot(app, session, event, now, reporter, remark)
        number = (
            session.scalar(
                select(func.max(DamageReport.number)).where(DamageReport.event_id == event_id)
            )
            or 0
        ) + 1
        snap["report"]["number"] = number
        snap["report"]["title"] = render.title_of(snap)
        if number > 1:
            snap["deadline"] = deadline_status(app, event, first_issued_at(session, event_id), now)
        report = DamageReport(
            event_id=event_id,
            number=number,
            issued_at=now,
            issued_by=actor.username[:64],
            reporter=reporter,
            snapshot=snap,
        )
        session.add(report)
        session.flush()
        deliveries = [
            DamageReportDelivery(
                report_id=report.id,
                channel=t["channel"],
                target=t["target"],
                created_at=now,
                updated_at=now,
            )
            for t in delivery_targets(app)
        ]
        session.add_all(deliveries)
        counts = tally.summary_counts(snap["items"])
        audit.record(
            "reports.issue",
            app=APP,
            target=f"report:{report.id}",
            detail={
                "event_id": event_id,
                "number": number,
                "reporter": reporter,
                "deliveries": len(deliveries),
                "unconfirmed": counts["unconfirmed"] + counts["not_entered"],
                "minutes_from_opening": round((now - event.opened_at).total_seconds() / 60, 1),
            },
            actor=actor,
            session=session,
        )
        session.flush()
        return IssueResult(report.id, number), [d.id for d in deliveries]


# --- reading -------------------------------------------------------------------------------


def report_dict(report: DamageReport, deliveries: list | None = None) -> dict:
    data = {
        "id": report.id,
        "event_id": report.event_id,
        "number": report.number,
        "title": report.snapshot["report"]["title"],
        "issued_at": iso(report.issued_at),
        "issued_by": report.issued_by,
        "reporter": report.reporter,
        "formats": {fmt: f"/api/v1/reports/{report.id}.{fmt}" for fmt in render.FORMATS},
    }
    if deliveries is not None:
        data["deliveries"] = [delivery_dict(d) for d in deliveries]
    return data


def delivery_dict(delivery: DamageReportDelivery) -> dict:
    return {
        "id": delivery.id,
        "channel": delivery.channel,
        "target": delivery.target,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "delivered_at": iso(delivery.delivered_at),
    }


def list_reports(session, event_id: int) -> list[dict]:
    get_event(session, event_id)
    reports = list(
        session.scalars(
            select(DamageReport)
            .where(DamageReport.event_id == event_id)
            .order_by(DamageReport.number.desc())
        )
    )
    by_report: dict[int, list] = {r.id: [] for r in reports}
    if reports:
        for d in session.scalars(
            select(DamageReportDelivery)
            .where(DamageReportDelivery.report_id.in_(list(by_report)))
            .order_by(DamageReportDelivery.id)
        ):
            by_report[d.report_id].append(d)
    return [report_dict(r, by_report[r.id]) for r in reports]


def get_report(session, report_id: int) -> DamageReport:
    report = session.get(DamageReport, report_id)
    if report is None:
        raise NotFound(_("No report %(id)s.", id=report_id), "report")
    return report


def render_report(report: DamageReport, fmt: str) -> tuple[bytes, str, str]:
    """(body, content type, file name) of a stored report."""
    fmt = render.normalise_format(fmt)
    snap = report.snapshot
    renderers = {
        "pdf": render.render_pdf,
        "csv": render.render_csv,
        "xlsx": render.render_xlsx,
        "json": render.render_json,
        "txt": lambda s: render.render_text(s).encode(),
        "html": lambda s: render.render_html(s).encode(),
    }
    return renderers[fmt](snap), render.FORMATS[fmt], render.filename_of(snap, fmt)


# --- deliveries ----------------------------------------------------------------------------


def delivery_targets(app) -> list[dict]:
    targets = []
    for entry in app.config.get("REPORT_DELIVERY_TARGETS") or []:
        if not isinstance(entry, dict) or not entry.get("channel") or not entry.get("target"):
            log.error("REPORT_DELIVERY_TARGETS entry ignored (needs channel and target): %r", entry)
            continue
        targets.append(entry)
    return targets


def _enqueue_delivery(app, delivery_id: int) -> None:
    from disaster_ai.jobs import enqueue

    try:
        job_id = enqueue(DELIVER_JOB, {"delivery_id": delivery_id}, app=app)
    except Exception:
        log.exception("could not queue report delivery %s", delivery_id)
        return
    with session_scope(get_storage(app)) as session:
        session.execute(
            update(DamageReportDelivery)
            .where(DamageReportDelivery.id == delivery_id)
            .values(job_id=job_id)
        )


def payload_for(report: DamageReport):
    """The report as the bulletins' delivery providers take it (``dai_deliver_bulletin``): the
    text as the body, the PDF attached."""
    from disaster_ai.types import BulletinPayload

    snap = report.snapshot
    return BulletinPayload(
        id=report.id,
        event_id=report.event_id,
        number=report.number,
        event_name=snap["event"]["name"],
        issued_at=snap["report"]["issued_at"],
        title=snap["report"]["title"],
        text=render.render_text(snap),
        html=render.render_html(snap),
        document=snap,
        pdf=render.render_pdf(snap),
        pdf_filename=render.filename_of(snap, "pdf"),
    )


def deliver_job(ctx) -> dict:
    """``reports.deliver``: one report to one target through ``dai_deliver_bulletin`` (SMTP
    with the PDF attached by default; the egress policy applies)."""
    from disaster_ai.types import DeliveryChannel

    app, delivery_id = ctx.app, int(ctx.payload["delivery_id"])
    storage = get_storage(app)
    with app_context(app):
        with session_scope(storage) as session:
            delivery = session.get(DamageReportDelivery, delivery_id)
            if delivery is None:
                raise JobGiveUp(f"no report delivery {delivery_id}")
            if delivery.state == "delivered":
                return {"delivery_id": delivery_id, "state": "delivered", "already": True}
            report = session.get(DamageReport, delivery.report_id)
            options = next(
                (
                    {k: v for k, v in t.items() if k not in ("channel", "target")}
                    for t in delivery_targets(app)
                    if t["channel"] == delivery.channel and t["target"] == delivery.target
                ),
                {},
            )
            channel = DeliveryChannel(delivery.channel, delivery.target, options)
            payload = payload_for(report)
        max_attempts = int(app.config["REPORT_DELIVERY_MAX_ATTEMPTS"])
        pm = app.extensions["disaster_ai"]
        try:
            result = pm.hook.dai_deliver_bulletin(bulletin=payload, channel=channel)
            if result is None:
                raise RuntimeError(f"no plugin delivers the channel {channel.kind!r}")
            if not result.ok:
                raise RuntimeError(result.detail or "the provider reported a failure")
        except Exception as exc:
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:1000]
            final = ctx.attempt >= max_attempts
            with session_scope(storage) as session:
                row = session.get(DamageReportDelivery, delivery_id)
                row.attempts += 1
                row.last_error = error
                row.state = "failed" if final else "retrying"
                row.updated_at = clock(app)
                audit.record(
                    "reports.delivery_failed",
                    app=APP,
                    target=f"report_delivery:{delivery_id}",
                    detail={
                        "report_id": payload.id,
                        "channel": channel.kind,
                        "target": channel.target,
                        "attempt": ctx.attempt,
                        "final": final,
                        "error": error[:500],
                    },
                    actor=SYSTEM_ACTOR,
                    session=session,
                )
            if final:
                raise JobGiveUp(error) from exc
            raise
        with session_scope(storage) as session:
            row = session.get(DamageReportDelivery, delivery_id)
            row.attempts += 1
            row.state, row.last_error = "delivered", None
            row.delivered_at = row.updated_at = clock(app)
            audit.record(
                "reports.delivered",
                app=APP,
                target=f"report_delivery:{delivery_id}",
                detail={
                    "report_id": payload.id,
                    "number": payload.number,
                    "channel": channel.kind,
                    "target": channel.target,
                    "host": result.host,
                    "external": result.external,
                },
                actor=SYSTEM_ACTOR,
                session=session,
            )
        return {"delivery_id": delivery_id, "state": "delivered", "host": result.host}
