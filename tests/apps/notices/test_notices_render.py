"""Every channel, for each hazard × level × 発令/解除 × exercise, on Yaizu districts: required
elements, limits, CAP valid against the packaged XSD, no forbidden term, 【訓練】 iff exercise.
Pure renderers: no database, so these run fast."""

from __future__ import annotations

import re

import pytest
from lxml import etree
from notice_helpers import make_facts, universe

from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices import guard
from disaster_ai.apps.notices.renderers import (
    RenderError,
    TemplateCheckError,
    Templates,
    check_templates,
    full_width_length,
    render_all,
)
from disaster_ai.apps.notices.renderers import cap as cap_renderer

HAZARDS = list(f.HAZARDS)
NS = {"c": cap_renderer.NS}


def all_texts(out: dict) -> list[str]:
    return list(guard.channel_texts(out).values()) + [out["cap"]]


@pytest.mark.parametrize("exercise", [False, True], ids=["real", "exercise"])
@pytest.mark.parametrize("action", list(f.ACTIONS))
@pytest.mark.parametrize("level", [3, 4, 5])
@pytest.mark.parametrize("hazard", HAZARDS)
def test_every_channel_for_each_hazard_level_action(hazard, level, action, exercise):
    facts = make_facts(hazard=hazard, level=level, action=action, exercise=exercise)
    out = render_all(facts)
    name = f.LEVEL_NAMES[level]
    hazard_ja = f.HAZARDS[hazard][0]
    districts = [d.name for d in facts.districts]

    # radio: attention line twice (発令), station ID, body, closing repeat, 訓練 frame
    radio = out["radio"].splitlines()
    assert "こちらは、焼津市です。" in radio
    body = f"{'、'.join(districts)}に{'発令していた、' if action == f.LIFT else '、'}{hazard_ja}に関する警戒レベル{level}、{name}を{action}しました。"
    assert any(line.endswith(body) for line in radio), out["radio"]
    assert any(line.startswith("繰り返します。") for line in radio)
    assert "午後8時5分" in out["radio"] and "20:05" not in out["radio"]
    if action == f.ISSUE:
        attention = f"緊急放送、緊急放送。警戒レベル{level}、{f.ATTENTION[level]}。"
        assert radio.count(attention) == 2
        assert f.ACTION_SENTENCE[level] in out["radio"]
    if exercise:
        assert radio[0].startswith("【訓練】") and radio[-1].endswith("【訓練】")

    # mail: hard limits, level, name, action, issuer
    title, mail = out["mail"]["title"], out["mail"]["body"]
    assert full_width_length(title) <= 15 and full_width_length(mail) <= 200
    if action == f.LIFT:
        # a 解除 title says 解除 first and never reads like an order; with 【訓練】 and a
        # six-character name there is no room for the level number within 15 characters
        assert title.removeprefix("【訓練】").startswith("解除") and name in title
        assert f"レベル{level}{name}" in title or (exercise and len(name) == 6)
    else:
        assert f"レベル{level}{name}" in title
    assert f"警戒レベル{level}、{name}を{action}" in mail and mail.endswith("（焼津市）")

    # web / SNS
    assert full_width_length(out["web"]["short"]) <= 140
    assert f"警戒レベル{level}" in out["web"]["long"] and name in out["web"]["short"]

    # English and やさしい日本語
    assert f"Alert Level {level}" in out["en"] and f.LEVEL_NAMES_EN[level] in out["en"]
    assert ("lifted" if action == f.LIFT else "issued") in out["en"]
    assert f"レベル{level}" in out["easy_ja"] and name in out["easy_ja"]

    # CAP: valid, +09:00, three languages, msgType, status
    cap_renderer.validate(out["cap"])
    root = etree.fromstring(out["cap"].encode())
    assert root.findtext("c:status", namespaces=NS) == ("Exercise" if exercise else "Actual")
    assert root.findtext("c:msgType", namespaces=NS) == ("Cancel" if action == f.LIFT else "Alert")
    if action == f.LIFT:
        assert root.findtext("c:references", namespaces=NS)
    languages = [i.findtext("c:language", namespaces=NS) for i in root.findall("c:info", NS)]
    assert languages == ["ja-JP", "en-US", "ja-x-easy"]
    for element in root.iter():
        if element.tag.split("}")[1] in ("sent", "effective", "expires"):
            assert element.text.endswith("+09:00") and "." not in element.text
    assert [w for w in cap_renderer.lint(out["cap"]) if w["level"] == "error"] == []

    # no forbidden term anywhere, 【訓練】 in every human-readable text iff exercise
    for text in all_texts(out):
        for term in f.FORBIDDEN:
            assert term not in text
        assert ("【訓練】" in text) == exercise

    # and the guard accepts the template texts
    report = guard.check_all(guard.channel_texts(out), facts, universe())
    assert report["ok"], report["violations"]


