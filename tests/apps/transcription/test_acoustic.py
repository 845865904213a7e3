"""The acoustic place check's decisions (acoustic.py), with a scorer the test controls; the
real model's scores are exercised by the corpus floors (stored scores) and one slow test."""

from __future__ import annotations

import numpy as np
import pytest

from disaster_ai.apps.transcription import acoustic, facts
from disaster_ai.apps.transcription.types import PlaceName

TOWNS = [
    PlaceName("森川", "t-1", "town", ("モリカワ",)),
    PlaceName("西森川", "t-2", "town", ("ニシモリカワ",)),
    PlaceName("寿根", "t-3", "town", ("スネ",)),
    PlaceName("元町", "t-4", "town", ("モトマチ",)),
    PlaceName("元町新田", "t-5", "town", ("モトマチシンデン",)),
]
SECONDS = np.zeros(16000 * 6, dtype=np.float32)


@pytest.fixture(scope="module")
def gazetteer():
    return facts.build_gazetteer(TOWNS, "架空市")


def scorer(fits: dict[str, float], seen=None):
    """The transcript scores 0; a text holding one of ``fits``' names scores that (the longest
    name it holds); others −30."""

    def score(chunk, texts):
        if seen is not None:
            seen.append(list(texts))
        out = [0.0]
        for text in texts[1:]:
            held = [k for k in fits if k in text]
            out.append(fits[max(held, key=len)] if held else -30.0)
        return out

    return score


def facts_of(text, gazetteer, fits, seen=None):
    check = acoustic.place_check(text, (), SECONDS, scorer(fits, seen))
    return facts.extract(text, gazetteer, place_check=check)


def test_a_garbled_town_that_fits_the_audio_is_taken(gazetteer):
    text = "屋根が飛ばされました。守かです。"
    assert facts.extract(text, gazetteer).place is None  # the reading alone is too weak
    longer = {"西森川": -20.0, "ニシモリカワ": -20.0, "にしもりかわ": -20.0}
    found = facts_of(text, gazetteer, {"森川": -2.0, "モリカワ": -1.0, **longer})
    assert found.place is not None and found.place.name == "森川"
    assert found.place.acoustic == -1.0  # the best of its written forms
    assert found.candidates[0].name == "森川"


def test_nothing_is_taken_when_no_name_fits_or_two_fit_alike(gazetteer):
    text = "屋根が飛ばされました。守かです。"
    assert facts_of(text, gazetteer, {}).place is None
    # the longer town holding the name fits as well: the operator chooses
    assert facts_of(text, gazetteer, {"森川": -2.0, "西森川": -2.5}).place is None


def test_the_sound_alone_does_not_make_a_place(gazetteer):
    # no words around it say a place is named (no です, の, 丁目, 住所は …)
    text = "守かがすごく揺れて怖かった"
    found = facts_of(text, gazetteer, {"森川": 0.0, "モリカワ": 0.0, "もりかわ": 0.0})
    assert found.place is None


def test_a_longer_town_that_fits_better_wins(gazetteer):
    text = "屋根が飛ばされました。守かです。"
    found = facts_of(text, gazetteer, {"西森川": -1.0, "森川": -9.0})
    assert found.place is not None and found.place.name == "西森川"


def test_a_reading_match_the_audio_contradicts_is_dropped(gazetteer):
    text = "道路が冠水しています。寿根です。"
    assert facts.extract(text, gazetteer).place.name == "寿根"
    seen = []
    found = facts_of(text, gazetteer, {"寿根": -20.0, "スネ": -22.0, "すね": -21.0}, seen)
    assert found.place is None
    assert any(c.name == "寿根" for c in found.candidates)  # still one click away
    # a resolved place is checked on its own name only (three written forms)
    assert len(seen) == 1 and len(seen[0]) == 4
    assert facts_of(text, gazetteer, {"寿根": -4.0}).place.name == "寿根"


def test_a_scorer_that_cannot_score_leaves_the_facts_alone(gazetteer):
    text = "屋根が飛ばされました。守かです。"
    check = acoustic.place_check(text, (), SECONDS, lambda chunk, texts: None)
    assert facts.extract(text, gazetteer, place_check=check) == facts.extract(text, gazetteer)


def test_long_calls_are_scored_in_the_window_that_holds_the_name():
    from disaster_ai.apps.transcription.types import TranscriptSegment

    segments = [
        TranscriptSegment(0.0, 25.0, "長い前置きです。", None),
        TranscriptSegment(25.0, 40.0, "場所はモリカーです。", None),
    ]
    cuts = acoustic.windows("長い前置きです。場所はモリカーです。", segments, 40.0)
    assert [w.start_s for w in cuts] == [0.0, 25.0]
    assert cuts[1].text == "場所はモリカーです。"
