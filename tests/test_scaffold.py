"""`disaster-ai plugins new NAME`: the plugin it writes works as generated, through the public API
only. The "done" test of issue 16: an outside plugin built in a temporary folder through the
scaffold adds a table and a page, runs a scheduled feed job through egress.fetch against a local
HTTP server, records incidents idempotently and suggests a notice that an approver then issues."""

from __future__ import annotations

import ast
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from disaster_ai.storage import get_storage, session_scope

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
PUBLIC = {"disaster_ai", "disaster_ai.types", "disaster_ai.auth", "disaster_ai.desk"}


def scaffold(runner, folder: Path, name: str = "river_feed") -> Path:
    result = runner.invoke(["plugins", "new", name, "--dir", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    return Path(json.loads(result.output)["path"])


@pytest.fixture
def feed_server():
    """Serves ``feed["body"]`` as JSON on 127.0.0.1; the test sets what the feed says."""
    feed = {"body": {"items": []}, "hits": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            feed["hits"] += 1
            body = json.dumps(feed["body"]).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    feed["url"] = f"http://127.0.0.1:{server.server_port}/feed.json"
    yield feed
    server.shutdown()
    server.server_close()


@pytest.fixture
def forget_plugin_tables():
    """A plugin loaded from a folder puts its tables on the shared Base.metadata: take them
    off again, so that the schema check of other tests compares the core's tables only."""
    from disaster_ai.storage.base import Base

    before = set(Base.metadata.tables)
    modules = set(sys.modules)
    yield
    for name in set(Base.metadata.tables) - before:
        Base.metadata.remove(Base.metadata.tables[name])
    for name in set(sys.modules) - modules:
        if name.startswith("disaster_ai_plugins."):
            sys.modules.pop(name)


def test_the_scaffold_writes_a_plugin_project(runner, tmp_path):
    root = scaffold(runner, tmp_path)
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert files == {
        "pyproject.toml",
        "README.md",
        "river_feed/__init__.py",
        "river_feed/feed.py",
        "river_feed/models.py",
        "river_feed/web.py",
        "river_feed/migrations/river_feed_0001_items.py",
        "river_feed/templates/river_feed/index.html",
        "tests/test_river_feed.py",
    }
    assert 'river_feed = "river_feed"' in (root / "pyproject.toml").read_text(encoding="utf-8")
    assert "$" not in (root / "river_feed" / "__init__.py").read_text(encoding="utf-8")
    # only the documented API: hookimpl, types, auth.requires and the facade
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("disaster_ai"):
                assert node.module in PUBLIC, f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("disaster_ai") for a in node.names), path.name


@sqlite_only
def test_the_scaffold_refuses_unusable_names_and_folders(runner, tmp_path):
    for name, reason in (("River", "lowercase"), ("json", "exists already"), ("dai_x", "reserved")):
        result = runner.invoke(["plugins", "new", name, "--dir", str(tmp_path)])
        assert result.exit_code == 2 and reason in result.output, result.output
    scaffold(runner, tmp_path, "tide_gauge")
    again = runner.invoke(["plugins", "new", "tide_gauge", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "exists already" in again.output
    assert not (tmp_path / "River").exists()


@sqlite_only
def test_an_outside_plugin_made_by_the_scaffold_does_the_whole_job(
    app, make_app, runner, yaizu, api_headers, feed_server, tmp_path, forget_plugin_tables
):
    """Done means (issue 16)."""
    from disaster_ai.apps.situation import layers
    from disaster_ai.apps.situation.models import GeoFeature, Incident
    from disaster_ai.desk import Desk
    from disaster_ai.testing import TEST_PASSWORDS, csrf_token_from

    plugins = tmp_path / "outside"
    scaffold(runner, plugins)
    with session_scope(get_storage(app)) as session:
        version = layers.active_version(session, "districts")
        district = session.scalar(select(GeoFeature.key).where(GeoFeature.version_id == version.id))
    feed_server["body"] = {
        "items": [
            {"id": "W-1", "title": "河川の水位上昇", "category": "river", "lon": 138.3,
             "lat": 34.87, "url": "https://feeds.example.jp/W-1",
             "suggest": {"hazard": "flood", "level": 3, "districts": [district],
                         "reason": "河川の水位が上昇しています。", "exercise": True}},
            {"id": "R-2", "title": "道路冠水", "category": "road_flooding", "lon": 138.31,
             "lat": 34.88},
        ]
    }  # fmt: skip
    outside = make_app(
        PLUGINS_DIR=str(plugins), PLUGINS={"river_feed": {"feed_url": feed_server["url"]}}
    )
    pm = outside.extensions["disaster_ai"]
    assert {p.name: p.status for p in pm.describe()}["river_feed"] == "active"

    # its table, made by its own migration history
    assert {"river_feed_items", "dai_schema_river_feed"} <= set(
        inspect(get_storage(outside).engine).get_table_names()
    )
    # its scheduled job, through egress.fetch (audited), twice: nothing is recorded twice
    desk = Desk(outside, "river_feed")
    assert "river_feed.poll" in desk.jobs.scheduled()
    desk.jobs.run_scheduled("river_feed.poll")
    desk.jobs.run_scheduled("river_feed.poll")
    assert feed_server["hits"] == 2
    with session_scope(get_storage(outside)) as session:
        incidents = list(session.scalars(select(Incident).order_by(Incident.id)))
        calls = [e.detail for e in _audit(session, "egress.call")]
    assert [i.external_ref for i in incidents] == ["river_feed:W-1", "river_feed:R-2"]
    assert [i.source for i in incidents] == ["feed", "feed"]
    assert len(calls) == 2 and calls[0]["kind"] == "feed"

    # its page, behind the login, and in the navigation
    client = outside.test_client()
    assert client.get("/apps/river-feed").status_code == 302
    _log_in(client, "operator", TEST_PASSWORDS, csrf_token_from)
    page = client.get("/apps/river-feed").get_data(as_text=True)
    assert 'data-ref="W-1"' in page and "河川の水位上昇" in page and "提案 #" in page
    assert 'href="/apps/river-feed"' in client.get("/").get_data(as_text=True)

    # one suggested notice, marked 提案, never issued by itself
    operator, approver = api_headers("operator"), api_headers("approver")
    listing = client.get("/api/v1/notices", headers=operator).get_json()["notices"]
    [suggested] = [n for n in listing if n.get("suggestion")]
    assert suggested["status"] == "draft" and suggested["suggestion"]["ref"] == "W-1"
    nid = suggested["id"]
    # the desk adopts it; an approver approves and issues it
    assert client.post(f"/api/v1/notices/{nid}/submit", headers=operator).status_code == 200
    approved = client.post(
        f"/api/v1/notices/{nid}/approve",
        json={"confirm_unopened_reason": "職員が向かっており、発令と同時に開設する"},
        headers=approver,
    )
    assert approved.status_code == 200, approved.get_json()
    issued = client.post(f"/api/v1/notices/{nid}/issue", headers=approver).get_json()
    assert issued["status"] == "issued" and issued["published_by"] == "approver"
    # polling again suggests nothing new: the item's suggestion exists (it was issued)
    desk.jobs.run_scheduled("river_feed.poll")
    listing = client.get("/api/v1/notices", headers=operator).get_json()["notices"]
    assert [n["id"] for n in listing if n.get("suggestion")] == [nid]


def _audit(session, action):
    from disaster_ai.storage.models import AuditEvent

    return session.scalars(select(AuditEvent).where(AuditEvent.action == action))


def _log_in(client, role, passwords, csrf_token_from):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": role, "password": passwords[role], "csrf_token": token}
    )
    assert response.status_code == 302


@pytest.mark.slow
@sqlite_only
def test_pip_install_e_then_pytest_passes_as_generated(runner, tmp_path):
    """The user's path: a virtual environment with disaster-ai, `pip install -e` of the new
    project, `pytest` in it. The throwaway environment sees this one's packages through a .pth
    file, so nothing is downloaded and this environment is not changed."""
    import os
    import site
    import subprocess

    root = scaffold(runner, tmp_path / "work")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    own_site = subprocess.run(
        [str(python), "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(own_site) / "parent_env.pth").write_text(
        f"import site; site.addsitedir({site.getsitepackages()[0]!r})\n", encoding="utf-8"
    )
    subprocess.run([str(python), "-m", "pip", "uninstall", "-q", "-y", "setuptools"], timeout=120)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "-e", str(root)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    tests = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root, capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout
