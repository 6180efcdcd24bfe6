"""``render_map``: a printed map as a short pipeline of named steps.

Check the request, choose the layers, run the query, fit the extent to the paper, read
the features in view, draw them, highlight the query or the town, place the labels,
add the furniture (scale bar, north arrow, title), the legend and the footer, then
write the file atomically. Each step is a function of its own below or in a sibling
module; the order of the drawing steps is the order things stack on the page.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from geo.carto.furniture import (
    _demo_mark,
    _draw_footer,
    _draw_north_arrow,
    _draw_scale_bar,
    _draw_title,
)
from geo.carto.labels import _place_labels
from geo.carto.layout import (
    MARGIN_MM,
    PrintError,
    PrintResult,
    _fit_extent,
    _Page,
    parse_dpi,
    parse_format,
    parse_paper,
)
from geo.carto.legend import _draw_legend_panel
from geo.carto.symbols import _Drawn, _kind, _metric_frame, _plot_layer, _polygon_patch
from geo.carto.tables import _match_rows, _table_pages
from geo.crs import from_metric, to_metric
from geo.export import (
    Selection,
    atomic_path,
    check_out_path,
    find_town,
    parse_bbox,
    parse_layers,
    parse_where,
    select,
)

if TYPE_CHECKING:
    from geo.registry import Registry
    from layers import Catalog

#: Layers always drawn as the base of a district map.
BASE_LAYERS = ("district", "towns")
#: Water drawn on every map as context, whatever layers are chosen: a violations map
#: without 长荡湖 rings blank paper and runs town lines through the lake. Listed in the
#: legend only when chosen.
CONTEXT_LAYERS = ("lakes", "rivers")


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


@dataclass
class _Sheet:
    """The paper and the file: format, size and resolution, and where each part goes (mm)."""

    out: Path
    fmt: str
    paper: str
    orientation: str
    width_mm: float
    height_mm: float
    dpi: int
    page: _Page | None = None
    footer_h: float = 0.0
    map_rect: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    legend_rect: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    legend_cols: int = 1

    @property
    def k(self) -> float:
        return self.page.k


@dataclass
class _Scene:
    """What the map shows: the layers chosen and drawn, the query's matches, the town."""

    ids: list[str]
    drawn_ids: list[str]
    context: list[str]
    problems: bool
    area: Any = None
    query_sel: Selection | None = None
    matched: list[str] | None = None
    drawn: list[_Drawn] | None = None


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
    from geo.fonts import use_cjk_font

    sheet = _check_request(out_path, fmt, paper, orientation, dpi, title)
    catalog = registry.catalog
    # No layers is a base map (district and towns): what "print this view" sends when
    # every layer is switched off.
    chosen = parse_layers(catalog, layers) if layers not in (None, "", [], ()) else []
    box = parse_bbox(bbox)
    today = today or dt.date.today()
    meta = registry.metadata() if callable(registry.metadata) else registry.metadata
    is_demo = bool(meta.get("demo"))
    use_cjk_font()

    scene = _choose_layers(catalog, [lyr.id for lyr in chosen], base, bool(near) if problems is None else bool(problems))
    _run_query(registry, scene, town, near, where)
    bounds_m = _bounds(registry, scene, box)
    _lay_out_page(sheet, subtitle)
    extent, scale = _fit_extent(bounds_m, (sheet.map_rect[2], sheet.map_rect[3]))
    view_lonlat = from_metric(shapely.box(*extent)).bounds
    _read_features(registry, scene, view_lonlat, where, near)

    fig, ax = _map_figure(sheet, extent)
    _draw_layers(ax, scene, sheet.k)
    _draw_query(ax, scene.query_sel, sheet.k)
    _veil_outside(ax, scene.area, extent)
    labeller = _place_labels(fig, ax, scene.drawn, scene.matched, scene.query_sel, extent, scale, sheet.k)
    if is_demo:
        _demo_mark(ax, extent, sheet.k)
    bar_m = _draw_scale_bar(ax, extent, scale, sheet.page, sheet.map_rect[2])
    k, map_rect = sheet.k, sheet.map_rect
    _draw_north_arrow(fig, sheet.page, map_rect[0] + map_rect[2] - 8 * k, map_rect[1] + map_rect[3] - 3 * k)
    _draw_title(fig, sheet.page, str(title), subtitle)
    layers_by_id = {lyr.id: lyr for lyr in catalog}
    legend_drawn = _draw_legend_panel(fig, sheet.page, sheet.legend_rect, sheet.legend_cols, scene.drawn,
                                      scene.context, scene.query_sel, layers_by_id)
    _draw_footer(fig, sheet.page, sheet.footer_h, today, scale, sheet.paper, meta, is_demo)

    figs = [fig]
    if scene.query_sel is not None and sheet.fmt == "pdf":
        sel = scene.query_sel
        rows = _match_rows(sel, layers_by_id, scene.matched)
        figs += _table_pages(rows, sheet.page, str(title), f"{sel.target_label} {sel.distance_m:g} 米范围内：{len(rows)} 处")
    _write(sheet, figs, str(title), subtitle)
    return _result(sheet, scene, len(figs), scale, legend_drawn, labeller, bar_m, view_lonlat)


