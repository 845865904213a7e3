"""The app factory and the config layers."""

import pytest

from disaster_ai.app import create_app


def test_defaults_then_instance_file_then_env_then_test_config(tmp_path, monkeypatch):
    instance = tmp_path / "inst"
    instance.mkdir()
    (instance / "config.py").write_text(
        "MUNICIPALITY_NAME = '焼津市'\nJOB_WORKERS = 7\nPORT = 5001\n"
    )
    monkeypatch.setenv("DISASTER_AI_JOB_WORKERS", "4")
    monkeypatch.setenv("DISASTER_AI_PLUGINS__hello__greeting", '"やあ"')
    app = create_app({"PORT": 6000, "LOAD_ENTRY_POINTS": False}, instance_path=str(instance))
    assert app.config["MUNICIPALITY_NAME"] == "焼津市"  # instance file over defaults
    assert app.config["JOB_WORKERS"] == 4  # env (parsed as JSON) over the instance file
    assert app.config["PORT"] == 6000  # test_config over everything
    assert app.config["PLUGINS"]["hello"]["greeting"] == "やあ"  # __ nests
    assert app.config["DATABASE_URL"] == f"sqlite:///{instance / 'disaster_ai.sqlite3'}"


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path):
    first = create_app({"LOAD_ENTRY_POINTS": False}, instance_path=str(tmp_path))
    second = create_app({"LOAD_ENTRY_POINTS": False}, instance_path=str(tmp_path))
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_two_apps_never_share_a_plugin_manager(make_app):
    first, second = make_app(), make_app(DISABLED_PLUGINS=["disaster_ai.apps.bulletins"])
    assert first.extensions["disaster_ai"] is not second.extensions["disaster_ai"]
    assert first.extensions["disaster_ai"].has_plugin("disaster_ai.apps.bulletins")
    assert not second.extensions["disaster_ai"].has_plugin("disaster_ai.apps.bulletins")


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_sqlite_runs_in_wal_mode(app):
    from disaster_ai.storage import get_storage

    with get_storage(app).engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
