"""Plugins as a plugin author or the municipality's IT staff meet them: the example plugin
loading from the plugins folder and from its entry point, its page and command, the plugins
list, broken plugins, the blocklist, misspelled hooks, failing collectors and tracing."""

from __future__ import annotations

import html
import importlib.metadata
import json
import logging
import re
import tomllib
from pathlib import Path

import pluggy
import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from disaster_ai import __version__ as core_version
from disaster_ai import hookimpl
from disaster_ai.cli import build_cli
from disaster_ai.config import REPO_ROOT
from disaster_ai.testing import TEST_PASSWORDS, csrf_token_from
from disaster_ai.types import LayerSource, MenuItem

REPO_PLUGINS = Path(REPO_ROOT) / "plugins"
HELLO_PROJECT = REPO_PLUGINS / "hello_municipality"
HELLO_VERSION = tomllib.loads((HELLO_PROJECT / "pyproject.toml").read_text(encoding="utf-8"))[
    "project"
]["version"]
HELLO_HOOKS = {
    "dai_startup",
    "dai_register_blueprints",
    "dai_register_apps",
    "dai_register_commands",
    "dai_dashboard_panels",
}


# --- helpers -------------------------------------------------------------------------------


def invoke(app, *args):
    """Run `disaster-ai ARGS` against this app, as the console script would."""
    info = ScriptInfo(create_app=lambda: app, load_dotenv_defaults=False)
    return CliRunner().invoke(build_cli(app), list(args), obj=info)


def plugins_listed(app) -> dict[str, dict]:
    result = invoke(app, "plugins", "list", "--json")
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.output)}


def log_in(client, role: str):
    """Log in through the real form (the users come from the ``users`` fixture)."""
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": role, "password": TEST_PASSWORDS[role], "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def plugin_rows(page_html: str) -> dict[str, tuple[str, str]]:
    """name → (status, row text) from the admin plugins page."""
    rows = {}
    for match in re.finditer(
        r'<tr class="status-(\w+)"><td>([^<]+)</td>(.*?)</tr>', page_html, re.S
    ):
        rows[html.unescape(match.group(2))] = (match.group(1), html.unescape(match.group(3)))
    return rows


def nav_links(page_html: str) -> dict[str, str]:
    nav = re.search(r"<nav .*?</nav>", page_html, re.S)
    assert nav, "no navigation on the page"
    return {
        html.unescape(label): href
        for href, label in re.findall(r'<a href="([^"]+)">([^<]+)</a>', nav.group(0))
    }


