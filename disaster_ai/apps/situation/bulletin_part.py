"""The situation part of a bulletin (被害状況 第N報), given to the bulletins app through its hook
``dai_bulletin_situation``: a digest of the situation document with the Japanese names resolved
now (so a bulletin re-renders from its snapshot alone), the open life-threatening incidents, and
the map PNG. The bulletins app never imports this app; without it a bulletin is issued with the
situation marked unavailable.
"""

from __future__ import annotations

import io
import logging
import traceback

log = logging.getLogger(__name__)

MAX_LIFE_THREAT_LISTED = 50
MAX_HOTSPOTS_LISTED = 10
SHELTER_STATE_JA = {
    "unsafe": "開設中・想定区域内（危険）",
    "usable": "開設中・利用可能",
    "open_not_designated": "開設中・当該災害の指定なし",
    "open": "開設中",
    "closed": "未開設",
}


def situation_part(session, hazard, since, now, *, with_map=True) -> tuple[dict, bytes | None]:
    """(digest of the situation document, map PNG). Never raises: a failing analysis gives
    ``{"available": False, "error": …}`` so that a bulletin can still be issued."""
    from disaster_ai.apps.situation import summary

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
