"""Fixtures of the transcription tests.

The real Whisper model is assembled once per test session into a session temporary folder and
loaded once per process (the engine caches it); tests that use it are marked ``slow``. The
other tests use ``stub_engine``, a ``dai_transcribe`` plugin that returns given texts.
"""

from __future__ import annotations

import pytest
from call_helpers import StubEngine


@pytest.fixture
def stub_engine(register_plugin):
    engine = StubEngine()
    register_plugin(engine, name="stub-engine")
    return engine


@pytest.fixture(scope="session")
def whisper_dir(tmp_path_factory):
    """The packaged Whisper base weights, assembled once per session."""
    from disaster_ai.apps.transcription import models_assembly

    return str(models_assembly.assemble(str(tmp_path_factory.mktemp("whisper-instance"))))


@pytest.fixture(scope="session")
def whisper_model(whisper_dir):
    """The real faster-whisper model, loaded once per test session."""
    from disaster_ai.apps.transcription.engines import faster_whisper

    return faster_whisper.load_model(whisper_dir, compute_type="int8", cpu_threads=2)
