"""`disaster-ai municipality show|set`, and the profile part of `disaster-ai init --municipality`.

disaster-ai init --municipality 232033            # 団体コード, JIS code (23203) or a name
disaster-ai init --municipality 美郷町 --prefecture 秋田県 --boundary N03.geojson
disaster-ai municipality show --json
disaster-ai municipality set --name-en "Misato Town" --jma-area-code 0543400
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from disaster_ai.municipality import profile, table


def _(message: str, **params) -> str:
    from flask_babel import gettext

    return gettext(message, **params)


def _echo(data, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else text)


def describe(data: dict | None) -> str:
    if data is None:
        return profile.missing_message()
    jma = data["jma_area_code"] or "—"
    if data.get("jma_area_code_derived"):
        jma += "  " + _("(derived: JIS code + 00; check it against JMA's list)")
    lines = [
        f"{data['full_name']}（{data['name_kana']}）{data['name_en']}",
        f"  団体コード {data['lg_code']}  JIS X 0402 {data['jis_code']}  {data['prefecture']}",
        f"  {_('JMA area code')}: {jma}",
        f"  {_('Outline')}: " + (_("loaded") if data["boundary"] else _("none")),
    ]
    return "\n".join(lines)


def lookup_or_fail(query: str, prefecture: str | None) -> table.Entry:
    try:
        return table.lookup(query, prefecture)
    except table.LookupProblem as exc:
        raise click.UsageError(exc.message) from None


def apply(session, *, query=None, prefecture=None, boundary=None, **fields) -> dict:
    """Set the profile from the table (query), then single fields, then the outline."""
    try:
        if query:
            profile.set_from_entry(session, lookup_or_fail(query, prefecture))
        if any(v is not None for v in fields.values()):
            profile.update(session, **fields)
        if boundary is not None:
            row = profile.require(session)
            geometry = profile.read_n03_outline(boundary, row.jis_code)
            profile.set_boundary(session, geometry, profile.N03_ATTRIBUTION)
    except profile.ProfileProblem as exc:
        raise click.BadParameter(
            exc.message, param_hint=f"--{exc.field.replace('_', '-')}"
        ) from None
    except profile.ProfileMissing as exc:
        raise click.UsageError(exc.message) from None
    return profile.profile_dict(profile.current(session))


@click.group("municipality")
def municipality_group():
    """The municipality this desk serves: name, reading, codes, JMA area code, outline."""


@municipality_group.command("show")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def show_command(as_json):
    """Show the profile (keys: name, name_kana, name_en, lg_code, jis_code, prefecture,
    jma_area_code, …). Exit code 1 when none is set."""
    from disaster_ai.storage import get_storage, session_scope

    with session_scope(get_storage()) as session:
        data = profile.profile_dict(profile.current(session))
    _echo(data, as_json, describe(data))
    if data is None:
        raise SystemExit(1)


@municipality_group.command("set")
@click.argument("query", required=False)
@click.option("--prefecture", help="With a name that several municipalities carry (美郷町).")
@click.option("--name", help="The name on public texts (e.g. 美郷町).")
@click.option("--name-kana", help="The reading, in katakana.")
@click.option("--name-en", help="The English name (e.g. Misato Town).")
@click.option("--jma-area-code", help="JMA 市町村等 code(s), 7 digits, comma-separated.")
@click.option(
    "--boundary",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A 国土数値情報 N03 file: the outline is the polygons of this municipality's code.",
)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def set_command(query, prefecture, name, name_kana, name_en, jma_area_code, boundary, as_json):
    """Set the profile from the national table (QUERY: 団体コード, JIS code or name), and/or
    change single fields. Audited."""
    from disaster_ai import audit
    from disaster_ai.storage import get_storage, session_scope
    from disaster_ai.types import SYSTEM_ACTOR

    with session_scope(get_storage()) as session:
        data = apply(
            session,
            query=query,
            prefecture=prefecture,
            boundary=boundary,
            name=name,
            name_kana=name_kana,
            name_en=name_en,
            jma_area_code=jma_area_code,
        )
        audit.record(
            "municipality.set",
            target=f"municipality:{data['jis_code']}",
            detail={k: data[k] for k in profile.PROFILE_KEYS},
            actor=SYSTEM_ACTOR,
            session=session,
        )
    _echo(data, as_json, describe(data))
