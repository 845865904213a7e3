"""Parsing: every official JMA sample (copied into fixtures/samples with its attribution), the
2026 level-prefixed names, matching on the data-type code, and `disaster-ai jma parse`."""

from __future__ import annotations

import json

import pytest
from dai_jma.parse import NotATelegram, parse_bytes, parse_file
from jma_helpers import SAMPLES, cli_for, landslide_alert, sqlite_only

ALL = sorted(p.name for p in SAMPLES.glob("*.xml"))

# (file, area code) → the kinds of that municipality: (name, code, status, 警戒レベル相当)
EXPECTED = {
    ("15_16_03_241226_VPWW55.xml", "0121400"): [("レベル４大雨危険警報", "43", "発表", 4)],
    ("15_16_03_241226_VPWW55.xml", "0151100"): [("レベル３大雨警報", "03", "継続", 3)],
    ("15_17_01_250630_VPWW55.xml", "3252800"): [("レベル２大雨注意報", "10", "解除", 2)],
    ("15_16_02_241031_VPWW57.xml", "2620200"): [("レベル４高潮危険警報", "48", "発表", 4)],
    ("15_16_02_241031_VPWW57.xml", "2610000"): [("", "", "発表警報・注意報はなし", None)],
    ("15_12_02_161130_VPWW54.xml", "1310100"): [
        ("大雨警報", "03", "発表", 3),
        ("洪水警報", "04", "発表", 3),
        ("雷注意報", "14", "継続", None),
    ],
    ("15_15_01_220314_VPWW54.xml", "3640300"): [("高潮警報", "08", "発表", 4)],
    ("17_04_01_250630_VXWW50.xml", "1420600"): [("警戒", "3", "発表", 4)],
    ("17_04_01_250630_VXWW50.xml", "1410011"): [("なし", "0", "なし", None)],
    ("17_04_03_250630_VXWW50.xml", "1420600"): [("解除", "1", "解除", None)],
    ("17_01_01_190529_VXWW50.xml", "4010000"): [("警戒", "3", "継続", 4)],
    ("17_01_01_190529_VXWW50.xml", "4013000"): [("解除", "1", "解除", None)],
    ("16_02_02_220728_VXKOii.xml", "4120600"): [("氾濫警戒情報", "30", "発表", 3)],
}


@pytest.mark.parametrize("name", ALL)
def test_every_sample_parses(name):
    telegram = parse_file(SAMPLES / name)
    assert telegram.type == name.rsplit("_", 1)[1].removesuffix(".xml")
    assert (telegram.status, telegram.info_type) == ("通常", "発表")
    assert telegram.reported_at.endswith("+09:00")
    assert telegram.items, "no municipal items"
    for item in telegram.items:
        assert len(item.area_code) == 7 and item.area_code.isdigit() or item.area_code == "0000000"
        for kind in item.kinds:
            assert kind.level in (None, 2, 3, 4, 5)


def test_the_samples_give_the_right_municipalities_and_levels():
    assert len(ALL) == 26
    for (name, code), kinds in EXPECTED.items():
        [item] = parse_file(SAMPLES / name).items_for([code])
        assert [(k.name, k.code, k.status, k.level) for k in item.kinds] == kinds, (name, code)


def test_special_warnings_and_river_levels():
    tokyo = parse_file(SAMPLES / "15_13_01_161226_VPWW54.xml")
    levels = {(k.name, k.level) for item in tokyo.items for k in item.kinds}
    assert ("大雨特別警報", 5) in levels and ("洪水警報", 3) in levels
    rivers = {
        name: {k.level for item in parse_file(SAMPLES / name).items for k in item.kinds}
        for name in ALL
        if "VXKO" in name
    }
    assert rivers == {
        "16_01_01_220728_VXKOii.xml": {2},
        "16_02_02_220728_VXKOii.xml": {3},
        "16_04_01_220728_VXKOii.xml": {5},
        "16_06_01_220728_VXKOii.xml": {4},
    }


