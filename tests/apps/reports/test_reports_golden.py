"""Golden tests of the issued report: the CSV and the PDF's text layer (read with pypdf) for a
scenario with partial data — items 未確認, derived totals that stay 未確認 while one of their
parts is, evacuees per shelter with an uncounted household figure — and a second report that
changes figures (marked 「前報 …」).

Set DISASTER_AI_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change, then
read the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from report_helpers import cli, cli_json, pdf_text, squeeze

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("DISASTER_AI_UPDATE_GOLDEN") == "1"


def check_golden(name: str, actual: str, *, squeezed: bool = False) -> None:
    path = GOLDEN / name
    if UPDATE:
        with path.open("w", encoding="utf-8", newline="") as f:
            f.write(actual)
    with path.open(encoding="utf-8", newline="") as f:  # the CSV's CRLF stays CRLF
        expected = f.read()
    if squeezed:
        assert squeeze(actual) == squeeze(expected), f"{name} differs:\n{actual}"
    else:
        assert actual == expected, f"{name} differs:\n{actual}"


def first_report_data(runner, event_id: str) -> None:
    cli(
        runner, "reports", "tally", "--event", event_id,
        "--set", "概況.発生場所=市内全域（河川沿いの低地）",
        "--set", "概況.災害の概況=大雨により市内各所で浸水。河川は氾濫危険水位を超過。",
        "--set", "人的被害.死者=0",
        "--set", "人的被害.負傷者.軽傷=2",
        "--unconfirmed", "人的被害.行方不明者",
        "--unconfirmed", "人的被害.負傷者.重傷",
        "--set", "住家被害.床上浸水.棟=12",
        "--set", "住家被害.床上浸水.世帯=10",
        "--set", "住家被害.床上浸水.人=25",
        "--set", "住家被害.床下浸水.棟=40",
        "--unconfirmed", "住家被害.半壊.世帯",
        "--set", "田.冠水=3.5",
        "--set", "応急対策.災害対策本部等の設置状況=災害対策本部 設置（9月5日 5時05分）",
        "--source", "phone", "--note", "消防本部",
    )  # fmt: skip
    cli(
        runner, "reports", "shelter", "designated-1", "--open",
        "--people", "40", "--households", "15", "--vulnerable", "3",
    )  # fmt: skip
    cli(runner, "reports", "shelter", "designated-2", "--open", "--people", "12")


def second_report_data(runner, event_id: str) -> None:
    cli(
        runner, "reports", "tally", "--event", event_id,
        "--set", "住家被害.床上浸水.棟=15",
        "--set", "人的被害.行方不明者=1",
        "--set", "人的被害.負傷者.重傷=0",
        "--set", "住家被害.全壊.世帯=0", "--set", "住家被害.全壊.人=0",
        "--set", "住家被害.半壊.世帯=2", "--set", "住家被害.半壊.人=5",
        "--set", "その他.道路=3",
    )  # fmt: skip
    cli(
        runner,
        "reports",
        "shelter",
        "designated-2",
        "--open",
        "--people",
        "20",
        "--households",
        "8",
    )


def test_two_reports_csv_and_pdf_match_the_golden_files(runner, event, clock, tmp_path):
    event_id = str(event["id"])
    clock.advance(minutes=10)
    first_report_data(runner, event_id)
    clock.advance(minutes=10)  # 05:20, 20 minutes after 覚知
    issued = cli_json(
        runner, "reports", "issue", "--event", event_id, "--format", "csv",
        "--out", str(tmp_path / "1.csv"), "--reporter", "防災 太郎",
    )  # fmt: skip
    assert issued["number"] == 1
    csv1 = (tmp_path / "1.csv").read_bytes()
    assert csv1.startswith("\ufeff".encode())  # Excel opens UTF-8 with its BOM
    cli(
        runner,
        "reports",
        "export",
        str(issued["report_id"]),
        "--format",
        "pdf",
        "--out",
        str(tmp_path / "1.pdf"),
    )
    pdf1 = pdf_text((tmp_path / "1.pdf").read_bytes())

    rows1 = csv1.decode("utf-8-sig").splitlines()
    assert rows1[0] == "項目,値,単位,状態"
    assert "人的被害.死者,0,人,確定" in rows1
    assert "人的被害.行方不明者,,人,未確認" in rows1
    assert "住家被害.床上浸水.棟,12,棟,確定" in rows1
    assert "住家被害.全壊.棟,,棟,未確認" in rows1  # never entered: 未確認, not 0
    assert "田.冠水,3.5,ha,確定" in rows1
    assert "人的被害.負傷者.計,2,人,未確認" in rows1  # 重傷 is 未確認
    assert "り災世帯数,10,世帯,未確認" in rows1  # 全壊/半壊 世帯 not confirmed yet
    assert "避難所.開設数,2,か所,確定" in rows1
    assert "避難所.避難者数,52,人,確定" in rows1
    assert "避難所.避難世帯数,15,世帯,未確認" in rows1  # one shelter has not counted
    assert "避難所.二区コミュニティ防災センター.避難世帯数,15,世帯,確定" in rows1
    assert "避難所.三区コミュニティ防災センター.避難世帯数,,世帯,未確認" in rows1
    assert "報告.報告者名,防災 太郎,,確定" in rows1
    assert all(row.count(",") >= 3 for row in rows1)
    assert "第4号様式（その1）" in pdf1 and "第4号様式（その2）" in pdf1
    assert "令和8年台風第10号（第1報）" in pdf1
    assert "census" not in pdf1 and "_" not in squeeze(pdf1)  # no internal codes
    check_golden("report1.csv", csv1.decode("utf-8-sig"))
    check_golden("report1.pdf.txt", pdf1, squeezed=True)

    clock.advance(minutes=40)  # 06:00
    second_report_data(runner, event_id)
    clock.advance(minutes=5)
    issued = cli_json(
        runner, "reports", "issue", "--event", event_id, "--format", "pdf",
        "--out", str(tmp_path / "2.pdf"), "--reporter", "防災 太郎",
    )  # fmt: skip
    assert issued["number"] == 2
    cli(
        runner,
        "reports",
        "export",
        str(issued["report_id"]),
        "--format",
        "csv",
        "--out",
        str(tmp_path / "2.csv"),
    )
    csv2 = (tmp_path / "2.csv").read_bytes().decode("utf-8-sig")
    pdf2 = pdf_text((tmp_path / "2.pdf").read_bytes())
    rows2 = csv2.splitlines()
    assert "住家被害.床上浸水.棟,15,棟,確定" in rows2
    assert "人的被害.行方不明者,1,人,確定" in rows2
    assert "り災世帯数,12,世帯,確定" in rows2 and "り災者数,30,人,確定" in rows2
    assert "避難所.避難世帯数,23,世帯,確定" in rows2
    assert "報告.報数,2,報,確定" in rows2
    assert "令和8年台風第10号（第2報）" in pdf2
    assert "前報12棟" in squeeze(pdf2)  # what changed since 第1報 is marked
    assert "前報未確認" in squeeze(pdf2)  # 行方不明者: 未確認 → 1人
    check_golden("report2.csv", csv2)
    check_golden("report2.pdf.txt", pdf2, squeezed=True)

    # report 1 is frozen: re-rendered after the tally moved on, it is the same
    cli(runner, "reports", "export", "1", "--format", "csv", "--out", str(tmp_path / "1again.csv"))
    assert (tmp_path / "1again.csv").read_bytes() == csv1


def test_the_pdf_is_a4_black_on_white_with_10pt_text_or_larger(runner, event, clock, tmp_path):
    """FAX-readable: A4 pages, no grey or colour, no text below 10 pt (pypdf walks the text)."""
    from pypdf import PdfReader

    first_report_data(runner, str(event["id"]))
    cli(
        runner,
        "reports",
        "issue",
        "--event",
        str(event["id"]),
        "--format",
        "pdf",
        "--out",
        str(tmp_path / "r.pdf"),
    )
    reader = PdfReader(str(tmp_path / "r.pdf"))
    sizes, colours = [], set()
    for page in reader.pages:
        box = page.mediabox
        assert (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)) == (
            210,
            297,
        )

        def visit(text, cm, tm, font_dict, font_size):
            if text.strip():
                scale = (tm[0] ** 2 + tm[1] ** 2) ** 0.5 * (cm[0] ** 2 + cm[1] ** 2) ** 0.5
                sizes.append(round(font_size * scale, 1))

        page.extract_text(visitor_text=visit)
        content = page.get_contents().get_data().decode("latin-1")
        for match in __import__("re").finditer(r"([\d.]+) ([\d.]+) ([\d.]+) (rg|RG)\b", content):
            colours.add(tuple(float(v) for v in match.groups()[:3]))
    assert sizes and min(sizes) >= 10, sorted(set(sizes))[:5]
    assert colours <= {(0.0, 0.0, 0.0), (1.0, 1.0, 1.0)}, colours
    assert len(reader.pages) == 2  # その1 and その2, each on its own page


def test_xlsx_has_the_same_rows_with_numbers_as_numbers(runner, event, clock, tmp_path):
    from openpyxl import load_workbook

    first_report_data(runner, str(event["id"]))
    cli(
        runner,
        "reports",
        "issue",
        "--event",
        str(event["id"]),
        "--format",
        "xlsx",
        "--out",
        str(tmp_path / "r.xlsx"),
    )
    cli(runner, "reports", "export", "1", "--format", "csv", "--out", str(tmp_path / "r.csv"))
    sheet = load_workbook(tmp_path / "r.xlsx").active
    rows = [tuple("" if c is None else c for c in row) for row in sheet.iter_rows(values_only=True)]
    csv_rows = [
        tuple(line.split(","))
        for line in (tmp_path / "r.csv").read_text(encoding="utf-8-sig").splitlines()
    ]
    assert sheet.title == "第4号様式"
    assert len(rows) == len(csv_rows)
    assert [r[0] for r in rows] == [r[0] for r in csv_rows]
    values = {r[0]: r for r in rows}
    assert values["住家被害.床上浸水.棟"] == ("住家被害.床上浸水.棟", 12, "棟", "確定")
    assert values["田.冠水"][1] == 3.5
    assert values["人的被害.行方不明者"] == ("人的被害.行方不明者", "", "人", "未確認")
    assert values["概況.発生場所"][1] == "市内全域（河川沿いの低地）"
