"""Engine and sessions, one Storage per app (stored in app.extensions)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from flask import current_app, g
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def default_sqlite_url(instance_path: str) -> str:
    return f"sqlite:///{Path(instance_path) / 'disaster_ai.sqlite3'}"


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Storage:
    def __init__(self, url: str, echo: bool = False):
        self.url = url
        self.plugin_manager = None  # set by the app factory: whose models Alembic sees
        self.engine: Engine = _make_engine(url, echo)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.sessionmaker()

    def migrate(self) -> None:
        """Bring the core's and every loaded plugin's tables to their newest revisions
        (storage/schema.py: one Alembic history per plugin, ``dai_migrations``)."""
        from disaster_ai.storage import schema

        schema.migrate(self, self.plugin_manager)

    def alembic_config(self, name: str = "core"):
        """The Alembic config of one history: ``core`` or a loaded plugin's."""
        from disaster_ai.storage import schema

        for source in schema.migration_sources(self.plugin_manager):
            if source.name == name:
                return schema.alembic_config(self, source)
        raise KeyError(name)

    def current_revision(self) -> str | None:
        """The core history's revision (None before the first migration)."""
        from disaster_ai.storage import schema

        heads = schema.current_heads(self, schema.core_source())
        return heads[-1] if heads else None

    def schema_status(self) -> list[dict]:
        from disaster_ai.storage import schema

        return schema.status(self, self.plugin_manager)

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def _make_engine(url: str, echo: bool) -> Engine:
    kwargs: dict = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs["pool_pre_ping"] = True
    return create_engine(url, **kwargs)


def get_storage(app=None) -> Storage:
    return (app or current_app).extensions["disaster_ai.storage"]


def db() -> Session:
    """The request's session, closed at teardown."""
    if "db_session" not in g:
        g.db_session = get_storage().session()
    return g.db_session


def close_request_session(_exc=None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextlib.contextmanager
def session_scope(storage: Storage):
    """A session for work outside a request (CLI, jobs, scheduler): commit or roll back."""
    session = storage.session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
