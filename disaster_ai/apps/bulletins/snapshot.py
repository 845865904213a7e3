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
from datetime import datetime

from disaster_ai.apps.bulletins.types import BulletinContext, BulletinSection
from disaster_ai.in_force import NOTICE_LEVELS, notices_part  # noqa: F401  (re-exported)
from disaster_ai.storage.base import JST

log = logging.getLogger(__name__)

SCHEMA = "disaster-ai/bulletin/1"
MAX_SECTION_ITEMS = 200
MAX_SECTION_TEXT = 4000


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
