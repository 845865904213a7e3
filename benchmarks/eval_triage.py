"""Evaluate call triage (category, place, life threat, further incidents, people, vulnerable,
call-back) per split of the written corpus, on the text and on Whisper's transcripts.

    .venv/bin/python benchmarks/eval_triage.py                 # the written text, per split
    .venv/bin/python benchmarks/eval_triage.py --transcribe    # Whisper over the synthesized
                                                               # clips → audio/transcripts.json
    .venv/bin/python benchmarks/eval_triage.py --asr           # figures on those transcripts
    .venv/bin/python benchmarks/eval_triage.py --asr --score   # …running the model for the
                                                               # acoustic check's missing scores
    .venv/bin/python benchmarks/eval_triage.py --time-check    # the check's cost against Whisper
    options: --splits train,dev,test,samples  --confusion  --misses  --json  --no-acoustic

Sets: the corpus's ``train``, ``dev`` and ``test`` splits (tests/fixtures/calls_corpus/
corpus.jsonl, see its README.md) and ``samples``, the 8 sample calls of sample_data/calls.
Each row is resolved against its municipality's gazetteer: the Yaizu sample layers
(sample_data/yaizu) or the Ichinomiya pilot kit's town list and GSI shelters
(tests/fixtures/calls_corpus/ichinomiya). Nothing here is tuned on ``test``.

``--transcribe`` runs the project's default engine (faster-whisper, the packaged Whisper base,
int8, beam 5, language ja, no prompt, word timestamps as the app does) on every clip of
audio/manifest.json in its three conditions and on the 8 sample clips (16 kHz WAV, 8 kHz
μ-law, MP3), and stores the transcripts with the engine settings, so that ``--asr`` (and the
tests) can score real ASR output without the model. The figures are from synthetic speech.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from disaster_ai.apps.transcription import evaluation  # noqa: E402
from disaster_ai.apps.transcription.facts import CATEGORIES  # noqa: E402

CORPUS = ROOT / "tests" / "fixtures" / "calls_corpus"
AUDIO = CORPUS / "audio"
TRANSCRIPTS = AUDIO / "transcripts.json"
FIT_SCORES = AUDIO / "fit_scores.json"
SAMPLES = ROOT / "sample_data" / "calls"
YAIZU = ROOT / "sample_data" / "yaizu"
ICHINOMIYA = CORPUS / "ichinomiya"
SAMPLE_ENCODINGS = {"clean": ".wav", "telephone": "_tel8k.wav", "mp3": ".mp3"}


def gazetteers() -> dict:
    return {
        "yaizu": evaluation.gazetteer_from_files(
            YAIZU / "yaizu_town_points_geolonia.geojson",
            YAIZU / "yaizu_designated_shelters.geojson",
            "焼津市",
        ),
        "ichinomiya": evaluation.gazetteer_from_files(
            ICHINOMIYA / "geolonia_towns_23203.json",
            ICHINOMIYA / "gsi_designated_shelters_232033.geojson",
            "一宮市",
        ),
    }


def sample_rows() -> list[dict]:
    calls = json.loads((SAMPLES / "calls.json").read_text(encoding="utf-8"))
    return [
        {
            "id": c["id"],
            "split": "samples",
            "muni": "yaizu",
            "text": c["text"],
            "category": c["category"],
            "also": [],
            "life": c["life_threat"],
            "place": c["town"],
            "people": None,
            "vulnerable": c.get("vulnerable", False),
            "callback": False,
        }
        for c in calls
    ]


def all_rows() -> list[dict]:
    return evaluation.load_corpus(CORPUS / "corpus.jsonl") + sample_rows()


def pct(value) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def table(results: dict[str, dict]) -> str:
    lines = [
        "| set | n | category | place | false places | place in top 3 | "
        "life recall (flagged / yes) | false alarms | "
        "further incidents | people | vulnerable | call-back |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in results.items():
        lines.append(
            f"| {name} | {s['n']} | {pct(s['category'])} | {pct(s['place'])} | "
            f"{s['place_wrong_guesses']} | {pct(s['place_top3'])} | "
            f"{pct(s['life_recall'])} / {pct(s['life_recall_yes'])} of {s['life_positives']} | "
            f"{pct(s['false_alarm_rate'])} ({s['false_alarms']}/{s['negatives']}) | "
            f"{pct(s['proposals_recall'])} | {pct(s['people'])} | {pct(s['vulnerable'])} | "
            f"{pct(s['callback'])} |"
        )
    return "\n".join(lines)


def run_text(args, gaz) -> dict:
    rows = all_rows()
    results, figures = {}, {}
    for split in args.splits:
        chosen = [r for r in rows if r["split"] == split]
        if not chosen:
            continue
        started = time.perf_counter()
        figures[split] = evaluation.evaluate(chosen, gaz)
        results[split] = figures[split].summary()
        results[split]["ms_per_call"] = round(
            (time.perf_counter() - started) * 1000 / len(chosen), 1
        )
    return report(args, "written text", results, figures)


def clip_path(clip: str, condition: str) -> Path:
    """The audio file of a synthesized clip or a sample clip in one condition."""
    if condition in SAMPLE_ENCODINGS and (SAMPLES / "audio" / f"{clip}.wav").is_file():
        return SAMPLES / "audio" / f"{clip}{SAMPLE_ENCODINGS[condition]}"
    manifest = json.loads((AUDIO / "manifest.json").read_text(encoding="utf-8"))
    return AUDIO / {c["id"]: c for c in manifest["clips"]}[clip][condition]


class FitCache:
    """The engine's scores of texts against each clip (``dai_score_texts``, used by the acoustic
    place check), stored beside the transcripts so that ``--asr`` and the tests run the check
    without the model. ``--score`` loads the model and fills in what is missing; without it a
    missing score leaves that clip unchecked (counted in ``missing``)."""

    def __init__(self, model=None):
        self.data = {"scores": {}}
        if FIT_SCORES.exists():
            self.data = json.loads(FIT_SCORES.read_text(encoding="utf-8"))
        self.model, self.missing, self.dirty = model, 0, False

    def check_of(self, condition: str):
        """``check_of`` for evaluation.evaluate: the acoustic place check of a row's clip."""
        from disaster_ai.apps.transcription import acoustic, audio

        def check(row):
            samples = audio.decode(str(clip_path(row["id"], condition)), max_seconds=120)
            return acoustic.place_check(row["asr"], (), samples, self.scorer(row["id"], condition))

        return check

    def scorer(self, clip: str, condition: str):
        table = self.data["scores"].setdefault(f"{clip}/{condition}", {})

        def score(chunk, texts):
            if all(text in table for text in texts):
                return [table[text] for text in texts]
            if self.model is None:
                self.missing += 1
                return None
            from disaster_ai.apps.transcription.engines import faster_whisper

            values = faster_whisper.score_texts(self.model, chunk, list(texts))
            table.update({t: round(v, 3) for t, v in zip(texts, values, strict=True)})
            self.dirty = True
            return [table[text] for text in texts]

        return score

    def save(self) -> None:
        if self.dirty:
            self.data["engine"] = "faster-whisper, Whisper base (packaged), int8, 2 threads"
            FIT_SCORES.write_text(
                json.dumps(self.data, ensure_ascii=False, indent=0, sort_keys=True) + "\n",
                encoding="utf-8",
            )


