"""`disaster-ai backup` and `disaster-ai restore`: one archive (tar.gz) holding the database and
the instance folder, with a manifest that names every file and its sha256.

The archive::

    database/disaster_ai.sqlite3     SQLite: an online copy (sqlite3's backup API, one step,
                                     so the copy is one consistent snapshot while the desk writes)
    database/database.pgdump         PostgreSQL: ``pg_dump --format=custom``
    instance/…                       the instance folder: config.py, secret_key, calls/ (the
                                     uploaded recordings), templates/, plugins/ …; without
                                     BACKUP_EXCLUDE (models/, backups/, caches) and without the
                                     live SQLite files (the copy above replaces them)
    manifest.json                    written last: format, version, created_at, the database kind,
                                     every history's Alembic heads, and each file's size and sha256

``restore`` verifies every checksum before it changes anything, refuses a database that already
holds data unless ``--force``, loads the database (SQLite: the backup API again; PostgreSQL:
``pg_restore --clean --if-exists --single-transaction``), writes the instance files back and
migrates when the archive is older than this version. Errors are one sentence in the desk's
language (:class:`BackupError`); the CLI prints it with exit code 2. docs/deploy.md says how to
run it every night.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from disaster_ai import __version__, audit
from disaster_ai.storage import get_storage
from disaster_ai.storage import schema as schema_module
from disaster_ai.storage.base import now
from disaster_ai.types import SYSTEM_ACTOR

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/disaster_ai.sqlite3"
PG_MEMBER = "database/database.pgdump"
INSTANCE_PREFIX = "instance/"
ARCHIVE_GLOB = "disaster-ai-*.tar.gz"
CHUNK = 1024 * 1024
# Tables that a fresh, initialised instance may already hold rows in: restoring over them loses
# nothing of the desk's (its own init audit entry, heartbeats, the scheduler's job store).
BOOKKEEPING_TABLES = {"audit_events", "audit_chain", "heartbeats", "apscheduler_jobs"}


class BackupError(Exception):
    """What went wrong, as one sentence for the operator (already translated)."""


@dataclass
class BackupReport:
    path: str
    size: int
    seconds: float
    database: str
    files: int
    file_bytes: int
    schema: dict[str, list[str]]
    removed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return self.__dict__.copy()


@dataclass
class RestoreReport:
    archive: str
    created_at: str
    database: str
    files: int
    migrated: bool
    schema: dict[str, list[str]]
    kept: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return self.__dict__.copy()


# --- helpers --------------------------------------------------------------------------------


def _sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def backup_dir(app) -> Path:
    return Path(app.config["BACKUP_DIR"] or Path(app.instance_path) / "backups")


def sqlite_path(app) -> Path | None:
    """The SQLite database file, or None on PostgreSQL (or an in-memory database)."""
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise BackupError(_("An in-memory database cannot be backed up."))
    return Path(url.database).resolve()


def database_kind(app) -> str:
    return make_url(app.config["DATABASE_URL"]).get_backend_name()


def _schema_heads(app) -> dict[str, list[str]]:
    storage = get_storage(app)
    return {h["name"]: list(h["current"]) for h in storage.schema_status()}


def _excluded(relative: str, patterns: list[str]) -> bool:
    """``relative`` (posix, inside the instance) matches a pattern itself or lies under one."""
    parts = PurePosixPath(relative).parts
    for pattern in patterns:
        pattern = pattern.strip("/")
        for depth in range(1, len(parts) + 1):
            if fnmatch.fnmatchcase("/".join(parts[:depth]), pattern):
                return True
    return False


def instance_files(app, *, skip: set[Path] = frozenset()) -> Iterator[tuple[str, Path]]:
    """(relative posix path, absolute path) of every instance file the backup holds. Links to
    folders (an upload folder on another disk) are followed; the live SQLite files and
    BACKUP_EXCLUDE are left out."""
    root = Path(app.instance_path).resolve()
    patterns = list(app.config["BACKUP_EXCLUDE"])
    output = backup_dir(app).resolve()
    for folder, dirs, names in os.walk(root, followlinks=True):
        folder_path = Path(folder)
        relative_folder = folder_path.relative_to(root).as_posix()
        kept = []
        for name in sorted(dirs):
            relative = name if relative_folder == "." else f"{relative_folder}/{name}"
            target = (folder_path / name).resolve()
            if _excluded(relative, patterns) or target == output:
                continue
            kept.append(name)
        dirs[:] = kept
        for name in sorted(names):
            relative = name if relative_folder == "." else f"{relative_folder}/{name}"
            path = folder_path / name
            if _excluded(relative, patterns) or not path.is_file():
                continue
            if path.resolve() in skip:
                continue
            yield relative, path


# --- backup ---------------------------------------------------------------------------------


def _sqlite_copy(source: Path, target: Path) -> None:
    """An online, consistent copy: the backup API in one step reads one snapshot (WAL lets the
    desk go on writing meanwhile)."""
    if not source.exists():
        raise BackupError(
            _("The database %(path)s does not exist. Run `disaster-ai init`.", path=str(source))
        )
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the archive
        if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError(_("The copy of the database failed its integrity check."))
    finally:
        dst.close()
        src.close()


def _pg_env_and_dsn(database_url: str) -> tuple[dict, str, str | None]:
    """The libpq connection string (without the password, which travels in PGPASSWORD) and the
    schema named by ``options=-csearch_path=…``, if any."""
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    dsn = plain.render_as_string(hide_password=False)
    options = url.query.get("options") or ""
    if isinstance(options, tuple):
        options = " ".join(options)
    match = re.search(r"search_path\s*=\s*([^\s,]+)", options)
    return env, dsn, match.group(1).strip('"') if match else None


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            _(
                "%(tool)s is not installed. Install the PostgreSQL client of the server's version "
                "(Debian: apt-get install postgresql-client).",
                tool=name,
            )
        )
    return path


def _tool_major(path: str) -> int:
    output = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"(\d+)(?:\.\d+)?", output.stdout)
    return int(match.group(1)) if match else 0


def _server_major(app) -> int:
    with get_storage(app).engine.connect() as connection:
        return int(connection.execute(text("SHOW server_version_num")).scalar()) // 10000


def _pg_dump(app, target: Path) -> dict:
    pg_dump = _tool("pg_dump")
    client, server = _tool_major(pg_dump), _server_major(app)
    if client < server:
        raise BackupError(
            _(
                "pg_dump %(client)s is older than the PostgreSQL server %(server)s. Install the "
                "client of version %(server)s or newer (postgresql-client-%(server)s).",
                client=client,
                server=server,
            )
        )
    env, dsn, schema = _pg_env_and_dsn(app.config["DATABASE_URL"])
    args = [pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"]
    if schema:
        args.append(f"--schema={schema}")
    result = subprocess.run([*args, f"--dbname={dsn}"], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(
            _("pg_dump failed: %(error)s", error=(result.stderr.strip() or "?")[-500:])
        )
    return {"server_major": server, "pg_dump_major": client, "schema": schema}


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> dict | None:
    """Add one file, hashing exactly the bytes stored; None when it vanished meanwhile."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        return None
    with handle:
        stat = os.fstat(handle.fileno())
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o600
        digest = hashlib.sha256()

        class Hashing:
            def read(self, size=-1):
                chunk = handle.read(size)
                digest.update(chunk)
                return chunk

        tar.addfile(info, Hashing())
    return {"path": name, "size": info.size, "sha256": digest.hexdigest()}


