"""``GET /metrics``: Prometheus text (exposition format 0.0.4) behind a Bearer token.

``METRICS_TOKEN`` unset: the endpoint does not exist (404). A missing or wrong token: 401. Both
answer in the app's one JSON error format. Every scrape reads the database afresh (a few
aggregate queries) and asks the ``dai_health_checks`` hook, so plugins contribute without the
core knowing them: each check becomes ``disaster_ai_health_check_ok``, and a check that carries
``updated_at`` (the JMA feed's last update, say) becomes ``disaster_ai_feed_last_update_age_seconds``.
docs/deploy.md lists the metrics and a Prometheus scrape job.
"""

from __future__ import annotations

import hmac
import math
import time

from flask import Blueprint, Response, current_app, request
from flask_babel import gettext as _

from disaster_ai import __version__, monitoring
from disaster_ai.api.framework import error_response
from disaster_ai.errors import ApiError
from disaster_ai.jobs.service import get_handlers
from disaster_ai.plugins import safe_collect
from disaster_ai.storage.base import now

bp = Blueprint("metrics", __name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape_label(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NaN"
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class Exposition:
    """Families of gauges, written in the text format: HELP, TYPE, then the samples."""

    def __init__(self):
        self.lines: list[str] = []

    def gauge(self, name: str, help_text: str, samples) -> None:
        """``samples``: a number, or an iterable of (labels dict, number)."""
        self.lines.append(f"# HELP {name} {help_text.replace(chr(92), chr(92) * 2)}")
        self.lines.append(f"# TYPE {name} gauge")
        if not isinstance(samples, list | tuple):
            samples = [({}, samples)]
        for labels, value in samples:
            label_text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
            self.lines.append(
                f"{name}{{{label_text}}} {_number(value)}" if labels else f"{name} {_number(value)}"
            )

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _authorised(token: str) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode())


def render(app) -> str:
    started = time.monotonic()
    out = Exposition()
    out.gauge(
        "disaster_ai_info",
        "The disaster-ai version, database and job runner (always 1).",
        [
            (
                {
                    "version": __version__,
                    "database": app.extensions["disaster_ai.storage"].dialect,
                    "job_runner": app.config["JOB_RUNNER"],
                },
                1,
            )
        ],
    )
    stats = monitoring.queue_stats(app)
    kinds = sorted(set(get_handlers(app)) | {kind for kind, _state in stats.counts})

    def per_kind(state):
        return [({"kind": kind}, stats.counts.get((kind, state), 0)) for kind in kinds]

    out.gauge(
        "disaster_ai_job_queue_depth",
        "Jobs waiting (queued, due or not), per kind.",
        per_kind("queued"),
    )
    out.gauge(
        "disaster_ai_job_queue_oldest_age_seconds",
        "How long the oldest due queued job has waited for a worker, per kind (0: none waits).",
        [({"kind": kind}, stats.oldest_due.get(kind, 0.0)) for kind in kinds],
    )
    out.gauge("disaster_ai_jobs_running", "Jobs running now, per kind.", per_kind("running"))
    out.gauge(
        "disaster_ai_jobs_failed", "Jobs that gave up (all time), per kind.", per_kind("failed")
    )
    out.gauge(
        "disaster_ai_scheduler_heartbeat_age_seconds",
        "Seconds since the scheduler's last heartbeat (+Inf: never).",
        math.inf if stats.scheduler_age is None else stats.scheduler_age,
    )
    out.gauge(
        "disaster_ai_worker_heartbeat_age_seconds",
        "Seconds since the freshest job worker heartbeat (+Inf: never).",
        math.inf if stats.worker_age is None else stats.worker_age,
    )
    out.gauge(
        "disaster_ai_workers_alive",
        "Job workers whose heartbeat is younger than JOB_STALE_SECONDS.",
        stats.workers_alive,
    )
    checks = safe_collect(app.extensions["disaster_ai"], "dai_health_checks", app=app)
    out.gauge(
        "disaster_ai_health_check_ok",
        "1 when the /healthz check passes, else 0.",
        [({"check": c.name, "critical": str(c.critical).lower()}, int(c.ok)) for c in checks],
    )
    out.gauge(
        "disaster_ai_healthy",
        "1 when every critical /healthz check passes (/healthz answers 200), else 0.",
        int(all(c.ok for c in checks if c.critical)),
    )
    moment = now()
    updates = [
        ({"feed": c.name}, max(0.0, (moment - c.updated_at).total_seconds()))
        for c in checks
        if getattr(c, "updated_at", None) is not None
    ]
    out.gauge(
        "disaster_ai_feed_last_update_age_seconds",
        "Seconds since a feed last updated, as its /healthz check reports it (JMA: the feed's own time).",
        updates,
    )
    found = monitoring.disks(app)
    out.gauge(
        "disaster_ai_disk_free_bytes",
        "Free bytes on the filesystem of each data folder (the instance, uploads on their own disk).",
        [({"folder": d.folder, "path": d.path}, d.free) for d in found],
    )
    out.gauge(
        "disaster_ai_disk_total_bytes",
        "Size in bytes of the filesystem of each data folder.",
        [({"folder": d.folder, "path": d.path}, d.total) for d in found],
    )
    out.gauge(
        "disaster_ai_scrape_duration_seconds",
        "How long this page took to gather.",
        round(time.monotonic() - started, 6),
    )
    return out.text()


@bp.get("/metrics")
def metrics():
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        return error_response(ApiError(404, "not_found", _("No such resource.")))
    if not _authorised(str(token)):
        response = error_response(
            ApiError(401, "unauthenticated", _("Send the metrics token as a Bearer token."))
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    app = current_app._get_current_object()
    return Response(render(app), content_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})
