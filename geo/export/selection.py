"""Choosing the features of an export or a print: :func:`select` applies the filters
(town, bbox, ``where``, ``near``, ``within``, problems) layer by layer.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.errors import HehuError
from geo.export.files import _ascii
from geo.export.options import ExportError, parse_bbox, parse_layers, parse_near, parse_where
from geo.registry import problem_mask
from layers import Layer


@dataclass
class Selection:
    """Features chosen for an export or a print, per layer, in lon/lat.

    ``tags`` describe the filters (for file names and captions) as ``(zh, ascii)`` pairs;
    the query fields carry what a print highlights.
    """

    frames: dict[str, gpd.GeoDataFrame]
    tags: list[tuple[str, str]] = field(default_factory=list)
    area: BaseGeometry | None = None  # the town (``town`` or ``within``), lon/lat
    area_label: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    target: BaseGeometry | None = None  # ``near`` target, lon/lat
    buffer: BaseGeometry | None = None  # ``near`` buffer, lon/lat
    target_label: str | None = None
    distance_m: float | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.frames.items()}

    def describe(self, lang: str = "zh") -> str:
        return "、".join(t[0] for t in self.tags) if lang == "zh" else ", ".join(t[1] for t in self.tags)


# -- selecting ----------------------------------------------------------------------------


def find_town(registry, name: str) -> tuple[BaseGeometry, str]:
    """The outline (lon/lat) and name of a town given by name or code."""
    towns = registry.read("towns")
    hit = towns[(towns["name"] == name) | (towns["code"] == name)]
    if hit.empty:
        names = [str(n) for n in towns["name"].tolist()]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.3)
        hint = {"close": ", ".join(close)} if close else {}
        raise ExportError(
            key=("export.unknown_town_close" if close else "export.unknown_town") if names else "export.no_towns",
            params={"name": repr(name), "towns": ", ".join(names), **hint},
            parameter="town",
            value=name,
        )
    return shapely.union_all(hit.geometry.values), str(hit["name"].iloc[0])


def _in_area(gdf: gpd.GeoDataFrame, area: BaseGeometry) -> np.ndarray:
    """Features sharing more than a boundary line with ``area`` (vectorised)."""
    geoms = gdf.geometry.values
    shapely.prepare(area)
    return shapely.intersects(area, geoms) & ~shapely.touches(area, geoms)


def _query_fids(result: gpd.GeoDataFrame, layer_id: str) -> pd.Series:
    """``fid -> distance_m`` (NaN when absent) of one layer in a query result."""
    part = result[result["layer"] == layer_id] if "layer" in result.columns else result
    fids = part["fid"] if "fid" in part.columns else part.index.to_series()
    dist = part["distance_m"] if "distance_m" in part.columns else pd.Series(np.nan, index=part.index)
    return pd.Series(dist.to_numpy(dtype=float), index=fids.to_numpy(dtype="int64"))


def _run_query(fn, what: str, *args, **kwargs) -> gpd.GeoDataFrame:
    try:
        return fn(*args, **kwargs)
    except ImportError:  # geo.query not installed in this checkout
        raise ExportError(key="export.no_spatial", params={"what": what}) from None
    except HehuError as exc:
        # An unknown or ambiguous target is a bad parameter of this request, named as the
        # request names it (``near``/``within``, not the query engine's ``target``/``area``).
        exc.status = 400 if exc.status == 404 else exc.status
        if exc.details.get("parameter") in ("target", "area", "distance"):
            exc.details["parameter"] = what
        raise


def select(
    registry,
    layers: str | Sequence[str],
    *,
    town: str | None = None,
    bbox: str | Sequence[float] | None = None,
    where: str | Sequence[str] | Mapping[str, Any] | None = None,
    near: str | tuple[Any, float] | None = None,
    within: str | None = None,
    problems: bool | None = None,
) -> Selection:
    """The features of ``layers`` that pass every filter given.

    - ``town``: features sharing more than a boundary with the town (the town itself
      for the ``towns`` layer);
    - ``bbox``: features intersecting ``minlon,minlat,maxlon,maxlat``;
    - ``where``: property values, applied to the layers that have the field;
    - ``near``: ``(target, metres)``, the answer of ``registry.near`` (adds ``distance_m``);
    - ``within``: a town name, the answer of ``registry.within``;
    - ``problems``: in layers with a problem rule (open violations, micro water bodies
      with 问题/整治中, black-odorous waters not yet 已整治), only the problems. By default
      on with ``near`` (as ``registry.near`` answers), off otherwise.
    """
    chosen = parse_layers(registry.catalog, layers)
    box = parse_bbox(bbox)
    conditions = parse_where(where, chosen)
    near_q = parse_near(near)
    sel = Selection(frames={}, bbox=box)
    ids = [lyr.id for lyr in chosen]

    if town:
        sel.area, sel.area_label = find_town(registry, str(town).strip())
        sel.tags.append((sel.area_label, "town"))
    _tag_filters(sel, box, conditions)
    if problems is None:
        problems = near_q is not None
    near_result = _near(registry, sel, near_q, ids, problems) if near_q is not None else None
    within_result = _within(registry, sel, str(within).strip(), ids) if within else None
    if problems:
        sel.tags.append(("问题", "problems"))
    for layer in chosen:
        gdf = registry.read(layer.id, bbox=box, where={k: v for k, v in conditions.items() if layer.has_field(k)} or None)
        sel.frames[layer.id] = _narrowed(layer, gdf, sel, town=bool(town), problems=problems,
                                         within_result=within_result, near_result=near_result)
    return sel


def _tag_filters(sel: Selection, box, conditions: Mapping[str, Sequence[Any]]) -> None:
    """Tags for the bounding box and the ``where`` values (file names, captions)."""
    if box is not None:
        sel.tags.append(("范围内", "bbox"))
    for name, values in conditions.items():
        ascii_values = "-".join(_ascii(str(v)) for v in values)
        sel.tags.append(("或".join(str(v) for v in values), f"{name}-{ascii_values}" if ascii_values else name))


def _near(registry, sel: Selection, near_q: tuple[str, float], ids: list[str], problems: bool) -> gpd.GeoDataFrame:
    """``registry.near`` for the ``near`` filter; its target and buffer go on ``sel``."""
    target, distance = near_q
    result = _run_query(registry.near, "near", target, distance, layers=ids, all_features=not problems)
    attrs = result.attrs
    sel.target = attrs.get("target")
    sel.buffer = attrs.get("buffer")
    sel.target_label = attrs.get("target_label") or target
    sel.distance_m = float(attrs.get("distance_m", distance))
    sel.tags.append((f"{target}{distance:g}米内", f"near{distance:g}m"))
    return result


def _within(registry, sel: Selection, within: str, ids: list[str]) -> gpd.GeoDataFrame:
    """``registry.within`` for the ``within`` filter; the area goes on ``sel`` unless a
    ``town`` already set one."""
    result = _run_query(registry.within, "within", within, layers=ids)
    area = result.attrs.get("area") or result.attrs.get("target")
    if area is None:
        area, _ = find_town(registry, within)
    if sel.area is None:
        sel.area, sel.area_label = area, within
    sel.tags.append((f"{within}内", "within"))
    return result


def _narrowed(layer: Layer, gdf: gpd.GeoDataFrame, sel: Selection, *, town: bool, problems: bool,
              within_result: gpd.GeoDataFrame | None, near_result: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """One layer's features read by bbox and ``where``, narrowed by the other filters."""
    if problems and layer.problem is not None:
        gdf = gdf[problem_mask(layer, gdf)]
    if town and len(gdf):
        gdf = gdf[gdf["name"] == sel.area_label] if layer.id == "towns" else gdf[_in_area(gdf, sel.area)]
    if within_result is not None:
        gdf = gdf[gdf.index.isin(_query_fids(within_result, layer.id).index)]
    if near_result is not None:
        dist = _query_fids(near_result, layer.id)
        gdf = gdf[gdf.index.isin(dist.index)].copy()
        gdf["distance_m"] = dist.reindex(gdf.index).to_numpy()
        gdf = gdf.sort_values("distance_m", kind="stable")
    return gdf


# -- preparing frames for writing ------------------------------------------------------------


def frames_from_result(result: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """Split a query result (one frame with a ``layer`` column) into frames per layer."""
    if "layer" not in result.columns:
        raise ExportError(key="export.result_needs_layer")
    return {str(k): part for k, part in result.groupby("layer", sort=False)}
