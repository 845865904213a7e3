"""What is in force, per chain and per district: the one source every surface reads (the
notices page, the dashboard map, the API, the bulletins through ``dai_notices_in_force``, and
the CAP chain of an update or 解除).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices.base import NoticeError
from disaster_ai.apps.notices.models import Notice
from disaster_ai.apps.notices.reference import district_rows
from disaster_ai.apps.notices.renderers import cap as cap_renderer
from disaster_ai.apps.notices.scenario import Scenario, hazard_word


def predecessor_chain(
    session: Session, scenario: Scenario, district_keys: list[str]
) -> InForce | None:
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
    if scenario.action != f.LIFT:
        # an update (level up or down) replaces the chain's districts: it must name every
        # district still in force, or those would silently fall out of force
        dropped = [k for k in state.keys if k not in set(district_keys)]
        if dropped:
            names = [d["name"] for d in state.districts if d["key"] in set(dropped)]
            raise NoticeError(
                422,
                "update_drops_districts",
                _(
                    "An update of notice %(id)s must name every district still under it "
                    "(%(districts)s). To change the level of some districts only, issue a new "
                    "notice for them; to end it somewhere, lift (解除) it there.",
                    id=state.head.id,
                    districts="、".join(names),
                ),
                "districts",
                districts=dropped,
            )
    if scenario.action == f.LIFT:
        outside = [k for k in district_keys if k not in state.keys]
        if outside:
            names = [d["name"] for d in district_rows(session, outside)]
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
    An edition cancelled (取消) by ``at`` counts as never issued: cancelling a mistaken update or
    解除 restores the edition before it, and cancelling the only edition withdraws the chain."""
    query = select(Notice).where(Notice.published_at.is_not(None))
    if at is not None:
        query = query.where(Notice.published_at <= at)
    chains: dict[int, list[Notice]] = {}
    for row in session.scalars(query.order_by(Notice.id)).all():
        chains.setdefault(row.chain_id or row.id, []).append(row)
    out = []
    for editions in chains.values():
        editions = [
            n
            for n in editions
            if n.cancelled_at is None or (at is not None and n.cancelled_at > at)
        ]
        if not editions:
            continue
        editions.sort(key=lambda n: (n.edition, n.id))
        head = editions[-1]
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
    open_keys = _open_shelter_keys(session)
    for state in in_force(session, at):
        base = state.base
        # a 発令 in force that sends people to a shelter that is not open: shown while it lasts
        closed = [s["name"] for s in base.shelters or [] if s["key"] not in open_keys]
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
                    "closed_shelters": closed,
                }
            )
    return out


def _open_shelter_keys(session: Session) -> set[str]:
    from disaster_ai.apps.notices.reference import shelter_status

    status = shelter_status(session)
    return {
        str(k)
        for k, is_open in zip(status["shelter_key"], status["is_open"], strict=True)
        if is_open
    }


def edition_kind(notice: Notice) -> str:
    """発令 (the first edition), 更新 (a later 発令 edition) or 解除."""
    if notice.action == f.LIFT:
        return f.LIFT
    return f.ISSUE if (notice.edition or 1) == 1 else "更新"


def district_history(session: Session, at: datetime) -> list[dict]:
    """Per district: what is in force there now (the highest level, from
    :func:`in_force_entries`, like every other surface) and the whole chain of every published
    notice that named it (発令, 更新, 解除, and a cancelled edition), newest first. A district
    that stays under a notice after a partial 解除 keeps its row and its 発令."""
    from disaster_ai.web.levels import highest_by_district

    current = highest_by_district(in_force_entries(session, at))
    published = session.scalars(
        select(Notice).where(Notice.published_at.is_not(None)).order_by(Notice.id)
    ).all()
    chains: dict[int, list[Notice]] = {}
    for row in published:
        chains.setdefault(row.chain_id or row.id, []).append(row)
    rows: dict[str, dict] = {}
    for editions in chains.values():
        named: dict[str, str] = {}
        for edition in editions:
            for d in edition.districts:
                named.setdefault(d["key"], d["name"])
        for key, name in named.items():
            rows.setdefault(key, {"key": key, "name": name, "editions": []})["editions"].extend(
                editions
            )
    for key, entry in current.items():
        rows.setdefault(key, {"key": key, "name": entry["district_name"], "editions": []})
    out = []
    for key, row in rows.items():
        row["editions"] = sorted(row["editions"], key=lambda n: n.id, reverse=True)
        row["in_force"] = current.get(key)
        out.append(row)
    return sorted(out, key=lambda r: (-(r["in_force"] or {}).get("level", 0), r["name"]))


def notices_in_force(at) -> list[dict]:
    """``dai_notices_in_force`` for other apps (the bulletins): one entry per district."""
    from flask import current_app

    from disaster_ai.storage import get_storage, session_scope

    with session_scope(get_storage(current_app)) as session:
        return in_force_entries(session, at)
