"""Output shaping: a query result as GeoJSON, and a file name saying what was asked."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import mapping

from geo.features import feature_dicts

if TYPE_CHECKING:
    from geo.registry import Registry


def result_to_geojson(registry: Registry, gdf: gpd.GeoDataFrame, limit: int | None = None) -> dict[str, Any]:
    """A query result as a GeoJSON FeatureCollection with the question as ``query``.

    Each feature carries its own layer's fields plus ``layer``, ``fid`` and
    ``distance_m``; ``query`` holds the target (a Feature with its label), its buffer,
    the distance and the layers, so that a map can draw what was asked.
    """
    shown = gdf if limit is None else gdf.iloc[:limit]
    # One layer at a time (each has its own fields), through the one feature builder;
    # then back into the answer's order (nearest first, or as the query ranked them).
    ranked: list[tuple[int, dict[str, Any]]] = []
    layer_of = shown["layer"].to_numpy() if len(shown) else np.array([])
    for lid in pd.unique(layer_of):
        positions = np.flatnonzero(layer_of == lid)
        group = shown.iloc[positions]
        fields = [c for c in registry.catalog[lid].field_names if c in group.columns]
        part = group.assign(fid=group["fid"].astype(int))
        ids = [f"{lid}.{fid}" for fid in part["fid"].tolist()]
        feats = feature_dicts(part, properties=[*fields, "layer", "fid", "distance_m"], ids=ids)
        ranked.extend(zip(positions.tolist(), feats, strict=True))
    features = [f for _, f in sorted(ranked, key=lambda pf: pf[0])]
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
