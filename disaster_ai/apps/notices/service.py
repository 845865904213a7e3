"""Notices business logic: scenario validation, shelter suggestion, drafting, the workflow
(draft → submitted → approved by someone else → issued), and the notices in force.

No ``request`` and no templates of the UI here (STYLE.md §5); the API, the CLI and the desk
pages all call these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import pandas as pd
import shapely
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from disaster_ai import audit
from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices import guard
from disaster_ai.apps.notices.models import Notice
from disaster_ai.apps.notices.renderers import Limits, RenderError, Templates, render_all
from disaster_ai.apps.notices.renderers import cap as cap_renderer
from disaster_ai.storage.base import JST, now
from disaster_ai.types import Actor

APP = "notices"
EDITABLE_CHANNELS = guard.JA_CHANNELS + ("en",)


class NoticeError(Exception):
    """A request the notices app refuses: HTTP status, a code, the field at fault, a message.

    ``code`` and ``field`` are machine-readable and never translated; ``message`` is built with
    flask_babel's gettext where it is raised, so it follows the request's language (Japanese
    by default, English with ``?lang=en`` or an English user; the CLI uses the default)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, **details):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details


@dataclass(frozen=True)
class Scenario:
    hazard: str
    action: str
    level: int
    districts: list
    reason: str = ""
    shelters: list | None = None
    issued_at: datetime | None = None
    exercise: bool = False
    name: str | None = None
    supersedes: int | None = None


# --- reference data ---------------------------------------------------------------------------


def _config():
    from flask import current_app, has_app_context

    return current_app.config if has_app_context() else {}


def reference_layers(session: Session):
    """The situation app's prepared layers (cached per active layer versions, shared with it)."""
    from disaster_ai.apps.situation import analysis
    from disaster_ai.apps.situation import layers as layer_store
    from disaster_ai.apps.situation.summary import Settings, _cache

    config = _config()
    settings = Settings.from_config(config or None)
    versions = {
        name: layer_store.active_version(session, name)
        for name in ("districts", "shelters", "hazard_zones")
    }
    if versions["districts"] is None:
        raise NoticeError(
            409,
            "no_districts",
            _("No district layer is loaded: import one (disaster-ai init --sample yaizu)."),
            "districts",
        )
    key = (
        tuple((name, v.id if v else None) for name, v in versions.items()),
        settings.crs,
        settings.cell_m,
    )
    cache = _cache()
    prepared = cache.get(key) if cache is not None else None
    if prepared is None:
        frames = {name: layer_store.load_layer(session, name) for name in versions}
        prepared = analysis.prepare_layers(
            frames["districts"],
            frames["shelters"],
            frames["hazard_zones"],
            crs=settings.crs,
            cell_m=settings.cell_m,
        )
        if cache is not None:
            cache.clear()
            cache[key] = prepared
    return prepared


def shelter_status(session: Session) -> pd.DataFrame:
    from disaster_ai.apps.situation.models import ShelterStatus

    rows = session.execute(
        select(
            ShelterStatus.shelter_key,
            ShelterStatus.is_open,
            ShelterStatus.occupancy,
            ShelterStatus.updated_at,
        )
    ).all()
    return pd.DataFrame.from_records(
        rows, columns=["shelter_key", "is_open", "occupancy", "updated_at"]
    )


def municipality(session: Session) -> dict:
    from disaster_ai.storage.models import Municipality

    row = session.scalar(select(Municipality).order_by(Municipality.id.desc()).limit(1))
    config = _config()
    name = config.get("NOTICE_ISSUER") or config.get("MUNICIPALITY_NAME") or (row and row.name)
    return {
        "name": name or "",
        "name_en": config.get("NOTICE_ISSUER_EN") or (row.name_en if row else "") or "",
        "lg_code": row.lg_code if row else "000000",
        "jis_code": row.jis_code if row else "",
    }


def universe(layers) -> guard.Universe:
    d, s = layers.districts, layers.shelters
    en = tuple(f.kana_to_romaji(k) for k in d["name_kana"] if k)
    return guard.Universe(
        tuple(d["name"]),
        en,
        tuple(n for n in s["name"] if n),
        tuple(f.hazards().values()),
    )


def district_ring(geometry, max_points: int = 100) -> tuple:
    """One district's ring (see :func:`district_rings`)."""
    return district_rings([geometry], max_points)[0]


def district_rings(geometries, max_points: int = 100) -> list[tuple]:
    """The outer ring of each district's largest part, as (lon, lat) rounded to 5 decimals
    (≈ 1 m), closed and simple, with ≤ max_points points each.

    The districts are simplified together as a coverage (shapely.coverage_simplify) with one
    tolerance, so neighbours keep one shared edge: simplified one by one they would overlap by
    hundreds of m², and CAP consumers would count the overlap as both areas."""
    polygons = [_largest_polygon(g) for g in geometries]
    present = [i for i, g in enumerate(polygons) if g is not None]
    rings: list[tuple] = [()] * len(polygons)
    tolerance = 0.00005
    for _attempt in range(12):
        simplified = shapely.coverage_simplify([polygons[i] for i in present], tolerance)
        candidates = [_clean_ring(_largest_polygon(g)) for g in simplified]
        if all(r and len(r) <= max_points for r in candidates):
            for i, ring in zip(present, candidates, strict=True):
                rings[i] = ring
            return rings
        tolerance *= 2
    for i in present:  # never reached on real districts; a closed, simple ring all the same
        hull = polygons[i].convex_hull.exterior.coords
        rings[i] = tuple((round(x, 5), round(y, 5)) for x, y in hull)
    return rings


def _largest_polygon(geometry):
    if geometry is None or geometry.is_empty:
        return None
    if geometry.geom_type == "MultiPolygon":
        geometry = max(geometry.geoms, key=lambda g: g.area)
    if geometry.geom_type != "Polygon":
        return None
    return shapely.Polygon(geometry.exterior)  # holes are not part of a CAP area


