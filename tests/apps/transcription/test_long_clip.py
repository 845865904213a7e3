"""A long call (≥ 10 minutes, the dev clips concatenated with silence between them) goes
through the CLI and the job with the real default engine: progress is reported all along (to
the job row, which the desk's job queue and the call page show, and to the CLI's stderr), and
memory stays bounded.

To keep the suite's time reasonable on 2 cores this test decodes greedily with VAD on
(``WHISPER_BEAM_SIZE=1``, ``WHISPER_VAD=True``): the 20-second silences are skipped and only the
~3 minutes of speech are decoded (about 1 minute, against ~2.5 minutes with beam 5 and no VAD,
which docs/benchmarks.md records for the same kind of clip). Neither setting changes how the
audio is decoded, held or reported, which is what this test is about.

Memory bound: the model is loaded, and a short clip transcribed, before the baseline is
taken (the VAD model, OpenJTalk and the gazetteer load once per process). Measured for this
10.4-minute clip: the decoded samples ≈ 40 MB (held once: ``audio.decode`` fills one buffer);
the log-mel features ≈ 75 MB transient (computed 30 s at a time; faster-whisper's own
extractor took 513 MB for the same clip); faster-whisper's Silero VAD ≈ 205 MB, because it
runs the whole clip through ONNX in one batch (about 20 MB per minute; VAD is off by default).
Growth was 235 MB in all. 300 MB fails if the clip were held in several copies at once or
if the whole-clip STFT came back (+440 MB), while leaving room for the allocator."""

from __future__ import annotations

import json
import os
import threading
import time
import wave

import numpy as np
import pytest
from call_helpers import AUDIO

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)]

GAP_SECONDS = 20
MIN_SECONDS = 600
RSS_GROWTH_BOUND_MB = 300


def _long_wav(path) -> float:
    from disaster_ai.apps.transcription import audio

    clips = [audio.decode(str(AUDIO / f"d0{i}.wav"), max_seconds=60) for i in range(1, 9)]
    gap = np.zeros(GAP_SECONDS * 16000, np.float32)
    parts, total = [], 0
    while total < MIN_SECONDS * 16000:
        clip = clips[len(parts) // 2 % len(clips)]
        parts += [clip, gap]
        total += clip.size + gap.size
    samples = (np.clip(np.concatenate(parts), -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(samples.tobytes())
    return total / 16000


class _RssSampler(threading.Thread):
    """The process's current resident set size, sampled every 0.1 s (its peak and baseline)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.baseline = self.peak = self.rss()
        self.stopped = threading.Event()

    def rss(self) -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self.page

    def run(self):
        while not self.stopped.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.1)


def test_a_ten_minute_call_with_progress_and_bounded_memory(
    make_app, whisper_dir, whisper_model, tmp_path
):
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from disaster_ai.apps.transcription.service import PROGRESS_LISTENERS
    from disaster_ai.cli import build_cli

    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs /proc to sample the resident set size")
    clip = tmp_path / "long-call.wav"
    seconds = _long_wav(clip)
    assert seconds >= MIN_SECONDS
    app = make_app(WHISPER_MODEL_DIR=whisper_dir, WHISPER_BEAM_SIZE=1, WHISPER_VAD=True)
    script = ScriptInfo(create_app=lambda: app, load_dotenv_defaults=False)
    result = CliRunner().invoke(
        build_cli(app), ["init", "--sample", "yaizu", "--no-demo-users"], obj=script
    )
    assert result.exit_code == 0, result.output
    # warm-up on a short clip: the first call loads the VAD model, the OpenJTalk dictionary and
    # the gazetteer once per process; the baseline is taken after that
    result = CliRunner().invoke(
        build_cli(app), ["transcribe", str(AUDIO / "d03.wav"), "--json"], obj=script
    )
    assert result.exit_code == 0, result.output
    reported: list[tuple[int, str]] = []
    app.extensions.setdefault(PROGRESS_LISTENERS, []).append(
        lambda call_id, percent, message: reported.append((percent, message))
    )
    sampler = _RssSampler()
    sampler.start()
    started = time.perf_counter()
    try:
        result = CliRunner().invoke(build_cli(app), ["transcribe", str(clip), "--json"], obj=script)
    finally:
        sampler.stopped.set()
        sampler.join()
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["duration_s"] >= MIN_SECONDS
    assert max(s["end"] for s in row["segments"]) > 9 * 60
    assert len(row["segments"]) >= 20  # 22 calls, each one or two segments
    # progress: monotonic, all the way to 100 %, with many steps while transcribing
    percents = [p for p, _ in reported]
    assert percents == sorted(percents) and percents[-1] == 100
    transcribing = [p for p, m in reported if m == "transcribing"]
    assert len(set(transcribing)) >= 10 and max(transcribing) >= 90
    assert "transcribing" in result.stderr and "100 % done" in result.stderr
    growth_mb = (sampler.peak - sampler.baseline) / 2**20
    print(f"\n{seconds:.0f} s clip in {elapsed:.0f} s; RSS growth {growth_mb:.0f} MB")
    assert growth_mb < RSS_GROWTH_BOUND_MB
