"""The model inventory (#20): the real transcription engine with the sha256 of the real packaged
weight files, hashed once and then read from the cache; a plugin's model; the CLI and the page.
Pinned to SQLite: nothing here depends on the database backend."""

from __future__ import annotations

import json

import pytest

from disaster_ai import hookimpl
from disaster_ai.types import AIComponent

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


class RiverModel:
    """A plugin that runs its own model (one small weight file)."""

    def __init__(self, weights):
        self.weights = weights

    @hookimpl
    def dai_ai_components(self, app):
        return [
            AIComponent(
                id="river.forecast",
                engine="onnxruntime",
                model="river-level-lstm",
                version="2.1",
                weights=(str(self.weights),),
                licence="Apache-2.0",
                apps=("river_feed",),
                features=("river.forecast",),
                data_classes=("public",),
                retention="inputs are not kept",
            )
        ]


def test_the_inventory_lists_the_real_engines_with_their_hashes(app, monkeypatch):
    from disaster_ai.apps.governance import inventory
    from disaster_ai.apps.transcription import models_assembly
    from disaster_ai.apps.transcription.ai_inventory import packaged_whisper_files

    parts = packaged_whisper_files()
    assert len(parts) == 2, "the packaged Whisper parts are installed"
    with app.app_context():
        before = {row["id"]: row for row in inventory.inventory(app)}
        whisper = before["calls.faster-whisper"]
        assert whisper["in_use"] and whisper["weights"] == list(parts)
        assert whisper["digest"] is None  # not hashed on a plain read
        rows = {row["id"]: row for row in inventory.inventory(app, compute=True)}
    whisper = rows["calls.faster-whisper"]
    # the concatenated parts are model.bin: its published digest, computed from the real files
    assert whisper["digest"]["sha256"] == models_assembly.WHISPER_BASE.sha256
    assert whisper["verified"] is True
    assert whisper["digest"]["bytes"] == models_assembly.WHISPER_BASE.size
    assert [f["path"] for f in whisper["digest"]["files"]] == list(parts)
    assert whisper["data_classes"] == ["public", "personal"]
    assert "30" in whisper["retention"]  # CALL_RETENTION_DAYS
    assert whisper["runs_on"] == "local" and whisper["apps"] == ["calls"]
    assert len(rows["calls.triage"]["digest"]["sha256"]) == 64
    polish = rows["notices.polish"]
    assert not polish["in_use"] and polish["features"] == ["notices.polish"]

    # the digest is cached: reading again never opens the weight files
    def no_hashing(paths):
        raise AssertionError("hashed again")

    monkeypatch.setattr(inventory, "hash_files", no_hashing)
    with app.app_context():
        again = {row["id"]: row for row in inventory.inventory(app, compute=True)}
    assert again["calls.faster-whisper"]["digest"]["sha256"] == models_assembly.WHISPER_BASE.sha256


def test_a_changed_weight_file_is_hashed_again_and_a_plugin_model_appears(
    app, client, login, runner, register_plugin, tmp_path
):
    import hashlib

    weights = tmp_path / "river.onnx"
    weights.write_bytes(b"weights v1")
    register_plugin(RiverModel(weights), name="river_feed")
    result = runner.invoke(["ai", "inventory", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.output)["components"]}
    river = rows["river.forecast"]
    assert river["plugin"] == "river_feed" and river["licence"] == "Apache-2.0"
    assert river["digest"]["sha256"] == hashlib.sha256(b"weights v1").hexdigest()
    assert rows["calls.faster-whisper"]["verified"] is True

    weights.write_bytes(b"weights v2 (retrained)")
    result = runner.invoke(["ai", "inventory", "--json"])
    river = {r["id"]: r for r in json.loads(result.output)["components"]}["river.forecast"]
    assert river["digest"]["sha256"] == hashlib.sha256(b"weights v2 (retrained)").hexdigest()

    login("admin")
    page = client.get("/apps/governance").get_data(as_text=True)
    assert 'data-component="river.forecast"' in page and "river-level-lstm" in page
    assert models_sha() in page  # the cached digest of the packaged model
    assert "個人情報（通報）" in page  # the data class, in Japanese
    login("operator")
    assert client.get("/apps/governance").status_code == 403


def models_sha() -> str:
    from disaster_ai.apps.transcription import models_assembly

    return models_assembly.WHISPER_BASE.sha256


def test_hook_dai_ai_components(app, register_plugin, tmp_path):
    from disaster_ai.apps.governance import inventory

    weights = tmp_path / "w.bin"
    weights.write_bytes(b"x")

    class Broken:
        @hookimpl
        def dai_ai_components(self, app):
            return [{"id": "broken", "engine": "x", "model": "y", "data_classes": ["secret"]}]

    register_plugin(RiverModel(weights), name="river_feed")
    register_plugin(Broken(), name="broken")
    with app.app_context():
        ids = [component.id for _plugin, component in inventory.components(app)]
    assert "river.forecast" in ids and "calls.faster-whisper" in ids
    assert "broken" not in ids  # an unknown data class: left out (and logged)
