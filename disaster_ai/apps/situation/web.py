"""Desk pages of the situation app: the full-page map and the narrow-screen shelter page.

- ``GET  /apps/situation``                 the Leaflet map (layer toggles, popups, legend)
- ``GET  /apps/situation/map-data.json``   the map's layers as GeoJSON (``?layers=incidents,shelters``
                                          for the live refresh)
- ``GET  /apps/situation/shelters``        open/close and occupancy, one small form per shelter
- ``POST /apps/situation/shelters/<key>``  save one shelter (CSRF, server-side validation)

Assets (the map script and styles) come from this blueprint's own static folder; Leaflet
itself from the desk's vendored copy. Nothing is loaded from a CDN.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata

import shapely
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import IntegerField, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, StopValidation, ValidationError

from disaster_ai.apps.situation import incidents as service
from disaster_ai.apps.situation import layers, palette
from disaster_ai.auth import current_actor, is_allowed, requires
from disaster_ai.storage.engine import db
from disaster_ai.types import LayerSource
from disaster_ai.web import levels

bp = Blueprint(
    "situation_web",
    __name__,
    url_prefix="/apps/situation",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

MAP_LAYERS = ("hazard_zones", "districts", "shelters", "incidents")
LIVE_LAYERS = ("incidents", "shelters")
MAX_MAP_INCIDENTS = 5000
SIMPLIFY_DEG = 0.00002  # ≈ 2 m: hazard-zone outlines are simplified for drawing only
DISTRICT_SIMPLIFY_DEG = 0.00001  # ≈ 1 m: district outlines too, for the map's JSON only
COORDINATE_GRID_DEG = 0.000001  # ≈ 0.1 m: coordinates drawn with 6 decimals
MAX_OCCUPANCY = 100_000
LAYER_TITLES = {
    "hazard_zones": _l("Hazard zones"),
    "districts": _l("Districts"),
    "shelters": _l("Shelters"),
    "incidents": _l("Incidents"),
}


# --- map data ------------------------------------------------------------------------------


def tile_config() -> dict | None:
    """The optional base map for the page (``disaster_ai.basemap``); None keeps the map to the
    vector layers (the LGWAN default). Local tiles are served by ``tile`` below."""
    from disaster_ai import basemap

    base = basemap.resolve(current_app.config)
    if base is None:
        return None
    url = base.url
    if base.kind != "remote":
        url = url_for("situation_web.tile", z=0, x=0, y=0).replace("/0/0/0.png", "/{z}/{x}/{y}.png")
    return {
        "url": url,
        "attribution": base.attribution,
        "attribution_url": base.attribution_url or "",
        "max_zoom": base.max_zoom,
    }


def build_map_layers(session, only: tuple[str, ...] = MAP_LAYERS) -> list[dict]:
    """The situation layers for Leaflet: ``{id, kind, title, attribution, geojson}`` each,
    bottom to top. Labels are translated here so the script needs no catalogue."""
    built = []
    for name in MAP_LAYERS:
        if name not in only:
            continue
        geojson = {
            "hazard_zones": _hazard_geojson,
            "districts": _districts_geojson,
            "shelters": _shelters_geojson,
            "incidents": _incidents_geojson,
        }[name](session)
        built.append(
            {
                "id": name,
                "kind": name,
                "title": str(LAYER_TITLES[name]),
                "attribution": geojson.get("attribution") or "",
                "geojson": geojson,
            }
        )
    return built


def _districts_geojson(session) -> dict:
    """The districts, each with the highest notice level in force there (``notice_level``,
    ``notice_name``, ``notice_label`` such as 「警戒レベル4 避難指示 (洪水)」 and the fill and
    text colours), from ``dai_notices_in_force``."""
    collection, _encoded = _district_base(session)
    by_key = district_levels()
    return dict(
        collection,
        features=[
            _with_level(feature, by_key.get(feature["properties"]["key"]))
            for feature in collection["features"]
        ],
    )


def _district_base(session) -> tuple[dict, list[str]]:
    """The active districts layer as GeoJSON and each feature's JSON text, cached per layer
    version (it changes only on an import). Callers copy before changing anything."""
    version = layers.active_version(session, "districts")
    cache = current_app.extensions.setdefault("disaster_ai.situation.cache", {})
    key = ("districts.geojson", version.id if version is not None else None)
    if key not in cache:
        service.forget_other_versions(cache, key)
        collection = _simplified_for_drawing(layers.layer_geojson(session, "districts"))
        cache[key] = (collection, [_dumps(f) for f in collection["features"]])
    return cache[key]


def _simplified_for_drawing(collection: dict) -> dict:
    """The collection with each polygon simplified by ``DISTRICT_SIMPLIFY_DEG`` (topology kept:
    no ring collapses or crosses itself) and its coordinates on a 1e-6° grid: a district drawn
    on the map loses nothing visible, and its JSON shrinks (≈ 279 KB to ≈ 60 KB for the sample
    kit's districts). The stored layer, which the place and district lookups use, is unchanged."""
    features = collection["features"]
    present = [i for i, f in enumerate(features) if f.get("geometry")]
    if not present:
        return collection
    shapes = shapely.from_geojson([json.dumps(features[i]["geometry"]) for i in present])
    shapes = shapely.simplify(shapes, DISTRICT_SIMPLIFY_DEG, preserve_topology=True)
    shapes = shapely.set_precision(shapes, COORDINATE_GRID_DEG)
    features = list(features)
    labels = shapely.set_precision(shapely.point_on_surface(shapes), COORDINATE_GRID_DEG)
    for i, shape, label in zip(present, shapes, labels, strict=True):
        if not shapely.is_empty(shape):  # never drop a district (a sliver stays as it was)
            features[i] = dict(features[i], geometry=json.loads(shapely.to_geojson(shape)))
        if not shapely.is_empty(label):  # where the map writes the district's name
            properties = dict(features[i].get("properties") or {})
            properties["label_point"] = [
                round(shapely.get_x(label), 6),
                round(shapely.get_y(label), 6),
            ]
            features[i] = dict(features[i], properties=properties)
    return dict(collection, features=features)


def district_levels() -> dict[str, dict]:
    """district key → the notice in force with the highest level there (the latest one when two
    share that level), from the ``dai_notices_in_force`` hook; empty without the notices app."""
    from disaster_ai.plugins import safe_collect

    pm = current_app.extensions["disaster_ai"]
    if not pm.hook.dai_notices_in_force.get_hookimpls():
        return {}
    entries = safe_collect(pm, "dai_notices_in_force", at=service.now())
    return {
        key: _level_properties(entry) for key, entry in levels.highest_by_district(entries).items()
    }


def _level_properties(entry: dict) -> dict:
    level = entry["level"]
    hazard = str(entry.get("hazard") or "")
    hazard_label = str(service.HAZARD_LABELS.get(hazard, hazard))
    name = str(entry.get("name") or levels.LEVEL_NAMES[level])
    return {
        "notice_level": level,
        "notice_name": name,
        "notice_hazard": hazard,
        "notice_hazard_label": hazard_label,
        "notice_label": levels.level_label(level, name, hazard_label),
        "notice_issued_at": str(entry.get("issued_at") or ""),
        "notice_fill": levels.LEVEL_COLOURS[level]["fill"],
        "notice_text": levels.LEVEL_COLOURS[level]["text"],
    }


def _with_level(feature: dict, level: dict | None) -> dict:
    if level is None:
        return feature
    properties = dict(feature["properties"])
    properties.update(level)
    return dict(feature, properties=properties)


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _hazard_geojson(session) -> dict:
    version = layers.active_version(session, "hazard_zones")
    if version is None:
        return {"type": "FeatureCollection", "features": [], "ranks": [], "attribution": ""}
    cache = current_app.extensions.setdefault("disaster_ai.situation.cache", {})
    key = ("hazard_zones.simplified", version.id)
    if key not in cache:
        service.forget_other_versions(cache, key)
        frame, _tree = service.hazard_zone_index(session)
        simplified = shapely.simplify(frame.geometry.values, SIMPLIFY_DEG, preserve_topology=True)
        simplified = shapely.set_precision(simplified, 0.000001)
        cache[key] = [
            {
                "type": "Feature",
                "id": str(k),
                "geometry": json.loads(shapely.to_geojson(g)),
                "properties": {"key": str(k), "name": n, **(p or {})},
            }
            for k, n, p, g in zip(
                frame["key"], frame["name"], frame["props"], simplified, strict=True
            )
        ]
    features = [dict(f, properties=dict(f["properties"])) for f in cache[key]]
    ranks = service.hazard_ranks(features)
    for feature in features:
        props = feature["properties"]
        hazard = props.get("hazard", "")
        props["hazard_label"] = str(service.HAZARD_LABELS.get(hazard, hazard))
        props["class_label"] = service.hazard_class_label(props)
        props["rank_index"] = (
            ranks.index(props["class_label"]) + 1
        )  # 1 = lowest class, for the colour
        props["fill"] = palette.depth_colour(props["rank_index"], len(ranks))
    return {
        "type": "FeatureCollection",
        "features": features,
        "ranks": ranks,
        "rank_colours": [palette.depth_colour(i + 1, len(ranks)) for i in range(len(ranks))],
        "attribution": version.attribution,
        "version": version.version,
    }


def map_hazard(session) -> str | None:
    """The hazard the shelter markers are judged against: ``SITUATION_HAZARD``, else the one
    hazard of the hazard-zone layer (None when it has none or several)."""
    configured = current_app.config.get("SITUATION_HAZARD")
    if configured:
        return str(configured)
    zones = service.hazard_zone_index(session)
    if zones is None:
        return None
    found = {(p or {}).get("hazard") for p in zones[0]["props"]} - {None, ""}
    return found.pop() if len(found) == 1 else None


def _shelters_geojson(session) -> dict:
    listing = service.list_shelters(session, current_app.config["SHELTER_M2_PER_PERSON"])
    hazard = map_hazard(session)
    features = []
    for s in listing["shelters"]:
        marker = palette.shelter_marker(s, hazard)
        properties = {k: v for k, v in s.items() if k not in ("lon", "lat")}
        properties.update(marker=marker, marker_label=str(palette.SHELTER_MARKERS[marker]))
        features.append(
            {
                "type": "Feature",
                "id": s["key"],
                "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
                "properties": properties,
            }
        )
    return {
        "type": "FeatureCollection",
        "hazard": hazard,
        "hazard_label": str(service.HAZARD_LABELS.get(hazard, hazard)) if hazard else "",
        "features": features,
        "attribution": listing["attribution"],
        "version": listing["version"],
    }


INCIDENT_COLUMNS = (
    "id",
    "category",
    "life_threat",
    "people",
    "vulnerable",
    "source",
    "status",
    "occurred_at",
    "lon",
    "lat",
    "district_key",
    "place_name",
    "description",
    "merged_into",
    "created_by",
    "created_at",
    "updated_at",
)


OPEN_INCIDENTS = service.IncidentFilter(
    statuses=("unverified", "confirmed"), limit=MAX_MAP_INCIDENTS
)


def _open_incidents_query(columns):
    from disaster_ai.apps.situation.models import Incident

    return (
        service._filtered(select(*columns), OPEN_INCIDENTS)
        .order_by(Incident.occurred_at.desc(), Incident.id.desc())
        .limit(OPEN_INCIDENTS.limit)
    )


def _open_incidents_total(session) -> int:
    from disaster_ai.apps.situation.models import Incident

    return session.scalar(service._filtered(select(func.count(Incident.id)), OPEN_INCIDENTS)) or 0


def _incident_feature(row, index, labels) -> dict | None:
    """``incidents.incident_feature`` for a row of INCIDENT_COLUMNS; None when the incident
    has no point and no district to stand in for one (nothing to draw)."""
    if row.lon is not None and row.lat is not None:
        geometry = {"type": "Point", "coordinates": [row.lon, row.lat]}
        precision = "point"
    else:
        anchor = index.anchor(row.district_key) if index is not None and row.district_key else None
        if not anchor:
            return None
        geometry = {"type": "Point", "coordinates": list(anchor)}
        precision = "district"
    names = index.names if index is not None else {}
    category, source, status = labels["category"], labels["source"], labels["status"]
    return {
        "type": "Feature",
        "id": row.id,
        "geometry": geometry,
        "properties": {
            "id": row.id,
            "category": row.category,
            "category_label": category.get(row.category, row.category),
            "life_threat": row.life_threat,
            "people": row.people,
            "vulnerable": row.vulnerable,
            "source": row.source,
            "source_label": source.get(row.source, row.source),
            "status": row.status,
            "status_label": status.get(row.status, row.status),
            "occurred_at": _iso(row.occurred_at),
            "lon": row.lon,
            "lat": row.lat,
            "district_key": row.district_key,
            "district_name": names.get(row.district_key or "", None),
            "place_name": row.place_name,
            "description": row.description,
            "merged_into": row.merged_into,
            "created_by": row.created_by,
            "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
            "location_precision": precision,
        },
    }


def _iso(moment):
    # The column type already returns Asia/Tokyo-aware times: incidents.iso without astimezone.
    return None if moment is None else moment.replace(microsecond=0).isoformat()


def _incidents_geojson(session) -> dict:
    """The open incidents (at most MAX_MAP_INCIDENTS, newest first) as the same features as
    ``incidents.incident_feature``, read as plain columns (SQLAlchemy Core): thousands of ORM
    objects cost more than the rest of the map together."""
    from disaster_ai.apps.situation.models import Incident

    index = service.district_index(session)
    labels = service.current_labels()
    rows = session.execute(_open_incidents_query([getattr(Incident, c) for c in INCIDENT_COLUMNS]))
    features = [_incident_feature(row, index, labels) for row in rows]
    return {
        "type": "FeatureCollection",
        "layer": "incidents",
        "total": _open_incidents_total(session),
        "attribution": "",
        "features": [f for f in features if f is not None],
    }


# --- the map data as JSON text: the static layers are encoded once per version ---------------


def _layer_entry(name: str, geojson: dict) -> dict:
    return {
        "id": name,
        "kind": name,
        "title": str(LAYER_TITLES[name]),
        "attribution": geojson.get("attribution") or "",
        "geojson": geojson,
    }


def _join(head: dict, key: str, raw: str) -> str:
    """``head`` as JSON with ``key`` set to the already-encoded ``raw``."""
    text = _dumps(head)
    return f"{text[:-1]}{',' if len(text) > 2 else ''}{_dumps(key)}:{raw}}}"


def _encoded_hazard_layer(session) -> str:
    from flask_babel import get_locale

    version = layers.active_version(session, "hazard_zones")
    if version is None:
        return _dumps(_layer_entry("hazard_zones", _hazard_geojson(session)))
    cache = current_app.extensions.setdefault("disaster_ai.situation.cache", {})
    key = ("hazard_zones.encoded", version.id, str(get_locale()))
    if key not in cache:
        for stale in [k for k in cache if k[0] == key[0] and k[1] != version.id]:
            cache.pop(stale, None)
        cache[key] = _dumps(_layer_entry("hazard_zones", _hazard_geojson(session)))
    return cache[key]


def _encoded_district_layer(session) -> str:
    collection, encoded = _district_base(session)
    by_key = district_levels()
    features = (
        text
        if (level := by_key.get(f["properties"]["key"])) is None
        else _dumps(_with_level(f, level))
        for f, text in zip(collection["features"], encoded, strict=True)
    )
    head = {k: v for k, v in collection.items() if k != "features"}
    geojson = _join(head, "features", "[" + ",".join(features) + "]")
    entry = _layer_entry("districts", collection)
    del entry["geojson"]
    return _join(entry, "geojson", geojson)


def encoded_map_layers(session, only: tuple[str, ...] = MAP_LAYERS) -> list[str]:
    """``build_map_layers`` as JSON text, one string per layer (the map-data endpoint)."""
    encoded = []
    for name in MAP_LAYERS:
        if name not in only:
            continue
        if name == "hazard_zones":
            encoded.append(_encoded_hazard_layer(session))
        elif name == "districts":
            encoded.append(_encoded_district_layer(session))
        elif name == "incidents":
            encoded.append(_encoded_incident_layer(session))
        else:
            encoded.append(_dumps(_layer_entry(name, _shelters_geojson(session))))
    return encoded


def _encoded_incident_layer(session) -> str:
    """The incidents layer as JSON text. Each incident's feature is encoded once and kept
    until its ``updated_at`` moves (every write through incidents.py sets it), per language and
    districts version: a poll reads only (id, updated_at) of the open incidents, and an edit
    re-encodes that incident alone."""
    from flask_babel import get_locale

    from disaster_ai.apps.situation.models import Incident

    index = service.district_index(session)
    locale = str(get_locale())
    key = ("incidents.features", index.version_id if index is not None else None, locale)
    cache = current_app.extensions.setdefault("disaster_ai.situation.cache", {})
    if key not in cache:
        for stale in [k for k in cache if k[0] == key[0] and k[2] == locale]:
            cache.pop(stale, None)
        cache[key] = {}
    encoded: dict = cache[key]
    current = session.execute(_open_incidents_query([Incident.id, Incident.updated_at])).all()
    changed = [i for i, stamp in current if encoded.get(i, (None,))[0] != stamp]
    if changed:
        labels = service.current_labels()
        columns = [getattr(Incident, c) for c in INCIDENT_COLUMNS]
        for start in range(0, len(changed), 500):
            chunk = changed[start : start + 500]
            for row in session.execute(select(*columns).where(Incident.id.in_(chunk))):
                feature = _incident_feature(row, index, labels)
                encoded[row.id] = (
                    row.updated_at,
                    None if feature is None else _dumps(feature),
                )
    if len(encoded) > 2 * MAX_MAP_INCIDENTS:  # forget the incidents that left the map
        keep = {i for i, _stamp in current}
        for stale in [i for i in encoded if i not in keep]:
            del encoded[stale]
    texts = [encoded[i][1] for i, _stamp in current if encoded.get(i, (None, None))[1]]
    head = {"type": "FeatureCollection", "layer": "incidents", "attribution": ""}
    head["total"] = _open_incidents_total(session)
    geojson = _join(head, "features", "[" + ",".join(texts) + "]")
    entry = _layer_entry("incidents", {})
    del entry["geojson"]
    return _join(entry, "geojson", geojson)


def _other_plugin_layers(exclude: set[str]) -> list[dict]:
    """Layers other plugins contribute through dai_map_layers (the municipal boundary, a
    municipality's own layers); a failing plugin is logged and skipped."""
    import logging

    pm = current_app.extensions["disaster_ai"]
    found = []
    for name, plugin in list(pm.list_name_plugin()):
        if (
            plugin is None
            or not hasattr(plugin, "dai_map_layers")
            or name == "disaster_ai.apps.situation"
        ):
            continue
        try:
            others = [p for p in pm.get_plugins() if p is not plugin]
            results = pm.subset_hook_caller("dai_map_layers", remove_plugins=others)(bbox=None)
        except Exception:
            logging.getLogger(__name__).exception(
                "plugin %s failed in dai_map_layers; skipped", name
            )
            continue
        for item in results:
            for layer in item if isinstance(item, list | tuple) else [item]:
                if isinstance(layer, LayerSource) and layer.id not in exclude:
                    found.append(
                        {
                            "id": layer.id,
                            "kind": "other",
                            "title": str(layer.title),
                            "attribution": _attribution_of(layer.geojson),
                            "geojson": layer.geojson,
                            "style": layer.style,
                        }
                    )
    return found


def _attribution_of(geojson: dict) -> str:
    if geojson.get("attribution"):
        return str(geojson["attribution"])
    credits = {
        (f.get("properties") or {}).get("attribution") for f in geojson.get("features") or []
    }
    return " / ".join(sorted(c for c in credits if c))


def map_layer_sources(bbox=None) -> list[LayerSource]:
    """For the ``dai_map_layers`` hook (the dashboard map). ``bbox`` is not used yet: a
    municipality's layers are small enough to send whole."""
    from disaster_ai.storage import get_storage, session_scope

    with session_scope(get_storage(current_app)) as session:
        return [
            LayerSource(
                layer["id"],
                layer["title"],
                {**layer["geojson"], "attribution": layer["attribution"]},
                {"kind": layer["kind"]},
            )
            for layer in build_map_layers(session)
        ]


# The first answer of the map page draws the districts, shelters and incidents (about 190 KB for
# the sample kit); the hazard zones (1.6 MB) and other plugins' layers follow once they are drawn.
MAP_PARTS = {"first": ("districts", "shelters", "incidents"), "details": ("hazard_zones",)}


@bp.get("/map-data.json")
@requires("situation.view")
def map_data():
    """The situation map's layers. ``?layers=incidents,shelters`` returns only those (the
    live refresh); ``?part=first`` the layers of the first paint, ``?part=details`` the rest
    and those of other plugins; with neither, every layer plus those of other plugins.

    The answer carries an ETag over its layers and ``Cache-Control: no-cache``: a browser that
    has it asks again with If-None-Match and gets a 304 without a body while nothing changed."""
    from disaster_ai.errors import ApiError

    asked = request.args.get("layers")
    part = request.args.get("part")
    if part is not None and part not in MAP_PARTS:
        raise ApiError(
            422,
            "invalid_part",
            _("part must be one of: %(parts)s", parts=", ".join(MAP_PARTS)),
            {"part": part},
        )
    if part is not None:
        wanted = MAP_PARTS[part]
    else:
        wanted = tuple(n for n in (asked or "").split(",") if n in MAP_LAYERS) or MAP_LAYERS
    encoded = encoded_map_layers(db(), wanted)
    if (asked is None and part is None) or part == "details":
        default = getattr(current_app.json, "default", str)  # dates, decimals … as jsonify does
        encoded = [
            json.dumps(layer, ensure_ascii=False, separators=(",", ":"), default=default)
            for layer in _other_plugin_layers(set(MAP_LAYERS))
        ] + encoded
    layers_text = "[" + ",".join(encoded) + "]"
    tiles = tile_config()
    digest = hashlib.sha256(layers_text.encode("utf-8"))
    digest.update(_dumps(tiles).encode("utf-8"))
    head = {"tiles": tiles, "generated_at": service.iso(service.now())}
    response = current_app.response_class(
        _join(head, "layers", layers_text), mimetype="application/json"
    )
    # generated_at is left out of the tag: a 304 means "the layers are as you have them"
    response.set_etag(digest.hexdigest()[:32])
    response.headers["Cache-Control"] = "private, no-cache"
    return response.make_conditional(request)


@bp.get("")
@requires("situation.view")
def map_page():
    return render_template(
        "situation/map.html",
        tiles=tile_config(),
        refresh_seconds=current_app.config["MAP_REFRESH_SECONDS"],
        live_layers=",".join(LIVE_LAYERS),
    )


# --- local base-map tiles (MAP_TILES: a folder or an MBTiles file) -------------------------

TILE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


@bp.get("/tiles/<int:z>/<int:x>/<int:y>.png")
@requires("situation.view")
def tile(z: int, x: int, y: int):
    """One base-map tile from the configured folder (``{z}/{x}/{y}.png``) or MBTiles file (TMS
    rows: ``y`` is flipped). 404 when there is no such tile or no local base map; browsers may
    keep a tile for a day."""
    from disaster_ai import basemap

    base = basemap.resolve(current_app.config)
    if base is None or base.kind == "remote" or not 0 <= z <= 30:
        raise service.not_found(_("tile"), f"{z}/{x}/{y}")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise service.not_found(_("tile"), f"{z}/{x}/{y}")
    if base.kind == "mbtiles":
        data, mimetype = _mbtiles_tile(base.path, z, x, y)
    else:
        path = base.path / str(z) / str(x) / f"{y}.png"
        data = path.read_bytes() if path.is_file() else None
        mimetype = "image/png"
    if data is None:
        raise service.not_found(_("tile"), f"{z}/{x}/{y}")
    response = current_app.response_class(data, mimetype=mimetype)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def _mbtiles_tile(path, z: int, x: int, y: int) -> tuple[bytes | None, str]:
    import sqlite3

    if not path.is_file():
        return None, "image/png"
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = connection.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
            (z, x, (2**z - 1) - y),
        ).fetchone()
        fmt = connection.execute("SELECT value FROM metadata WHERE name='format'").fetchone()
    except sqlite3.DatabaseError:
        return None, "image/png"
    finally:
        connection.close()
    mimetype = TILE_TYPES.get(str(fmt[0]).lower() if fmt else "png", "image/png")
    return (bytes(row[0]) if row else None), mimetype