# -- the steps ------------------------------------------------------------------------------


def _check_request(out_path: str | Path, fmt: str | None, paper: str, orientation: str, dpi: Any,
                   title: str) -> _Sheet:
    """Format, paper, resolution, title and output path, checked in that order."""
    out = Path(out_path)
    fmt = parse_format(out, fmt)
    paper, orientation, (pw, ph) = parse_paper(paper, orientation)
    dpi_value = parse_dpi(dpi, (pw, ph) if fmt == "png" else None)
    if not str(title or "").strip():
        raise PrintError("a title is required", parameter="title")
    check_out_path(out)
    return _Sheet(out, fmt, paper, orientation, pw, ph, dpi_value)


def _choose_layers(catalog: Catalog, ids: list[str], base: bool, problems: bool) -> _Scene:
    """The layers drawn: the chosen ones, the base (district, towns) and the water context."""
    base = base or not ids  # with no layer at all, the base map is what there is to print
    # Lakes and rivers are context on every print; a layer whose features may have no
    # geometry (the chiefs) has nothing to draw.
    context = [lid for lid in CONTEXT_LAYERS if lid in catalog.ids and lid not in ids]
    drawn_ids = [
        lid
        for lid in catalog.ids
        if (lid in ids or (base and lid in BASE_LAYERS) or lid in context) and not catalog[lid].geometry_optional
    ]
    return _Scene(ids=ids, drawn_ids=drawn_ids, context=context, problems=problems, matched=[])


def _run_query(registry: Registry, scene: _Scene, town: str | None, near: Any, where: Any) -> None:
    """The town to frame and the ``near`` question's matches, if asked."""
    catalog = registry.catalog
    if town:
        scene.area, _label = find_town(registry, str(town).strip())
    if near:
        ids = scene.ids
        problem_ids = [lid for lid in ids if catalog[lid].problem is not None]
        scene.matched = problem_ids or [lid for lid in ids if lid not in BASE_LAYERS] or ids
        scene.query_sel = select(registry, scene.matched, near=near, where=where, problems=scene.problems, town=town)


