"""CQL2-text filters, evaluated on a layer's GeoDataFrame, with distances in metres.

Supported (OGC CQL2 Basic CQL2 plus the spatial operators GIS users reach for):

- comparisons ``=  <>  !=  <  <=  >  >=``, ``LIKE`` (``%`` any run, ``_`` one
  character, ``\\`` escapes), ``IN (...)``, ``IS [NOT] NULL``, ``BETWEEN a AND b``, each
  with ``NOT`` where CQL2 allows it;
- ``AND``, ``OR``, ``NOT`` and parentheses, with SQL's three-valued logic (a comparison
  with a missing value is unknown, and unknown rows are not selected);
- literals: ``'text'`` (``''`` for a quote), numbers, ``TRUE``/``FALSE``,
  ``DATE('2021-06-30')``, ``TIMESTAMP('2021-06-30T08:00:00Z')``;
- ``S_INTERSECTS``, ``S_WITHIN``, ``S_CONTAINS``, ``S_DISJOINT``, ``S_TOUCHES``,
  ``S_CROSSES``, ``S_OVERLAPS``, ``S_EQUALS`` with WKT or ``BBOX(minx,miny,maxx,maxy)``
  in lon/lat;
- the extension ``DWITHIN(geometry, <WKT>, 50, meters)``: CQL2 has no distance
  predicate, and GeoServer's measures in degrees on lon/lat layers. Here the distance is
  metres in EPSG:4549, inclusive, like every distance in hehu; units are ``meters``,
  ``kilometers``, ``feet``, ``statute miles`` or ``nautical miles``.

Spatial predicates are evaluated in EPSG:4549 like :mod:`geo.query`.

>>> import geopandas as gpd
>>> from shapely import Point
>>> gdf = gpd.GeoDataFrame({"status": ["整改中", "已销号"]},
...                        geometry=[Point(119.5, 31.7), Point(119.6, 31.7)], crs="EPSG:4326")
>>> filter_mask(gdf, "violations", "status <> '已销号' AND DWITHIN(geometry, POINT(119.5 31.7), 10, meters)").tolist()
[True, False]
"""

from geo.cql2.checker import check
from geo.cql2.evaluator import evaluate, filter_mask, like_matcher
from geo.cql2.literals import coerce_literal, resolve_property
from geo.cql2.parser import MAX_NESTING, parse

__all__ = [
    "MAX_NESTING",
    "check",
    "coerce_literal",
    "evaluate",
    "filter_mask",
    "like_matcher",
    "parse",
    "resolve_property",
]
