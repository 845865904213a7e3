"""The 被害状況 bulletin's sections from this app (``dai_bulletin_sections``): the damage tally
as confirmed so far (actual damage, never the hazard-zone exposure) and the evacuees per
shelter. Both are frozen into the bulletin like every section."""

from __future__ import annotations

from flask import current_app

from disaster_ai.apps.reports import render, shelters, tally
from disaster_ai.apps.reports.items import catalogue_for
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.types import BulletinSection

# The damage lines every bulletin carries, entered or not (the rest only once entered).
KEY_ITEMS = (
    "人的被害.死者",
    "人的被害.行方不明者",
    "人的被害.負傷者.計",
    "住家被害.全壊.棟",
    "住家被害.半壊.棟",
    "住家被害.一部破損.棟",
    "住家被害.床上浸水.棟",
    "住家被害.床下浸水.棟",
    "り災世帯数",
    "り災者数",
)


def bulletin_sections(context) -> list[BulletinSection]:
    app = current_app._get_current_object()
    with session_scope(get_storage(app)) as session:
        # the tally without its auto items: the bulletin prints notices and shelters itself
        items = tally.current_tally(session, context.event_id, catalogue_for(app))
        listing = shelters.listing(app, session)
    return [_damage_section(items), _shelter_section(listing["shelters"])]


def _damage_section(items: list[dict]) -> BulletinSection:
    lines = []
    for item in items:
        if item["kind"] == "text" or item["auto"] or item["group"] == "概況":
            continue
        if item["path"] not in KEY_ITEMS and item["value"] is None:
            continue
        name = render.display_name(item)
        unit = f"（{item['unit']}）" if item["group"] == "住家被害" else ""
        lines.append(f"{item['group']} {name}{unit}：{render.value_text(item)}")
    entered = [i for i in items if not i["derived"] and not i["auto"]]
    missing = sum(1 for i in entered if i["state"] == "unconfirmed")
    body = (
        "災害報告（第4号様式）の集計による実際の被害です。「未確認」は確認できていない項目"
        f"（現在 {missing}項目）。想定区域内の人口（推計）は被害の数ではありません。"
    )
    return BulletinSection(
        title="被害の集計（確認された被害）", body=body, items=tuple(lines), key="reports.tally"
    )


def _shelter_section(rows: list[dict]) -> BulletinSection:
    t = shelters.totals(rows)
    households = _partial(t["households"], "世帯")
    vulnerable = _partial(t["vulnerable"], "人")
    body = (
        f"開設 {t['open']}か所、避難者 {t['people']:,}人、{households}（うち要配慮者 {vulnerable}）"
    )
    lines = [
        f"{s['name']}：{s['people']:,}人・"
        + ("世帯数未確認" if s["households"] is None else f"{s['households']:,}世帯")
        + "・要配慮者"
        + ("未確認" if s["vulnerable"] is None else f"{s['vulnerable']:,}人")
        for s in rows
        if s["is_open"]
    ]
    return BulletinSection(
        title="避難所別の避難者数", body=body, items=tuple(lines), key="reports.shelters"
    )


def _partial(total: dict, unit: str) -> str:
    if total["value"] is None:
        return "未確認"
    text = f"{total['value']:,}{unit}"
    return text if total["complete"] else text + "（一部未確認）"
