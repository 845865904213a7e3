"""Fixtures of the jma plugin's tests: the desk with the plugin loaded (installed, through its
entry point), a municipality, a rule table, the plugin's clock."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _real_clock():
    """The clock is the real one again after each test. (The plugin's tables stay on the shared
    Base.metadata once imported; the core's schema test compares the loaded plugins' tables.)"""
    from dai_jma import clock

    yield
    clock.set_clock(None)


@pytest.fixture
def jma_app(make_app):
    """``jma_app(**settings)``: an app with the plugin loaded and PLUGINS["jma"] = settings."""

    def build(**settings):
        app = make_app(LOAD_ENTRY_POINTS=True, PLUGINS={"jma": settings})
        statuses = {p.name: (p.status, p.error) for p in app.extensions["disaster_ai"].describe()}
        assert statuses["jma"][0] == "active", statuses["jma"]
        return app

    return build


@pytest.fixture
def municipality(runner):
    """``municipality("01214")``: set the profile (団体コード, JIS code or name)."""

    def set_to(query: str):
        result = runner.invoke(["municipality", "set", query])
        assert result.exit_code == 0, result.output

    return set_to


@pytest.fixture
def rules_file(tmp_path):
    """``rules_file(districts)``: the shipped rule table with these districts in every rule."""

    def write(districts: list[str]):
        from pathlib import Path

        import dai_jma

        text = (Path(dai_jma.__file__).parent / "rules.toml").read_text(encoding="utf-8")
        quoted = ", ".join(f'"{d}"' for d in districts)
        path = tmp_path / "jma_rules.toml"
        path.write_text(text.replace("districts = []", f"districts = [{quoted}]"), "utf-8")
        return str(path)

    return write