def test_cap_area_polygon_is_lat_lon_closed_and_simple():
    out = render_all(make_facts(n_districts=3))
    root = etree.fromstring(out["cap"].encode())
    areas = root.find("c:info", NS).findall("c:area", NS)
    assert len(areas) == 3
    for area in areas:
        polygon = area.findtext("c:polygon", namespaces=NS)
        assert cap_renderer.polygon_problem(polygon) is None
        pairs = polygon.split()
        assert pairs[0] == pairs[-1] and 4 <= len(pairs) <= 100
        lat, lon = (float(v) for v in pairs[0].split(","))
        assert 34 < lat < 35.5 and 138 < lon < 139  # lat first
        geocode = area.find("c:geocode", NS)
        assert geocode.findtext("c:valueName", namespaces=NS) == "JIS_X0402"
        assert geocode.findtext("c:value", namespaces=NS) == "22212"


def test_cap_identifier_rules_are_enforced():
    from dataclasses import replace

    with pytest.raises(RenderError, match="identifier"):
        render_all(replace(make_facts(), identifier="JP 222127,1"))


def test_mail_is_shortened_deterministically_keeping_level_name_action_and_issuer():
    facts = make_facts(n_districts=35, n_shelters=6)
    first = render_all(facts)["mail"]
    again = render_all(facts)["mail"]
    assert first == again and first["shortened"]
    body = first["body"]
    assert full_width_length(body) <= 200
    assert f"{facts.districts[0].name}ほか34地区" in body
    assert "警戒レベル4、避難指示を発令" in body and "全員避難" in body and "（焼津市）" in body
    report = guard.check(body, facts, "mail_body", universe())
    assert report["ok"], report["violations"]


def test_sns_short_version_is_shortened_too():
    out = render_all(make_facts(n_districts=12))
    assert full_width_length(out["web"]["short"]) <= 140
    assert "ほか11地区" in out["web"]["short"]


def test_a_reason_too_long_for_the_mail_is_dropped_not_truncated():
    facts = make_facts(reason="川の水位が上がっています。" * 20)
    out = render_all(facts)
    assert "川の水位" not in out["mail"]["body"]
    assert out["radio"].count("川の水位が上がっています。") == 20


def test_fallback_when_no_shelter_qualifies():
    out = render_all(make_facts(hazard="flood", n_shelters=0))
    assert f.FALLBACK in out["radio"]
    assert "洪水に対応する避難所は、現在ありません。" in out["radio"]
    assert "避難先" not in out["radio"]
    assert "No shelter for flooding is open" in out["en"]


def test_english_names_are_written_word_by_word_from_kana():
    out = render_all(make_facts(n_shelters=1))
    # 二区コミュニティ防災センター, kana ニクコミニュティボウサイセンター (test_names.py: more)
    assert "Shelters: Niku Community Disaster Prevention Center." in out["en"]


@pytest.mark.parametrize(
    ("kana", "romaji"),
    [
        ("やいづ", "Yaizu"),
        ("タカシンデン", "Takashinden"),
        ("とうきょう", "Tokyo"),
        ("しょうがっこう", "Shogakko"),
        ("ちゅうおう", "Chuo"),
        ("ニシコガワ", "Nishikogawa"),
        ("パーティー", "Pati"),
        ("ファミリー", "Famiri"),
    ],
)
def test_kana_to_hepburn(kana, romaji):
    assert f.kana_to_romaji(kana) == romaji


def test_reading_times_are_written_for_reading_aloud():
    from datetime import datetime

    from disaster_ai.storage.base import JST

    assert f.reading_time(datetime(2026, 7, 1, 0, 0, tzinfo=JST)) == "午前0時"
    assert f.reading_time(datetime(2026, 7, 1, 12, 30, tzinfo=JST)) == "午後0時30分"
    assert f.reading_time(datetime(2026, 7, 1, 9, 5, tzinfo=JST)) == "午前9時5分"


def test_the_packaged_templates_pass_the_template_check():
    assert check_templates() == []


def test_a_template_with_a_forbidden_term_fails_the_check(tmp_path):
    (tmp_path / "radio.txt").write_text(
        "{{ districts_text }}に避難勧告を発令しました。", encoding="utf-8"
    )
    templates = Templates(tmp_path)
    assert templates.check() == [{"template": "radio.txt", "term": "避難勧告"}]
    with pytest.raises(TemplateCheckError, match="避難勧告"):
        render_all(make_facts(), templates)


def test_instance_templates_override_per_hazard_and_level(tmp_path):
    (tmp_path / "radio").mkdir()
    (tmp_path / "radio" / "landslide_5.txt").write_text(
        "こちらは、{{ issuer }}です。{{ districts_text }}に{{ hazard_ja }}に関する警戒レベル{{ level }}、{{ name }}を発令しました。",
        encoding="utf-8",
    )
    templates = Templates(tmp_path)
    special = render_all(make_facts(hazard="landslide", level=5), templates)["radio"]
    assert special.startswith("こちらは、焼津市です。") and "緊急放送" not in special
    ordinary = render_all(make_facts(hazard="landslide", level=4), templates)["radio"]
    assert ordinary.startswith("緊急放送")


def test_rendering_all_channels_is_fast():
    facts = make_facts(n_districts=5)
    render_all(facts)
    out = render_all(facts)
    assert out["render_ms"] < 100
    assert re.search(r"<identifier>JP-222127-2026-0042</identifier>", out["cap"])


# --- CAP lint rules beyond the schema (STANDARDS.md §1.8) -------------------------------------


def _square(lon: float, lat: float, size: float = 0.01) -> tuple:
    return ((lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size), (lon, lat))


def _facts_with_rings(*rings):
    from dataclasses import replace

    facts = make_facts(n_districts=len(rings))
    districts = tuple(replace(d, ring=ring) for d, ring in zip(facts.districts, rings, strict=True))
    return replace(facts, districts=districts)


def _rules(xml: str, level: str | None = None) -> list[str]:
    return [w["rule"] for w in cap_renderer.lint(xml) if level is None or w["level"] == level]


def test_cap_lint_warns_when_areas_overlap_beyond_1000_square_metres():
    lon, lat = 138.30, 34.86
    overlapping = render_all(_facts_with_rings(_square(lon, lat), _square(lon + 0.005, lat)))
    cap_renderer.validate(overlapping["cap"])
    warnings = [w for w in cap_renderer.lint(overlapping["cap"]) if w["rule"] == "cap.area_overlap"]
    assert len(warnings) == 1 and warnings[0]["level"] == "warn"  # once, not once per <info>
    names = [d.name for d in make_facts(n_districts=2).districts]
    assert names[0] in warnings[0]["message"] and names[1] in warnings[0]["message"]
    # about 0.005° × 0.01° ≈ 457 m × 1,106 m ≈ 0.5 km²
    square_m = float(re.search(r"by (\d+) m²", warnings[0]["message"]).group(1))
    assert 450_000 < square_m < 560_000
    # neighbours that share a border, and a sliver under the tolerance, are fine
    touching = render_all(_facts_with_rings(_square(lon, lat), _square(lon + 0.01, lat)))
    assert "cap.area_overlap" not in _rules(touching["cap"])
    sliver = render_all(_facts_with_rings(_square(lon, lat), _square(lon + 0.009995, lat)))
    assert "cap.area_overlap" not in _rules(sliver["cap"])  # ≈ 0.46 m × 1.1 km ≈ 510 m²


def _edit(xml: str, change) -> str:
    root = etree.fromstring(xml.encode())
    change(root)
    return etree.tostring(root, encoding="unicode")


def test_cap_lint_circle_radius_references_event_code_onset_and_simplified_polygons():
    out = render_all(make_facts(n_districts=1))
    base = out["cap"]
    assert _rules(base, "error") == []

    def circle(radius):
        def change(root):
            for area in root.iterfind("c:info/c:area", NS):
                area.remove(area.find("c:polygon", NS))
                element = etree.Element(f"{{{cap_renderer.NS}}}circle")
                element.text = f"34.8600,138.3200 {radius}"
                area.insert(1, element)

        return change

    assert "cap.circle" in _rules(_edit(base, circle("0")), "error")
    assert "cap.circle" not in _rules(_edit(base, circle("0.5")))

    def self_reference(root):
        references = etree.Element(f"{{{cap_renderer.NS}}}references")
        sender = root.findtext("c:sender", namespaces=NS)
        identifier = root.findtext("c:identifier", namespaces=NS)
        references.text = f"{sender},{identifier},2026-07-01T20:05:00+09:00 not-a-triplet"
        root.find("c:info", NS).addprevious(references)

    rules = _rules(_edit(base, self_reference), "error")
    assert "cap.references_self" in rules and "cap.references" in rules

    def references_after_info(root):
        references = etree.SubElement(root, f"{{{cap_renderer.NS}}}references")
        references.text = "a@b.example,JP-1,2026-07-01T20:05:00+09:00"

    assert "cap.references_order" in _rules(_edit(base, references_after_info), "error")

    def other_event_code(root):
        infos = root.findall("c:info", NS)
        infos[1].find("c:eventCode/c:value", NS).text = "flood"

    assert "cap.info_event_code" in _rules(_edit(base, other_event_code), "error")

    def utc_onset(root):
        info = root.find("c:info", NS)
        onset = etree.Element(f"{{{cap_renderer.NS}}}onset")
        onset.text = "2026-07-01T11:05:00Z"
        info.find("c:expires", NS).addprevious(onset)

    assert "cap.time_offset" in _rules(_edit(base, utc_onset), "error")

    import math

    ring = [
        (
            138.32 + 0.01 * math.cos(2 * math.pi * i / 150),
            34.86 + 0.01 * math.sin(2 * math.pi * i / 150),
        )
        for i in range(150)
    ]
    dense = render_all(_facts_with_rings((*ring, ring[0])))
    problems = [w for w in cap_renderer.lint(dense["cap"]) if w["rule"] == "cap.polygon"]
    assert problems and "not simplified" in problems[0]["message"]
    assert cap_renderer.lint(dense["cap"], max_polygon_points=200) == []


