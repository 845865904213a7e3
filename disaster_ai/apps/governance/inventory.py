"""The model inventory: every AI component from ``dai_ai_components``, with the sha256 of its
real weight files.

Hashing is lazy: a digest is computed only when asked (``compute=True``: the CLI, the
``governance.hash_weights`` job behind the page's button) and cached in
``governance_weight_digests``, valid while every file keeps its size and modification time.
Reading the inventory otherwise never touches the weight files' contents.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path

from sqlalchemy import select

from disaster_ai.plugins import collect_by_plugin
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import now
from disaster_ai.types import DATA_CLASSES, AIComponent

log = logging.getLogger(__name__)

CHUNK = 1 << 20
HASH_JOB = "governance.hash_weights"


def components(app) -> list[tuple[str, AIComponent]]:
    """(plugin, component) for every component the loaded plugins declare, sorted by id; a
    malformed one is logged and left out."""
    found = []
    for plugin, item in collect_by_plugin(
        app.extensions["disaster_ai"], "dai_ai_components", app=app
    ):
        try:
            component = item if isinstance(item, AIComponent) else AIComponent(**dict(item))
            component = _normalised(component)
        except (TypeError, ValueError) as exc:
            log.error("plugin %s declared a malformed AI component %r: %s", plugin, item, exc)
            continue
        found.append((plugin, component))
    return sorted(found, key=lambda pair: pair[1].id)


def _normalised(component: AIComponent) -> AIComponent:
    unknown = set(component.data_classes) - set(DATA_CLASSES)
    if unknown or not component.id:
        raise ValueError(f"unknown data classes {sorted(unknown)} or no id")
    return dataclasses.replace(
        component,
        weights=tuple(str(p) for p in component.weights),
        apps=tuple(component.apps),
        features=tuple(component.features),
        data_classes=tuple(component.data_classes),
    )


def component_by_id(app, component_id: str) -> AIComponent | None:
    for _plugin, component in components(app):
        if component.id == component_id:
            return component
    return None


def _key(paths: tuple[str, ...]) -> str:
    return hashlib.sha256("\n".join(paths).encode("utf-8")).hexdigest()


def _signature(paths: tuple[str, ...]) -> str | None:
    """path|size|mtime_ns of each file, or None when one is missing."""
    parts = []
    for path in paths:
        try:
            stat = Path(path).stat()
        except OSError:
            return None
        if not Path(path).is_file():
            return None
        parts.append(f"{path}|{stat.st_size}|{stat.st_mtime_ns}")
    return "\n".join(parts)


def hash_files(paths: tuple[str, ...]) -> dict:
    """Read each file once: its own sha256, and the sha256 of all of them concatenated in order
    (the digest of weights split over several files, e.g. the two packaged Whisper parts)."""
    whole = hashlib.sha256()
    files = []
    total = 0
    for path in paths:
        own = hashlib.sha256()
        size = 0
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                own.update(chunk)
                whole.update(chunk)
                size += len(chunk)
        files.append({"path": path, "sha256": own.hexdigest(), "bytes": size})
        total += size
    return {"sha256": whole.hexdigest(), "files": files, "bytes": total}


def digest(session, paths: tuple[str, ...], *, compute: bool) -> dict | None:
    """The cached digest of ``paths`` (computed and stored when ``compute`` and missing or
    stale); None when not computed yet. ``{"sha256", "files", "bytes", "computed_at"}`` or
    ``{"missing": True}`` when a file does not exist."""
    from disaster_ai.apps.governance.models import WeightDigest

    if not paths:
        return None
    signature = _signature(paths)
    if signature is None:
        return {"missing": True}
    key = _key(paths)
    row = session.scalar(select(WeightDigest).where(WeightDigest.key == key))
    if row is not None and row.signature == signature:
        return _digest_dict(row)
    if not compute:
        return None
    result = hash_files(paths)
    if row is None:
        row = WeightDigest(key=key)
        session.add(row)
    row.signature = signature
    row.sha256 = result["sha256"]
    row.files = result["files"]
    row.bytes = result["bytes"]
    row.computed_at = now()
    session.flush()
    return _digest_dict(row)


def _digest_dict(row) -> dict:
    return {
        "sha256": row.sha256,
        "files": list(row.files or []),
        "bytes": row.bytes,
        "computed_at": row.computed_at.isoformat(),
    }


def inventory(app, *, compute: bool = False) -> list[dict]:
    """Every component as a plain dict (the page, ``--json``), with ``plugin``, ``digest``
    (None: not computed yet) and ``verified`` (the digest equals ``weights_sha256``: True,
    differs: False, unknown: None)."""
    rows = []
    with session_scope(get_storage(app)) as session:
        for plugin, component in components(app):
            entry = dataclasses.asdict(component)
            entry["weights"] = list(component.weights)
            for name in ("apps", "features", "data_classes"):
                entry[name] = list(entry[name])
            entry["plugin"] = plugin
            found = digest(session, component.weights, compute=compute)
            entry["digest"] = found
            entry["verified"] = None
            if found and found.get("sha256") and component.weights_sha256:
                entry["verified"] = found["sha256"] == component.weights_sha256
            rows.append(entry)
    return rows


def hash_job(ctx) -> dict:
    """The ``governance.hash_weights`` job: compute the digests still missing."""
    done = inventory(ctx.app, compute=True)
    hashed = [row["id"] for row in done if row["digest"] and row["digest"].get("sha256")]
    ctx.progress(100, "")
    return {"hashed": hashed}
