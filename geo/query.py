"""Spatial questions in metres: "problems within 50 m of river X", and its relatives.

>>> from geo.registry import Registry
>>> reg = Registry.open("data/jintan.gpkg")                       # doctest: +SKIP
>>> near(reg, "丹金溧漕河", 50)                                    # doctest: +SKIP
>>> within(reg, "儒林镇", layers="violations")                     # doctest: +SKIP
>>> nearest(reg, "POINT (119.56 31.72)", "sewage_plants", k=3)   # doctest: +SKIP

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

import difflib
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo import i18n
from geo.crs import from_metric, looks_projected, to_metric
from geo.errors import QueryError
from geo.features import json_value as _json_value
from geo.spatial_index import LayerIndex, RegistryIndexes, split_lines
from geo.validate import DISTRICT_TOLERANCE_M

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

#: Layers a named target is looked up in.
TARGET_LAYERS = ("rivers", "lakes")
AREA_LAYERS = ("towns", "rivers", "lakes")

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
        hint = f"did you mean {close[0]}? " if close else ""
        raise QueryError(
            f"unknown unit {units!r} for {name}; {hint}use meters, kilometers, feet, statute miles or "
            "nautical miles",
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
                    f"{name}: malformed GeoJSON at character {exc.pos + 1}: {exc.msg}", parameter=name
                ) from None
            geom = _from_geojson(data, name)
        elif _WKT_RE.match(text):
            try:
                geom = shapely.from_wkt(re.sub(r"^\s*SRID=\d+;", "", text))
            except shapely.errors.GEOSException as exc:
                raise QueryError(f"{name}: malformed WKT: {one_line(exc)}", parameter=name) from None
    if geom is None:
        raise QueryError(
            f"{name}: expected WKT, GeoJSON or lon,lat; got {str(value)[:80]!r}", parameter=name
        )
    if geom.is_empty:
        raise QueryError(f"{name}: the geometry is empty", parameter=name)
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
        raise QueryError(f"{name}: coordinates must be finite numbers", parameter=name)
    if len(coords) and looks_projected(coords[:, 0], coords[:, 1]):
        raise QueryError(
            f"{name}: coordinates must be longitude/latitude (EPSG:4326), got x={coords[0, 0]:g}, "
            f"y={coords[0, 1]:g}",
            parameter=name,
        )
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise QueryError(f"{name}: invalid geometry: {reason}", parameter=name)


def _from_geojson(data: Any, name: str) -> BaseGeometry:
    if not isinstance(data, dict) or "type" not in data:
        raise QueryError(f"{name}: GeoJSON must be an object with a \"type\"", parameter=name)
    kind = data["type"]
    try:
        if kind == "Feature":
            if not data.get("geometry"):
                raise QueryError(f"{name}: the GeoJSON Feature has no geometry", parameter=name)
            return shape(data["geometry"])
        if kind == "FeatureCollection":
            geoms = [shape(f["geometry"]) for f in data.get("features", []) if f.get("geometry")]
            if not geoms:
                raise QueryError(f"{name}: the FeatureCollection has no geometries", parameter=name)
            return shapely.union_all(geoms)
        return shape(data)
    except QueryError:
        raise
    except Exception as exc:  # noqa: BLE001 - shapely raises several kinds for bad GeoJSON
        reason = f"missing {exc.args[0]!r}" if isinstance(exc, KeyError) else one_line(exc)
        if not reason or "operand" in reason or "dimension" in reason or isinstance(exc, TypeError):
            reason = f"its coordinates are not those of a {kind} (each position is [lon, lat])"
        raise QueryError(f"{name}: malformed GeoJSON {kind!r}: {reason}", parameter=name) from None


def resolve_layers(registry, layers: str | Sequence[str] | None, default: Sequence[str]) -> list[str]:
    """Layer ids from "a,b" or a list (None: ``default``); unknown ids are a QueryError."""
    if layers is None:
        return list(default)
    if isinstance(layers, str):
        ids = [s.strip() for s in layers.split(",") if s.strip()]
    else:
        ids = [str(s).strip() for s in layers]
    unknown = [i for i in ids if i not in registry.catalog]
    if unknown:
        raise QueryError(
            f"unknown layer {unknown[0]!r}; known layers: {', '.join(registry.catalog.ids)}",
            parameter="layers",
        )
    if not ids:
        raise QueryError("no layers given", parameter="layers")
    return list(dict.fromkeys(ids))


# -- targets --------------------------------------------------------------------------


@dataclass
class Target:
    """What a question is asked about: its lon/lat geometry, metric geometry and name."""

    geometry: BaseGeometry
    label: str
    features: list[tuple[str, int]] = field(default_factory=list)

    @cached_property
    def metric(self) -> BaseGeometry:
        return to_metric(self.geometry)

    def buffer(self, distance_m: float) -> BaseGeometry:
        """The area within ``distance_m`` metres, in lon/lat (kept: a named target is
        asked about again and again)."""
        cache = self.__dict__.setdefault("_buffers", {})
        if distance_m not in cache:
            if len(cache) > 16:
                cache.clear()
            cache[distance_m] = from_metric(self.metric.buffer(distance_m, quad_segs=16))
        return cache[distance_m]


def _forget_targets(registry) -> None:
    for key in [k for k in registry.cache if isinstance(k, tuple) and k[:2] == ("query", "target")]:
        del registry.cache[key]


def _split_aliases(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [a.strip() for a in re.split(r"[;；,，、]", str(value)) if a.strip()]


def _similarity(a: str, b: str) -> float:
    """Name similarity that works for Chinese: difflib ratio or character-bigram Dice."""
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    ba = {a[i : i + 2] for i in range(len(a) - 1)} or {a}
    bb = {b[i : i + 2] for i in range(len(b) - 1)} or {b}
    dice = 2 * len(ba & bb) / (len(ba) + len(bb))
    return max(ratio, dice)


def _target_geometry(geoms: Iterable[BaseGeometry]) -> BaseGeometry:
    """The union of a target's features; lines are collected as they are (no noding)."""
    parts = shapely.get_parts(np.array([g for g in geoms if g is not None], dtype=object))
    types = set(shapely.get_type_id(parts).tolist())
    if types <= {1, 2}:
        return shapely.multilinestrings(parts) if len(parts) > 1 else parts[0]
    if types <= {0}:
        return shapely.multipoints(parts) if len(parts) > 1 else parts[0]
    return shapely.union_all(parts)


