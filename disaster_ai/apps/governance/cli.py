"""``disaster-ai ai …``: AI governance from the command line.

disaster-ai ai inventory [--json] [--no-hash]     every AI component; sha256 of the weights
disaster-ai ai risk-sheets [--format md|pdf] [--out FILE] [--lang ja|en]
disaster-ai ai usage [--months 12] [--json]       monthly usage per app, role and model
disaster-ai ai audit-export --since 2026-12-01 --until 2026-12-31 [--out FILE]
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import JST, now


def _app():
    return current_app._get_current_object()


@click.group("ai")
def ai_group():
    """AI governance: model inventory, risk sheets, usage and the AI audit export."""


@ai_group.command("inventory")
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--no-hash", is_flag=True, help="Do not hash weight files (show cached digests only)."
)
@with_appcontext
def inventory_command(as_json, no_hash):
    """List every AI component; hash its weight files (cached) unless --no-hash."""
    from disaster_ai.apps.governance.inventory import inventory

    rows = inventory(_app(), compute=not no_hash)
    if as_json:
        click.echo(json.dumps({"components": rows}, ensure_ascii=False, indent=2))
        return
    for row in rows:
        digest = row["digest"] or {}
        sha = digest.get("sha256") or ("missing" if digest.get("missing") else "-")
        state = "" if row["in_use"] else " (not in use)"
        click.echo(
            f"{row['id']}{state}\t{row['engine']}\t{row['model']}\t{row['runs_on']}\t"
            f"{','.join(row['data_classes'])}\t{sha}"
        )


@ai_group.command("risk-sheets")
@click.option("--format", "fmt", type=click.Choice(["md", "pdf"]), default="md")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", type=click.Choice(["ja", "en"]), default="ja")
@with_appcontext
def risk_sheets_command(fmt, out, lang):
    """The risk sheets side by side (Markdown or PDF); features without a sheet are flagged."""
    from flask import render_template

    from disaster_ai.apps.governance import risk

    app = _app()
    with app.test_request_context(headers={"Accept-Language": lang}):
        from flask_babel import force_locale

        with force_locale(lang):
            if fmt == "md":
                data = risk.markdown(app, lang).encode("utf-8")
            else:
                from disaster_ai.pdf import html_to_pdf

                html = render_template(
                    "governance/risk_print.html",
                    data=risk.overview(app),
                    viewpoints=risk.VIEWPOINTS,
                    locale=lang,
                    printed_at=now(),
                )
                data = html_to_pdf(html)
    missing = risk.overview(app)["missing"]
    if out:
        out.write_bytes(data)
        click.echo(str(out))
    elif fmt == "md":
        click.echo(data.decode("utf-8"))
    else:
        sys.stdout.buffer.write(data)
    if missing:
        click.echo(f"features without a risk sheet: {', '.join(missing)}", err=True)


@ai_group.command("usage")
@click.option("--months", type=click.IntRange(1, 120), default=12)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def usage_command(months, as_json):
    """Monthly AI calls, accepted, guard-rejected and corrected, per app, role and model."""
    from disaster_ai.apps.governance.usage import MEASURES, monthly_usage

    with session_scope(get_storage(_app())) as session:
        rows = monthly_usage(session, months)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo("\t".join(("month", "app", "role", "model", *MEASURES)))
    for r in rows:
        click.echo("\t".join(str(r[k]) for k in ("month", "app", "role", "model", *MEASURES)))


@ai_group.command("audit-export")
@click.option("--since", help="First day (YYYY-MM-DD, Japan time); default: 30 days ago.")
@click.option("--until", help="Last day, included; default: today.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def audit_export_command(since, until, out):
    """The AI audit entries of a date range as CSV: ids, codes, digests, no text."""
    from disaster_ai.apps.governance.usage import export_csv, parse_day

    try:
        last = parse_day(until) or now().astimezone(JST).date()
        first = parse_day(since) or last - timedelta(days=30)
    except ValueError as exc:
        raise click.BadParameter("give the days as YYYY-MM-DD") from exc
    if first > last:
        raise click.BadParameter("--since is after --until")
    with session_scope(get_storage(_app())) as session:
        body = export_csv(session, first, last)
    if out:
        out.write_text(body, encoding="utf-8")
        click.echo(str(out))
    else:
        click.echo(body, nl=False)
