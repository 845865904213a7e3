"""The optional openai-whisper engine on the same packaged weights, converted offline by
``disaster-ai models convert-whisper``. Skipped when the [openai-whisper] extra (torch,
openai-whisper) is not installed.

Clip d03 (高崎, landslide) is asserted: its town is recognised with a stable reading by both
engines (docs/benchmarks.md); one clip keeps this engine's test short (it runs at about a third
of faster-whisper's speed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from call_helpers import AUDIO, CALLS

pytest.importorskip("torch")
pytest.importorskip("whisper")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def openai_checkpoint(whisper_dir, tmp_path_factory):
    from disaster_ai.apps.transcription.convert import convert_openai_whisper

    return str(convert_openai_whisper(whisper_dir, tmp_path_factory.mktemp("ow") / "base.pt"))


def test_the_conversion_keeps_every_weight(whisper_dir):
    from disaster_ai.apps.transcription.convert import read_ct2, to_openai_whisper

    tensors, header = read_ct2(f"{whisper_dir}/model.bin")
    assert header == {"version": 6, "spec": "WhisperSpec", "revision": 3}
    dims, state = to_openai_whisper(tensors)
    assert dims["n_audio_layer"] == dims["n_text_layer"] == 6 and dims["n_vocab"] == 51865
    q = state["encoder.blocks.0.attn.query.weight"]
    assert q.shape == (512, 512) and q.dtype == np.float32
    import whisper.model

    model = whisper.model.Whisper(whisper.model.ModelDimensions(**dims))
    expected = {k for k in model.state_dict() if k != "alignment_heads"}
    assert set(state) == expected


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_openai_whisper_engine_end_to_end(make_app, whisper_dir, openai_checkpoint):
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from disaster_ai.cli import build_cli

    app = make_app(
        TRANSCRIPTION_ENGINE="openai-whisper",
        OPENAI_WHISPER_CHECKPOINT=openai_checkpoint,
        WHISPER_MODEL_DIR=whisper_dir,
    )
    result = CliRunner().invoke(
        build_cli(app),
        ["init", "--sample", "yaizu", "--no-demo-users"],
        obj=ScriptInfo(create_app=lambda: app, load_dotenv_defaults=False),
    )
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        build_cli(app),
        ["transcribe", str(AUDIO / "d03.wav"), "--json"],
        obj=ScriptInfo(create_app=lambda: app, load_dotenv_defaults=False),
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["engine"] == "openai-whisper"
    assert row["facts"]["place"]["name"] == CALLS["d03"]["town"]
    assert row["facts"]["category"] == CALLS["d03"]["category"]
    assert row["incident_id"]
