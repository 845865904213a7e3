"""Renderers: snapshot (+ map PNG) in, bytes out. Pure functions of the stored bulletin.

HTML (Jinja2, Japanese), plain text, JSON and PDF (WeasyPrint; the font from disaster_ai.fonts:
the system's "Noto Sans CJK JP", else the packaged IPAexGothic). A
bulletin is an official Japanese document, so its text is Japanese whatever the reader's UI
language, and nothing here reads the clock, the request or the live tables: bulletin N always
renders to the same HTML, text and JSON bytes.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from disaster_ai import levels
from disaster_ai.apps.bulletins.snapshot import closed_shelter_conflicts
from disaster_ai.storage.base import JST
from disaster_ai.web.times import ja_datetime  # noqa: F401  (also the bulletins' name for it)

FORMATS = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
}
FORMAT_ALIASES = {"text": "txt", "htm": "html"}
TRIGGER_JA = {"manual": "随時報", "scheduled": "定時報", "catch_up": "定時報（遅延発表）"}
LEVEL_CLASS = {n: f"lv{n}" for n in levels.LEVELS}
# the level cells' colours, from the one registry (disaster_ai.levels)
LEVEL_CSS = levels.badge_css(".bulletin-doc .lv{level}")
DIVIDER = "〜〜〈警戒レベル4までに必ず避難！〉〜〜"
# Hazard-zone exposure is not damage: the bulletin says so wherever it prints the estimate.
EXPOSURE_NOTE = (
    "　※被害の数ではありません。想定区域内に住む人口の推計です（実際の被害は「被害の集計」の項）。"
)
EXERCISE_MARK = "【訓練】"


def normalise_format(fmt: str) -> str:
    fmt = (fmt or "").lower()
    fmt = FORMAT_ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; formats: html, pdf, json, txt (text)")
    return fmt


# --- Japanese dates (ja_datetime: disaster_ai.web.times, shared with the reports) ------------


def ja_time(value: str | None) -> str:
    if not value:
        return ""
    t = datetime.fromisoformat(value).astimezone(JST)
    return f"{t.day}日 {t.hour}時{t.minute:02d}分"


def number(value) -> str:
    return "—" if value is None else f"{value:,}"


def title_of(snapshot: dict) -> str:
    b, event = snapshot["bulletin"], snapshot["event"]
    mark = EXERCISE_MARK if event.get("exercise") else ""
    return f"{mark}{event['name']}に係る被害状況等について（第{b['number']}報）"


def filename_of(snapshot: dict, fmt: str) -> str:
    return f"bulletin-{snapshot['event']['id']}-{snapshot['bulletin']['number']:03d}.{fmt}"


# --- JSON ----------------------------------------------------------------------------------


def render_json(snapshot: dict) -> bytes:
    return (json.dumps(snapshot, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode()


# --- HTML ----------------------------------------------------------------------------------


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("disaster_ai.apps.bulletins", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        ja_datetime=ja_datetime,
        ja_time=ja_time,
        num=number,
        attribution_text=attribution_text,
        source_label=source_label,
    )
    env.globals.update(
        TRIGGER_JA=TRIGGER_JA,
        LEVEL_CLASS=LEVEL_CLASS,
        LEVEL_CSS=LEVEL_CSS,
        DIVIDER=DIVIDER,
        EXPOSURE_NOTE=EXPOSURE_NOTE,
        title_of=title_of,
        closed_shelter_conflicts=closed_shelter_conflicts,
    )
    return env


def map_data_uri(png: bytes | None) -> str | None:
    return None if not png else "data:image/png;base64," + base64.b64encode(png).decode()


def render_html(
    snapshot: dict, map_png: bytes | None, *, standalone: bool = True, map_url: str | None = None
) -> str:
    """The bulletin as HTML. ``standalone`` gives a whole page with its print CSS and the map
    inlined (downloads, PDF, e-mail); otherwise a fragment for the desk page, whose map comes
    from ``map_url``."""
    src = map_data_uri(map_png) if standalone or not map_url else map_url
    if not map_png:
        src = None
    template = _environment().get_template("bulletins/document.html")
    return template.render(b=snapshot, map_src=src, standalone=standalone)


def _quiet_subsetting(record) -> bool:
    """Drop WeasyPrint's per-PDF warning that fontTools subsets the fonts because the system has
    no libharfbuzz-subset0: the PDF is right, and docs/install.md names the optional package."""
    return not str(record.msg).startswith("Using fontTools instead of HarfBuzz-Subset")


def render_pdf(snapshot: dict, map_png: bytes | None) -> bytes:
    import logging

    # WeasyPrint logs every layout step at INFO (its import too: the user-agent stylesheets);
    # the desk's logs want only its problems.
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from disaster_ai import fonts

    weasy_log = logging.getLogger("weasyprint")
    if _quiet_subsetting not in weasy_log.filters:
        weasy_log.addFilter(_quiet_subsetting)
    # The packaged Japanese font (or, with none at all, a visible note) comes as a stylesheet of
    # its own, so the HTML stays free of server paths and the same on every machine. Its
    # @font-face needs the same FontConfiguration in CSS() and write_pdf().
    font_config = FontConfiguration()
    extra = fonts.weasyprint_css()
    return HTML(string=render_html(snapshot, map_png, standalone=True)).write_pdf(
        stylesheets=[CSS(string=extra, font_config=font_config)] if extra else None,
        font_config=font_config,
    )


# --- plain text ------------------------------------------------------------------------------


def render_text(snapshot: dict) -> str:
    """The bulletin as plain text (e-mail bodies, radio desks, the CLI)."""
    b, event = snapshot["bulletin"], snapshot["event"]
    lines = [title_of(snapshot)]
    lines.append(f"{ja_datetime(b['issued_at'])} 現在　{snapshot['issuer']}")
    kind = TRIGGER_JA.get(b["trigger"], b["trigger"])
    if b["trigger"] == "catch_up" and b.get("slot_at"):
        kind += f"：予定時刻 {ja_datetime(b['slot_at'])}"
    lines.append(f"発表区分：{kind}")
    catch_up = snapshot.get("catch_up")
    if catch_up and (catch_up["missed_count"] or catch_up["skipped_count"]):
        lines.append(_catch_up_note(catch_up))
    if event.get("exercise"):
        lines.append("これは訓練です。")
    previous = b.get("previous")
    if previous:
        lines.append(f"前回：第{previous['number']}報（{ja_datetime(previous['issued_at'])}）")

    lines += ["", "1 発令中の避難情報"]
    lines += _notice_lines(snapshot["notices"])

    sit = snapshot["situation"]
    if not sit.get("available"):
        lines += [
            "",
            "2 被害の状況",
            "・状況データを取得できませんでした（状況表示機能が利用できません）。",
        ]
    else:
        lines += ["", "2 被害の状況"]
        lines += _incident_lines(sit, previous)
        lines += ["", "3 避難所の状況"]
        lines += _shelter_lines(sit)
        lines += ["", "4 想定区域内の人口（推計）"]
        lines += _exposure_lines(sit)
        lines += ["", "5 事案の集中"]
        lines += _hotspot_lines(sit)
    for index, section in enumerate(snapshot["sections"], start=6):
        lines += ["", f"{index} {section['title']}"]
        if section["body"]:
            lines.append(section["body"])
        lines += [f"・{item}" for item in section["items"]]
    for failure in snapshot.get("omitted_sections", []):
        lines.append(f"（{failure['plugin']} の項目は作成できなかったため省略しました）")
    lines += ["", "特記事項"]
    lines.append(b["remark"] or "なし")
    attribution = sit.get("attribution") if sit.get("available") else None
    if attribution:
        lines += ["", "出典：" + "／".join(attribution_text(a) for a in attribution)]
    lines += ["", "別添 状況図"]
    lines.append("・PDF版・HTML版に掲載" if snapshot["map"]["available"] else "・状況図なし")
    return "\n".join(lines) + "\n"


_CODE_PREFIX = re.compile(r"^[A-Za-z0-9_.\-]+\s*[:：]\s*")
_BARE_CODE = re.compile(r"^[A-Za-z0-9.\-]*_[A-Za-z0-9_.\-]*$")


def source_label(text: str) -> str:
    """A data source as a person reads it: an importer's internal code (``census2015_points_in_
    polygon: 平成27年国勢調査 …``) is left out; a bare code becomes 「地区の人口データ」."""
    text = str(text or "").strip()
    if _BARE_CODE.match(text):
        return "地区の人口データ"
    return _CODE_PREFIX.sub("", text, count=1) or "地区の人口データ"


def attribution_text(text: str) -> str:
    """A dataset credit without its own leading 「出典：」 (the line already starts with one)."""
    for prefix in ("出典：", "出典:"):
        if text.startswith(prefix):
            return text[len(prefix) :].strip()
    return text


def _catch_up_note(catch_up: dict) -> str:
    parts = []
    if catch_up["missed_count"]:
        parts.append(f"予定していた{catch_up['missed_count']}回分をこの報にまとめています")
    if catch_up["skipped_count"]:
        parts.append(f"猶予時間を過ぎた{catch_up['skipped_count']}回分は発表していません")
    return "※システム停止のため、" + "。".join(parts) + "。"


def _notice_lines(notices: dict) -> list[str]:
    lines = []
    if notices["status"] == "none_recorded":
        lines.append("・避難情報の発令状況は本システムに記録されていません。")
    elif not notices["items"]:
        lines.append("・発令中の避難情報はありません。")
    divider_shown = False
    for n in notices["items"]:
        if n["level"] < 5 and not divider_shown and any(x["level"] == 5 for x in notices["items"]):
            lines.append(DIVIDER)
            divider_shown = True
        hazard = f"（{n['hazard_name']}）" if n["hazard_name"] else ""
        when = f" {ja_datetime(n['issued_at'])}発令" if n["issued_at"] else ""
        lines.append(f"・【警戒レベル{n['level']}】{n['name']}{hazard} {n['district_name']}{when}")
    for c in closed_shelter_conflicts(notices["items"]):
        lines.append(
            f"【注意】避難先の{c['shelter']}は開設されていません"
            f"（{'、'.join(c['districts'])}の避難先）。"
        )
    if notices.get("errors"):
        lines.append("・一部の避難情報を取得できませんでした。発令状況は本部で確認してください。")
    return lines


def _counts(items) -> str:
    return "、".join(f"{c['name']} {c['count']}件" for c in items or [])


def _incident_lines(sit: dict, previous: dict | None) -> list[str]:
    inc = sit["incidents"]
    lines = [
        f"・受付事案 累計{inc['total']}件（対応中 {inc['active']}件、対応済み {inc['resolved']}件）"
    ]
    label = f"前回（第{previous['number']}報）" if previous else "災害の発生（記録開始）"
    if inc["new_since"] is not None:
        new = f"・{label}以降の新規 {inc['new_since']}件"
        if inc["new_by_category"]:
            new += f"（{_counts(inc['new_by_category'])}）"
        lines.append(new)
    lines.append(
        f"・人命に関わるおそれのある事案（対応中）{inc['life_threat']}件、"
        f"要配慮者が関わる事案（対応中）{inc['vulnerable']}件"
    )
    if inc["by_category"]:
        lines.append(f"・種別（対応中）：{_counts(inc['by_category'])}")
    if sit["districts"]:
        lines.append("・地区別（累計／対応中／人命）：")
        lines += [
            f"　{d['name']} {d['total']}件／{d['active']}件／{d['life_threat']}件"
            + (f"（新規 {d['new_since']}件）" if d["new_since"] else "")
            for d in sit["districts"]
        ]
    if inc["outside_districts"]:
        lines.append(f"・地区を特定できない事案 {inc['outside_districts']}件")
    life = sit.get("life_threatening") or {}
    if life.get("items"):
        lines.append("・人命に関わるおそれのある対応中の事案：")
        for item in life["items"]:
            where = "・".join(x for x in (item["district"], item["place"]) if x) or "場所不明"
            lines.append(
                f"　#{item['id']} {item['category_ja']} {where} {ja_time(item['occurred_at'])}"
                + (f" {item['people']}人" if item["people"] else "")
                + ("（要配慮者）" if item["vulnerable"] else "")
            )
        if life["total"] and life["total"] > len(life["items"]):
            lines.append(f"　ほか{life['total'] - len(life['items'])}件")
    return lines


def _shelter_lines(sit: dict) -> list[str]:
    sh = sit["shelters"]
    occ = sh["occupancy"]
    lines = []
    unsafe = [s for s in sh["open"] if s["state"] == "unsafe"]
    if unsafe:
        lines.append(f"【危険】開設中だが想定区域内にある避難所 {len(unsafe)}か所")
        lines += [
            f"　・{s['name']}（{s['zone_rank'] or '想定区域内'}、避難者 {s['occupancy']}人）"
            for s in unsafe
        ]
    if sh["no_designated_shelter"] and sit.get("hazard"):
        lines.append(
            f"・{sit['hazard']['name']}に対応する指定避難所・指定緊急避難場所の指定はありません。"
        )
    lines.append(f"・開設中 {occ['open']}か所、避難者 {occ['people']}人")
    if occ["open_with_capacity"]:
        lines.append(
            f"・収容人数が分かる{occ['open_with_capacity']}か所の収容人数 計{occ['capacity']}人"
        )
    if sh["full"]:
        lines.append("・収容人数に達した避難所：" + "、".join(sh["full"]))
    for s in sh["open"]:
        if s["state"] == "unsafe":
            continue
        capacity = f"／{s['capacity']}人" if s["capacity"] is not None else ""
        lines.append(f"　{s['name']}（{s['state_ja']}）{s['occupancy']}人{capacity}")
    return lines


def _exposure_lines(sit: dict) -> list[str]:
    ex = sit["exposure"]
    if not ex["hazards"]:
        return ["・ハザード区域のデータがないため推計していません"]
    lines = []
    for h in ex["hazards"]:
        top = "、".join(f"{d['name']} 約{d['people']}人" for d in h["top"])
        lines.append(
            f"・{h['name']}：約{h['people']}人（{h['districts_affected']}地区）"
            + (f"。多い地区：{top}" if top else "")
        )
    source = "、".join(source_label(s) for s in ex["population_source"]) or "出典不明"
    lines.append(EXPOSURE_NOTE)
    lines.append(
        f"　推計方法：地区の人口（{source}）を想定区域との重なりの面積で按分"
        "（地区内に人口が一様に分布すると仮定した概数）"
    )
    return lines


def _hotspot_lines(sit: dict) -> list[str]:
    hs = sit["hotspots"]
    if not hs["items"]:
        return ["・該当なし"]
    lines = []
    for h in hs["items"]:
        cats = "、".join(f"{c['name']} {c['count']}件" for c in h["categories"][:3])
        lines.append(
            f"・{h['id']} {h['district'] or '地区外'}付近 {h['count']}件"
            f"（{ja_time(h['first_at'])}〜{ja_time(h['last_at'])}"
            + (f"、人命 {h['life_threat']}件" if h["life_threat"] else "")
            + (f"、{cats}" if cats else "")
            + "）"
        )
    if hs["count"] > len(hs["items"]):
        lines.append(f"・ほか{hs['count'] - len(hs['items'])}か所")
    return lines
