"""`disaster-ai backup` and `disaster-ai restore`: a desk with users, an incident, a notice and an
uploaded call is backed up, restored into a fresh instance folder (and a fresh database), and
every row and file compares equal. SQLite and PostgreSQL (pg_dump/pg_restore) each once; the
refusals (a damaged archive, a database holding data, a missing pg_dump) once on SQLite."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import create_engine, inspect, select

from disaster_ai.config import REPO_ROOT
from disaster_ai.storage import Base, get_storage
from disaster_ai.testing import POSTGRES_URL, skip_or_fail

WAV = Path(REPO_ROOT) / "sample_data" / "calls" / "audio" / "d01.wav"
NOTICE = {
    "hazard": "inland_flood",
    "action": "発令",
    "level": 4,
    "districts": ["高新田自治会", "焼津第6"],
    "reason": "大雨により、道路や住宅が浸水するおそれが高まっています。",
    "issued_at": "2026-07-01T20:05:00+09:00",
    "exercise": True,
}
INCIDENT = {
    "category": "rescue",
    "life_threat": True,
    "people": 2,
    "source": "call",
    "occurred_at": "2026-09-23T06:10:00+09:00",
    "lon": 138.3212,
    "lat": 34.8601,
    "description": "2階に取り残され",
}


def invoke(app, args):
    from disaster_ai.cli import build_cli

    info = ScriptInfo(create_app=lambda: app, load_dotenv_defaults=False)
    return CliRunner().invoke(build_cli(app), args, obj=info, catch_exceptions=False)


def fill_desk(app, client, api_headers):
    """Users (the fixture), the Yaizu kit, an incident, a notice, an uploaded call, a config.py."""
    operator = api_headers("operator")
    assert client.post("/api/v1/incidents", json=INCIDENT, headers=operator).status_code == 201
    assert client.post("/api/v1/notices", json=NOTICE, headers=operator).status_code == 201
    upload = client.post(
        "/api/v1/calls",
        data={"files": (io.BytesIO(WAV.read_bytes()), "d01.wav")},
        headers=operator,
        content_type="multipart/form-data",
    )
    assert upload.status_code == 202, upload.get_json()
    (Path(app.instance_path) / "config.py").write_text(
        'BULLETIN_ISSUER = "焼津市災害対策本部"\n', encoding="utf-8"
    )
    key = Path(app.instance_path) / "secret_key"  # the tests set SECRET_KEY; a desk has this file
    key.write_text(uuid.uuid4().hex)
    (Path(app.instance_path) / "models").mkdir(exist_ok=True)
    (Path(app.instance_path) / "models" / "weights.bin").write_bytes(b"\0" * 1024)


def rows(app) -> dict[str, list]:
    """Every table's rows in primary-key order."""
    found = {}
    with get_storage(app).engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        for table in Base.metadata.sorted_tables:  # another test may have loaded more models
            if table.name not in present:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            found[table.name] = [
                tuple(row) for row in connection.execute(select(table).order_by(*order))
            ]
    return found


