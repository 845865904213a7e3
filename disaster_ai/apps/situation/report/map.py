"""The static PNG map of the situation (matplotlib, no network, no base map)."""

from __future__ import annotations

import io
import math
import warnings

import numpy as np

from disaster_ai.apps.situation import analysis
from disaster_ai.apps.situation.report.common import Situation, credit_items
from disaster_ai.apps.situation.report.text_ja import _cat, _hz, _ja_time

# --- PNG map -------------------------------------------------------------------------------------


STATE_STYLE = {
    "unsafe": ("#d7191c", "X", 140),
    "usable": ("#1a9641", "o", 60),
    "open_not_designated": ("#2b83ba", "s", 45),
    "open": ("#1a9641", "o", 60),
    "closed": ("#9e9e9e", "o", 22),
}
STATE_LABEL = {
    "unsafe": "避難所：開設・想定区域内（危険）",
    "usable": "避難所：利用可能",
    "open_not_designated": "避難所：開設・指定外",
    "open": "避難所：開設",
    "closed": "避難所：未開設",
}


def _polygon_path(geometries):
    """One compound matplotlib Path for many polygons (holes by orientation, non-zero rule)."""
    import shapely
    from matplotlib.path import Path

    geometries = np.asarray(geometries, dtype=object)
    if len(geometries) == 0:
        return None
    rings = shapely.get_rings(shapely.get_parts(shapely.orient_polygons(geometries)))
    coords, index = shapely.get_coordinates(rings, return_index=True)
    if len(coords) == 0:
        return None
    codes = np.full(len(coords), Path.LINETO, dtype=Path.code_type)
    start = np.r_[True, index[1:] != index[:-1]]
    end = np.r_[index[1:] != index[:-1], True]
    codes[start] = Path.MOVETO
    codes[end] = Path.CLOSEPOLY
    return Path(coords, codes)


