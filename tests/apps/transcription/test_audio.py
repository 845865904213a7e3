"""Decoding every accepted format, and clear errors for every kind of bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest
from call_helpers import AUDIO, transcode

from disaster_ai.apps.transcription import audio
from disaster_ai.apps.transcription.audio import AudioError


@pytest.mark.parametrize("name", ["d01.wav", "d01_tel8k.wav", "d01.mp3"])
def test_the_three_sample_encodings_decode_to_16k_mono_float(name):
    info = audio.probe(str(AUDIO / name), max_seconds=60)
    samples = audio.decode(str(AUDIO / name), max_seconds=60)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(samples.shape[0] / 16000 - 8.05) < 0.05
    assert abs(info.duration_s - 8.05) < 0.15
    assert 0.01 < float(np.abs(samples).max()) <= 1.0


@pytest.mark.parametrize(
    ("codec", "rate", "layout", "container", "suffix"),
    [
        ("pcm_alaw", 8000, "mono", "wav", "wav"),
        ("pcm_mulaw", 8000, "stereo", "wav", "wav"),
        ("pcm_s16le", 16000, "stereo", "wav", "wav"),
        ("aac", 16000, "mono", "mp4", "m4a"),
        ("libopus", 48000, "mono", "ogg", "ogg"),
    ],
)
def test_other_accepted_formats(tmp_path, codec, rate, layout, container, suffix):
    path = transcode(AUDIO / "d01.wav", tmp_path / f"clip.{suffix}", codec, rate, layout, container)
    info = audio.probe(str(path), max_seconds=60)
    assert info.channels == (2 if layout == "stereo" else 1)
    samples = audio.decode(str(path), max_seconds=60)
    assert abs(samples.shape[0] / 16000 - 8.05) < 0.1


def _bad(tmp_path, data: bytes, name="bad.wav"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_bad_inputs_have_clear_codes(tmp_path):
    wav = (AUDIO / "d01.wav").read_bytes()
    mp3 = (AUDIO / "d01.mp3").read_bytes()
    cases = {
        "empty": b"",
        "not_audio": b"%PDF-1.7 this is a document, not a recording\n" * 40,
        "truncated": wav[: len(wav) // 2],
    }
    for code, data in cases.items():
        with pytest.raises(AudioError) as info:
            audio.probe(str(_bad(tmp_path, data)), max_seconds=60, size=len(data))
        assert info.value.code == code, (code, info.value)
    with pytest.raises(AudioError) as info:
        audio.probe(str(_bad(tmp_path, mp3[:2000] + os.urandom(20000), "x.mp3")), max_seconds=60)
    assert info.value.code in {"corrupt", "truncated"}
    with pytest.raises(AudioError) as info:
        audio.probe(str(_bad(tmp_path, wav[:44])), max_seconds=60)
    assert info.value.code in {"empty", "truncated"}
    # a well-formed WAV with zero samples: a zero-length clip
    import wave

    with wave.open(str(tmp_path / "zero.wav"), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(b"")
    with pytest.raises(AudioError) as info:
        audio.probe(str(tmp_path / "zero.wav"), max_seconds=60)
    assert info.value.code == "empty"


def test_unsupported_codec_and_duration_limit(tmp_path):
    adpcm = transcode(AUDIO / "d01.wav", tmp_path / "adpcm.wav", "adpcm_ms", 16000, "mono", "wav")
    with pytest.raises(AudioError) as info:
        audio.probe(str(adpcm), max_seconds=60)
    assert info.value.code == "unsupported_codec"
    with pytest.raises(AudioError) as info:
        audio.probe(str(AUDIO / "d01.mp3"), max_seconds=5)
    assert info.value.code == "too_long"
    with pytest.raises(AudioError) as info:
        audio.decode(str(AUDIO / "d01.wav"), max_seconds=5)
    assert info.value.code == "too_long"


def test_long_clips_decode_in_bounded_chunks(tmp_path):
    chunks = list(audio.iter_decode(str(AUDIO / "d01.wav"), max_seconds=60, chunk_seconds=2))
    assert len(chunks) >= 4
    assert max(c.shape[0] for c in chunks) < 16000 * 3
