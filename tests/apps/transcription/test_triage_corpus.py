"""Per-split floors of the call triage on the written corpus (tests/fixtures/calls_corpus) and on
Whisper's stored transcripts of its synthesized clips; one slow test runs Whisper itself.

The floors are the issue's targets where the figures reach them (category and place ≥ 85 %,
life-threat recall ≥ 98 % on the test split, at most 1 in 10 non-urgent calls flagged) and the
measured figures, rounded down, where they do not (docs/transcription.md gives both). A change
to the lexicon or the matcher that loses ground on any split fails here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from call_helpers import CORPUS

from disaster_ai.config import REPO_ROOT

sys.path.insert(0, str(Path(REPO_ROOT) / "benchmarks"))
import eval_triage  # noqa: E402

from disaster_ai.apps.transcription import evaluation  # noqa: E402

# split: (category, place, life recall (yes or 要確認), false-alarm rate at most, false places at
# most). Measured after the labelling rule (docs/transcription.md) and the second lexicon review:
# train 100 %, dev 98.5 %, test 94.5 %, holdout 91.7 % (first scored 77.1 %), fresh2 91.8 %
# (83.7 % before the review); life recall 100 % everywhere; false alarms 2.6–7.9 %; place
# 98–100 % with no false place. Each floor allows about one call less than measured.
TEXT_FLOORS = {
    "train": (0.98, 0.98, 1.0, 0.05, 1),
    "dev": (0.96, 0.98, 1.0, 0.08, 1),
    "test": (0.92, 0.98, 0.98, 0.08, 1),
    "holdout": (0.89, 0.95, 0.95, 0.10, 1),
    "fresh2": (0.89, 0.95, 0.95, 0.10, 1),
    "samples": (1.0, 1.0, 1.0, 0.0, 0),
}
# condition: (category, place, life recall, false alarms at most, false places at most), all
# splits together: the 60 synthesized clips, and for clean and telephone also the 8 sample clips
# (their 16 kHz WAV and 8 kHz μ-law), for mp3 the sample clips only; the place with the acoustic
# check on the stored scores (measured: category clean 88.2 %, telephone 88.2 %, noisy 85.0 %,
# mp3 87.5 %; recall 12/12, 12/12, 8/8, 4/4; place clean 95.6 % (89.7 % by the reading alone),
# telephone 83.8 % (77.9 %), noisy 73.3 % (65.0 %), mp3 100 %, with no false place (were 0, 1,
# 1 and 0))
ASR_FLOORS = {
    "clean": (0.86, 0.94, 1.0, 0.08, 1),
    "telephone": (0.86, 0.82, 1.0, 0.08, 1),
    "noisy": (0.83, 0.71, 0.95, 0.08, 1),
    "mp3": (0.85, 1.0, 1.0, 0.0, 0),
}


@pytest.fixture(scope="module")
def gazetteers():
    return eval_triage.gazetteers()


@pytest.fixture(scope="module")
def rows():
    return eval_triage.all_rows()


def test_the_corpus_covers_every_category_and_split(rows):
    from disaster_ai.apps.transcription.facts import CATEGORIES

    written = [r for r in rows if r["split"] != "samples"]
    assert len(written) >= 300
    for category in CATEGORIES:
        assert sum(r["category"] == category for r in written) >= 15, category
    assert {r["split"] for r in written} == {"train", "dev", "test", "holdout", "fresh2"}
    assert {r["muni"] for r in written} == {"yaizu", "ichinomiya"}
    ids = [r["id"] for r in written]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    "split",
    [pytest.param("train", marks=pytest.mark.slow), "dev", "test", "holdout", "fresh2", "samples"],
)
def test_text_floors_per_split(rows, gazetteers, split):
    category, place, recall, false_alarms, false_places = TEXT_FLOORS[split]
    figures = evaluation.evaluate([r for r in rows if r["split"] == split], gazetteers)
    summary = figures.summary()
    misses = json.dumps(figures.misses[:10], ensure_ascii=False, indent=1)
    assert summary["category"] >= category, misses
    assert summary["place"] >= place, misses
    assert summary["life_recall"] >= recall, misses
    assert summary["false_alarm_rate"] <= false_alarms, misses
    assert summary["place_wrong_guesses"] <= false_places, misses


@pytest.mark.parametrize("condition", sorted(ASR_FLOORS))
def test_floors_on_whispers_transcripts(rows, gazetteers, condition):
    """Real ASR errors: what the packaged Whisper base wrote for the synthesized clips
    (benchmarks/eval_triage.py --transcribe) and how its names fit the audio (--score), scored
    without running the model."""
    stored = json.loads((CORPUS / "audio" / "transcripts.json").read_text(encoding="utf-8"))
    by_id = {r["id"]: r for r in rows}
    chosen = [
        dict(by_id[clip], asr=texts[condition])
        for clip, texts in stored["clips"].items()
        if condition in texts and clip in by_id
    ]
    assert len(chosen) >= (8 if condition == "mp3" else 60)
    category, place, recall, false_alarms, false_places = ASR_FLOORS[condition]
    # with the acoustic place check, on the model's scores stored by eval_triage.py --score
    cache = eval_triage.FitCache()
    figures = evaluation.evaluate(
        chosen, gazetteers, text_of=lambda row: row["asr"], check_of=cache.check_of(condition)
    )
    assert cache.missing == 0, "fit scores missing: run benchmarks/eval_triage.py --asr --score"
    summary = figures.summary()
    misses = json.dumps(figures.misses[:10], ensure_ascii=False, indent=1)
    assert summary["category"] >= category, misses
    assert summary["place"] >= place, misses
    assert summary["life_recall"] >= recall, misses
    assert summary["false_alarm_rate"] <= false_alarms, misses
    assert summary["place_wrong_guesses"] <= false_places, misses


def test_the_synthesized_clips_are_small_and_described():
    manifest = json.loads((CORPUS / "audio" / "manifest.json").read_text(encoding="utf-8"))
    clips = manifest["clips"]
    assert len(clips) >= 60
    assert len({c["voice"] for c in clips}) >= 3
    size = sum(p.stat().st_size for p in (CORPUS / "audio").iterdir())
    assert size < 12 * 2**20
    for clip in clips:
        for condition in ("clean", "telephone", "noisy"):
            assert (CORPUS / "audio" / clip[condition]).is_file()


@pytest.mark.slow
def test_whisper_on_synthesized_calls_gives_the_facts(whisper_model, gazetteers, rows):
    """The real model on three clips, one per condition: the triage of its transcript names the
    labelled category and raises the life-threat flag where it should."""
    from disaster_ai.apps.transcription import audio, facts
    from disaster_ai.apps.transcription.engines import faster_whisper
    from disaster_ai.apps.transcription.types import TranscribeOptions

    manifest = json.loads((CORPUS / "audio" / "manifest.json").read_text(encoding="utf-8"))
    by_id = {r["id"]: r for r in rows}
    wanted = {"fire-01": "clean", "rescue-02": "telephone", "water_outage-02": "noisy"}
    clips = {c["id"]: c for c in manifest["clips"] if c["id"] in wanted}
    assert set(clips) == set(wanted)
    for clip_id, condition in wanted.items():
        samples = audio.decode(str(CORPUS / "audio" / clips[clip_id][condition]), max_seconds=60)
        transcript = faster_whisper.transcribe(
            whisper_model, samples, TranscribeOptions(beam_size=5, vad=False)
        )
        row = by_id[clip_id]
        found = facts.extract(transcript.text, gazetteers[row["muni"]])
        assert found.category in {row["category"], *row["also"]}, transcript.text
        assert found.life_threat == row["life"], transcript.text


@pytest.mark.slow
def test_the_stored_fit_scores_are_the_models(whisper_model, gazetteers, rows):
    """The acoustic place check with the real model on two dev clips where Whisper garbled the
    town (サンバー for 三和; 石部 for 石津 under noise): the place resolves, and the live scores
    agree with the ones stored for the floors above."""
    from disaster_ai.apps.transcription import acoustic, audio, facts
    from disaster_ai.apps.transcription.engines import faster_whisper

    stored = json.loads((CORPUS / "audio" / "transcripts.json").read_text(encoding="utf-8"))
    cache = eval_triage.FitCache()
    by_id = {r["id"]: r for r in rows}
    for clip, condition in (("building_damage-04", "telephone"), ("river-01", "noisy")):
        row = by_id[clip]
        text = stored["clips"][clip][condition]
        samples = audio.decode(str(eval_triage.clip_path(clip, condition)), max_seconds=60)
        seen: list[tuple[list[str], list[float]]] = []

        def live(chunk, texts, seen=seen):
            values = faster_whisper.score_texts(whisper_model, chunk, list(texts))
            seen.append((list(texts), values))
            return values

        gazetteer = gazetteers[row["muni"]]
        assert facts.extract(text, gazetteer).place is None  # the reading alone: unresolved
        check = acoustic.place_check(text, (), samples, live)
        found = facts.extract(text, gazetteer, place_check=check)
        assert found.place is not None and found.place.name == row["place"], text
        table = cache.data["scores"][f"{clip}/{condition}"]
        for texts, values in seen:
            for one, value in zip(texts, values, strict=True):
                assert one in table and abs(table[one] - value) < 0.5, one
