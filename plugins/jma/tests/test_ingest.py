"""Storing telegrams (once, raw XML kept), the municipality's view, Status and 取消, and the
suggestions: rule table → the notices' 提案 inbox → an issued notice; 取消 or a lowered warning
marks the suggestion outdated."""

from __future__ import annotations

import json
import shutil

import pytest
from jma_helpers import SAMPLES, cli_for, landslide_alert, log_in, sqlite_only
from sqlalchemy import select

from disaster_ai.desk import Desk


def districts_of(app, count=2):
    from disaster_ai.apps.situation import layers
    from disaster_ai.apps.situation.models import GeoFeature
    from disaster_ai.storage import get_storage, session_scope

    with session_scope(get_storage(app)) as session:
        version = layers.active_version(session, "districts")
        query = select(GeoFeature.key).where(GeoFeature.version_id == version.id).limit(count)
        return list(session.scalars(query))


def jma_suggestions(app):
    from dai_jma.models import Suggestion

    with Desk(app, "jma").session() as session:
        return [
            (s.rule_id, s.notice_id, s.level, s.outdated_reason or None)
            for s in session.scalars(select(Suggestion).order_by(Suggestion.id))
        ]


def ingest(app, data: bytes, name: str):
    from dai_jma.store import ingest as store

    with app.app_context():
        return store(Desk(app, "jma"), data, file_name=name, source="cli")


def test_a_folder_is_taken_in_once_with_the_raw_xml(jma_app, municipality, tmp_path, capsys):
    municipality("01214")  # 稚内市: in the 宗谷 samples
    app = jma_app()
    invoke = cli_for(app)
    folder = tmp_path / "incoming"
    folder.mkdir()
    for name in (
        "15_16_03_241226_VPWW55.xml",
        "15_16_04_250630_VPWW58.xml",
        "17_04_01_250630_VXWW50.xml",
    ):
        shutil.copy(SAMPLES / name, folder / name)
    (folder / "readme.xml").write_text("<readme/>", "utf-8")
    first = invoke(["jma", "ingest", str(folder), "--json"])
    assert first.exit_code == 1 and "readme.xml: not a JMA telegram" in first.stderr
    results = {r["file"]: r for r in json.loads(first.stdout)}
    assert [results[n]["result"] for n in sorted(results)] == [
        "stored",
        "stored",
        "stored",
        "error",
    ]
    assert results["15_16_03_241226_VPWW55.xml"]["ours"] is True
    assert results["17_04_01_250630_VXWW50.xml"]["ours"] is False  # 神奈川県: not 稚内市
    again = json.loads(invoke(["jma", "ingest", str(folder), "--json"]).stdout)
    assert sorted(r["result"] for r in again) == ["duplicate", "duplicate", "duplicate", "error"]

    from dai_jma.models import Telegram

    with Desk(app, "jma").session() as session:
        rows = list(session.scalars(select(Telegram)))
        assert len(rows) == 3
        raw = {r.file_name: r.raw_xml for r in rows}
    assert (
        raw["15_16_03_241226_VPWW55.xml"].encode()
        == (SAMPLES / "15_16_03_241226_VPWW55.xml").read_bytes()
    )

    status = json.loads(invoke(["jma", "status", "--json"]).stdout)
    assert status["telegrams"] == 3 and "0121400" in status["area_codes"]
    by_name = {w["name"]: w for w in status["in_force"]}
    rain = by_name["レベル４大雨危険警報"]
    assert (rain["level"], rain["area_name"], rain["phenomenon"], rain["type"]) == (
        4,
        "稚内市",
        "大雨",
        "VPWW55",
    )
    assert rain["reported_at"] == "2020-06-22T23:00:00+09:00"
    assert by_name["暴風警報"]["level"] is None  # shown, with no level of its own
    assert status["in_force"][0]["level"] == 4  # highest first


def test_the_page_shows_the_warnings_by_phenomenon_with_the_level_equivalent(
    jma_app, municipality, users
):
    municipality("01214")
    app = jma_app()
    ingest(app, (SAMPLES / "15_16_03_241226_VPWW55.xml").read_bytes(), "15_16_03_241226_VPWW55.xml")
    client = app.test_client()
    assert client.get("/apps/jma").status_code == 302  # a login first
    log_in(client, "operator")
    page = client.get("/apps/jma").get_data(as_text=True)
    assert 'data-phenomenon="大雨"' in page and "レベル４大雨危険警報" in page
    assert "警戒レベル4相当" in page and 'data-url="/apps/jma/live"' in page
    live = client.get("/apps/jma/live").get_data(as_text=True)
    assert "稚内市" in live and "<html" not in live  # the part the page refreshes
    dashboard = client.get("/").get_data(as_text=True)
    assert "警戒レベル4相当 大雨" in dashboard