def _clean_ring(polygon) -> tuple:
    """Rounded, without repeated points; () when that leaves no closed simple ring."""
    if polygon is None or polygon.is_empty:
        return ()
    coords = [(round(x, 5), round(y, 5)) for x, y in polygon.exterior.coords]
    ring = [c for i, c in enumerate(coords) if i == 0 or c != coords[i - 1]]
    if len(ring) < 4 or ring[0] != ring[-1] or not shapely.LinearRing(ring).is_simple:
        return ()
    return tuple(ring)


# --- scenario validation ----------------------------------------------------------------------


def parse_scenario(data: dict) -> Scenario:
    """Check a scenario's own fields (no database): hazard, action, level/name, time."""
    if not isinstance(data, dict):
        raise NoticeError(400, "bad_request", _("The scenario must be a JSON object."), "body")
    hazard = str(data.get("hazard") or "").strip()
    registry = f.hazards()
    by_word = {h.ja: code for code, h in registry.items()}
    hazard = by_word.get(hazard, hazard)
    if hazard not in registry:
        raise NoticeError(
            422,
            "unknown_hazard",
            _(
                "Unknown hazard %(hazard)s: use one of %(choices)s.",
                hazard=repr(data.get("hazard")),
                choices=", ".join(f"{c} ({h.ja})" for c, h in registry.items()),
            ),
            "hazard",
        )
    action = {"issue": f.ISSUE, "lift": f.LIFT}.get(
        data.get("action"), data.get("action") or f.ISSUE
    )
    if action not in f.ACTIONS:
        raise NoticeError(
            422,
            "invalid_action",
            _("action must be 発令 or 解除, not %(action)s.", action=repr(action)),
            "action",
        )
    level = data.get("level")
    if isinstance(level, str) and level.strip().isdigit():
        level = int(level)
    if isinstance(level, bool) or not isinstance(level, int) or level not in f.LEVEL_NAMES:
        if level in (1, 2):
            message = _(
                "level must be 3 (高齢者等避難), 4 (避難指示) or 5 (緊急安全確保), not "
                "%(level)s: levels 1 and 2 are JMA information, not a municipal evacuation notice.",
                level=repr(level),
            )
        else:
            message = _(
                "level must be 3 (高齢者等避難), 4 (避難指示) or 5 (緊急安全確保), not %(level)s.",
                level=repr(level),
            )
        raise NoticeError(422, "invalid_level", message, "level")
    name = data.get("name")
    if name and name != f.LEVEL_NAMES[level]:
        if name in f.FORBIDDEN:
            message = _(
                "Level %(level)s is %(name)s, not %(given)s (a pre-2021 name that is no longer "
                "used).",
                level=level,
                name=f.LEVEL_NAMES[level],
                given=name,
            )
        else:
            message = _(
                "Level %(level)s is %(name)s, not %(given)s.",
                level=level,
                name=f.LEVEL_NAMES[level],
                given=name,
            )
        raise NoticeError(422, "level_name_mismatch", message, "name")
    districts = data.get("districts")
    if isinstance(districts, str):
        districts = [districts]
    if not districts or not isinstance(districts, list):
        raise NoticeError(422, "no_districts", _("Name at least one district."), "districts")
    issued_at = data.get("issued_at")
    if isinstance(issued_at, str) and issued_at:
        try:
            issued_at = datetime.fromisoformat(issued_at)
        except ValueError:
            raise NoticeError(
                422, "invalid_time", _("issued_at is not ISO 8601."), "issued_at"
            ) from None
    if issued_at is not None and (not isinstance(issued_at, datetime) or issued_at.tzinfo is None):
        raise NoticeError(
            422, "invalid_time", _("issued_at needs a UTC offset, e.g. +09:00."), "issued_at"
        )
    shelters = data.get("shelters")
    if isinstance(shelters, str):
        shelters = [shelters]
    supersedes = data.get("supersedes")
    return Scenario(
        hazard=hazard,
        action=action,
        level=level,
        districts=[str(d) for d in districts],
        reason=str(data.get("reason") or "").strip(),
        shelters=None if shelters is None else [str(s) for s in shelters],
        issued_at=issued_at.astimezone(JST).replace(microsecond=0) if issued_at else None,
        exercise=bool(data.get("exercise", False)),
        name=name,
        supersedes=int(supersedes) if supersedes not in (None, "") else None,
    )


def _match(frame: pd.DataFrame, wanted: list[str], suffix: str) -> tuple[list[int], list[str]]:
    keys = list(frame["key"])
    names = list(frame["name"])
    positions, unknown = [], []
    for item in wanted:
        item = item.strip()
        candidates = [i for i, k in enumerate(keys) if k == item]
        candidates = candidates or [i for i, n in enumerate(names) if n == item]
        candidates = candidates or [i for i, n in enumerate(names) if n == item + suffix]
        candidates = candidates or [
            i for i, n in enumerate(names) if suffix and n.removesuffix(suffix) == item
        ]
        if len(candidates) == 1:
            if candidates[0] not in positions:
                positions.append(candidates[0])
        else:
            unknown.append(item)
    return positions, unknown


def zone_hazard(hazard: str) -> str:
    """The situation hazard whose shelter designations and hazard zones decide whether a
    shelter suits a notice about ``hazard`` (``NoticeHazard.zone_hazard``, default the code)."""
    found = f.hazard(hazard)
    return (found.zone_hazard or found.code) if found is not None else hazard


def hazard_word(hazard: str) -> str:
    found = f.hazard(hazard)
    return found.ja if found is not None else hazard


def hazard_choices() -> list[dict]:
    """The merged hazard registry for forms and the API: code, words, reasons (in order)."""
    return [
        {
            "code": h.code,
            "ja": h.ja,
            "en": h.en,
            "easy_ja": h.easy_ja,
            "reasons": list(h.reasons),
            "cap_category": h.cap_category,
            "zone_hazard": h.zone_hazard or h.code,
        }
        for h in f.hazards().values()
    ]


