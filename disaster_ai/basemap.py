"""Where the situation map's optional base map comes from (``MAP_TILES``, ``MAP_TILE_URL``).

The core needs this to write the Content-Security-Policy (an outside tile host is allowed in
``img-src`` only while it is configured and used); the situation app serves local tiles and
gives the map its tile layer. Three sources, chosen by ``MAP_TILES``:

- ``"gsi_pale"`` (or ``"gsi_std"``): 地理院タイル from ``cyberjapandata.gsi.go.jp``, fetched by the
  browser, **only while that host is in** ``EGRESS_ALLOWLIST``: the allowlist stays the one list
  of outside hosts the desk talks to; without the host there is no base map.
- a folder of ``{z}/{x}/{y}.png`` tiles, or an ``.mbtiles`` file: served by the app itself
  (``/apps/situation/tiles/{z}/{x}/{y}.png``), for LGWAN sites; the CSP needs nothing more.
- unset: ``MAP_TILE_URL`` (a tile server the browser can reach, e.g. on the municipal network),
  else no base map.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

GSI_HOST = "cyberjapandata.gsi.go.jp"
# the credit the 国土地理院 terms ask for, and the page it links to
GSI_ATTRIBUTION = "地理院タイル"
GSI_ATTRIBUTION_URL = "https://maps.gsi.go.jp/development/ichiran.html"
# name → (URL template, max zoom)
PRESETS = {
    "gsi_pale": (f"https://{GSI_HOST}/xyz/pale/{{z}}/{{x}}/{{y}}.png", 18),
    "gsi_std": (f"https://{GSI_HOST}/xyz/std/{{z}}/{{x}}/{{y}}.png", 18),
}


@dataclass(frozen=True)
class BaseMap:
    """``kind``: ``remote`` (the browser fetches ``url``), ``folder`` or ``mbtiles`` (the app
    serves ``path``). ``attribution`` is plain text; ``attribution_url`` an optional link."""

    kind: str
    url: str | None
    path: Path | None
    attribution: str
    max_zoom: int
    attribution_url: str | None = None


def resolve(config) -> BaseMap | None:
    """The configured base map, or None (no base map: the vector layers alone)."""
    setting = config.get("MAP_TILES")
    max_zoom = int(config.get("MAP_TILE_MAX_ZOOM") or 18)
    attribution = str(config.get("MAP_TILE_ATTRIBUTION") or "")
    if setting:
        setting = str(setting)
        if setting in PRESETS:
            url, preset_zoom = PRESETS[setting]
            allowed = {h.lower() for h in config.get("EGRESS_ALLOWLIST") or []}
            if GSI_HOST not in allowed:
                log.warning(
                    "MAP_TILES=%s needs %s in EGRESS_ALLOWLIST; the map has no base map",
                    setting,
                    GSI_HOST,
                )
                return None
            return BaseMap("remote", url, None, GSI_ATTRIBUTION, preset_zoom, GSI_ATTRIBUTION_URL)
        path = Path(setting)
        if path.suffix.lower() == ".mbtiles":
            return BaseMap("mbtiles", None, path, attribution, max_zoom)
        return BaseMap("folder", None, path, attribution, max_zoom)
    if config.get("MAP_TILE_URL"):
        return BaseMap("remote", config["MAP_TILE_URL"], None, attribution, max_zoom)
    return None


def remote_origin(config) -> str | None:
    """The origin the browser fetches tiles from (for ``img-src``), or None. Leaflet's ``{s}``
    subdomain becomes ``*``."""
    base = resolve(config)
    if base is None or base.kind != "remote" or not base.url:
        return None
    parts = urlsplit(base.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"
