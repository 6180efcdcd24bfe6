"""Printed district maps: vector PDF (or PNG) on A4, A3 or A1 paper, styled from the catalog.

For example (on the demo registry)::

    from geo.carto import render_map
    render_map(reg, ["towns", "rivers", "violations"], "map.pdf",
                   title="金坛区清四乱问题分布图", paper="A3")
    # → PrintResult(path=PosixPath('map.pdf'), pages=1, ...)

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

# ``Path`` and ``METRIC_CRS`` stay importable from here, as before the split.
from pathlib import Path

from geo.carto.furniture import (
    _credits_line,
    _demo_mark,
    _draw_north_arrow,
    _draw_scale_bar,
    _source_zh,
)
from geo.carto.labels import _Labeller, _river_label_candidates
from geo.carto.layout import (
    DEFAULT_DPI,
    MARGIN_MM,
    MAX_DPI,
    MAX_PIXELS,
    MIN_DPI,
    NICE_SCALES,
    ORIENTATIONS,
    PAPER_MM,
    LegendEntry,
    PrintError,
    PrintResult,
    _fit_extent,
    _nice_scale,
    _Page,
    parse_dpi,
    parse_format,
    parse_paper,
)
from geo.carto.legend import (
    _draw_legend,
    _legend_slots,
    legend_entries,
    resolved_words,
    value_label,
)
from geo.carto.render import BASE_LAYERS, CONTEXT_LAYERS, render_map
from geo.carto.symbols import (
    ICON_SHAPES,
    RESOLVED_STYLE,
    SHAPE_MARKERS,
    _dash,
    _kind,
    _over_white,
    _rgba,
    point_shape,
)
from geo.carto.text import MM_PER_PT, _columns, _fit_width, _shorten, _text, _wrap
from geo.crs import METRIC_CRS

__all__ = [
    "BASE_LAYERS",
    "CONTEXT_LAYERS",
    "DEFAULT_DPI",
    "ICON_SHAPES",
    "MARGIN_MM",
    "MAX_DPI",
    "MAX_PIXELS",
    "METRIC_CRS",
    "MIN_DPI",
    "MM_PER_PT",
    "NICE_SCALES",
    "ORIENTATIONS",
    "PAPER_MM",
    "RESOLVED_STYLE",
    "SHAPE_MARKERS",
    "LegendEntry",
    "Path",
    "PrintError",
    "PrintResult",
    "legend_entries",
    "parse_dpi",
    "parse_format",
    "parse_paper",
    "point_shape",
    "render_map",
    "resolved_words",
    "value_label",
    # Helpers the A4 sheets (geo.sheets, dossiers, case sheets) share with the maps.
    "_Labeller",
    "_Page",
    "_columns",
    "_credits_line",
    "_dash",
    "_demo_mark",
    "_draw_legend",
    "_draw_north_arrow",
    "_draw_scale_bar",
    "_fit_extent",
    "_fit_width",
    "_kind",
    "_legend_slots",
    "_nice_scale",
    "_over_white",
    "_rgba",
    "_river_label_candidates",
    "_shorten",
    "_source_zh",
    "_text",
    "_wrap",
]