def create_backup(app, output: str | os.PathLike | None = None, keep: int | None = None):
    """Write one archive; returns a :class:`BackupReport`. ``output``: a file name, or a folder
    for ``disaster-ai-<time>.tar.gz`` (default BACKUP_DIR); ``keep``: when writing into a folder,
    remove the oldest archives beyond this many (0: keep all)."""
    started = time.monotonic()
    stamp = now()
    name = f"disaster-ai-{stamp.strftime('%Y%m%d-%H%M%S')}.tar.gz"
    if output is None or Path(output).is_dir() or str(output).endswith(os.sep):
        folder = Path(output) if output is not None else backup_dir(app)
        target = folder / name
    else:
        target, folder, keep = Path(output), Path(output).parent, 0
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    kind = database_kind(app)
    schema = _schema_heads(app)
    manifest: dict = {
        "format": FORMAT,
        "app": "disaster-ai",
        "version": __version__,
        "created_at": stamp.isoformat(),
        "database": {"kind": kind},
        "schema": schema,
        "excluded": list(app.config["BACKUP_EXCLUDE"]),
        "files": [],
    }
    with tempfile.TemporaryDirectory(dir=folder, prefix=".backup-") as work:
        work_path = Path(work)
        live: set[Path] = set()
        if kind == "sqlite":
            database = sqlite_path(app)
            copy = work_path / "db.sqlite3"
            _sqlite_copy(database, copy)
            member = SQLITE_MEMBER
            live = {Path(f"{database}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")}
        elif kind == "postgresql":
            copy = work_path / "db.pgdump"
            manifest["database"].update(_pg_dump(app, copy))
            member = PG_MEMBER
        else:
            raise BackupError(
                _("Backups support SQLite and PostgreSQL only, not %(kind)s.", kind=kind)
            )
        manifest["database"]["file"] = member
        partial = work_path / "archive.tar.gz"
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            manifest["files"].append(_add_file(tar, member, copy))
            for relative, path in instance_files(app, skip=live):
                entry = _add_file(tar, INSTANCE_PREFIX + relative, path)
                if entry is not None:
                    manifest["files"].append(entry)
            data = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(data))
        partial.chmod(0o600)  # the archive holds the secret key and personal data
        os.replace(partial, target)
    removed = prune(folder, keep) if keep else []
    instance = [f for f in manifest["files"] if f["path"].startswith(INSTANCE_PREFIX)]
    return BackupReport(
        path=str(target),
        size=target.stat().st_size,
        seconds=round(time.monotonic() - started, 3),
        database=kind,
        files=len(instance),
        file_bytes=sum(f["size"] for f in instance),
        schema=schema,
        removed=removed,
    )


