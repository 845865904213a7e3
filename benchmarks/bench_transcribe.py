"""Benchmark: call transcription on the dev clips (sample_data/calls), engine by engine.

    .venv/bin/python benchmarks/bench_transcribe.py [--encodings wav,tel8k,mp3] [--beam 5]
        [--engines faster-whisper] [--clips d01,d02]

For each engine and encoding, over the 8 synthetic Yaizu calls, with and without gazetteer
biasing (the town names as Whisper's initial prompt), it prints:

- speed as × real time (audio seconds per wall second, after a warm-up clip), and the ratio to
  openai-whisper when that engine ran too;
- peak RSS of the process (ru_maxrss) after the engine ran;
- CER (NFKC, punctuation and spaces removed) and kana CER (the same on pyopenjtalk readings);
- place accuracy (resolved place == calls.json town) and category accuracy.

Engines: faster-whisper (default) and openai-whisper (``--engines faster-whisper,openai-whisper``,
needs the [openai-whisper] extra; the weights are converted from the same packaged model). The
transformers engine is not implemented yet.
Not a test: run it by hand and record the figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from disaster_ai.apps.transcription import audio, facts, models_assembly  # noqa: E402
from disaster_ai.apps.transcription.service import PROMPT_HEAD, gazetteer_prompt  # noqa: E402
from disaster_ai.apps.transcription.types import PlaceName, TranscribeOptions  # noqa: E402

CALLS = ROOT / "sample_data" / "calls"
PLACES = ROOT / "sample_data" / "yaizu" / "yaizu_town_points_geolonia.geojson"
SUFFIX = {"wav": ".wav", "tel8k": "_tel8k.wav", "mp3": ".mp3"}


def clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\s、。，．,.!?！？「」『』・…ー-]", "", text)


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(ref: str, hyp: str) -> float:
    return edit_distance(ref, hyp) / max(1, len(ref))


def gazetteer() -> facts.Gazetteer:
    data = json.loads(PLACES.read_text(encoding="utf-8"))
    places = [
        PlaceName(f["properties"]["town"] + f["properties"]["koaza"], f"p{i}")
        for i, f in enumerate(data["features"])
    ]
    return facts.build_gazetteer(places, "焼津市")


def faster_whisper_engine(folder: str):
    from disaster_ai.apps.transcription.engines import faster_whisper

    model = faster_whisper.load_model(folder, compute_type="int8", cpu_threads=2)
    return lambda samples, options: faster_whisper.transcribe(model, samples, options)


def openai_whisper_engine(folder: str):
    from disaster_ai.apps.transcription.convert import convert_openai_whisper
    from disaster_ai.apps.transcription.engines import openai_whisper

    checkpoint = convert_openai_whisper(folder, Path(folder).parent / "whisper-base-openai.pt")
    model = openai_whisper.load_model(str(checkpoint), cpu_threads=2)
    return lambda samples, options: openai_whisper.transcribe(model, samples, options)


ENGINES = {"faster-whisper": faster_whisper_engine, "openai-whisper": openai_whisper_engine}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encodings", default="wav,tel8k,mp3")
    parser.add_argument("--engines", default="faster-whisper")  # or faster-whisper,openai-whisper
    parser.add_argument("--clips", default="")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--no-baseline", action="store_true", help="skip the run without biasing")
    parser.add_argument("--no-biasing", action="store_true", help="skip the gazetteer-prompt run")
    args = parser.parse_args()
    calls = json.loads((CALLS / "calls.json").read_text(encoding="utf-8"))
    if args.clips:
        calls = [c for c in calls if c["id"] in args.clips.split(",")]
    gaz = gazetteer()
    prompts = {"biased": gazetteer_prompt(gaz, "焼津市")}
    if not args.no_baseline:
        prompts = {"plain": f"焼津市の{PROMPT_HEAD}", **prompts}
    if args.no_biasing:
        prompts.pop("biased")
    folder = str(models_assembly.assemble(tempfile.mkdtemp(prefix="bench-whisper-")))
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, beam {args.beam}, clips {len(calls)}"
    )
    speeds: dict[str, float] = {}
    for engine_name in args.engines.split(","):
        started = time.perf_counter()
        engine = ENGINES[engine_name](folder)
        load_s = time.perf_counter() - started
        warm = audio.decode(str(CALLS / "audio" / "d03.wav"), max_seconds=900)
        engine(warm, TranscribeOptions(beam_size=args.beam, vad=False))
        print(f"\n## {engine_name} (load {load_s:.1f} s)")
        print("| encoding | prompt | ×RT | CER | kana CER | place | category | peak RSS |")
        print("|---|---|---|---|---|---|---|---|")
        for encoding in args.encodings.split(","):
            for label, prompt in prompts.items():
                options = TranscribeOptions(beam_size=args.beam, vad=False, initial_prompt=prompt)
                total_audio = total_time = 0.0
                errors = kana_errors = ref_len = kana_len = 0
                places = categories = 0
                misses = []
                for call in calls:
                    path = CALLS / "audio" / f"{call['id']}{SUFFIX[encoding]}"
                    samples = audio.decode(str(path), max_seconds=900)
                    started = time.perf_counter()
                    transcript = engine(samples, options)
                    total_time += time.perf_counter() - started
                    total_audio += samples.shape[0] / 16000
                    ref, hyp = clean(call["text"]), clean(transcript.text)
                    errors += edit_distance(ref, hyp)
                    ref_len += len(ref)
                    kref, khyp = facts.reading(call["text"]), facts.reading(transcript.text)
                    kana_errors += edit_distance(kref, khyp)
                    kana_len += len(kref)
                    found = facts.extract(transcript.text, gaz)
                    ok = found.place is not None and found.place.name == call["town"]
                    places += ok
                    categories += found.category == call["category"]
                    if not ok:
                        misses.append(call["id"])
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                speed = total_audio / total_time
                speeds.setdefault(engine_name, speed)
                print(
                    f"| {encoding} | {label} | {speed:.1f} | {errors / ref_len:.1%} | "
                    f"{kana_errors / kana_len:.1%} | {places}/{len(calls)} | "
                    f"{categories}/{len(calls)} | {rss:.0f} MB |"
                    + (f" missed: {','.join(misses)}" if misses else "")
                )
                sys.stdout.flush()
    if "openai-whisper" in speeds:
        for name, speed in speeds.items():
            print(f"{name}: {speed / speeds['openai-whisper']:.2f}× openai-whisper")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
