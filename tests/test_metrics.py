"""``GET /metrics`` (Prometheus text behind METRICS_TOKEN) and the disk check of ``/healthz``."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from disaster_ai import hookimpl
from disaster_ai.jobs.service import beat
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.base import now
from disaster_ai.storage.models import Job
from disaster_ai.types import HealthCheck

TOKEN = "scrape-me-0123456789"
sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
SAMPLE = re.compile(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$")


def parse(text: str) -> dict[tuple[str, str], float]:
    """{(name, labels text): value}; every family has HELP and TYPE before its samples."""
    found, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not exposition format: {line!r}"
        name, labels, value = match.groups()
        assert name in typed, f"{name} has no TYPE line"
        found[(name, labels or "")] = float(value)
    return found


@sqlite_only
def test_metrics_is_404_without_a_token_and_401_with_a_wrong_one(make_app):
    client = make_app().test_client()
    response = client.get("/metrics")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"

    client = make_app(METRICS_TOKEN=TOKEN).test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthenticated"
        assert "トークン" in response.get_json()["error"]["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_metrics_report_the_queue_heartbeats_checks_and_disks(app, register_plugin):
    app.config["METRICS_TOKEN"] = TOKEN
    with session_scope(get_storage(app)) as session:
        session.add_all(
            [
                Job(kind="transcription.transcribe", run_after=now() - timedelta(seconds=42)),
                Job(kind="transcription.transcribe", run_after=now() + timedelta(hours=1)),
                Job(kind="transcription.transcribe", state="running"),
                Job(kind="bulletins.deliver", state="failed"),
            ]
        )
    beat(app, "scheduler", "scheduler")
    feed_time = now() - timedelta(minutes=3)

    class Feed:
        @hookimpl
        def dai_health_checks(self, app):
            return [HealthCheck("tide.feed", True, "fresh", critical=False, updated_at=feed_time)]

    register_plugin(Feed(), name="tide")
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.content_type == "text/plain; version=0.0.4; charset=utf-8"
    metrics = parse(response.get_data(as_text=True))

    transcribe = 'kind="transcription.transcribe"'
    assert metrics[("disaster_ai_job_queue_depth", transcribe)] == 2
    assert 42 <= metrics[("disaster_ai_job_queue_oldest_age_seconds", transcribe)] < 60
    assert metrics[("disaster_ai_jobs_running", transcribe)] == 1
    assert metrics[("disaster_ai_jobs_failed", 'kind="bulletins.deliver"')] == 1
    assert metrics[("disaster_ai_jobs_failed", transcribe)] == 0
    assert metrics[("disaster_ai_scheduler_heartbeat_age_seconds", "")] < 30
    assert metrics[("disaster_ai_worker_heartbeat_age_seconds", "")] == float("inf")  # none yet
    assert metrics[("disaster_ai_workers_alive", "")] == 0
    assert metrics[("disaster_ai_health_check_ok", 'check="database",critical="true"')] == 1
    assert metrics[("disaster_ai_health_check_ok", 'check="tide.feed",critical="false"')] == 1
    assert 180 <= metrics[("disaster_ai_feed_last_update_age_seconds", 'feed="tide.feed"')] < 240
    [(free_key, free)] = [
        (key, value) for key, value in metrics.items() if key[0] == "disaster_ai_disk_free_bytes"
    ]
    assert free_key[1].startswith('folder="instance"') and free > 0
    assert any(k[0] == "disaster_ai_info" and 'version="' in k[1] for k in metrics)


@sqlite_only
def test_healthz_is_degraded_when_the_disk_is_nearly_full(make_app):
    app = make_app(DISK_MIN_FREE_MB=10**9)  # a petabyte: no test disk has that free
    beat(app, "scheduler", "scheduler")
    beat(app, "worker:test", "worker")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded"
    disk = body["checks"]["disk"]
    assert disk["ok"] is False and disk["critical"] is True
    assert "空き容量" in disk["detail"] and "instance" in disk["detail"]

    app = make_app()
    healthy = app.test_client().get("/healthz").get_json()["checks"]["disk"]
    assert healthy["ok"] is True and "MiB" in healthy["detail"]


@sqlite_only
def test_a_folder_on_its_own_filesystem_is_watched_apart(app, monkeypatch, tmp_path):
    from pathlib import Path

    from disaster_ai import monitoring

    calls = Path(app.instance_path) / "calls"
    calls.mkdir(exist_ok=True)
    real_stat = Path.stat

    def stat(self, *args, **kwargs):  # calls/ as if mounted from another disk
        result = real_stat(self, *args, **kwargs)
        if self == calls:
            values = list(result)
            values[2] = result.st_dev + 1  # st_dev
            return type(result)(values)
        return result

    monkeypatch.setattr(Path, "stat", stat)
    assert set(monitoring.data_folders(app)) == {"instance", "calls"}
    assert {disk.folder for disk in monitoring.disks(app)} == {"instance", "calls"}