# --- shelter page --------------------------------------------------------------------------

REQUIRED_COUNT = _l("Enter the number of people (0 when empty).")
NOT_A_COUNT = _l("Enter a whole number, e.g. 120.")
COUNT_RANGE = _l("Enter a number from 0 to 100000.")


class CountField(IntegerField):
    """A head count: accepts full-width digits and thousands separators as typed on a phone."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = unicodedata.normalize("NFKC", valuelist[0]).strip().replace(",", "")
        if raw == "":
            self.data = None
            return
        try:
            self.data = int(raw)
        except ValueError:
            self.data = None
            raise ValueError(str(NOT_A_COUNT)) from None


def _count_in_range(form, field):
    if field.process_errors:
        raise StopValidation()  # the parse error already says what is wrong
    if field.data is None or not 0 <= field.data <= MAX_OCCUPANCY:
        raise ValidationError(str(COUNT_RANGE))


class ShelterForm(FlaskForm):
    state = RadioField(
        _l("Status"),
        choices=[SelectChoice("open", _l("Open")), SelectChoice("closed", _l("Closed"))],
        validators=[InputRequired(_l("Choose open or closed."))],
    )
    occupancy = CountField(
        _l("People in the shelter"), validators=[InputRequired(REQUIRED_COUNT), _count_in_range]
    )


def form_prefix(key: str) -> str:
    return "s" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:10]


def _form_for(shelter: dict, formdata=None) -> ShelterForm:
    form = ShelterForm(
        formdata=formdata,
        prefix=form_prefix(shelter["key"]),
        data={
            "state": "open" if shelter["is_open"] else "closed",
            "occupancy": shelter["occupancy"],
        },
    )
    return form


def _render_shelters(
    listing: dict, failed: tuple[str, ShelterForm] | None = None, status: int = 200
):
    can_edit = is_allowed(current_actor(), "situation.edit")
    rows = []
    for shelter in listing["shelters"]:
        form = None
        if can_edit:
            form = failed[1] if failed and failed[0] == shelter["key"] else _form_for(shelter)
        rows.append(
            {"shelter": shelter, "form": form, "anchor": "shelter-" + form_prefix(shelter["key"])}
        )
    open_count = sum(1 for s in listing["shelters"] if s["is_open"])
    people = sum(s["occupancy"] for s in listing["shelters"] if s["is_open"])
    return render_template(
        "situation/shelters.html",
        rows=rows,
        attribution=listing["attribution"],
        open_count=open_count,
        people=people,
        total=len(listing["shelters"]),
        can_edit=can_edit,
        m2_per_person=current_app.config["SHELTER_M2_PER_PERSON"],
    ), status


@bp.get("/shelters")
@requires("situation.view")
def shelters_page():
    return _render_shelters(
        service.list_shelters(db(), current_app.config["SHELTER_M2_PER_PERSON"])
    )


@bp.post("/shelters/<key>")
@requires("situation.edit")
def update_shelter(key: str):
    session = db()
    listing = service.list_shelters(session, current_app.config["SHELTER_M2_PER_PERSON"])
    shelter = next((s for s in listing["shelters"] if s["key"] == key), None)
    if shelter is None:
        raise service.not_found(_("shelter"), key)
    form = _form_for(shelter, formdata=request.form)
    if not form.validate():
        return _render_shelters(listing, failed=(key, form), status=422)
    _status, changed = service.set_shelter_status(
        session,
        key,
        current_actor(),
        is_open=form.state.data == "open",
        occupancy=form.occupancy.data,
    )
    session.commit()
    if changed:
        flash(_("%(name)s: saved.", name=shelter["name"]), "success")
    else:
        flash(_("%(name)s: nothing changed.", name=shelter["name"]), "info")
    return redirect(url_for(".shelters_page", _anchor="shelter-" + form_prefix(key)))


# --- layers: versions, upload, rollback --------------------------------------------------------


LAYER_PAGE_TITLES = {
    "districts": _l("Districts"),
    "places": _l("Places (gazetteer)"),
    "shelters": _l("Shelters"),
    "hazard_zones": _l("Hazard zones"),
}


def _render_layers(error: dict | None = None, form_values: dict | None = None, status: int = 200):
    from disaster_ai.apps.situation import importer

    return render_template(
        "situation/layers.html",
        overview=importer.layer_overview(),
        titles=LAYER_PAGE_TITLES,
        mappings=importer.describe_builtin_mappings(),
        error=error,
        form_values=form_values or {},
        can_import=is_allowed(current_actor(), "geo.import"),
    ), status


@bp.url_value_preprocessor
def _allow_large_uploads(endpoint, _values):
    # Layer files may exceed MAX_CONTENT_LENGTH; raise the limit before the CSRF check reads the form.
    if endpoint == "situation_web.upload_layer_page" and request.method == "POST":
        from disaster_ai.apps.situation.api_layers import FORM_OVERHEAD

        request.max_content_length = current_app.config["GEO_IMPORT_MAX_BYTES"] + FORM_OVERHEAD


@bp.get("/layers")
@requires("situation.view")
def layers_page():
    return _render_layers()


@bp.post("/layers")
@requires("geo.import")
def upload_layer_page():
    from disaster_ai.apps.situation import importer, uploads

    layer = request.form.get("layer", "")
    values = {"layer": layer, "mapping": request.form.get("mapping", "")}
    files = [f for f in request.files.getlist("files") if f.filename]
    if layer not in LAYER_PAGE_TITLES:
        return _render_layers({"field": "layer", "message": _("Choose a layer.")}, values, 422)
    if not files:
        return _render_layers(
            {"field": "files", "message": _("Choose one or more files.")}, values, 422
        )
    names = [values["mapping"]] * len(files) if values["mapping"] else []
    try:
        summary = uploads.import_uploads(layer, files, [], names)
    except uploads.UploadProblem as exc:
        return _render_layers({"field": exc.field, "message": exc.message}, values, 422)
    except importer.GeoImportError as exc:
        return _render_layers({"field": "files", "message": exc.message}, values, 422)
    flash(
        _(
            "%(layer)s: version %(version)s is now active (%(count)s features).",
            layer=LAYER_PAGE_TITLES[layer],
            version=summary["version"],
            count=summary["feature_count"],
        ),
        "success",
    )
    return redirect(url_for(".layers_page"))


@bp.post("/layers/<name>/versions/<int:version>/activate")
@requires("geo.import")
def activate_layer_page(name: str, version: int):
    from disaster_ai.apps.situation import importer

    if name not in LAYER_PAGE_TITLES:
        raise service.not_found(_("layer"), name)
    try:
        importer.activate(name, version)
    except LookupError:
        raise service.not_found(_("layer version"), f"{name} v{version}") from None
    flash(
        _(
            "%(layer)s: version %(version)s is active again.",
            layer=LAYER_PAGE_TITLES[name],
            version=version,
        ),
        "success",
    )
    return redirect(url_for(".layers_page"))
