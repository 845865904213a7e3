"""``disaster-ai reports …``: the damage tally, reports (第N報), proposals and shelters.

disaster-ai reports items [--json]
disaster-ai reports tally --event 3 --set '住家被害.床上浸水.棟=12' --set '人的被害.死者=0' \
    --unconfirmed 人的被害.行方不明者 [--source phone --note '消防本部'] --json
disaster-ai reports tally --event 3 [--json]                       # the tally as it stands
disaster-ai reports history --event 3 --item 住家被害.床上浸水.棟 [--json]
disaster-ai reports issue --event 3 --format pdf|csv|xlsx --out 第1報.pdf [--reporter 防災太郎]
disaster-ai reports export 7 --format csv --out 第1報.csv
disaster-ai reports list --event 3 [--json]
disaster-ai reports proposals --event 3 [--json]
disaster-ai reports decide 12 --accept [--item 住家被害.床上浸水.棟 --amount 2] | --reject --reason 重複
disaster-ai reports shelters [--json]
disaster-ai reports shelter KEY --open --people 120 --households 45 --vulnerable 8 [--json]
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from disaster_ai.apps.reports import proposals, render, service, shelters, tally
from disaster_ai.apps.reports.common import ReportError, get_event
from disaster_ai.apps.reports.items import _, catalogue_for
from disaster_ai.apps.reports.models import SOURCES
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.types import Actor

CLI_ACTOR = Actor(None, "cli", frozenset({"admin"}), via="cli")
FORMAT_CHOICES = click.Choice(["pdf", "csv", "xlsx", "json", "txt", "text", "html"])


def _app():
    return current_app._get_current_object()


def _echo(data, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else text)


def _fail(exc: ReportError) -> click.ClickException:
    where = f" ({exc.field})" if exc.field and exc.field not in exc.message else ""
    return click.ClickException(exc.message + where)


@click.group("reports")
def reports_group():
    """Damage reports to the prefecture (第4号様式): tally, 第N報, shelters."""


@reports_group.command("items")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def items_command(as_json):
    """List the form's items: path, unit, kind, and how each is filled."""
    catalogue = catalogue_for(_app())
    rows = [
        {
            "path": i.path,
            "unit": i.unit,
            "kind": i.kind,
            "forms": list(i.forms),
            "sum": list(i.sum),
            "auto": i.auto or None,
            "enterable": i.enterable,
            "note": i.note,
            "origin": i.origin,
        }
        for i in catalogue.items
    ]
    text = "\n".join(
        f"{r['path']:<28} {r['unit']:<4} "
        + (
            "=" + "+".join(r["sum"])
            if r["sum"]
            else f"auto:{r['auto']}"
            if r["auto"]
            else r["kind"]
        )
        for r in rows
    )
    _echo(rows, as_json, text)


def _split_set(raw: str) -> tuple[str, str]:
    if "=" not in raw:
        raise click.BadParameter(
            _("Write ITEM=VALUE, e.g. 住家被害.床上浸水.棟=12."), param_hint="--set"
        )
    item, value = raw.split("=", 1)
    return item.strip(), value.strip()


def _tally_text(items: list[dict]) -> str:
    lines = []
    for item in items:
        lines.append(f"{item['path']:<30} {render.value_text(item)}")
    return "\n".join(lines)


