"""Alembic environment: the engine comes from disaster_ai.storage.Storage, so the same URL
(SQLite or PostgreSQL) is used by the app and by migrations."""

from alembic import context
from sqlalchemy import create_engine

from disaster_ai.storage.base import Base
from disaster_ai.storage.schema import include_name, load_models

config = context.config
# every table of the loaded plugins on Base.metadata (dai_models); the app passes its own
# plugin manager, a bare `alembic` call gets the default one
load_models(config.attributes.get("plugin_manager"))
target_metadata = Base.metadata


def run_migrations_online():
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # one version table per plugin history (storage/schema.py)
            version_table=config.attributes.get("version_table", "dai_schema_core"),
            include_name=include_name,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
