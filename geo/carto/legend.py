"""The legend: one line per layer and ``by`` value drawn, with counts, and the query key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from geo.carto.layout import LegendEntry, _Page
from geo.carto.symbols import (
    RESOLVED_STYLE,
    SHAPE_MARKERS,
    _dash,
    _problem_split,
    _rgba,
    point_shape,
)
from geo.carto.text import _shorten, _text
from geo.export import (
    Selection,
    style_values,
)
from layers import Layer

if TYPE_CHECKING:
    pass


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


def _draw_legend_panel(fig, page: _Page, legend_rect: tuple[float, float, float, float], columns: int,
                       drawn: Sequence[Any], context: Sequence[str], query_sel: Selection | None,
                       layers: Mapping[str, Layer]) -> list[LegendEntry]:
    """The query key (when a query is drawn) above the legend of the layers drawn (water
    drawn only as context is not listed); returns the legend lines drawn."""
    k = page.k
    entries: list[LegendEntry] = []
    for d in drawn:
        if d.layer.id not in context:
            entries += legend_entries(d.layer, d.data, d.kind)
    if query_sel is not None and query_sel.buffer is not None:
        _draw_query_key(fig, page, legend_rect, query_sel, k)
        key_h = 16 * k
        legend_rect = (legend_rect[0], legend_rect[1] + key_h, legend_rect[2], legend_rect[3] - key_h)
    return _draw_legend(fig, page, legend_rect, entries, layers, columns)
