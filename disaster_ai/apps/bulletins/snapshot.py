"""The frozen snapshot of a bulletin: everything rendering needs, taken once when it is issued.

``take_snapshot`` reads the live situation (through the situation app's ``compute_situation`` /
``build_situation`` and ``render_png``), the notices in force (``dai_notices_in_force``) and the
plugin sections (``dai_bulletin_sections``), and returns a JSON-ready dict plus the map PNG.
Rendering (render.py) reads nothing else, so bulletin N re-renders to the same bytes after the
live data has changed. The schema is described in docs/bulletins.md.
"""

from __future__ import annotations

import io
import logging
import traceback
from dataclasses import asdict, is_dataclass
from datetime import datetime

from disaster_ai import levels
from disaster_ai.apps.bulletins.types import BulletinContext, BulletinSection
from disaster_ai.storage.base import JST

log = logging.getLogger(__name__)

SCHEMA = "disaster-ai/bulletin/1"
MAX_LIFE_THREAT_LISTED = 50
MAX_HOTSPOTS_LISTED = 10
MAX_SECTION_ITEMS = 200
MAX_SECTION_TEXT = 4000

# 避難情報 names are fixed by level (STANDARDS.md §2.1): a provider's own wording is not copied,
# so a pre-2021 name (STANDARDS.md §2.2) can never reach a bulletin.
NOTICE_LEVELS = levels.names("ja")  # the one registry (disaster_ai.levels)
SHELTER_STATE_JA = {
    "unsafe": "開設中・想定区域内（危険）",
    "usable": "開設中・利用可能",
    "open_not_designated": "開設中・当該災害の指定なし",
    "open": "開設中",
    "closed": "未開設",
}


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in Japan time, whole seconds, with ``+09:00`` (STANDARDS.md §1.4)."""
    if value is None:
        return None
    return value.astimezone(JST).replace(microsecond=0).isoformat()


# --- the situation -------------------------------------------------------------------------


def situation_part(session, hazard, since, now, *, with_map=True) -> tuple[dict, bytes | None]:
    """(digest of the situation document, map PNG). Never raises: a missing or failing situation
    app gives ``{"available": False, "error": …}`` so that a bulletin can still be issued."""
    try:
        from disaster_ai.apps.situation import summary
    except ImportError as exc:  # the situation app is not installed in this build
        log.warning("situation app unavailable for bulletins: %s", exc)
        return {"available": False, "error": "situation app not installed"}, None
    situation = None
    try:
        if hasattr(summary, "compute_situation"):
            situation = summary.compute_situation(session, hazard, since, now)
            doc = situation.doc
        else:
            doc = summary.build_situation(session, hazard, since, now)
    except Exception as exc:
        log.exception("situation document failed; bulletin issued without it")
        return {"available": False, "error": _error_text(exc)}, None
    digest = digest_situation(doc, summary)
    digest["life_threatening"] = _life_threatening(session, situation, summary)
    png = None
    if with_map:
        try:
            buffer = io.BytesIO()
            summary.render_png(situation if situation is not None else doc, buffer)
            png = buffer.getvalue()
        except Exception:
            log.exception("situation map failed; bulletin issued without it")
    return digest, png


def _error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()[:500]


def digest_situation(doc: dict, summary=None) -> dict:
    """The parts of the situation document a bulletin shows, with Japanese names resolved now
    (so rendering needs no lookup tables that could change)."""
    cat_ja = getattr(summary, "CATEGORY_JA", {}) if summary else {}
    hz_ja = getattr(summary, "HAZARD_JA", {}) if summary else {}
    inc = doc["incidents"]

    def counts(mapping):
        if mapping is None:
            return None
        return [
            {"code": code, "name": cat_ja.get(code, code), "count": int(n)}
            for code, n in sorted(mapping.items(), key=lambda item: (-item[1], item[0]))
        ]

    districts = [
        {
            "key": d["key"],
            "name": d["name"],
            "total": d["incidents"]["total"],
            "active": d["incidents"]["active"],
            "life_threat": d["incidents"]["life_threat"],
            "vulnerable": d["incidents"]["vulnerable"],
            "new_since": d["incidents"]["new_since"],
            "by_category": counts(d["incidents"]["by_category"]),
        }
        for d in doc["districts"]
        if d["incidents"]["total"] or d["incidents"]["new_since"]
    ]
    districts.sort(key=lambda d: (-d["life_threat"], -d["active"], -d["total"], d["key"]))
    sh = doc["shelters"]
    items = sh["items"]
    shelters = {
        "hazard": sh.get("hazard"),
        "total": sh["total"],
        "counts": sh["counts"],
        "designated": sh.get("designated"),
        "designated_closed": sh.get("designated_closed"),
        "designated_in_zone": sh.get("designated_in_zone"),
        "no_designated_shelter": bool(sh.get("no_designated_shelter")),
        "occupancy": {
            k: sh["occupancy"][k] for k in ("open", "people", "capacity", "open_with_capacity")
        },
        "full": [s["name"] for s in items if s["key"] in set(sh["occupancy"].get("full") or [])],
        "open": [
            {
                "key": s["key"],
                "name": s["name"],
                "state": s["state"],
                "state_ja": SHELTER_STATE_JA.get(s["state"], s["state"]),
                "zone_rank": s.get("zone_rank"),
                "occupancy": s["occupancy"],
                "capacity": s.get("capacity"),
            }
            for s in items
            if s["is_open"]
        ],
    }
    hazards = []
    for code, h in (doc["exposure"].get("hazards") or {}).items():
        top = sorted(
            (d for d in doc["districts"] if (d["exposure"].get(code) or {}).get("people")),
            key=lambda d: (-d["exposure"][code]["people"], d["key"]),
        )[:5]
        hazards.append(
            {
                "code": code,
                "name": hz_ja.get(code, code),
                "people": h["people"],
                "districts_affected": h["districts_affected"],
                "top": [{"name": d["name"], "people": d["exposure"][code]["people"]} for d in top],
            }
        )
    hs = doc["hotspots"]
    hazard = doc.get("hazard")
    return {
        "available": True,
        "generated_at": doc["generated_at"],
        "since": doc["since"],
        "municipality": doc.get("municipality"),
        "hazard": {"code": hazard["code"], "name": hazard.get("name_ja") or hazard["code"]}
        if hazard
        else None,
        "incidents": {
            **{
                k: inc[k]
                for k in (
                    "total",
                    "active",
                    "resolved",
                    "life_threat",
                    "vulnerable",
                    "people",
                    "new_since",
                    "outside_districts",
                    "without_location",
                )
            },
            "by_category": counts(inc["by_category"]),
            "new_by_category": counts(inc["new_by_category"]),
        },
        "districts": districts,
        "shelters": shelters,
        "exposure": {
            "population_source": list(doc["exposure"].get("population_source") or []),
            "hazards": hazards,
        },
        "hotspots": {
            "count": hs["count"],
            "radius_m": hs["radius_m"],
            "window_minutes": hs["window_minutes"],
            "min_incidents": hs["min_incidents"],
            "items": [
                {
                    "id": h["id"],
                    "district": (h.get("district") or {}).get("name"),
                    "count": h["count"],
                    "life_threat": h["life_threat"],
                    "first_at": h["first_at"],
                    "last_at": h["last_at"],
                    "categories": [
                        {"name": cat_ja.get(c, c), "count": n} for c, n in h["by_category"].items()
                    ],
                }
                for h in hs["items"][:MAX_HOTSPOTS_LISTED]
            ],
        },
        "attribution": list(doc.get("attribution") or []),
    }


def _life_threatening(session, situation, summary) -> dict:
    """Open (unverified or confirmed) life-threatening incidents, newest first: the district from
    the situation analysis, the place name from the incident record."""
    if situation is None:
        return {"total": None, "items": []}
    try:
        import numpy as np
        import pandas as pd
        from sqlalchemy import select

        from disaster_ai.apps.situation.models import Incident

        inc = situation.incidents
        chosen = np.flatnonzero(inc.life_threat & inc.active)
        order = chosen[np.lexsort((inc.ids[chosen], -inc.occurred[chosen]))]
        listed = order[:MAX_LIFE_THREAT_LISTED]
        names = situation.layers.districts["name"].tolist()
        ids = [int(i) for i in inc.ids[listed]]
        places = dict(
            session.execute(
                select(Incident.id, Incident.place_name).where(Incident.id.in_(ids))
            ).all()
        )
        cat_ja = getattr(summary, "CATEGORY_JA", {})
        items = []
        for pos in listed.tolist():
            code = inc.categories[inc.category[pos]]
            where = int(situation.district[pos])
            items.append(
                {
                    "id": int(inc.ids[pos]),
                    "category": code,
                    "category_ja": cat_ja.get(code, code),
                    "status": inc.statuses[inc.status[pos]],
                    "occurred_at": summary.iso(
                        pd.Timestamp(int(inc.occurred[pos]), unit="ns", tz="UTC")
                    ),
                    "district": names[where] if where >= 0 else None,
                    "place": places.get(int(inc.ids[pos])) or "",
                    "people": None if np.isnan(inc.people[pos]) else int(inc.people[pos]),
                    "vulnerable": bool(inc.vulnerable[pos]),
                }
            )
        return {"total": len(chosen), "items": items}
    except Exception as exc:  # the situation app's internals changed: keep the counts only
        log.exception("could not list life-threatening incidents")
        return {"total": None, "items": [], "error": _error_text(exc)}


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
