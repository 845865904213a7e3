"""The schema of each plugin: which modules define its tables (``dai_models``) and where its
Alembic migrations live (``dai_migrations``). The core never imports an app's models or
migrations itself; it asks the loaded plugins.

Models: ``load_models(pm)`` imports what the loaded plugins name, so ``Base.metadata`` holds
every table of this configuration (the app factory and the Alembic environment call it).

Migrations: every plugin's history is migrated on its own, with its own version table
``dai_schema_<name>``: the core's (``core``) first, then the loaded plugins' in the order their
``after`` asks for. A blocked plugin's tables are not created, and its version table (if it ever
ran) is left alone, so blocking or removing a plugin never stops the others from migrating.

Databases made before this layout have one linear history (0001 … 0010) in ``alembic_version``
in which the core made every app's tables. ``bridge_legacy`` reads that revision once, stamps each
history at the revisions the old chain had applied, and drops ``alembic_version``; the ordinary
upgrade then adds what is new. Never renumber a revision of the old chain.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from types import ModuleType

from disaster_ai.types import MigrationSource

log = logging.getLogger(__name__)
CORE_MODELS = ("disaster_ai.storage.models",)


def load_models(pm=None) -> list[str]:
    """Import the core's and every plugin's model modules; returns their names."""
    from disaster_ai.plugins import safe_collect

    if pm is None:
        from disaster_ai.plugins import make_plugin_manager

        pm = make_plugin_manager({"LOAD_ENTRY_POINTS": True})
    names = list(CORE_MODELS)
    for item in safe_collect(pm, "dai_models"):
        name = item.__name__ if isinstance(item, ModuleType) else str(item)
        if name not in names:
            names.append(name)
    for name in names:
        importlib.import_module(name)
    return names


# --- migrations -----------------------------------------------------------------------------

ENV_DIR = Path(__file__).resolve().parent.parent / "migrations"  # env.py, shared by every history
LEGACY_TABLE = "alembic_version"
LEGACY_CHAIN = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010")
# the old 0010 changed incidents and notices; the notices part is now notices' 0011
LEGACY_SPLIT = {"0010": ("0010", "0011")}


class SchemaError(RuntimeError):
    """The plugins' migrations cannot run as configured (a missing dependency, an unknown
    revision in an old database)."""


def core_source() -> MigrationSource:
    return MigrationSource("core", str(ENV_DIR / "versions"))


def version_table(name: str) -> str:
    return f"dai_schema_{name}"


def include_name(name, type_, _parent_names) -> bool:
    """For Alembic's autogenerate and schema comparison: the version tables of the histories
    are not part of any plugin's models."""
    return not (type_ == "table" and (name or "").startswith("dai_schema_"))


def migration_sources(pm) -> list[MigrationSource]:
    """The core's history, then every loaded plugin's, each after the ones it names in
    ``after``. A history that an enabled one needs but whose app is blocked is migrated too
    (its tables are referred to), and the log says so; SchemaError when a needed history is
    nowhere to be found."""
    from disaster_ai.plugins import safe_collect

    found = _collect(safe_collect(pm, "dai_migrations") if pm is not None else [])
    missing = {dep for src in found.values() for dep in src.after} - set(found) - {"core"}
    if missing:
        every_core_app = _core_app_sources()
        while missing:
            name = missing.pop()
            if name not in every_core_app:
                needers = sorted(s.name for s in found.values() if name in s.after)
                raise SchemaError(
                    f"the tables of {', '.join(needers)} refer to those of {name}, which is not "
                    f"loaded: install or enable {name}, or disable {', '.join(needers)} too"
                )
            log.warning(
                "the tables of %s are kept up to date: an enabled plugin refers to them", name
            )
            found[name] = every_core_app[name]
            missing |= set(found[name].after) - set(found) - {"core"}
    ordered = [core_source()]
    done = {"core"}
    pending = sorted(found.values(), key=lambda src: src.name)
    while pending:
        ready = [src for src in pending if set(src.after) <= done]
        if not ready:
            raise SchemaError(f"the histories {[s.name for s in pending]} wait for each other")
        for src in ready:
            ordered.append(src)
            done.add(src.name)
            pending.remove(src)
    return ordered


