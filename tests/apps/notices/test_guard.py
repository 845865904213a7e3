"""The fact guard catches each kind of corruption and accepts faithful rewrites."""

from __future__ import annotations

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
