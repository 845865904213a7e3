"""Each plugin owns its tables and migrations (dai_migrations): one Alembic history and version
table per plugin, a blocked app's tables never made, and databases of the old single history
upgraded cleanly (tests/fixtures/legacy_migrations is that history, frozen)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.schema import SchemaError

LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy_migrations"
HISTORIES = {
    "core",
    "situation",
    "notices",
    "transcription",
    "bulletins",
    "reports",
    "governance",
}
sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def tables(app) -> set[str]:
    return set(inspect(get_storage(app).engine).get_table_names())


def legacy_database(storage, revision: str) -> None:
    """Make the database the way the old single history left it at ``revision``."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(LEGACY))
    cfg.attributes["engine"] = storage.engine
    command.upgrade(cfg, revision)


def test_every_history_has_its_own_version_table(app):
    storage = get_storage(app)
    status = {h["name"]: h for h in storage.schema_status()}
    assert set(status) == HISTORIES
    assert all(h["current"] == h["head"] != () for h in status.values())
    assert {f"dai_schema_{name}" for name in HISTORIES} <= tables(app)
    assert "alembic_version" not in tables(app)
    assert status["situation"]["head"] == ("0010",) and status["notices"]["head"] == ("0011",)


def test_a_blocked_apps_tables_are_not_made_until_it_is_enabled(make_app):
    blocked = make_app(DISABLED_PLUGINS=["disaster_ai.apps.reports"])
    made = tables(blocked)
    assert "incidents" in made and "bulletins" in made
    assert not {"damage_reports", "report_tally_entries", "dai_schema_reports"} & made
    assert "reports" not in {h["name"] for h in get_storage(blocked).schema_status()}
    # enabled later: its own history runs, the others are already at their heads
    enabled = make_app()
    assert {"damage_reports", "dai_schema_reports"} <= tables(enabled)


@sqlite_only
def test_a_blocked_app_whose_tables_another_needs_keeps_them(make_app, caplog):
    """reports' tables point at bulletins' events: with bulletins blocked and reports not,
    bulletins' tables are still made (and the log says why); reports' are too."""
    app = make_app(DISABLED_PLUGINS=["disaster_ai.apps.bulletins"])
    assert {"disaster_events", "damage_reports"} <= tables(app)
    assert any("the tables of bulletins are kept" in m for m in caplog.messages)


@sqlite_only
def test_a_history_needing_one_that_exists_nowhere_says_what_to_do(make_app, tmp_path):
    import textwrap

    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "gauge.py").write_text(
        textwrap.dedent(
            """
            from disaster_ai import hookimpl
            from disaster_ai.types import MigrationSource


            @hookimpl
            def dai_migrations():
                return [MigrationSource("gauge", "/nonexistent", after=("tide",))]
            """
        ),
        encoding="utf-8",
    )
    app = make_app(migrate=False, PLUGINS_DIR=str(folder))
    with pytest.raises(SchemaError, match="gauge refer to those of tide.*disable gauge"):
        get_storage(app).migrate()
    assert "users" not in tables(app)  # nothing was written


def test_a_database_of_the_old_single_history_upgrades_cleanly(make_app):
    """A desk installed before this change (revision 0009 of the one history) with data."""
    app = make_app(migrate=False)
    storage = get_storage(app)
    legacy_database(storage, "0009")
    with storage.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO incidents (category, life_threat, vulnerable, source, status, "
                "occurred_at, place_name, description, created_by, created_at, updated_at) "
                "VALUES ('fire', false, false, 'manual', 'unverified', '2026-09-23 00:00:00', "
                "'', 'kept', 'operator', '2026-09-23 00:00:00', '2026-09-23 00:00:00')"
            )
        )
    from disaster_ai.cli import database_problem  # what every command says before init

    assert "0009" in database_problem(app) and "disaster-ai init" in database_problem(app)

    storage.migrate()
    status = {h["name"]: h for h in storage.schema_status()}
    assert set(status) == HISTORIES
    assert all(h["current"] == h["head"] for h in status.values())
    assert "alembic_version" not in tables(app)
    assert database_problem(app) is None
    columns = {c["name"] for c in inspect(storage.engine).get_columns("incidents")}
    assert "external_ref" in columns
    assert "suggestion" in {c["name"] for c in inspect(storage.engine).get_columns("notices")}

    from disaster_ai.apps.situation.models import Incident
    from disaster_ai.desk import Desk

    with app.app_context(), session_scope(storage) as session:
        assert [i.description for i in session.scalars(select(Incident))] == ["kept"]
    ref = Desk(app, "feed").incidents.upsert("1", category="fire", lon=138.3, lat=34.87)
    assert ref.created
    storage.migrate()  # twice is harmless
    assert {h["name"]: h["current"] for h in storage.schema_status()} == {
        name: h["current"] for name, h in status.items()
    }


@sqlite_only
def test_the_interim_single_history_0010_is_bridged_too(make_app):
    """0010 of the old history changed incidents and notices; both count as done."""
    app = make_app(migrate=False)
    storage = get_storage(app)
    legacy_database(storage, "0010")
    storage.migrate()
    status = {h["name"]: h["current"] for h in storage.schema_status()}
    assert status["situation"] == ("0010",) and status["notices"] == ("0011",)


@sqlite_only
def test_an_old_database_with_a_blocked_app_keeps_that_apps_tables_stamped(make_app):
    app = make_app(migrate=False, DISABLED_PLUGINS=["disaster_ai.apps.transcription"])
    storage = get_storage(app)
    legacy_database(storage, "0009")
    storage.migrate()
    assert "transcription" not in {h["name"] for h in storage.schema_status()}
    # its tables were made by the old history: enabling it later must not make them again
    enabled = make_app()
    status = {h["name"]: h for h in get_storage(enabled).schema_status()}
    assert status["transcription"]["current"] == ("0005",)


@sqlite_only
def test_init_migrates_and_reports_every_history(app, runner):
    import json

    result = runner.invoke(["init", "--no-demo-users", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["revision"] == "0012"
    assert report["schema"]["notices"] == ["0011"] and set(report["schema"]) == HISTORIES


@sqlite_only
def test_hook_dai_migrations(make_app, tmp_path):
    import textwrap

    package = tmp_path / "plugins" / "tide"
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path

            from disaster_ai import hookimpl
            from disaster_ai.types import MigrationSource


            @hookimpl
            def dai_migrations():
                return [MigrationSource("tide", str(Path(__file__).parent / "migrations"))]
            """
        ),
        encoding="utf-8",
    )
    (package / "migrations" / "t001_tide_levels.py").write_text(
        textwrap.dedent(
            '''
            """tide levels"""
            import sqlalchemy as sa
            from alembic import op

            revision = "t001"
            down_revision = None
            branch_labels = ("tide",)
            depends_on = None


            def upgrade():
                op.create_table(
                    "tide_levels",
                    sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("cm", sa.Integer(), nullable=False),
                )


            def downgrade():
                op.drop_table("tide_levels")
            '''
        ),
        encoding="utf-8",
    )
    app = make_app(PLUGINS_DIR=str(package.parent))
    assert {"tide_levels", "dai_schema_tide"} <= tables(app)
    status = {h["name"]: h for h in get_storage(app).schema_status()}
    assert status["tide"]["current"] == ("t001",)
    # removed again: the desk still migrates, the plugin's table and version table stay
    after = make_app()
    assert "tide" not in {h["name"] for h in get_storage(after).schema_status()}
    assert "tide_levels" in tables(after)
