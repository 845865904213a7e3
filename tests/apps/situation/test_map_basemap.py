"""Issue 18: the situation map's optional base map (地理院タイル, a tile folder, an MBTiles file),
the Content-Security-Policy that goes with it, and the map data's ETag."""

from __future__ import annotations

import json
import sqlite3

import pytest

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)

PNG = b"\x89PNG\r\n\x1a\n" + b"tile"  # the bytes are served as they are stored


def _csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


def _map_tiles(client) -> dict | None:
    return json.loads(client.get("/apps/situation/map-data.json?part=first").get_data())["tiles"]


def make_mbtiles(path, tiles: dict[tuple[int, int, int], bytes], fmt: str = "png") -> None:
    """A minimal MBTiles 1.3 file; ``tiles`` is keyed by XYZ (z, x, y), stored as TMS rows."""
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        connection.execute(
            "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, "
            "tile_data BLOB)"
        )
        connection.executemany(
            "INSERT INTO metadata VALUES (?, ?)", [("name", "test"), ("format", fmt)]
        )
        connection.executemany(
            "INSERT INTO tiles VALUES (?, ?, ?, ?)",
            [(z, x, 2**z - 1 - y, data) for (z, x, y), data in tiles.items()],
        )
    connection.close()


def test_an_mbtiles_file_is_served_by_the_app_with_flipped_rows(app, client, login, tmp_path):
    mbtiles = tmp_path / "town.mbtiles"
    make_mbtiles(mbtiles, {(0, 0, 0): PNG + b"0", (14, 14519, 6478): PNG + b"14"})
    app.config["MAP_TILES"] = str(mbtiles)
    login("operator")
    tile = client.get("/apps/situation/tiles/14/14519/6478.png")
    assert tile.status_code == 200 and tile.mimetype == "image/png"
    assert tile.get_data() == PNG + b"14"
    assert client.get("/apps/situation/tiles/0/0/0.png").get_data() == PNG + b"0"
    # a tile the file does not have, and one outside the zoom level's grid
    missing = client.get("/apps/situation/tiles/14/14519/6479.png")
    assert missing.status_code == 404
    assert client.get("/apps/situation/tiles/1/2/0.png").status_code == 404
    # the map page and its data point the map at the app's own tiles; the CSP stays 'self'
    assert _map_tiles(client)["url"] == "/apps/situation/tiles/{z}/{x}/{y}.png"
    page = client.get("/apps/situation")
    assert 'data-tile-url="/apps/situation/tiles/{z}/{x}/{y}.png"' in page.get_data(as_text=True)
    assert _csp(page)["img-src"] == ["'self'", "data:", "blob:"]


def test_a_jpeg_mbtiles_file_is_served_as_jpeg(app, client, login, tmp_path):
    mbtiles = tmp_path / "photo.mbtiles"
    make_mbtiles(mbtiles, {(3, 1, 2): b"\xff\xd8jpeg"}, fmt="jpg")
    app.config["MAP_TILES"] = str(mbtiles)
    login("operator")
    tile = client.get("/apps/situation/tiles/3/1/2.png")
    assert tile.mimetype == "image/jpeg" and tile.get_data() == b"\xff\xd8jpeg"


def test_a_tile_folder_is_served_by_the_app(app, client, login, tmp_path):
    (tmp_path / "tiles" / "12" / "3629").mkdir(parents=True)
    (tmp_path / "tiles" / "12" / "3629" / "1619.png").write_bytes(PNG)
    app.config["MAP_TILES"] = str(tmp_path / "tiles")
    login("operator")
    assert client.get("/apps/situation/tiles/12/3629/1619.png").get_data() == PNG
    assert client.get("/apps/situation/tiles/12/3629/1620.png").status_code == 404
    assert client.get("/apps/situation/tiles/12/3629/..%2f1619.png").status_code == 404
    # the dashboard's map card and the notice form's map use the same base map as the map page
    dashboard = client.get("/").get_data(as_text=True)
    assert 'data-tile-url="/apps/situation/tiles/{z}/{x}/{y}.png"' in dashboard
    notice_form = client.get("/apps/notices").get_data(as_text=True)
    assert 'data-tile-url="/apps/situation/tiles/{z}/{x}/{y}.png"' in notice_form


def test_tiles_need_a_login_and_a_configured_base_map(app, client, login, tmp_path):
    assert client.get("/apps/situation/tiles/0/0/0.png").status_code in (302, 401)
    login("operator")
    assert client.get("/apps/situation/tiles/0/0/0.png").status_code == 404  # none configured
    assert _map_tiles(client) is None
    assert _csp(client.get("/apps/situation"))["img-src"] == ["'self'", "data:", "blob:"]


def test_gsi_tiles_need_the_host_in_the_egress_allowlist(app, client, login):
    login("operator")
    app.config["MAP_TILES"] = "gsi_pale"
    app.config["EGRESS_ALLOWLIST"] = []
    assert _map_tiles(client) is None  # not allowed: no base map, and nothing in the CSP
    assert "https://cyberjapandata.gsi.go.jp" not in _csp(client.get("/apps/situation"))["img-src"]
    app.config["EGRESS_ALLOWLIST"] = ["cyberjapandata.gsi.go.jp"]
    tiles = _map_tiles(client)
    assert tiles["url"] == "https://cyberjapandata.gsi.go.jp/xyz/pale/{z}/{x}/{y}.png"
    assert tiles["attribution"] == "地理院タイル" and tiles["attribution_url"].startswith(
        "https://"
    )
    csp = _csp(client.get("/apps/situation"))
    assert csp["img-src"] == ["'self'", "data:", "blob:", "https://cyberjapandata.gsi.go.jp"]
    # images only: the browser fetches tiles, never scripts or data, from that host
    assert all("gsi" not in " ".join(csp[d]) for d in ("script-src", "connect-src", "default-src"))
    # the local routes serve nothing while the base map is remote
    assert client.get("/apps/situation/tiles/0/0/0.png").status_code == 404


def test_map_data_has_an_etag_and_answers_304_while_nothing_changed(
    client, login, yaizu, api_headers
):
    login("operator")
    first = client.get("/apps/situation/map-data.json?part=first")
    assert first.headers["Cache-Control"] == "private, no-cache" and first.headers["ETag"]
    ids = [layer["id"] for layer in json.loads(first.get_data())["layers"]]
    assert ids == ["districts", "shelters", "incidents"]
    again = client.get(
        "/apps/situation/map-data.json?part=first", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304 and again.get_data() == b""
    details = client.get("/apps/situation/map-data.json?part=details")
    ids = [layer["id"] for layer in json.loads(details.get_data())["layers"]]
    assert "hazard_zones" in ids and "districts" not in ids
    assert len(first.get_data()) < 250_000 < len(details.get_data())  # the small part first
    # a new incident changes the first part's tag
    client.post(
        "/api/v1/incidents",
        json={"category": "rescue", "lon": 138.315, "lat": 34.867},
        headers=api_headers("operator"),
    )
    changed = client.get(
        "/apps/situation/map-data.json?part=first", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]


def test_an_unknown_map_part_is_a_422(client, login):
    login("operator")
    response = client.get(
        "/apps/situation/map-data.json?part=everything", headers={"Accept": "application/json"}
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_part"
