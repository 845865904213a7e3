"""The fact guard catches each kind of corruption and accepts faithful rewrites."""

from __future__ import annotations

from pathlib import Path

import pytest
from notice_helpers import make_facts, universe

from disaster_ai.apps.notices import facts as f
from disaster_ai.apps.notices import guard
from disaster_ai.apps.notices.renderers import render_all


@pytest.fixture(scope="module")
def case():
    facts = make_facts(n_districts=3, n_shelters=2)
    return facts, guard.channel_texts(render_all(facts))


def rules(text, facts, channel="radio"):
    return {v["rule"] for v in guard.check(text, facts, channel, universe())["violations"]}


def test_template_texts_pass(case):
    facts, texts = case
    report = guard.check_all(texts, facts, universe())
    assert report["ok"], report["violations"]
    assert set(report["rules_checked"]) >= {
        "level",
        "districts",
        "shelters",
        "time",
        "hazard",
        "action",
        "issue_lift",
        "forbidden",
        "exercise",
        "length",
    }


def test_dropped_district(case):
    facts, texts = case
    text = texts["radio"].replace(facts.districts[1].name + "、", "")
    assert "districts" in rules(text, facts)


def test_other_district_added(case):
    facts, texts = case
    other = universe().district_names[10]
    text = texts["radio"].replace(
        facts.districts[0].name, facts.districts[0].name + "、" + other, 1
    )
    assert "districts" in rules(text, facts)


def test_swapped_level_and_name(case):
    facts, texts = case
    assert "level" in rules(texts["radio"].replace("警戒レベル4", "警戒レベル3"), facts)
    assert "level" in rules(texts["radio"].replace("避難指示", "緊急安全確保"), facts)


def test_shifted_time(case):
    facts, texts = case
    assert "time" in rules(texts["radio"].replace("午後8時5分", "午後9時5分"), facts)
    assert "time" in rules(texts["en"].replace("20:05", "21:05"), facts, "en")


def test_invented_shelter(case):
    facts, texts = case
    text = texts["radio"].replace(facts.shelters[0].name, "焼津市立架空公民館")
    assert "shelters" in rules(text, facts)


def test_inserted_forbidden_term(case):
    facts, texts = case
    assert "forbidden" in rules(texts["radio"] + "\n避難勧告を発令しました。", facts)


def test_flipped_issue_and_lift(case):
    facts, texts = case
    assert "issue_lift" in rules(texts["radio"].replace("を発令しました", "を解除しました"), facts)
    assert "issue_lift" in rules(texts["en"].replace("issued", "lifted"), facts, "en")


def test_truncated_action(case):
    facts, texts = case
    text = texts["radio"].replace(f.ACTION_SENTENCE[4], "").replace(f.ATTENTION[4], "避難")
    assert "action" in rules(text, facts)


def test_exercise_mark_both_ways(case):
    facts, texts = case
    assert "exercise" in rules("【訓練】" + texts["radio"], facts)
    from dataclasses import replace

    assert "exercise" in rules(texts["radio"], replace(facts, exercise=True))


def test_length_limit(case):
    facts, texts = case
    assert "length" in rules(texts["mail_body"] + "あ" * 200, facts, "mail_body")


def test_paraphrase_that_keeps_the_facts_passes(case):
    facts, texts = case
    text = (
        texts["radio"]
        .replace("速やかに全員避難を開始してください。", "ただちに全員避難してください。")
        .replace("繰り返します。", "もう一度お伝えします。")
    )
    assert rules(text, facts) == set()


def test_legacy_word_alone_is_a_warning_not_a_violation(case):
    facts, texts = case
    report = guard.check(
        texts["radio"] + "\n早めに避難準備をしてください。", facts, "radio", universe()
    )
    assert report["ok"]
    assert [w["rule"] for w in report["warnings"]] == ["forbidden"]


# --- the issuer and empty template slots (issue 11, item 5) --------------------------------

ALL_CHANNELS = {"radio", "mail_title", "mail_body", "web_long", "web_short", "en", "easy_ja"}


