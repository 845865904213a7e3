"""Fast checks of the engines' parts that need no model: the block-wise log-mel features of
the faster-whisper engine, the transformers renaming, and the job's progress reporting."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("seconds", [0.5, 8.0, 30.0, 61.3])
def test_block_features_equal_faster_whispers_own(seconds):
    from faster_whisper.feature_extractor import FeatureExtractor

    from disaster_ai.apps.transcription.engines.faster_whisper import _block_features

    extractor = FeatureExtractor(feature_size=80)
    rng = np.random.default_rng(5)
    samples = (rng.standard_normal(int(seconds * 16000)) * 0.1).astype(np.float32)
    expected = extractor(samples, chunk_length=30)
    got = _block_features(extractor, samples, chunk_length=30)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_the_transformers_names_are_whispers():
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import torch

    from disaster_ai.apps.transcription.convert import to_transformers

    config = transformers.WhisperConfig(
        vocab_size=51865,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
    )
    with torch.device("meta"):
        model = transformers.WhisperForConditionalGeneration(config)
    openai_names = [
        "encoder.conv1.weight",
        "encoder.positional_embedding",
        "encoder.blocks.1.attn.key.weight",
        "encoder.blocks.1.attn_ln.bias",
        "encoder.blocks.1.mlp.2.weight",
        "encoder.ln_post.weight",
        "decoder.token_embedding.weight",
        "decoder.positional_embedding",
        "decoder.blocks.0.cross_attn.out.bias",
        "decoder.blocks.0.cross_attn_ln.weight",
        "decoder.blocks.0.mlp_ln.bias",
        "decoder.ln.bias",
    ]
    renamed = to_transformers(dict.fromkeys(openai_names))
    assert set(renamed) <= set(model.state_dict())


def test_job_progress_never_goes_back_and_reaches_listeners(app):
    from disaster_ai.apps.transcription.service import PROGRESS_LISTENERS, JobProgress

    written, heard = [], []

    class Ctx:
        payload = {"call_id": 7}

        def progress(self, percent, message):
            written.append((percent, message))

    app.extensions[PROGRESS_LISTENERS] = [lambda *args: heard.append(args)]
    report = JobProgress(app, Ctx())
    for percent in (5, 10, 40, 40, 30, 90):
        report(percent, "transcribing")
    report(100, "done")
    assert written == [
        (5, "transcribing"),
        (10, "transcribing"),
        (40, "transcribing"),
        (90, "transcribing"),
        (100, "done"),
    ]
    assert heard[-1] == (7, 100, "done") and len(heard) == len(written)
