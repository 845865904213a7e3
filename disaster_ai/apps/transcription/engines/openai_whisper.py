"""The openai-whisper engine (``TRANSCRIPTION_ENGINE = "openai-whisper"``), optional.

It loads a checkpoint file from config (``OPENAI_WHISPER_CHECKPOINT``; by default the one that
``disaster-ai models convert-whisper`` writes from the packaged weights, so both engines run the
same weights). Install it without triton or CUDA (docs/transcription.md):
``pip install torch==2.13.0`` then ``pip install --no-deps openai-whisper==20250625`` and
``pip install more-itertools numba tiktoken``. Audio is passed as a numpy array, so openai-whisper
never runs the ffmpeg binary.
"""

from __future__ import annotations

import math
import os
import threading
import time

import numpy as np

from disaster_ai.apps.transcription.types import Transcript, TranscriptSegment

ENGINE = "openai-whisper"
_models: dict[tuple, object] = {}
_lock = threading.Lock()


def load_model(checkpoint: str, *, cpu_threads: int = 2):
    key = (str(checkpoint), int(cpu_threads))
    with _lock:
        model = _models.get(key)
        if model is None:
            if not os.path.isfile(checkpoint):
                from disaster_ai.errors import ModelMissing

                raise ModelMissing(
                    checkpoint,
                    "disaster-ai models convert-whisper",
                    f"no openai-whisper checkpoint at {checkpoint}: run "
                    "`disaster-ai models convert-whisper`",
                )
            import torch
            import whisper

            torch.set_num_threads(int(cpu_threads))
            model = whisper.load_model(str(checkpoint), device="cpu")
            _models[key] = model
    return model


def transcribe(model, audio: np.ndarray, options, *, progress=None) -> Transcript:
    started = time.perf_counter()
    result = model.transcribe(
        audio,
        language=options.language,
        beam_size=options.beam_size if options.beam_size > 1 else None,
        fp16=False,
        condition_on_previous_text=False,
        initial_prompt=options.initial_prompt or None,
        verbose=None,
    )
    duration = audio.shape[0] / 16000
    segments = tuple(
        TranscriptSegment(
            round(float(s["start"]), 2),
            round(float(s["end"]), 2),
            s["text"].strip(),
            round(math.exp(float(s["avg_logprob"])), 3),
            (),
            round(float(s["no_speech_prob"]), 3),
        )
        for s in result["segments"]
    )
    if progress is not None:
        progress(99)
    return Transcript(
        text="".join(s.text for s in segments),
        segments=segments,
        language=result.get("language") or options.language,
        duration_s=round(duration, 3),
        engine=ENGINE,
        model=options.model_name,
        compute_s=round(time.perf_counter() - started, 3),
    )
