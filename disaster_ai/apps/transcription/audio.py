"""Audio input: probe an upload cheaply (no decoding), and decode it to 16 kHz mono float32.

PyAV ships the FFmpeg libraries inside its wheel, so no system ffmpeg is needed. Accepted:
WAV (PCM, μ-law, A-law; 8 or 16 kHz; mono or stereo), MP3, M4A/AAC, OGG/Opus (and FLAC/Vorbis,
which come for free). Everything else gets a clear :class:`AudioError` with a stable ``code``.

``probe`` runs in the request: it opens the container, checks the codec and *demuxes* the
packets to measure the real duration (which catches truncated files and lying headers) without
decoding a single sample. ``decode`` runs in the job, in chunks, so memory stays bounded by
the duration limit (16 kHz float32 = 3.8 MB per minute).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
ALLOWED_CODECS = frozenset(
    {
        "pcm_s16le",
        "pcm_s24le",
        "pcm_s32le",
        "pcm_u8",
        "pcm_f32le",
        "pcm_mulaw",
        "pcm_alaw",
        "mp3",
        "mp3float",
        "aac",
        "opus",
        "libopus",
        "vorbis",
        "flac",
    }
)


class AudioError(ValueError):
    """Bad input. ``code``: empty | not_audio | corrupt | truncated | unsupported_codec |
    too_long | too_large."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AudioInfo:
    container: str
    codec: str
    sample_rate: int
    channels: int
    duration_s: float


def _open(path: str):
    import av

    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise AudioError("not_audio", "the file is not a recognised audio format") from None
    except av.error.FFmpegError as exc:
        raise AudioError("corrupt", f"the file could not be opened: {exc}") from None


def _check_riff(path: str) -> None:
    """A WAV file whose RIFF header declares more bytes than the file holds was cut off
    (FFmpeg derives the duration from the file size, so only the header tells)."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    declared = struct.unpack("<I", head[4:8])[0]
    actual = os.path.getsize(path)
    if declared not in (0, 0xFFFFFFFF) and declared + 8 > actual:
        raise AudioError(
            "truncated",
            f"the file holds {actual} bytes of the {declared + 8} its WAV header declares",
        )


def probe(path: str, *, max_seconds: float, size: int | None = None) -> AudioInfo:
    """Validate an upload without decoding it; raise :class:`AudioError` when it is unusable."""
    import av

    if size == 0 or os.path.getsize(path) == 0:
        raise AudioError("empty", "the file is empty")
    _check_riff(path)
    container = _open(path)
    try:
        if not container.streams.audio:
            raise AudioError("not_audio", "the file has no audio stream")
        stream = container.streams.audio[0]
        codec = stream.codec_context.name
        if codec not in ALLOWED_CODECS:
            raise AudioError("unsupported_codec", f"the audio codec {codec!r} is not supported")
        declared = container.duration / 1_000_000 if container.duration else None
        if declared is not None and declared > max_seconds * 1.05 + 1:
            raise AudioError(
                "too_long", f"the clip lasts {declared:.0f} s; the limit is {max_seconds:.0f} s"
            )
        measured, packets = 0.0, 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                packets += 1
                if packet.duration and packet.time_base:
                    measured += float(packet.duration * packet.time_base)
                if measured > max_seconds:
                    raise AudioError(
                        "too_long", f"the clip is longer than the limit of {max_seconds:.0f} s"
                    )
        except av.error.FFmpegError as exc:
            raise AudioError("corrupt", f"the audio data is damaged: {exc}") from None
        if packets == 0 or measured <= 0.0:
            raise AudioError("empty", "the clip contains no audio")
        if declared and measured < declared * 0.9 - 0.5:
            raise AudioError(
                "truncated",
                f"the file holds {measured:.1f} s of the {declared:.1f} s its header declares",
            )
        return AudioInfo(
            container.format.name,
            codec,
            int(stream.rate or 0),
            int(stream.channels or 0),
            round(measured, 3),
        )
    finally:
        container.close()


def iter_decode(
    path: str, *, max_seconds: float, chunk_seconds: float = 30.0
) -> Iterator[np.ndarray]:
    """Yield 16 kHz mono float32 chunks of about ``chunk_seconds``."""
    import av

    container = _open(path)
    try:
        if not container.streams.audio:
            raise AudioError("not_audio", "the file has no audio stream")
        stream = container.streams.audio[0]
        if stream.codec_context.name not in ALLOWED_CODECS:
            raise AudioError(
                "unsupported_codec",
                f"the audio codec {stream.codec_context.name!r} is not supported",
            )
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        limit = int(max_seconds * SAMPLE_RATE)
        target = int(chunk_seconds * SAMPLE_RATE)
        pending: list[np.ndarray] = []
        pending_len = total = 0
        try:
            frames = container.decode(stream)
            for frame in _with_flush(frames):
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    total += samples.size
                    if total > limit:
                        raise AudioError(
                            "too_long", f"the clip is longer than the limit of {max_seconds:.0f} s"
                        )
                    pending.append(samples)
                    pending_len += samples.size
                    if pending_len >= target:
                        yield np.concatenate(pending)
                        pending, pending_len = [], 0
        except av.error.FFmpegError as exc:
            raise AudioError("corrupt", f"the audio data is damaged: {exc}") from None
        if pending:
            yield np.concatenate(pending)
        if total == 0:
            raise AudioError("empty", "the clip contains no audio")
    finally:
        container.close()


def _with_flush(frames):
    yield from frames
    yield None  # flushes the resampler


def decode(path: str, *, max_seconds: float, expected_seconds: float | None = None) -> np.ndarray:
    """The whole clip as one 16 kHz mono float32 array.

    The chunks are copied into one buffer sized from ``expected_seconds`` (the probed
    duration), so a long clip is held once (3.8 MB per minute), not as chunks plus their
    concatenation; the buffer grows only when the estimate was short."""
    capacity = int(((expected_seconds or 60.0) + 1.0) * SAMPLE_RATE)
    buffer = np.empty(min(capacity, int(max_seconds * SAMPLE_RATE) + SAMPLE_RATE), np.float32)
    used = 0
    for chunk in iter_decode(path, max_seconds=max_seconds, chunk_seconds=5.0):
        if used + chunk.size > buffer.size:
            grown = np.empty(max(2 * buffer.size, used + chunk.size), np.float32)
            grown[:used] = buffer[:used]
            buffer = grown
        buffer[used : used + chunk.size] = chunk
        used += chunk.size
    return buffer[:used]
