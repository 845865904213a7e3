"""Folder-drop ingest for LGWAN sites: another system copies the telegrams (XML files) into a
folder; ``jma.folder`` (every 30 s, when ``drop_folder`` is set) and ``disaster-ai jma ingest
FOLDER`` take them in. A telegram already stored (same bytes) is not stored again."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from disaster_ai.desk import Desk, current_desk

from . import NAME
from .parse import NotATelegram
from .store import ingest

log = logging.getLogger(__name__)
SETTLE_SECONDS = 2  # a file written less than this ago may still be being copied in


def ingest_folder(desk: Desk, folder: str | Path, *, move: bool = False) -> list[dict]:
    """Every ``*.xml`` file of ``folder`` (sorted by name). With ``move``, a file taken in goes
    to ``processed/`` and one that is not a telegram to ``rejected/`` (so the folder empties)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no such folder: {folder}")
    results = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".xml"):
        if move and time.time() - path.stat().st_mtime < SETTLE_SECONDS:
            continue
        try:
            row, created = ingest(desk, path.read_bytes(), file_name=path.name, source="folder")
            result = {
                "file": path.name,
                "result": "stored" if created else "duplicate",
                "id": row.id,
                "type": row.data_type,
                "status": row.status,
                "info_type": row.info_type,
                "ours": bool(row.items),
            }
            target = "processed"
        except NotATelegram as exc:
            result = {"file": path.name, "result": "error", "error": str(exc)}
            target = "rejected"
        results.append(result)
        if move:
            (folder / target).mkdir(exist_ok=True)
            shutil.move(str(path), str(folder / target / path.name))
    return results


def folder_job(folder: str) -> dict:
    """The scheduled job ``jma.folder``."""
    desk = current_desk(NAME)
    results = ingest_folder(desk, folder, move=True)
    counts = {
        "stored": sum(r["result"] == "stored" for r in results),
        "duplicate": sum(r["result"] == "duplicate" for r in results),
        "rejected": sum(r["result"] == "error" for r in results),
    }
    if results:
        desk.audit("jma.folder", target=str(folder)[:255], detail=counts)
    return counts
