"""Benchmark: locating incidents and the situation summary, against baselines someone would
actually choose, measured in the same run.

    .venv/bin/python benchmarks/bench_situation.py [--kits yaizu,ichinomiya]
        [--sizes 10000,100000,1000000] [--runs 3] [--no-install-postgis]

The task compared is the heart of the summary: for N incidents, the district of each, the
deepest hazard rank at each, and the counts of active incidents per district × category and per
rank. It is timed three ways on the same incidents:

* **ours**: ``analysis.incident_arrays`` + ``locate_incidents`` (grid index over the prepared
  layers) + ``incident_counts``;
* **geopandas sjoin**: a plain ``gpd.sjoin`` (STRtree) of the points with the districts and with
  the hazard zones, then pandas group-bys: what a GIS developer writes first;
* **PostGIS**: the incidents in a table with a GiST index (loaded with COPY; the load time is
  printed apart), districts and zones with GiST indexes, zones split with
  ``ST_Subdivide(…, 64)``; two GROUP BY queries. When the server lacks PostGIS, the benchmark
  installs Debian's ``postgresql-<major>-postgis-3`` (root only; ``--no-install-postgis`` to
  skip) or prints exactly why it could not.

Then the **full summary** (``summary.situation_from_frames``: counts, windows, exposure, shelter
assessment, nearest shelters, hotspots, the JSON document) and its peak traced memory. Kits:
``yaizu`` (sample_data: 35 自治会 districts, the 内水 zones) and ``ichinomiya`` (the pilot kit of
tests/fixtures/pilot: 420 provisional districts from the Geolonia town points clipped to the
N03 outline, GSI shelters, **no hazard zones**, so the rank part is empty there). Incidents are
generated inside the municipal outline with a fixed seed. Finally the summary end to end from a
SQLite database (yaizu). Not a test: run it by hand and record the figures in
docs/benchmarks.md.
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
PILOT = ROOT / "tests" / "fixtures" / "pilot"
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


def pilot_layer_frames(kit: str = "ichinomiya") -> tuple[dict[str, gpd.GeoDataFrame], object]:
    """A pilot kit's layers as the pilot path makes them (docs/pilot.md), without a database:
    GSI shelters, provisional districts from the Geolonia town points clipped to the N03
    outline, no hazard zones. Returns (frames, outline)."""
    import json

    from disaster_ai.apps.situation.importer import read_layer
    from disaster_ai.apps.situation.importing.geometry import voronoi_districts
    from disaster_ai.municipality import table

    folder = PILOT / kit
    outline = shapely.geometry.shape(
        json.loads(next(folder.glob("n03_*.geojson")).read_text(encoding="utf-8"))["geometry"]
    )
    entry = table.by_jis(
        json.loads(next(folder.glob("n03_*.geojson")).read_text())["properties"]["N03_007"]
    )
    shelters = pd.concat(
        [
            read_layer(path, "shelters", None, municipality=entry).frame
            for path in sorted(folder.glob("gsi_*.csv"))
        ],
        ignore_index=True,
    )
    places = read_layer(next(folder.glob("geolonia_*")), "places", None, municipality=entry).frame
    groups = [str(p.get("town") or n) for p, n in zip(places["props"], places["name"], strict=True)]
    order = list(dict.fromkeys(groups))
    centre = outline.representative_point()
    shapes = voronoi_districts(places, groups, outline, analysis.metric_crs(centre.x, centre.y))
    districts = gpd.GeoDataFrame(
        {
            "key": [f"town-{n}" for n in order],
            "name": order,
            "name_kana": [""] * len(order),
            "props": [{"code": None, "population": None, "population_source": ""} for _ in order],
        },
        geometry=gpd.GeoSeries(shapes, crs=4326),
        crs=4326,
    )
    zones = gpd.GeoDataFrame(
        {"key": [], "name": [], "name_kana": [], "props": []},
        geometry=gpd.GeoSeries([], crs=4326),
        crs=4326,
    )
    frames = {
        "districts": districts,
        "shelters": gpd.GeoDataFrame(shelters, geometry="geometry", crs=4326),
        "hazard_zones": zones,
    }
    return frames, outline


def synthetic_incidents(n: int, seed: int = 20250905, boundary=None) -> pd.DataFrame:
    """n incidents inside the municipal outline (default: Yaizu's): 90 % spread evenly, 10 % in
    20 clusters (σ 120 m); times over the last 24 h; fixed seed."""
    rng = np.random.default_rng(seed)
    if boundary is None:
        boundary = gpd.read_file(SAMPLE / "yaizu_city_boundary.geojson").geometry.values
    else:
        boundary = np.array([boundary], dtype=object)
    kx, ky = analysis.metres_per_degree(float(shapely.centroid(boundary[0]).y))
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


def full_summary(layers, incidents, status, hazard=HAZARD):
    return summary.situation_from_frames(
        layers, incidents, status, hazard=hazard, since=NOW - timedelta(hours=1), now=NOW
    ).doc


def ours_task(layers, incidents, hazard):
    """The compared task, our way: district and deepest rank of each incident, active counts per
    district × category and per rank."""
    inc = analysis.incident_arrays(incidents)
    district, rank = analysis.locate_incidents(layers, inc, hazard)
    counts = analysis.incident_counts(
        inc, district, len(layers.districts), now=NOW, since=None, windows_minutes=(60,)
    )
    ranks = layers.zone_ranks.get(hazard, [])
    active = inc.active & (rank >= 0)
    per_rank = np.bincount(rank[active], minlength=len(ranks)) if ranks else np.zeros(0)
    return counts["by_category"], per_rank


def sjoin_task(frames, incidents, hazard):
    """The same task with a plain geopandas sjoin (STRtree) and pandas group-bys."""
    points = gpd.GeoDataFrame(
        incidents[["id", "category", "status"]],
        geometry=gpd.points_from_xy(incidents["lon"], incidents["lat"]),
        crs=4326,
    )
    districts = frames["districts"][["key", "geometry"]]
    located = gpd.sjoin(points, districts, how="left", predicate="within")
    located = located[~located.index.duplicated(keep="first")]  # a shared edge counts once
    active = located["status"] != "resolved"
    by_district = (
        located[active].groupby(["key", "category"], observed=True).size().unstack(fill_value=0)
    )
    zones = frames["hazard_zones"]
    if len(zones):
        z = gpd.GeoDataFrame(
            {
                "hazard": [p["hazard"] for p in zones["props"]],
                "rank": [p["rank"] for p in zones["props"]],
                "rank_order": [p["rank_order"] for p in zones["props"]],
            },
            geometry=zones.geometry.values,
            crs=4326,
        )
        z = z[z["hazard"] == hazard]
        hit = gpd.sjoin(points[active.to_numpy()], z, how="inner", predicate="within")
        deepest = hit.sort_values("rank_order").groupby(level=0).tail(1)
        per_rank = deepest.groupby("rank").size()
    else:
        per_rank = pd.Series(dtype=int)
    return by_district, per_rank


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


# --- PostGIS -----------------------------------------------------------------------------------------


def install_postgis(connection) -> str:
    """apt-get install Debian's PostGIS for the server's major version (root only). Returns
    what was done or why not."""
    import shutil
    import subprocess

    major = connection.execute("SHOW server_version").fetchone()[0].split(".")[0]
    package = f"postgresql-{major}-postgis-3"
    if os.geteuid() != 0:
        return f"not root: install {package} (apt-get install {package}) to compare"
    if shutil.which("apt-get") is None:
        return f"no apt-get on this machine: install PostGIS for PostgreSQL {major} to compare"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
            return f"{' '.join(command)} failed: {last[0]}"
    return f"installed {package}"


def postgis_connection(install: bool = True):
    """A psycopg connection with PostGIS, or (None, why not). Installs PostGIS when the server
    lacks it and ``install`` (see install_postgis)."""
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
    available = connection.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"
    ).fetchone()
    if available is None and install:
        print(f"PostGIS: not available on the server; {install_postgis(connection)}")
    try:
        connection.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except Exception as exc:  # noqa: BLE001
        connection.close()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, (
            f"PostgreSQL is reachable but CREATE EXTENSION postgis failed: {first} "
            "(install Debian's postgresql-<major>-postgis-3, or run without --no-install-postgis "
            "as root)"
        )
    return connection, None


def postgis_setup(connection, frames, status: pd.DataFrame, hazard=HAZARD, epsg=6676) -> None:
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
        if props["hazard"] != hazard:
            continue
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
            (pos, key, hazard in props["hazards"], key in open_keys, geom.wkt),
        )
    for table in ("districts", "zones", "shelters"):
        cur.execute(f"CREATE INDEX ON {table} USING gist (geom); ANALYZE {table}")
    cur.execute(f"CREATE TABLE settings AS SELECT {int(epsg)} AS epsg")


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


POSTGIS_TASK = [
    # the compared task: active incidents per district × category …
    "SELECT d.pos, i.category, count(*) FROM incidents i JOIN districts d ON ST_Intersects(d.geom, i.geom) "
    "WHERE i.status <> 'resolved' GROUP BY d.pos, i.category",
    # … and per deepest rank at each active incident
    "SELECT rank, count(*) FROM (SELECT DISTINCT ON (i.id) i.id, z.rank FROM incidents i "
    "JOIN zones z ON ST_Intersects(z.geom, i.geom) WHERE i.status <> 'resolved' "
    "ORDER BY i.id, z.rank_order DESC) deepest GROUP BY rank",
]
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


def postgis_time(connection, queries=None) -> float:
    cur = connection.cursor()
    cur.execute("SET search_path TO bench_situation, public")
    epsg = cur.execute("SELECT epsg FROM settings").fetchone()[0]
    started = time.perf_counter()
    for query in queries or POSTGIS_QUERIES:
        query = query.replace("6676", str(epsg))
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
    parser.add_argument("--kits", default="yaizu,ichinomiya")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument(
        "--runs", type=int, default=3, help="timed runs per size (1 at 1M for PostGIS)"
    )
    parser.add_argument(
        "--db-sizes",
        default="10000,100000",
        help="sizes for the end-to-end timing from a SQLite database, Yaizu ('' to skip)",
    )
    parser.add_argument("--no-install-postgis", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), geopandas {gpd.__version__}, "
        f"numpy {np.__version__}, pandas {pd.__version__}"
    )
    connection, why = postgis_connection(install=not args.no_install_postgis)
    if connection is None:
        print(f"PostGIS: skipped, {why}")
    else:
        version = connection.execute("SELECT postgis_lib_version()").fetchone()[0]
        server = connection.execute("SHOW server_version").fetchone()[0]
        print(f"PostGIS: PostgreSQL {server}, PostGIS {version} at {POSTGRES_URL.split('@')[-1]}")

    for kit in args.kits.split(","):
        if kit == "yaizu":
            frames, outline, hazard = yaizu_layer_frames(), None, HAZARD
        else:
            frames, outline = pilot_layer_frames(kit)
            hazard = "flood"
        started = time.perf_counter()
        layers = analysis.prepare_layers(
            frames["districts"], frames["shelters"], frames["hazard_zones"]
        )
        prepare = time.perf_counter() - started
        epsg = layers.crs.to_epsg() or 6676
        print(
            f"\n== kit {kit}: {len(frames['districts'])} districts, {len(frames['shelters'])} shelters, "
            f"{len(frames['hazard_zones'])} zones ({layers.stats['zone_parts']} parts) for {hazard}; "
            f"prepare layers (once per version) {prepare:.3f} s; CRS {layers.crs.to_string()}"
        )
        status = shelter_status(layers)
        if connection is not None:
            postgis_setup(connection, frames, status, hazard, epsg)
        print(
            f"{'incidents':>10} {'ours s':>8} {'sjoin s':>8} {'× sjoin':>8} {'PostGIS s':>10} "
            f"{'× PostGIS':>9} {'PG load s':>9} {'summary s':>10} {'peak MiB':>9}"
        )
        for n in sizes:
            incidents = synthetic_incidents(n, boundary=outline)
            runs = args.runs
            ours_task(layers, incidents, hazard)  # warm-up
            ours, _ = timed(lambda i=incidents, lay=layers, h=hazard: ours_task(lay, i, h), runs)
            check_ours = ours_task(layers, incidents, hazard)
            sj, _ = timed(
                lambda i=incidents, f=frames, h=hazard: sjoin_task(f, i, h),
                max(1, runs if n < 1_000_000 else 1),
            )
            by_district, _per_rank = sjoin_task(frames, incidents, hazard)
            assert int(by_district.to_numpy().sum()) == int(check_ours[0].sum()) - int(
                check_ours[0][-1].sum()
            ), "sjoin and ours disagree on the located active incidents"
            pg = pg_ratio = load = "—"
            if connection is not None:
                started = time.perf_counter()
                postgis_load_incidents(connection, incidents)
                load = f"{time.perf_counter() - started:.1f}"
                pg_median, _ = timed(
                    lambda: postgis_time(connection, POSTGIS_TASK), 1 if n >= 1_000_000 else runs
                )
                pg, pg_ratio = f"{pg_median:.3f}", f"{pg_median / ours:.1f}"
            full_summary(layers, incidents, status, hazard)
            whole, _ = timed(
                lambda i=incidents, lay=layers, st=status, h=hazard: full_summary(lay, i, st, h),
                runs if n < 1_000_000 else 1,
            )
            peak = peak_memory(
                lambda i=incidents, lay=layers, st=status, h=hazard: full_summary(lay, i, st, h)
            )
            print(
                f"{n:>10} {ours:>8.3f} {sj:>8.3f} {sj / ours:>8.1f} {pg:>10} {pg_ratio:>9} {load:>9} "
                f"{whole:>10.3f} {peak / 2**20:>9.1f}"
            )
    if args.db_sizes:
        frames = yaizu_layer_frames()
        print(
            "\nend to end from SQLite, yaizu (summary.build_situation: incident and status rows read "
            "with SQLAlchemy Core, layers prepared once and cached):"
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