@pytest.mark.parametrize(
    "issuer", ["", "   ", "、", "○○市", "××町", "市区町村名", "(未設定)", "（未設定）", "example"]
)
def test_a_placeholder_issuer_is_a_violation_on_every_channel(case, issuer):
    from dataclasses import replace

    facts, texts = case
    facts = replace(facts, issuer=issuer, issuer_en=issuer)
    # the texts as the templates fill the issuer slot with it
    filled = {
        channel: text.replace("焼津市", issuer).replace("Yaizu City", issuer)
        for channel, text in texts.items()
    }
    report = guard.check_all(filled, facts, universe())
    flagged = {v["channel"] for v in report["violations"] if v["rule"] == "issuer"}
    assert not report["ok"]
    assert flagged == ALL_CHANNELS


def test_the_renderer_s_text_with_no_issuer_is_refused():
    from dataclasses import replace

    facts = replace(make_facts(n_districts=1, n_shelters=1), issuer="", issuer_en="")
    texts = guard.channel_texts(render_all(facts))
    assert "こちらは、です。" in texts["radio"]
    report = guard.check_all(texts, facts, universe())
    assert {v["channel"] for v in report["violations"] if v["rule"] == "issuer"} == ALL_CHANNELS
    assert {v["channel"] for v in report["violations"] if v["rule"] == "slots"} >= {
        "radio",
        "web_long",
    }


def test_a_real_issuer_with_an_office_suffix_passes(case):
    facts, texts = case
    text = texts["radio"].replace("こちらは、焼津市です。", "こちらは、焼津市役所です。")
    assert rules(text, facts) == set()


def test_an_empty_issuer_slot_is_flagged_even_with_a_configured_issuer(case):
    facts, texts = case
    radio = texts["radio"].replace(facts.issuer, "")
    assert "こちらは、です。" in radio
    assert {"issuer", "slots"} <= rules(radio, facts)
    web = texts["web_long"].replace(facts.issuer, "")
    assert "、は、" in web
    assert "slots" in rules(web, facts, "web_long")


@pytest.mark.parametrize(
    "channel, old, new",
    [
        ("web_long", "（内水氾濫）", "（）"),  # an empty hazard slot
        ("radio", "避難先は、", "避難先は、です。\n避難先は、"),  # an empty destination
        ("mail_body", "避難先：", "避難先：。避難先："),
        ("en", "Yaizu City issued", "issued"),  # an empty issuer in English
    ],
)
def test_empty_slot_artefacts_are_flagged(case, channel, old, new):
    facts, texts = case
    text = texts[channel].replace(old, new, 1)
    assert text != texts[channel]
    assert "slots" in rules(text, facts, channel)


def test_an_empty_district_slot_is_flagged(case):
    facts, texts = case
    listed = "、".join(d.name for d in facts.districts)
    text = texts["radio"].replace(listed, "")
    assert "slots" in rules(text, facts)


# --- the same facts in other numerals, and other times --------------------------------------


@pytest.mark.parametrize(
    "said",
    [
        "午後８時５分",
        "午後八時五分",
        "20時5分",
        "午後 8時 5分",
        "7月1日午後8時5分",
        "午後8時5分ごろ",
    ],
)
def test_the_issue_time_written_another_way_passes(case, said):
    facts, texts = case
    text = texts["radio"].replace("午後8時5分", said)
    assert rules(text, facts) == set()


@pytest.mark.parametrize(
    "said, why",
    [
        ("午前8時5分", "another time"),
        ("8時5分", "午前 or 午後 is missing"),
        ("午後８時１５分", "another time"),
        ("午後八時十五分", "another time"),
        ("7月2日午後8時5分", "another date"),
    ],
)
def test_another_time_or_date_is_flagged(case, said, why):
    facts, texts = case
    text = texts["radio"].replace("午後8時5分", said)
    messages = [v["message"] for v in guard.check(text, facts, "radio", universe())["violations"]]
    assert any(why in m for m in messages), messages


def test_english_time_in_twelve_hour_form_passes_and_a_wrong_one_fails(case):
    facts, texts = case
    assert rules(texts["en"].replace("20:05", "8:05 p.m."), facts, "en") == set()
    assert "time" in rules(texts["en"].replace("20:05", "8:05 a.m."), facts, "en")


def test_full_width_digits_and_kanji_numerals_in_names_and_level_pass(case):
    facts, texts = case
    full_width = texts["radio"].translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    assert rules(full_width, facts) == set()
    kanji = texts["radio"].replace("焼津第6自治会", "焼津第六自治会").replace("レベル4", "レベル四")
    assert rules(kanji, facts) == set()