def suggest_shelters(layers, status: pd.DataFrame, hazard: str, districts: list[int]) -> dict:
    """The nearest shelter for each target district that is open, designated for the hazard and
    outside that hazard's zone. When none is open, the nearest designated one outside the zone
    is proposed with ``must_open`` (NOTICE_SUGGEST_CLOSED_SHELTERS; the desk opens it as part
    of the order). When nothing is designated for the hazard, no shelter: the fallback."""
    from disaster_ai.apps.situation import analysis

    config = _config()
    allow_closed = bool(config.get("NOTICE_SUGGEST_CLOSED_SHELTERS", True))
    assessment = analysis.shelter_assessment(layers, status, zone_hazard(hazard))
    usable = (assessment["state"] == "usable").to_numpy()
    safe_closed = (
        assessment["designated"].to_numpy(dtype=bool)
        & ~assessment["in_zone"].to_numpy(dtype=bool)
        & ~assessment["is_open"].to_numpy(dtype=bool)
    )
    nearest_open = analysis.nearest_shelters(layers, usable)
    nearest_closed = analysis.nearest_shelters(layers, safe_closed)
    chosen: dict[int, dict] = {}
    warnings: list[str] = []
    hazard_ja = hazard_word(hazard)
    if zone_hazard(hazard) != hazard:  # e.g. ため池決壊 judged by the inland-flood layers
        hazard_ja = _(
            "%(hazard)s (judged as %(zone)s)",
            hazard=hazard_ja,
            zone=hazard_word(zone_hazard(hazard)),
        )
    designated_any = bool(assessment["designated"].any())
    for position in districts:
        district = layers.districts.iloc[position]
        pick = int(nearest_open.loc[position, "shelter"])
        distance = nearest_open.loc[position, "distance_m"]
        must_open = False
        if pick < 0 and allow_closed:
            pick = int(nearest_closed.loc[position, "shelter"])
            distance = nearest_closed.loc[position, "distance_m"]
            must_open = pick >= 0
        if pick < 0:
            continue
        entry = chosen.setdefault(pick, {"districts": [], "distance_m": [], "must_open": must_open})
        entry["districts"].append(str(district["key"]))
        entry["distance_m"].append(float(distance))
    shelters = []
    for pick, entry in chosen.items():
        row = assessment.iloc[pick]
        served = [
            str(layers.districts.loc[layers.districts["key"] == k, "name"].iloc[0])
            for k in entry["districts"]
        ]
        why_text = (
            _(
                "Nearest shelter designated for %(hazard)s outside its hazard zone, not open yet,"
                " for %(districts)s (%(distance)s m)"
            )
            if entry["must_open"]
            else _(
                "Nearest open shelter designated for %(hazard)s outside its hazard zone,"
                " for %(districts)s (%(distance)s m)"
            )
        )
        why = why_text % {
            "hazard": hazard_ja,
            "districts": "、".join(served),
            "distance": round(min(entry["distance_m"])),
        }
        if entry["must_open"]:
            warnings.append(f"shelter_must_open:{row['name']}")
        shelters.append(
            f.ShelterChoice(
                key=str(row["key"]),
                name=str(row["name"]),
                name_kana=str(row["name_kana"] or ""),
                districts=tuple(entry["districts"]),
                why=why,
                must_open=entry["must_open"],
                distance_m=round(min(entry["distance_m"]), 1),
            )
        )
    if not shelters:
        warnings.append(
            "no_shelter_for_hazard" if not designated_any else "no_usable_shelter_for_hazard"
        )
    return {"shelters": shelters, "warnings": warnings}


def operator_shelters(layers, status, hazard: str, wanted: list[str]) -> dict:
    """The operator's own choice: every name must exist (nothing is invented); a choice that is
    not designated for the hazard, inside its zone or closed gives a warning."""
    from disaster_ai.apps.situation import analysis

    positions, unknown = _match(layers.shelters, wanted, "")
    if unknown:
        raise NoticeError(
            422,
            "unknown_shelter",
            _("Unknown shelter(s): %(names)s", names="、".join(unknown)),
            "shelters",
            unknown=unknown,
        )
    assessment = analysis.shelter_assessment(layers, status, zone_hazard(hazard))
    shelters, warnings = [], []
    for pick in positions:
        row = assessment.iloc[pick]
        notes = []
        if not row["designated"]:
            notes.append(_("not designated for this hazard"))
            warnings.append(f"shelter_not_designated:{row['name']}")
        if row["in_zone"]:
            notes.append(_("inside the hazard zone"))
            warnings.append(f"shelter_in_zone:{row['name']}")
        if not row["is_open"]:
            notes.append(_("not open yet"))
            warnings.append(f"shelter_must_open:{row['name']}")
        shelters.append(
            f.ShelterChoice(
                key=str(row["key"]),
                name=str(row["name"]),
                name_kana=str(row["name_kana"] or ""),
                why=_("Chosen by the operator") + (" (" + "; ".join(notes) + ")" if notes else ""),
                must_open=not bool(row["is_open"]),
                chosen_by="operator",
            )
        )
    return {"shelters": shelters, "warnings": warnings}


# --- drafting -------------------------------------------------------------------------------


