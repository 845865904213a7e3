"""The notices in force (避難情報), as every app reads them: the core's contract hook
``dai_notices_in_force`` (the notices app provides it, a municipality may instead), checked and
sorted by level. Bulletins freeze it into their snapshot, reports list it; plugins read it as
``desk.notices.in_force(at)``.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import asdict, is_dataclass
from datetime import datetime

from disaster_ai import levels

log = logging.getLogger(__name__)

# 避難情報 names are fixed by level (STANDARDS.md §2.1): a provider's own wording is not copied,
# so a pre-2021 name (STANDARDS.md §2.2) can never reach a bulletin.
NOTICE_LEVELS = levels.names("ja")  # the one registry (disaster_ai.levels)


def iso(value: datetime) -> str:
    """ISO 8601 in Japan time, whole seconds, with ``+09:00`` (STANDARDS.md §1.4)."""
    from disaster_ai.storage.base import JST

    return value.astimezone(JST).replace(microsecond=0).isoformat()


def _error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()[:500]


def notices_part(pm, at: datetime, hazard_names: dict | None = None) -> dict:
    """Notices in force, from every ``dai_notices_in_force`` implementation, by level (5 first)."""
    impls = pm.hook.dai_notices_in_force.get_hookimpls()
    if not impls:
        return {"status": "none_recorded", "items": [], "errors": []}
    items, errors = [], []
    for impl in impls:
        try:
            returned = impl.function(at=at) if "at" in impl.argnames else impl.function()
        except Exception as exc:
            log.exception("plugin %s failed in dai_notices_in_force", impl.plugin_name)
            errors.append({"plugin": impl.plugin_name, "error": _error_text(exc)})
            continue
        for entry in returned or []:
            notice, problem = _notice(entry, hazard_names or {})
            if problem:
                errors.append({"plugin": impl.plugin_name, "error": problem})
            else:
                items.append(notice)
    items.sort(key=lambda n: (-n["level"], n["district_key"], n["hazard"], n["issued_at"] or ""))
    return {"status": "error" if errors else "ok", "items": items, "errors": errors}


def _notice(entry, hazard_names: dict) -> tuple[dict | None, str | None]:
    if is_dataclass(entry):
        entry = asdict(entry)
    if not isinstance(entry, dict):
        return None, f"not a dict: {type(entry).__name__}"
    level = entry.get("level")
    if isinstance(level, bool) or not isinstance(level, int) or level not in NOTICE_LEVELS:
        return None, f"level must be 3, 4 or 5, got {level!r} ({entry.get('district_name')!r})"
    issued = entry.get("issued_at")
    if isinstance(issued, datetime):
        if issued.tzinfo is None:
            return None, "issued_at must be timezone-aware"
        issued = iso(issued)
    elif issued is not None:
        try:
            parsed = datetime.fromisoformat(str(issued))
        except ValueError:
            return None, f"issued_at is not ISO 8601: {issued!r}"
        if parsed.tzinfo is None:
            return None, "issued_at must carry a UTC offset"
        issued = iso(parsed)
    return {
        "district_key": str(entry.get("district_key") or ""),
        "district_name": str(entry.get("district_name") or entry.get("district_key") or ""),
        "level": level,
        "name": NOTICE_LEVELS[level],
        "hazard": str(entry.get("hazard") or ""),
        "hazard_name": hazard_names.get(entry.get("hazard"), str(entry.get("hazard") or "")),
        "issued_at": issued,
        # shelters the notice sends people to that are not open (a conflict the desk must fix)
        "closed_shelters": [str(s) for s in entry.get("closed_shelters") or [] if str(s)],
    }, None
