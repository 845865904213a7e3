"""Core and apps stay apart: each app declares its own hooks (dai_add_hookspecs), the core never
imports an app (import-linter, see pyproject.toml), and a blocked app takes its hooks with it."""

from __future__ import annotations

import logging
import textwrap

import pytest

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)

APP_HOOKS = {
    "disaster_ai.apps.notices": {
        "dai_notice_templates",
        "dai_notice_hazards",
        "dai_review_notice",
        "dai_llm_client",
    },
    "disaster_ai.apps.transcription": {"dai_transcribe", "dai_place_names"},
    "disaster_ai.apps.bulletins": {"dai_bulletin_sections", "dai_deliver_bulletin"},
    "disaster_ai.apps.reports": {"dai_report_items"},
}


def declared(pm) -> set[str]:
    return {name for name, caller in vars(pm.hook).items() if getattr(caller, "spec", None)}


@sqlite_only
def test_each_app_declares_its_own_hooks(make_app):
    from disaster_ai import hookspecs

    core = {name for name in vars(hookspecs) if name.startswith("dai_")}
    for app_name, hooks in APP_HOOKS.items():
        assert not hooks & core, f"{sorted(hooks & core)} still declared by the core"
        pm = make_app(DISABLED_PLUGINS=[app_name]).extensions["disaster_ai"]
        assert not hooks & declared(pm), f"{app_name} is blocked but its hooks exist"
        assert core <= declared(pm)
    pm = make_app().extensions["disaster_ai"]
    assert set().union(*APP_HOOKS.values()) <= declared(pm)


