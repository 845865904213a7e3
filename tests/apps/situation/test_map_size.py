"""Issue 12 item 10: the map's districts layer JSON stays small (simplified for drawing)."""

from __future__ import annotations

import json

import pytest
import shapely

from disaster_ai.apps.situation import layers
from disaster_ai.storage import get_storage, session_scope

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)

# the sample kit's 35 districts: 279 KB as stored, about 129 KB simplified
DISTRICTS_JSON_BOUND = 160_000


def _size(value) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def test_the_districts_layer_json_is_small_and_keeps_every_district(client, login, yaizu, app):
    login("operator")
    response = client.get("/apps/situation/map-data.json?layers=districts")
    assert response.status_code == 200
    (layer,) = json.loads(response.get_data())["layers"]
    with app.app_context(), session_scope(get_storage(app)) as session:
        stored = layers.layer_geojson(session, "districts")
    assert _size(layer) < DISTRICTS_JSON_BOUND
    assert _size(layer) < 0.6 * _size(stored["features"])  # the stored outlines as they are
    drawn = {f["properties"]["key"]: f for f in layer["geojson"]["features"]}
    assert set(drawn) == {f["properties"]["key"] for f in stored["features"]}
    for feature in stored["features"]:
        original = shapely.geometry.shape(feature["geometry"])
        simplified = shapely.geometry.shape(drawn[feature["properties"]["key"]]["geometry"])
        assert simplified.is_valid
        # nothing visible is lost: the outline moves by about a metre at most
        assert original.hausdorff_distance(simplified) < 0.00003
        assert abs(simplified.area - original.area) < 0.01 * original.area
