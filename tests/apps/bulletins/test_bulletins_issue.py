"""Issuing bulletins: the frozen snapshot, numbering per event, reproducible rendering, and the
Japanese PDF (checked with poppler: rasterised with pdftoppm, text read back with pdftotext)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from bulletin_helpers import T0, add_incident, bulletin_rows
from sqlalchemy import event as sa_event
from sqlalchemy import update

from disaster_ai.apps.bulletins import render, service
from disaster_ai.apps.bulletins.models import Bulletin, DisasterEvent
from disaster_ai.fonts import japanese_font
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.testing import require_tool

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
PNG = b"\x89PNG\r\n\x1a\n"
FORBIDDEN = ("避難勧告", "避難準備・高齢者等避難開始", "避難準備情報", "災害発生情報")


def issue(app, event_id, **kwargs):
    result = service.issue_bulletin(app, event_id, **kwargs)
    (row,) = [b for b in bulletin_rows(app) if b.id == result.bulletin_id]
    return row


def formats(row) -> dict[str, bytes]:
    return {fmt: service.render_bulletin(row, fmt)[0] for fmt in ("html", "json", "txt")}


def test_snapshot_numbering_and_new_since_previous(live, event, clock):
    first = issue(live, event["id"], remark="県へ応援要請済み")
    assert first.number == 1 and first.map_png.startswith(PNG)
    snap = first.snapshot
    assert snap["bulletin"]["title"] == "令和8年台風第10号に係る被害状況等について（第1報）"
    assert snap["bulletin"]["previous"] is None and snap["since"] == T0.isoformat()
    assert (snap["municipality"], snap["issuer"]) == ("焼津市", "焼津市災害対策本部")
    sit = snap["situation"]
    assert sit["hazard"] == {"code": "inland_flood", "name": "内水氾濫"}
    assert sit["incidents"]["total"] == 6 and sit["incidents"]["life_threat"] == 1
    assert sit["incidents"]["new_since"] == 0  # recorded before the event opened
    (life,) = sit["life_threatening"]["items"]
    assert (life["category_ja"], life["place"], life["people"], life["vulnerable"]) == (
        "浸水",
        "焼津駅前",
        3,
        True,
    )
    assert (
        sit["shelters"]["occupancy"]["open"] == 1 and sit["shelters"]["occupancy"]["people"] == 40
    )
    assert sit["exposure"]["hazards"][0]["code"] == "inland_flood"
    assert snap["map"] == {
        "available": True,
        "sha256": __import__("hashlib").sha256(first.map_png).hexdigest(),
        "bytes": len(first.map_png),
    }
    text = render.render_text(snap)
    assert "・災害の発生（記録開始）以降の新規 0件" in text
    assert "特記事項\n県へ応援要請済み" in text

    clock.advance(hours=3)
    add_incident(live, clock.now - timedelta(minutes=5), category="landslide", life_threat=True)
    second = issue(live, event["id"])
    assert second.number == 2
    snap = second.snapshot
    assert snap["bulletin"]["previous"] == {"number": 1, "issued_at": T0.isoformat()}
    assert snap["situation"]["incidents"]["new_since"] == 1
    assert snap["situation"]["incidents"]["new_by_category"] == [
        {"code": "landslide", "name": "土砂災害", "count": 1}
    ]
    assert "・前回（第1報）以降の新規 1件（土砂災害 1件）" in render.render_text(snap)

    # numbers are per event
    other = service.open_event(live, "令和8年9月大雨")
    assert issue(live, other["id"], with_map=False).number == 1


def test_rerendering_bulletin_n_uses_only_its_snapshot(live, event, clock):
    row = issue(live, event["id"])
    before = formats(row)
    assert before["html"].startswith(b"<!doctype html>")
    assert "data:image/png;base64," in before["html"].decode()

    # the live picture changes completely: new incidents, a shelter closed, the event renamed
    clock.advance(hours=1)
    for minutes in range(5):
        add_incident(
            live, clock.now - timedelta(minutes=minutes), category="fire", life_threat=True
        )
    from disaster_ai.apps.situation.models import ShelterStatus

    with session_scope(get_storage(live)) as session:
        session.execute(update(ShelterStatus).values(is_open=False, occupancy=0))
        session.execute(update(DisasterEvent).values(name="別の名前"))
    (reloaded,) = [b for b in bulletin_rows(live) if b.id == row.id]
    assert formats(reloaded) == before
    # a new bulletin does see the change
    newer = issue(live, event["id"])
    assert newer.snapshot["situation"]["incidents"]["by_category"][0]["name"] == "火災"
    assert newer.snapshot["event"]["name"] == "別の名前"


def test_pdf_renders_japanese_with_the_cjk_font(live, event, tmp_path):
    # poppler reads the PDF as a desk's viewer would; tests/test_fonts.py checks the same
    # without poppler and without system fonts
    require_tool("pdftoppm", "poppler-utils", "rasterises the bulletin PDF")
    require_tool("pdftotext", "poppler-utils", "reads the bulletin PDF's text back")
    row = issue(live, event["id"])
    body, content_type, filename = service.render_bulletin(row, "pdf")
    assert content_type == "application/pdf" and filename == f"bulletin-{event['id']}-001.pdf"
    pdf = tmp_path / filename
    pdf.write_bytes(body)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert pages and all(p.read_bytes().startswith(PNG) and p.stat().st_size > 2000 for p in pages)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "第1報" in text
    assert "令和8年台風第10号" in text
    assert "被害の状況" in text and "避難所の状況" in text and "焼津市災害対策本部" in text
    if shutil.which("pdffonts"):
        fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
        # embedded (subset), not substituted: the system's Noto Sans CJK, else the packaged one
        assert japanese_font().family.replace(" ", "-") in fonts, fonts
    # the same snapshot gives the same PDF
    assert service.render_bulletin(row, "pdf")[0] == body


def test_exercise_events_are_marked_in_every_format(app, clock):
    exercise = service.open_event(app, "令和8年度総合防災訓練", exercise=True)
    row = issue(app, exercise["id"], with_map=False)
    out = formats(row)
    assert row.snapshot["bulletin"]["title"].startswith("【訓練】令和8年度総合防災訓練")
    for fmt in ("html", "txt"):
        assert "【訓練】" in out[fmt].decode()
    assert "これは訓練です" in out["txt"].decode()


def test_no_legacy_evacuation_term_in_any_output_or_template(app, event):
    out = formats(issue(app, event["id"], with_map=False))
    package = Path(service.__file__).parent
    sources = [
        p.read_text(encoding="utf-8") for p in package.rglob("*") if p.suffix in {".py", ".html"}
    ]
    for term in FORBIDDEN:
        assert all(term not in body.decode() for body in out.values())
        # the one mention allowed is in this test's own list
        assert all(term not in source for source in sources), term


def test_a_bulletin_is_issued_even_when_the_situation_fails(app, event, monkeypatch):
    from disaster_ai.apps.situation import summary

    def broken(*args, **kwargs):
        raise RuntimeError("layers corrupt")

    monkeypatch.setattr(summary, "compute_situation", broken)
    row = issue(app, event["id"])
    assert row.snapshot["situation"] == {
        "available": False,
        "error": "RuntimeError: layers corrupt",
    }
    assert row.map_png is None
    text = render.render_text(row.snapshot)
    assert "状況データを取得できませんでした" in text and "・状況図なし" in text
    assert b"%PDF" in service.render_bulletin(row, "pdf")[0][:8]


def test_a_number_taken_concurrently_is_retried_with_the_next_one(app, event):
    """Between reading max(number) and inserting, another process takes the number: the unique
    constraint refuses our row and the service retries with the next number."""
    fired = []

    def competitor(mapper, connection, target):
        if fired:
            return
        fired.append(target.number)
        with get_storage(app).engine.begin() as other:  # another connection commits first
            other.execute(
                Bulletin.__table__.insert().values(
                    event_id=target.event_id,
                    number=target.number,
                    issued_at=T0,
                    trigger="manual",
                    snapshot={},
                    remark="",
                    created_by="other-process",
                )
            )

    sa_event.listen(Bulletin, "before_insert", competitor)
    try:
        row = issue(app, event["id"], with_map=False)
    finally:
        sa_event.remove(Bulletin, "before_insert", competitor)
    assert fired == [1]
    assert row.number == 2 and row.snapshot["bulletin"]["number"] == 2
    assert row.snapshot["bulletin"]["title"].endswith("（第2報）")
    assert sorted(b.number for b in bulletin_rows(app, event["id"])) == [1, 2]


def test_closed_and_unknown_events_refuse_bulletins(app, event):
    service.close_event(app, event["id"])
    with pytest.raises(service.EventClosed):
        service.issue_bulletin(app, event["id"])
    with pytest.raises(service.EventNotFound):
        service.issue_bulletin(app, 999)
    assert bulletin_rows(app) == []
