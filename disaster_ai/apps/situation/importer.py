"""Geodata import: files + TOML mappings → the layer contract frame in EPSG:4326, then one new
layer version.

The frame handed to ``layers.store_layer_version`` always has the columns ``key``, ``name``,
``name_kana``, ``props`` (a dict per row) and ``geometry``, in EPSG:4326.

- Formats: GeoJSON (.geojson/.json), GeoPackage (.gpkg), zipped Shapefile (.zip, or a bare .shp
  with its siblings), CSV with latitude/longitude columns (.csv).
- Japanese quirks: JGD2000/JGD2011 geographic and plane-rectangular CRSs are reprojected;
  Shift_JIS (cp932) attribute tables are detected (.cpg, else a look at the bytes) or forced by
  the mapping; invalid polygons are repaired with ``shapely.make_valid`` and reported.
- Any problem raises ``GeoImportError`` naming the file, the row (1-based feature number) and the
  problem; nothing is written, because all files are read and checked before the one transaction.

docs/situation-import.md is the reference for the mapping files and the messages.

This module is the importer's public face; the work is done in ``importing/``:
  common.py      constants, GeoImportError, value helpers
  mappings.py    mapping files: parse, load, pair, recognise a national format from its columns
  readers.py     file → raw frame (GeoJSON, GeoPackage, Shapefile, CSV, JSON record arrays)
  geometry.py    geometry types, reprojection, repair, dissolve, provisional districts
  attributes.py  raw attributes → key, name, reading, props (flags, hazards, ranks, numbers)
  pipeline.py    read_layer / read_sources / import_layer / activate / the sample kit
"""

from __future__ import annotations

from disaster_ai.apps.situation.importing.common import (  # noqa: F401
    FORMATS,
    HAZARD_ALIASES,
    LAYER_PROPS,
    MAPPINGS_DIR,
    POINT_LAYERS,
    POLYGON_LAYERS,
    SHELTER_KINDS,
    GeoImportError,
)
from disaster_ai.apps.situation.importing.mappings import (  # noqa: F401
    Mapping,
    builtin_mapping,
    builtin_mappings,
    describe_builtin_mappings,
    load_mapping,
    pair_mappings,
    parse_mapping,
)
from disaster_ai.apps.situation.importing.pipeline import (  # noqa: F401
    ImportResult,
    Source,
    activate,
    derive_districts_from_places,
    import_layer,
    layer_overview,
    load_sample_layers,
    read_layer,
    read_sample_frames,
    read_sources,
    sample_sources,
    set_shelter_hazards,
    version_dict,
)
from disaster_ai.config import DefaultConfig  # noqa: F401