def _bounds(registry: Registry, scene: _Scene, box: tuple[float, float, float, float] | None) -> tuple:
    """What the map must show, in metres, with a 3 % margin: the box asked for, the query's
    buffer, the town, or the district."""
    query_sel = scene.query_sel
    if box is not None:
        # The view asked for, trimmed to the district: a web view at district zoom is
        # mostly margin, and a print should fill its frame with the map.
        asked = to_metric(shapely.box(*box))
        district = registry.district()
        content = asked.intersection(to_metric(district).envelope) if district is not None else asked
        bounds_m = (content if not content.is_empty and content.area > 0.05 * asked.area else asked).bounds
    elif query_sel is not None and query_sel.buffer is not None:
        bounds_m = to_metric(query_sel.buffer).bounds
    elif scene.area is not None:
        bounds_m = to_metric(scene.area).bounds
    else:
        district = registry.district()
        if district is None:
            towns = registry.read("towns")
            district = shapely.union_all(towns.geometry.values) if len(towns) else None
        if district is None:
            frames = [registry.read(lid) for lid in scene.ids]
            geoms = np.concatenate([np.asarray(f.geometry.values, dtype=object) for f in frames]) if frames else []
            if not len(geoms):
                raise PrintError("nothing to print: the registry has no district outline and these layers are empty")
            district = shapely.union_all(geoms)
        bounds_m = to_metric(district).bounds
    pad = 0.03
    bw, bh = bounds_m[2] - bounds_m[0], bounds_m[3] - bounds_m[1]
    return (bounds_m[0] - bw * pad, bounds_m[1] - bh * pad, bounds_m[2] + bw * pad, bounds_m[3] + bh * pad)


