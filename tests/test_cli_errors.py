"""Operator errors on the command line: a database that is not initialised, not migrated or not
reachable, and a model that is not in place, end any command (core or plugin) with one Japanese
sentence that names the command to run, exit code 2, and no traceback (cli.DeskGroup)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from disaster_ai.cli import build_cli
from disaster_ai.config import REPO_ROOT

NOT_INITIALISED = "データベースが初期化されていません。`disaster-ai init` を実行してください。"
NOT_UP_TO_DATE = "データベースが最新の状態ではありません"
SQLITE = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)

# Commands of the core and of several apps that read the database.
COMMANDS = [
    ["bulletins", "events", "--json"],
    ["users", "list", "--json"],
    ["situation", "--json"],
    ["notices", "list", "--json"],
    ["geo", "layers", "--json"],
    ["run", "--no-scheduler", "--no-worker"],
]


def invoke(app, args):
    info = ScriptInfo(create_app=lambda: app, load_dotenv_defaults=False)
    return CliRunner().invoke(build_cli(app), args, obj=info, catch_exceptions=False)


def _known(app, args) -> bool:
    cli = build_cli(app)
    return cli.get_command(click.Context(cli, obj=ScriptInfo(create_app=lambda: app)), args[0])


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_commands_before_init_say_to_run_init(make_app, args):
    app = make_app(migrate=False)
    if not _known(app, args):
        pytest.fail(f"no command {args[0]!r}: update COMMANDS")
    result = invoke(app, args)
    assert result.exit_code == 2, result.output
    assert NOT_INITIALISED in result.output
    assert "Traceback" not in result.output and "sqlalchemy" not in result.output.lower()


@SQLITE
def test_an_unmigrated_database_says_to_run_init(make_app):
    from alembic import command
    from alembic.script import ScriptDirectory

    from disaster_ai.storage import get_storage

    app = make_app(migrate=False)
    storage = get_storage(app)
    config = storage.alembic_config()
    first = list(ScriptDirectory.from_config(config).walk_revisions())[-1].revision
    command.upgrade(config, first)
    for args in (["bulletins", "events", "--json"], ["run", "--no-scheduler"]):
        result = invoke(app, args)
        assert result.exit_code == 2, result.output
        assert NOT_UP_TO_DATE in result.output and "`disaster-ai init`" in result.output
        assert first in result.output and "Traceback" not in result.output
    # init migrates it, and the same command then works
    assert invoke(app, ["init"]).exit_code == 0
    result = invoke(app, ["bulletins", "events", "--json"])
    assert result.exit_code == 0 and json.loads(result.output) == []


@SQLITE
def test_an_unreachable_database_names_the_setting(make_app, tmp_path):
    app = make_app(migrate=False, DATABASE_URL=f"sqlite:///{tmp_path}/no/such/folder/x.sqlite3")
    result = invoke(app, ["users", "list"])
    assert result.exit_code == 2
    assert "接続できません" in result.output and "DISASTER_AI_DATABASE_URL" in result.output
    assert "Traceback" not in result.output


def test_the_console_script_before_init(tmp_path):
    env = {
        **os.environ,
        "DISASTER_AI_INSTANCE_PATH": str(tmp_path),
        "DISASTER_AI_LOAD_ENTRY_POINTS": "false",
    }
    env.pop("DISASTER_AI_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "disaster_ai.cli", "bulletins", "events", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == NOT_INITIALISED
    assert result.stdout == ""


@SQLITE
def test_a_real_bug_keeps_its_traceback(app, runner):
    from sqlalchemy import text

    from disaster_ai.storage import get_storage, session_scope

    @runner.cli.command("broken-sql")
    def broken_sql():
        with session_scope(get_storage(app)) as session:
            session.execute(text("SELECT no_such_column FROM users"))

    @runner.cli.command("broken")
    def broken():
        raise ValueError("a bug")

    # the database is fine, so these are not the operator's to fix: nothing is hidden
    from sqlalchemy.exc import OperationalError

    with pytest.raises(OperationalError):
        runner.invoke(["broken-sql"])
    with pytest.raises(ValueError, match="a bug"):
        runner.invoke(["broken"])


@SQLITE
@pytest.mark.parametrize(
    ("engine", "command"),
    [
        ("faster-whisper", "disaster-ai models assemble"),
        ("openai-whisper", "disaster-ai models convert-whisper"),
        ("transformers", "disaster-ai models convert-whisper"),
    ],
)
def test_a_missing_model_names_the_command_that_makes_it(app, runner, engine, command):
    from pathlib import Path

    from sqlalchemy import func, select

    from disaster_ai.apps.transcription.models import CallRecording
    from disaster_ai.storage import get_storage, session_scope

    app.config["TRANSCRIPTION_ENGINE"] = engine
    clip = Path(REPO_ROOT) / "sample_data" / "calls" / "audio" / "d03.wav"
    result = runner.invoke(["transcribe", str(clip), "--json"])
    assert result.exit_code == 2, result.output
    assert f"`{command}` を実行してください。" in result.output
    assert "モデル" in result.output and "Traceback" not in result.output
    with session_scope(get_storage(app)) as session:  # nothing stored for a run that cannot be
        assert session.scalar(select(func.count()).select_from(CallRecording)) == 0


@SQLITE
def test_a_failing_init_is_not_told_to_run_init(make_app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from disaster_ai.storage import get_storage

    app = make_app(migrate=False)

    def broken_migration(self):
        raise OperationalError("CREATE TABLE …", {}, Exception("disk I/O error"))

    monkeypatch.setattr(type(get_storage(app)), "migrate", broken_migration)
    # the schema is missing because init itself failed: its own error stays, with the traceback
    with pytest.raises(OperationalError, match="disk I/O error"):
        invoke(app, ["init"])
