"""Issue 18: the map's level colours cannot be confused with its water-depth shading (CIEDE2000), closed
shelters are quiet markers, and districts carry a point for their name."""

from __future__ import annotations

import json
import math

import pytest
import shapely

from disaster_ai.apps.situation import palette
from disaster_ai.web.levels import LEVEL_COLOURS


def _lab(colour: str) -> tuple[float, float, float]:
    """sRGB #rrggbb → CIELAB (D65)."""
    rgb = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883

    def f(t):
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def ciede2000(c1: str, c2: str) -> float:
    """CIEDE2000 colour difference of two #rrggbb colours."""
    return _delta_e_lab(_lab(c1), _lab(c2))


def _delta_e_lab(lab1, lab2) -> float:
    """CIEDE2000 (Sharma, Wu and Dalal 2005) of two CIELAB colours."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    cbar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(cbar**7 / (cbar**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0
    dl, dc = l2 - l1, c2p - c1p
    dh = 0.0
    if c1p * c2p:
        dh = h2p - h1p
        dh = dh - 360 if dh > 180 else dh + 360 if dh < -180 else dh
    dH = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    lbar, cbarp = (l1 + l2) / 2, (c1p + c2p) / 2
    hbar = h1p + h2p
    if c1p * c2p:
        if abs(h1p - h2p) > 180:
            hbar = (hbar + 360) / 2 if hbar < 360 else (hbar - 360) / 2
        else:
            hbar /= 2
    t = (
        1
        - 0.17 * math.cos(math.radians(hbar - 30))
        + 0.24 * math.cos(math.radians(2 * hbar))
        + 0.32 * math.cos(math.radians(3 * hbar + 6))
        - 0.20 * math.cos(math.radians(4 * hbar - 63))
    )
    sl = 1 + 0.015 * (lbar - 50) ** 2 / math.sqrt(20 + (lbar - 50) ** 2)
    sc, sh = 1 + 0.045 * cbarp, 1 + 0.015 * cbarp * t
    rt = (
        -2
        * math.sqrt(cbarp**7 / (cbarp**7 + 25**7))
        * math.sin(math.radians(60 * math.exp(-(((hbar - 275) / 25) ** 2))))
    )
    return math.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (dH / sh) ** 2 + rt * (dc / sc) * (dH / sh))


def test_ciede2000_matches_the_published_test_data():
    # pairs from Sharma, Wu and Dalal (2005), table 1 (Lab in, ΔE00 out), through _lab's inverse
    pairs = [
        ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
        ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
        ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
        ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ]
    for lab1, lab2, expected in pairs:
        assert _delta_e_lab(lab1, lab2) == pytest.approx(expected, abs=1e-4)
    assert ciede2000("#aa00aa", "#aa00aa") == 0
    assert ciede2000("#000000", "#ffffff") == pytest.approx(100, abs=0.5)


@pytest.mark.parametrize("level", sorted(LEVEL_COLOURS))
def test_no_depth_colour_is_near_a_level_colour(level):
    fill = LEVEL_COLOURS[level]["fill"]
    plain = {depth: ciede2000(fill, depth) for depth in palette.DEPTH_COLOURS}
    assert min(plain.values()) >= palette.MIN_DELTA_E, (level, fill, plain)
    for background in palette.MAP_BACKGROUNDS:  # as the map draws them, translucent
        district = palette.blend(fill, palette.LEVEL_FILL_OPACITY, background)
        drawn = {
            depth: ciede2000(district, palette.blend(depth, palette.DEPTH_FILL_OPACITY, background))
            for depth in palette.DEPTH_COLOURS
        }
        assert min(drawn.values()) >= palette.MIN_DELTA_E_DRAWN, (level, background, drawn)


def test_the_old_depth_purple_would_fail_the_floor():
    """The check can fail: the old palette's 5.0–10.0 m purple as drawn beside Lv4."""
    lv4 = palette.blend(LEVEL_COLOURS[4]["fill"], palette.LEVEL_FILL_OPACITY, "#e5e7eb")
    old = palette.blend("#dc7adc", palette.DEPTH_FILL_OPACITY, "#e5e7eb")
    assert ciede2000(lv4, old) < palette.MIN_DELTA_E_DRAWN


def test_every_rank_gets_a_palette_colour_deepest_darkest():
    assert palette.depth_colour(1, 6) == palette.DEPTH_COLOURS[0]
    assert palette.depth_colour(6, 6) == palette.DEPTH_COLOURS[-1]
    assert palette.depth_colour(1, 1) == palette.DEPTH_COLOURS[-1]
    assert [palette.depth_colour(r, 3) for r in (1, 2, 3)] == [
        palette.DEPTH_COLOURS[0],
        palette.DEPTH_COLOURS[2],
        palette.DEPTH_COLOURS[5],
    ]


def _shelter(is_open, designated=(), zones=(), state=None):
    return {
        "is_open": is_open,
        "state": state or ("closed" if not is_open else "unsafe" if zones else "usable"),
        "designated_for": list(designated),
        "hazard_zones": [{"hazard": h} for h in zones],
    }


def test_shelter_markers_by_status_and_suitability():
    marker = palette.shelter_marker
    assert marker(_shelter(True, ["inland_flood"]), "inland_flood") == "usable"
    assert marker(_shelter(True, ["tsunami"]), "inland_flood") == "open_not_designated"
    assert marker(_shelter(True, ["inland_flood"], ["inland_flood"]), "inland_flood") == "unsafe"
    assert marker(_shelter(False, ["inland_flood"]), "inland_flood") == "closed_suitable"
    assert marker(_shelter(False, ["inland_flood"], ["inland_flood"]), "inland_flood") == "closed"
    assert marker(_shelter(False, ["tsunami"]), "inland_flood") == "closed"
    assert marker(_shelter(True, []), None) == "usable"  # no hazard: open is open
    assert marker(_shelter(False, ["tsunami"]), None) == "closed"


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_the_map_data_colours_ranks_and_places_names(client, login, yaizu):
    login("operator")
    body = json.loads(client.get("/apps/situation/map-data.json").get_data())
    by_id = {layer["id"]: layer["geojson"] for layer in body["layers"]}
    hazards = by_id["hazard_zones"]
    assert set(hazards["rank_colours"]) <= set(palette.DEPTH_COLOURS)
    assert all(f["properties"]["fill"] in hazards["rank_colours"] for f in hazards["features"])
    # every district has a name point inside it
    for feature in by_id["districts"]["features"]:
        point = shapely.Point(feature["properties"]["label_point"])
        assert shapely.geometry.shape(feature["geometry"]).buffer(1e-6).contains(point)
    # the shelters are judged against the kit's one hazard (内水氾濫); all closed at first
    shelters = by_id["shelters"]
    assert shelters["hazard"] == "inland_flood"
    markers = [f["properties"]["marker"] for f in shelters["features"]]
    assert set(markers) == {"closed", "closed_suitable"} and len(markers) == 87
    labels = {f["properties"]["marker_label"] for f in shelters["features"]}
    assert labels == {"閉鎖", "閉鎖（この災害の指定あり）"} or labels == {
        "Closed",
        "Closed, designated for this hazard",
    }