# --- level, districts, shelters, hazard, action ----------------------------------------------


def test_a_level_word_without_its_number_is_flagged(case):
    facts, texts = case
    assert "level" in rules(texts["radio"].replace("警戒レベル4", "警戒レベル"), facts)
    one = texts["radio"].replace("警戒レベル4、危険な", "警戒レベル、危険な", 1)
    assert "level" in rules(one, facts)


def test_a_non_guideline_level_name_is_flagged_even_once(case):
    facts, texts = case
    assert "level" in rules(texts["radio"].replace("避難指示", "避難命令", 1), facts)


def test_a_district_with_a_part_dropped_or_its_neighbour_is_flagged(case):
    facts, texts = case
    assert "districts" in rules(texts["radio"].replace("焼津第6自治会", "焼津自治会"), facts)
    assert "districts" in rules(texts["radio"].replace("高新田自治会", "高新田"), facts)


def test_a_name_inside_a_longer_known_name_is_not_another_district():
    """A district named like the municipality's stem, or like part of a shelter's name, is not
    "another district" when only the municipality or the shelter is named."""
    facts = make_facts(n_districts=1, n_shelters=1)
    shelter = facts.shelters[0].name  # 二区コミュニティ防災センター
    stem, part = facts.issuer[:-1], shelter[:2]  # the issuer without 市; 二区
    u = universe()
    wide = guard.Universe(u.district_names + (stem, part), (), u.shelter_names)
    texts = guard.channel_texts(render_all(facts))
    assert guard.check_all(texts, facts, wide)["ok"]
    # said alone, each is another district
    text = texts["radio"] + f"\n{part}も対象です。"
    assert "districts" in rules_in(text, facts, "radio", wide)


def rules_in(text, facts, channel, u):
    return {v["rule"] for v in guard.check(text, facts, channel, u)["violations"]}


def test_a_shortened_shelter_name_is_flagged_and_another_separator_is_not(case):
    facts, texts = case
    first, second = (s.name for s in facts.shelters)
    shortened = texts["radio"].replace(first, "二区防災センター")
    assert "shelters" in rules(shortened, facts)
    joined = texts["radio"].replace(f"{first}、{second}", f"{first}と{second}")
    assert rules(joined, facts) == set()


def test_an_invented_facility_is_flagged_wherever_it_is_said(case):
    facts, texts = case
    text = texts["radio"] + "\n近くの公民館にも避難できます。"
    assert "shelters" in rules(text, facts)


def test_another_hazard_inside_the_english_hazard_words_is_flagged(case):
    facts, texts = case  # inland flooding
    text = texts["en"].replace("(inland flooding)", "(flooding)", 1)
    assert "hazard" in rules(text, facts, "en")


def test_a_weakened_action_is_flagged_even_when_the_attention_line_keeps_the_phrase(case):
    facts, texts = case
    text = texts["radio"].replace(f.ACTION_SENTENCE[4], "状況に応じて、避難を検討してください。")
    assert "全員避難" in text  # the attention line still says it
    assert "action" in rules(text, facts)
    polite = texts["radio"].replace("開始してください", "開始して下さい")
    assert rules(polite, facts) == set()


# --- partial 解除 (issue 11, item 2) ---------------------------------------------------------


@pytest.fixture(scope="module")
def partial():
    """A 解除 of the first two districts while the third stays under Lv4."""
    from dataclasses import replace

    from notice_helpers import yaizu_districts

    facts = replace(make_facts(action=f.LIFT, n_districts=2), remaining=(yaizu_districts()[2],))
    return facts, guard.channel_texts(render_all(facts))


def test_a_partial_lift_names_the_remaining_district_and_passes(partial):
    facts, texts = partial
    stays = facts.remaining[0].name
    report = guard.check_all(texts, facts, universe())
    assert report["ok"], report["violations"]
    for channel in ("radio", "mail_body", "web_long", "web_short", "easy_ja"):
        assert stays in texts[channel], channel


