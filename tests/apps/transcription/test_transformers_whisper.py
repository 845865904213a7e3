"""The optional transformers engine on the same packaged weights, converted offline into a
transformers folder by ``disaster-ai models convert-whisper`` (``convert_transformers``).
Skipped when the [transformers] extra (torch, transformers) is not installed.

The folder is converted once per session into a session temporary folder and the model is
loaded once per process (the engine caches it by folder). Clip d03 (高崎, landslide) is asserted:
its town is recognised with a stable reading by all three engines (docs/benchmarks.md); one clip
keeps this engine's test short (it runs at about half of faster-whisper's speed)."""

from __future__ import annotations

import json
import os

import pytest
from call_helpers import AUDIO, CALLS

pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def transformers_dir(whisper_dir, tmp_path_factory):
    from disaster_ai.apps.transcription.convert import convert_transformers

    return str(convert_transformers(whisper_dir, tmp_path_factory.mktemp("hf") / "whisper-base-hf"))


def test_the_transformers_folder(whisper_dir, transformers_dir):
    from transformers import GenerationConfig, WhisperConfig

    from disaster_ai.apps.transcription.convert import convert_transformers

    config = WhisperConfig.from_pretrained(transformers_dir, local_files_only=True)
    assert (config.d_model, config.encoder_layers, config.decoder_layers) == (512, 6, 6)
    assert (config.vocab_size, config.num_mel_bins) == (51865, 80)
    generation = GenerationConfig.from_pretrained(transformers_dir, local_files_only=True)
    assert generation.lang_to_id["<|ja|>"] == 50266
    assert generation.no_timestamps_token_id == 50363
    assert generation.task_to_id == {"transcribe": 50359, "translate": 50358}
    assert len(generation.alignment_heads) == 8 and len(generation.suppress_tokens) == 88
    names = set(os.listdir(transformers_dir))
    assert {"model.safetensors", "tokenizer.json", "processor_config.json"} <= names
    # idempotent: an existing folder is kept as it is
    weights = os.path.join(transformers_dir, "model.safetensors")
    before = os.stat(weights).st_mtime_ns
    convert_transformers(whisper_dir, transformers_dir)
    assert os.stat(weights).st_mtime_ns == before


def test_transformers_engine_segments_and_progress(transformers_dir):
    from disaster_ai.apps.transcription import audio
    from disaster_ai.apps.transcription.engines import transformers_whisper
    from disaster_ai.apps.transcription.types import TranscribeOptions

    loaded = transformers_whisper.load_model(transformers_dir, cpu_threads=2)
    assert transformers_whisper.load_model(transformers_dir, cpu_threads=2) is loaded
    samples = audio.decode(str(AUDIO / "d03.wav"), max_seconds=60)
    updates: list[int] = []
    transcript = transformers_whisper.transcribe(
        loaded, samples, TranscribeOptions(beam_size=5), progress=updates.append
    )
    assert transcript.engine == "transformers" and not transcript.truncated
    assert "高崎" in transcript.text and "土砂" in transcript.text
    segment = transcript.segments[0]
    assert 0 <= segment.start < segment.end <= transcript.duration_s
    assert all(0 < s.confidence <= 1 for s in transcript.segments)
    assert updates and updates[-1] == 99 and updates == sorted(updates)


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_transformers_engine_end_to_end(make_app, whisper_dir, transformers_dir):
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from disaster_ai.cli import build_cli

    app = make_app(
        TRANSCRIPTION_ENGINE="transformers",
        TRANSFORMERS_WHISPER_DIR=transformers_dir,
        WHISPER_MODEL_DIR=whisper_dir,
    )
    script = ScriptInfo(create_app=lambda: app, load_dotenv_defaults=False)
    result = CliRunner().invoke(
        build_cli(app), ["init", "--sample", "yaizu", "--no-demo-users"], obj=script
    )
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        build_cli(app), ["transcribe", str(AUDIO / "d03_tel8k.wav"), "--json"], obj=script
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["engine"] == "transformers"
    assert row["facts"]["place"]["name"] == CALLS["d03"]["town"]
    assert row["facts"]["category"] == CALLS["d03"]["category"]
    assert row["incident_id"]
    assert "100 % done" in result.stderr  # progress goes to stderr, never into the JSON


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_convert_whisper_command_writes_both(make_app):
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from disaster_ai.cli import build_cli

    app = make_app()
    script = ScriptInfo(create_app=lambda: app, load_dotenv_defaults=False)
    result = CliRunner().invoke(build_cli(app), ["models", "convert-whisper"], obj=script)
    assert result.exit_code == 0, result.output
    models = os.path.join(app.instance_path, "models")
    assert os.path.isfile(os.path.join(models, "whisper-base-openai.pt"))
    assert os.path.isfile(os.path.join(models, "whisper-base-hf", "model.safetensors"))
    assert not [n for n in os.listdir(models) if n.startswith(".")]  # no temporary left
    again = CliRunner().invoke(build_cli(app), ["models", "convert-whisper"], obj=script)
    assert again.exit_code == 0 and again.stdout.count("(exists; --force to redo)") == 2