def prune(folder: Path, keep: int) -> list[str]:
    """Remove the oldest ``disaster-ai-*.tar.gz`` in ``folder`` beyond ``keep``."""
    archives = sorted(folder.glob(ARCHIVE_GLOB))
    old = archives[:-keep] if keep > 0 else []
    for path in old:
        path.unlink(missing_ok=True)
    return [str(path) for path in old]


# --- restore --------------------------------------------------------------------------------


def read_manifest(tar: tarfile.TarFile) -> dict:
    try:
        member = tar.getmember(MANIFEST)
        manifest = json.loads(tar.extractfile(member).read().decode("utf-8"))
    except (KeyError, AttributeError, ValueError):
        raise BackupError(_("This file is not a disaster-ai backup (no manifest).")) from None
    if manifest.get("app") != "disaster-ai" or manifest.get("format") != FORMAT:
        raise BackupError(_("This file is not a disaster-ai backup (no manifest).")) from None
    return manifest


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and name == path.as_posix()


def verify(tar: tarfile.TarFile, manifest: dict) -> None:
    """Every file of the manifest is in the archive with its size and sha256."""
    bad = []
    for entry in manifest["files"]:
        name = entry["path"]
        try:
            member = tar.getmember(name)
            handle = tar.extractfile(member) if _safe_name(name) else None
        except KeyError:
            handle = None
        if handle is None:
            bad.append(name)
            continue
        digest = hashlib.sha256()
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
        if member.size != entry["size"] or digest.hexdigest() != entry["sha256"]:
            bad.append(name)
    if bad:
        raise BackupError(
            _(
                "The backup is damaged: %(count)s file(s) do not match the manifest "
                "(%(names)s). Nothing was restored.",
                count=len(bad),
                names=", ".join(bad[:5]),
            )
        )


