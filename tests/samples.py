"""Canonical geometries and features reused across tests (inside Jintan District)."""

from __future__ import annotations

from shapely.geometry import LineString, MultiPolygon, Point, Polygon

# A spot in 金城 (the urban core), well inside the district.
INSIDE = Point(119.57, 31.74)
# Nanjing: far outside the district.
OUTSIDE = Point(118.80, 32.06)
LINE = LineString([(119.55, 31.73), (119.56, 31.735), (119.57, 31.74)])
SQUARE = Polygon([(119.56, 31.73), (119.561, 31.73), (119.561, 31.731), (119.56, 31.731)])
MULTI_SQUARE = MultiPolygon([SQUARE])
# A bow tie: self-intersecting, invalid.
BOWTIE = Polygon([(119.56, 31.73), (119.561, 31.731), (119.561, 31.73), (119.56, 31.731)])
EMPTY = Point()


def violation(code: str = "QSL-T-0001", **overrides) -> dict:
    """Properties of a valid violation."""
    props = {
        "code": code,
        "category": "乱堆",
        "status": "待交办",
        "found_on": "2021-04-01",
        "source": "巡河",
        "town": "金城镇",
    }
    props.update(overrides)
    return props
