"""GeoJSON (RFC 7946) from registry features, with JSON-safe properties.

Everything that hands features to a client (the OGC API, query results, exports to
GeoJSON, the map) goes through here, so that every interface writes the same thing:
longitude/latitude coordinates, integer ``id`` = the registry ``fid``, every catalog
field present (``null`` when empty), dates as ISO ``YYYY-MM-DD``, NaN and infinities as
``null``, numpy scalars as plain numbers.

>>> import geopandas as gpd, shapely
>>> gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(119.5, 31.7)],
...                        index=pd.Index([7], name="fid"), crs="EPSG:4326")
>>> feature_dicts(gdf)[0]["geometry"]
{'type': 'Point', 'coordinates': [119.5, 31.7]}

Two forms are offered: Python dicts (:func:`feature_dicts`, :func:`feature_collection`)
for code that goes on working with the features, and JSON text
(:func:`dumps_feature_collection`) for responses, which splices the geometries GEOS
writes straight into the text instead of building and re-encoding a dict per vertex.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import Layer

_PLAIN = (str, int, float, bool, type(None))


def json_value(value: Any) -> Any:
    """One property value as JSON can hold it (dates ISO, NaN/NA -> None, numpy -> Python)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, pd.Timestamp)):
        if pd.isna(value):
            return None
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


def _column_values(series: pd.Series) -> list[Any]:
    """A column as a list of JSON-safe values (vectorised for the usual dtypes)."""
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return [json_value(v) for v in series.tolist()]
    if pd.api.types.is_float_dtype(dtype) and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        arr = series.to_numpy()
        out = arr.astype(object)
        out[~np.isfinite(arr)] = None
        return out.tolist()
    values = series.to_numpy(dtype=object, na_value=None).tolist()
    if all(type(v) in _PLAIN for v in values):
        if pd.api.types.is_float_dtype(dtype):
            return [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]
        return values
    return [json_value(v) for v in values]


def property_names(gdf: gpd.GeoDataFrame, layer: Layer | None = None) -> list[str]:
    """The property columns, in catalog order when a layer is given."""
    geom = gdf.geometry.name if isinstance(gdf, gpd.GeoDataFrame) else None
    columns = [c for c in gdf.columns if c != geom]
    if layer is None:
        return columns
    in_catalog = [name for name in layer.field_names if name in gdf.columns]
    extra = [c for c in columns if c not in layer.field_names]
    return in_catalog + extra


def properties_records(
    gdf: pd.DataFrame, names: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """One JSON-safe ``{field: value}`` dict per row, in the order of ``names``."""
    if names is None:
        geom = gdf.geometry.name if isinstance(gdf, gpd.GeoDataFrame) else None
        names = [c for c in gdf.columns if c != geom]
    names = list(names)
    columns = [_column_values(gdf[name]) for name in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)] if columns else [{} for _ in range(len(gdf))]


def _ids(gdf: pd.DataFrame) -> list[Any]:
    return [json_value(v) for v in gdf.index.tolist()]


def _geometry_texts(gdf: gpd.GeoDataFrame) -> list[str]:
    texts = shapely.to_geojson(np.asarray(gdf.geometry.values, dtype=object))
    return ["null" if t is None else t for t in texts.tolist()]


def feature_dicts(
    gdf: gpd.GeoDataFrame,
    layer: Layer | None = None,
    properties: Sequence[str] | None = None,
    ids: Sequence[Any] | None = None,
) -> list[dict[str, Any]]:
    """GeoJSON Feature dicts, ``id`` from the index (the registry ``fid``).

    ``ids`` replaces them where one collection mixes layers (a query answer), whose
    fids alone would collide: there the id is ``"<layer>.<fid>"``.
    """
    names = list(properties) if properties is not None else property_names(gdf, layer)
    records = properties_records(gdf, names)
    geoms = _geometry_texts(gdf)
    return [
        {"type": "Feature", "id": fid, "geometry": json.loads(geom), "properties": props}
        for fid, geom, props in zip(_ids(gdf) if ids is None else list(ids), geoms, records, strict=True)
    ]


