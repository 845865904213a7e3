"""Renderers of a damage report: snapshot in, bytes out (pure functions of the stored report).

- PDF (WeasyPrint): 第4号様式 その1 (災害概況即報) and その2 (被害状況即報) in the form's
  layout, A4, black on white, 10 pt and larger, so that it stays readable after a FAX;
- CSV (UTF-8 with BOM, for Excel and prefectural systems): one row per item: 項目 (the item's
  path), 値, 単位, 状態 (確定 or 未確認); the report's own fields first (報告.…), the shelters
  one by one after the totals (避難所.<name>.…);
- XLSX (openpyxl): the same rows, numbers as numbers;
- text (the e-mail body), HTML (the desk and the PDF), JSON (the snapshot).

A report is an official Japanese document: its text is Japanese whatever the reader's UI
language. Nothing here reads the clock, the request or the live tables.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from disaster_ai.storage.base import JST

FORMATS = {
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
FORMAT_ALIASES = {"text": "txt", "htm": "html", "excel": "xlsx"}
EXERCISE_MARK = "【訓練】"
CSV_HEADER = ("項目", "値", "単位", "状態")
LEFT_GROUPS = ("人的被害", "住家被害", "非住家", "田", "畑", "その他")
UNSET = "未設定"
NUMBER = re.compile(r"^(0|[1-9]\d*)(\.\d+)?$")


def normalise_format(fmt: str) -> str:
    fmt = (fmt or "").lower()
    fmt = FORMAT_ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    return fmt


def ja_datetime(value: str | None) -> str:
    """``2026-09-05T10:00:00+09:00`` → ``令和8年9月5日 10時00分``, as the bulletins write it."""
    from disaster_ai.web.times import ja_datetime as era_datetime

    return era_datetime(value)


def title_of(snapshot: dict) -> str:
    mark = EXERCISE_MARK if snapshot["event"].get("exercise") else ""
    number = snapshot["report"]["number"]
    return f"{mark}{snapshot['event']['name']} 災害報告（第4号様式）第{number}報"


def filename_of(snapshot: dict, fmt: str) -> str:
    return f"report-{snapshot['event']['id']}-{snapshot['report']['number']:03d}.{fmt}"


# --- values as the form prints them ----------------------------------------------------------


def _number_text(value: str) -> str:
    if "." in value:
        whole, fraction = value.split(".", 1)
        return f"{int(whole):,}.{fraction}"
    return f"{int(value):,}"


def value_text(item: dict, with_unit: bool = True) -> str:
    """「12棟」, 「未確認」, 「3人（一部未確認）」, a text item's text."""
    value, unit = item["value"], item["unit"] if with_unit else ""
    if item["kind"] == "text":
        if value is None:
            return "未確認"
        return value + ("（未確認）" if item["state"] == "unconfirmed" else "")
    if value is None:
        return "未確認"
    text = _number_text(value) + unit
    if item["state"] == "unconfirmed":
        text += "（一部未確認）" if item.get("derived") or item.get("auto") else "（未確認）"
    return text


def previous_text(item: dict) -> str:
    """「前報 8棟」 when the item changed since the previous report, else ""."""
    if not item.get("changed") or not item.get("previous"):
        return ""
    return "前報 " + value_text({**item, **item["previous"]})


def display_name(item: dict) -> str:
    """The name the form prints: the path without its group, and without a last part that
    only repeats the unit (住家被害.全壊.棟 → 全壊)."""
    parts = item["path"].split(".")[1:]
    if len(parts) > 1 and parts[-1] == item["unit"]:
        parts = parts[:-1]
    if item["name"] and item["name"] != "・".join(item["path"].split(".")[1:]):
        return item["name"]  # an explicit label from the catalogue
    return "・".join(parts) or item["path"]


# --- rows: CSV and XLSX ----------------------------------------------------------------------


def _row(path: str, value, unit: str, confirmed: bool) -> tuple[str, str, str, str]:
    text = "" if value is None else str(value)
    return (path, text, unit, "確定" if confirmed and value not in (None, "") else "未確認")


def rows(snapshot: dict) -> list[tuple[str, str, str, str]]:
    """(項目, 値, 単位, 状態) for every item, the report's fields first."""
    report, event, muni = snapshot["report"], snapshot["event"], snapshot["municipality"]
    out = [
        _row("報告.災害名", event["name"], "", True),
        _row("報告.報数", report["number"], "報", True),
        _row("報告.報告日時", report["issued_at"], "", True),
        _row("報告.覚知日時", event["opened_at"], "", True),
        _row("報告.都道府県", muni.get("prefecture") or None, "", True),
        _row("報告.市町村", muni.get("name") or None, "", True),
        _row("報告.報告者名", report.get("reporter") or None, "", True),
    ]
    if event.get("exercise"):
        out.append(_row("報告.訓練", "訓練", "", True))
    for item in snapshot["items"]:
        out.append(_row(item["path"], item["value"], item["unit"], item["state"] == "confirmed"))
        if item.get("auto") == "shelters.vulnerable":
            out += _shelter_rows(snapshot["shelters"])
    return out