def time_check(args, gaz) -> None:
    """Wall time of the acoustic place check against the transcription itself, per clip, with
    the live model (median and ratio; the same process, one after the other)."""
    import statistics

    from disaster_ai.apps.transcription import acoustic, audio, facts, models_assembly
    from disaster_ai.apps.transcription.engines import faster_whisper
    from disaster_ai.apps.transcription.types import TranscribeOptions

    folder = models_assembly.assemble(str(ROOT / "instance"))
    model = faster_whisper.load_model(str(folder), compute_type="int8", cpu_threads=2)
    options = TranscribeOptions(
        language="ja", beam_size=5, vad=False, word_timestamps=True, max_new_tokens=200
    )
    rows = {r["id"]: r for r in all_rows()}
    manifest = json.loads((AUDIO / "manifest.json").read_text(encoding="utf-8"))
    clips = [c for c in manifest["clips"] if rows[c["id"]]["split"] in args.splits]
    warm = audio.decode(str(AUDIO / clips[0]["clean"]), max_seconds=120)
    faster_whisper.transcribe(model, warm, options)  # the first call pays for loading
    spent = {"transcribe": [], "check (place unresolved)": [], "check (place resolved)": []}
    for clip in clips:
        for condition in ("clean", "telephone", "noisy"):
            samples = audio.decode(str(AUDIO / clip[condition]), max_seconds=120)
            started = time.perf_counter()
            transcript = faster_whisper.transcribe(model, samples, options)
            spent["transcribe"].append(time.perf_counter() - started)
            gazetteer = gaz[rows[clip["id"]]["muni"]]
            resolved = facts.extract(transcript.text, gazetteer).place is not None
            started = time.perf_counter()
            check = acoustic.place_check(
                transcript.text,
                transcript.segments,
                samples,
                lambda chunk, texts: faster_whisper.score_texts(model, chunk, list(texts)),
            )
            facts.extract(transcript.text, gazetteer, place_check=check)
            key = "check (place resolved)" if resolved else "check (place unresolved)"
            spent[key].append(time.perf_counter() - started)
    base = statistics.median(spent["transcribe"])
    print("| step | clips | median s | p90 s | ratio to transcription |\n|---|---|---|---|---|")
    for step, values in spent.items():
        if not values:
            continue
        values.sort()
        median = statistics.median(values)
        p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
        print(f"| {step} | {len(values)} | {median:.2f} | {p90:.2f} | {median / base:.2f} |")


