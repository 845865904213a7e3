"""Benchmark: a full situation summary over the Yaizu layers with synthetic incidents.

    .venv/bin/python benchmarks/bench_situation.py [--sizes 1000,10000,100000,1000000] [--runs 5]

For each size it prints the median wall time (and CPU time, both threads) of
``summary.situation_from_frames``: everything after the database reads — incidents → districts
and hazard ranks, counts per district by category, severity and time window, new-since counts,
population exposed (areal weighting, overlays computed every time), shelter assessment, nearest
usable and suitable shelter per district, hotspots, and the JSON document. The layers are prepared
once (split parts, projections, grid indices: the analogue of spatial indexes) and that time is
printed on its own. Then: peak traced memory (tracemalloc, a separate run; GEOS allocations are
not traced), the ratio against a naive implementation (a per-incident shapely loop timed on a
subset and extrapolated linearly, plus a naive layer part timed once), and the ratio against
PostGIS when a PostGIS server is reachable (else it says why it was skipped). Finally the same
summary end to end from a SQLite database. The layers come from sample_data/yaizu directly; the
incidents are generated inside the city boundary with a fixed seed.

Not a test: run it by hand and record the figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from disaster_ai.apps.situation import analysis, summary  # noqa: E402
from disaster_ai.apps.situation.models import INCIDENT_CATEGORIES  # noqa: E402

JST = ZoneInfo("Asia/Tokyo")
SAMPLE = ROOT / "sample_data" / "yaizu"
NOW = datetime(2025, 9, 5, 10, 0, tzinfo=JST)
HAZARD = "inland_flood"
POSTGRES_URL = os.environ.get(
    "DISASTER_AI_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


# --- layers straight from the sample kit ---------------------------------------------------------


def yaizu_layer_frames(directory: Path = SAMPLE) -> dict[str, gpd.GeoDataFrame]:
    """The sample kit's layers through the real importer and the kit's mappings (no database)."""
    from disaster_ai.apps.situation.importer import read_sample_frames

    frames = read_sample_frames(directory)
    return {layer: frames[layer] for layer in ("districts", "shelters", "hazard_zones")}


def synthetic_incidents(n: int, seed: int = 20250905) -> pd.DataFrame:
    """n incidents inside the city boundary: 90 % spread evenly, 10 % in 20 clusters (σ 120 m);
    times over the last 24 h; fixed seed."""
    rng = np.random.default_rng(seed)
    boundary = gpd.read_file(SAMPLE / "yaizu_city_boundary.geojson").geometry.values
    kx, ky = analysis.metres_per_degree(34.87)
    inside = analysis.PolygonGridIndex(boundary, [0], 20 / kx, 20 / ky)
    minx, miny, maxx, maxy = shapely.total_bounds(boundary)
    lon = np.empty(0)
    lat = np.empty(0)
    n_spread = n - n // 10
    while len(lon) < n_spread:
        x = rng.uniform(minx, maxx, n_spread * 2)
        y = rng.uniform(miny, maxy, n_spread * 2)
        keep = inside.lookup(x, y) == 0
        lon, lat = np.r_[lon, x[keep]], np.r_[lat, y[keep]]
    lon, lat = lon[:n_spread], lat[:n_spread]
    centres = rng.integers(0, n_spread, 20)
    which = rng.integers(0, 20, n - n_spread)
    lon = np.r_[lon, lon[centres][which] + rng.normal(0, 120 / kx, n - n_spread)]
    lat = np.r_[lat, lat[centres][which] + rng.normal(0, 120 / ky, n - n_spread)]
    minutes = rng.uniform(0, 24 * 60, n)
    occurred = (pd.Timestamp(NOW) - pd.to_timedelta(minutes, unit="min")).floor("s")
    created = np.minimum(
        occurred + pd.to_timedelta(rng.uniform(0, 30, n), unit="min"), pd.Timestamp(NOW)
    ).floor("s")
    weights = np.array([4, 8, 10, 2, 1, 1, 2, 2, 2, 3, 2, 3, 2, 2, 3], dtype=float)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "category": pd.Categorical.from_codes(
                rng.choice(len(INCIDENT_CATEGORIES), n, p=weights / weights.sum()),
                categories=list(INCIDENT_CATEGORIES),
            ),
            "life_threat": rng.random(n) < 0.03,
            "people": np.where(rng.random(n) < 0.5, rng.integers(1, 7, n), np.nan),
            "vulnerable": rng.random(n) < 0.08,
            "source": pd.Categorical.from_codes(
                rng.integers(0, 4, n), categories=["call", "manual", "plugin", "feed"]
            ),
            "status": pd.Categorical.from_codes(
                rng.choice(3, n, p=[0.45, 0.40, 0.15]),
                categories=["unverified", "confirmed", "resolved"],
            ),
            "occurred_at": occurred,
            "created_at": pd.DatetimeIndex(created),
            "lon": lon,
            "lat": lat,
            "district_key": None,
        }
    )


def shelter_status(layers: analysis.Layers) -> pd.DataFrame:
    keys = layers.shelters["key"].to_numpy()[: len(layers.shelters) // 2]
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "shelter_key": keys,
            "is_open": rng.random(len(keys)) < 0.7,
            "occupancy": rng.integers(0, 200, len(keys)),
            "updated_at": [NOW] * len(keys),
        }
    )


# --- the measured call -----------------------------------------------------------------------------


def full_summary(layers, incidents, status):
    return summary.situation_from_frames(
        layers, incidents, status, hazard=HAZARD, since=NOW - timedelta(hours=1), now=NOW
    ).doc


def timed(fn, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def peak_memory(fn) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- naive baseline ----------------------------------------------------------------------------------


def naive_incident_loop(frames, incidents: pd.DataFrame) -> dict:
    """Per incident: a shapely Point, ``contains`` against each district and each hazard-rank
    multipolygon in turn (no spatial index, no preparation, no splitting), then the same counts as
    the summary (per district: by category, life threat, time windows, new since). No hotspots:
    done naively they are quadratic."""
    from shapely.geometry import Point

    districts = list(frames["districts"].geometry)
    keys = list(frames["districts"]["key"])
    zones = list(frames["hazard_zones"].geometry)
    ranks = [p["rank"] for p in frames["hazard_zones"]["props"]]
    now = pd.Timestamp(NOW)
    since = now - pd.Timedelta(hours=1)
    windows = [pd.Timedelta(minutes=m) for m in (60, 180, 1440)]
    counts: dict = {}
    for lon, lat, category, status, life, occurred, created in zip(
        incidents["lon"],
        incidents["lat"],
        incidents["category"],
        incidents["status"],
        incidents["life_threat"],
        incidents["occurred_at"],
        incidents["created_at"],
        strict=True,
    ):
        point = Point(lon, lat)
        district = next(
            (k for k, g in zip(keys, districts, strict=True) if g.contains(point)), None
        )
        rank = next((r for r, g in zip(ranks, zones, strict=True) if g.contains(point)), None)
        counts[(district, "total")] = counts.get((district, "total"), 0) + 1
        if created > since:
            counts[(district, "new")] = counts.get((district, "new"), 0) + 1
        if status == "resolved":
            continue
        counts[(district, category)] = counts.get((district, category), 0) + 1
        counts[("rank", rank)] = counts.get(("rank", rank), 0) + 1
        if life:
            counts[(district, "life")] = counts.get((district, "life"), 0) + 1
        for window in windows:
            if occurred >= now - window:
                counts[(district, window)] = counts.get((district, window), 0) + 1
    return counts


def naive_layers(frames, status: pd.DataFrame) -> dict:
    """The incident-independent part, naively: each district intersected with each whole
    (unsplit) rank multipolygon; each shelter tested against each rank; for each district the
    distance to every usable shelter. In EPSG:6676."""
    districts = frames["districts"].to_crs(6676)
    zones = frames["hazard_zones"].to_crs(6676)
    shelters = frames["shelters"].to_crs(6676)
    open_keys = set(status.loc[status["is_open"], "shelter_key"])
    exposure = {}
    for key, props, geom in zip(
        districts["key"], districts["props"], districts.geometry, strict=True
    ):
        for zprops, zgeom in zip(zones["props"], zones.geometry, strict=True):
            exposure[(key, zprops["rank"])] = (
                props["population"] * geom.intersection(zgeom).area / geom.area
            )
    usable = []
    for key, props, point in zip(
        shelters["key"], shelters["props"], shelters.geometry, strict=True
    ):
        in_zone = any(z.intersects(point) for z in zones.geometry)
        if HAZARD in props["hazards"] and key in open_keys and not in_zone:
            usable.append((key, point))
    nearest = {}
    for key, geom in zip(districts["key"], districts.geometry, strict=True):
        inside = geom.representative_point()
        nearest[key] = min(((inside.distance(point), skey) for skey, point in usable), default=None)
    return {"exposure": exposure, "usable": usable, "nearest": nearest}


# --- PostGIS -----------------------------------------------------------------------------------------


def postgis_connection():
    """A psycopg connection with PostGIS, or (None, why not)."""
    try:
        import psycopg
    except ImportError as exc:
        return None, f"psycopg missing ({exc})"
    try:
        connection = psycopg.connect(POSTGRES_URL, connect_timeout=3, autocommit=True)
    except Exception as exc:  # noqa: BLE001 - any failure means "skip"
        return (
            None,
            f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}: {exc}".strip(),
        )
    try:
        connection.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except Exception as exc:  # noqa: BLE001
        connection.close()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, (
            f"PostgreSQL is reachable but CREATE EXTENSION postgis failed: {first} "
            "(install Debian's postgresql-15-postgis-3 to compare)"
        )
    return connection, None


def postgis_setup(connection, frames, status: pd.DataFrame) -> None:
    """Load the layers once: districts, hazard parts split with ST_Subdivide, shelters; GiST indexes."""
    cur = connection.cursor()
    cur.execute(
        "DROP SCHEMA IF EXISTS bench_situation CASCADE; CREATE SCHEMA bench_situation; "
        "SET search_path TO bench_situation, public"
    )
    cur.execute(
        "CREATE TABLE districts (pos int, key text, population float, geom geometry(MultiPolygon, 4326))"
    )
    for pos, (key, props, geom) in enumerate(
        zip(
            frames["districts"]["key"],
            frames["districts"]["props"],
            frames["districts"].geometry,
            strict=True,
        )
    ):
        cur.execute(
            "INSERT INTO districts VALUES (%s, %s, %s, ST_Multi(ST_GeomFromText(%s, 4326)))",
            (pos, key, props["population"], geom.wkt),
        )
    cur.execute("CREATE TABLE zones_raw (rank text, rank_order int, geom geometry(Geometry, 4326))")
    for props, geom in zip(
        frames["hazard_zones"]["props"], frames["hazard_zones"].geometry, strict=True
    ):
        cur.execute(
            "INSERT INTO zones_raw VALUES (%s, %s, ST_GeomFromText(%s, 4326))",
            (props["rank"], props["rank_order"], geom.wkt),
        )
    cur.execute(
        "CREATE TABLE zones AS SELECT rank, rank_order, ST_Subdivide((ST_Dump(geom)).geom, 64) AS geom "
        "FROM zones_raw"
    )
    cur.execute(
        "CREATE TABLE shelters (pos int, key text, designated bool, is_open bool, geom geometry(Point, 4326))"
    )
    open_keys = set(status.loc[status["is_open"], "shelter_key"])
    for pos, (key, props, geom) in enumerate(
        zip(
            frames["shelters"]["key"],
            frames["shelters"]["props"],
            frames["shelters"].geometry,
            strict=True,
        )
    ):
        cur.execute(
            "INSERT INTO shelters VALUES (%s, %s, %s, %s, ST_GeomFromText(%s, 4326))",
            (pos, key, HAZARD in props["hazards"], key in open_keys, geom.wkt),
        )
    for table in ("districts", "zones", "shelters"):
        cur.execute(f"CREATE INDEX ON {table} USING gist (geom); ANALYZE {table}")


def postgis_load_incidents(connection, incidents: pd.DataFrame) -> None:
    cur = connection.cursor()
    cur.execute(
        "SET search_path TO bench_situation, public; DROP TABLE IF EXISTS incidents; "
        "CREATE TABLE incidents (id bigint, category text, status text, life_threat bool, "
        "occurred_at timestamptz, geom geometry(Point, 4326))"
    )
    with cur.copy(
        "COPY incidents (id, category, status, life_threat, occurred_at, geom) FROM STDIN"
    ) as copy:
        for row in zip(
            incidents["id"],
            incidents["category"].astype(str),
            incidents["status"].astype(str),
            incidents["life_threat"],
            incidents["occurred_at"],
            incidents["lon"],
            incidents["lat"],
            strict=True,
        ):
            copy.write_row(
                (
                    int(row[0]),
                    row[1],
                    row[2],
                    bool(row[3]),
                    row[4].to_pydatetime(),
                    f"SRID=4326;POINT({row[5]} {row[6]})",
                )
            )
    cur.execute("CREATE INDEX ON incidents USING gist (geom); ANALYZE incidents")


POSTGIS_QUERIES = [
    # incidents per district × category (active)
    "SELECT d.pos, i.category, count(*) FROM incidents i JOIN districts d ON ST_Intersects(d.geom, i.geom) "
    "WHERE i.status <> 'resolved' GROUP BY d.pos, i.category",
    # incidents per hazard rank
    "SELECT z.rank, count(*) FROM incidents i JOIN zones z ON ST_Intersects(z.geom, i.geom) "
    "WHERE i.status <> 'resolved' GROUP BY z.rank",
    # zone area share per district (metric CRS)
    "SELECT d.pos, z.rank, sum(ST_Area(ST_Transform(ST_Intersection(d.geom, z.geom), 6676))) "
    "FROM districts d JOIN zones z ON ST_Intersects(d.geom, z.geom) GROUP BY d.pos, z.rank",
    # shelters in the zone
    "SELECT DISTINCT s.pos FROM shelters s JOIN zones z ON ST_Intersects(z.geom, s.geom)",
    # nearest usable shelter per district
    "SELECT d.pos, n.pos, n.dist FROM districts d CROSS JOIN LATERAL ("
    "  SELECT s.pos, ST_Distance(ST_Transform(s.geom, 6676), ST_Transform(ST_PointOnSurface(d.geom), 6676)) AS dist"
    "  FROM shelters s WHERE s.designated AND s.is_open AND NOT EXISTS ("
    "    SELECT 1 FROM zones z WHERE ST_Intersects(z.geom, s.geom))"
    "  ORDER BY s.geom <-> ST_PointOnSurface(d.geom) LIMIT 1) n",
]


def postgis_time(connection) -> float:
    cur = connection.cursor()
    cur.execute("SET search_path TO bench_situation, public")
    started = time.perf_counter()
    for query in POSTGIS_QUERIES:
        cur.execute(query)
        cur.fetchall()
    return time.perf_counter() - started


# --- end to end from SQLite -------------------------------------------------------------------------


def database_timings(frames, sizes: list[int], runs: int) -> list[tuple[int, float, float]]:
    """(n, median s of summary.build_situation from a SQLite database, of which reading rows) for
    each size: the API's path, database reads included (layers already prepared and cached)."""
    import tempfile

    from sqlalchemy import insert

    from disaster_ai.app import create_app
    from disaster_ai.apps.situation import layers as layer_store
    from disaster_ai.apps.situation.models import Incident
    from disaster_ai.storage import get_storage, session_scope

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
                "LOAD_ENTRY_POINTS": False,
                "PLUGINS_DIR": f"{tmp}/plugins",
                "SECRET_KEY": "bench",
                "LOG_LEVEL": "WARNING",
            },
            instance_path=f"{tmp}/instance",
        )
        storage = get_storage(app)
        storage.migrate()
        with app.app_context(), session_scope(storage) as session:
            for layer, frame in frames.items():
                layer_store.store_layer_version(session, layer, frame, source_name=layer)
        loaded = 0
        for n in sizes:
            incidents = synthetic_incidents(n)
            rows = incidents.iloc[loaded:n]
            records = [
                {
                    "category": c,
                    "life_threat": bool(lt),
                    "people": None if p != p else int(p),
                    "vulnerable": bool(v),
                    "source": str(src),
                    "status": str(st),
                    "occurred_at": o.to_pydatetime(),
                    "created_at": cr.to_pydatetime(),
                    "updated_at": cr.to_pydatetime(),
                    "lon": x,
                    "lat": y,
                }
                for c, lt, p, v, src, st, o, cr, x, y in zip(
                    rows["category"].astype(str),
                    rows["life_threat"],
                    rows["people"],
                    rows["vulnerable"],
                    rows["source"],
                    rows["status"],
                    rows["occurred_at"],
                    rows["created_at"],
                    rows["lon"],
                    rows["lat"],
                    strict=True,
                )
            ]
            with session_scope(storage) as session:
                session.execute(insert(Incident), records)
            loaded = n
            with app.app_context(), session_scope(storage) as session:
                summary.build_situation(
                    session, HAZARD, NOW - timedelta(hours=1), NOW
                )  # prepares the layers
                total, _ = timed(
                    lambda session=session: summary.build_situation(
                        session, HAZARD, NOW - timedelta(hours=1), NOW
                    ),
                    runs,
                )
            out.append((n, total))
        storage.dispose()
    return out