def files(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def round_trip(app, client, api_headers, restored_app):
    fill_desk(app, client, api_headers)
    source_rows, source_files = rows(app), files(Path(app.instance_path) / "calls")
    assert len(source_files) == 1 and source_rows["users"] and source_rows["notices"]
    assert source_rows["incidents"]

    made = invoke(app, ["backup", "--json"])
    assert made.exit_code == 0, made.output
    report = json.loads(made.output)
    archive = Path(report["path"])
    assert archive.parent == Path(app.instance_path) / "backups"
    assert archive.stat().st_mode & 0o077 == 0  # the archive holds the secret key
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert {"instance/config.py", "instance/secret_key"} <= names
    assert not any(n.startswith(("instance/models", "instance/backups")) for n in names)
    assert manifest["database"]["kind"] == get_storage(app).dialect
    assert manifest["schema"]["core"] == [get_storage(app).current_revision()]
    assert {f["path"] for f in manifest["files"]} == names - {"manifest.json"}

    result = invoke(restored_app, ["restore", str(archive)])
    assert result.exit_code == 0, result.output
    assert "復元しました" in result.output

    restored_rows = rows(restored_app)
    for table in ("audit_events", "audit_chain"):  # and restore's own entry
        assert restored_rows.pop(table)[:-1] == source_rows.pop(table)
    restored_rows.pop("heartbeats"), source_rows.pop("heartbeats")
    assert restored_rows == source_rows
    target = Path(restored_app.instance_path)
    assert files(target / "calls") == source_files
    assert (target / "secret_key").read_text() == (
        Path(app.instance_path) / "secret_key"
    ).read_text()
    assert "焼津市災害対策本部" in (target / "config.py").read_text(encoding="utf-8")
    assert not (target / "models").exists()
    verified = invoke(restored_app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    return archive


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_sqlite_backup_restores_into_a_fresh_instance(app, yaizu, client, api_headers, tmp_path):
    from disaster_ai.app import create_app

    restored = create_app(
        {**_test_config(app), "DATABASE_URL": None}, instance_path=str(tmp_path / "restored")
    )
    assert restored.config["DATABASE_URL"].startswith("sqlite:///" + str(tmp_path / "restored"))
    archive = round_trip(app, client, api_headers, restored)

    # a second restore over the data it just wrote is refused, unless --force
    again = invoke(restored, ["restore", str(archive)])
    assert again.exit_code == 2
    assert "--force" in again.output and "notices" in again.output
    assert invoke(restored, ["restore", str(archive), "--force"]).exit_code == 0
    get_storage(restored).dispose()


def _test_config(app) -> dict:
    keys = ("TESTING", "LOAD_ENTRY_POINTS", "PLUGINS_DIR", "LOG_LEVEL", "JOB_RETRY_BASE_SECONDS")
    return {key: app.config[key] for key in keys}


@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
def test_postgresql_backup_restores_into_a_fresh_database(
    app, yaizu, client, api_headers, tmp_path
):
    from disaster_ai.app import create_app
    from disaster_ai.testing import require_tool

    require_tool("pg_dump", "postgresql-client", "PostgreSQL backups")
    # the same schema name in a new database: what a rebuilt server looks like
    schema = app.config["DATABASE_URL"].rsplit("search_path%3D", 1)[1]
    name = "dai_restore_" + uuid.uuid4().hex[:10]
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # no CREATEDB right
        admin.dispose()
        skip_or_fail(f"cannot create a PostgreSQL database for the restore: {exc}")
    base = POSTGRES_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}?options=-csearch_path%3D{schema}"
    try:
        fresh = create_engine(url.split("?")[0])
        with fresh.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        fresh.dispose()
        restored = create_app(
            {**_test_config(app), "DATABASE_URL": url}, instance_path=str(tmp_path / "restored")
        )
        archive = round_trip(app, client, api_headers, restored)
        with tarfile.open(archive) as tar:
            assert "database/database.pgdump" in tar.getnames()
        get_storage(restored).dispose()
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_a_damaged_archive_restores_nothing(app, users, tmp_path):
    from disaster_ai.app import create_app

    (Path(app.instance_path) / "secret_key").write_text("our key")
    made = invoke(app, ["backup", "--output", str(tmp_path / "nightly.tar.gz"), "--json"])
    assert made.exit_code == 0, made.output
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(tmp_path / "nightly.tar.gz") as source, tarfile.open(damaged, "w:gz") as out:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == "instance/secret_key":
                data = b"someone else's key"
                member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    restored = create_app(
        {**_test_config(app), "DATABASE_URL": None}, instance_path=str(tmp_path / "restored")
    )
    key_before = (tmp_path / "restored" / "secret_key").read_text()
    result = invoke(restored, ["restore", str(damaged)])
    assert result.exit_code == 2
    assert "壊れています" in result.output and "instance/secret_key" in result.output
    assert "Traceback" not in result.output
    assert (tmp_path / "restored" / "secret_key").read_text() == key_before
    with get_storage(restored).engine.connect() as connection:
        assert not get_storage(restored).engine.dialect.has_table(connection, "users")
    not_a_backup = tmp_path / "other.tar.gz"
    with tarfile.open(not_a_backup, "w:gz") as out:
        out.addfile(tarfile.TarInfo("hello.txt"), io.BytesIO(b""))
    result = invoke(restored, ["restore", str(not_a_backup)])
    assert result.exit_code == 2 and "バックアップではありません" in result.output
    get_storage(restored).dispose()


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_keep_removes_the_oldest_archives(app, tmp_path):
    folder = tmp_path / "nightly"
    folder.mkdir()
    for day in ("20260101-030000", "20260102-030000", "20260103-030000"):
        (folder / f"disaster-ai-{day}.tar.gz").write_bytes(b"old")
    (folder / "notes.txt").write_text("mine")
    result = invoke(app, ["backup", "--output", str(folder), "--keep", "2", "--json"])
    assert result.exit_code == 0, result.output
    left = sorted(p.name for p in folder.iterdir())
    assert left[-1] == "notes.txt" and len(left) == 3
    assert left[0] == "disaster-ai-20260103-030000.tar.gz"


def test_without_pg_dump_the_sentence_says_what_to_install(app, monkeypatch, tmp_path):
    from disaster_ai import backup

    monkeypatch.setattr(backup.shutil, "which", lambda name: None)
    if get_storage(app).dialect == "sqlite":
        with app.app_context():
            with pytest.raises(backup.BackupError) as raised:
                backup._tool("pg_dump")
        message = str(raised.value)
    else:
        result = invoke(app, ["backup", "--output", str(tmp_path)])
        assert result.exit_code == 2
        message = result.output
    assert "pg_dump" in message and "postgresql-client" in message and "インストール" in message