def run_asr(args, gaz) -> dict:
    stored = json.loads(TRANSCRIPTS.read_text(encoding="utf-8"))
    rows = {r["id"]: r for r in all_rows()}
    model = None
    if args.score:
        from disaster_ai.apps.transcription import models_assembly
        from disaster_ai.apps.transcription.engines import faster_whisper

        folder = models_assembly.assemble(str(ROOT / "instance"))
        model = faster_whisper.load_model(str(folder), compute_type="int8", cpu_threads=2)
    cache = FitCache(model)
    results, figures = {}, {}
    for condition in ("clean", "telephone", "noisy", "mp3"):
        for split in args.splits:
            chosen = [
                dict(rows[clip], asr=texts[condition])
                for clip, texts in stored["clips"].items()
                if condition in texts and clip in rows and rows[clip]["split"] == split
            ]
            if not chosen:
                continue
            name = f"{split} / {condition}"
            figures[name] = evaluation.evaluate(
                chosen,
                gaz,
                text_of=lambda row: row["asr"],
                check_of=(lambda row: None) if args.no_acoustic else cache.check_of(condition),
            )
            results[name] = figures[name].summary()
    cache.save()
    print(f"# engine: {stored.get('engine')}, options: {stored.get('options')}")
    if args.no_acoustic:
        print("# acoustic place check: off")
    elif cache.missing:
        print(f"# acoustic place check: {cache.missing} windows without stored scores (--score)")
    return report(args, "Whisper transcripts of synthetic speech", results, figures)