# --- main --------------------------------------------------------------------------------------------


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument(
        "--runs", type=int, default=5, help="timed runs per size (3 at 1M and above)"
    )
    parser.add_argument("--naive", type=int, default=2000, help="incidents timed in the naive loop")
    parser.add_argument(
        "--db-sizes",
        default="10000,100000",
        help="sizes for the end-to-end timing from a SQLite database ('' to skip)",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), geopandas {gpd.__version__}, "
        f"numpy {np.__version__}, pandas {pd.__version__}"
    )
    frames = yaizu_layer_frames()
    started = time.perf_counter()
    layers = analysis.prepare_layers(
        frames["districts"], frames["shelters"], frames["hazard_zones"]
    )
    prepare = time.perf_counter() - started
    print(
        f"prepare layers (once per layer version: split parts, projections, grid indices): {prepare:.3f} s; "
        f"{layers.stats['zone_parts']} hazard parts, CRS {layers.crs.to_string()}"
    )
    status = shelter_status(layers)

    sample = synthetic_incidents(args.naive, seed=7)
    started = time.perf_counter()
    naive_incident_loop(frames, sample)
    naive_rate = (time.perf_counter() - started) / args.naive
    started = time.perf_counter()
    naive_layers(frames, status)
    naive_fixed = time.perf_counter() - started
    print(
        f"naive baseline: per-incident shapely loop {naive_rate * 1e3:.3f} ms per incident (timed on {args.naive} "
        f"incidents, extrapolated linearly) + naive layer part {naive_fixed:.2f} s (timed once); no hotspots"
    )

    connection, why = postgis_connection()
    if connection is None:
        print(f"PostGIS: skipped, {why}")
    else:
        postgis_setup(connection, frames, status)
        print(
            "PostGIS: connected; the same queries (per-district/category and per-rank counts, zone share per "
            "district, shelters in the zone, nearest usable shelter) run on GiST-indexed tables, "
            "hazard parts split with ST_Subdivide(…, 64)"
        )

    print()
    print(
        f"{'incidents':>10} {'median s':>9} {'cpu s':>6} {'runs (wall s)':>26} {'peak MiB':>9} "
        f"{'naive s (extrap.)':>18} {'× naive':>8} {'PostGIS s':>10} {'× PostGIS':>9}"
    )
    for n in sizes:
        incidents = synthetic_incidents(n)
        full_summary(layers, incidents, status)  # warm-up
        runs = args.runs if n < 1_000_000 else min(args.runs, 3)
        cpu_started = time.process_time()
        median, times = timed(
            lambda incidents=incidents: full_summary(layers, incidents, status), runs
        )
        cpu = (time.process_time() - cpu_started) / runs
        peak = peak_memory(lambda incidents=incidents: full_summary(layers, incidents, status))
        naive = naive_rate * n + naive_fixed
        pg = "—"
        pg_ratio = "—"
        if connection is not None:
            postgis_load_incidents(connection, incidents)
            pg_median, _ = timed(lambda: postgis_time(connection), max(1, min(runs, 3)))
            pg, pg_ratio = f"{pg_median:.3f}", f"{pg_median / median:.1f}"
        print(
            f"{n:>10} {median:>9.3f} {cpu:>6.3f} {' '.join(f'{t:.3f}' for t in times):>26} {peak / 2**20:>9.1f} "
            f"{naive:>18.1f} {naive / median:>8.0f} {pg:>10} {pg_ratio:>9}"
        )
    if args.db_sizes:
        print(
            "\nend to end from SQLite (summary.build_situation: incident and status rows read with SQLAlchemy "
            "Core, layers prepared once and cached):"
        )
        for n, total in database_timings(frames, [int(s) for s in args.db_sizes.split(",")], 3):
            print(f"{n:>10} incidents: median {total:.3f} s")
    print(
        f"\nmax resident set size of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    if connection is not None:
        connection.execute("DROP SCHEMA IF EXISTS bench_situation CASCADE")
        connection.close()


if __name__ == "__main__":
    main()