def templates() -> Templates:
    """The app's template environment: instance folder, then plugins, then the package."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return Templates()
    cached = current_app.extensions.get("disaster_ai.notices.templates")
    if cached is None:
        import os

        folder = current_app.config.get("NOTICE_TEMPLATES_DIR") or os.path.join(
            current_app.instance_path, "templates", "notices"
        )
        sources: dict = {}
        pm = current_app.extensions["disaster_ai"]
        for result in reversed(pm.hook.dai_notice_templates(locale="ja")):
            sources.update(result or {})
        cached = Templates(folder, sources, hazard_problems=f.hazard_registry_problems)
        current_app.extensions["disaster_ai.notices.templates"] = cached
    return cached


def limits() -> Limits:
    return Limits.from_config(_config())


def _predecessor(session: Session, scenario: Scenario, district_keys: list[str]) -> InForce | None:
    """The chain in force that this scenario updates or lifts (its head edition is the one the
    new edition supersedes), or None for a first 発令. A 解除 must name only districts in force in
    that chain; naming some of them is a partial 解除 (the others stay in force)."""
    chains = in_force(session)
    if scenario.supersedes is not None:
        state = next((c for c in chains if c.head.id == scenario.supersedes), None)
        if state is None:
            raise NoticeError(
                422,
                "nothing_to_lift" if scenario.action == f.LIFT else "not_in_force",
                _("Notice %(id)s is not an issued notice in force.", id=scenario.supersedes),
                "supersedes",
            )
        if state.base.hazard != scenario.hazard:
            raise NoticeError(
                422,
                "hazard_mismatch",
                _(
                    "Notice %(id)s is about %(notice_hazard)s, not %(hazard)s.",
                    id=state.head.id,
                    notice_hazard=hazard_word(state.base.hazard),
                    hazard=hazard_word(scenario.hazard),
                ),
                "hazard",
            )
    elif scenario.action != f.LIFT:
        return None
    else:
        wanted = set(district_keys)
        state = next(
            (
                c
                for c in chains
                if c.base.hazard == scenario.hazard
                and c.base.level == scenario.level
                and wanted & set(c.keys)
            ),
            None,
        )
        if state is None:
            raise NoticeError(
                422,
                "nothing_to_lift",
                _(
                    "No issued %(name)s for %(hazard)s is in force in these districts, so there "
                    "is nothing to lift (解除).",
                    name=f.LEVEL_NAMES[scenario.level],
                    hazard=hazard_word(scenario.hazard),
                ),
                "action",
            )
    if scenario.action == f.LIFT:
        outside = [k for k in district_keys if k not in state.keys]
        if outside:
            names = [d["name"] for d in _district_rows(session, outside)]
            raise NoticeError(
                422,
                "nothing_to_lift",
                _(
                    "%(districts)s: notice %(id)s is not in force there, so there is nothing "
                    "to lift (解除).",
                    districts="、".join(names),
                    id=state.head.id,
                ),
                "districts",
                districts=outside,
            )
    return state


def _district_rows(session: Session, keys: list[str]) -> list[dict]:
    layers = reference_layers(session)
    frame = layers.districts
    names = dict(zip(frame["key"].astype(str), frame["name"].astype(str), strict=True))
    return [{"key": k, "name": names.get(k, k)} for k in keys]


def chain_references(session: Session, notice: Notice, sender: str) -> tuple[str, ...]:
    chain = notice.chain_id or notice.id
    rows = session.scalars(
        select(Notice)
        .where(Notice.chain_id == chain, Notice.published_at.is_not(None))
        .order_by(Notice.id)
    ).all()
    return tuple(
        f"{sender},{row.identifier},{cap_renderer.cap_time(row.issued_at)}"
        for row in rows
        if row.identifier
    )


def build_facts(
    session: Session, scenario: Scenario, *, identifier_serial: int | None = None
) -> tuple[f.NoticeFacts, dict]:
    """Resolve a scenario against the layers: (facts, extra) where extra has the warnings, the
    predecessor and the guard universe."""
    layers = reference_layers(session)
    positions, unknown = _match(layers.districts, scenario.districts, "自治会")
    if unknown:
        raise NoticeError(
            422,
            "unknown_district",
            _("Unknown district(s): %(names)s", names="、".join(unknown)),
            "districts",
            unknown=unknown,
        )
    config = _config()
    max_points = int(config.get("NOTICE_POLYGON_MAX_POINTS", 100))
    rows = layers.districts.iloc[positions]
    rings = district_rings(list(rows.geometry), max_points)
    districts = []
    for (_index, row), ring in zip(rows.iterrows(), rings, strict=True):
        population = row["population"]
        districts.append(
            f.District(
                key=str(row["key"]),
                name=str(row["name"]),
                name_kana=str(row["name_kana"] or ""),
                population=None if pd.isna(population) else float(population),
                ring=ring,
            )
        )
    district_keys = [d.key for d in districts]
    state = _predecessor(session, scenario, district_keys)
    predecessor = state.head if state is not None else None
    remaining: tuple[str, ...] = ()
    if state is not None and scenario.action == f.LIFT:
        lifted = set(district_keys)
        remaining = tuple(d["name"] for d in state.districts if d["key"] not in lifted)
    status = shelter_status(session)
    warnings: list[str] = []
    if scenario.action == f.LIFT:
        shelters = []
    elif scenario.shelters is not None:
        # an explicit list (empty: the operator chose none, the fallback is used); saved
        # notices keep their shelters this way when they are re-rendered
        chosen = operator_shelters(layers, status, scenario.hazard, scenario.shelters)
        shelters, warnings = chosen["shelters"], chosen["warnings"]
    else:
        chosen = suggest_shelters(layers, status, scenario.hazard, positions)
        shelters, warnings = chosen["shelters"], chosen["warnings"]
    for district in districts:
        if not district.name_kana:
            warnings.append(f"no_reading:{district.name}")
    town = municipality(session)
    issued_at = scenario.issued_at or now().astimezone(JST).replace(microsecond=0)
    sender = config.get("NOTICE_CAP_SENDER") or "bousai@example.lg.jp"
    serial = f"{identifier_serial:04d}" if identifier_serial else "DRAFT"
    references: tuple[str, ...] = ()
    if predecessor is not None:
        references = chain_references(session, predecessor, sender)
    facts = f.NoticeFacts(
        hazard=scenario.hazard,
        action=scenario.action,
        level=scenario.level,
        districts=tuple(districts),
        issued_at=issued_at,
        issuer=town["name"],
        shelters=tuple(shelters),
        reason=scenario.reason,
        exercise=scenario.exercise,
        issuer_en=town["name_en"],
        jis_code=town["jis_code"],
        lg_code=town["lg_code"],
        identifier=f"JP-{town['lg_code']}-{issued_at.year}-{serial}",
        sender=sender,
        references=references,
        warnings=tuple(warnings),
        hazard_info=f.hazard(scenario.hazard),
        remaining=remaining,
    )
    extra = {
        "predecessor": predecessor,
        "universe": universe(layers),
        "warnings": warnings,
        "remaining": list(remaining),
    }
    return facts, extra


def render(facts: f.NoticeFacts, edits: dict | None = None, universe=None) -> dict:
    """Every channel, the guard report (on the template texts, and on manual edits), CAP lint."""
    config = _config()
    try:
        out = render_all(facts, templates(), limits())
        if config.get("NOTICE_CAP_EXPIRES_HOURS", 24) != 24:
            out["cap"] = cap_renderer.render(
                facts, None, out, int(config.get("NOTICE_CAP_EXPIRES_HOURS"))
            )
    except RenderError as exc:
        raise NoticeError(
            422,
            "render_failed",
            _(
                "The %(channel)s text cannot be rendered: %(problem)s",
                channel=exc.channel,
                problem=exc.message,
            ),
            exc.channel,
            channel=exc.channel,
        ) from None
    texts = guard.channel_texts(out)
    for channel, text in (edits or {}).items():
        if channel not in EDITABLE_CHANNELS:
            raise NoticeError(
                422,
                "invalid_edit",
                _("%(channel)s cannot be edited by hand.", channel=channel),
                "edits",
            )
        texts[channel] = text
    report = guard.check_all(texts, facts, universe, limits())
    report["cap_lint"] = cap_renderer.lint(
        out["cap"], int(config.get("NOTICE_POLYGON_MAX_POINTS", cap_renderer.MAX_POLYGON_POINTS))
    )
    report["warnings"].extend(
        {"channel": "cap", "rule": w["rule"], "message": w["message"]}
        for w in report["cap_lint"]
        if w["level"] == "warn"
    )
    if edits:
        out = apply_texts(out, texts)
    out["guard"] = report
    return out


def apply_texts(out: dict, texts: dict) -> dict:
    out = dict(out)
    out["radio"] = texts["radio"]
    out["mail"] = {**out["mail"], "title": texts["mail_title"], "body": texts["mail_body"]}
    out["web"] = {"long": texts["web_long"], "short": texts["web_short"]}
    out["en"] = texts["en"]
    out["easy_ja"] = texts["easy_ja"]
    return out


def shelter_json(shelter: f.ShelterChoice) -> dict:
    return {
        "key": shelter.key,
        "name": shelter.name,
        "name_kana": shelter.name_kana,
        "districts": list(shelter.districts),
        "why": shelter.why,
        "must_open": shelter.must_open,
        "distance_m": shelter.distance_m,
        "chosen_by": shelter.chosen_by,
    }


def draft(session: Session, data: dict, edits: dict | None = None, polish: bool = False) -> dict:
    """The drafts API and CLI: a scenario → every channel, the shelters and the guard report."""
    scenario = parse_scenario(data)
    facts, extra = build_facts(session, scenario)
    out = render(facts, edits, extra["universe"])
    if polish:
        from disaster_ai.apps.notices import llm

        out = llm.polish(out, facts, extra["universe"])
    return {
        "radio": out["radio"],
        "mail": {"title": out["mail"]["title"], "body": out["mail"]["body"]},
        "web": out["web"],
        "cap": out["cap"],
        "en": out["en"],
        "easy_ja": out["easy_ja"],
        "shelters": [shelter_json(s) for s in facts.shelters],
        "fallback": facts.fallback and not facts.lifted,
        "guard": out["guard"],
        "scenario": scenario_json(facts, extra["predecessor"]),
        "warnings": extra["warnings"],
        "render_ms": out.get("render_ms"),
        "polish": out.get("polish"),
    }


def scenario_json(facts: f.NoticeFacts, predecessor: Notice | None) -> dict:
    return {
        "hazard": facts.hazard,
        "hazard_ja": facts.hazard_ja,
        "action": facts.action,
        "level": facts.level,
        "name": facts.name,
        "districts": [{"key": d.key, "name": d.name} for d in facts.districts],
        "issued_at": cap_renderer.cap_time(facts.issued_at),
        "exercise": facts.exercise,
        "msg_type": facts.msg_type,
        "supersedes": predecessor.id if predecessor is not None else None,
    }


# --- the workflow ---------------------------------------------------------------------------


def _get(session: Session, notice_id: int, lock: bool = False) -> Notice:
    query = select(Notice).where(Notice.id == notice_id)
    if lock:
        query = query.with_for_update()
    notice = session.scalar(query)
    if notice is None:
        raise NoticeError(404, "not_found", _("No notice %(id)s.", id=notice_id))
    return notice


def _scenario_of(notice: Notice) -> Scenario:
    return Scenario(
        hazard=notice.hazard,
        action=notice.action,
        level=notice.level,
        districts=[d["key"] for d in notice.districts],
        reason=notice.reason,
        shelters=[s["key"] for s in notice.shelters] if notice.shelters else [],
        issued_at=notice.issued_at,
        exercise=notice.exercise,
        supersedes=notice.supersedes_id,
    )


def save_draft(session: Session, data: dict, actor: Actor, edits: dict | None = None) -> Notice:
    scenario = parse_scenario(data)
    facts, extra = build_facts(session, scenario)
    if scenario.issued_at is None:
        scenario = replace(scenario, issued_at=facts.issued_at)
    predecessor = extra["predecessor"]
    notice = Notice(
        status="draft",
        hazard=facts.hazard,
        action=facts.action,
        level=facts.level,
        districts=[
            {"key": d.key, "name": d.name, "name_kana": d.name_kana} for d in facts.districts
        ],
        shelters=[shelter_json(s) for s in facts.shelters],
        reason=facts.reason,
        exercise=facts.exercise,
        issued_at=facts.issued_at,
        supersedes_id=predecessor.id if predecessor is not None else None,
        chain_id=(predecessor.chain_id or predecessor.id) if predecessor is not None else None,
        edition=(predecessor.edition + 1) if predecessor is not None else 1,
        edits=dict(edits or {}),
        created_by=actor.username,
    )
    session.add(notice)
    session.flush()
    if notice.chain_id is None:
        notice.chain_id = notice.id
    _refresh(session, notice)
    audit.record(
        "notices.draft",
        app=APP,
        target=f"notice:{notice.id}",
        detail={"level": notice.level, "hazard": notice.hazard, "action": notice.action},
        actor=actor,
        session=session,
    )
    return notice


def _refresh(session: Session, notice: Notice) -> dict:
    """Render the notice from its stored facts (with its edits) and keep texts and guard."""
    facts, extra = build_facts(session, _scenario_of(notice), identifier_serial=notice.id)
    out = render(facts, notice.edits or None, extra["universe"])
    notice.identifier = facts.identifier
    notice.texts = {
        "radio": out["radio"],
        "mail": {"title": out["mail"]["title"], "body": out["mail"]["body"]},
        "web": out["web"],
        "en": out["en"],
        "easy_ja": out["easy_ja"],
        "cap": out["cap"],
    }
    previous = (notice.guard or {}).get("polish")
    notice.guard = out["guard"]
    if previous is not None:  # the last AI polish report stays visible
        notice.guard = {**notice.guard, "polish": previous}
    return out


def _locked_in_state(session: Session, notice_id: int, expected: str, message) -> Notice:
    """The notice, locked for the transition, when it is in the ``expected`` state; else a 409
    ``wrong_state`` with ``message`` (a lazy string with ``%(status)s``)."""
    notice = _get(session, notice_id, lock=True)
    if notice.status != expected:
        raise NoticeError(409, "wrong_state", str(message) % {"status": notice.status})
    return notice


def submit(session: Session, notice_id: int, actor: Actor) -> Notice:
    notice = _locked_in_state(
        session, notice_id, "draft", _l("Only a draft can be submitted (it is %(status)s).")
    )
    _refresh(session, notice)
    notice.status = "submitted"
    notice.submitted_at = now()
    audit.record(
        "notices.submit", app=APP, target=f"notice:{notice.id}", actor=actor, session=session
    )
    return notice


def approve(
    session: Session, notice_id: int, actor: Actor, acknowledge: list[str] | None = None
) -> Notice:
    notice = _locked_in_state(
        session,
        notice_id,
        "submitted",
        _l("Only a submitted notice can be approved (it is %(status)s)."),
    )
    if actor.username == notice.created_by:
        raise NoticeError(
            403,
            "own_notice",
            _("The author of a notice can never approve it: ask another approver."),
        )
    _refresh(session, notice)
    errors = [w for w in notice.guard.get("cap_lint", []) if w["level"] == "error"]
    if errors:
        raise NoticeError(
            409,
            "cap_errors",
            _("The CAP document has errors: %(error)s", error=errors[0]["message"]),
        )
    pending = [
        v["id"] for v in notice.guard.get("violations", []) if v["id"] not in set(acknowledge or [])
    ]
    if pending:
        raise NoticeError(
            409,
            "unacknowledged_violations",
            _(
                "Each guard violation of the manual edits must be acknowledged: %(ids)s",
                ids=", ".join(pending),
            ),
            "acknowledge",
            violations=pending,
        )
    review = review_problems(notice)
    if review:
        raise NoticeError(
            409,
            "review_failed",
            _("A review check failed: %(problem)s", problem=review[0]),
            "review",
            problems=review,
        )
    notice.acknowledged = list(acknowledge or [])
    notice.status = "approved"
    notice.approved_by = actor.username
    notice.approved_at = now()
    audit.record(
        "notices.approve",
        app=APP,
        target=f"notice:{notice.id}",
        detail={"acknowledged": notice.acknowledged},
        actor=actor,
        session=session,
    )
    return notice


def review_problems(notice: Notice) -> list[str]:
    """Every dai_review_notice implementation runs; a crash counts as a failed check."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return []
    pm = current_app.extensions["disaster_ai"]
    payload = notice_json(notice)
    problems = []
    for impl in pm.hook.dai_review_notice.get_hookimpls():
        try:
            result = impl.function(draft=payload) if impl.argnames else impl.function()
        except Exception as exc:  # a crashing check blocks
            problems.append(f"{impl.plugin_name} crashed: {type(exc).__name__}: {exc}")
            continue
        problems.extend(f"{impl.plugin_name}: {p}" for p in (result or []))
    return problems


