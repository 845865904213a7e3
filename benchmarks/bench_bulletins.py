"""Benchmark: issuing one situation bulletin (被害状況 第N報) with the map and the PDF.

    .venv/bin/python benchmarks/bench_bulletins.py [--incidents 10000] [--runs 5] [--postgres URL]

A throwaway instance (SQLite by default) gets the Yaizu sample through ``disaster-ai init --sample
yaizu`` (the real layers: 35 districts, 87 shelters, the inland-flood zones) and N synthetic
incidents inside the city boundary (fixed seed). After one warm-up issue (which prepares the
layers once per process, as the scheduler does), it times, median of --runs:

- **full**: ``service.issue_bulletin`` (situation document, snapshot, map PNG, insert with the
  next number) followed by rendering the PDF: what issuing and delivering one bulletin costs;
- **baseline**: the same issue without the map, rendered to HTML and text only (no PDF);

and prints the ratio full / baseline, plus a breakdown (situation, map, PDF). The target is
full ≤ 3 s on a 2-core machine. Not a test: run it by hand and record the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 9, 5, 12, 0, tzinfo=JST)


def build_app(database_url: str | None, folder: Path):
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from disaster_ai.app import create_app
    from disaster_ai.cli import build_cli
    from disaster_ai.storage import get_storage

    app = create_app(
        {
            "DATABASE_URL": database_url or f"sqlite:///{folder / 'bench.sqlite3'}",
            "LOAD_ENTRY_POINTS": False,
            "PLUGINS_DIR": str(folder / "no-plugins"),
            "SECRET_KEY": "bench",
            "LOG_LEVEL": "WARNING",
        },
        instance_path=str(folder / "instance"),
    )
    get_storage(app).migrate()
    result = CliRunner().invoke(
        build_cli(app),
        ["init", "--sample", "yaizu", "--no-demo-users"],
        obj=ScriptInfo(create_app=lambda: app),
    )
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return app


def add_incidents(app, count: int, seed: int = 20260905) -> None:
    """``count`` incidents at random points inside the city boundary, over the last 24 hours."""
    import shapely
    from sqlalchemy import insert, select

    from disaster_ai.apps.situation.models import INCIDENT_CATEGORIES, Incident
    from disaster_ai.storage import get_storage, session_scope
    from disaster_ai.storage.models import Municipality

    rng = np.random.default_rng(seed)
    with session_scope(get_storage(app)) as session:
        boundary = shapely.geometry.shape(session.scalar(select(Municipality.boundary)))
        minx, miny, maxx, maxy = boundary.bounds
        lon = np.empty(0)
        lat = np.empty(0)
        while len(lon) < count:
            x = rng.uniform(minx, maxx, count)
            y = rng.uniform(miny, maxy, count)
            inside = shapely.contains_xy(boundary, x, y)
            lon, lat = np.r_[lon, x[inside]], np.r_[lat, y[inside]]
        minutes = rng.uniform(0, 24 * 60, count)
        categories = rng.choice(INCIDENT_CATEGORIES, count)
        statuses = rng.choice(["unverified", "confirmed", "resolved"], count, p=[0.4, 0.4, 0.2])
        rows = [
            {
                "category": str(categories[i]),
                "life_threat": bool(i % 20 == 0),
                "people": int(i % 5) or None,
                "vulnerable": bool(i % 13 == 0),
                "source": "call",
                "status": str(statuses[i]),
                "occurred_at": NOW - timedelta(minutes=float(minutes[i])),
                "created_at": NOW - timedelta(minutes=float(minutes[i])),
                "lon": float(lon[i]),
                "lat": float(lat[i]),
                "place_name": "",
            }
            for i in range(count)
        ]
        session.execute(insert(Incident), rows)


@contextlib.contextmanager
def scratch_database(postgres_url: str | None):
    """None (SQLite in the temporary folder), or a throwaway schema on the PostgreSQL server."""
    if not postgres_url:
        yield None
        return
    import uuid

    from sqlalchemy import create_engine

    schema = "bench_" + uuid.uuid4().hex[:10]
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in postgres_url else "?"
    try:
        yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--postgres",
        default=None,
        help="a PostgreSQL server URL (e.g. postgresql+psycopg://postgres@127.0.0.1/test): "
        "the benchmark runs in a throwaway schema there instead of SQLite",
    )
    args = parser.parse_args()

    from disaster_ai.apps.bulletins import render, service
    from disaster_ai.apps.situation import summary
    from disaster_ai.storage import get_storage, session_scope

    with (
        tempfile.TemporaryDirectory(prefix="bench-bulletins-") as tmp,
        scratch_database(args.postgres) as database_url,
    ):
        app = build_app(database_url, Path(tmp))
        add_incidents(app, args.incidents)
        app.extensions["disaster_ai.bulletins.clock"] = lambda: NOW
        event = service.open_event(app, "令和8年台風第10号", hazard="inland_flood")

        def stored(result):
            with session_scope(get_storage(app)) as session:
                return service.get_bulletin(session, result.bulletin_id)

        def full():
            bulletin = stored(service.issue_bulletin(app, event["id"]))
            pdf = render.render_pdf(bulletin.snapshot, bulletin.map_png)
            assert pdf.startswith(b"%PDF")

        def baseline():
            bulletin = stored(service.issue_bulletin(app, event["id"], with_map=False))
            render.render_html(bulletin.snapshot, None)
            render.render_text(bulletin.snapshot)

        warm = timed(full)  # prepares the layers once, as the first bulletin of a process does
        full_times, base_times = [], []
        for _ in range(args.runs):
            full_times.append(timed(full))
            base_times.append(timed(baseline))

        # breakdown, on the same data
        with app.app_context(), session_scope(get_storage(app)) as session:
            parts = {"situation": [], "map": [], "pdf": []}
            last = None
            for _ in range(args.runs):
                started = time.perf_counter()
                situation = summary.compute_situation(
                    session, "inland_flood", NOW - timedelta(hours=3), NOW
                )
                parts["situation"].append(time.perf_counter() - started)
                parts["map"].append(timed(lambda s=situation: summary.png_bytes(s)))
            with session_scope(get_storage(app)) as other:
                last = service.get_bulletin(
                    other, service.list_bulletins(other, event["id"])[0]["id"]
                )
            for _ in range(args.runs):
                parts["pdf"].append(timed(lambda: render.render_pdf(last.snapshot, last.map_png)))
        pdf_bytes = len(render.render_pdf(last.snapshot, last.map_png))
        incidents = last.snapshot["situation"]["incidents"]["total"]

    full_median = statistics.median(full_times)
    base_median = statistics.median(base_times)
    print(
        f"bulletin benchmark: {incidents} incidents on the Yaizu layers "
        f"({'PostgreSQL' if args.postgres else 'SQLite'}), {args.runs} runs, median"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}"
    )
    print(f"  first issue in this process (layers prepared): {warm:6.3f} s")
    print(
        f"  full     (issue + map + PDF):                 {full_median:6.3f} s  "
        f"[{min(full_times):.3f}–{max(full_times):.3f}]  target ≤ 3 s: "
        f"{'met' if full_median <= 3 else 'MISSED'}"
    )
    print(
        f"  baseline (issue, no map, HTML + text):        {base_median:6.3f} s  "
        f"[{min(base_times):.3f}–{max(base_times):.3f}]"
    )
    print(f"  ratio full / baseline:                         {full_median / base_median:6.2f}")
    print(
        "  breakdown: "
        + ", ".join(f"{k} {statistics.median(v):.3f} s" for k, v in parts.items())
        + f"; PDF {pdf_bytes / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