def report(args, what: str, results: dict, figures: dict) -> dict:
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
        return results
    print(f"## Triage on the {what}\n")
    print(table(results))
    if args.confusion:
        for name, fig in figures.items():
            print(f"\n### Confusion matrix, {name}\n")
            print(evaluation.confusion_table(fig.confusion, CATEGORIES))
    if args.misses:
        for name, fig in figures.items():
            print(f"\n### Misses, {name}\n")
            for miss in fig.misses:
                print(json.dumps(miss, ensure_ascii=False))
    return results


def _jobs(follow: bool):
    """(clip, condition, path) for the sample clips, then every synthesized clip; with
    ``follow``, waits for clips that benchmarks/synth_calls.py is still writing."""
    for row in sample_rows():
        for condition, suffix in SAMPLE_ENCODINGS.items():
            yield row["id"], condition, SAMPLES / "audio" / f"{row['id']}{suffix}"
    done: set[str] = set()
    while True:
        manifest = json.loads((AUDIO / "manifest.json").read_text(encoding="utf-8"))
        for clip in manifest["clips"]:
            if clip["id"] in done:
                continue
            done.add(clip["id"])
            for condition in ("clean", "telephone", "noisy"):
                yield clip["id"], condition, AUDIO / clip[condition]
        if not follow or manifest.get("complete", True):
            return
        time.sleep(20)


def transcribe_all(args) -> None:
    """Whisper over the synthesized clips and the 8 sample clips → TRANSCRIPTS."""
    from disaster_ai.apps.transcription import audio, models_assembly
    from disaster_ai.apps.transcription.engines import faster_whisper
    from disaster_ai.apps.transcription.types import TranscribeOptions

    folder = models_assembly.assemble(str(ROOT / "instance"))
    model = faster_whisper.load_model(str(folder), compute_type="int8", cpu_threads=2)
    options = TranscribeOptions(
        language="ja", beam_size=5, vad=False, word_timestamps=True, max_new_tokens=200
    )
    stored = {"clips": {}}
    if TRANSCRIPTS.exists() and not args.force:
        stored = json.loads(TRANSCRIPTS.read_text(encoding="utf-8"))
    seconds, wall = 0.0, 0.0
    for clip, condition, path in _jobs(args.follow):
        if condition in stored["clips"].get(clip, {}):
            continue
        samples = audio.decode(str(path), max_seconds=120)
        started = time.perf_counter()
        transcript = faster_whisper.transcribe(model, samples, options)
        wall += time.perf_counter() - started
        seconds += samples.size / 16000
        stored["clips"].setdefault(clip, {})[condition] = transcript.text
        print(f"{clip} {condition}: {transcript.text}", flush=True)
        stored.update(
            engine="faster-whisper 1.2.1, Whisper base (packaged), int8, 2 threads",
            options="language ja, beam 5, no VAD, no prompt, word timestamps",
        )
        TRANSCRIPTS.write_text(
            json.dumps(stored, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    if wall:
        print(f"{seconds:.0f} s of audio in {wall:.0f} s ({seconds / wall:.1f}× real time)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", default="train,dev,test,samples")
    parser.add_argument("--asr", action="store_true", help="score the stored ASR transcripts")
    parser.add_argument("--transcribe", action="store_true", help="run Whisper on the clips")
    parser.add_argument("--force", action="store_true", help="transcribe every clip again")
    parser.add_argument(
        "--score", action="store_true", help="with --asr: run the model for missing fit scores"
    )
    parser.add_argument(
        "--no-acoustic", action="store_true", help="with --asr: without the acoustic place check"
    )
    parser.add_argument("--follow", action="store_true", help="wait for clips being synthesized")
    parser.add_argument(
        "--time-check", action="store_true", help="time the acoustic check against Whisper"
    )
    parser.add_argument("--confusion", action="store_true")
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.splits = [s for s in args.splits.split(",") if s]
    if args.transcribe:
        transcribe_all(args)
        return 0
    gaz = gazetteers()
    if args.time_check:
        time_check(args, gaz)
        return 0
    if args.asr:
        run_asr(args, gaz)
    else:
        run_text(args, gaz)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
