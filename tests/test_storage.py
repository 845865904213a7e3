"""Storage: migrations on SQLite and PostgreSQL, aware times, portable geometry, append-only audit."""

from datetime import datetime

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError, StatementError

from disaster_ai import audit
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import AuditEvent, Municipality


def test_migrations_create_every_table_on_both_backends(app):
    storage = get_storage(app)
    assert storage.current_revision() is not None
    tables = set(inspect(storage.engine).get_table_names())
    assert {
        "users",
        "api_tokens",
        "login_attempts",
        "audit_events",
        "jobs",
        "heartbeats",
        "municipality",
    } <= tables


def test_migrating_twice_is_harmless(app):
    storage = get_storage(app)
    revision = storage.current_revision()
    storage.migrate()
    assert storage.current_revision() == revision


def test_models_and_migrations_agree(app):
    """A model change without a migration fails here (alembic autogenerate finds a diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from disaster_ai.storage.base import Base
    from disaster_ai.storage.schema import include_name, load_models

    storage = get_storage(app)
    # Base.metadata also holds the tables of plugins another test imported (the JMA plugin's):
    # compare the tables of this app's plugins, and whatever the database has
    modules = set(load_models(storage.plugin_manager))
    own = {m.local_table.name for m in Base.registry.mappers if m.class_.__module__ in modules}

    def include_object(_object, name, type_, reflected, _compare_to):
        return type_ != "table" or reflected or name in own

    with storage.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_name": include_name, "include_object": include_object}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert {"users", "incidents", "notices", "call_recordings"} <= own


def test_times_come_back_aware_in_japan_time(app):
    with app.app_context():
        audit.record("test.time")
    with session_scope(get_storage(app)) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "test.time"))
        assert event.at.utcoffset().total_seconds() == 9 * 3600
        assert event.at.isoformat().endswith("+09:00")


def test_naive_datetimes_are_refused(app):
    with (
        pytest.raises(StatementError, match="naive datetime"),
        session_scope(get_storage(app)) as session,
    ):
        session.add(
            AuditEvent(action="x", actor_name="x", detail={}, at=datetime(2026, 9, 23, 6, 0))
        )


def test_geometry_round_trips_as_geojson_without_a_spatial_extension(app):
    polygon = {
        "type": "Polygon",
        "coordinates": [[[138.3, 34.8], [138.31, 34.8], [138.31, 34.81], [138.3, 34.8]]],
    }
    with session_scope(get_storage(app)) as session:
        session.add(
            Municipality(name="焼津市", lg_code="222127", jis_code="22212", boundary=polygon)
        )
    with session_scope(get_storage(app)) as session:
        assert session.scalar(select(Municipality.boundary)) == polygon


def test_the_audit_log_is_append_only_in_the_database(app):
    with app.app_context():
        audit.record("test.append_only", target="x")
    for statement in ("UPDATE audit_events SET action = 'tampered'", "DELETE FROM audit_events"):
        with (
            pytest.raises(DBAPIError, match="append-only"),
            get_storage(app).engine.begin() as connection,
        ):
            connection.execute(text(statement))
    with session_scope(get_storage(app)) as session:
        assert (
            session.scalar(select(AuditEvent.action).where(AuditEvent.target == "x"))
            == "test.append_only"
        )


def test_ai_calls_are_audited_with_a_digest_not_the_input(app):
    with app.app_context():
        audit.record_ai_call(
            app="notices",
            engine="llama.cpp",
            model="gemma-3-270m",
            input_text="小川 太郎 090-1234",
            output="polished",
            duration_ms=812,
        )
    with session_scope(get_storage(app)) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "ai.call"))
        assert (event.app, event.ai_engine, event.ai_model, event.duration_ms) == (
            "notices",
            "llama.cpp",
            "gemma-3-270m",
            812,
        )
        assert len(event.input_digest) == 64 and "小川" not in (
            event.input_digest + str(event.detail)
        )


def test_usage_per_app_per_day(app):
    with app.app_context():
        for _ in range(3):
            audit.record_ai_call(
                app="transcription",
                engine="faster-whisper",
                model="base",
                input_text="a",
                output="b",
                duration_ms=1000,
            )
        audit.record("notice.submit", app="notices")
    with session_scope(get_storage(app)) as session:
        rows = {row["app"]: row for row in audit.usage_per_app_per_day(session)}
    assert rows["transcription"]["ai_calls"] == 3 and rows["transcription"]["ai_ms"] == 3000
    assert rows["notices"]["actions"] == 1 and rows["notices"]["ai_calls"] == 0
