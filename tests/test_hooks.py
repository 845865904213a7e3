"""One test per hook in disaster_ai/hookspecs.py, each asserting what a user would notice, plus
the meta-tests that keep hooks, tests and docs/plugins.md in step."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from click.testing import CliRunner
from flask import Response
from flask.cli import ScriptInfo
from werkzeug.exceptions import NotFound

from disaster_ai import hookimpl
from disaster_ai.cli import build_cli
from disaster_ai.config import REPO_ROOT
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import Job
from disaster_ai.testing import TEST_PASSWORDS, csrf_token_from
from disaster_ai.types import (
    Actor,
    AppSpec,
    AuditRecord,
    HealthCheck,
    JobHandler,
    JobSpec,
    LayerSource,
    MenuItem,
    SampleContext,
)

REPO = Path(REPO_ROOT)
TEST_PLUGINS = REPO / "tests" / "plugins"


# --- helpers -------------------------------------------------------------------------------


def plugins_dir_with(tmp_path: Path, *names: str) -> str:
    """A plugins folder holding copies of the named tests/plugins/*.py files."""
    folder = tmp_path / "plugins-under-test"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(TEST_PLUGINS / f"{name}.py", folder / f"{name}.py")
    return str(folder)


def invoke(app, *args):
    info = ScriptInfo(create_app=lambda: app, load_dotenv_defaults=False)
    return CliRunner().invoke(build_cli(app), list(args), obj=info)


def plugins_listed(app) -> dict[str, dict]:
    result = invoke(app, "plugins", "list", "--json")
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.output)}


def log_in(client, role: str):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": role, "password": TEST_PASSWORDS[role], "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def nav_links(page_html: str) -> dict[str, str]:
    nav = re.search(r"<nav .*?</nav>", page_html, re.S)
    assert nav, "no navigation on the page"
    return {
        html.unescape(label): href
        for href, label in re.findall(r'<a href="([^"]+)">([^<]+)</a>', nav.group(0))
    }


def spec_callers(pm) -> dict:
    return {
        name: caller
        for name, caller in vars(pm.hook).items()
        if getattr(caller, "spec", None) is not None
    }


# --- startup -------------------------------------------------------------------------------


def test_hook_dai_startup(make_app, tmp_path):
    folder = plugins_dir_with(tmp_path, "startup_config")
    good = make_app(
        PLUGINS_DIR=folder, PLUGINS={"startup_config": {"station": "焼津港", "threshold_cm": 120}}
    )
    assert plugins_listed(good)["startup_config"]["status"] == "active"
    bad = make_app(PLUGINS_DIR=folder, PLUGINS={"startup_config": {"threshold_cm": "high"}})
    listed = plugins_listed(bad)["startup_config"]
    assert listed["status"] == "failed"
    assert "threshold_cm'] must be a positive integer, got 'high'" in listed["error"]
    assert bad.test_client().get("/healthz").is_json  # the desk itself still starts


def test_hook_dai_load_sample(app, runner, register_plugin):
    seen: list[SampleContext] = []

    class TideSample:
        @hookimpl
        def dai_load_sample(self, context):
            seen.append(context)
            return f"tide gauges for {context.manifest['municipality']['name']}"

    register_plugin(TideSample(), name="tide_sample")
    result = runner.invoke(["init", "--sample", "yaizu", "--no-demo-users", "--json"])
    assert result.exit_code == 0, result.output
    loaded = json.loads(result.output)["loaded"]
    assert "tide gauges for 焼津市" in loaded
    # the core part of the sample still loads
    assert any(item.startswith("municipality 焼津市") for item in loaded)
    assert [context.name for context in seen] == ["yaizu"]
    assert Path(seen[0].directory) == REPO / "sample_data" / "yaizu"


# --- web -----------------------------------------------------------------------------------


def test_hook_dai_register_apps(app, client, login, register_plugin):
    class FloodWatch:
        @hookimpl
        def dai_register_apps(self):
            return [AppSpec("flood_watch", "Flood watch", "web.map_layers", "approver", order=5)]

    register_plugin(FloodWatch(), name="flood_watch")
    login("operator")
    assert "Flood watch" not in nav_links(client.get("/").get_data(as_text=True))
    login("approver")
    assert nav_links(client.get("/").get_data(as_text=True))["Flood watch"] == "/map/layers.json"


def test_hook_dai_register_blueprints(make_app, users, api_headers, tmp_path):
    app = make_app(PLUGINS_DIR=plugins_dir_with(tmp_path, "tide_gauge_pages"))
    client = log_in(app.test_client(), "approver")
    page = client.get("/apps/tide")
    assert page.status_code == 200
    assert "焼津港: 142 cm" in page.get_data(as_text=True)
    assert nav_links(page.get_data(as_text=True))["Tide gauges"] == "/apps/tide"
    api = app.test_client().get("/api/v1/tide/levels", headers=api_headers("approver"))
    assert api.status_code == 200
    assert api.get_json() == {"levels": {"焼津港": 142, "大井川港": 118}}
    unauthenticated = app.test_client().get("/api/v1/tide/levels")
    assert unauthenticated.status_code == 401
    assert unauthenticated.get_json()["error"]["code"] == "unauthenticated"


def test_hook_dai_desk_menu_items(app, client, login, register_plugin):
    class ShiftLog:
        @hookimpl
        def dai_desk_menu_items(self, actor, request):
            if not actor.has_role("approver"):
                return []
            return [MenuItem(f"Shift log ({actor.username})", "/shift-log", order=-1)]

    register_plugin(ShiftLog(), name="shift_log")
    login("operator")
    assert not any(
        label.startswith("Shift log") for label in nav_links(client.get("/").get_data(as_text=True))
    )
    login("approver")
    links = nav_links(client.get("/").get_data(as_text=True))
    assert links["Shift log (approver)"] == "/shift-log"
    assert (
        list(links)[0] == "Shift log (approver)"
    )  # order=-1 sorts it before the core entries (the dashboard is 0)


def test_hook_dai_extra_template_vars(app, client, login, register_plugin):
    class ExerciseBanner:
        @hookimpl
        def dai_extra_template_vars(self, template, request):
            if template == "web.dashboard":
                return {"municipality_name": "焼津市【訓練】"}
            return {}

    register_plugin(ExerciseBanner(), name="exercise_banner")
    login("admin")
    assert "焼津市【訓練】" in client.get("/").get_data(as_text=True)
    assert "焼津市【訓練】" not in client.get("/admin/users").get_data(as_text=True)


def test_hook_dai_handle_exception(app, client, register_plugin):
    class MunicipalErrorPage:
        @hookimpl
        def dai_handle_exception(self, request, exception):
            if isinstance(exception, NotFound) and not request.path.startswith("/api/"):
                return Response(
                    "<h1>ページが見つかりません(焼津市)</h1>", status=404, mimetype="text/html"
                )
            return None  # everything else: the core default

    register_plugin(MunicipalErrorPage(), name="municipal_error_page")
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert page.get_data(as_text=True) == "<h1>ページが見つかりません(焼津市)</h1>"
    api = client.get("/api/v1/no-such-endpoint")
    assert api.status_code == 404
    assert api.get_json()["error"]["code"] == "not_found"


# --- CLI -----------------------------------------------------------------------------------


def test_hook_dai_register_commands(app, register_plugin):
    import click

    @click.command("tide")
    @click.option("--json", "as_json", is_flag=True)
    def tide(as_json):
        """Show the tide gauges."""
        click.echo(json.dumps({"焼津港": 142}, ensure_ascii=False) if as_json else "焼津港 142 cm")

    class TideCommands:
        @hookimpl
        def dai_register_commands(self, cli):
            cli.add_command(tide)

    register_plugin(TideCommands(), name="tide_commands")
    result = invoke(app, "tide", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"焼津港": 142}
    assert "Show the tide gauges." in invoke(app, "--help").output
    assert invoke(app, "plugins", "list").exit_code == 0  # core commands are still there


# --- auth ----------------------------------------------------------------------------------


def test_hook_dai_actor_from_request(app, client, register_plugin):
    class MunicipalSSO:
        @hookimpl
        def dai_actor_from_request(self, request):
            user = request.headers.get("X-Yaizu-SSO-User")
            if user is None:
                return None  # fall through to the session / API token default
            return Actor(None, user, frozenset({"operator"}), locale="ja", via="sso")

    assert client.get("/api/v1/me", headers={"X-Yaizu-SSO-User": "kato"}).status_code == 401
    register_plugin(MunicipalSSO(), name="municipal_sso")
    me = client.get("/api/v1/me", headers={"X-Yaizu-SSO-User": "kato"})
    assert me.status_code == 200
    assert me.get_json() == {
        "username": "kato",
        "roles": ["operator"],
        "locale": "ja",
        "via": "sso",
    }
    assert client.get("/api/v1/me").status_code == 401


def test_hook_dai_permission_allowed(app, client, api_headers, register_plugin):
    class NoAuditReading:
        @hookimpl
        def dai_permission_allowed(self, actor, action, resource):
            if action == "admin.audit":
                return False
            return None

    headers = api_headers("admin")
    assert client.get("/api/v1/audit", headers=headers).status_code == 200
    register_plugin(NoAuditReading(), name="no_audit_reading")
    denied = client.get("/api/v1/audit", headers=headers)
    assert denied.status_code == 403
    assert denied.get_json()["error"]["code"] == "forbidden"
    assert "admin.audit" in denied.get_json()["error"]["message"]
    # None defers to the core default
    assert client.get("/api/v1/users", headers=headers).status_code == 200


def test_hook_dai_register_permissions(make_app, users, api_headers, tmp_path):
    app = make_app(PLUGINS_DIR=plugins_dir_with(tmp_path, "tide_gauge_pages"))
    assert app.extensions["disaster_ai.permissions"]["tide.view"].roles == frozenset({"approver"})
    client = app.test_client()
    assert client.get("/api/v1/tide/levels", headers=api_headers("approver")).status_code == 200
    admin = client.get("/api/v1/tide/levels", headers=api_headers("admin"))
    assert admin.status_code == 200  # admin may do everything
    denied = client.get("/api/v1/tide/levels", headers=api_headers("operator"))
    assert denied.status_code == 403
    assert "tide.view" in denied.get_json()["error"]["message"]


# --- jobs and scheduling -------------------------------------------------------------------


def fetch_tide(ctx):
    ctx.progress(50, "reading the gauge")
    return {"station": ctx.payload["station"], "level_cm": 142}


def test_hook_dai_job_handlers(app, client, api_headers, register_plugin):
    from disaster_ai.jobs import enqueue
    from disaster_ai.jobs.service import UnknownJobKind, runner_for

    with app.app_context(), pytest.raises(UnknownJobKind):
        enqueue("tide.fetch", {"station": "焼津港"})

    class TideJobs:
        @hookimpl
        def dai_job_handlers(self):
            return [
                JobHandler(
                    "tide.fetch",
                    fetch_tide,
                    max_attempts=1,
                    timeout_seconds=30,
                    title="潮位の取得",  # a real plugin passes lazy_gettext strings
                    stages={"reading the gauge": "潮位計を読んでいます"},
                )
            ]

    register_plugin(TideJobs(), name="tide_jobs")
    with app.app_context():
        job_id = enqueue("tide.fetch", {"station": "焼津港"})
    assert runner_for(app).run_pending() == 1
    job = client.get(f"/api/v1/jobs/{job_id}", headers=api_headers("operator")).get_json()
    assert (job["kind"], job["state"], job["progress"]) == ("tide.fetch", "succeeded", 100)
    assert job["result"] == {"station": "焼津港", "level_cm": 142}
    # the desk's job queue shows the plugin's words and the state in Japanese
    assert (job["title"], job["state_label"]) == ("潮位の取得", "完了")
    with app.app_context():
        job_id = enqueue("tide.fetch", {"station": "焼津港"})
    with app.app_context(), session_scope(get_storage(app)) as session:  # as a worker leaves it
        session.get(Job, job_id).message = "reading the gauge"
    job = client.get(f"/api/v1/jobs/{job_id}", headers=api_headers("operator")).get_json()
    assert (job["stage"], job["state_label"]) == ("潮位計を読んでいます", "待機中")


def poll_tide_gauges(station: str) -> None:
    """A scheduled job (module level, so the job store can refer to it)."""


def test_hook_dai_register_jobs(app, register_plugin):
    from disaster_ai.scheduler import registered_jobs

    class TidePolling:
        @hookimpl
        def dai_register_jobs(self, config):
            settings = config["PLUGINS"].get("tide_gauge", {})
            return [
                JobSpec(
                    "poll",
                    IntervalTrigger(seconds=settings.get("poll_seconds", 600)),
                    poll_tide_gauges,
                    {"station": "焼津港"},
                    misfire_grace_time=60,
                )
            ]

    # a new dict: never mutate the shared default
    app.config["PLUGINS"] = {"tide_gauge": {"poll_seconds": 120}}
    assert "tide_gauge.poll" not in registered_jobs(app)
    register_plugin(TidePolling(), name="acme.tide_gauge")
    jobs = registered_jobs(app)
    assert "tide_gauge.poll" in jobs  # "<plugin name's last dotted part>.<job id>"

    # a second plugin whose name ends the same way keeps its own job: nothing is overwritten
    register_plugin(TidePolling(), name="kaigan.tide_gauge")
    jobs = registered_jobs(app)
    assert {"tide_gauge.poll", "kaigan.tide_gauge.poll"} <= set(jobs)
    assert "core.heartbeat" in jobs
    spec = jobs["tide_gauge.poll"]
    assert spec.func is poll_tide_gauges
    assert spec.kwargs == {"station": "焼津港"}
    assert spec.trigger.interval.total_seconds() == 120  # read from this app's config


# --- operations ----------------------------------------------------------------------------


def test_hook_dai_health_checks(app, client, register_plugin):
    from disaster_ai.jobs.service import beat

    beat(app, "scheduler", "scheduler")
    beat(app, "worker:test", "worker")
    assert client.get("/healthz").status_code == 200

    class ModelCheck:
        @hookimpl
        def dai_health_checks(self, app):
            return [
                HealthCheck("tide_model", False, "model file tide.onnx is missing"),
                HealthCheck("tide_feed", False, "feed is slow", critical=False),
            ]

    register_plugin(ModelCheck(), name="model_check")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["tide_model"] == {
        "ok": False,
        "detail": "model file tide.onnx is missing",
        "critical": True,
    }
    assert body["checks"]["tide_feed"]["critical"] is False
    assert body["checks"]["database"]["ok"] is True


# --- maps ----------------------------------------------------------------------------------


def test_hook_dai_map_layers(app, client, login, register_plugin):
    gauges = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [138.3236, 34.8669]},
                "properties": {"name": "焼津港"},
            }
        ],
    }
    seen_bboxes = []

    class TideLayer:
        @hookimpl
        def dai_map_layers(self, bbox):
            seen_bboxes.append(bbox)
            return [LayerSource("tide_gauges", "Tide gauges", gauges, {"color": "#0b4f8a"})]

    register_plugin(TideLayer(), name="tide_layer")
    login("operator")
    layers = {layer["id"]: layer for layer in client.get("/map/layers.json").get_json()["layers"]}
    assert layers["tide_gauges"] == {
        "id": "tide_gauges",
        "title": "Tide gauges",
        "geojson": gauges,
        "style": {"color": "#0b4f8a"},
    }
    assert seen_bboxes == [None]


# --- audit ---------------------------------------------------------------------------------


def test_hook_dai_audit_event(app, client, login, register_plugin):
    forwarded: list[AuditRecord] = []

    class Siem:
        @hookimpl
        def dai_audit_event(self, event):
            forwarded.append(event)

    register_plugin(Siem(), name="siem")
    login("operator")
    logins = [record for record in forwarded if record.action == "auth.login"]
    assert len(logins) == 1
    assert (logins[0].actor, logins[0].target) == ("operator", "user:operator")
    assert re.search(r"\+09:00$", logins[0].at)


# --- meta-tests ----------------------------------------------------------------------------

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


@sqlite_only
def test_every_hook_has_a_test(app):
    pm = app.extensions["disaster_ai"]
    sources = "\n".join(path.read_text(encoding="utf-8") for path in (REPO / "tests").rglob("*.py"))
    missing = [
        name
        for name in spec_callers(pm)
        if not re.search(rf"^\s*def test_hook_{name}\(", sources, re.M)
    ]
    assert len(spec_callers(pm)) >= 16
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"


@sqlite_only
def test_every_hook_is_documented(app):
    pm = app.extensions["disaster_ai"]
    docs = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    documented = {
        name: [arg.strip() for arg in args.split(",") if arg.strip()]
        for name, args in re.findall(r"^### (dai_\w+)\(([^)]*)\)\s*$", docs, re.M)
    }
    for name, caller in spec_callers(pm).items():
        assert name in documented, f"docs/plugins.md has no '### {name}(...)' heading"
        assert documented[name] == list(caller.spec.argnames), (
            f"docs/plugins.md: wrong arguments for {name}"
        )
    stale = set(documented) - set(spec_callers(pm))
    assert not stale, f"docs/plugins.md documents hooks that do not exist: {sorted(stale)}"


@sqlite_only
def test_every_firstresult_hook_has_a_trylast_core_default(app):
    pm = app.extensions["disaster_ai"]
    firstresult = [
        name for name, caller in spec_callers(pm).items() if caller.spec.opts.get("firstresult")
    ]
    assert firstresult, "expected at least one firstresult hook"
    for name in firstresult:
        defaults = [
            impl
            for impl in getattr(pm.hook, name).get_hookimpls()
            if impl.plugin_name.startswith("disaster_ai.apps.") and impl.trylast
        ]
        assert defaults, f"{name} is firstresult but no core plugin implements it with trylast=True"