# --- hazard definitions (dai_notice_hazards) ---------------------------------------------------


def test_hazard_definitions_pass_the_vocabulary_check():
    from disaster_ai.types import NoticeAction, NoticeHazard

    assert [f.hazard_problems(h) for h in f.BUILTIN_HAZARDS] == [[]] * 5
    assert list(f.hazards()) == ["flood", "inland_flood", "landslide", "storm_surge", "tsunami"]
    ok = NoticeHazard("pond_breach", "ため池決壊", "pond breach", "ため池決壊(ためいけ)")
    assert f.hazard_problems(ok) == []

    def problems(**over):
        from dataclasses import replace

        return " | ".join(f.hazard_problems(replace(ok, **over)))

    assert "forbidden legacy term 避難勧告" in problems(reasons=("避難勧告の基準に達しました。",))
    assert "code" in problems(code="Pond Breach")
    assert "cap_category" in problems(cap_category="Weather")
    assert "overlaps a level name" in problems(ja="避難指示")
    # the guard would flag the word in every other notice's fixed wording
    assert "fixed notice wording" in problems(en="Alert")
    assert "level 2" in problems(actions={2: NoticeAction(sentence="…")})
    # the guard demands the required phrase: it must be in the sentence and the attention line
    assert "not in the sentence" in problems(actions={4: NoticeAction(sentence="逃げてください。")})
    assert "not in the attention" in problems(actions={4: NoticeAction(attention="すぐ避難")})
    good = NoticeAction(sentence="ため池の下流にいる方は、全員避難してください。")
    assert problems(actions={4: good}) == ""


def test_a_plugin_hazard_renders_every_channel_with_its_own_action_sentence():
    from dataclasses import replace

    from disaster_ai.types import NoticeAction, NoticeHazard

    volcano = NoticeHazard(
        "volcano",
        "火山",
        "volcanic eruption",
        "火山(かざん)の 噴火(ふんか)",
        cap_category="Geo",
        actions={
            5: NoticeAction(
                sentence="命の危険があります。火口から離れ、直ちに安全確保してください。"
            )
        },
    )
    facts = replace(
        make_facts(level=5, reason="噴火が発生しました。"), hazard="volcano", hazard_info=volcano
    )
    out = render_all(facts)
    cap_renderer.validate(out["cap"])
    assert "火口から離れ、直ちに安全確保してください。" in out["radio"]
    assert "火山に関する警戒レベル5" in out["radio"] and "volcanic eruption" in out["en"]
    report = guard.check_all(
        guard.channel_texts(out),
        facts,
        guard.Universe(universe().district_names, (), universe().shelter_names, (volcano,)),
    )
    assert report["ok"], report["violations"]
    # another registered hazard's word in the text is caught, but not inside the reason
    other = guard.check(out["web"]["long"] + "洪水", facts, "web_long", universe())
    assert {v["rule"] for v in other["violations"]} == {"hazard"}
    in_reason = replace(facts, reason="洪水と噴火が同時に発生しました。")
    text = render_all(in_reason)["web"]["long"]
    assert guard.check(text, in_reason, "web_long", universe())["ok"]


def test_a_template_without_the_issuer_or_time_slot_is_reported():
    """A municipality's template that drops a required slot would publish 「こちらは、です。」."""
    from disaster_ai.apps.notices.renderers import Templates

    assert Templates().check() == []
    broken = Templates(
        plugin_sources={"radio/flood.txt": "こちらは、です。{{ districts_text }}に避難指示を発令。"}
    )
    problems = {(p["template"], p["term"]) for p in broken.check()}
    assert ("radio/flood.txt", "missing slot: issuer (発令)") in problems
    assert ("radio/flood.txt", "missing slot: time (発令)") in problems
    assert not any("district" in term for _name, term in problems)
