"""Query parameters, checked: distances with their units, geometries typed by a person.

A leaf module (it imports nothing of :mod:`geo` but errors and CRS helpers) so that the
query operations, the CQL2 evaluator and the stores' SQL translation can all use it
without importing one another.

>>> to_meters("0.05", "kilometers")
50.0
"""

from __future__ import annotations

import difflib
import json
import math
import re
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo.crs import looks_projected
from geo.errors import QueryError

#: The longest distance a query accepts, in metres: the district is about 40 km across.
MAX_DISTANCE_M = 50_000.0

#: Metres per unit, for the units GIS users arrive with (ArcGIS, CQL2, OGC).
UNITS_M = {
    "meters": 1.0,
    "metres": 1.0,
    "meter": 1.0,
    "metre": 1.0,
    "m": 1.0,
    "kilometers": 1000.0,
    "kilometres": 1000.0,
    "kilometer": 1000.0,
    "kilometre": 1000.0,
    "km": 1000.0,
    "feet": 0.3048,
    "foot": 0.3048,
    "ft": 0.3048,
    "statute miles": 1609.344,
    "miles": 1609.344,
    "mi": 1609.344,
    "nautical miles": 1852.0,
    "nmi": 1852.0,
    "米": 1.0,
    "公里": 1000.0,
    "千米": 1000.0,
    # ArcGIS REST spellings (``units=esriSRUnit_Meter`` in a layer query, ``esriMeters``
    # in the JavaScript API), compared case-insensitively.
    "esrisrunit meter": 1.0,
    "esrisrunit kilometer": 1000.0,
    "esrisrunit foot": 0.3048,
    "esrisrunit statutemile": 1609.344,
    "esrisrunit nauticalmile": 1852.0,
    "esrimeters": 1.0,
    "esrikilometers": 1000.0,
    "esrifeet": 0.3048,
    "esrimiles": 1609.344,
    "esrinauticalmiles": 1852.0,
}


_WKT_RE = re.compile(
    r"^\s*(SRID=\d+;)?\s*(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON|"
    r"GEOMETRYCOLLECTION|LINEARRING)\b",
    re.IGNORECASE,
)
_LONLAT_RE = re.compile(r"^\s*(-?\d+(?:\.\d*)?)\s*[,，\s]\s*(-?\d+(?:\.\d*)?)\s*$")


# -- parameters -----------------------------------------------------------------------


def to_meters(value: Any, units: str | None = "meters", *, name: str = "distance") -> float:
    """A distance in metres from a value and its unit, checked: > 0, finite, <= 50 km.

    >>> to_meters("0.05", "kilometers")
    50.0
    >>> to_meters(-1)
    Traceback (most recent call last):
    ...
    geo.errors.QueryError: distance must be greater than 0 meters, got -1
    """
    unit_key = " ".join(str(units or "meters").strip().lower().replace("_", " ").split())
    if unit_key not in UNITS_M:
        close = difflib.get_close_matches(unit_key, [u for u in UNITS_M if not u.startswith("esri")], n=1, cutoff=0.75)
        raise QueryError(
            key="query.unknown_unit",
            params={"units": repr(units), "name": name,
                    "hint_en": f"did you mean {close[0]}? " if close else "",
                    "hint_zh": f"您要用的是否是 {close[0]}？" if close else ""},
            parameter="units",
        )
    if isinstance(value, bool):
        raise QueryError(
            key="query.distance_number", params={"name": name, "unit": unit_key, "value": repr(value)}, parameter=name
        )
    try:
        number = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
    except ValueError:
        raise QueryError(
            key="query.distance_number", params={"name": name, "unit": unit_key, "value": repr(value)}, parameter=name
        ) from None
    if not math.isfinite(number):
        raise QueryError(key="query.distance_finite", params={"name": name, "value": repr(value)}, parameter=name)
    if number <= 0:
        raise QueryError(
            key="query.distance_positive", params={"name": name, "unit": unit_key, "value": value}, parameter=name
        )
    metres = number * UNITS_M[unit_key]
    if metres > MAX_DISTANCE_M:
        raise QueryError(
            key="query.distance_too_far",
            params={
                "name": name, "value": value, "unit": unit_key,
                "metres": f"{metres:,.0f}", "limit": f"{MAX_DISTANCE_M:,.0f}",
            },
            parameter=name,
        )
    return metres