def _shelter_rows(part: dict) -> list[tuple[str, str, str, str]]:
    out = []
    for s in part.get("open") or []:
        name = s["name"].replace(".", "．")
        out.append(_row(f"避難所.{name}.避難者数", s["people"], "人", True))
        out.append(_row(f"避難所.{name}.避難世帯数", s["households"], "世帯", True))
        out.append(_row(f"避難所.{name}.要配慮者数", s["vulnerable"], "人", True))
    return out


def render_csv(snapshot: dict) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(rows(snapshot))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def render_xlsx(snapshot: dict) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "第4号様式"
    sheet.append(list(CSV_HEADER))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for path, value, unit, state in rows(snapshot):
        sheet.append([path, _cell(value), unit, state])
    for column, width in zip("ABCD", (44, 36, 8, 8), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    issued = datetime.fromisoformat(snapshot["report"]["issued_at"]).astimezone(JST)
    workbook.properties.creator = "disaster-ai"
    workbook.properties.title = title_of(snapshot)
    workbook.properties.created = workbook.properties.modified = issued.replace(tzinfo=None)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _cell(value: str):
    """A number as a number (int, or float for ha), anything else as text."""
    if value == "":
        return None
    match = NUMBER.match(value)
    if not match:
        return value
    return float(value) if match.group(2) else int(value)


def render_json(snapshot: dict) -> bytes:
    return (json.dumps(snapshot, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode()


# --- HTML and PDF ----------------------------------------------------------------------------


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("disaster_ai.apps.reports", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        ja_datetime=ja_datetime, value=value_text, previous=previous_text, label=display_name
    )
    env.globals.update(title_of=title_of, UNSET=UNSET)
    return env


def _columns(items: list[dict]) -> tuple[list, list]:
    """その2's two columns: (group, items) lists, the form's left groups on the left."""
    groups: dict[str, list] = {}
    for item in items:
        if "その2" in item["forms"]:
            groups.setdefault(item["group"], []).append(item)
    left = [(g, rows) for g, rows in groups.items() if g in LEFT_GROUPS]
    right = [(g, rows) for g, rows in groups.items() if g not in LEFT_GROUPS]
    return left, right


def render_html(snapshot: dict) -> str:
    items = {i["path"]: i for i in snapshot["items"]}
    left, right = _columns(snapshot["items"])
    return (
        _environment()
        .get_template("reports/form.html")
        .render(
            r=snapshot,
            items=items,
            form1=[i for i in snapshot["items"] if "その1" in i["forms"]],
            left=left,
            right=right,
        )
    )


def _quiet_subsetting(record) -> bool:
    return not str(record.msg).startswith("Using fontTools instead of HarfBuzz-Subset")


def render_pdf(snapshot: dict) -> bytes:
    import logging

    # WeasyPrint logs every step at INFO, its import included (the user-agent stylesheets),
    # and warns on every PDF when fontTools subsets the fonts (no libharfbuzz-subset0: the PDF
    # is right, docs/install.md names the optional package).
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    weasy_log = logging.getLogger("weasyprint")
    if _quiet_subsetting not in weasy_log.filters:
        weasy_log.addFilter(_quiet_subsetting)
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from disaster_ai import fonts

    font_config = FontConfiguration()
    extra = fonts.weasyprint_css()
    return HTML(string=render_html(snapshot)).write_pdf(
        stylesheets=[CSS(string=extra, font_config=font_config)] if extra else None,
        font_config=font_config,
    )


# --- text ------------------------------------------------------------------------------------


def render_text(snapshot: dict) -> str:
    """The e-mail body: the header, then every item that has a value or changed, and the
    count of items still 未確認 (the PDF attached is the report itself)."""
    report, event, muni = snapshot["report"], snapshot["event"], snapshot["municipality"]
    lines = [title_of(snapshot)]
    if event.get("exercise"):
        lines.append("これは訓練です。")
    lines.append(f"報告日時：{ja_datetime(report['issued_at'])}")
    lines.append(
        f"都道府県：{muni.get('prefecture') or UNSET}　市町村：{muni.get('name') or UNSET}"
    )
    lines.append(f"報告者名：{report.get('reporter') or UNSET}")
    lines.append(f"覚知日時：{ja_datetime(event['opened_at'])}")
    if report.get("previous"):
        previous = report["previous"]
        lines.append(f"前報：第{previous['number']}報（{ja_datetime(previous['issued_at'])}）")
    group = None
    unconfirmed = 0
    for item in snapshot["items"]:
        if item["value"] is None:
            unconfirmed += 1
            continue
        if item["group"] != group:
            group = item["group"]
            lines += [""] if group == item["path"] else ["", f"■{group}"]
        change = previous_text(item)
        lines.append(
            f"・{display_name(item)}：{value_text(item)}" + (f"（{change}）" if change else "")
        )
    shelters = snapshot["shelters"].get("open") or []
    if shelters:
        lines += ["", "■避難所別の避難者数"]
        for s in shelters:
            lines.append(
                f"・{s['name']}：{s['people']}人"
                f"・{'未確認' if s['households'] is None else str(s['households']) + '世帯'}"
                f"・要配慮者{'未確認' if s['vulnerable'] is None else str(s['vulnerable']) + '人'}"
            )
    lines += ["", f"未確認の項目：{unconfirmed}項目（PDF・CSVでは「未確認」と表示）"]
    if report.get("remark"):
        lines += ["", "備考", report["remark"]]
    return "\n".join(lines) + "\n"
