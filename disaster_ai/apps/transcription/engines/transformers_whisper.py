"""The transformers engine (``TRANSCRIPTION_ENGINE = "transformers"``), optional.

It loads any Whisper model folder on disk (``TRANSFORMERS_WHISPER_DIR``; by default the folder
that ``disaster-ai models convert-whisper`` writes from the packaged weights,
``instance/models/whisper-base-hf``). A municipality can point it at a Japanese-tuned Whisper
folder it downloaded itself (``config.json``, weights, ``generation_config.json`` and the
processor files); nothing is fetched from the Hub (``local_files_only``).

It calls ``WhisperForConditionalGeneration.generate`` directly rather than the ASR pipeline.
The pipeline runs the same ``generate`` underneath, but it exposes neither a progress
callback (needed for long clips: the job reports the fraction of audio done) nor the
per-window scores (the segment confidence); and with ``chunk_length_s`` it batches
overlapping chunks, which costs more on two cores than Whisper's own sequential long-form
decoding used here.

Per segment: start and end from the timestamp tokens; ``confidence`` = exp(beam score), the
length-normalised log-probability of the 30-second window the segment was decoded in (shared
by the segments of that window); with greedy decoding (beam 1) it is ``None``. No word
timings (transformers' cross-attention word timestamps need the eager attention path and
double the time).
"""

from __future__ import annotations

import math
import os
import threading
import time

import numpy as np

from disaster_ai.apps.transcription.types import Transcript, TranscriptSegment

ENGINE = "transformers"
SAMPLE_RATE = 16000
WINDOW_SAMPLES = 30 * SAMPLE_RATE
_models: dict[tuple, tuple] = {}
_lock = threading.Lock()


def load_model(folder: str, *, cpu_threads: int = 2):
    """(model, processor) for this folder, loaded once per process (float32 on the CPU)."""
    key = (str(folder), int(cpu_threads))
    with _lock:
        loaded = _models.get(key)
        if loaded is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            if not os.path.isfile(os.path.join(folder, "config.json")):
                from disaster_ai.errors import ModelMissing

                raise ModelMissing(
                    folder,
                    "disaster-ai models convert-whisper",
                    f"no transformers Whisper model in {folder}: run "
                    "`disaster-ai models convert-whisper` or set TRANSFORMERS_WHISPER_DIR",
                )
            import torch
            from transformers import WhisperForConditionalGeneration, WhisperProcessor
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            torch.set_num_threads(int(cpu_threads))
            processor = WhisperProcessor.from_pretrained(str(folder), local_files_only=True)
            model = WhisperForConditionalGeneration.from_pretrained(
                str(folder), local_files_only=True, dtype=torch.float32
            )
            model.eval()
            loaded = (model, processor)
            _models[key] = loaded
    return loaded


def _features(processor, audio: np.ndarray):
    if audio.shape[0] <= WINDOW_SAMPLES:  # short form: one window, padded to 30 s
        return processor.feature_extractor(
            audio, sampling_rate=SAMPLE_RATE, return_tensors="pt", return_attention_mask=True
        )
    return processor.feature_extractor(  # long form: Whisper's sequential 30-s windows
        audio,
        sampling_rate=SAMPLE_RATE,
        return_tensors="pt",
        truncation=False,
        padding="longest",
        return_attention_mask=True,
    )


def transcribe(loaded, audio: np.ndarray, options, *, progress=None) -> Transcript:
    """Transcribe 16 kHz mono float32 ``audio`` with ``options`` (TranscribeOptions)."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    model, processor = loaded
    started = time.perf_counter()
    duration = audio.shape[0] / SAMPLE_RATE
    deadline = started + options.max_seconds_compute if options.max_seconds_compute else None
    state = {"cut": None}  # the audio position (s) where the time cap stopped decoding
    frames_per_second = SAMPLE_RATE / processor.feature_extractor.hop_length

    def monitor(p_batch) -> None:  # (seek, max_frames) per batch item, in feature frames
        seek, total = (float(v) for v in p_batch[0])
        if deadline and state["cut"] is None and time.perf_counter() > deadline:
            state["cut"] = seek / frames_per_second
        if progress is not None and total:
            progress(min(99, int(100 * seek / total)))

    class TimeCap(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            stop = state["cut"] is not None or bool(deadline and time.perf_counter() > deadline)
            return torch.full((input_ids.shape[0],), stop, dtype=torch.bool)

    inputs = _features(processor, audio)
    kwargs = {}
    if options.initial_prompt:
        kwargs["prompt_ids"] = processor.get_prompt_ids(options.initial_prompt, return_tensors="pt")
    if options.max_new_tokens:
        kwargs["max_new_tokens"] = int(options.max_new_tokens)
    with torch.inference_mode():
        output = model.generate(
            inputs.input_features,
            attention_mask=inputs.attention_mask,
            language=options.language,
            task="transcribe",
            num_beams=max(1, int(options.beam_size)),
            return_timestamps=True,
            return_segments=True,
            return_dict_in_generate=True,
            output_scores=options.beam_size > 1,
            condition_on_prev_tokens=False,
            compression_ratio_threshold=2.4 if duration > 30 else None,
            stopping_criteria=StoppingCriteriaList([TimeCap()]),
            monitor_progress=monitor,
            **kwargs,
        )
    segments = []
    cut = state["cut"]
    for seg in output["segments"][0]:
        start, end = float(seg["start"]), float(seg["end"])
        if cut is not None and start >= cut:
            break
        text = processor.tokenizer.decode(seg["tokens"], skip_special_tokens=True).strip()
        if not text:
            continue
        score = seg.get("result", {}).get("sequences_scores")
        confidence = None
        if score is not None:
            confidence = round(min(1.0, math.exp(float(score))), 3)
        segments.append(
            TranscriptSegment(round(start, 2), round(min(end, duration), 2), text, confidence)
        )
    if progress is not None:
        progress(99)
    return Transcript(
        text="".join(s.text for s in segments),
        segments=tuple(segments),
        language=options.language,
        duration_s=round(duration, 3),
        engine=ENGINE,
        model=options.model_name,
        truncated=cut is not None,
        compute_s=round(time.perf_counter() - started, 3),
    )