@pytest.mark.parametrize(
    "channel", ["radio", "mail_body", "web_long", "web_short", "en", "easy_ja"]
)
def test_a_partial_lift_without_the_remaining_district_is_a_violation(partial, channel):
    import re

    facts, texts = partial
    said = facts.remaining[0].name if channel != "en" else facts.remaining[0].name_en
    kept = [s for s in re.split(r"(?<=[。\n])", texts[channel]) if said not in s]
    text = "".join(kept)
    assert said not in text
    report = guard.check(text, facts, channel, universe())
    assert any(
        v["rule"] == "districts" and "stays in force" in v["message"] for v in report["violations"]
    ), report["violations"]


def test_a_remaining_district_listed_as_lifted_is_a_violation(partial):
    facts, _texts = partial
    lifted = "、".join(d.name for d in facts.districts + facts.remaining)
    text = (
        f"【解除】午後8時5分、{lifted}に発令していた内水氾濫に関する警戒レベル4、"
        "避難指示を解除しました。今後の情報に注意してください。（焼津市）"
    )
    messages = [
        v["message"] for v in guard.check(text, facts, "mail_body", universe())["violations"]
    ]
    assert any("said to be lifted" in m for m in messages), messages


def test_the_short_form_of_the_remaining_districts_only_where_a_channel_shortens():
    from dataclasses import replace

    from notice_helpers import yaizu_districts

    ds = yaizu_districts()
    facts = replace(make_facts(action=f.LIFT, n_districts=2), remaining=(ds[2], ds[3]))
    a, b = (d.name for d in facts.districts)
    c = ds[2].name
    sns = (
        f"【解除】警戒レベル4 避難指示（内水氾濫）{a}、{b}の避難指示を解除（午後8時5分）。"
        f"{c}ほか1地区は継続中。焼津市"
    )
    assert rules(sns, facts, "web_short") == set()
    wrong = sns.replace("ほか1地区", "ほか2地区")
    assert "districts" in rules(wrong, facts, "web_short")
    radio = (
        "避難指示の解除をお知らせします。\nこちらは、焼津市です。\n"
        f"午後8時5分、{a}、{b}に発令していた、内水氾濫に関する警戒レベル4、避難指示を解除しました。\n"
        f"{c}ほか1地区には、引き続き、警戒レベル4、避難指示が発令されています。"
    )
    assert "districts" in rules(radio, facts, "radio")


def test_a_lift_headline_that_looks_like_an_issue_is_a_violation(partial):
    facts, texts = partial
    sns = texts["web_short"]
    assert sns.startswith("【解除】")
    issue_like = sns.replace("【解除】警戒レベル4 避難指示", "【警戒レベル4 避難指示】", 1)
    messages = [
        v["message"] for v in guard.check(issue_like, facts, "web_short", universe())["violations"]
    ]
    assert any("issue-looking headline" in m for m in messages), messages
    web = texts["web_long"].replace(
        "【解除】警戒レベル4 避難指示を解除", "【警戒レベル4】避難指示を解除", 1
    )
    assert "issue_lift" in rules(web, facts, "web_long")


def test_a_full_lift_names_no_remaining_district():
    facts = make_facts(action=f.LIFT, n_districts=2)
    report = guard.check_all(guard.channel_texts(render_all(facts)), facts, universe())
    assert report["ok"], report["violations"]


def test_the_new_findings_are_said_in_japanese_on_the_desk():
    """What an operator reads: the issuer finding in Japanese, from the project's catalogue."""
    from dataclasses import replace

    from flask import Flask
    from flask_babel import Babel

    from disaster_ai.config import REPO_ROOT

    app = Flask(__name__)
    folder = Path(REPO_ROOT) / "disaster_ai" / "translations"
    Babel(app, default_locale="ja", default_translation_directories=str(folder))
    facts = replace(make_facts(n_districts=1, n_shelters=1), issuer="○○市")
    texts = guard.channel_texts(render_all(facts))
    with app.test_request_context("/"):
        report = guard.check(texts["radio"], facts, "radio", universe())
    messages = [v["message"] for v in report["violations"]]
    assert "発令者が市町村名になっていません: 「○○市」（市町村名を設定してください）" in messages


def test_a_shelter_s_reading_in_brackets_is_not_another_facility(case):
    facts, texts = case
    text = texts["easy_ja"].replace(
        "（よみかた：", "（よみかた：にくコミュニティぼうさいセンター、"
    )
    assert text != texts["easy_ja"]
    assert rules(text, facts, "easy_ja") == set()