def issue(session: Session, notice_id: int, actor: Actor) -> Notice:
    notice = _locked_in_state(
        session,
        notice_id,
        "approved",
        _l("Only an approved notice can be issued (it is %(status)s)."),
    )
    predecessor = session.get(Notice, notice.supersedes_id) if notice.supersedes_id else None
    if predecessor is not None and predecessor.status != "issued":
        raise NoticeError(
            409,
            "predecessor_not_in_force",
            _(
                "Notice %(id)s is no longer in force (it is %(status)s).",
                id=predecessor.id,
                status=predecessor.status,
            ),
            "supersedes",
        )
    notice.status = "issued"
    notice.published_by = actor.username
    notice.published_at = now()
    if predecessor is not None:
        predecessor.status = "superseded"
    audit.record(
        "notices.issue",
        app=APP,
        target=f"notice:{notice.id}",
        detail={
            "identifier": notice.identifier,
            "supersedes": notice.supersedes_id,
            "exercise": notice.exercise,
            "level": notice.level,
            "action": notice.action,
        },
        actor=actor,
        session=session,
    )
    return notice


def cancel(session: Session, notice_id: int, actor: Actor, reason: str = "") -> Notice:
    notice = _get(session, notice_id, lock=True)
    if notice.status in ("cancelled", "superseded"):
        raise NoticeError(
            409, "wrong_state", _("The notice is already %(status)s.", status=notice.status)
        )
    was = notice.status
    if was == "issued":
        notice.texts = {**(notice.texts or {}), "cap_cancel": cancel_cap(session, notice)}
    notice.status = "cancelled"
    notice.cancelled_by = actor.username
    notice.cancelled_at = now()
    audit.record(
        "notices.cancel",
        app=APP,
        target=f"notice:{notice.id}",
        detail={"was": was, "reason": reason},
        actor=actor,
        session=session,
    )
    return notice