def resolve_target(
    registry, target: Any, *, layers: Sequence[str] = TARGET_LAYERS, name: str = "target", check_district: bool = True
) -> Target:
    """Turn what a person typed (code, name, alias, WKT, GeoJSON, geometry) into a Target."""
    if isinstance(target, Target):
        return target
    if isinstance(target, dict) and "layer" in target and "fid" in target:
        try:
            fid = int(target["fid"])
        except (TypeError, ValueError):
            raise QueryError(f"{name}: fid must be a whole number, got {target['fid']!r}", parameter=name) from None
        feature = registry.get(str(target["layer"]), fid)
        layer = registry.layer(str(target["layer"]))
        label = str(feature["properties"].get(layer.label_field) or f"{layer.id} {target['fid']}")
        return Target(feature["geometry"], label, [(layer.id, fid)])
    if isinstance(target, str) and not _looks_like_geometry(target):
        return _resolve_name(registry, target.strip(), layers, name)
    if target is None or (isinstance(target, str) and not target.strip()):
        raise QueryError(key="query.required", params={"name": name}, parameter=name)
    geom = parse_geometry(target, name=name)
    if check_district:
        _check_district(registry, geom, name)
    return Target(geom, _geometry_label(geom))


def _looks_like_geometry(text: str) -> bool:
    t = text.strip()
    return bool(_LONLAT_RE.match(t) or t.startswith("{") or _WKT_RE.match(t))


def _geometry_label(geom: BaseGeometry) -> str:
    if geom.geom_type == "Point":
        return f"点 {geom.x:.6f},{geom.y:.6f}"
    return {"LineString": "线", "MultiLineString": "线", "Polygon": "面", "MultiPolygon": "面"}.get(
        geom.geom_type, "几何"
    )


