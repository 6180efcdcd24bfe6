"""Output shaping: a query result as GeoJSON, and a file name saying what was asked."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import geopandas as gpd
from shapely.geometry import mapping

from geo.features import json_value as _json_value

if TYPE_CHECKING:
    from geo.registry import Registry


def result_to_geojson(registry: Registry, gdf: gpd.GeoDataFrame, limit: int | None = None) -> dict[str, Any]:
    """A query result as a GeoJSON FeatureCollection with the question as ``query``.

    Each feature carries its own layer's fields plus ``layer``, ``fid`` and
    ``distance_m``; ``query`` holds the target (a Feature with its label), its buffer,
    the distance and the layers, so that a map can draw what was asked.
    """
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