def _lay_out_page(sheet: _Sheet, subtitle: str | None) -> None:
    """Where the map, the legend panel and the footer go on the paper (millimetres).

    Type and symbols grow with the paper, a wall map (A1) nearly in proportion, so that
    it reads from a few metres; an A4 keeps text at 6 pt or more.
    """
    pw, ph = sheet.width_mm, sheet.height_mm
    ratio = min(pw, ph) / 297.0
    k = ratio**0.6 if ratio < 1 else ratio**0.9
    sheet.page = _Page(pw, ph, k)
    title_h = (15 if not subtitle else 22) * k
    footer_h = 13 * k
    gap = 4 * k
    if sheet.orientation == "landscape":
        panel_w = 66 * k
        map_rect = (MARGIN_MM, MARGIN_MM + footer_h, pw - 2 * MARGIN_MM - panel_w - gap, ph - 2 * MARGIN_MM - title_h - footer_h)
        legend_rect = (map_rect[0] + map_rect[2] + gap, map_rect[1], panel_w, map_rect[3])
        legend_cols = 1
    else:
        panel_h = 50 * k
        map_rect = (MARGIN_MM, MARGIN_MM + footer_h + panel_h + gap, pw - 2 * MARGIN_MM, ph - 2 * MARGIN_MM - title_h - footer_h - panel_h - gap)
        legend_rect = (MARGIN_MM, MARGIN_MM + footer_h, pw - 2 * MARGIN_MM, panel_h)
        legend_cols = max(1, int(legend_rect[2] // (58 * k)))
    sheet.footer_h, sheet.map_rect, sheet.legend_rect, sheet.legend_cols = footer_h, map_rect, legend_rect, legend_cols


def _read_features(registry: Registry, scene: _Scene, view_lonlat: tuple, where: Any, near: Any) -> None:
    """The features in view of every drawn layer (the query's matches as it found them)."""
    catalog = registry.catalog
    others = [lid for lid in scene.drawn_ids if lid not in scene.matched]
    view_sel = select(registry, others, bbox=view_lonlat, where=_applicable_where(where, catalog, others or []),
                      problems=scene.problems and not near)
    frames = dict(view_sel.frames)
    if scene.query_sel is not None:
        frames.update(scene.query_sel.frames)
    scene.drawn = []
    for lid in scene.drawn_ids:
        gdf = frames.get(lid)
        if gdf is None:
            continue
        geoms = _metric_frame(gdf)
        scene.drawn.append(_Drawn(catalog[lid], gdf, geoms, _kind(catalog[lid], geoms)))


def _map_figure(sheet: _Sheet, extent: tuple[float, float, float, float]):
    """The page and its map frame, in EPSG:4549 metres at the chosen scale."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = sheet.k
    fig = Figure(figsize=(sheet.width_mm / 25.4, sheet.height_mm / 25.4), dpi=sheet.dpi if sheet.fmt == "png" else 100)
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")
    ax = fig.add_axes(sheet.page.rect(*sheet.map_rect))
    ax.set_xlim(extent[0], extent[2])
    ax.set_ylim(extent[1], extent[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_linewidth(0.8 * k)
    ax.set_facecolor("white")
    return fig, ax


def _draw_layers(ax, scene: _Scene, k: float) -> None:
    """Every drawn layer in catalog order; the query's matches highlighted."""
    for z, d in enumerate(scene.drawn, start=1):
        _plot_layer(ax, d.layer, d.data, d.geoms, d.kind, k, zorder=10 + z, highlight=d.layer.id in scene.matched,
                    opaque=d.layer.id in CONTEXT_LAYERS)


def _draw_query(ax, query_sel: Selection | None, k: float) -> None:
    """The query's buffer (dashed, amber) and its target (a dark line)."""
    if query_sel is None:
        return
    if query_sel.buffer is not None:
        buf = to_metric(query_sel.buffer)
        for part in shapely.get_parts(buf):
            if part.geom_type != "Polygon":
                continue
            ax.add_patch(_polygon_patch(part, facecolor=(1.0, 0.85, 0.2, 0.35), edgecolor="#d95f02",
                                        linewidth=0.9 * k, linestyle=(0, (4, 2)), zorder=9))
    if query_sel.target is not None:
        tgt = to_metric(query_sel.target)
        for part in shapely.get_parts(shapely.boundary(tgt) if tgt.geom_type.endswith("Polygon") else tgt):
            xy = shapely.get_coordinates(part)
            ax.plot(xy[:, 0], xy[:, 1], color="#08306b", linewidth=2.4 * k, zorder=9.5, solid_capstyle="round")


def _veil_outside(ax, area: Any, extent: tuple[float, float, float, float]) -> None:
    """Veil what lies outside the chosen town."""
    if area is None:
        return
    outside = shapely.box(*extent).difference(to_metric(area))
    for part in shapely.get_parts(outside):
        if part.geom_type != "Polygon":
            continue
        ax.add_patch(_polygon_patch(part, facecolor=(1, 1, 1, 0.6), edgecolor="none", zorder=50))


def _write(sheet: _Sheet, figs: list[Any], title: str, subtitle: str | None) -> None:
    """Write the pages: complete at ``sheet.out`` or not at all."""
    from matplotlib.backends.backend_pdf import PdfPages

    with atomic_path(sheet.out) as tmp:
        if sheet.fmt == "pdf":
            with PdfPages(tmp, metadata={"Title": title, "Subject": str(subtitle or ""), "Creator": "hehu 河湖一张图"}) as pdf:
                for f in figs:
                    pdf.savefig(f)
        else:
            figs[0].savefig(tmp, format="png", dpi=sheet.dpi, facecolor="white")


def _result(sheet: _Sheet, scene: _Scene, n_figs: int, scale: int, legend_drawn, labeller, bar_m: float,
            view_lonlat: tuple) -> PrintResult:
    query_sel, fmt = scene.query_sel, sheet.fmt
    matches = sum(len(query_sel.frames[lid]) for lid in scene.matched) if query_sel is not None else None
    pages = n_figs if fmt == "pdf" else 1
    size_pt = (sheet.width_mm / 25.4 * 72, sheet.height_mm / 25.4 * 72)
    result = PrintResult(sheet.out, fmt, pages, sheet.paper, sheet.orientation, size_pt, scale,
                         [d.layer.id for d in scene.drawn if d.layer.id not in scene.context], legend_drawn,
                         list(labeller.placed), matches, "", bar_m, tuple(view_lonlat),
                         [d.layer.id for d in scene.drawn if d.layer.id in scene.context])
    result.message = result.text("en")  # for logs; people read result.text(lang)
    return result


def _applicable_where(where: Any, catalog: Catalog, ids: Sequence[str]):
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
