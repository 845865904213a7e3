"""One registry per vocabulary: the 警戒レベル (disaster_ai/levels.py) and the hazards
(disaster_ai/hazards.py, ``dai_hazards``). No other module keeps its own table of their words or
colours, and a hazard a plugin adds is named everywhere: the notice form, the map and its
legend, the bulletin."""

from __future__ import annotations

from pathlib import Path

import pytest

from disaster_ai import hazards, hookimpl, levels
from disaster_ai.types import Hazard

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
PACKAGE = Path(__file__).resolve().parents[1] / "disaster_ai"
REGISTRIES = {PACKAGE / "levels.py", PACKAGE / "hazards.py"}
# Input formats, not labels: the column names and hazard names of the national shelter and
# hazard-zone schemas that the importer reads (they name hazards, they do not label them).
INPUT_FORMATS = {
    PACKAGE / "apps/situation/importing/common.py",
    PACKAGE / "apps/situation/incidents.py",
}


def vocabulary_tables() -> dict[str, tuple[list[str], int]]:
    """name → (words that make a table, how many of them in one file make one)."""
    return {
        "level names": (list(levels.names("ja").values()), 2),
        "English level names": (list(levels.names("en").values()), 2),
        "level colours": ([lv.fill.lower() for lv in levels.LEVELS.values()], 2),
        "hazard words": ([f'"{h.ja}"' for h in hazards.BUILTIN], 3),
        "English hazard labels": ([f'"{h.en}"' for h in hazards.BUILTIN], 3),
    }


def test_no_label_table_outside_the_registries():
    """A second table of level names, level colours or hazard words fails here: read the
    registry instead (docs/internals.md "Vocabularies")."""
    found = []
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix not in {".py", ".html", ".js", ".css", ".txt"} or "vendor" in path.parts:
            continue
        if path in REGISTRIES:
            continue
        text = path.read_text(encoding="utf-8")
        for name, (words, enough) in vocabulary_tables().items():
            if name.startswith("hazard") and path in INPUT_FORMATS:
                continue
            haystack = text.lower() if name == "level colours" else text
            present = [w for w in words if w in haystack]
            if len(present) >= enough:
                found.append(f"{path.relative_to(PACKAGE)}: {name} {present}")
    assert not found, "label tables outside disaster_ai/levels.py and hazards.py:\n" + "\n".join(
        found
    )


def test_the_level_registry_has_readable_colours_and_every_name():
    from disaster_ai.web.levels import contrast_ratio

    assert sorted(levels.LEVELS) == [3, 4, 5]
    for lv in levels.LEVELS.values():
        assert contrast_ratio(lv.fill, lv.text) >= 4.5, lv
        assert lv.ja in lv.easy_ja and lv.short == f"Lv{lv.level}"
        assert not any(term in lv.ja for term in levels.LEGACY_NAMES)
    assert levels.level(True) is None and levels.level("4").ja == "避難指示"
    assert ".level-badge.lv-3 { background: #ff2800; color: #000000; }" in levels.badge_css()


@sqlite_only
def test_level_badges_are_coloured_from_the_registry(client, login):
    login("operator")
    page = client.get("/").get_data(as_text=True)
    assert levels.badge_css() in page  # the stylesheet no longer repeats the colours
    css = (PACKAGE / "web/static/desk.css").read_text(encoding="utf-8")
    assert "#aa00aa" not in css.lower()


@sqlite_only
def test_hook_dai_hazards(app, register_plugin):
    class Hazards:
        @hookimpl
        def dai_hazards(self):
            return [
                Hazard("snow", "雪崩", "Avalanche", "#0369a1", 90),
                Hazard("flood", "洪水", "River flood", "#1e40af", 10),  # replaces a built-in
                Hazard("legacy", "避難勧告の災害", "Legacy", "#000000"),  # a retired name
                Hazard("lv", "避難指示", "Order", "#000000"),  # a level's name
                Hazard("quake2", "地震", "Quake", "#000000"),  # another hazard's word
                Hazard("bad", "悪い", "Bad", "red"),  # not #rrggbb
            ]

    class Broken:
        @hookimpl
        def dai_hazards(self):
            raise RuntimeError("vocabulary feed down")

    with app.app_context():
        assert hazards.codes() == hazards.BUILTIN_CODES
        register_plugin(Hazards(), name="snow_hazards")
        register_plugin(Broken(), name="broken_hazards")
        registry = hazards.registry()
        assert registry["snow"].ja == "雪崩" and registry["flood"].en == "River flood"
        assert set(hazards.BUILTIN_CODES) < set(registry)
        assert not {"legacy", "lv", "quake2", "bad"} & set(registry)
        refused = {(p["plugin"], p["hazard"]) for p in hazards.problems()}
        assert {("snow_hazards", c) for c in ("legacy", "lv", "quake2", "bad")} <= refused
        assert ("broken_hazards", "") in refused
        assert hazards.label("snow", "ja") == "雪崩" and hazards.label("snow", "en") == "Avalanche"
        assert hazards.label("unknown") == "unknown"
