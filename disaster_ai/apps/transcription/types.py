"""The payloads of the transcription hooks (frozen dataclasses, STYLE.md §2)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class TranscribeOptions:
    """What ``dai_transcribe`` gets besides the audio.

    ``initial_prompt`` / ``hotwords`` carry the vocabulary biasing (the municipality's town,
    district and shelter names); ``max_new_tokens`` and ``max_seconds_compute`` cap runaway
    loops on noisy audio."""

    language: str = "ja"
    beam_size: int = 5
    vad: bool = True
    word_timestamps: bool = True  # word timings and probabilities (faster-whisper only)
    initial_prompt: str = ""
    hotwords: str = ""
    max_new_tokens: int | None = 200
    max_seconds_compute: float | None = None
    engine: str = "faster-whisper"
    model_name: str = ""
    model_path: str = ""
    compute_type: str = "int8"
    cpu_threads: int = 2
    progress: Callable[[int], None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TranscriptWord:
    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class TranscriptSegment:
    start: float
    end: float
    text: str
    confidence: float | None  # exp(average log-probability of its tokens), 0–1
    words: tuple[TranscriptWord, ...] = ()
    no_speech_prob: float | None = None


@dataclass(frozen=True)
class Transcript:
    text: str
    segments: tuple[TranscriptSegment, ...]
    language: str
    duration_s: float
    engine: str
    model: str = ""
    truncated: bool = False  # the time cap stopped decoding
    compute_s: float = 0.0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PlaceName:
    """One gazetteer entry for place resolution (``dai_place_names``)."""

    name: str  # as written in the places layer, e.g. 小川新町三丁目
    code: str  # the layer's feature key (or a district / shelter key)
    kind: str = "town"  # town | district | shelter
    readings: tuple[str, ...] = ()  # katakana readings of the whole name, if known
    lon: float | None = None  # its point, when known (a shelter's incident is placed there)
    lat: float | None = None
