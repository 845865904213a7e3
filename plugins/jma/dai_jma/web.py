"""The desk page /apps/jma: the warnings in force for this municipality by phenomenon, with
their 警戒レベル相当, the suggestions made, the feed's state and the telegram history; the live
part refreshes itself (a light poll of /apps/jma/live every 15 s). /apps/jma/state.json gives
the same as JSON; /apps/jma/telegrams/<id> shows one telegram with its raw XML."""

from __future__ import annotations

from itertools import groupby

from flask import Blueprint, abort, jsonify, render_template
from flask_babel import gettext as _
from sqlalchemy import func, select

from disaster_ai.auth import requires
from disaster_ai.desk import Desk, current_desk

from . import DESK_ROLES, NAME, clock
from .models import FeedState, Gap, Suggestion, Telegram
from .store import in_force, load_rules

bp = Blueprint(
    NAME,
    __name__,
    url_prefix="/apps/jma",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
HISTORY = 50


def can_view(actor) -> bool:
    return actor is not None and any(actor.has_role(role) for role in DESK_ROLES)


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def state(desk: Desk) -> dict:
    """The feed state and the warnings in force (also ``disaster-ai jma status --json``)."""
    from .store import area_codes

    with desk.session() as session:
        warnings = in_force(session)
        feeds = [
            {
                "feed": f.feed,
                "url": f.url,
                "last_status": f.last_status,
                "last_polled_at": _iso(f.last_polled_at),
                "last_ok_at": _iso(f.last_ok_at),
                "feed_updated": _iso(f.feed_updated),
                "stale": f.stale,
                "stale_since": _iso(f.stale_since),
            }
            for f in session.scalars(select(FeedState).order_by(FeedState.feed))
        ]
        suggestions = [
            {
                "ref": s.ref,
                "rule": s.rule_id,
                "notice_id": s.notice_id,
                "telegram_id": s.telegram_id,
                "phenomenon": s.phenomenon,
                "jma_level_equivalent": s.level,
                "created_at": _iso(s.created_at),
                "outdated": s.outdated_at is not None,
                "outdated_reason": s.outdated_reason,
            }
            for s in session.scalars(select(Suggestion).order_by(Suggestion.id.desc()).limit(20))
        ]
        telegrams = session.scalar(select(func.count()).select_from(Telegram))
        gaps = session.scalar(select(func.count()).select_from(Gap))
        last = session.scalar(select(func.max(Telegram.received_at)))
    return {
        "municipality": desk.municipality_name(),
        "area_codes": list(area_codes(desk)),
        "checked_at": clock.now().isoformat(),
        "feeds": feeds,
        "telegrams": telegrams,
        "last_received_at": _iso(last),
        "gaps": gaps,
        "in_force": warnings,
        "suggestions": suggestions,
    }


def by_phenomenon(warnings: list[dict]) -> list[tuple[str, list[dict]]]:
    ordered = sorted(warnings, key=lambda w: (w["phenomenon"], -(w["level"] or 0)))
    groups = [(p, list(ws)) for p, ws in groupby(ordered, key=lambda w: w["phenomenon"])]
    return sorted(groups, key=lambda g: -max((w["level"] or 0) for w in g[1]))


def dashboard_items(desk: Desk) -> list[dict]:
    """One line per phenomenon for the dashboard's card."""
    with desk.session() as session:
        warnings = in_force(session)
    items = []
    for phenomenon, group in by_phenomenon(warnings):
        top = max(group, key=lambda w: w["level"] or 0)
        level = _("Level %(level)s equivalent", level=top["level"]) + " " if top["level"] else ""
        names = "、".join(dict.fromkeys(w["name"] for w in group))
        areas = "、".join(dict.fromkeys(w["area_name"] for w in group))
        items.append(
            {
                "label": f"{level}{phenomenon}: {names}",
                "url": "/apps/jma",
                "note": f"{areas} · {top['reported_at'][:16].replace('T', ' ')}",
            }
        )
    return items


def _page_data(desk: Desk) -> dict:
    data = state(desk)
    with desk.session() as session:
        history = list(
            session.scalars(
                select(Telegram)
                .order_by(Telegram.reported_at.desc(), Telegram.id.desc())
                .limit(HISTORY)
            )
        )
        for row in history:
            session.expunge(row)
    try:
        rules = load_rules(desk.config.get("rules_file"))
        rules_problem = ""
    except ValueError as exc:
        rules, rules_problem = [], str(exc)
    return {
        **data,
        "groups": by_phenomenon(data["in_force"]),
        "history": history,
        "rules": rules,
        "rules_problem": rules_problem,
    }


@bp.get("")
@requires(f"{NAME}.view")
def index():
    return render_template("dai_jma/index.html", **_page_data(current_desk(NAME)))


@bp.get("/live")
@requires(f"{NAME}.view")
def live():
    """The live part of the page, for the page's own refresh."""
    return render_template("dai_jma/_live.html", **_page_data(current_desk(NAME)))


@bp.get("/state.json")
@requires(f"{NAME}.view")
def state_json():
    return jsonify(state(current_desk(NAME)))


@bp.get("/telegrams/<int:telegram_id>")
@requires(f"{NAME}.view")
def telegram(telegram_id: int):
    desk = current_desk(NAME)
    with desk.session() as session:
        row = session.get(Telegram, telegram_id)
        if row is None:
            abort(404)
        session.expunge(row)
    return render_template("dai_jma/telegram.html", telegram=row)