def tables_with_rows(app) -> list[str]:
    """The tables of the configured database that hold data (bookkeeping tables left out)."""
    engine = get_storage(app).engine
    found = []
    with engine.connect() as connection:
        for table in sorted(inspect(connection).get_table_names()):
            if table in BOOKKEEPING_TABLES or table.startswith(
                (schema_module.version_table(""), schema_module.LEGACY_TABLE)
            ):
                continue
            quoted = connection.dialect.identifier_preparer.quote(table)
            if connection.execute(text(f"SELECT 1 FROM {quoted} LIMIT 1")).first():
                found.append(table)
    return found


def _check_schema(app, manifest: dict) -> bool:
    """False when the archive is at this version's heads; True when it needs migrating.
    BackupError when it holds revisions this version does not know (a newer version)."""
    from alembic.script import ScriptDirectory

    storage = get_storage(app)
    older = False
    for source in schema_module.migration_sources(storage.plugin_manager):
        script = ScriptDirectory.from_config(schema_module.alembic_config(storage, source))
        known = {rev.revision for rev in script.walk_revisions()}
        archived = manifest["schema"].get(source.name, [])
        unknown = [rev for rev in archived if rev not in known]
        if unknown:
            raise BackupError(
                _(
                    "The backup was made by a newer version of disaster-ai (%(name)s revision "
                    "%(revisions)s). Install that version or a newer one, then restore.",
                    name=source.name,
                    revisions=", ".join(unknown),
                )
            )
        if sorted(archived) != sorted(script.get_heads()):
            older = True
    return older


def _sqlite_load(app, source: Path) -> None:
    target = sqlite_path(app)
    target.parent.mkdir(parents=True, exist_ok=True)
    get_storage(app).dispose()
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=30)
    try:
        dst.execute("PRAGMA busy_timeout=30000")
        src.backup(dst)  # through SQLite: another open connection sees the new content
        dst.execute("PRAGMA journal_mode=WAL")
    finally:
        dst.close()
        src.close()


def _pg_load(app, dump: Path, manifest: dict) -> None:
    pg_restore = _tool("pg_restore")
    client = _tool_major(pg_restore)
    made_by = int(manifest["database"].get("pg_dump_major") or 0)
    if client < made_by:
        raise BackupError(
            _(
                "pg_restore %(client)s cannot read a dump made by pg_dump %(made_by)s. Install "
                "the PostgreSQL client %(made_by)s or newer (postgresql-client-%(made_by)s).",
                client=client,
                made_by=made_by,
            )
        )
    env, dsn, schema = _pg_env_and_dsn(app.config["DATABASE_URL"])
    archived = manifest["database"].get("schema")
    if (archived or None) != (schema or None):
        raise BackupError(
            _(
                "The backup holds the PostgreSQL schema %(archived)s but this instance uses "
                "%(schema)s. Restore into a database configured with the same schema.",
                archived=archived or "public",
                schema=schema or "public",
            )
        )
    get_storage(app).dispose()
    args = [
        pg_restore,
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={dsn}",
        str(dump),
    ]
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(
            _("pg_restore failed: %(error)s", error=(result.stderr.strip() or "?")[-500:])
        )


def _instance_target(root: Path, relative: str) -> Path:
    target = (root / relative).resolve()
    if root != target and root not in target.parents:
        raise BackupError(_("This file is not a disaster-ai backup (no manifest)."))
    return target