def test_the_2026_names_are_recognised():
    landslide = parse_file(SAMPLES / "15_17_01_241226_VPWW56.xml")
    names = {(k.name, k.code, k.level) for item in landslide.items for k in item.kinds}
    assert {("レベル４土砂災害危険警報", "49", 4), ("レベル２土砂災害注意報", "29", 2)} <= names
    # the 2025 VXWW50 is titled レベル４土砂災害危険警報 and still read as a VXWW50
    alert = parse_file(SAMPLES / "17_04_01_250630_VXWW50.xml")
    assert alert.type == "VXWW50" and alert.head_title == "神奈川県レベル４土砂災害危険警報"
    # full-width and half-width level digits alike
    data = (SAMPLES / "15_16_03_241226_VPWW55.xml").read_bytes()
    data = data.replace("レベル４大雨危険警報".encode(), "レベル4大雨危険警報".encode())
    [item] = parse_bytes(data, "x_VPWW55_011000.xml").items_for(["0121400"])
    assert item.kinds[0].level == 4


def test_the_data_type_code_decides_never_the_title():
    # a typo in the titles changes nothing when the file name carries the code
    typo = landslide_alert(title="土砂災害警戒情法")
    telegram = parse_bytes(typo, "20260905000000_0_VXWW50_220000.xml")
    assert telegram.type == "VXWW50" and telegram.items_for(["2221200"])[0].kinds[0].level == 4
    # without a code in the name, the Control/Title (normalised) or InfoKind says it
    assert parse_bytes(landslide_alert(), "dropped.xml").type == "VXWW50"


def test_xml_entities_and_other_files_are_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"><Control><Title>&b;</Title></Control></Report>'
    )
    for data, why in (
        (bomb, "Control or Head"),
        (b"not xml", "not XML"),
        (b"<feed/>", "not a JMA"),
        (b"<a><b></a>", "not well-formed"),
    ):
        with pytest.raises(NotATelegram, match=why):
            parse_bytes(data, "x.xml")


@sqlite_only
def test_cli_parse_prints_every_telegram_and_reports_the_others(jma_app, tmp_path):
    invoke = cli_for(jma_app())
    bad = tmp_path / "notes.xml"
    bad.write_text("<notes>hello</notes>", "utf-8")
    good = SAMPLES / "15_16_03_241226_VPWW55.xml"
    result = invoke(["jma", "parse", str(good), str(bad), "--json"])
    assert result.exit_code == 1
    assert f"{bad}: not a JMA telegram" in result.stderr
    [telegram] = json.loads(result.stdout)
    assert set(telegram) == {"file", "type", "status", "info_type", "reported_at", "items"}
    assert (telegram["type"], telegram["status"], telegram["info_type"]) == (
        "VPWW55",
        "通常",
        "発表",
    )
    assert telegram["reported_at"] == "2020-06-22T23:00:00+09:00"
    wakkanai = next(i for i in telegram["items"] if i["area_code"] == "0121400")
    assert wakkanai == {
        "area_code": "0121400",
        "area_name": "稚内市",
        "kinds": [{"name": "レベル４大雨危険警報", "code": "43", "status": "発表", "level": 4}],
    }
    every = invoke(["jma", "parse", *[str(SAMPLES / n) for n in ALL], "--json"])
    assert every.exit_code == 0 and len(json.loads(every.stdout)) == 26


def test_a_record_short_duration_heavy_rain_telegram_names_its_municipality():
    """VPOA50 (記録的短時間大雨情報): no official sample exists; a hand-made one (fixtures/handmade)."""
    from pathlib import Path

    path = Path(__file__).parent / "fixtures" / "handmade" / "20260807031000_0_VPOA50_230000.xml"
    telegram = parse_file(path)
    assert (telegram.type, telegram.status, telegram.info_type) == ("VPOA50", "通常", "発表")
    (item,) = telegram.items
    assert (item.area_code, item.area_name) == ("2320300", "一宮市")
    (kind,) = item.kinds
    assert (kind.name, kind.level) == ("記録的短時間大雨情報", None)  # information, not a level