def cancel_cap(session: Session, notice: Notice) -> str:
    """The CAP Cancel that withdraws an issued notice: a new identifier (``…-C``), sent now,
    referencing every issued edition of its chain (this one included)."""
    scenario = replace(_scenario_of(notice), action=f.ISSUE, supersedes=None)
    facts, _extra = build_facts(session, scenario, identifier_serial=notice.id)
    facts = replace(
        facts,
        action=notice.action,
        cancel=True,
        issued_at=now().astimezone(JST).replace(microsecond=0),
        identifier=f"{notice.identifier}-C",
        references=chain_references(session, notice, facts.sender),
    )
    return render_all(facts, templates(), limits())["cap"]


@dataclass(frozen=True)
class InForce:
    """One chain of editions with districts still in force: ``head`` is its latest issued
    edition (what an update or 解除 supersedes), ``base`` the 発令 edition whose level and hazard
    apply, ``districts`` the ``{key, name, …}`` still under it (a partial 解除 removes some)."""

    head: Notice
    base: Notice
    districts: tuple[dict, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(d["key"] for d in self.districts)


def in_force(session: Session, at: datetime | None = None) -> list[InForce]:
    """The chains in force at ``at`` (default: now), replaying each chain's issued editions in
    order: a 発令 (first or update) sets its districts, a 解除 removes the districts it names.
    A chain whose latest edition was cancelled is withdrawn as a whole."""
    query = select(Notice).where(Notice.published_at.is_not(None))
    if at is not None:
        query = query.where(Notice.published_at <= at)
    chains: dict[int, list[Notice]] = {}
    for row in session.scalars(query.order_by(Notice.id)).all():
        chains.setdefault(row.chain_id or row.id, []).append(row)
    out = []
    for editions in chains.values():
        editions.sort(key=lambda n: (n.edition, n.id))
        head = editions[-1]
        if head.cancelled_at is not None and (at is None or head.cancelled_at <= at):
            continue
        base: Notice | None = None
        current: dict[str, dict] = {}
        for edition in editions:
            if edition.action == f.ISSUE:
                base = edition
                current = {d["key"]: d for d in edition.districts}
            else:
                for district in edition.districts:
                    current.pop(district["key"], None)
        if base is not None and current:
            out.append(InForce(head=head, base=base, districts=tuple(current.values())))
    return out


def in_force_entries(session: Session, at: datetime) -> list[dict]:
    """For dai_notices_in_force: one dict per district still in force (a partial 解除 leaves
    the other districts of its notice in force)."""
    out = []
    for state in in_force(session, at):
        base = state.base
        for district in state.districts:
            out.append(
                {
                    "district_key": district["key"],
                    "district_name": district["name"],
                    "level": base.level,
                    "name": f.LEVEL_NAMES[base.level],
                    "hazard": base.hazard,
                    "hazard_name": hazard_word(base.hazard),
                    "issued_at": cap_renderer.cap_time(base.issued_at),
                    "notice_id": base.id,  # the 発令 in force
                    "supersede_id": state.head.id,  # what an update or 解除 supersedes
                }
            )
    return out


def list_notices(session: Session, status: str | None = None, limit: int = 100) -> list[Notice]:
    query = select(Notice).order_by(Notice.id.desc()).limit(limit)
    if status:
        query = query.where(Notice.status == status)
    return list(session.scalars(query).all())


def notice_json(notice: Notice, full: bool = True) -> dict:
    data = {
        "id": notice.id,
        "chain_id": notice.chain_id,
        "edition": notice.edition,
        "supersedes": notice.supersedes_id,
        "status": notice.status,
        "hazard": notice.hazard,
        "hazard_ja": hazard_word(notice.hazard),
        "action": notice.action,
        "level": notice.level,
        "name": f.LEVEL_NAMES[notice.level],
        "districts": notice.districts,
        "shelters": notice.shelters,
        "reason": notice.reason,
        "exercise": notice.exercise,
        "issued_at": cap_renderer.cap_time(notice.issued_at),
        "identifier": notice.identifier,
        "created_by": notice.created_by,
        "approved_by": notice.approved_by,
        "published_by": notice.published_by,
        "published_at": cap_renderer.cap_time(notice.published_at) if notice.published_at else None,
        "cancelled_by": notice.cancelled_by,
    }
    if full:
        texts = dict(notice.texts or {})
        texts.pop("cap", None)
        texts.pop("cap_cancel", None)
        data.update(
            {
                "texts": texts,
                "edits": notice.edits,
                "guard": notice.guard,
                "acknowledged": notice.acknowledged,
            }
        )
    return data


# --- AI polish of a saved draft (the ``notices.polish`` job) ----------------------------------
#
# The desk and the API ask for it; the slow part (one model call per channel) runs in the job
# system. The job polishes the draft exactly as it was when the operator asked (a fingerprint of
# its content): a draft edited, submitted or withdrawn meanwhile is left untouched. Accepted
# texts become the draft's edits; the report (accepted, or rejected with the violated rules)
# is kept on the notice as ``guard["polish"]``.

POLISH_JOB = "notices.polish"
ACTIVE_JOB_STATES = ("queued", "running")


def polish_available() -> bool:
    """Whether a ``dai_llm_client`` for notices.polish is configured (the desk's button)."""
    from disaster_ai.apps.notices import llm

    return llm.client_for() is not None


def draft_fingerprint(notice: Notice) -> str:
    """A digest of what the polish job would read and change: any edit, re-render or state
    change of the notice gives another fingerprint."""
    import hashlib
    import json

    content = {
        "status": notice.status,
        "texts": notice.texts,
        "edits": notice.edits,
        "districts": notice.districts,
        "shelters": notice.shelters,
        "level": notice.level,
        "hazard": notice.hazard,
        "action": notice.action,
        "reason": notice.reason,
        "exercise": notice.exercise,
        "issued_at": notice.issued_at.isoformat() if notice.issued_at else None,
    }
    raw = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def polish_jobs(session: Session, notice_id: int, states=None, limit: int = 200) -> list:
    """This notice's polish jobs, newest first (the payload is JSON text: filtered here)."""
    from disaster_ai.storage.models import Job

    query = select(Job).where(Job.kind == POLISH_JOB).order_by(Job.id.desc()).limit(limit)
    if states:
        query = query.where(Job.state.in_(states))
    return [
        job
        for job in session.scalars(query).all()
        if (job.payload or {}).get("notice_id") == notice_id
    ]


def request_polish(session: Session, notice_id: int, actor: Actor):
    """Queue the AI polish of a saved draft; returns ``(job, created)``. A polish of the same
    draft already queued or running is returned instead of a second one. The caller commits
    (the audit entry)."""
    from disaster_ai.jobs import enqueue
    from disaster_ai.storage.models import Job

    notice = _locked_in_state(
        session, notice_id, "draft", _l("Only a draft can be polished by AI (it is %(status)s).")
    )
    if not polish_available():
        raise NoticeError(
            409, "polish_not_configured", _("AI polish is not configured: see docs/notices.md")
        )
    running = polish_jobs(session, notice.id, ACTIVE_JOB_STATES)
    if running:
        return running[0], False
    fingerprint = draft_fingerprint(notice)
    job_id = enqueue(POLISH_JOB, {"notice_id": notice.id, "fingerprint": fingerprint}, actor=actor)
    audit.record(
        "notices.polish_request",
        app=APP,
        target=f"notice:{notice.id}",
        detail={"job": job_id},
        actor=actor,
        session=session,
    )
    return session.get(Job, job_id), True


def _polish_stale_reason(notice: Notice | None, fingerprint: str) -> tuple[str, str] | None:
    """(code, status) when the job must leave the notice alone, else None."""
    if notice is None:
        return "gone", ""
    if notice.status != "draft":
        return "not_draft", notice.status
    if draft_fingerprint(notice) != fingerprint:
        return "changed", notice.status
    return None


def polish_skip_message(code: str, status: str = "") -> str:
    """Why a polish job left the notice alone, in the current language."""
    if code == "gone":
        return _("The notice no longer exists: nothing was changed.")
    if code == "not_draft":
        return _(
            "The notice is no longer a draft (it is %(status)s): nothing was changed.",
            status=status,
        )
    if code == "changed":
        return _("The draft was changed after the AI polish was requested: nothing was changed.")
    return _("AI polish is not configured: see docs/notices.md")


def polish_job_message(job) -> str:
    """The outcome of a finished polish job for the desk, in the request's language (the job's
    own message was written in the default language)."""
    result = job.result or {}
    if result.get("skipped"):
        return polish_skip_message(result["skipped"], result.get("status", ""))
    if "accepted" in result:
        return _(
            "AI polish done: %(accepted)s of %(total)s channels accepted.",
            accepted=len(result["accepted"]),
            total=result.get("total", len(result["accepted"])),
        )
    return job.message or ""


def polish_job(ctx) -> dict:
    """The ``notices.polish`` job: polish the draft's channels behind the guard and keep each
    accepted text as the channel's edit. Progress is reported per channel."""
    from disaster_ai.apps.notices import llm
    from disaster_ai.storage import get_storage, session_scope

    notice_id = int(ctx.payload["notice_id"])
    fingerprint = str(ctx.payload.get("fingerprint") or "")
    actor = Actor(None, ctx.created_by, frozenset(), via="system")
    storage = get_storage(ctx.app)

    def stop(code: str, status: str) -> dict:
        message = polish_skip_message(code, status)
        ctx.progress(100, message)
        audit.record(
            "notices.polish_skipped",
            app=APP,
            target=f"notice:{notice_id}",
            detail={"job": ctx.job_id, "reason": code, "status": status},
            actor=actor,
        )
        return {"notice_id": notice_id, "skipped": code, "status": status, "message": message}

    # 1. read the draft as it is now (no write lock is held during the model calls)
    with session_scope(storage) as session:
        notice = session.get(Notice, notice_id)
        stale = _polish_stale_reason(notice, fingerprint)
        if stale:
            return stop(*stale)
        edits = dict(notice.edits or {})
        facts, extra = build_facts(session, _scenario_of(notice), identifier_serial=notice.id)
    out = render(facts, edits or None, extra["universe"])
    ctx.progress(5, _("Asking the AI model"))

    def on_channel(index: int, total: int, channel: str) -> None:
        ctx.progress(
            5 + int(90 * index / total),
            _(
                "AI polish: channel %(index)s of %(total)s (%(channel)s)",
                index=index + 1,
                total=total,
                channel=channel,
            ),
        )

    out = llm.polish(out, facts, extra["universe"], progress=on_channel)
    report = out["polish"]
    if not report.get("used"):
        return stop("not_configured", "draft")
    accepted = [ch for ch, r in report["channels"].items() if r.get("accepted")]

    # 2. write, unless the draft changed while the model was writing
    with session_scope(storage) as session:
        notice = session.scalar(select(Notice).where(Notice.id == notice_id).with_for_update())
        stale = _polish_stale_reason(notice, fingerprint)
        if stale:
            return stop(*stale)
        texts = guard.channel_texts(out)
        notice.edits = {**(notice.edits or {}), **{ch: texts[ch] for ch in accepted}}
        report = {
            **report,
            "job": ctx.job_id,
            "requested_by": ctx.created_by,
            "at": now().isoformat(),
        }
        notice.guard = {**(notice.guard or {}), "polish": report}  # _refresh keeps it
        _refresh(session, notice)
        audit.record(
            "notices.polish",
            app=APP,
            target=f"notice:{notice.id}",
            detail={
                "job": ctx.job_id,
                "accepted": accepted,
                "rejected": sorted(set(report["channels"]) - set(accepted)),
            },
            actor=actor,
            session=session,
        )
    message = _(
        "AI polish done: %(accepted)s of %(total)s channels accepted.",
        accepted=len(accepted),
        total=len(report["channels"]),
    )
    ctx.progress(100, message)
    total = len(report["channels"])
    return {"notice_id": notice_id, "accepted": accepted, "total": total, "message": message}
