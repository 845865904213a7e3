"""`disaster-ai situation`: the situation document (--json), the Japanese report (--text, the
default) and the static map (--png FILE)."""

from __future__ import annotations

import json
from datetime import datetime

import click
from flask.cli import with_appcontext

from disaster_ai.apps.situation.models import HAZARDS


def _aware(_ctx, _param, value):
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            "give ISO 8601 with an offset, e.g. 2025-09-05T09:00:00+09:00"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise click.BadParameter("add a UTC offset, e.g. +09:00")
    return parsed


@click.command("situation")
@click.option(
    "--hazard",
    type=click.Choice(HAZARDS),
    default=None,
    help="Active hazard (default: the SITUATION_HAZARD setting).",
)
@click.option(
    "--since",
    callback=_aware,
    default=None,
    help="Time of the last summary, e.g. 2025-09-05T09:00:00+09:00; later incidents count as new.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document.")
@click.option("--text", "as_text", is_flag=True, help="Print the Japanese report (the default).")
@click.option(
    "--png",
    "png",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Also write the static map to this PNG file.",
)
@with_appcontext
def situation_command(hazard, since, as_json, as_text, png):
    """Print the situation summary: --json for the document, --text for the Japanese report."""
    from disaster_ai.apps.situation import summary
    from disaster_ai.storage import get_storage, session_scope

    if as_json and as_text:
        raise click.UsageError("choose one of --json and --text")
    with session_scope(get_storage()) as session:
        result = summary.compute_situation(session, hazard, since)
    if png:
        summary.render_png(result, png)
    if as_json:
        click.echo(json.dumps(result.doc, ensure_ascii=False, indent=2))
    elif as_text or not png:
        click.echo(summary.render_text_ja(result.doc), nl=False)
    if png:
        click.echo(f"map written to {png}", err=True)
