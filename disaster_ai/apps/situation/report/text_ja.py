"""The Japanese report (災害対策本部-style) from the situation document's numbers only."""

from __future__ import annotations

from datetime import datetime

from disaster_ai.apps.situation.report.common import CATEGORY_JA, HAZARD_JA, credit_items
from disaster_ai.storage.base import JST

# --- Japanese text -------------------------------------------------------------------------------


def _ja_time(value: str | None, with_date: bool = True) -> str:
    if not value:
        return ""
    t = datetime.fromisoformat(value).astimezone(JST)
    clock = f"{t.hour}時{t.minute:02d}分"
    return f"{t.year}年{t.month}月{t.day}日 {clock}" if with_date else clock


def _cat(code: str) -> str:
    return CATEGORY_JA.get(code, code)


def _hz(code: str | None) -> str:
    return HAZARD_JA.get(code, code or "")


def render_text_ja(doc: dict) -> str:
    """A 災害対策本部-style report in Japanese, from the document's numbers only (deterministic)."""
    lines: list[str] = []
    place = doc.get("municipality") or ""
    hazard = doc.get("hazard") or None
    hname = _hz(hazard["code"]) if hazard else ""
    lines.append(f"{place} 災害対策本部 状況報告".strip())
    lines.append(f"時点：{_ja_time(doc['generated_at'])} 現在")
    lines.append(
        f"対象とする災害：{hname}"
        if hazard
        else "対象とする災害：指定なし（避難所の適否は判定していません）"
    )
    inc = doc["incidents"]

    lines += ["", "1 被害の概要"]
    lines.append(
        f"・受付事案 累計{inc['total']}件（対応中 {inc['active']}件、対応済み {inc['resolved']}件）"
    )
    if doc.get("since"):
        lines.append(
            f"・前回報告（{_ja_time(doc['since'])}）以降の新規受付 {inc['new_since']}件"
            + (
                f"（{_join_counts(inc['new_by_category'], '件')}）"
                if inc["new_by_category"]
                else ""
            )
        )
    lines.append(
        f"・人命に関わるおそれのある事案 {inc['life_threat']}件、要配慮者が関わる事案 {inc['vulnerable']}件、"
        f"関係する人数（判明分）{inc['people']}人（いずれも対応中の事案）"
    )
    if inc["by_category"]:
        lines.append(f"・種別（対応中）：{_join_counts(inc['by_category'], '件')}")
    windows = "、".join(f"直近{_minutes_ja(int(w))} {n}件" for w, n in inc["by_window"].items())
    if windows:
        lines.append(f"・発生時刻別（対応中）：{windows}")
    ranked = sorted(
        (d for d in doc["districts"] if d["incidents"]["active"]),
        key=lambda d: (-d["incidents"]["life_threat"], -d["incidents"]["active"], d["key"]),
    )
    if ranked:
        shown = "、".join(
            f"{d['name']} {d['incidents']['active']}件"
            + (
                f"（うち人命 {d['incidents']['life_threat']}件）"
                if d["incidents"]["life_threat"]
                else ""
            )
            for d in ranked[:10]
        )
        more = f" ほか{len(ranked) - 10}地区" if len(ranked) > 10 else ""
        lines.append(f"・地区別（人命に関わる事案、対応中の件数の多い順）：{shown}{more}")
    if inc["outside_districts"]:
        lines.append(f"・地区を特定できない事案 {inc['outside_districts']}件")
    zone = inc.get("in_hazard_zone")
    if zone:
        detail = _join_counts(
            {r: n for r, n in zone["by_rank"].items() if n}, "件", translate=False
        )
        lines.append(
            f"・{hname}の想定区域内の事案（対応中）{zone['total']}件"
            + (f"（{detail}）" if detail else "")
        )

    sh = doc["shelters"]
    lines += ["", f"2 避難所の状況（{hname}）" if hazard else "2 避難所の状況"]
    counts = sh["counts"]
    if hazard:
        unsafe = [s for s in sh["items"] if s["state"] == "unsafe"]
        if unsafe:
            lines.append(f"【危険】開設中だが{hname}の想定区域内にある避難所 {len(unsafe)}か所")
            lines += [
                f"　・{s['name']}（{s['zone_rank'] or '想定区域内'}、避難者 {s['occupancy']}人）"
                for s in unsafe
            ]
        zones = sh.get("zones_known", bool(hazard.get("zones_available")))
        flagless = set(sh.get("kinds_without_hazard_data") or [])
        by_kind = sh.get("designated_by_kind") or {}
        kind_ja = {"emergency_site": "指定緊急避難場所", "designated_shelter": "指定避難所"}
        unknown_note = (
            "（指定避難所のデータには災害種別の指定がないため、指定避難所は数えていません）"
            if "designated_shelter" in flagless
            else ""
        )
        if sh["no_designated_shelter"]:
            flagged = [
                kind_ja[k]
                for k in ("designated_shelter", "emergency_site")
                if k in by_kind and k not in flagless
            ]
            lines.append(
                f"・{place or '本市'}には、{hname}に対応する"
                f"{'・'.join(flagged) or '指定避難所・指定緊急避難場所'}の指定はありません。"
                + unknown_note
            )
        else:
            detail = "、".join(f"{kind_ja[k]} {n}か所" for k, n in by_kind.items() if n)
            lines.append(
                f"・{hname}に対応する指定避難所等 {sh['designated']}か所"
                + (f"（{detail}）" if detail else "")
                + (f"、うち{hname}の想定区域内 {sh['designated_in_zone']}か所" if zones else "")
                + unknown_note
            )
        if not zones:
            lines.append(
                f"・{hname}の想定区域のデータがないため、避難所等が区域の内か外かは判定していません"
            )
        if zones:
            lines.append(
                f"・開設中で利用可能（{hname}の指定あり・想定区域外）{counts['usable']}か所"
            )
            if counts["open_not_designated"]:
                lines.append(
                    f"・開設中（{hname}の指定なし・想定区域外）{counts['open_not_designated']}か所"
                )
        else:
            lines.append(f"・開設中で{hname}の指定あり（想定区域は不明）{counts['usable']}か所")
            if counts["open_not_designated"]:
                lines.append(f"・開設中（{hname}の指定なし）{counts['open_not_designated']}か所")
        lines.append(f"・未開設（{hname}の指定あり）{sh['designated_closed']}か所")
    else:
        lines.append(f"・開設中 {counts['open']}か所、未開設 {counts['closed']}か所")
    occ = sh["occupancy"]
    lines.append(
        f"・避難者 {occ['people']}人（開設中 {occ['open']}か所）"
        + (
            f"、収容人数が分かる{occ['open_with_capacity']}か所の収容人数 計{occ['capacity']}人"
            if occ["open_with_capacity"]
            else ""
        )
    )
    if occ["full"]:
        names = {s["key"]: s for s in sh["items"]}
        lines.append(
            "・収容人数に達した避難所："
            + "、".join(
                f"{names[k]['name']}（{names[k]['occupancy']}人／{names[k]['capacity']}人）"
                for k in occ["full"]
            )
        )
    if hazard:
        code = hazard["code"]
        reach = [d for d in doc["districts"] if (d["exposure"].get(code) or {}).get("people")]
        reach.sort(key=lambda d: (-d["exposure"][code]["people"], d["key"]))
        listed = []
        for d in reach[:10]:
            near = d["nearest_usable_shelter"]
            listed.append(
                f"{d['name']}→{near['name']} {near['distance_m']}m"
                if near
                else f"{d['name']}→利用可能な避難所なし"
            )
        if listed:
            lines.append(
                "・想定区域に人口のある地区から最寄りの利用可能な避難所（直線距離）："
                + "、".join(listed)
            )

    ex = doc["exposure"]
    lines += ["", "3 人的被害のおそれ（想定区域内の推計人口）"]
    if not ex["hazards"]:
        lines.append("・ハザード区域のデータがないため推計していません")
    for code, h in ex["hazards"].items():
        top = sorted(
            (d for d in doc["districts"] if (d["exposure"].get(code) or {}).get("people")),
            key=lambda d: (-d["exposure"][code]["people"], d["key"]),
        )[:5]
        lines.append(
            f"・{_hz(code)}：約{h['people']}人（{h['districts_affected']}地区）"
            + (
                "。多い地区："
                + "、".join(f"{d['name']} 約{d['exposure'][code]['people']}人" for d in top)
                if top
                else ""
            )
        )
    if ex["hazards"]:
        source = "、".join(ex["population_source"]) or "地区の人口"
        lines.append(f"　推計方法：{source}を面積按分（地区内に人口が一様に分布すると仮定）")

    hs = doc["hotspots"]
    lines += [
        "",
        f"4 事案の集中（半径{_num(hs['radius_m'])}m・{_num(hs['window_minutes'])}分以内に"
        f"{hs['min_incidents']}件以上）",
    ]
    if not hs["items"]:
        lines.append("・該当なし")
    for spot in hs["items"][:10]:
        where = (
            f"{spot['district']['name']}付近"
            if spot["district"]
            else f"北緯{spot['lat']} 東経{spot['lon']}付近"
        )
        cats = _join_counts(dict(list(spot["by_category"].items())[:3]), "件")
        lines.append(
            f"・{spot['id']} {where} {spot['count']}件（{_ja_time(spot['first_at'], False)}〜"
            f"{_ja_time(spot['last_at'], False)}"
            + (f"、人命 {spot['life_threat']}件" if spot["life_threat"] else "")
            + f"、{cats}）"
        )
    if hs["count"] > 10:
        lines.append(f"・ほか{hs['count'] - 10}か所")

    if doc["attribution"]:
        credits = list(dict.fromkeys(c for a in doc["attribution"] for c in credit_items(a)))
        lines += ["", "出典：" + "／".join(credits)]
    return "\n".join(lines) + "\n"


def _num(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else str(value)


def _minutes_ja(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440 * 24}時間"
    if minutes % 60 == 0:
        return f"{minutes // 60}時間"
    return f"{minutes}分"


def _join_counts(counts: dict, unit: str, translate: bool = True) -> str:
    return "、".join(f"{_cat(k) if translate else k} {n}{unit}" for k, n in counts.items())
