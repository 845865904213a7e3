"""This app's AI components and risk sheets for the governance inventory (dai_ai_components,
dai_ai_risk_sheets): the speech-to-text engines with their real weight files, and the triage
lexicon. Nothing here loads a model or reads a weight file."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from disaster_ai.apps.transcription import models_assembly
from disaster_ai.types import AIComponent

DATA = Path(__file__).resolve().parent / "data"
FEATURE = "calls.transcription"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ""


def packaged_whisper_files() -> tuple[str, ...]:
    """The packaged Whisper base parts as installed (their concatenation is model.bin)."""
    files = []
    for package, name in models_assembly.WHISPER_BASE.parts:
        try:
            path = Path(str(models_assembly._packaged_file(package, name)))
        except models_assembly.ModelError:
            return ()
        files.append(str(path))
    return tuple(files)


def _retention(app) -> str:
    days = app.config["CALL_RETENTION_DAYS"]
    return (
        f"audio, transcript and facts: {days} days, then purged (CALL_RETENTION_DAYS); "
        "the audit log keeps only sha256 digests"
    )


def components(app) -> list[AIComponent]:
    from disaster_ai.apps.transcription import service

    engine = app.config["TRANSCRIPTION_ENGINE"]
    retention = _retention(app)
    common = {
        "apps": ("calls",),
        "features": (FEATURE,),
        "data_classes": ("public", "personal"),
        "retention": retention,
    }
    assembled = Path(service.model_dir(app)) / "model.bin"
    weights = (str(assembled),) if assembled.is_file() else packaged_whisper_files()
    found = [
        AIComponent(
            id="calls.faster-whisper",
            engine="faster-whisper (CTranslate2)",
            model=f"{models_assembly.WHISPER_BASE.name} ({app.config['WHISPER_COMPUTE_TYPE']})",
            version=_version("faster-whisper"),
            weights=weights,
            weights_sha256=models_assembly.WHISPER_BASE.sha256,
            licence="MIT (OpenAI Whisper weights; faster-whisper)",
            in_use=engine == "faster-whisper",
            note="" if assembled.is_file() else "packaged parts (not assembled yet)",
            **(
                common
                | {
                    "features": (FEATURE, "calls.triage")
                    if app.config["PLACE_ACOUSTIC_CHECK"]
                    else (FEATURE,)
                }
            ),
        )
    ]
    checkpoint = Path(service.openai_checkpoint(app))
    if engine == "openai-whisper" or checkpoint.is_file():
        found.append(
            AIComponent(
                id="calls.openai-whisper",
                engine="openai-whisper",
                model=checkpoint.name,
                version=_version("openai-whisper"),
                weights=(str(checkpoint),),
                licence="MIT (OpenAI Whisper)",
                in_use=engine == "openai-whisper",
                **common,
            )
        )
    folder = Path(service.transformers_dir(app))
    if engine == "transformers" or folder.is_dir():
        files = (
            tuple(sorted(str(p) for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES))
            if folder.is_dir()
            else ()
        )
        found.append(
            AIComponent(
                id="calls.transformers-whisper",
                engine="transformers (Whisper)",
                model=folder.name,
                version=_version("transformers"),
                weights=files,
                licence="MIT (OpenAI Whisper); see the model folder",
                in_use=engine == "transformers",
                **common,
            )
        )
    found.append(
        AIComponent(
            id="calls.triage",
            engine="rule-based lexicon (disaster-ai)",
            model="triage_lexicon.toml",
            version=_version("disaster-ai"),
            weights=(str(DATA / "triage_lexicon.toml"),),
            licence="disaster-ai's licence",
            apps=("calls", "situation", "reports"),
            features=("calls.triage",),
            data_classes=("public", "personal"),
            retention=retention,
        )
    )
    return found


def risk_sheets() -> list[str]:
    return [str(path) for path in sorted((DATA / "risk_sheets").glob("*.toml"))]
