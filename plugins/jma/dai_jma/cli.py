"""``disaster-ai jma …``: parse telegrams, take in a folder, show the state."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from disaster_ai.desk import current_desk

from . import NAME


@click.group("jma", help="JMA 防災情報XML: parse telegrams, take in a folder, show the state.")
def jma_group():
    pass


@jma_group.command("parse")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list, one object per file).")
def parse_command(files, as_json):
    """Parse telegrams: type, status, info type, report time and the municipal items with their
    警戒レベル相当. A file that is not a JMA telegram is reported on stderr and the others are
    still printed; the exit code is then 1."""
    from .parse import NotATelegram, parse_file

    results, failed = [], 0
    for name in files:
        try:
            results.append(parse_file(name).as_json())
        except NotATelegram as exc:
            failed += 1
            click.echo(f"{name}: not a JMA telegram: {exc}", err=True)
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for t in results:
            click.echo(
                f"{t['file']}  {t['type']}  {t['status']}  {t['info_type']}  {t['reported_at']}"
            )
            for item in t["items"]:
                kinds = "、".join(
                    f"{k['name']}({k['status']}"
                    + (f", 警戒レベル{k['level']}相当" if k["level"] else "")
                    + ")"
                    for k in item["kinds"]
                )
                click.echo(f"  {item['area_code']} {item['area_name']}: {kinds}")
    if failed:
        sys.exit(1)


@jma_group.command("ingest")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option(
    "--move", is_flag=True, help="Move files taken in to processed/, others to rejected/."
)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def ingest_command(folder, move, as_json):
    """Take in the telegrams (*.xml) of FOLDER: each is stored once, with its raw XML; the
    warnings in force and the suggestions follow. Exit code 1 when a file is not a telegram."""
    from .drop import ingest_folder

    try:
        results = ingest_folder(current_desk(NAME), folder, move=move)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for r in results:
            detail = r.get("error") or f"{r['type']} {r['status']} {r['info_type']} #{r['id']}"
            click.echo(f"{r['file']}: {r['result']} ({detail})")
    bad = [r for r in results if r["result"] == "error"]
    for r in bad:
        click.echo(f"{r['file']}: not a JMA telegram: {r['error']}", err=True)
    if bad:
        sys.exit(1)


@jma_group.command("status")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def status_command(as_json):
    """The feed state and the warnings in force for this municipality."""
    from .web import state

    data = state(current_desk(NAME))
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for f in data["feeds"]:
        flag = "  STALE" if f["stale"] else ""
        click.echo(
            f"{f['feed']}: {f['last_status']} at {f['last_polled_at']}, updated {f['feed_updated']}{flag}"
        )
    click.echo(f"telegrams: {data['telegrams']}, gaps: {data['gaps']}")
    for w in data["in_force"]:
        level = f"警戒レベル{w['level']}相当 " if w["level"] else ""
        click.echo(
            f"{level}{w['phenomenon']}: {w['name']} {w['area_name']} ({w['status']}, {w['reported_at']})"
        )
    if not data["in_force"]:
        click.echo("no JMA warnings in force")
