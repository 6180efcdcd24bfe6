"""The operations: near, intersects, within, nearest, and the index arithmetic under them.

Distances in metres in EPSG:4549, inclusive, equal to brute force (see :mod:`geo.query`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.cql2 import filter_mask
from geo.errors import QueryError
from geo.params import (
    MAX_DISTANCE_M,
    looks_like_geometry,
    to_meters,
)
from geo.query.names import (
    AREA_LAYERS,
    TARGET_LAYERS,
    Target,
    resolve_layers,
    resolve_target,
)
from geo.spatial_index import LayerIndex, RegistryIndexes, split_lines

if TYPE_CHECKING:
    from geo.registry import Registry


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


def _apply_filters(registry: Registry, layer_id: str, gdf: gpd.GeoDataFrame, where: Any, bbox: Any) -> gpd.GeoDataFrame:
    if gdf.empty:
        return gdf
    layer = registry.catalog[layer_id]
    if bbox is not None:
        box = shapely.box(*_parse_bbox(bbox))
        gdf = gdf[shapely.intersects(np.asarray(gdf.geometry.values, dtype=object), box)]
    if where is None or gdf.empty:
        return gdf
    if isinstance(where, str):
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


def _check_where(registry: Registry, layer_ids: Sequence[str], where: Any) -> None:
    """Refuse a filter the question's layers cannot answer, before any feature is read
    (so that a bad filter is an error even when nothing lies near the target)."""
    if where is None:
        return
    if isinstance(where, str):
        _check_cql2(registry, layer_ids, where)
        return
    if not isinstance(where, dict):
        raise QueryError(key="query.where_not_mapping", parameter="where")
    fields = {f for lid in layer_ids for f in registry.catalog[lid].field_names}
    for key in where:
        if key not in fields:
            raise QueryError(
                key="query.where_unknown_field",
                params={"field": repr(key), "layers": ", ".join(layer_ids), "fields": ", ".join(sorted(fields))},
                parameter="where",
            )


def _check_cql2(registry: Registry, layer_ids: Sequence[str], text: str) -> None:
    """Evaluate CQL2 ``text`` on each layer's empty frame: syntax and properties checked.

    A property missing from some of several layers is named with the layers that have
    it, so that the person can narrow ``layers``.
    """
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
            key="query.filter_property_missing",
            params={"property": repr(prop), "lacking": ", ".join(lacking), "having": ",".join(having)},
            parameter="filter",
            property=prop,
        )


def _parse_bbox(bbox: Any) -> tuple[float, float, float, float]:
    values = bbox.split(",") if isinstance(bbox, str) else list(bbox)
    try:
        box = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise QueryError(key="query.bad_bbox", params={"value": repr(bbox)}, parameter="bbox") from None
    if len(box) != 4 or not all(math.isfinite(v) for v in box) or box[0] > box[2] or box[1] > box[3]:
        raise QueryError(key="query.bad_bbox", params={"value": repr(bbox)}, parameter="bbox")
    return box  # type: ignore[return-value]


def _frame(registry: Registry, layer_id: str, index: LayerIndex, rows: np.ndarray, dist: np.ndarray) -> gpd.GeoDataFrame:
    gdf = index.take(rows)
    gdf["layer"] = layer_id
    gdf["distance_m"] = np.asarray(dist, dtype=float)
    return gdf


def _assemble(
    registry: Registry,
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
    registry: Registry,
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

    For example (on the demo registry)::

        near(reg, "丹金溧漕河", 50, layers="violations")
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
            gdf = gdf[layer.problem.mask(gdf).to_numpy(dtype=bool)]
        gdf = _exclude(gdf, lid, resolved)
        out.append(_apply_filters(registry, lid, gdf, where, bbox))
    return _assemble(registry, out, layer_ids, resolved, metres)


def intersects(
    registry: Registry,
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
    registry: Registry,
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

    For example (on the demo registry)::

        within(reg, "儒林镇", layers="violations")
    """
    if isinstance(area, str) and not looks_like_geometry(area):
        resolved = resolve_target(registry, area, layers=AREA_LAYERS, name="area")
    else:
        resolved = resolve_target(registry, area, name="area")
    gdf = intersects(registry, resolved, layers, where=where, bbox=bbox)
    if all_features or gdf.empty or "layer" not in gdf.columns:
        return gdf
    keep = np.ones(len(gdf), dtype=bool)
    for lid in gdf["layer"].unique():
        layer = registry.catalog[str(lid)]
        if layer.problem is None:
            continue
        rows = (gdf["layer"] == lid).to_numpy()
        keep[rows] = layer.problem.mask(gdf[rows]).to_numpy(dtype=bool)
    out = gdf[keep]
    out.attrs.update(gdf.attrs)
    return out


def nearest(
    registry: Registry,
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

    For example (on the demo registry)::

        nearest(reg, (119.56, 31.72), "sewage_plants", k=3)
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