def feature_collection(
    gdf: gpd.GeoDataFrame,
    layer: Layer | None = None,
    properties: Sequence[str] | None = None,
    **members: Any,
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection dict; ``members`` are added at the top level."""
    return {"type": "FeatureCollection", **members, "features": feature_dicts(gdf, layer, properties)}


def dumps_features(
    gdf: gpd.GeoDataFrame, layer: Layer | None = None, properties: Sequence[str] | None = None
) -> str:
    """The JSON text of a ``features`` array."""
    names = list(properties) if properties is not None else property_names(gdf, layer)
    records = properties_records(gdf, names)
    geoms = _geometry_texts(gdf)
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
    parts = [
        f'{{"type":"Feature","id":{dumps(fid)},"geometry":{geom},"properties":{dumps(props)}}}'
        for fid, geom, props in zip(_ids(gdf), geoms, records, strict=True)
    ]
    return "[" + ",".join(parts) + "]"


def dumps_feature_collection(
    gdf: gpd.GeoDataFrame,
    layer: Layer | None = None,
    properties: Sequence[str] | None = None,
    **members: Any,
) -> str:
    """The JSON text of a FeatureCollection; ``members`` (JSON-safe) go before ``features``."""
    head = json.dumps(
        {"type": "FeatureCollection", **members}, ensure_ascii=False, separators=(",", ":")
    )
    return head[:-1] + ',"features":' + dumps_features(gdf, layer, properties) + "}"


def _row_parts(
    rows: Sequence[tuple], layer: Layer, properties: Sequence[str] | None
) -> tuple[list[str], list[int], list[str]]:
    names = list(properties) if properties is not None else layer.field_names
    position = {name: i for i, name in enumerate(layer.field_names)}
    picks = [position[name] + 2 for name in names]
    geoms = shapely.to_geojson(np.array([r[1] for r in rows] or [], dtype=object))
    texts = ["null" if t is None else t for t in np.asarray(geoms, dtype=object).tolist()]
    return names, picks, texts


def _row_properties(row: tuple, names: list[str], picks: list[int]) -> dict[str, Any]:
    values = [row[i] for i in picks]
    if not all(type(v) in _PLAIN and not (type(v) is float and not math.isfinite(v)) for v in values):
        values = [json_value(v) for v in values]
    return dict(zip(names, values, strict=True))


def feature_dicts_from_rows(
    rows: Sequence[tuple], layer: Layer, properties: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """GeoJSON Feature dicts from ``(fid, geometry, *values)`` rows (``Registry.read_rows``)."""
    names, picks, geoms = _row_parts(rows, layer, properties)
    return [
        {"type": "Feature", "id": int(row[0]), "geometry": json.loads(geom),
         "properties": _row_properties(row, names, picks)}
        for row, geom in zip(rows, geoms, strict=True)
    ]


def feature_texts(
    rows: Sequence[tuple], layer: Layer, properties: Sequence[str] | None = None
) -> list[str]:
    """The JSON text of one Feature per ``(fid, geometry, *values)`` row."""
    names, picks, geoms = _row_parts(rows, layer, properties)
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode

    def props_text(row: tuple) -> str:
        try:  # rows from the store hold plain values: encode them as they are
            return dumps(dict(zip(names, [row[i] for i in picks], strict=True)))
        except (TypeError, ValueError):  # a date object, a NaN...: make it JSON-safe first
            return dumps(_row_properties(row, names, picks))

    return [
        f'{{"type":"Feature","id":{int(row[0])},"geometry":{geom},"properties":{props_text(row)}}}'
        for row, geom in zip(rows, geoms, strict=True)
    ]


def collection_head(**members: Any) -> str:
    """``{"type":"FeatureCollection", <members>,"features":`` : the text before the array."""
    head = json.dumps({"type": "FeatureCollection", **members}, ensure_ascii=False, separators=(",", ":"))
    return head[:-1] + ',"features":'


def dumps_feature_rows(
    rows: Sequence[tuple], layer: Layer, properties: Sequence[str] | None = None, **members: Any
) -> str:
    """FeatureCollection text from ``(fid, geometry, *values)`` rows; no DataFrame involved."""
    return collection_head(**members) + "[" + ",".join(feature_texts(rows, layer, properties)) + "]}"


def feature_from_record(
    feature: dict[str, Any], layer: Layer | None = None, properties: Iterable[str] | None = None
) -> dict[str, Any]:
    """A GeoJSON Feature dict from a registry ``{"fid", "properties", "geometry"}`` record.

    The one feature builder for single features (the OGC API, the editing API, the
    history): ``id`` is the registry ``fid``; the geometry is a shapely geometry or
    already a GeoJSON dict.
    """
    props = feature["properties"]
    names = list(properties) if properties is not None else (
        [n for n in layer.field_names if n in props] if layer is not None else list(props)
    )
    geom = feature.get("geometry")
    if geom is not None and not isinstance(geom, dict):
        geom = json.loads(shapely.to_geojson(geom))
    return {
        "type": "Feature",
        "id": json_value(feature.get("fid")),
        "geometry": geom,
        "properties": {name: json_value(props.get(name)) for name in names},
    }


__all__ = [
    "collection_head",
    "feature_texts",
    "dumps_feature_collection",
    "dumps_feature_rows",
    "feature_dicts_from_rows",
    "dumps_features",
    "feature_collection",
    "feature_dicts",
    "feature_from_record",
    "json_value",
    "properties_records",
    "property_names",
]
