"""Drawing helpers of the demo: boundary files, polygon clean-up, smooth meandering
lines, and the synthetic people, phone numbers and days.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon, shape
from shapely.geometry.base import BaseGeometry

from geo import demo_names as names
from geo.crs import transform_geometry
from geo.demo.tables import DATA_DIR

# -- helpers -----------------------------------------------------------------------


def _load_outline(name: str) -> BaseGeometry:
    """A boundary file (GCJ-02) as a WGS84 geometry."""
    with (DATA_DIR / "boundary" / name).open(encoding="utf-8") as fh:
        geom = shape(json.load(fh))
    return transform_geometry(geom, "gcj02", "EPSG:4326")


def _polygons_only(geom: BaseGeometry) -> BaseGeometry:
    """The polygonal part of an overlay result (drops stray lines and points)."""
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.make_valid(shapely.union_all(parts)) if parts else Polygon()


def _absorb_fragments(polys: list[BaseGeometry], min_area: float) -> list[BaseGeometry]:
    """Give each small detached part of a polygon to the neighbour sharing most of its edge.

    Clipping town cells to the real, ragged district outline leaves slivers; no town
    should own a scrap of land cut off from the rest of it.
    """
    polys = list(polys)
    for i in range(len(polys)):
        parts = sorted(shapely.get_parts(polys[i]), key=lambda g: -g.area)
        if len(parts) < 2:
            continue
        keep = [parts[0]] + [p for p in parts[1:] if p.area >= min_area]
        for frag in (p for p in parts[1:] if p.area < min_area):
            shared = [
                shapely.intersection(frag.boundary, polys[j].boundary).length if j != i else -1.0
                for j in range(len(polys))
            ]
            j = int(np.argmax(shared))
            if shared[j] <= 0:
                keep.append(frag)
                continue
            polys[j] = shapely.union(polys[j], frag)
        polys[i] = shapely.union_all(keep)
    return polys


def _lines_only(geom: BaseGeometry) -> list[LineString]:
    """The line parts of an overlay result, merged where they touch."""
    parts = [g for g in shapely.get_parts(shapely.line_merge(geom)) if g.geom_type == "LineString"]
    if not parts:
        parts = [g for g in shapely.get_parts(geom) if g.geom_type == "LineString"]
    return parts


def _catmull_rom(points: np.ndarray, per_segment: int = 40) -> np.ndarray:
    """A smooth curve through the control points (a uniform Catmull-Rom spline)."""
    p = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(
            0.5
            * (
                2 * p1
                + (-p0 + p2) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3
            )
        )
    out.append(points[-1][None, :])
    return np.vstack(out)


def _meander(
    points: np.ndarray, rng: np.random.Generator, amp: float, step: float = 150.0
) -> LineString:
    """A river-like line: smooth through ``points``, resampled every ``step`` metres and
    displaced sideways by a sum of sinusoids (meanders of 0.7-7 km wavelength)."""
    curve = LineString(_catmull_rom(np.asarray(points, dtype=float)))
    n = max(int(curve.length / step), 4)
    s = np.linspace(0, curve.length, n + 1)
    pts = shapely.get_coordinates(shapely.line_interpolate_point(curve, s))
    ahead = shapely.get_coordinates(
        shapely.line_interpolate_point(curve, np.minimum(s + 1, curve.length))
    )
    behind = shapely.get_coordinates(shapely.line_interpolate_point(curve, np.maximum(s - 1, 0)))
    tangent = ahead - behind
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    offset = np.zeros(len(s))
    for wavelength, weight in ((7000, 1.0), (3000, 0.7), (1500, 0.45), (700, 0.2)):
        phase = rng.uniform(0, 2 * np.pi)
        wl = wavelength * rng.uniform(0.8, 1.25)
        offset += weight * np.sin(2 * np.pi * s / wl + phase)
    offset *= amp
    # Pin the ends so that rivers meet where they were drawn to meet.
    taper = np.minimum(1.0, np.minimum(s, s[-1] - s) / min(600.0, s[-1] / 4))
    return LineString(pts + normal * (offset * taper)[:, None])


def _person(rng: np.random.Generator) -> str:
    """A synthetic two- or three-character Chinese name."""
    given = "".join(rng.choice(names.GIVEN, size=int(rng.choice([1, 2], p=[0.35, 0.65]))))
    return str(rng.choice(names.SURNAMES)) + given


def _phone(rng: np.random.Generator) -> str:
    return f"0519-8{rng.integers(0, 10**7):07d}"


def _day(rng: np.random.Generator, start: date, end: date) -> date:
    """A random day from ``start`` to ``end`` inclusive."""
    return start + timedelta(days=int(rng.integers(0, (end - start).days + 1)))


def _town_of(points_m: np.ndarray, towns: dict[str, BaseGeometry]) -> list[str | None]:
    """Name of the town containing each point (or the nearest, for points on a seam)."""
    tnames = list(towns)
    tree = shapely.STRtree(list(towns.values()))
    pts = shapely.points(points_m)
    idx = tree.query_nearest(pts, all_matches=False)
    out: list[str | None] = [None] * len(pts)
    for i, j in zip(idx[0], idx[1], strict=True):
        out[int(i)] = tnames[int(j)]
    return out