@reports_group.command("tally")
@click.option("--event", "event_id", type=int, required=True, help="Disaster event id.")
@click.option("--set", "sets", multiple=True, metavar="ITEM=VALUE", help="Set an item (repeat).")
@click.option("--unconfirmed", multiple=True, metavar="ITEM", help="Mark an item 未確認 (repeat).")
@click.option("--source", type=click.Choice(SOURCES), default="desk", show_default=True)
@click.option("--note", default="", help="Where it came from, e.g. 消防本部 (free text).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def tally_command(event_id, sets, unconfirmed, source, note, as_json):
    """Set items of an event's tally (values or 未確認), or show it as it stands."""
    app = _app()
    changes = [tally.Change(*_split_set(raw)) for raw in sets]
    set_paths = {c.item for c in changes}
    changes = [tally.Change(c.item, c.value, c.item in unconfirmed) for c in changes] + [
        tally.Change(path, None, True) for path in unconfirmed if path not in set_paths
    ]
    result = {"changed": [], "unchanged": []}
    try:
        if changes:
            result = tally.set_items(
                app,
                event_id,
                changes,
                source=tally.Source(source, note),
                actor=CLI_ACTOR,
            )
        with session_scope(get_storage(app)) as session:
            event = get_event(session, event_id)
            items = service.live_tally(app, session, event_id)
            deadline = service.deadline_status(
                app, event, service.first_issued_at(session, event_id)
            )
    except ReportError as exc:
        raise _fail(exc) from None
    data = {
        "event_id": event_id,
        "changed": result["changed"],
        "unchanged": result["unchanged"],
        "deadline": deadline,
        "summary": tally.summary_counts(items),
        "items": items,
    }
    text = _tally_text(items)
    if changes:
        text = "\n".join(
            _("changed: %(path)s → %(value)s", path=c["path"], value=render.value_text(c))
            for c in result["changed"]
        ) or _("nothing changed")
    _echo(data, as_json, text)


@reports_group.command("history")
@click.option("--event", "event_id", type=int, required=True)
@click.option("--item", "path", required=True, help="The item's path.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def history_command(event_id, path, as_json):
    """Every version of one item, newest first (who, when, from where)."""
    app = _app()
    try:
        with session_scope(get_storage(app)) as session:
            get_event(session, event_id)
            rows = tally.history(session, event_id, path, catalogue_for(app))
    except ReportError as exc:
        raise _fail(exc) from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    text = "\n".join(
        f"v{r['version']} {r['entered_at']} {r['entered_by']} {r['source_ja']}"
        f" {render.value_text(r)} {r['source_note']}"
        for r in rows
    )
    _echo(rows, as_json, text or _("no entries"))


def _write(report_id: int, fmt: str, out: Path) -> Path:
    with session_scope(get_storage()) as session:
        report = service.get_report(session, report_id)
        body, _type, _name = service.render_report(report, fmt)
    out.write_bytes(body)
    return out


@reports_group.command("issue")
@click.option("--event", "event_id", type=int, required=True, help="Disaster event id.")
@click.option("--format", "fmt", type=FORMAT_CHOICES, default="pdf", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--reporter", default=None, help="報告者名 (default: REPORT_REPORTER).")
@click.option("--remark", default="", help="備考 (free text).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def issue_command(event_id, fmt, out, reporter, remark, as_json):
    """Issue the event's next report (第N報) and write it to --out."""
    app = _app()
    try:
        result = service.issue(app, event_id, reporter=reporter, remark=remark, actor=CLI_ACTOR)
    except ReportError as exc:
        raise _fail(exc) from None
    path = _write(result.report_id, fmt, out)
    _echo(
        {"report_id": result.report_id, "number": result.number, "out": str(path)},
        as_json,
        _(
            "issued 第%(number)s報 (report %(id)s) → %(path)s",
            number=result.number,
            id=result.report_id,
            path=str(path),
        ),
    )


@reports_group.command("export")
@click.argument("report_id", type=int)
@click.option("--format", "fmt", type=FORMAT_CHOICES, default="pdf", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@with_appcontext
def export_command(report_id, fmt, out):
    """Write an issued report in a format (rendered from its frozen snapshot)."""
    try:
        click.echo(str(_write(report_id, fmt, out)))
    except ReportError as exc:
        raise _fail(exc) from None


@reports_group.command("list")
@click.option("--event", "event_id", type=int, required=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_command(event_id, as_json):
    """The event's reports, newest first, with their deliveries."""
    try:
        with session_scope(get_storage()) as session:
            rows = service.list_reports(session, event_id)
    except ReportError as exc:
        raise _fail(exc) from None
    text = "\n".join(f"{r['id']:>5}  {r['issued_at']}  {r['title']}" for r in rows)
    _echo(rows, as_json, text or _("no reports"))


@reports_group.command("proposals")
@click.option("--event", "event_id", type=int, required=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def proposals_command(event_id, as_json):
    """Proposals from confirmed incidents (created now when missing)."""
    app = _app()
    try:
        proposals.sync(app, event_id)
        with session_scope(get_storage(app)) as session:
            rows = proposals.list_proposals(session, event_id)
    except ReportError as exc:
        raise _fail(exc) from None
    text = "\n".join(
        f"{p['id']:>4} #{p['incident_id']:<5} {p['state']:<9} {p['item']} +{p['amount']}"
        for p in rows
    )
    _echo(rows, as_json, text or _("no proposals"))


@reports_group.command("decide")
@click.argument("proposal_id", type=int)
@click.option("--accept", "action", flag_value="accept", help="Add it to the tally.")
@click.option("--reject", "action", flag_value="reject", help="Leave the tally as it is.")
@click.option("--item", default=None, help="Another item than the proposed one.")
@click.option("--amount", default=None, help="Another amount than the proposed one.")
@click.option("--reason", default="")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def decide_command(proposal_id, action, item, amount, reason, as_json):
    """Accept (as proposed or edited) or reject a proposal."""
    if action is None:
        raise click.UsageError(_("Give --accept or --reject."))
    try:
        row = proposals.decide(
            _app(), proposal_id, action, item=item, amount=amount, reason=reason, actor=CLI_ACTOR
        )
    except ReportError as exc:
        raise _fail(exc) from None
    _echo(
        row,
        as_json,
        f"{row['id']} {row['state']} {row['decided_item'] or ''} {row['decided_amount'] or ''}",
    )


@reports_group.command("shelters")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def shelters_command(as_json):
    """Shelters with their state and evacuees (人数, 世帯, 要配慮者)."""
    app = _app()
    with session_scope(get_storage(app)) as session:
        listing = shelters.listing(app, session)
    text = "\n".join(
        f"{s['key']:<20} {'開設' if s['is_open'] else '閉鎖'} {s['people']:>6}人 "
        f"{'-' if s['households'] is None else s['households']:>5}世帯 "
        f"{'-' if s['vulnerable'] is None else s['vulnerable']:>4}要配慮 {s['name']}"
        for s in listing["shelters"]
    )
    _echo(listing, as_json, text or _("no shelter layer"))


@reports_group.command("shelter")
@click.argument("key")
@click.option("--open/--closed", "is_open", required=True)
@click.option("--people", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--households", type=click.IntRange(min=0), default=None)
@click.option("--vulnerable", type=click.IntRange(min=0), default=None)
@click.option("--note", default="")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def shelter_command(key, is_open, people, households, vulnerable, note, as_json):
    """Open or close a shelter and record its evacuees."""
    try:
        row = shelters.record(
            _app(),
            key,
            shelters.Recording(is_open, people, households, vulnerable, note),
            actor=CLI_ACTOR,
        )
    except ReportError as exc:
        raise _fail(exc) from None
    _echo(row, as_json, f"{row['name']}: {'開設' if row['is_open'] else '閉鎖'} {row['people']}人")
