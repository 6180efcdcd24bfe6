"""Spatial questions in metres: "problems within 50 m of river X", and its relatives.

For example (on the demo registry)::

    from geo.registry import Registry
    reg = Registry.open("data/jintan.gpkg")
    near(reg, "丹金溧漕河", 50)
    within(reg, "儒林镇", layers="violations")
    nearest(reg, "POINT (119.56 31.72)", "sewage_plants", k=3)

Semantics, the same in Python, on the command line and over HTTP:

- Distances are measured in metres in EPSG:4549 and are inclusive: a feature exactly
  ``distance_m`` away is in. Results equal a brute-force
  ``to_metric(geoms).distance(to_metric(target)) <= distance_m``; the indexes of
  :mod:`geo.spatial_index` only choose which features to measure.
- A target is a feature code, an exact name or an alias across rivers and lakes (and
  towns for :func:`within`); every reach sharing a river's name is part of it; a lake is
  its polygon, water surface included. Or a WKT / GeoJSON geometry in lon/lat, or a
  shapely geometry. Two different features answering to the name → an error listing
  them; no match → an error with the closest names.
- Every answer reflects every committed write, from any process: the indexes follow
  the registry's edit history before each question.

Results are GeoDataFrames in EPSG:4326 with the layer's fields, ``fid``, ``layer`` and
``distance_m``, sorted by distance. ``gdf.attrs`` holds the question: ``target``
(lon/lat geometry), ``target_label``, ``buffer`` (the target buffered by the distance
in EPSG:4549, as lon/lat), ``distance_m`` and ``layers``.
"""

from __future__ import annotations

from geo.params import (
    MAX_DISTANCE_M,
    UNITS_M,
    check_lonlat,
    one_line,
    parse_geometry,
    to_meters,
)
from geo.query.names import (
    AREA_LAYERS,
    TARGET_LAYERS,
    Target,
    resolve_layers,
    resolve_target,
)
from geo.query.operations import (
    count_near,
    intersects,
    near,
    nearest,
    rows_intersecting,
    rows_near,
    within,
)
from geo.query.output import result_filename, result_to_geojson

__all__ = [
    "AREA_LAYERS",
    "MAX_DISTANCE_M",
    "TARGET_LAYERS",
    "UNITS_M",
    "Target",
    "check_lonlat",
    "count_near",
    "intersects",
    "near",
    "nearest",
    "one_line",
    "parse_geometry",
    "resolve_layers",
    "resolve_target",
    "result_filename",
    "result_to_geojson",
    "rows_intersecting",
    "rows_near",
    "to_meters",
    "within",
]
