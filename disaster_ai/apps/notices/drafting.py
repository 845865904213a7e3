"""Drafting: a scenario resolved against the layers into NoticeFacts, every channel
rendered from the templates, the guard report and CAP lint.
"""

from __future__ import annotations

import pandas as pd
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices import guard
from disaster_ai.apps.notices.base import NoticeError, app_config
from disaster_ai.apps.notices.in_force import predecessor_chain
from disaster_ai.apps.notices.models import Notice
from disaster_ai.apps.notices.reference import (
    district_rings,
    match_names,
    municipality,
    reference_layers,
    shelter_status,
    universe,
)
from disaster_ai.apps.notices.renderers import Limits, RenderError, Templates, render_all
from disaster_ai.apps.notices.renderers import cap as cap_renderer
from disaster_ai.apps.notices.scenario import Scenario, parse_scenario
from disaster_ai.apps.notices.shelters import operator_shelters, shelter_json, suggest_shelters
from disaster_ai.storage.base import JST, now

EDITABLE_CHANNELS = guard.JA_CHANNELS + ("en",)


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
    return Limits.from_config(app_config())


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
    positions, unknown = match_names(layers.districts, scenario.districts, "自治会")
    if unknown:
        raise NoticeError(
            422,
            "unknown_district",
            _("Unknown district(s): %(names)s", names="、".join(unknown)),
            "districts",
            unknown=unknown,
        )
    config = app_config()
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
    state = predecessor_chain(session, scenario, district_keys)
    predecessor = state.head if state is not None else None
    remaining: tuple[f.District, ...] = ()
    if state is not None and scenario.action == f.LIFT:
        lifted = set(district_keys)
        remaining = tuple(
            f.District(key=d["key"], name=d["name"], name_kana=d.get("name_kana") or "")
            for d in state.districts
            if d["key"] not in lifted
        )
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
    town = municipality(session)
    if f.issuer_placeholder(town["name"]):
        raise NoticeError(
            409,
            "no_issuer",
            _(
                "The municipality is not set, so no notice can say who issues it: run "
                "`disaster-ai init --municipality CODE` (団体コード, JIS code or name) or "
                "`disaster-ai municipality set` (see docs/pilot.md), then draft again."
            ),
            "issuer",
        )
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
    # a name whose reading (and so its English form) is a guess: the desk shows it
    warnings.extend(
        f"reading_guessed:{item.name}"
        for item in (*facts.districts, *facts.shelters, *facts.remaining)
        if item.reading_guessed
    )
    extra = {
        "predecessor": predecessor,
        "universe": universe(layers, town),
        "warnings": warnings,
        "remaining": [d.name for d in remaining],
    }
    return facts, extra


def render(facts: f.NoticeFacts, edits: dict | None = None, universe=None) -> dict:
    """Every channel, the guard report (on the template texts, and on manual edits), CAP lint."""
    config = app_config()
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
