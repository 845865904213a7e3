"""The vectorised analysis on the real Yaizu layers (frames only, no database).

The layer frames are built here from sample_data/yaizu/*.geojson with the same props the
importer writes (districts: population; shelters: kind, hazards, capacity; hazard_zones: hazard,
rank, rank_order); see situation_helpers.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from situation_helpers import IN_FLOOD_AREA, NOW, SAMPLE, yaizu_frames

from disaster_ai.apps.situation import analysis


@pytest.fixture(scope="module")
def frames():
    return yaizu_frames()


@pytest.fixture(scope="module")
def layers(frames):
    return analysis.prepare_layers(frames["districts"], frames["shelters"], frames["hazard_zones"])


def open_all(layers) -> pd.DataFrame:
    keys = layers.shelters["key"].to_numpy()
    return pd.DataFrame(
        {"shelter_key": keys, "is_open": True, "occupancy": 0, "updated_at": [NOW] * len(keys)}
    )


def incident_frame(lon, lat, minutes_ago, **columns) -> pd.DataFrame:
    n = len(lon)
    occurred = pd.DatetimeIndex([NOW - timedelta(minutes=float(m)) for m in minutes_ago])
    data = {
        "id": np.arange(n),
        "category": ["road_flooding"] * n,
        "life_threat": [False] * n,
        "people": [None] * n,
        "vulnerable": [False] * n,
        "status": ["confirmed"] * n,
        "occurred_at": occurred,
        "created_at": occurred,
        "lon": lon,
        "lat": lat,
        "district_key": [None] * n,
    }
    data.update(columns)
    return pd.DataFrame(data)


# --- CRS and geometry ----------------------------------------------------------------------------


def test_metric_crs_is_the_nearest_jgd2011_zone_or_utm(layers):
    assert layers.crs.to_epsg() == 6676  # Shizuoka: zone VIII
    assert analysis.metric_crs(139.69, 35.69).to_epsg() == 6677  # Tokyo: zone IX
    assert analysis.metric_crs(141.35, 43.06).to_epsg() == 6680  # Sapporo: zone XII
    assert analysis.metric_crs(130.40, 33.59).to_epsg() == 6670  # Fukuoka: zone II
    assert analysis.metric_crs(127.68, 26.21).to_epsg() == 6683  # Naha: zone XV
    assert analysis.metric_crs(2.35, 48.85).to_epsg() == 32631  # Paris: UTM 31N
    assert analysis.metric_crs(138.3, 34.9, "EPSG:3857").to_epsg() == 3857


def test_huge_flood_multipolygons_are_split_into_parts(frames, layers):
    assert len(frames["hazard_zones"]) == 6
    assert len(layers.zones) == sum(
        shapely.get_num_geometries(frames["hazard_zones"].geometry.values)
    )
    assert len(layers.zones) > 6000
    assert set(shapely.get_type_id(layers.zones.geometry.values)) == {3}  # polygons only


def test_grid_index_agrees_with_shapely_on_the_real_layers(layers):
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = layers.districts.total_bounds
    lon = rng.uniform(minx, maxx, 40_000)
    lat = rng.uniform(miny, maxy, 40_000)
    points = shapely.points(lon, lat)

    def reference(geometries, labels):
        pi, gi = shapely.STRtree(geometries).query(points, predicate="intersects")
        best = np.full(len(lon), 10**9)
        np.minimum.at(best, pi, labels[gi])
        return np.where(best == 10**9, -1, best)

    got = layers.district_index.lookup(lon, lat)
    assert (
        got == reference(layers.districts.geometry.values, np.arange(len(layers.districts)))
    ).all()
    ranks = layers.zone_ranks["inland_flood"]
    rank_label = pd.Series(range(len(ranks)), index=[r for r, _ in ranks])[
        layers.zones["rank"]
    ].to_numpy()
    got = layers.zone_index["inland_flood"].lookup(lon, lat)
    assert (got == reference(layers.zones.geometry.values, rank_label)).all()
    assert (got >= 0).sum() > 100  # the zone is really hit


def test_grid_index_handles_holes_multipolygons_and_degenerate_points():
    donut = shapely.Polygon(
        [(0, 0), (10, 0), (10, 10), (0, 10)], holes=[[(3, 3), (7, 3), (7, 7), (3, 7)]]
    )
    islands = shapely.MultiPolygon([shapely.box(4, 4, 6, 6), shapely.box(20, 0, 25, 5)])
    triangle = shapely.Polygon([(10, 0), (15, 10), (10, 10)])  # shares an edge with the donut
    index = analysis.PolygonGridIndex([donut, islands, triangle], [0, 1, 2], 0.5, 0.5)
    x = np.array([1.0, 5.0, 3.5, 22.0, 12.0, 11.0, 30.0, np.nan, 0.25, 0.75, 9.75])
    y = np.array([1.0, 5.0, 5.0, 2.0, 9.0, 1.0, 30.0, 1.0, 0.25, 0.25, 9.75])
    assert index.lookup(x, y).tolist() == [0, 1, -1, 1, 2, -1, -1, -1, 0, 0, 0]
    # Points exactly on cell centres and on vertices still get a region (either side of a boundary).
    cx = index.x0 + (np.arange(60) + 0.5) * index.cw
    got = index.lookup(cx, np.full(60, 1.0))
    assert set(got) <= {-1, 0, 1, 2}
    # On a shared edge: exactly one side (the point is nudged right, into the triangle).
    assert index.lookup(np.array([10.0, 10.0]), np.array([5.0, 9.0])).tolist() == [2, 2]


def test_designated_shelters_inside_the_inland_flood_area_are_unsafe_when_open(layers):
    shelters = analysis.shelter_assessment(layers, open_all(layers), "inland_flood")
    designated = shelters[shelters["kind"] == "designated_shelter"]
    assert len(designated) == 56
    inside = designated[designated["in_zone"]]
    assert set(inside["name"]) == IN_FLOOD_AREA
    assert (inside["state"] == "unsafe").all()
    assert inside["zone_rank"].notna().all()
    # All 56 designated shelters lie inside the city (and so inside some district).
    boundary = gpd.read_file(SAMPLE / "yaizu_city_boundary.geojson").geometry.values[0]
    assert shapely.contains_xy(boundary, designated["lon"], designated["lat"]).all()
    # Open but not designated for the hazard, outside the zone: not usable.
    assert set(shelters.loc[~shelters["designated"] & ~shelters["in_zone"], "state"]) == {
        "open_not_designated"
    }
    # Closed when no status row says otherwise.
    closed = analysis.shelter_assessment(layers, open_all(layers).iloc[:0], "inland_flood")
    assert set(closed["state"]) == {"closed"}


def test_no_shelter_is_designated_for_flood_or_storm_surge(layers):
    assert analysis.designated_mask(layers, "flood").sum() == 0
    assert analysis.designated_mask(layers, "storm_surge").sum() == 0
    assert analysis.designated_mask(layers, "inland_flood").sum() == 54
    sites = layers.shelters["kind"].to_numpy() == "emergency_site"
    assert not analysis.designated_mask(layers, "flood")[sites].any()
    shelters = analysis.shelter_assessment(layers, open_all(layers), "flood")
    assert "usable" not in set(shelters["state"])


def test_exposed_population_is_areal_weighted_and_bounded(layers):
    exposure = analysis.exposed_population(layers)
    assert set(exposure["hazard"]) == {"inland_flood"}
    per_district = exposure.groupby("district")["people"].sum()
    population = layers.districts["population"].to_numpy()
    assert (per_district.to_numpy() <= population[per_district.index.to_numpy()] + 1e-6).all()
    assert (per_district > 0).any()
    assert 0 < per_district.sum() < population.sum()
    # Areas are in EPSG:6676: the zone parts inside districts add up to (almost) the whole zone.
    zone_area = shapely.area(layers.zones_m).sum()
    assert exposure["area_m2"].sum() == pytest.approx(zone_area, rel=0.01)
    assert 5.5e6 < zone_area < 6.5e6  # 5.9 km²
    share = exposure["area_m2"] / layers.district_area_m2[exposure["district"].to_numpy()]
    assert np.allclose(exposure["share"], share)
    assert np.allclose(exposure["people"], share * population[exposure["district"].to_numpy()])


def test_nearest_usable_shelter_is_designated_open_and_outside_the_zone(layers):
    status = open_all(layers)
    shelters = analysis.shelter_assessment(layers, status, "inland_flood")
    usable = (shelters["state"] == "usable").to_numpy()
    nearest = analysis.nearest_shelters(layers, usable)
    assert (nearest["shelter"] >= 0).all()
    chosen = shelters.iloc[nearest["shelter"].to_numpy()]
    assert chosen["designated"].all() and chosen["is_open"].all() and not chosen["in_zone"].any()
    assert set(chosen["name"]).isdisjoint(IN_FLOOD_AREA)
    # The distance is straight-line metres in EPSG:6676 from a point inside the district.
    points = layers.district_points_m
    assert shapely.contains(layers.districts_m, points).all()
    expected = shapely.distance(points, layers.shelters_m[nearest["shelter"].to_numpy()])
    assert np.allclose(nearest["distance_m"], expected)
    candidates = layers.shelters_m[usable]
    brute = shapely.distance(points[:, None], candidates[None, :]).min(axis=1)
    assert np.allclose(nearest["distance_m"], brute)
    assert (nearest["distance_m"] < 10_000).all()
    # No candidate at all: nothing is invented.
    none = analysis.nearest_shelters(layers, np.zeros(len(shelters), dtype=bool))
    assert (none["shelter"] == -1).all() and none["distance_m"].isna().all()


def test_hotspots_find_a_cluster_in_space_and_time_and_ignore_scattered_points(layers):
    kx, ky = analysis.metres_per_degree(34.87)
    rng = np.random.default_rng(5)
    centre = (138.2785, 34.8700)
    n_cluster = 12
    cluster_lon = centre[0] + rng.uniform(-60, 60, n_cluster) / kx
    cluster_lat = centre[1] + rng.uniform(-60, 60, n_cluster) / ky
    gx, gy = np.meshgrid(np.arange(-4, 5), np.arange(-4, 5))  # 81 points 1 km apart
    far = (gx != 0) | (gy != 0)
    scatter_lon = centre[0] + gx[far] * 1000 / kx
    scatter_lat = centre[1] + gy[far] * 1000 / ky
    # Same place as the cluster but hours apart, 2 per window: not a hotspot in time.
    old_lon = np.full(6, centre[0] + 3000 / kx)
    old_lat = np.full(6, centre[1])
    lon = np.r_[cluster_lon, scatter_lon, old_lon]
    lat = np.r_[cluster_lat, scatter_lat, old_lat]
    minutes = np.r_[
        rng.uniform(0, 40, n_cluster), rng.uniform(0, 40, far.sum()), [100, 101, 300, 301, 500, 501]
    ]
    occurred = analysis._ns(pd.DatetimeIndex([NOW - timedelta(minutes=float(m)) for m in minutes]))
    label, spots = analysis.hotspots(
        lon,
        lat,
        occurred,
        now=NOW,
        origin=layers.origin,
        radius_m=250,
        window_minutes=60,
        min_incidents=5,
    )
    assert len(spots) == 1
    assert (label[:n_cluster] == 0).all()
    assert (label[n_cluster:] == -1).all()
    spot = spots.iloc[0]
    assert spot["count"] == n_cluster and spot["window"] == 0
    assert abs(spot["lon"] - centre[0]) * kx < 60 and abs(spot["lat"] - centre[1]) * ky < 60
    assert spot["radius_m"] < 90
    # The sparse path (for grids too big for a dense table) agrees.
    sparse, sparse_spots = analysis.hotspots(
        lon,
        lat,
        occurred,
        now=NOW,
        origin=layers.origin,
        radius_m=250,
        window_minutes=60,
        min_incidents=5,
        dense_cells=0,
    )
    assert (sparse == label).all() and sparse_spots.equals(spots)
    # Stricter settings: no hotspot.
    _, none = analysis.hotspots(
        lon,
        lat,
        occurred,
        now=NOW,
        origin=layers.origin,
        radius_m=250,
        window_minutes=60,
        min_incidents=n_cluster + 1,
    )
    assert len(none) == 0


def test_connected_components():
    labels = analysis.connected_components(7, np.array([0, 1, 4, 6]), np.array([1, 2, 5, 4]))
    assert labels.tolist() == [0, 0, 0, 3, 4, 4, 4]


def test_incident_counts_by_district_category_severity_window_and_new_since(layers):
    d = layers.districts
    inside = shapely.get_coordinates(shapely.point_on_surface(d.geometry.values[:2]))
    frame = incident_frame(
        lon=[inside[0, 0], inside[0, 0], inside[0, 0], inside[1, 0], 140.0, None],
        lat=[inside[0, 1], inside[0, 1], inside[0, 1], inside[1, 1], 36.0, None],
        minutes_ago=[10, 90, 30, 500, 5, 5],
        category=["rescue", "rescue", "road_flooding", "inundation", "other", "fire"],
        life_threat=[True, False, False, True, False, False],
        people=[3, None, 2, None, None, 1],
        status=["confirmed", "unverified", "resolved", "confirmed", "confirmed", "confirmed"],
        district_key=[None, None, None, None, None, d["key"].iat[1]],
    )
    frame.loc[1, "created_at"] = NOW - timedelta(
        minutes=5
    )  # reported late: new since the last summary
    inc = analysis.incident_arrays(frame)
    district, rank = analysis.locate_incidents(layers, inc, "inland_flood")
    assert district.tolist() == [0, 0, 0, 1, -1, 1]
    counts = analysis.incident_counts(
        inc, district, len(d), now=NOW, since=NOW - timedelta(minutes=60), windows_minutes=(60, 180)
    )
    per = counts["per"]
    assert per["total"][:2].tolist() == [3, 2] and per["total"][-1] == 1
    assert per["active"][:2].tolist() == [2, 2]
    assert per["resolved"][:2].tolist() == [1, 0]
    assert per["life_threat"][:2].tolist() == [1, 1]
    assert per["people"][:2].tolist() == [3, 1]
    categories = counts["categories"]
    assert categories == [
        "inundation",
        "road_flooding",
        "fire",
        "rescue",
        "other",
    ]  # vocabulary order
    row0 = dict(zip(categories, counts["by_category"][0], strict=True))
    assert (
        row0["rescue"] == 2 and row0.get("road_flooding", 0) == 0
    )  # the resolved one is not active
    assert counts["windows"]["60"][:2].tolist() == [1, 1] and counts["windows"]["180"][
        :2
    ].tolist() == [2, 1]
    assert (
        counts["new"][:2].tolist() == [3, 1] and counts["new"][-1] == 1
    )  # recorded within the last hour
    assert counts["without_location"] == 0  # the one without a point has a district key
    with pytest.raises(ValueError, match="naive"):
        analysis.incident_arrays(
            incident_frame([138.3], [34.9], [0]).assign(
                occurred_at=pd.DatetimeIndex([datetime(2025, 9, 5, 9, 0)]), created_at=None
            )
        )
