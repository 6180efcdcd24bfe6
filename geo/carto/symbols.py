"""Symbols: the catalog's styles drawn in matplotlib (points, lines, areas)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import to_metric
from geo.export import (
    style_values,
)
from layers import Layer

if TYPE_CHECKING:
    pass


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


@dataclass
class _Drawn:
    layer: Layer
    data: pd.DataFrame
    geoms: np.ndarray  # metres
    kind: str


def _polygon_patch(part: BaseGeometry, **kw):
    """A matplotlib patch of one polygon (metres), holes included."""
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    rings = [np.asarray(part.exterior.coords)] + [np.asarray(r.coords) for r in part.interiors]
    codes = np.concatenate([[MplPath.MOVETO] + [MplPath.LINETO] * (len(r) - 2) + [MplPath.CLOSEPOLY] for r in rings])
    return PathPatch(MplPath(np.concatenate(rings), codes), **kw)


def _problem_split(layer: Layer, data: pd.DataFrame, kind: str) -> np.ndarray | None:
    """Which features are problems, for a point layer with a problem rule; else None."""
    if kind != "point" or layer.problem is None or not len(data) or not layer.has_field(layer.problem.field):
        return None
    return layer.problem.mask(data).to_numpy(dtype=bool)
