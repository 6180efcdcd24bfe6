"""Labels: names placed without overlaps (towns, lakes, rivers along their course)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.carto.symbols import _Drawn
from geo.carto.text import MM_PER_PT, _text
from geo.crs import to_metric
from geo.export import (
    Selection,
)

if TYPE_CHECKING:
    pass


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


def _place_labels(fig, ax, drawn: Sequence[_Drawn], matched: Sequence[str], query_sel: Selection | None,
                  extent: tuple[float, float, float, float], scale: int, k: float) -> _Labeller:
    """Names on the map, most important first so that none is crowded out by a lesser
    one: the query's target, towns, lakes, rivers, then the codes of few matches."""
    labeller = _Labeller(fig, ax)
    m_per_pt = scale / 1000.0 * MM_PER_PT
    by_id = {d.layer.id: d for d in drawn}
    _keep_matches_clear(labeller, by_id, matched, k)
    if query_sel is not None and query_sel.target is not None and query_sel.target_label:
        _label_target(labeller, query_sel, extent, m_per_pt, k)
    _label_areas(labeller, by_id, k)
    if "rivers" in by_id:
        _label_rivers(labeller, by_id["rivers"], extent, m_per_pt, k)
    if query_sel is not None:
        _label_match_codes(labeller, by_id, matched, m_per_pt, k)
    return labeller


def _keep_matches_clear(labeller: _Labeller, by_id: dict[str, _Drawn], matched: Sequence[str], k: float) -> None:
    """The matches of a query stay readable: no label over them."""
    for lid in matched:
        d = by_id.get(lid)
        if d is not None and len(d.geoms):
            xy = shapely.get_coordinates(shapely.point_on_surface(d.geoms))
            labeller.block_points(xy, d.layer.style.radius * 0.9 * k * math.sqrt(2.2) / 2 + 1)


def _label_target(labeller: _Labeller, query_sel: Selection, extent, m_per_pt: float, k: float) -> None:
    """The query's target is named first, so that no other label takes its place."""
    tgt = shapely.intersection(to_metric(query_sel.target), shapely.box(*extent))
    name, fs = str(query_sel.target_label), 9.5 * k
    if tgt.geom_type.endswith("Polygon"):
        p = tgt.point_on_surface()
        labeller.place(p.x, p.y, name, fontsize=fs, color="#08306b", zorder=72)
        return
    pieces = [g for g in shapely.get_parts(shapely.line_merge(tgt)) if g.geom_type == "LineString"]
    for line in sorted(pieces, key=lambda g: -g.length)[:1]:
        beside = fs * 1.4 * m_per_pt
        label_m = len(name) * fs * m_per_pt * 1.05
        for x, y, angle in _river_label_candidates(line, label_m, beside, min_straight=0.6):
            if labeller.place(x, y, name, fontsize=fs, color="#08306b", rotation=angle,
                              rotation_mode="anchor", zorder=72):
                break


def _label_areas(labeller: _Labeller, by_id: dict[str, _Drawn], k: float) -> None:
    """Town names, then lake names, inside their areas."""
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


def _label_match_codes(labeller: _Labeller, by_id: dict[str, _Drawn], matched: Sequence[str], m_per_pt: float,
                       k: float) -> None:
    """The code above each match, for a layer with few of them (25 at most)."""
    for lid in matched:
        d = by_id.get(lid)
        if d is None or len(d.data) > 25:
            continue
        pts = shapely.point_on_surface(d.geoms)
        for p, code in zip(pts, d.data[d.layer.id_field].tolist(), strict=True):
            labeller.place(p.x, p.y + 4 * k * m_per_pt, str(code), fontsize=5.5 * k, color="#222222", zorder=71)