def _check_district(registry, geom: BaseGeometry, name: str) -> None:
    """Refuse a geometry lying wholly outside the district (beyond the outline tolerance)."""
    district = registry.district()
    if district is None:
        return
    key = ("query", "district-metric")
    cached = registry.cache.get(key)
    if cached is None or cached[0] is not district:
        outline = to_metric(district).buffer(DISTRICT_TOLERANCE_M)
        shapely.prepare(outline)
        cached = (district, outline)
        registry.cache[key] = cached
    if not shapely.intersects(cached[1], to_metric(geom)):
        where = f"{geom.x:.6f},{geom.y:.6f}" if geom.geom_type == "Point" else geom.geom_type
        raise QueryError(
            key="query.outside_district",
            params={"name": name, "where": where, "tolerance": f"{DISTRICT_TOLERANCE_M:.0f}"},
            parameter=name,
        )


@dataclass
class _Names:
    """A layer's codes, names and aliases -> index rows, rebuilt when the index changes."""

    codes: dict[str, list[int]]
    names: dict[str, list[int]]
    aliases: dict[str, dict[str, list[int]]]  # alias -> {name: rows}


def _names(registry, layer_id: str, index: LayerIndex) -> _Names:
    """The lookup table of a layer; call with the index lock held."""
    key = ("query", "names", layer_id)
    cached = registry.cache.get(key)
    if cached is not None and cached[0] is index and cached[1] == index.version:
        return cached[2]
    layer = registry.catalog[layer_id]
    rows = index.all_rows()
    frame = index.take(rows)
    table = _Names({}, {}, {})
    codes = frame[layer.id_field].tolist()
    labels = frame[layer.label_field].tolist()
    aliases = frame[layer.aliases_field].tolist() if layer.aliases_field else [None] * len(rows)
    for row, code, label, alias in zip(rows.tolist(), codes, labels, aliases, strict=True):
        if code is not None:
            table.codes.setdefault(str(code), []).append(row)
        if label is not None:
            table.names.setdefault(str(label), []).append(row)
        for a in _split_aliases(alias):
            table.aliases.setdefault(a, {}).setdefault(str(label), []).append(row)
    registry.cache[key] = (index, index.version, table)
    return table


def _resolve_name(registry, text: str, layer_ids: Sequence[str], name: str) -> Target:
    layer_ids = [lid for lid in layer_ids if lid in registry.catalog]
    if ":" in text and text.split(":", 1)[0] in registry.catalog:  # "lakes:长荡湖"
        prefix, text = text.split(":", 1)
        if prefix not in layer_ids:
            raise QueryError(
                f"{name}: layer {prefix!r} holds no named targets; use one of {', '.join(layer_ids)}",
                parameter=name,
            )
        layer_ids = [prefix]
    with RegistryIndexes.of(registry).use(registry, layer_ids) as indexes:
        # A name resolved before, against the same indexes, resolves the same way.
        key = ("query", "target", text, tuple(layer_ids))
        versions = tuple((id(indexes[lid]), indexes[lid].version) for lid in layer_ids)
        cached = registry.cache.get(key)
        if cached is not None and cached[0] == versions:
            return cached[1]
        tables = {lid: _names(registry, lid, indexes[lid]) for lid in layer_ids}
        found: dict[str, list[tuple[str, list[int]]]] = {"code": [], "name": [], "alias": []}
        for lid, table in tables.items():
            found["code"] += [(lid, [r]) for r in table.codes.get(text, [])]
            if text in table.names:
                found["name"].append((lid, table.names[text]))
            found["alias"] += [(lid, rows) for rows in table.aliases.get(text, {}).values()]
        for kind in ("code", "name", "alias"):
            groups = found[kind]
            if len(groups) == 1:
                lid, rows = groups[0]
                layer = registry.catalog[lid]
                sub = indexes[lid].take(np.asarray(rows))
                label = str(sub[layer.label_field].iloc[0])
                geom = _target_geometry(sub.geometry.values)
                target = Target(geom, label, [(lid, int(f)) for f in sub["fid"]])
                if len(registry.cache) > 4096:
                    _forget_targets(registry)
                registry.cache[key] = (versions, target)
                return target
            if len(groups) > 1:
                candidates = []
                for lid, rows in groups:
                    layer = registry.catalog[lid]
                    for rec in indexes[lid].take(np.asarray(rows)).to_dict("records"):
                        town = rec.get("town")
                        candidates.append(
                            {
                                "code": rec.get(layer.id_field),
                                "name": rec.get(layer.label_field),
                                "layer": lid,
                                "town": None if town is None or (isinstance(town, float) and math.isnan(town)) else town,
                            }
                        )
                listed = "; ".join(
                    f"{c['name']} {c['code']} ({c['layer']}{', ' + c['town'] if c['town'] else ''})"
                    for c in candidates
                )
                raise QueryError(
                    key="query.ambiguous",
                    params={"name": name, "text": text, "listed": listed,
                            "example": f"{candidates[0]['layer']}:{text}"},
                    parameter=name,
                    candidates=candidates,
                )
    normal = unicodedata.normalize("NFKC", text).strip()
    if normal != text:  # full-width letters, digits and dashes typed with a Chinese IME: ＨＤ－０００１
        return _resolve_name(registry, normal, layer_ids, name)
    suggestions = _suggest(tables, text)
    hint = {"zh": "", "en": ""}
    if suggestions:
        hint = i18n.both("query.did_you_mean", names="、".join(suggestions))
        hint["en"] = i18n.message("query.did_you_mean", "en", names=", ".join(suggestions))
    if not suggestions and "towns" not in layer_ids and "towns" in registry.catalog:
        with RegistryIndexes.of(registry).use(registry, ["towns"]) as indexes:
            if text in _names(registry, "towns", indexes["towns"]).names:
                hint = i18n.both("query.is_town", text=text)
    raise QueryError(
        key="query.not_found",
        params={
            "name": name,
            "text": text,
            "layers_en": ", ".join(layer_ids) or "the registry",
            "layers_zh": "、".join(registry.catalog[lid].title("zh") for lid in layer_ids) or "登记簿",
            "hint_zh": hint["zh"],
            "hint_en": hint["en"],
        },
        parameter=name,
        suggestions=suggestions,
    )