def parse_geometry(value: Any, *, name: str = "geometry") -> BaseGeometry:
    """A shapely geometry (lon/lat) from WKT, GeoJSON (text or dict), "lon,lat" or shapely.

    Raises QueryError for malformed text, empty or invalid geometries and coordinates
    that are not longitude/latitude.
    """
    geom: BaseGeometry | None = None
    if isinstance(value, BaseGeometry):
        geom = value
    elif isinstance(value, dict):
        geom = _from_geojson(value, name)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        geom = shapely.Point(float(value[0]), float(value[1]))
    elif isinstance(value, str):
        text = value.strip()
        m = _LONLAT_RE.match(text)
        if m:
            geom = shapely.Point(float(m.group(1)), float(m.group(2)))
        elif text.startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise QueryError(
                    key="geometry_param.bad_geojson_json",
                    params={"name": name, "pos": exc.pos + 1, "reason": exc.msg}, parameter=name,
                ) from None
            geom = _from_geojson(data, name)
        elif _WKT_RE.match(text):
            try:
                geom = shapely.from_wkt(re.sub(r"^\s*SRID=\d+;", "", text))
            except shapely.errors.GEOSException as exc:
                raise QueryError(key="geometry_param.bad_wkt", params={"name": name, "reason": one_line(exc)},
                                 parameter=name) from None
    if geom is None:
        raise QueryError(
            key="geometry_param.unrecognised", params={"name": name, "value": repr(str(value)[:80])}, parameter=name
        )
    if geom.is_empty:
        raise QueryError(key="geometry_param.empty", params={"name": name}, parameter=name)
    check_lonlat(geom, name)
    return geom


def one_line(message: Any) -> str:
    """An exception's text on one line (GEOS ends some messages with a newline)."""
    return " ".join(str(message).split())


def check_lonlat(geom: BaseGeometry, name: str) -> None:
    """Refuse a geometry with NaN/infinite coordinates, metric-looking coordinates or an
    invalid shape (a bow-tie polygon), as a QueryError naming ``name``."""
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise QueryError(key="geometry_param.not_finite", params={"name": name}, parameter=name)
    if len(coords) and looks_projected(coords[:, 0], coords[:, 1]):
        raise QueryError(
            key="geometry_param.projected",
            params={"name": name, "x": f"{coords[0, 0]:g}", "y": f"{coords[0, 1]:g}"},
            parameter=name,
        )
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise QueryError(key="geometry_param.invalid", params={"name": name, "reason": reason}, parameter=name)


def _from_geojson(data: Any, name: str) -> BaseGeometry:
    if not isinstance(data, dict) or "type" not in data:
        raise QueryError(key="geometry_param.geojson_no_type", params={"name": name}, parameter=name)
    kind = data["type"]
    try:
        if kind == "Feature":
            if not data.get("geometry"):
                raise QueryError(key="geometry_param.feature_no_geometry", params={"name": name}, parameter=name)
            return shape(data["geometry"])
        if kind == "FeatureCollection":
            geoms = [shape(f["geometry"]) for f in data.get("features", []) if f.get("geometry")]
            if not geoms:
                raise QueryError(key="geometry_param.collection_no_geometry", params={"name": name}, parameter=name)
            return shapely.union_all(geoms)
        return shape(data)
    except QueryError:
        raise
    except Exception as exc:  # noqa: BLE001 - shapely raises several kinds for bad GeoJSON
        reason = f"missing {exc.args[0]!r}" if isinstance(exc, KeyError) else one_line(exc)
        params = {"name": name, "kind": repr(kind), "reason": reason}
        if not reason or "operand" in reason or "dimension" in reason or isinstance(exc, TypeError):
            raise QueryError(key="geometry_param.geojson_not_kind", params=params, parameter=name) from None
        raise QueryError(key="geometry_param.geojson_malformed", params=params, parameter=name) from None


def looks_like_geometry(text: str) -> bool:
    """Whether typed text is WKT, GeoJSON or "lon,lat" rather than a name."""
    t = text.strip()
    return bool(_LONLAT_RE.match(t) or t.startswith("{") or _WKT_RE.match(t))
