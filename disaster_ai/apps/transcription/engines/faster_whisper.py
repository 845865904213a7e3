"""The default engine: faster-whisper (CTranslate2) with the packaged Whisper base weights.

The model is loaded once per process (a worker, the CLI, a test session) and cached by its
folder and settings. It never touches the network: the folder is the assembled instance copy
(``disaster-ai models assemble``) and ``HF_HUB_OFFLINE=1`` is set before import.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

from disaster_ai.apps.transcription.types import Transcript, TranscriptSegment, TranscriptWord

ENGINE = "faster-whisper"
_models: dict[tuple, object] = {}
_lock = threading.Lock()


BLOCK_FRAMES = 3000  # 30 s of log-mel frames per block


def _block_features(extractor, waveform: np.ndarray, padding: int = 160, chunk_length=None):
    """faster-whisper's ``FeatureExtractor.__call__``, computed 30 s at a time.

    The original takes the STFT of the whole clip at once: about 0.8 MB of transient memory per
    second of audio (500 MB for 10 minutes), for a result of 20 MB. Each STFT frame depends only
    on its 400 samples, so the frames are computed per block and joined; the clip-wide
    normalisation (the maximum minus 8) is applied at the end, as before. Same output."""
    if chunk_length is not None:
        extractor.n_samples = chunk_length * extractor.sampling_rate
        extractor.nb_max_frames = extractor.n_samples // extractor.hop_length
    waveform = np.asarray(waveform, dtype=np.float32)
    if padding:
        waveform = np.pad(waveform, (0, padding))
    n_fft, hop = extractor.n_fft, extractor.hop_length
    padded = np.pad(waveform, n_fft // 2, mode="reflect")  # what center=True does
    frames = 1 + (padded.size - n_fft) // hop
    window = np.hanning(n_fft + 1)[:-1].astype("float32")
    blocks = []
    for first in range(0, frames, BLOCK_FRAMES):
        last = min(frames, first + BLOCK_FRAMES)
        piece = padded[first * hop : (last - 1) * hop + n_fft]
        stft = extractor.stft(
            piece, n_fft, hop, window=window, center=False, return_complex=True
        ).astype("complex64")
        mel = extractor.mel_filters @ (np.abs(stft) ** 2)
        blocks.append(np.log10(np.clip(mel, a_min=1e-10, a_max=None)))
    log_spec = np.concatenate(blocks, axis=-1)[..., :-1]  # the original drops the last frame
    del blocks
    np.maximum(log_spec, log_spec.max() - 8.0, out=log_spec)
    log_spec += 4.0
    log_spec /= 4.0
    return log_spec


def _bounded_extractor(model) -> None:
    """Make the model compute its features block by block (bounded memory on long clips)."""
    from faster_whisper.feature_extractor import FeatureExtractor

    class BlockFeatureExtractor(FeatureExtractor):
        __call__ = _block_features

    model.feature_extractor.__class__ = BlockFeatureExtractor


def load_model(folder: str, *, compute_type: str = "int8", cpu_threads: int = 2):
    """The WhisperModel for this folder, loaded once per process."""
    key = (str(folder), compute_type, int(cpu_threads))
    with _lock:
        model = _models.get(key)
        if model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from faster_whisper import WhisperModel

            if not os.path.isfile(os.path.join(folder, "model.bin")):
                from disaster_ai.errors import ModelMissing

                raise ModelMissing(
                    folder,
                    "disaster-ai models assemble",
                    f"no Whisper model in {folder}: run `disaster-ai models assemble`",
                )
            model = WhisperModel(
                str(folder), device="cpu", compute_type=compute_type, cpu_threads=cpu_threads
            )
            _bounded_extractor(model)
            _models[key] = model
    return model


def transcribe(model, audio: np.ndarray, options, *, progress=None) -> Transcript:
    """Transcribe 16 kHz mono float32 ``audio`` with ``options`` (TranscribeOptions)."""
    started = time.perf_counter()
    duration = audio.shape[0] / 16000
    segments_iter, info = model.transcribe(
        audio,
        language=options.language,
        beam_size=options.beam_size,
        vad_filter=options.vad,
        condition_on_previous_text=False,
        initial_prompt=options.initial_prompt or None,
        hotwords=options.hotwords or None,
        word_timestamps=options.word_timestamps,
        max_new_tokens=options.max_new_tokens or None,
        compression_ratio_threshold=2.4,
    )
    segments: list[TranscriptSegment] = []
    deadline = started + options.max_seconds_compute if options.max_seconds_compute else None
    truncated = False
    for seg in segments_iter:
        words = tuple(
            TranscriptWord(
                round(w.start, 2), round(w.end, 2), w.word, round(float(w.probability), 3)
            )
            for w in (seg.words or ())
        )
        confidence = float(np.exp(seg.avg_logprob)) if seg.avg_logprob is not None else None
        segments.append(
            TranscriptSegment(
                round(seg.start, 2),
                round(seg.end, 2),
                seg.text.strip(),
                None if confidence is None else round(confidence, 3),
                words,
                round(float(seg.no_speech_prob), 3),
            )
        )
        if progress is not None and duration:
            progress(min(99, int(100 * seg.end / duration)))
        if deadline and time.perf_counter() > deadline:
            truncated = True  # runaway loop on noise: keep what we have
            break
    return Transcript(
        text="".join(s.text for s in segments),
        segments=tuple(segments),
        language=info.language or options.language,
        duration_s=round(duration, 3),
        engine=ENGINE,
        model=options.model_name,
        truncated=truncated,
        compute_s=round(time.perf_counter() - started, 3),
    )


def score_texts(model, audio: np.ndarray, texts: list[str], language: str = "ja") -> list[float]:
    """How well each of ``texts`` fits ``audio`` (at most 30 s, 16 kHz mono): the sum of the log
    probabilities Whisper gives its tokens, teacher-forced after the audio is encoded once
    (CTranslate2's ``align``, which faster-whisper uses for word timings). Comparable between
    texts of the same audio only."""
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer

    tokenizer = Tokenizer(
        model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
    )
    features = model.feature_extractor(np.asarray(audio, dtype=np.float32))
    frames = min(features.shape[-1], BLOCK_FRAMES)
    encoded = model.encode(pad_or_trim(features))
    scores = []
    for text in texts:
        tokens = tokenizer.encode(text)
        if not tokens:
            scores.append(float("-inf"))
            continue
        result = model.model.align(encoded, tokenizer.sot_sequence, [tokens], frames)
        probs = np.asarray(result[0].text_token_probs, dtype=np.float64)
        scores.append(float(np.log(np.maximum(probs, 1e-9)).sum()))
    return scores