def _collect(items) -> dict[str, MigrationSource]:
    found: dict[str, MigrationSource] = {}
    for source in items:
        if isinstance(source, MigrationSource) and source.name not in {"core", *found}:
            found[source.name] = source
    return found


def _core_app_sources() -> dict[str, MigrationSource]:
    """Every built-in app's history, blocked ones included (no entry points, no folder)."""
    from disaster_ai.plugins import make_plugin_manager, safe_collect

    return _collect(
        safe_collect(make_plugin_manager({"LOAD_ENTRY_POINTS": False}), "dai_migrations")
    )


def alembic_config(storage, source: MigrationSource):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ENV_DIR))
    cfg.set_main_option("version_path_separator", "os")
    cfg.set_main_option("version_locations", source.directory)
    cfg.attributes["engine"] = storage.engine
    cfg.attributes["plugin_manager"] = storage.plugin_manager
    cfg.attributes["version_table"] = version_table(source.name)
    return cfg


def current_heads(storage, source: MigrationSource) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    with storage.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": version_table(source.name)}
        )
        return tuple(sorted(context.get_current_heads()))


def script_heads(storage, source: MigrationSource) -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    return tuple(sorted(ScriptDirectory.from_config(alembic_config(storage, source)).get_heads()))


def migrate(storage, pm) -> None:
    """Bring the core's and every loaded plugin's tables to their newest revisions."""
    from alembic import command

    sources = migration_sources(pm)  # before anything is written: a missing dependency says so
    bridge_legacy(storage)
    for source in sources:
        command.upgrade(alembic_config(storage, source), "heads")


def status(storage, pm) -> list[dict]:
    """Per history: ``{"name", "current", "head"}`` (tuples of revisions); a database of the
    old layout (not yet bridged) is reported as the history ``legacy``."""
    legacy = legacy_revision(storage)
    if legacy is not None:
        return [{"name": "legacy", "current": (legacy,), "head": ()}]
    return [
        {
            "name": source.name,
            "current": current_heads(storage, source),
            "head": script_heads(storage, source),
        }
        for source in migration_sources(pm)
    ]


def legacy_revision(storage) -> str | None:
    """The revision of a database of the old single-history layout, or None."""
    from sqlalchemy import inspect, text

    with storage.engine.connect() as connection:
        if LEGACY_TABLE not in inspect(connection).get_table_names():
            return None
        rows = [
            row[0] for row in connection.execute(text(f"SELECT version_num FROM {LEGACY_TABLE}"))
        ]
    if not rows:
        return None
    if len(rows) != 1 or rows[0] not in LEGACY_CHAIN:
        raise SchemaError(f"unknown revision(s) {rows} in {LEGACY_TABLE}")
    return rows[0]


def bridge_legacy(storage) -> list[str]:
    """Move a database of the old layout to one version table per history (see the module
    doc); returns the revisions stamped. Every core app's history is stamped, a blocked one's
    too: its tables exist already."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect, text

    legacy = legacy_revision(storage)
    if legacy is None:
        with storage.engine.begin() as connection:  # an empty leftover table
            if LEGACY_TABLE in inspect(connection).get_table_names():
                connection.execute(text(f"DROP TABLE {LEGACY_TABLE}"))
        return []
    applied = set()
    for revision in LEGACY_CHAIN[: LEGACY_CHAIN.index(legacy) + 1]:
        applied.update(LEGACY_SPLIT.get(revision, (revision,)))
    stamped = []
    for source in [core_source(), *_core_app_sources().values()]:
        cfg = alembic_config(storage, source)
        script = ScriptDirectory.from_config(cfg)
        mine = {rev.revision: rev for rev in script.walk_revisions() if rev.revision in applied}
        heads = sorted(r for r, rev in mine.items() if not set(rev.nextrev) & set(mine))
        if heads:
            command.stamp(cfg, heads)
            stamped.extend(heads)
    with storage.engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {LEGACY_TABLE}"))
    return stamped