def restore_backup(app, archive: str | os.PathLike, *, force: bool = False) -> RestoreReport:
    started = time.monotonic()
    archive = Path(archive)
    try:
        tar = tarfile.open(archive, "r:gz")
    except (OSError, tarfile.TarError):
        raise BackupError(_("Cannot read the backup %(path)s.", path=str(archive))) from None
    with tar:
        manifest = read_manifest(tar)
        verify(tar, manifest)
        kind = database_kind(app)
        if manifest["database"]["kind"] != kind:
            raise BackupError(
                _(
                    "The backup holds a %(archived)s database but this instance is configured "
                    "for %(kind)s (DATABASE_URL).",
                    archived=manifest["database"]["kind"],
                    kind=kind,
                )
            )
        older = _check_schema(app, manifest)
        holding = tables_with_rows(app)
        if holding and not force:
            raise BackupError(
                _(
                    "The database already holds data (%(tables)s). Restoring replaces it: run "
                    "again with --force if that is what you want.",
                    tables=", ".join(holding[:8]),
                )
            )
        root = Path(app.instance_path).resolve()
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=root) as work:
            database_file = Path(work) / "database"
            with open(database_file, "wb") as handle:
                shutil.copyfileobj(tar.extractfile(manifest["database"]["file"]), handle, CHUNK)
            if kind == "sqlite":
                _sqlite_load(app, database_file)
            else:
                _pg_load(app, database_file, manifest)
        kept = []
        count = 0
        for entry in manifest["files"]:
            if not entry["path"].startswith(INSTANCE_PREFIX):
                continue
            relative = entry["path"][len(INSTANCE_PREFIX) :]
            target = _instance_target(root, relative)
            if relative == "config.py" and target.exists():
                # this server's own settings (its DATABASE_URL, say) win; the old ones lie beside
                target = target.with_name("config.py.from-backup")
                kept.append("config.py")
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.restoring")
            with open(partial, "wb") as handle:
                shutil.copyfileobj(tar.extractfile(entry["path"]), handle, CHUNK)
            partial.chmod(0o600 if relative in ("secret_key", "config.py") else 0o640)
            os.replace(partial, target)
            count += 1
    get_storage(app).dispose()
    if older:
        get_storage(app).migrate()
    return RestoreReport(
        archive=str(archive),
        created_at=manifest["created_at"],
        database=kind,
        files=count,
        migrated=older,
        schema=_schema_heads(app),
        kept=kept,
        seconds=round(time.monotonic() - started, 3),
    )


# --- commands (registered in disaster_ai/cli.py) ---------------------------------------------


def _fail(exc: BackupError):
    from disaster_ai.cli import DeskError

    return DeskError(str(exc))


def _human(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KiB"


@click.command("backup")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="A folder for disaster-ai-<time>.tar.gz, or the archive's file name (default: BACKUP_DIR).",
)
@click.option(
    "--keep",
    type=int,
    default=None,
    help="Keep this many archives in the folder, removing older ones (default: BACKUP_KEEP; 0: all).",
)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def backup_command(output, keep, as_json):
    """Back up the database and the instance folder (uploads, config, secret key) into one
    tar.gz with a manifest of checksums; safe while the desk runs."""
    app = current_app._get_current_object()
    keep = app.config["BACKUP_KEEP"] if keep is None else keep
    try:
        report = create_backup(app, output, keep=keep)
    except BackupError as exc:
        raise _fail(exc) from None
    audit.record(
        "system.backup",
        detail={"path": report.path, "size": report.size, "files": report.files},
        actor=SYSTEM_ACTOR,
    )
    text = _(
        "Backed up the %(database)s database and %(files)s files to %(path)s (%(size)s, "
        "%(seconds)s s).",
        database=report.database,
        files=report.files,
        path=report.path,
        size=_human(report.size),
        seconds=f"{report.seconds:.1f}",
    )
    if report.removed:
        text += "\n" + _("Removed %(count)s older backups.", count=len(report.removed))
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(text)


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def restore_command(archive, force, as_json):
    """Restore a backup made by `disaster-ai backup` into this instance: checks every checksum
    first, refuses a database that holds data unless --force, migrates an older backup. Stop
    the desk's processes (web, worker, scheduler) first."""
    app = current_app._get_current_object()
    try:
        report = restore_backup(app, archive, force=force)
    except BackupError as exc:
        raise _fail(exc) from None
    audit.record(
        "system.restore",
        detail={"archive": report.archive, "created_at": report.created_at, "force": force},
        actor=SYSTEM_ACTOR,
    )
    lines = [
        _(
            "Restored the backup of %(created_at)s: the %(database)s database and %(files)s files.",
            created_at=report.created_at,
            database=report.database,
            files=report.files,
        )
    ]
    if report.migrated:
        lines.append(_("The backup was older than this version; the database was migrated."))
    if report.kept:
        lines.append(
            _("This instance's config.py was kept; the backed-up one is config.py.from-backup.")
        )
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(lines))
