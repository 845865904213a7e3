"""The situation map's colours that are not another registry's: the water-depth (hazard rank)
shading and the shelter markers.

The hazard ranks are shaded in blues, lightest = shallowest, as the static PNG map does
(``report/map.py``). The usual Japanese depth colours (yellow, pink, purple) were given up on
this map: their deepest classes are purples and reds that read as 警戒レベル4 (purple) and
3 (red), whose colours are fixed nationally (``disaster_ai.levels``): drawn translucent over
the map, Lv4 and the deepest class were 4.4 apart (CIEDE2000), i.e. the same colour. A test keeps
every depth colour at least ``MIN_DELTA_E_DRAWN`` from every level colour as drawn.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# ColorBrewer "Blues", 6 classes (lowest rank first)
DEPTH_COLOURS = ("#eff3ff", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")
# How the map draws them (situation_map.js keeps the same numbers): a district under a notice
# is filled with its level colour at LEVEL_FILL_OPACITY, a hazard zone at DEPTH_FILL_OPACITY,
# over the bare map (MAP_BACKGROUNDS: the grey without a base map, the near-white 淡色地図).
LEVEL_FILL_OPACITY = 0.35
DEPTH_FILL_OPACITY = 0.6
MAP_BACKGROUNDS = ("#e5e7eb", "#ffffff")
# CIEDE2000 floors between a level colour and a depth colour: as drawn (blended as above) and
# as plain colours (legend swatches). About 10 already reads as clearly different side by side;
# the old palette's deepest purple was 4.4 (2.3 on white) from Lv4 as drawn.
MIN_DELTA_E_DRAWN = 15.0
MIN_DELTA_E = 25.0


def blend(colour: str, opacity: float, background: str) -> str:
    """``colour`` at ``opacity`` over ``background``, as the browser paints it (#rrggbb)."""
    fg = [int(colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4)]
    bg = [int(background.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4)]
    return "#" + "".join(
        f"{round(opacity * f + (1 - opacity) * b):02x}" for f, b in zip(fg, bg, strict=True)
    )


def depth_colour(rank: int | None, count: int) -> str:
    """The colour of rank ``rank`` (1 = lowest) of ``count`` ranks, spread over the palette."""
    last = len(DEPTH_COLOURS) - 1
    if not rank:
        return DEPTH_COLOURS[0]
    if count <= 1:
        return DEPTH_COLOURS[last]
    index = round((rank - 1) / max(count - 1, 1) * last)
    return DEPTH_COLOURS[min(max(index, 0), last)]


# Shelter markers: status and suitability for the map's hazard. Closed shelters are small and
# quiet so that they never hide the open ones; a closed one designated for the hazard (the one
# to open) keeps a green ring.
SHELTER_MARKERS = {
    # TRANSLATORS: shelter marker on the map: open, outside hazard zones (and designated)
    "usable": _l("Open"),
    # TRANSLATORS: shelter marker on the map: open but inside a hazard zone
    "unsafe": _l("Open, inside a hazard zone"),
    # TRANSLATORS: shelter marker on the map: open, but not designated for the current hazard
    "open_not_designated": _l("Open, not designated for this hazard"),
    # TRANSLATORS: shelter marker on the map: closed, designated for the current hazard
    "closed_suitable": _l("Closed, designated for this hazard"),
    # TRANSLATORS: shelter marker on the map
    "closed": _l("Closed"),
}


def shelter_marker(shelter: dict, hazard: str | None) -> str:
    """The marker of one shelter of ``list_shelters`` for the map's hazard (or None)."""
    in_zone_of_hazard = any(z.get("hazard") == hazard for z in shelter.get("hazard_zones") or [])
    designated = bool(hazard) and hazard in (shelter.get("designated_for") or [])
    if not shelter.get("is_open"):
        return "closed_suitable" if designated and not in_zone_of_hazard else "closed"
    if shelter.get("state") == "unsafe":
        return "unsafe"
    if hazard and not designated:
        return "open_not_designated"
    return "usable"