def render_png(source: Situation | dict, path_or_file, *, dpi: int = 150) -> None:
    """A static map: district outlines, hazard zones by rank, shelters by state, incidents by
    category, hotspots, legend and every dataset's attribution. Given only a document, it draws
    what the document holds (shelters and hotspots). The Japanese font comes from fonts.py (the
    system's Noto Sans CJK, else the packaged IPAexGothic); with neither, the map still renders
    and says so in a red line at the top."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from disaster_ai import fonts

    situation = source if isinstance(source, Situation) else None
    doc = situation.doc if situation else source
    rc = {
        "font.family": "sans-serif",
        "font.sans-serif": fonts.matplotlib_families(),
        "svg.hashsalt": "disaster-ai",
        "path.simplify": True,
    }
    missing = fonts.japanese_font().missing
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"Glyph .* missing from font", category=UserWarning
        )
        warnings.filterwarnings(
            "ignore", message=r"Matplotlib currently does not support", category=UserWarning
        )
        fig = Figure(figsize=(9, 11), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.04, 0.14, 0.92, 0.80))
        handles = _draw(ax, situation, doc)
        hazard = doc.get("hazard")
        title = f"{doc.get('municipality') or ''} 状況図 {_ja_time(doc['generated_at'])} 現在"
        if hazard:
            title += f"（{_hz(hazard['code'])}）"
        ax.set_title(title.strip(), fontsize=12)
        if handles:
            ax.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.9)
        items = list(
            dict.fromkeys(c for a in doc.get("attribution") or [] for c in credit_items(a))
        )
        credits = "出典：" + "／".join(items or ["（レイヤーの出典情報なし）"])
        credits += "\n地図の距離は直線距離。推計人口は地区人口の面積按分。背景地図なし。"
        fig.text(0.04, 0.02, _wrap(credits, 95), fontsize=6.5, va="bottom", ha="left")
        if missing:
            fig.text(0.04, 0.985, fonts.MISSING_NOTE, fontsize=9, color="#b00000", va="top")
        fig.savefig(path_or_file, format="png", dpi=dpi, metadata={"Software": None})


def _wrap(text: str, width: int) -> str:
    out = []
    for paragraph in text.split("\n"):
        out += [paragraph[i : i + width] for i in range(0, max(len(paragraph), 1), width)]
    return "\n".join(out)


def _draw(ax, situation, doc):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, PathPatch

    handles = []
    ax.set_xticks([])
    ax.set_yticks([])
    hazard = (doc.get("hazard") or {}).get("code")
    lat0 = 35.0
    if situation is not None:
        layers = situation.layers
        lat0 = layers.origin[1]
        if hazard and hazard in layers.zone_ranks:
            ranks = layers.zone_ranks[hazard]
            colours = _blues(len(ranks))
            mask = (layers.zones["hazard"] == hazard).to_numpy()
            rank_of = layers.zones.loc[mask, "rank"].to_numpy()
            geoms = layers.zones.geometry.to_numpy()[mask]
            for (rank, _), colour in zip(ranks, colours, strict=True):  # one patch per rank
                path = _polygon_path(geoms[rank_of == rank])
                if path is not None:
                    ax.add_artist(
                        PathPatch(path, facecolor=colour, edgecolor="none", alpha=0.75, zorder=1)
                    )
                    handles.append(
                        Patch(facecolor=colour, edgecolor="none", label=f"{_hz(hazard)} {rank}")
                    )
        path = _polygon_path(layers.districts.geometry.to_numpy())
        if path is not None:
            ax.add_artist(
                PathPatch(path, facecolor="none", edgecolor="#555555", linewidth=0.5, zorder=2)
            )
            handles.append(Line2D([], [], color="#555555", linewidth=0.8, label="地区界"))
        if situation.boundary is not None:
            outline = _polygon_path(np.array([situation.boundary], dtype=object))
            if outline is not None:
                ax.add_artist(
                    PathPatch(
                        outline, facecolor="none", edgecolor="#222222", linewidth=1.2, zorder=2
                    )
                )
        inc = situation.incidents
        active = inc.active & ~np.isnan(inc.lon)
        present = np.unique(inc.category[active])
        colours = _category_colours(len(inc.categories))
        for code in present:  # one scatter per category present
            sel = active & (inc.category == code)
            ax.scatter(
                inc.lon[sel],
                inc.lat[sel],
                s=6,
                color=colours[code],
                marker=".",
                linewidths=0,
                zorder=3,
                rasterized=True,
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker="o",
                    markersize=4,
                    color=colours[code],
                    label=f"事案：{_cat(inc.categories[code])}",
                )
            )
        bounds = layers.districts.total_bounds if len(layers.districts) else None
    else:
        bounds = None
    items = doc["shelters"]["items"]
    for state in reversed(analysis.SHELTER_STATES):  # draw the loud states last
        chosen = [s for s in items if s["state"] == state]
        if not chosen:
            continue
        colour, marker, size = STATE_STYLE[state]
        ax.scatter(
            [s["lon"] for s in chosen],
            [s["lat"] for s in chosen],
            s=size,
            color=colour,
            marker=marker,
            edgecolors="black",
            linewidths=0.4,
            zorder=5 if state == "unsafe" else 4,
        )
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker=marker,
                markersize=7,
                markerfacecolor=colour,
                markeredgecolor="black",
                label=f"{STATE_LABEL[state]} {len(chosen)}",
            )
        )
    spots = doc["hotspots"]["items"]
    if spots:
        ax.scatter(
            [h["lon"] for h in spots],
            [h["lat"] for h in spots],
            s=[40 + 4 * h["count"] for h in spots],
            facecolors="none",
            edgecolors="#7b3294",
            linewidths=1.2,
            zorder=6,
        )
        for h in spots[:10]:
            ax.annotate(
                h["id"],
                (h["lon"], h["lat"]),
                fontsize=7,
                color="#7b3294",
                zorder=7,
                xytext=(4, 4),
                textcoords="offset points",
            )
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=9,
                markerfacecolor="none",
                markeredgecolor="#7b3294",
                label="事案の集中（ホットスポット）",
            )
        )
    if bounds is None and items:
        lons = [s["lon"] for s in items]
        lats = [s["lat"] for s in items]
        bounds = (min(lons), min(lats), max(lons), max(lats))
    if bounds is not None:
        lat0 = (bounds[1] + bounds[3]) / 2
        pad_x = (bounds[2] - bounds[0]) * 0.03 or 0.01
        pad_y = (bounds[3] - bounds[1]) * 0.03 or 0.01
        ax.set_xlim(bounds[0] - pad_x, bounds[2] + pad_x)
        ax.set_ylim(bounds[1] - pad_y, bounds[3] + pad_y)
    ax.set_aspect(1 / math.cos(math.radians(lat0)))
    return handles


def _blues(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["Blues"]
    return [cmap(0.3 + 0.65 * i / max(n - 1, 1)) for i in range(n)]


def _category_colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(n)]


def png_bytes(source: Situation | dict) -> bytes:
    buffer = io.BytesIO()
    render_png(source, buffer)
    return buffer.getvalue()
