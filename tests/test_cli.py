"""The `disaster-ai` command: init with the Yaizu sample, users, --json output."""

import json

from sqlalchemy import select

from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import Municipality, User


def test_init_with_sample_loads_yaizu_and_prints_demo_passwords_once(app, runner, monkeypatch):
    monkeypatch.setenv("DISASTER_AI_DEMO_PASSWORD_ADMIN", "given-admin-password")
    first = runner.invoke(["init", "--sample", "yaizu", "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert any("焼津市" in line for line in report["loaded"])
    passwords = {user["username"]: user["password"] for user in report["users"]}
    assert passwords["admin"] == "given-admin-password"
    assert (
        passwords["operator"]
        and passwords["approver"]
        and passwords["operator"] != passwords["approver"]
    )
    again = json.loads(runner.invoke(["init", "--sample", "yaizu", "--json"]).output)
    assert all(
        user["password"] is None for user in again["users"]
    )  # existing users keep their password
    with session_scope(get_storage(app)) as session:
        assert session.scalar(select(Municipality.lg_code)) == "222127"
        assert session.query(Municipality).count() == 1
        assert sorted(session.scalars(select(User.role))) == ["admin", "approver", "operator"]


def test_demo_password_logs_in(app, runner, monkeypatch):
    from disaster_ai.testing import csrf_token_from

    monkeypatch.setenv("DISASTER_AI_DEMO_PASSWORD_OPERATOR", "operator-demo-pass")
    runner.invoke(["init", "--sample", "yaizu"])
    client = app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={"username": "operator", "password": "operator-demo-pass", "csrf_token": token},
    )
    assert response.status_code == 302


def test_unknown_sample_is_a_clear_error(runner):
    result = runner.runner.invoke(runner.cli, ["init", "--sample", "atlantis"], obj=_info(runner))
    assert result.exit_code != 0 and "atlantis" in result.output


def _info(runner):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: runner.cli.create_app(), load_dotenv_defaults=False)


def test_users_create_list_and_token(app, runner, client):
    created = runner.invoke(
        ["users", "create", "kacho", "--role", "approver", "--generate", "--json"]
    )
    assert created.exit_code == 0, created.output
    data = json.loads(created.output)
    assert data["role"] == "approver" and len(data["password"]) >= 12
    listed = json.loads(runner.invoke(["users", "list", "--json"]).output)
    assert {"username": "kacho", "role": "approver"}.items() <= listed[0].items()
    token = json.loads(
        runner.invoke(["users", "token", "kacho", "--name", "script", "--json"]).output
    )["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert me["username"] == "kacho" and me["roles"] == ["approver"]


def test_users_create_refuses_a_bad_role_and_a_short_password(runner):
    bad_role = runner.runner.invoke(
        runner.cli,
        ["users", "create", "x", "--role", "mayor", "--password", "p" * 12],
        obj=_info(runner),
    )
    assert bad_role.exit_code == 2 and "mayor" in bad_role.output
    short = runner.runner.invoke(
        runner.cli,
        ["users", "create", "x", "--role", "operator", "--password", "short"],
        obj=_info(runner),
    )
    assert short.exit_code == 1 and "password_too_short" in short.output


def test_the_console_script_runs_offline(tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DISASTER_AI_INSTANCE_PATH": str(tmp_path),
        "DISASTER_AI_LOAD_ENTRY_POINTS": "false",
    }
    result = subprocess.run(
        [sys.executable, "-m", "disaster_ai.cli", "init", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["revision"]
    assert (tmp_path / "disaster_ai.sqlite3").exists()
