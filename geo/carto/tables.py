"""The pages after the map listing the matches of a query."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from geo.carto.layout import MARGIN_MM, _Page
from geo.carto.text import _fit_width, _shorten, _text
from geo.export import (
    Selection,
)
from layers import Layer

if TYPE_CHECKING:
    pass


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
