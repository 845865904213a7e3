"""Issue 12 item 10: a vertex limit on imported features (GEO_IMPORT_MAX_VERTICES): over it a
feature is simplified and the import result says so, or the file is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from disaster_ai.apps.situation.importer import GeoImportError, read_layer


def write_districts(path: Path, shapes: dict[str, shapely.Geometry]) -> Path:
    features = [
        {
            "type": "Feature",
            "properties": {"key": key, "name": f"地区{key}"},
            "geometry": json.loads(shapely.to_geojson(shape)),
        }
        for key, shape in shapes.items()
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_a_feature_over_the_limit_is_simplified_and_reported(tmp_path):
    # a 1 km disc drawn with 20,001 vertices (a point every 30 cm) and a plain square
    disc = shapely.Point(138.30, 34.85).buffer(0.01, quad_segs=5000)
    square = shapely.box(138.32, 34.84, 138.33, 34.85)
    assert shapely.get_num_coordinates(disc) > 20_000
    path = write_districts(tmp_path / "d.geojson", {"A": disc, "B": square})
    result = read_layer(path, "districts", None, max_vertices=1000)
    (entry,) = result.report["simplified"]
    assert entry["key"] == "A" and entry["vertices"] == shapely.get_num_coordinates(disc)
    assert entry["simplified_to"] <= 1000 and 0 < entry["tolerance_m"] <= 11
    a, b = result.frame.geometry.values
    assert shapely.get_num_coordinates(a) <= 1000 and a.is_valid
    assert a.area == pytest.approx(disc.area, rel=0.001)
    assert b.equals(square)  # within the limit: untouched
    # the default limit leaves this file as it is
    assert read_layer(path, "districts", None).report["simplified"] == []


def test_a_feature_that_simplifying_cannot_bring_within_the_limit_is_refused(tmp_path):
    # a comb of 2,000 teeth 100 m deep: simplifying by 10 m keeps every tooth
    xs = np.linspace(138.30, 138.40, 2000)
    top = [(x, 34.85 + (0.001 if i % 2 else 0)) for i, x in enumerate(xs)]
    comb = shapely.Polygon([(138.30, 34.84), *top, (138.40, 34.84)])
    assert comb.is_valid
    path = write_districts(tmp_path / "comb.geojson", {"A": comb})
    with pytest.raises(GeoImportError) as refused:
        read_layer(path, "districts", None, max_vertices=1000)
    assert refused.value.reason == "too_many_vertices" and refused.value.row == 1
    assert "GEO_IMPORT_MAX_VERTICES" in refused.value.message
    assert "comb.geojson" in refused.value.message


def test_the_limit_is_a_setting_and_geo_import_prints_what_it_simplified(app, runner, tmp_path):
    disc = shapely.Point(138.30, 34.85).buffer(0.01, quad_segs=500)  # 2,001 vertices
    path = write_districts(tmp_path / "d.geojson", {"A": disc})
    with app.app_context():
        assert read_layer(path, "districts", None).report["simplified"] == []
        app.config["GEO_IMPORT_MAX_VERTICES"] = 500
        (entry,) = read_layer(path, "districts", None).report["simplified"]
    assert entry["vertices"] == 2001 and entry["simplified_to"] <= 500
    app.config["GEO_IMPORT_MAX_VERTICES"] = 500
    result = runner.invoke(["geo", "import", "districts", str(path)])
    assert result.exit_code == 0, result.output
    assert "simplified A: 2001 →" in result.output and "GEO_IMPORT_MAX_VERTICES" in result.output