def test_exercise_and_test_telegrams_are_not_acted_on(app, jma_app, yaizu, rules_file, users):
    jma = jma_app(rules_file=rules_file(districts_of(app)))
    for status, serial in (("訓練", 1), ("試験", 2)):
        row, created = ingest(jma, landslide_alert(status=status, serial=serial), f"{status}.xml")
        assert created and row.status == status
    with jma.app_context():
        from dai_jma.web import state

        data = state(Desk(jma, "jma"))
    assert data["in_force"] == [] and data["suggestions"] == []
    client = log_in(jma.test_client(), "operator")
    page = client.get("/apps/jma").get_data(as_text=True)
    assert "【訓練】" in page and "【試験】" in page
    # the same telegram with Status 通常 is acted on
    ingest(jma, landslide_alert(serial=3), "normal.xml")
    [(rule, _, level, outdated)] = jma_suggestions(jma)
    assert (rule, level, outdated) == ("landslide-lv4", 4, None)


def test_a_suggestion_flows_to_an_issued_notice(app, jma_app, yaizu, rules_file, api_headers):
    districts = districts_of(app)
    jma = jma_app(rules_file=rules_file(districts))
    ingest(jma, landslide_alert(), "20260905000000_0_VXWW50_220000.xml")
    [(rule, notice_id, level, outdated)] = jma_suggestions(jma)
    assert (rule, level, outdated) == ("landslide-lv4", 4, None)
    client = jma.test_client()
    operator, approver = api_headers("operator"), api_headers("approver")
    notice = client.get(f"/api/v1/notices/{notice_id}", headers=operator).get_json()
    assert notice["status"] == "draft" and notice["level"] == 4 and notice["hazard"] == "landslide"
    assert sorted(d["key"] for d in notice["districts"]) == sorted(districts)
    source = notice["suggestion"]
    assert source["plugin"] == "jma" and source["url"].startswith("/apps/jma/telegrams/")
    assert "警戒レベル4相当" in source["title"] and source["detail"]["type"] == "VXWW50"
    # the telegram it links to, with its raw XML
    log_in(client, "operator")
    linked = client.get(source["url"]).get_data(as_text=True)
    assert "静岡県レベル４土砂災害危険警報" in linked and "&lt;Report" in linked
    # a 継続 telegram suggests nothing new
    ingest(jma, landslide_alert("継続", at="2026-09-05T10:00:00+09:00", serial=2), "b.xml")
    assert len(jma_suggestions(jma)) == 1
    # adopted, approved and issued like any notice
    assert client.post(f"/api/v1/notices/{notice_id}/submit", headers=operator).status_code == 200
    approved = client.post(
        f"/api/v1/notices/{notice_id}/approve",
        json={"confirm_unopened_reason": "職員が向かっており、発令と同時に開設する"},
        headers=approver,
    )
    assert approved.status_code == 200, approved.get_json()
    issued = client.post(f"/api/v1/notices/{notice_id}/issue", headers=approver).get_json()
    assert issued["status"] == "issued" and issued["suggestion"]["plugin"] == "jma"


@pytest.mark.parametrize("ending", ["取消", "解除"])
def test_cancel_or_lift_marks_the_suggestion_outdated(
    app, jma_app, yaizu, rules_file, api_headers, ending
):
    jma = jma_app(rules_file=rules_file(districts_of(app)))
    ingest(jma, landslide_alert(), "a.xml")
    [(_, notice_id, _, _)] = jma_suggestions(jma)
    if ending == "取消":
        later = landslide_alert(info_type="取消", at="2026-09-05T09:05:00+09:00", serial=2)
    else:
        later = landslide_alert("解除", at="2026-09-05T12:00:00+09:00", serial=2)
    ingest(jma, later, "b.xml")
    expected = "取消" if ending == "取消" else "解除または引き下げ"
    assert jma_suggestions(jma) == [("landslide-lv4", notice_id, 4, expected)]
    with jma.app_context():
        from dai_jma.web import state

        assert state(Desk(jma, "jma"))["in_force"] == []
    notice = jma.test_client().get(f"/api/v1/notices/{notice_id}", headers=api_headers("operator"))
    assert notice.get_json()["suggestion"]["outdated"]["reason"] == f"気象庁情報の{expected}"
    # a new alert later is a new suggestion
    ingest(jma, landslide_alert(at="2026-09-05T15:00:00+09:00", serial=3), "c.xml")
    assert [s[3] for s in jma_suggestions(jma)] == [expected, None]


