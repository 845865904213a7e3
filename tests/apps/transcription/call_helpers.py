"""Shared helpers of the transcription tests (imported by conftest and the test modules)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from disaster_ai import hookimpl
from disaster_ai.apps.transcription.types import Transcript, TranscriptSegment, TranscriptWord
from disaster_ai.config import REPO_ROOT

os.environ.setdefault("HF_HUB_OFFLINE", "1")
CALLS_DIR = Path(REPO_ROOT) / "sample_data" / "calls"
AUDIO = CALLS_DIR / "audio"
CALLS = {c["id"]: c for c in json.loads((CALLS_DIR / "calls.json").read_text(encoding="utf-8"))}
YAIZU = Path(REPO_ROOT) / "sample_data" / "yaizu"
CORPUS = Path(REPO_ROOT) / "tests" / "fixtures" / "calls_corpus"
ICHINOMIYA = CORPUS / "ichinomiya"
MISATO = CORPUS / "misato"  # the pilot kit 美郷町 (shared/data/pilot/misato), its town list


class StubEngine:
    """Answers ``dai_transcribe`` with the next queued text (or the clip's calls.json text)."""

    def __init__(self):
        self.texts: list[str] = []
        self.calls = 0

    @hookimpl
    def dai_transcribe(self, audio, options):
        self.calls += 1
        text = self.texts.pop(0) if self.texts else "もしもし。"
        duration = round(audio.shape[0] / 16000, 3)
        half = len(text) // 2
        words = (
            TranscriptWord(0.0, duration / 2, text[:half], 0.9),
            TranscriptWord(duration / 2, duration, text[half:], 0.3),
        )
        return Transcript(
            text=text,
            segments=(TranscriptSegment(0.0, duration, text, 0.8, words, 0.01),),
            language="ja",
            duration_s=duration,
            engine="stub",
            model="stub-model",
        )


def audio_bytes(name: str) -> bytes:
    return (AUDIO / name).read_bytes()


def transcode(
    src: Path, dst: Path, codec: str, rate: int, layout: str = "mono", container: str | None = None
) -> Path:
    """Re-encode a clip with PyAV (A-law, stereo, AAC in M4A, Opus in OGG, … variants)."""
    import av

    with av.open(str(src)) as source, av.open(str(dst), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=rate)
        frames = [f for frame in source.decode(audio=0) for f in resampler.resample(frame)]
        frames += resampler.resample(None)
        for frame in frames:
            frame.pts = None
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return dst


def multipart(fields: dict) -> tuple[bytes, str]:
    """Encode a multipart body in memory. (The test client would spool a body over 500 KB to
    a temporary file that it never closes: a ResourceWarning, an error under filterwarnings.)"""
    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.test import encode_multipart

    values = MultiDict()
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, tuple):
                stream, name = item
                values.add(key, FileStorage(stream, filename=name))
            else:
                values.add(key, item)
    boundary, body = encode_multipart(values)
    return body, f"multipart/form-data; boundary={boundary}"
