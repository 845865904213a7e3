"""Server time of the desk pages with the Yaizu data and 10k incidents (target < 300 ms each).

    .venv/bin/python benchmarks/bench_pages.py [--incidents 10000] [--runs 15]

Builds a throw-away instance (SQLite in a temp folder), loads the Yaizu sample through
`disaster-ai init --sample yaizu`, inserts synthetic incidents inside the districts, logs in as an
operator and an admin through the real login form, then times each page through the WSGI app
(Flask test client: server time, no network, no browser). In the same run it times the login
page as a baseline and prints each page's median, p90 and ratio to that baseline.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = {
    "operator": [
        "/",
        "/dashboard/feed.json",
        "/apps/situation",
        "/apps/situation/map-data.json",
        "/apps/situation/incidents",
        "/apps/situation/shelters",
        "/apps/notices",
        "/apps/calls",
        "/apps/bulletins",
    ],
    "admin": ["/admin/audit", "/admin/usage", "/-/plugins"],
}


def build(folder: Path, incidents: int):
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from disaster_ai.app import create_app
    from disaster_ai.apps.situation import layers
    from disaster_ai.apps.situation.models import INCIDENT_CATEGORIES, Incident
    from disaster_ai.cli import build_cli
    from disaster_ai.storage import get_storage, session_scope
    from disaster_ai.storage.base import now

    os.environ["DISASTER_AI_DEMO_PASSWORD_OPERATOR"] = "operator-bench-1"
    os.environ["DISASTER_AI_DEMO_PASSWORD_ADMIN"] = "admin-bench-1"
    app = create_app(
        {"LOG_LEVEL": "WARNING", "LOAD_ENTRY_POINTS": False}, instance_path=str(folder)
    )
    info = ScriptInfo(create_app=lambda: app, load_dotenv_defaults=False)
    result = CliRunner().invoke(build_cli(app), ["init", "--sample", "yaizu"], obj=info)
    assert result.exit_code == 0, result.output
    rng = random.Random(20261126)
    with app.app_context(), session_scope(get_storage(app)) as session:
        districts = layers.load_layer(session, "districts")
        points = districts.geometry.sample_points(size=incidents // len(districts) + 1, rng=7)
        coords = [
            (p.x, p.y, key)
            for multi, key in zip(points, districts["key"], strict=True)
            for p in multi.geoms
        ]
        start = now()
        session.add_all(
            Incident(
                category=rng.choice(INCIDENT_CATEGORIES),
                life_threat=rng.random() < 0.05,
                source="manual",
                status=rng.choice(["unverified", "confirmed", "resolved"]),
                occurred_at=start - timedelta(minutes=rng.randint(0, 2880)),
                lon=lon,
                lat=lat,
                district_key=key,
                description="bench",
            )
            for lon, lat, key in coords[:incidents]
        )
    return app


def login(app, username: str, password: str):
    from disaster_ai.testing import csrf_token_from

    client = app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.status_code
    return client


def timed(client, path: str, runs: int) -> list[float]:
    samples = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, (path, response.status_code)
        response.close()
        samples.append(elapsed)
    return samples[1:]  # the first call warms caches (layer preparation, templates)


def touch_an_incident(app, counter: int) -> None:
    """Edit one incident (as the service does: ``updated_at`` moves), so that the map data's
    cached incidents layer is rebuilt on the next request."""
    from sqlalchemy import update

    from disaster_ai.apps.situation.models import Incident
    from disaster_ai.storage import get_storage, session_scope
    from disaster_ai.storage.base import now

    with app.app_context(), session_scope(get_storage(app)) as session:
        session.execute(
            update(Incident)
            .where(Incident.id == 1 + counter % 100)
            .values(people=counter, updated_at=now())
        )


def timed_after_a_change(app, client, path: str, runs: int) -> list[float]:
    samples = []
    for run in range(runs + 1):
        touch_an_incident(app, run)
        started = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, (path, response.status_code)
        response.close()
        samples.append(elapsed)
    return samples[1:]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dai-bench-pages-") as tmp:
        app = build(Path(tmp), args.incidents)
        clients = {
            "operator": login(app, "operator", "operator-bench-1"),
            "admin": login(app, "admin", "admin-bench-1"),
        }
        baseline = statistics.median(timed(app.test_client(), "/login", args.runs))
        print(
            f"{args.incidents} incidents over the Yaizu layers, SQLite, {args.runs} runs per page "
            f"after one warm-up; {os.cpu_count()} cores"
        )
        print(f"baseline /login median {baseline * 1000:.1f} ms\n")
        print(f"{'page':<34} {'median ms':>10} {'p90 ms':>8} {'× login':>8}  target < 300 ms")
        worst = 0.0
        for role, paths in PAGES.items():
            for path in paths:
                samples = sorted(timed(clients[role], path, args.runs))
                median = statistics.median(samples)
                p90 = samples[int(0.9 * (len(samples) - 1))]
                worst = max(worst, median)
                flag = "ok" if median < 0.3 else "OVER"
                print(
                    f"{path:<34} {median * 1000:>10.1f} {p90 * 1000:>8.1f} {median / baseline:>8.1f}  {flag}"
                )
        # The map data keeps the incidents layer until an incident changes: time it rebuilt too.
        path = "/apps/situation/map-data.json"
        samples = sorted(timed_after_a_change(app, clients["operator"], path, args.runs))
        median = statistics.median(samples)
        p90 = samples[int(0.9 * (len(samples) - 1))]
        worst = max(worst, median)
        flag = "ok" if median < 0.3 else "OVER"
        print(
            f"{'  … after an incident changed':<34} {median * 1000:>10.1f} {p90 * 1000:>8.1f} "
            f"{median / baseline:>8.1f}  {flag}"
        )
        print(f"\nslowest page median: {worst * 1000:.1f} ms")


if __name__ == "__main__":
    main()