def write_plugins(folder: Path, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        (folder / f"{name}.py").write_text(source, encoding="utf-8")
    return folder


def require_hello_entry_point():
    names = {ep.name for ep in importlib.metadata.entry_points(group="disaster_ai")}
    assert "hello_municipality" in names, (
        "the example plugin is not installed: run `pip install -e plugins/hello_municipality` (make does)"
    )


# --- the example plugin --------------------------------------------------------------------


def test_example_plugin_loads_from_the_plugins_folder(make_app):
    app = make_app(PLUGINS_DIR=str(REPO_PLUGINS))
    hello = plugins_listed(app)["hello_municipality"]
    assert hello["source"] == "plugins dir"
    assert hello["status"] == "active"
    assert hello["version"] == HELLO_VERSION
    assert set(hello["hooks"]) == HELLO_HOOKS
    assert "/apps/hello" in {rule.rule for rule in app.url_map.iter_rules()}


def test_example_plugin_loads_from_its_entry_point(make_app, tmp_path):
    require_hello_entry_point()
    empty = tmp_path / "empty-plugins"
    empty.mkdir()
    app = make_app(LOAD_ENTRY_POINTS=True, PLUGINS_DIR=str(empty))
    hello = plugins_listed(app)["hello_municipality"]
    assert hello["source"] == "entry point"
    assert hello["status"] == "active"
    assert hello["version"] == HELLO_VERSION  # from the installed distribution's metadata
    assert set(hello["hooks"]) == HELLO_HOOKS
    assert (
        app.extensions["disaster_ai"].get_plugin("hello_municipality").__name__
        == "hello_municipality"
    )


def test_installed_copy_wins_over_the_folder_copy(make_app):
    require_hello_entry_point()
    app = make_app(LOAD_ENTRY_POINTS=True, PLUGINS_DIR=str(REPO_PLUGINS))
    listed = plugins_listed(app)
    assert listed["hello_municipality"]["source"] == "entry point"
    assert listed["hello_municipality"]["status"] == "active"
    assert [name for name in listed if "hello" in name] == ["hello_municipality"]


@pytest.fixture
def hello_app(make_app, users):
    return make_app(
        PLUGINS_DIR=str(REPO_PLUGINS),
        MUNICIPALITY_NAME="焼津市",
        PLUGINS={"hello_municipality": {"greeting": "焼津市 災害対策本部へようこそ"}},
    )


def test_example_page_greets_a_logged_in_user(hello_app):
    client = log_in(hello_app.test_client(), "operator")
    response = client.get("/apps/hello")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>焼津市 災害対策本部へようこそ</h1>" in page
    assert "焼津市" in page.split("</header>")[0]  # the desk shell (base.html) around it
    assert "operator" in page
    dashboard = client.get("/").get_data(as_text=True)
    assert nav_links(dashboard)["Hello"] == "/apps/hello"


def test_example_page_sends_a_visitor_to_the_login(hello_app):
    response = hello_app.test_client().get("/apps/hello")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert "/apps/hello" in response.headers["Location"]


def test_example_greeting_defaults_to_the_municipality_name(make_app, users):
    app = make_app(PLUGINS_DIR=str(REPO_PLUGINS), MUNICIPALITY_NAME="牧之原市")
    client = log_in(app.test_client(), "operator")
    page = client.get("/apps/hello?lang=en").get_data(as_text=True)
    assert re.search(r"<h1>[^<]*牧之原市[^<]*</h1>", page)


def test_example_greeting_names_the_loaded_sample_municipality(make_app, yaizu):
    app = make_app(PLUGINS_DIR=str(REPO_PLUGINS), MUNICIPALITY_NAME=None)
    data = json.loads(invoke(app, "hello", "--json").output)
    assert data["municipality"] == "焼津市"  # loaded by `disaster-ai init --sample yaizu`
    assert "焼津市" in data["greeting"]


def test_example_greeting_without_any_municipality(make_app):
    app = make_app(PLUGINS_DIR=str(REPO_PLUGINS), MUNICIPALITY_NAME=None)
    data = json.loads(invoke(app, "hello", "--json").output)
    assert data["municipality"] is None
    assert data["greeting"] and "None" not in data["greeting"]


def test_example_command_prints_the_greeting(hello_app):
    result = invoke(hello_app, "hello", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data == {
        "municipality": "焼津市",
        "greeting": "焼津市 災害対策本部へようこそ",
        "plugin": "hello_municipality",
        "version": HELLO_VERSION,
    }
    text = invoke(hello_app, "hello")
    assert text.exit_code == 0
    assert text.output.strip() == "焼津市 災害対策本部へようこそ"


def test_example_command_is_listed_in_the_help(hello_app):
    result = invoke(hello_app, "--help")
    assert re.search(r"^\s+hello\s+Greet the municipality", result.output, re.M), result.output


@pytest.mark.parametrize(
    "settings, complaint",
    [
        ({"greeting": 42}, "['greeting'] must be a str, not int (42)"),
        ("ようこそ", "must be a dict of settings, not str"),
        ({"greting": "やあ"}, "unknown settings ['greting']"),
        ({"greeting": "  "}, "['greeting'] must not be empty"),
    ],
)
def test_example_plugin_with_wrong_settings_is_disabled_with_a_clear_message(
    make_app, users, settings, complaint
):
    app = make_app(PLUGINS_DIR=str(REPO_PLUGINS), PLUGINS={"hello_municipality": settings})
    hello = plugins_listed(app)["hello_municipality"]
    assert hello["status"] == "failed"
    assert "PLUGINS['hello_municipality']" in hello["error"]
    assert complaint in hello["error"]
    client = log_in(app.test_client(), "operator")
    assert client.get("/apps/hello").status_code == 404  # its page was never mounted
    assert client.get("/").status_code == 200  # the desk keeps serving
    assert invoke(app, "hello").exit_code != 0


def test_example_settings_come_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv(
        "DISASTER_AI_PLUGINS__hello_municipality__greeting", '"環境変数からこんにちは"'
    )
    app = make_app(PLUGINS_DIR=str(REPO_PLUGINS))
    result = invoke(app, "hello", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["greeting"] == "環境変数からこんにちは"


# --- the plugins list ----------------------------------------------------------------------


def test_plugins_list_json_shows_name_version_source_hooks_status(runner, app):
    result = runner.invoke(["plugins", "list", "--json"])
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert set(rows) >= {
        "disaster_ai.apps.providers",
        "disaster_ai.apps.notices",
        "disaster_ai.apps.bulletins",
    }
    providers = rows["disaster_ai.apps.providers"]
    assert set(providers) >= {"name", "version", "source", "hooks", "status", "error"}
    assert (providers["version"], providers["source"], providers["status"]) == (
        core_version,
        "core",
        "active",
    )
    assert {"dai_actor_from_request", "dai_permission_allowed", "dai_handle_exception"} <= set(
        providers["hooks"]
    )
    assert list(rows) == sorted(rows)


def test_plugins_list_text_has_one_line_per_plugin(runner):
    result = runner.invoke(["plugins", "list"])
    assert result.exit_code == 0
    line = next(
        line for line in result.output.splitlines() if line.startswith("disaster_ai.apps.providers")
    )
    assert "core" in line and "active" in line and "dai_actor_from_request" in line


# --- broken plugins are disabled, shown, and the desk keeps serving -------------------------

BROKEN_ON_IMPORT = """
raise RuntimeError("tide table tide_2026.csv is missing")
"""

BROKEN_AT_STARTUP = """
from flask import Blueprint

from disaster_ai import hookimpl
from disaster_ai.types import MenuItem

bp = Blueprint("broken_at_startup", __name__, url_prefix="/apps/broken")


@bp.get("")
def index():
    return "this page must never be served"


@hookimpl
def dai_startup(app):
    raise ValueError("PLUGINS['broken_at_startup']['station'] is required")


@hookimpl
def dai_register_blueprints():
    return [bp]


@hookimpl
def dai_desk_menu_items(actor, request):
    return [MenuItem("Broken page", "/apps/broken")]
"""

GOOD_NEIGHBOUR = """
from disaster_ai import hookimpl
from disaster_ai.types import MenuItem


@hookimpl
def dai_desk_menu_items(actor, request):
    return [MenuItem("Shelter list", "/shelters")]
"""


@pytest.fixture
def broken_app(make_app, users, tmp_path):
    folder = write_plugins(
        tmp_path / "broken-plugins",
        broken_on_import=BROKEN_ON_IMPORT,
        broken_at_startup=BROKEN_AT_STARTUP,
        good_neighbour=GOOD_NEIGHBOUR,
    )
    return make_app(PLUGINS_DIR=str(folder))


def test_broken_plugins_are_listed_as_failed_with_their_error(broken_app):
    listed = plugins_listed(broken_app)
    assert listed["broken_on_import"]["status"] == "failed"
    assert (
        "RuntimeError: tide table tide_2026.csv is missing" in listed["broken_on_import"]["error"]
    )
    assert listed["broken_at_startup"]["status"] == "failed"
    assert (
        "ValueError: PLUGINS['broken_at_startup']['station'] is required"
        in listed["broken_at_startup"]["error"]
    )
    assert listed["broken_at_startup"]["source"] == "plugins dir"
    assert listed["good_neighbour"]["status"] == "active"
    text = invoke(broken_app, "plugins", "list")
    line = next(line for line in text.output.splitlines() if line.startswith("broken_on_import"))
    assert "failed" in line and "tide_2026.csv is missing" in line


def test_broken_plugins_are_shown_on_the_admin_page(broken_app):
    client = log_in(broken_app.test_client(), "admin")
    response = client.get("/-/plugins?lang=en")
    assert response.status_code == 200
    rows = plugin_rows(response.get_data(as_text=True))
    assert rows["broken_on_import"][0] == "failed"
    assert "tide_2026.csv is missing" in rows["broken_on_import"][1]
    assert rows["broken_at_startup"][0] == "failed"
    assert "PLUGINS['broken_at_startup']['station'] is required" in rows["broken_at_startup"][1]
    assert rows["good_neighbour"][0] == "active"


def test_the_admin_plugins_page_is_for_admins_only(broken_app):
    client = log_in(broken_app.test_client(), "operator")
    assert client.get("/-/plugins").status_code == 403
    assert broken_app.test_client().get("/-/plugins").status_code == 302


def test_desk_keeps_serving_without_the_broken_plugins(broken_app):
    client = log_in(broken_app.test_client(), "operator")
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    links = nav_links(dashboard.get_data(as_text=True))
    assert links.get("Shelter list") == "/shelters"  # the healthy plugin still contributes
    assert "Broken page" not in links  # the failed plugin's other hooks are off too
    assert client.get("/apps/broken").status_code == 404
    assert client.get("/healthz").is_json


# --- the blocklist -------------------------------------------------------------------------


@pytest.mark.parametrize("loaded_from", ["plugins dir", "entry point"])
def test_disabled_plugins_blocks_the_example_plugin(make_app, users, tmp_path, loaded_from):
    if loaded_from == "entry point":
        require_hello_entry_point()
        config = {"LOAD_ENTRY_POINTS": True, "PLUGINS_DIR": str(REPO_PLUGINS)}
    else:
        config = {"PLUGINS_DIR": str(REPO_PLUGINS)}
    enabled = make_app(**config)
    assert plugins_listed(enabled)["hello_municipality"]["source"] == loaded_from
    app = make_app(DISABLED_PLUGINS=["hello_municipality"], **config)
    hello = plugins_listed(app)["hello_municipality"]
    assert (hello["status"], hello["hooks"]) == ("blocked", [])
    client = log_in(app.test_client(), "operator")
    assert client.get("/apps/hello").status_code == 404
    assert "Hello" not in nav_links(client.get("/").get_data(as_text=True))
    assert invoke(app, "hello").exit_code == 2  # click: no such command


def test_disabled_plugins_blocks_a_core_plugin(make_app, users):
    before = make_app()
    assert plugins_listed(before)["disaster_ai.apps.bulletins"]["status"] == "active"
    assert "bulletins.issue" in before.extensions["disaster_ai.permissions"]
    app = make_app(DISABLED_PLUGINS=["disaster_ai.apps.bulletins"])
    listed = plugins_listed(app)
    assert listed["disaster_ai.apps.bulletins"]["status"] == "blocked"
    assert listed["disaster_ai.apps.notices"]["status"] == "active"
    assert "bulletins.issue" not in app.extensions["disaster_ai.permissions"]
    client = log_in(app.test_client(), "admin")
    rows = plugin_rows(client.get("/-/plugins").get_data(as_text=True))
    assert rows["disaster_ai.apps.bulletins"][0] == "blocked"
    assert client.get("/").status_code == 200


# --- a misspelled hook fails at startup ----------------------------------------------------


def test_a_misspelled_hook_fails_at_startup(make_app, tmp_path):
    folder = write_plugins(
        tmp_path / "typo-plugins",
        typo_menu="""
from disaster_ai import hookimpl


@hookimpl
def dai_desk_menu_item(actor, request):
    return []
""",
    )
    with pytest.raises(pluggy.PluginValidationError, match="unknown hook 'dai_desk_menu_item'"):
        make_app(PLUGINS_DIR=str(folder))


def test_a_hookimpl_with_an_unknown_argument_fails_at_startup(make_app, tmp_path):
    folder = write_plugins(
        tmp_path / "typo-args",
        typo_args="""
from disaster_ai import hookimpl


@hookimpl
def dai_map_layers(bbox, zoom):
    return []
""",
    )
    with pytest.raises(pluggy.PluginValidationError, match="zoom"):
        make_app(PLUGINS_DIR=str(folder))


# --- a failing optional collector does not break the desk ----------------------------------


class Flaky:
    @hookimpl
    def dai_desk_menu_items(self, actor, request):
        raise RuntimeError("menu service down")

    @hookimpl
    def dai_extra_template_vars(self, template, request):
        raise RuntimeError("template vars down")

    @hookimpl
    def dai_map_layers(self, bbox):
        raise RuntimeError("GIS server down")

    @hookimpl
    def dai_health_checks(self, app):
        raise RuntimeError("health probe down")


class Steady:
    @hookimpl
    def dai_desk_menu_items(self, actor, request):
        return [MenuItem("Shift log", "/shift-log", order=1)]

    @hookimpl
    def dai_map_layers(self, bbox):
        return [LayerSource("shelters", "Shelters", {"type": "FeatureCollection", "features": []})]


def test_a_failing_collector_does_not_break_the_dashboard(
    app, client, login, register_plugin, caplog
):
    register_plugin(Flaky(), name="flaky")
    register_plugin(Steady(), name="steady")
    login("operator")
    with caplog.at_level(logging.ERROR):
        dashboard = client.get("/")
        layers = client.get("/map/layers.json")
        health = client.get("/healthz")
    assert dashboard.status_code == 200
    assert nav_links(dashboard.get_data(as_text=True))["Shift log"] == "/shift-log"
    assert layers.status_code == 200
    assert "shelters" in [layer["id"] for layer in layers.get_json()["layers"]]
    assert "database" in health.get_json()["checks"]
    failures = {record.getMessage() for record in caplog.records}
    for hook in (
        "dai_desk_menu_items",
        "dai_extra_template_vars",
        "dai_map_layers",
        "dai_health_checks",
    ):
        assert f"plugin flaky failed in {hook}; skipped" in failures


# --- tracing -------------------------------------------------------------------------------


def test_trace_switch_prints_hook_calls_to_stderr(make_app, monkeypatch, capsys):
    monkeypatch.setenv("DISASTER_AI_TRACE_PLUGINS", "1")
    app = make_app()
    capsys.readouterr()
    app.test_client().get("/healthz")
    err = capsys.readouterr().err
    assert re.search(r"\[plugins\] dai_health_checks → \['disaster_ai\.apps\.providers'\]", err), (
        err
    )


def test_no_tracing_by_default(make_app, monkeypatch, capsys):
    monkeypatch.delenv("DISASTER_AI_TRACE_PLUGINS", raising=False)
    app = make_app()
    app.test_client().get("/healthz")
    assert "[plugins]" not in capsys.readouterr().err


def test_an_app_naming_an_unknown_page_does_not_break_the_desk(make_app, users, tmp_path):
    from disaster_ai.testing import csrf_token_from

    folder = tmp_path / "broken_nav"
    folder.mkdir()
    (folder / "ghost_page.py").write_text(
        "from disaster_ai import hookimpl\n"
        "from disaster_ai.types import AppSpec\n\n\n"
        "@hookimpl\n"
        "def dai_register_apps():\n"
        "    return [AppSpec('ghost', 'Ghost', 'ghost.index', 'operator')]\n"
    )
    app = make_app(PLUGINS_DIR=str(folder))
    client = app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    client.post(
        "/login", data={"username": "operator", "password": users["operator"], "csrf_token": token}
    )
    page = client.get("/")
    assert page.status_code == 200 and "Ghost" not in page.get_data(as_text=True)
