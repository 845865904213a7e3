"""What monitoring reads: the job queue per kind, the heartbeats of the scheduler and the
workers, and the free space of the folders that hold the desk's data. ``/metrics``
(disaster_ai/web/metrics.py) exposes it as Prometheus text; ``/healthz`` uses
:func:`disk_check`.

The data folders are the instance folder (the database of SQLite, config, secret key, and the
uploaded call recordings in ``calls/``) and each folder directly inside it that lies on another
filesystem (a mount point, or a link to another disk): such a folder can fill up on its own.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import func, select

from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import now
from disaster_ai.storage.models import Heartbeat, Job
from disaster_ai.types import HealthCheck

JOB_STATES = ("queued", "running", "succeeded", "failed")


@dataclass(frozen=True)
class Disk:
    folder: str  # "instance", or the name of a folder inside it ("calls")
    path: str
    free: int
    total: int


def data_folders(app) -> dict[str, Path]:
    """``{"instance": <instance>, "calls": <instance>/calls, …}``: the instance folder, and each
    folder directly inside it on another filesystem."""
    root = Path(app.instance_path)
    folders = {"instance": root}
    try:
        device = root.stat().st_dev
        entries = sorted(os.scandir(root), key=lambda entry: entry.name)
    except OSError:
        return folders
    for entry in entries:
        try:
            if entry.is_dir() and Path(entry.path).stat().st_dev != device:
                folders[entry.name] = Path(entry.path)
        except OSError:
            continue
    return folders


def disks(app) -> list[Disk]:
    found = []
    for name, path in data_folders(app).items():
        try:
            usage = shutil.disk_usage(path)
        except OSError:
            continue
        found.append(Disk(name, str(path), usage.free, usage.total))
    return found


def disk_check(app) -> HealthCheck:
    """Critical: with too little space an upload or a bulletin fails to be written."""
    minimum = int(app.config["DISK_MIN_FREE_MB"]) * 1024 * 1024
    found = disks(app)
    low = [disk for disk in found if disk.free < minimum]
    mib = {disk.folder: disk.free // (1024 * 1024) for disk in found}
    if low:
        detail = _(
            "Low disk space: %(folders)s (under %(minimum)s MiB free).",
            folders=", ".join(f"{disk.folder} {mib[disk.folder]} MiB" for disk in low),
            minimum=app.config["DISK_MIN_FREE_MB"],
        )
        return HealthCheck("disk", False, detail)
    return HealthCheck(
        "disk", True, ", ".join(f"{name} {free} MiB free" for name, free in mib.items())
    )


@dataclass(frozen=True)
class QueueStats:
    counts: dict[tuple[str, str], int]  # (kind, state) → jobs
    oldest_due: dict[str, float]  # kind → seconds the oldest due queued job has waited
    scheduler_age: float | None  # seconds since the scheduler's last heartbeat
    worker_age: float | None  # seconds since the freshest worker heartbeat
    workers_alive: int  # workers that beat within JOB_STALE_SECONDS


def _age(moment: datetime | None, at: datetime) -> float | None:
    return None if moment is None else max(0.0, (at - moment).total_seconds())


def queue_stats(app) -> QueueStats:
    at = now()
    stale = float(app.config["JOB_STALE_SECONDS"])
    with session_scope(get_storage(app)) as session:
        counts = {
            (kind, state): count
            for kind, state, count in session.execute(
                select(Job.kind, Job.state, func.count()).group_by(Job.kind, Job.state)
            )
        }
        oldest = {
            kind: _age(first, at) or 0.0
            for kind, first in session.execute(
                select(Job.kind, func.min(Job.run_after))
                .where(Job.state == "queued", Job.run_after <= at)
                .group_by(Job.kind)
            )
        }
        beats = list(session.execute(select(Heartbeat.kind, Heartbeat.at)))
    scheduler = max((moment for kind, moment in beats if kind == "scheduler"), default=None)
    workers = [moment for kind, moment in beats if kind == "worker"]
    return QueueStats(
        counts=counts,
        oldest_due=oldest,
        scheduler_age=_age(scheduler, at),
        worker_age=_age(max(workers, default=None), at),
        workers_alive=sum(1 for moment in workers if _age(moment, at) < stale),
    )