def write_plugin(folder, name: str, source: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")


@sqlite_only
def test_hook_dai_add_hookspecs(make_app, tmp_path):
    folder = tmp_path / "plugins"
    write_plugin(
        folder,
        "a_tide",
        '''
        import types

        from disaster_ai import hookimpl, hookspec


        def dai_tide_levels():
            """Return tide levels in cm."""


        specs = types.SimpleNamespace(dai_tide_levels=hookspec(dai_tide_levels))


        @hookimpl
        def dai_add_hookspecs(pm):
            pm.add_hookspecs(specs)
        ''',
    )
    write_plugin(
        folder,
        "b_gauge",
        """
        from disaster_ai import hookimpl


        @hookimpl
        def dai_tide_levels():
            return [132]
        """,
    )
    app = make_app(PLUGINS_DIR=str(folder))
    pm = app.extensions["disaster_ai"]
    assert pm.hook.dai_tide_levels.has_spec() and pm.hook.dai_tide_levels() == [[132]]
    statuses = {p.name: p.status for p in pm.describe()}
    assert statuses["a_tide"] == statuses["b_gauge"] == "active"


@sqlite_only
def test_a_plugin_for_a_blocked_apps_hook_only_warns(make_app, tmp_path, caplog):
    folder = tmp_path / "plugins"
    write_plugin(
        folder,
        "wording",
        """
        from disaster_ai import hookimpl


        @hookimpl
        def dai_notice_templates(locale):
            return {"radio.txt": "..."}
        """,
    )
    with caplog.at_level(logging.WARNING):
        app = make_app(PLUGINS_DIR=str(folder), DISABLED_PLUGINS=["disaster_ai.apps.notices"])
    assert app.test_client().get("/healthz").status_code in (200, 503)
    assert any("wording implements dai_notice_templates" in message for message in caplog.messages)


@sqlite_only
def test_a_misspelled_hook_still_stops_the_desk(make_app, tmp_path):
    import pluggy

    folder = tmp_path / "plugins"
    write_plugin(
        folder,
        "typo",
        """
        from disaster_ai import hookimpl


        @hookimpl
        def dai_notice_template(locale):
            return {}
        """,
    )
    with pytest.raises(pluggy.PluginValidationError, match="dai_notice_template"):
        make_app(PLUGINS_DIR=str(folder))


# --- the dashboard's panels come from the apps --------------------------------------------


def test_hook_dai_dashboard_panels(app, client, login, register_plugin):
    from disaster_ai import hookimpl
    from disaster_ai.types import DashboardPanel

    class River:
        @hookimpl
        def dai_dashboard_panels(self, actor, since_id):
            return [
                DashboardPanel(
                    "river",
                    {"items": [{"label": "大井川 3.2m", "url": "/apps/river", "note": "10:00"}]},
                    title="河川水位",
                ),
                # a plugin may replace a known panel: the one called first wins
                DashboardPanel("bulletin", {"available": True, "item": None}),
            ]

    register_plugin(River(), name="river")
    login("operator")
    feed = client.get("/dashboard/feed.json").get_json()
    [river] = [panel for panel in feed["panels"] if panel["key"] == "river"]
    assert river["title"] == "河川水位" and river["order"] == 100
    orders = [panel["order"] for panel in feed["panels"]]
    assert orders == sorted(orders)  # the built-in panels (10 … 40) first
    assert feed["river"] == {
        "items": [{"label": "大井川 3.2m", "url": "/apps/river", "note": "10:00"}]
    }
    assert '<a href="/apps/river">大井川 3.2m</a>' in river["html"]  # the default list body
    assert feed["bulletin"] == {"available": True, "item": None}  # the plugin's, not the app's
    assert feed["incidents"]["available"] and feed["notices"]["available"]
    page = client.get("/").get_data(as_text=True)
    assert 'data-panel="river"' in page and '<a href="/apps/river">大井川 3.2m</a>' in page


@sqlite_only
def test_a_blocked_app_blanks_only_its_own_panel(make_app):
    app = make_app(DISABLED_PLUGINS=["disaster_ai.apps.bulletins", "disaster_ai.apps.reports"])
    from disaster_ai.testing import TEST_PASSWORDS, csrf_token_from

    with app.app_context():
        from disaster_ai.auth import create_user
        from disaster_ai.storage import get_storage, session_scope

        with session_scope(get_storage(app)) as session:
            create_user(session, "operator", "operator", TEST_PASSWORDS["operator"])
    client = app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    client.post(
        "/login",
        data={"username": "operator", "password": TEST_PASSWORDS["operator"], "csrf_token": token},
    )
    feed = client.get("/dashboard/feed.json").get_json()
    assert "bulletin" not in feed  # a blocked app shows no panel
    assert feed["incidents"]["available"] is True
    assert [p["key"] for p in feed["panels"]] == ["notices", "incidents", "suggestions"]


# --- tables: each app names its own models ------------------------------------------------


@sqlite_only
def test_hook_dai_models(make_app, tmp_path):
    import sys

    from disaster_ai.storage.base import Base

    package = tmp_path / "plugins" / "gauges"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from disaster_ai import hookimpl


            @hookimpl
            def dai_models():
                from . import models

                return [models]
            """
        ),
        encoding="utf-8",
    )
    (package / "models.py").write_text(
        textwrap.dedent(
            """
            from sqlalchemy import Integer
            from sqlalchemy.orm import Mapped, mapped_column

            from disaster_ai.storage.base import Base


            class Gauge(Base):
                __tablename__ = "test_gauges"
                id: Mapped[int] = mapped_column(Integer, primary_key=True)
            """
        ),
        encoding="utf-8",
    )
    try:
        make_app(PLUGINS_DIR=str(package.parent), migrate=False)
        assert "test_gauges" in Base.metadata.tables
    finally:  # the other tests compare Base.metadata with the migrated schema
        if "test_gauges" in Base.metadata.tables:
            Base.metadata.remove(Base.metadata.tables["test_gauges"])
        for name in [n for n in sys.modules if n.startswith("disaster_ai_plugins.gauges_")]:
            sys.modules.pop(name)


def test_a_blocked_apps_models_are_not_loaded(tmp_path):
    import subprocess
    import sys

    code = textwrap.dedent(
        f"""
        import sys
        from disaster_ai.app import create_app
        create_app({{"TESTING": True, "LOAD_ENTRY_POINTS": False, "SECRET_KEY": "x",
                     "DATABASE_URL": "sqlite:///{tmp_path}/x.sqlite3",
                     "PLUGINS_DIR": "{tmp_path}/none",
                     "DISABLED_PLUGINS": ["disaster_ai.apps.transcription"]}},
                   instance_path="{tmp_path}/instance")
        from disaster_ai.storage.base import Base
        print(sorted(Base.metadata.tables))
        print("disaster_ai.apps.transcription.models" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    tables, imported = out.stdout.strip().splitlines()[-2:]
    assert "'incidents'" in tables and "'notices'" in tables
    assert imported == "False"


# --- the import contracts (checked by `lint-imports` in `make lint`) ----------------------


def test_the_core_contract_names_every_core_module():
    """A new core module or package must be in the "core-without-apps" contract, or the
    contract would not check it."""
    import tomllib
    from pathlib import Path

    import disaster_ai

    root = Path(disaster_ai.__file__).parent
    config = tomllib.loads((root.parent / "pyproject.toml").read_text(encoding="utf-8"))
    [core] = [
        c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "core-without-apps"
    ]
    present = {
        f"disaster_ai.{path.stem}"
        for path in root.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").is_file() and path.name != "apps")
    }
    assert present - set(core["source_modules"]) == set()
    assert core["forbidden_modules"] == ["disaster_ai.apps"]
