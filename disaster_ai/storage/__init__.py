"""The one storage layer: SQLAlchemy 2 + Alembic. SQLite (WAL) by default, PostgreSQL for
multi-node. Apps put their tables on the same ``Base`` so one migration chain covers them."""

from disaster_ai.storage.base import Base, now
from disaster_ai.storage.engine import Storage, get_storage, session_scope

__all__ = ["Base", "Storage", "get_storage", "now", "session_scope"]