def test_a_lowered_warning_outdates_its_suggestion(app, jma_app, yaizu, rules_file):
    """大雨特別警報 (Lv5相当) → considering Lv5; lowered to 大雨警報 (Lv3相当) → outdated."""
    jma = jma_app(rules_file=rules_file(districts_of(app)))
    sample = (SAMPLES / "15_16_03_241226_VPWW55.xml").read_bytes().decode()
    special = (
        sample.replace("0121400", "2221200")
        .replace("稚内市", "焼津市")
        .replace(
            "<Name>レベル４大雨危険警報</Name>\n<Code>43</Code>",
            "<Name>大雨特別警報</Name>\n<Code>33</Code>",
        )
    )
    ingest(jma, special.encode(), "x_VPWW55_011000.xml")
    assert [(s[0], s[2], s[3]) for s in jma_suggestions(jma)] == [("heavy-rain-lv5", 5, None)]
    lowered = special.replace(
        "<Name>大雨特別警報</Name>\n<Code>33</Code>",
        "<Name>レベル３大雨警報</Name>\n<Code>03</Code>",
    )
    lowered = lowered.replace("2020-06-22T23:00:00+09:00", "2020-06-23T02:00:00+09:00")
    ingest(jma, lowered.encode(), "y_VPWW55_011000.xml")
    assert [(s[0], s[3]) for s in jma_suggestions(jma)] == [
        ("heavy-rain-lv5", "解除または引き下げ")
    ]


@sqlite_only
def test_wrong_settings_disable_the_plugin_with_the_reason(make_app, tmp_path):
    bad_rules = tmp_path / "rules.toml"
    bad_rules.write_text(
        '[[rule]]\nid = "x"\nphenomenon = ["大雨"]\nmin_level = 4\nhazard = "flood"\nlevel = 7\n',
        "utf-8",
    )
    for settings, words in (
        ({"feed_url": "ftp://example.jp/feed"}, "https://"),
        ({"stale_minutes": 1}, "stale_minutes"),
        ({"pollz": 1}, "unknown settings"),
        ({"rules_file": str(bad_rules)}, "level must be 3, 4 or 5"),
    ):
        app = make_app(LOAD_ENTRY_POINTS=True, PLUGINS={"jma": settings})
        [jma] = [p for p in app.extensions["disaster_ai"].describe() if p.name == "jma"]
        assert jma.status == "failed" and words in jma.error, (settings, jma.error)


@sqlite_only
def test_the_drop_folder_job_takes_files_in_and_moves_them(jma_app, municipality, tmp_path):
    """LGWAN: another system copies telegrams into the folder; jma.folder takes them in."""
    import os
    import time

    municipality("01214")
    folder = tmp_path / "drop"
    folder.mkdir()
    jma = jma_app(drop_folder=str(folder))
    desk = Desk(jma, "jma")
    assert "jma.folder" in desk.jobs.scheduled()
    old = time.time() - 60
    for name, data in (
        ("15_16_03_241226_VPWW55.xml", (SAMPLES / "15_16_03_241226_VPWW55.xml").read_bytes()),
        ("copy_of_the_same.xml", (SAMPLES / "15_16_03_241226_VPWW55.xml").read_bytes()),
        ("broken.xml", b"<Report"),
    ):
        (folder / name).write_bytes(data)
        os.utime(folder / name, (old, old))
    (folder / "still_copying.xml").write_bytes(b"<Rep")  # written just now: left for next time
    desk.jobs.run_scheduled("jma.folder")
    assert sorted(p.name for p in (folder / "processed").iterdir()) == [
        "15_16_03_241226_VPWW55.xml",
        "copy_of_the_same.xml",
    ]
    assert [p.name for p in (folder / "rejected").iterdir()] == ["broken.xml"]
    assert (folder / "still_copying.xml").exists()
    from dai_jma.models import Telegram

    with desk.session() as session:
        [row] = session.scalars(select(Telegram))
        assert (row.source, row.data_type, row.items[0]["area_name"]) == (
            "folder",
            "VPWW55",
            "稚内市",
        )


@sqlite_only
def test_the_plugin_tables_match_its_migration(jma_app):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from dai_jma import models
    from sqlalchemy import MetaData

    from disaster_ai.storage import get_storage
    from disaster_ai.storage.base import Base

    jma = jma_app()
    ours = MetaData(naming_convention=Base.metadata.naming_convention)
    for model in (models.Telegram, models.Fetch, models.FeedState, models.Gap, models.Suggestion):
        model.__table__.to_metadata(ours)

    def only_ours(name, type_, parent_names):
        return type_ != "table" or name.startswith("jma_")

    with get_storage(jma).engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": only_ours})
        assert compare_metadata(context, ours) == []
    from sqlalchemy import inspect

    tables = set(inspect(get_storage(jma).engine).get_table_names())
    assert {
        "jma_telegrams",
        "jma_fetches",
        "jma_feed_state",
        "jma_gaps",
        "jma_suggestions",
        "dai_schema_jma",
    } <= tables
