"""The frozen snapshot of a bulletin: everything rendering needs, taken once when it is issued.

``take_snapshot`` reads the live situation (``dai_bulletin_situation``: the situation app's digest
and map), the notices in force (``dai_notices_in_force``) and the plugin sections
(``dai_bulletin_sections``), and returns a JSON-ready dict plus the map PNG.
Rendering (render.py) reads nothing else, so bulletin N re-renders to the same bytes after the
live data has changed. The schema is described in docs/bulletins.md.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import asdict, is_dataclass
from datetime import datetime

from disaster_ai import levels
from disaster_ai.apps.bulletins.types import BulletinContext, BulletinSection
from disaster_ai.storage.base import JST

log = logging.getLogger(__name__)

SCHEMA = "disaster-ai/bulletin/1"
MAX_SECTION_ITEMS = 200
MAX_SECTION_TEXT = 4000

# 避難情報 names are fixed by level (STANDARDS.md §2.1): a provider's own wording is not copied,
# so a pre-2021 name (STANDARDS.md §2.2) can never reach a bulletin.
NOTICE_LEVELS = levels.names("ja")  # the one registry (disaster_ai.levels)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in Japan time, whole seconds, with ``+09:00`` (STANDARDS.md §1.4)."""
    if value is None:
        return None
    return value.astimezone(JST).replace(microsecond=0).isoformat()


# --- the situation -------------------------------------------------------------------------


def situation_part(pm, session, hazard, since, now, *, with_map=True) -> tuple[dict, bytes | None]:
    """(digest of the situation document, map PNG) from ``dai_bulletin_situation`` (the
    situation app gives it): the first answer in the hook order; a failing implementation is
    logged and the next one asked. Never raises: without an answer the part is
    ``{"available": False, "error": …}`` and the bulletin is still issued."""
    from disaster_ai.plugins import call_each

    caller = getattr(pm.hook, "dai_bulletin_situation", None)
    if caller is None or not caller.get_hookimpls():
        log.warning("no situation for bulletins: no plugin implements dai_bulletin_situation")
        return {"available": False, "error": "situation app not enabled"}, None
    failures = []
    for outcome in call_each(
        pm,
        "dai_bulletin_situation",
        consequence="the next one is asked",
        first_answer=True,  # the situation is computed once, by the first that answers
        session=session,
        hazard=hazard,
        since=since,
        now=now,
        with_map=with_map,
    ):
        if outcome.error is not None:
            failures.append(f"{outcome.plugin}: {_error_text(outcome.error)}")
        elif outcome.value is not None:
            digest, png = outcome.value
            return dict(digest), png
    error = "; ".join(failures)[:500] if failures else "situation app not enabled"
    return {"available": False, "error": error}, None


def _error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()[:500]


# --- hooks ---------------------------------------------------------------------------------


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


def closed_shelter_conflicts(items: list[dict]) -> list[dict]:
    """Notices in force that name shelters that are not open: one entry per shelter, with the
    districts sent there (the bulletin says so while it lasts)."""
    out: dict[str, dict] = {}
    for n in items:
        for name in n.get("closed_shelters") or []:
            entry = out.setdefault(name, {"shelter": name, "districts": [], "level": n["level"]})
            if n["district_name"] not in entry["districts"]:
                entry["districts"].append(n["district_name"])
            entry["level"] = max(entry["level"], n["level"])
    return list(out.values())


def sections_part(pm, context: BulletinContext) -> tuple[list[dict], list[dict]]:
    """(sections, failures). A failing or malformed implementation is left out and reported."""
    per_plugin, failures = [], []
    for impl in pm.hook.dai_bulletin_sections.get_hookimpls():  # oldest registration first
        try:
            returned = impl.function(context=context) if impl.argnames else impl.function()
            per_plugin.append([_section(impl.plugin_name, s) for s in (returned or [])])
        except Exception as exc:
            log.exception("plugin %s failed in dai_bulletin_sections", impl.plugin_name)
            failures.append({"plugin": impl.plugin_name, "error": _error_text(exc)})
    return [section for sections in per_plugin for section in sections], failures


def _section(plugin: str, section) -> dict:
    if isinstance(section, dict):
        section = BulletinSection(**section)
    if not isinstance(section, BulletinSection):
        raise TypeError(f"expected BulletinSection, got {type(section).__name__}")
    if not str(section.title).strip():
        raise ValueError("a bulletin section needs a title")
    return {
        "plugin": plugin,
        "key": str(section.key or ""),
        "title": str(section.title)[:200],
        "body": str(section.body or "")[:MAX_SECTION_TEXT],
        "items": [str(item)[:MAX_SECTION_TEXT] for item in section.items][:MAX_SECTION_ITEMS],
    }