def _suggest(tables: dict[str, _Names], text: str, limit: int = 5) -> list[str]:
    scores: dict[str, float] = {}
    for table in tables.values():
        for v in [*table.names, *table.aliases]:
            score = _similarity(text, v)
            if score >= 0.4:
                scores[v] = max(score, scores.get(v, 0.0))
        for code in table.codes:  # codes compare case-insensitively: hd-0001 -> HD-0001
            score = _similarity(text.upper(), code.upper())
            if score >= 0.75:
                scores[code] = max(score, scores.get(code, 0.0))
    return [n for n, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


# -- the engine -------------------------------------------------------------------------


def _query_parts(target_m: BaseGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Split a metric target into indexable queries: points and line pieces, and areas.

    A polygon is represented by its rings (cut into pieces, for distances from outside)
    and by itself (for what lies inside, at distance 0).
    """
    parts = shapely.get_parts(np.array([target_m], dtype=object))
    while True:  # geometry collections may hold multi-geometries
        types = shapely.get_type_id(parts)
        multi = (types >= 4) & (types <= 7)
        if not multi.any():
            break
        parts = np.concatenate([parts[~multi], shapely.get_parts(parts[multi])])
    types = shapely.get_type_id(parts)
    areas = parts[types == 3]
    lines = np.concatenate([parts[(types == 1) | (types == 2)], shapely.get_parts(shapely.boundary(areas))])
    pieces, _ = split_lines(lines) if len(lines) else (np.array([], dtype=object), None)
    queries = np.concatenate([parts[types == 0], pieces])
    return queries, areas


def _around(target_m: BaseGeometry, distance_m: float) -> tuple[np.ndarray, float]:
    """What a question will ask of an index: the target's parts and the reach around
    them (with the candidate slack), for layers searched through the store's index."""
    queries, areas = _query_parts(target_m)
    return np.concatenate([queries, areas]), distance_m + _tolerance(distance_m)


def _tolerance(distance_m: float) -> float:
    """Slack for choosing candidates: far above float noise, far below any real distance."""
    return 1e-6 + 1e-9 * distance_m


def rows_near(index: LayerIndex, target_m: BaseGeometry, distance_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``index`` within ``distance_m`` metres of ``target_m`` and their distances.

    Equal to brute force: candidates come from the index with a micrometre of slack, and
    any distance within that slack of the limit is re-measured on the whole geometries.
    """
    queries, areas = _query_parts(target_m)
    tol = _tolerance(distance_m)
    _, rows, dist = index.pairs_dwithin(queries, distance_m + tol)
    if len(areas):
        _, inside = index.rows_intersecting(areas)
        rows = np.concatenate([rows, inside])
        dist = np.concatenate([dist, np.zeros(len(inside))])
    if len(rows) == 0:
        return rows, dist
    uniq, inverse = np.unique(rows, return_inverse=True)
    best = np.full(len(uniq), np.inf)
    np.minimum.at(best, inverse, dist)
    edge = np.abs(best - distance_m) <= tol
    if edge.any():
        best[edge] = shapely.distance(index.metric_of(uniq[edge]), target_m)
    keep = best <= distance_m
    return uniq[keep], best[keep]


def rows_intersecting(index: LayerIndex, target_m: BaseGeometry) -> np.ndarray:
    """Rows of ``index`` whose geometry intersects ``target_m`` (in EPSG:4549)."""
    queries, areas = _query_parts(target_m)
    _, r1 = index.rows_intersecting(queries)
    _, r2 = index.rows_intersecting(areas)
    return np.unique(np.concatenate([r1, r2]))


def count_near(index: LayerIndex, targets_m: Sequence[BaseGeometry], distance_m: float) -> np.ndarray:
    """For each metric target, how many rows of ``index`` lie within ``distance_m``.

    One vectorised index query for all targets together (the "per river, for every
    river" count), exact as :func:`rows_near`.
    """
    targets_m = np.asarray(targets_m, dtype=object)
    pieces, owner = split_lines(targets_m)
    types = shapely.get_type_id(pieces)
    if (types == 3).any():  # polygon targets: fall back to one query each
        return np.array([len(rows_near(index, t, distance_m)[0]) for t in targets_m])
    tol = _tolerance(distance_m)
    qi, rows, dist = index.pairs_dwithin(pieces, distance_m + tol)
    key = owner[qi].astype(np.int64) * (int(rows.max(initial=0)) + 1) + rows
    uniq, inverse = np.unique(key, return_inverse=True)
    best = np.full(len(uniq), np.inf)
    np.minimum.at(best, inverse, dist)
    base = int(rows.max(initial=0)) + 1
    t_of, r_of = uniq // base, uniq % base
    edge = np.abs(best - distance_m) <= tol
    if edge.any():
        best[edge] = shapely.distance(index.metric_of(r_of[edge]), targets_m[t_of[edge]])
    return np.bincount(t_of[best <= distance_m], minlength=len(targets_m))


# -- filters and results ----------------------------------------------------------------


def _apply_filters(registry, layer_id: str, gdf: gpd.GeoDataFrame, where: Any, bbox: Any) -> gpd.GeoDataFrame:
    if gdf.empty:
        return gdf
    layer = registry.catalog[layer_id]
    if bbox is not None:
        box = shapely.box(*_parse_bbox(bbox))
        gdf = gdf[shapely.intersects(np.asarray(gdf.geometry.values, dtype=object), box)]
    if where is None or gdf.empty:
        return gdf
    if isinstance(where, str):
        from geo.cql2 import filter_mask

        return gdf[filter_mask(gdf, layer, where)]
    mask = np.ones(len(gdf), dtype=bool)
    for key, value in dict(where).items():
        if not layer.has_field(key):
            continue  # fields of other layers in a multi-layer question
        col = gdf[key]
        if isinstance(value, (list, tuple, set)):
            mask &= col.isin(list(value)).to_numpy(dtype=bool)
        elif value is None:
            mask &= col.isna().to_numpy(dtype=bool)
        else:
            mask &= (col == value).fillna(False).to_numpy(dtype=bool)
    return gdf[mask]


def _check_where(registry, layer_ids: Sequence[str], where: Any) -> None:
    """Refuse a filter the question's layers cannot answer, before any feature is read
    (so that a bad filter is an error even when nothing lies near the target)."""
    if where is None:
        return
    if isinstance(where, str):
        _check_cql2(registry, layer_ids, where)
        return
    if not isinstance(where, dict):
        raise QueryError("where must map fields to values, or be CQL2 text", parameter="where")
    fields = {f for lid in layer_ids for f in registry.catalog[lid].field_names}
    for key in where:
        if key not in fields:
            raise QueryError(
                f"where: unknown field {key!r}; fields of {', '.join(layer_ids)}: {', '.join(sorted(fields))}",
                parameter="where",
            )


def _check_cql2(registry, layer_ids: Sequence[str], text: str) -> None:
    """Evaluate CQL2 ``text`` on each layer's empty frame: syntax and properties checked.

    A property missing from some of several layers is named with the layers that have
    it, so that the person can narrow ``layers``.
    """
    from geo.cql2 import filter_mask

    missing: dict[str, list[str]] = {}
    first: QueryError | None = None
    for lid in layer_ids:
        layer = registry.catalog[lid]
        empty = gpd.GeoDataFrame({f: pd.Series([], dtype=object) for f in layer.field_names},
                                 geometry=gpd.GeoSeries([], crs="EPSG:4326"))
        try:
            filter_mask(empty, layer, text)
        except QueryError as exc:
            prop = exc.details.get("property")
            if prop is None or len(layer_ids) == 1:
                raise
            missing.setdefault(prop, []).append(lid)
            first = first or exc
    if first is not None:
        prop, lacking = next(iter(missing.items()))
        failed = {lid for lids in missing.values() for lid in lids}
        having = [lid for lid in layer_ids if lid not in failed]
        if not having:
            raise first
        raise QueryError(
            f"filter: property {prop!r} is not a field of {', '.join(lacking)}; ask layers="
            f"{','.join(having)} to filter by it",
            parameter="filter",
            property=prop,
        )


def _parse_bbox(bbox: Any) -> tuple[float, float, float, float]:
    values = bbox.split(",") if isinstance(bbox, str) else list(bbox)
    try:
        box = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise QueryError(f"bbox must be four numbers minlon,minlat,maxlon,maxlat; got {bbox!r}", parameter="bbox") from None
    if len(box) != 4 or not all(math.isfinite(v) for v in box) or box[0] > box[2] or box[1] > box[3]:
        raise QueryError(f"bbox must be four numbers minlon,minlat,maxlon,maxlat; got {bbox!r}", parameter="bbox")
    return box  # type: ignore[return-value]


def _frame(registry, layer_id: str, index: LayerIndex, rows: np.ndarray, dist: np.ndarray) -> gpd.GeoDataFrame:
    gdf = index.take(rows)
    gdf["layer"] = layer_id
    gdf["distance_m"] = np.asarray(dist, dtype=float)
    return gdf


def _assemble(
    registry,
    frames: list[gpd.GeoDataFrame],
    layer_ids: list[str],
    target: Target,
    distance_m: float | None,
) -> gpd.GeoDataFrame:
    fields: list[str] = []
    for lid in layer_ids:
        for f in registry.catalog[lid].field_names:
            if f not in fields:
                fields.append(f)
    columns = [*fields, "fid", "layer", "distance_m", "geometry"]
    frames = [f.rename_geometry("geometry") if f.geometry.name != "geometry" else f for f in frames if len(f)]
    if frames:
        out = pd.concat(frames, ignore_index=True)
        out = gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")
        out = out.sort_values(["distance_m", "layer", "fid"], kind="stable").reset_index(drop=True)
        out = out[[c for c in columns if c in out.columns]]
    else:
        out = gpd.GeoDataFrame({c: [] for c in columns[:-1]}, geometry=[], crs="EPSG:4326")
        out["fid"] = out["fid"].astype("int64")
        out["distance_m"] = out["distance_m"].astype(float)
    out.attrs["target"] = target.geometry
    out.attrs["target_label"] = target.label
    out.attrs["target_features"] = [list(f) for f in target.features]
    out.attrs["distance_m"] = distance_m
    out.attrs["layers"] = list(layer_ids)
    out.attrs["buffer"] = target.buffer(distance_m) if distance_m else target.geometry
    return out


def _exclude(gdf: gpd.GeoDataFrame, layer_id: str, target: Target) -> gpd.GeoDataFrame:
    own = {fid for lid, fid in target.features if lid == layer_id}
    if not own or gdf.empty:
        return gdf
    return gdf[~gdf["fid"].isin(own)]


# -- the questions ------------------------------------------------------------------------


def near(
    registry,
    target: Any,
    distance_m: float,
    layers: str | Sequence[str] | None = None,
    *,
    all_features: bool = False,
    where: Any = None,
    bbox: Any = None,
    units: str = "meters",
) -> gpd.GeoDataFrame:
    """Features within ``distance_m`` metres (inclusive) of a river, lake, feature or geometry.

    By default the catalog's problem layers are searched and only their problem features
    (open violations, micro water bodies with problems...) are returned; pass
    ``all_features=True`` for everything. Layers without a problem rule are always
    returned whole. The target's own features are left out.

    >>> near(reg, "丹金溧漕河", 50, layers="violations")   # doctest: +SKIP
    """
    metres = to_meters(distance_m, units)
    default = [layer.id for layer in registry.catalog.problem_layers]
    layer_ids = resolve_layers(registry, layers, default)
    _check_where(registry, layer_ids, where)
    resolved = resolve_target(registry, target)
    target_m = resolved.metric
    frames = []
    with RegistryIndexes.of(registry).use(registry, layer_ids, _around(target_m, metres)) as indexes:
        for lid in layer_ids:
            rows, dist = rows_near(indexes[lid], target_m, metres)
            frames.append(_frame(registry, lid, indexes[lid], rows, dist))
    out = []
    for lid, gdf in zip(layer_ids, frames, strict=True):
        layer = registry.catalog[lid]
        if not all_features and layer.problem is not None and len(gdf):
            from geo.registry import problem_mask

            gdf = gdf[problem_mask(layer, gdf).to_numpy(dtype=bool)]
        gdf = _exclude(gdf, lid, resolved)
        out.append(_apply_filters(registry, lid, gdf, where, bbox))
    return _assemble(registry, out, layer_ids, resolved, metres)


def intersects(
    registry,
    geometry: Any,
    layers: str | Sequence[str] | None = None,
    *,
    where: Any = None,
    bbox: Any = None,
    _target_layers: Sequence[str] = TARGET_LAYERS,
) -> gpd.GeoDataFrame:
    """Features whose geometry intersects ``geometry`` (tested in EPSG:4549); distance 0."""
    default = [layer.id for layer in registry.catalog.problem_layers]
    layer_ids = resolve_layers(registry, layers, default)
    _check_where(registry, layer_ids, where)
    resolved = resolve_target(registry, geometry, layers=_target_layers, name="geometry")
    target_m = resolved.metric
    out = []
    with RegistryIndexes.of(registry).use(registry, layer_ids, _around(target_m, 0.0)) as indexes:
        for lid in layer_ids:
            rows = rows_intersecting(indexes[lid], target_m)
            out.append(_frame(registry, lid, indexes[lid], rows, np.zeros(len(rows))))
    out = [_apply_filters(registry, lid, _exclude(g, lid, resolved), where, bbox) for lid, g in zip(layer_ids, out, strict=True)]
    return _assemble(registry, out, layer_ids, resolved, None)


def within(
    registry,
    area: Any,
    layers: str | Sequence[str] | None = None,
    *,
    all_features: bool = False,
    where: Any = None,
    bbox: Any = None,
) -> gpd.GeoDataFrame:
    """Features in a town, lake, river, polygon or feature: those intersecting it in
    EPSG:4549, boundary included (a river passing through a town is in the town).

    Like :func:`near`, only the problem features of layers with a problem rule (open
    violations, micro water bodies with problems...) unless ``all_features=True``: "the
    problems in 儒林镇" must not count its 正常 ponds and closed violations.

    >>> within(reg, "儒林镇", layers="violations")   # doctest: +SKIP
    """
    if isinstance(area, str) and not _looks_like_geometry(area):
        resolved = resolve_target(registry, area, layers=AREA_LAYERS, name="area")
    else:
        resolved = resolve_target(registry, area, name="area")
    gdf = intersects(registry, resolved, layers, where=where, bbox=bbox)
    if all_features or gdf.empty or "layer" not in gdf.columns:
        return gdf
    from geo.registry import problem_mask

    keep = np.ones(len(gdf), dtype=bool)
    for lid in gdf["layer"].unique():
        layer = registry.catalog[str(lid)]
        if layer.problem is None:
            continue
        rows = (gdf["layer"] == lid).to_numpy()
        keep[rows] = problem_mask(layer, gdf[rows]).to_numpy(dtype=bool)
    out = gdf[keep]
    out.attrs.update(gdf.attrs)
    return out


def nearest(
    registry,
    point_or_feature: Any,
    layer: str,
    k: int = 1,
    *,
    max_distance_m: float | None = None,
    where: Any = None,
    bbox: Any = None,
    units: str = "meters",
) -> gpd.GeoDataFrame:
    """The ``k`` features of ``layer`` nearest to a point or feature, nearest first.

    Ties are broken by fid. With ``max_distance_m`` only features that close count.

    >>> nearest(reg, (119.56, 31.72), "sewage_plants", k=3)   # doctest: +SKIP
    """
    layer_ids = resolve_layers(registry, [layer] if isinstance(layer, str) else layer, [])
    if len(layer_ids) != 1:
        raise QueryError("nearest searches one layer", parameter="layer")
    lid = layer_ids[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer, str)):
        raise QueryError(key="query.k_range", params={"value": repr(k)}, parameter="k")
    try:
        k = int(str(k).strip())
    except ValueError:
        raise QueryError(key="query.k_range", params={"value": repr(k)}, parameter="k") from None
    if not 1 <= k <= 1000:
        raise QueryError(key="query.k_range", params={"value": k}, parameter="k")
    limit = None if max_distance_m is None else to_meters(max_distance_m, units, name="max_distance")
    _check_where(registry, layer_ids, where)
    resolved = resolve_target(registry, point_or_feature, name="point")
    target_m = resolved.metric
    radius = limit if limit is not None else 500.0
    while True:
        with RegistryIndexes.of(registry).use(registry, layer_ids, _around(target_m, radius)) as indexes:
            index = indexes[lid]
            rows, dist = rows_near(index, target_m, radius)
            gdf = _frame(registry, lid, index, rows, dist)
            gdf = _apply_filters(registry, lid, _exclude(gdf, lid, resolved), where, bbox)
            if len(gdf) >= k or limit is not None or radius >= 4 * MAX_DISTANCE_M:
                break
            radius *= 4
    gdf = gdf.sort_values(["distance_m", "fid"], kind="stable").head(k)
    out = _assemble(registry, [gdf], layer_ids, resolved, limit)
    out.attrs["k"] = k
    return out


# -- output ---------------------------------------------------------------------------------


def result_to_geojson(registry, gdf: gpd.GeoDataFrame, limit: int | None = None) -> dict[str, Any]:
    """A query result as a GeoJSON FeatureCollection with the question as ``query``.

    Each feature carries its own layer's fields plus ``layer``, ``fid`` and
    ``distance_m``; ``query`` holds the target (a Feature with its label), its buffer,
    the distance and the layers, so that a map can draw what was asked.
    """
    from shapely.geometry import mapping

    shown = gdf if limit is None else gdf.iloc[:limit]
    features = []
    for lid, group in shown.groupby("layer", sort=False) if len(shown) else []:
        fields = registry.catalog[lid].field_names
        cols = [c for c in fields if c in group.columns]
        records = group[cols].to_dict("records")
        for (pos, row), props in zip(group.iterrows(), records, strict=True):
            properties = {k: _json_value(v) for k, v in props.items()}
            properties.update(layer=lid, fid=int(row["fid"]), distance_m=_json_value(row["distance_m"]))
            geom = row["geometry"]
            features.append(
                (pos, {
                    "type": "Feature",
                    "id": f"{lid}.{int(row['fid'])}",
                    "geometry": None if geom is None else mapping(geom),
                    "properties": properties,
                })
            )
    features = [f for _, f in sorted(features, key=lambda pf: pf[0])]
    attrs = gdf.attrs
    target = attrs.get("target")
    buffer = attrs.get("buffer")
    return {
        "type": "FeatureCollection",
        "numberMatched": int(len(gdf)),
        "numberReturned": len(features),
        "query": {
            "target": {
                "type": "Feature",
                "geometry": None if target is None else mapping(target),
                "properties": {"label": attrs.get("target_label"), "features": attrs.get("target_features", [])},
            },
            "buffer": None if buffer is None else mapping(buffer),
            "distance_m": attrs.get("distance_m"),
            "layers": attrs.get("layers", []),
        },
        "features": features,
    }


def result_filename(gdf: gpd.GeoDataFrame, kind: str, ext: str = "geojson") -> str:
    """A file name saying what was asked, e.g. ``丹金溧漕河-50m以内.geojson``."""
    label = str(gdf.attrs.get("target_label") or kind)
    label = re.sub(r"[\\/:*?\"<>|\s]+", "_", label).strip("_") or kind
    d = gdf.attrs.get("distance_m")
    if kind == "near" and d:
        return f"{label}-{d:g}m以内.{ext}"
    if kind == "nearest":
        return f"{label}-最近.{ext}"
    return f"{label}-{kind}.{ext}"
