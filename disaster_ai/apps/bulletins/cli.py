"""``disaster-ai bulletins …``: issue, list, export, tick, and manage events.

disaster-ai bulletins events --json
disaster-ai bulletins events open "令和8年台風第10号" [--hazard inland_flood] [--exercise]
disaster-ai bulletins events close 3
disaster-ai bulletins issue --event 3 --format pdf --out 第1報.pdf [--remark TEXT]
disaster-ai bulletins list [--event 3] --json
disaster-ai bulletins export 12 --format html --out bulletin.html
disaster-ai bulletins tick [--now 2026-09-05T12:00:00+09:00] --json
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from disaster_ai.apps.bulletins import service
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.types import Actor

FORMAT_CHOICES = click.Choice(["pdf", "html", "json", "text", "txt"])
CLI_ACTOR = Actor(None, "cli", frozenset({"admin"}), via="cli")


def _echo(data, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else text)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group("bulletins")
def bulletins_group():
    """Situation bulletins (被害状況 第N報): events, issuing, exports."""


@bulletins_group.group("events", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@with_appcontext
def events_group(ctx, as_json):
    """List disaster events (or open / close one)."""
    if ctx.invoked_subcommand is not None:
        return
    with session_scope(get_storage()) as session:
        rows = service.list_events(session)
    text = "\n".join(
        f"{r['id']:>4}  {'open  ' if r['open'] else 'closed'}  {r['bulletins']:>3} bulletins  {r['name']}"
        for r in rows
    )
    _echo(rows, as_json, text or "no disaster events")


@events_group.command("open")
@click.argument("name")
@click.option("--hazard", default=None, help="Situation hazard, e.g. inland_flood.")
@click.option("--exercise", is_flag=True, help="An exercise: 【訓練】 on every bulletin.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def events_open(name, hazard, exercise, as_json):
    """Open a disaster event, e.g. 「令和8年台風第10号」."""
    try:
        event = service.open_event(
            current_app._get_current_object(),
            name,
            hazard=hazard,
            exercise=exercise,
            actor=CLI_ACTOR,
        )
    except service.BulletinError as exc:
        raise _fail(exc) from None
    _echo(event, as_json, f"opened event {event['id']}: {event['name']}")


@events_group.command("close")
@click.argument("event_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def events_close(event_id, as_json):
    """Close a disaster event."""
    try:
        event = service.close_event(current_app._get_current_object(), event_id, actor=CLI_ACTOR)
    except service.BulletinError as exc:
        raise _fail(exc) from None
    _echo(event, as_json, f"closed event {event['id']}: {event['name']}")


@bulletins_group.command("issue")
@click.option("--event", "event_id", type=int, required=True, help="Disaster event id.")
@click.option("--format", "fmt", type=FORMAT_CHOICES, default="pdf", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--remark", default="", help="Free-text remark (特記事項).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def issue_command(event_id, fmt, out, remark, as_json):
    """Issue a bulletin now (in this process) and write it to --out."""
    app = current_app._get_current_object()
    try:
        result = service.issue_bulletin(
            app, event_id, trigger="manual", remark=remark, created_by="cli", actor=CLI_ACTOR
        )
    except service.BulletinError as exc:
        raise _fail(exc) from None
    path = _write(result.bulletin_id, fmt, out)
    _echo(
        {"bulletin_id": result.bulletin_id, "number": result.number, "out": str(path)},
        as_json,
        f"issued 第{result.number}報 (bulletin {result.bulletin_id}) → {path}",
    )


def _write(bulletin_id: int, fmt: str, out: Path) -> Path:
    with session_scope(get_storage()) as session:
        bulletin = service.get_bulletin(session, bulletin_id)
        body, _type, _name = service.render_bulletin(bulletin, fmt)
    out.write_bytes(body)
    return out


@bulletins_group.command("export")
@click.argument("bulletin_id", type=int)
@click.option("--format", "fmt", type=FORMAT_CHOICES, default="pdf", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@with_appcontext
def export_command(bulletin_id, fmt, out):
    """Write an issued bulletin in a format (rendered from its frozen snapshot)."""
    try:
        path = _write(bulletin_id, fmt, out)
    except service.BulletinError as exc:
        raise _fail(exc) from None
    click.echo(str(path))


@bulletins_group.command("list")
@click.option("--event", "event_id", type=int, default=None)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_command(event_id, as_json):
    """List bulletins, newest first, with delivery status."""
    try:
        with session_scope(get_storage()) as session:
            rows = service.list_bulletins(session, event_id)
    except service.BulletinError as exc:
        raise _fail(exc) from None
    text = "\n".join(
        f"{r['id']:>5}  {r['issued_at']}  {r['trigger']:<9}  {r['title']}"
        + "".join(f"  [{d['channel']}: {d['state']}]" for d in r["deliveries"])
        for r in rows
    )
    _echo(rows, as_json, text or "no bulletins")


@bulletins_group.command("tick")
@click.option("--now", "at", default=None, help="Evaluate as of this time (ISO 8601 with offset).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def tick_command(at, as_json):
    """Evaluate the schedules once, as the scheduler's bulletins.tick job does."""
    from disaster_ai.apps.bulletins.schedules import tick

    when = None
    if at:
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise click.BadParameter("give a UTC offset, e.g. +09:00", param_hint="--now")
    report = tick(current_app._get_current_object(), when)
    _echo(
        report,
        as_json,
        "\n".join(json.dumps(r, ensure_ascii=False) for r in report) or "nothing due",
    )
