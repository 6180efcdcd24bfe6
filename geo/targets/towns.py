"""Reading the registry once per computation, and the per-town breakdown of the answers."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import to_metric
from geo.targets.model import Plan

if TYPE_CHECKING:
    from geo.registry import Registry


class _Context:
    """What every metric needs: layers read once, the towns, "today" and the plan."""

    def __init__(self, registry: Registry, plan: Plan, today: date):
        self.registry = registry
        self.plan = plan
        self.today = today
        self._frames: dict[str, gpd.GeoDataFrame] = {}
        self._towns: dict[str, pd.Series] = {}

    def read(self, layer_id: str) -> gpd.GeoDataFrame:
        if layer_id not in self._frames:
            self._frames[layer_id] = self.registry.read(layer_id)
        return self._frames[layer_id]

    @property
    def town_names(self) -> list[str]:
        """Towns in the order of the towns layer (by code)."""
        towns = self.read("towns").sort_values("code")
        return [str(n) for n in towns["name"].dropna().unique()]

    def towns_of(self, layer_id: str) -> pd.Series:
        """The town of every feature: its ``town`` field, else where it lies on the map.

        Lines and polygons go to the town holding most of their length or area
        (measured in EPSG:4549), points to the town that contains them. A ``town`` that
        names no town of the towns layer (one renamed since, or mistyped) is placed by
        location too: every page must stand on a registry whose towns were renamed.
        """
        if layer_id not in self._towns:
            gdf = self.read(layer_id)
            if "town" in gdf.columns:
                known = gdf["town"].notna() & gdf["town"].astype(str).isin(self.town_names)
                town = gdf["town"].astype(object).where(known, None)
            else:
                town = pd.Series(None, index=gdf.index, dtype=object)
            missing = town.isna()
            if missing.any():
                town.loc[missing] = _spatial_town(gdf.loc[missing], self.read("towns"))
            self._towns[layer_id] = town
        return self._towns[layer_id]

    def empty_by_town(self, fill: Any = 0) -> dict[str, Any]:
        return {name: fill for name in self.town_names}


def _spatial_town(features: gpd.GeoDataFrame, towns: gpd.GeoDataFrame) -> pd.Series:
    """Town name for each feature by location (None outside every town)."""
    out = pd.Series(None, index=features.index, dtype=object)
    towns = towns[towns.geometry.notna() & ~towns.geometry.is_empty]
    features = features[features.geometry.notna() & ~features.geometry.is_empty]
    if features.empty or towns.empty:
        return out
    feat_m = to_metric(np.asarray(features.geometry.values))
    town_m = to_metric(np.asarray(towns.geometry.values))
    tree = shapely.STRtree(town_m)
    left, right = tree.query(feat_m, predicate="intersects")
    if len(left) == 0:
        return out
    pieces = shapely.intersection(feat_m[left], town_m[right])
    dim = shapely.get_dimensions(feat_m[left])
    size = np.where(dim == 2, shapely.area(pieces), np.where(dim == 1, shapely.length(pieces), 1.0))
    pairs = pd.DataFrame({"left": left, "size": size, "town": towns["name"].to_numpy()[right]})
    best = pairs.sort_values(["left", "size"], ascending=[True, False]).drop_duplicates("left")
    out.loc[features.index[best["left"].to_numpy()]] = best["town"].to_numpy()
    return out


def _count_by_town(ctx: _Context, layer_id: str, mask: pd.Series) -> dict[str, int]:
    counts = ctx.towns_of(layer_id)[mask].value_counts()
    out = ctx.empty_by_town(0)
    for town, n in counts.items():
        out[str(town)] = int(n)
    return out


def _rate_by_town(ctx: _Context, layer_id: str, good: pd.Series, counted: pd.Series) -> dict[str, float | None]:
    towns = ctx.towns_of(layer_id)
    frame = pd.DataFrame({"town": towns[counted], "good": good[counted].astype(bool)})
    rates = frame.groupby("town")["good"].mean()
    out: dict[str, float | None] = ctx.empty_by_town(None)
    for town, r in rates.items():
        out[str(town)] = float(r)
    return out


def _bool(series: pd.Series) -> pd.Series:
    """A nullable boolean column as plain booleans (missing is False)."""
    return series.astype("boolean").fillna(False).astype(bool)


def _present(series: pd.Series) -> pd.Series:
    """True where a text field holds something other than blanks."""
    return series.notna() & (series.astype(str).str.strip() != "")


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, errors="coerce", format="%Y-%m-%d")


def town_table(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per town, worst first: the features standing between it and each target.

    A town's ``outstanding`` is the sum over targets of its features behind the gap
    (open and overdue violations, problem micro water bodies, sections below Class III,
    non-compliant signboards...); ties are broken by the number of targets concerned.
    """
    towns: list[str] = []
    for r in results:
        for t in r["outstanding_by_town"]:
            if t not in towns:
                towns.append(t)
    rows = []
    for town in towns:
        per_target = {r["id"]: int(r["outstanding_by_town"].get(town, 0)) for r in results}
        rows.append(
            {
                "town": town,
                "outstanding": sum(per_target.values()),
                "targets_concerned": sum(1 for n in per_target.values() if n),
                "by_target": per_target,
            }
        )
    rows.sort(key=lambda r: (-r["outstanding"], -r["targets_concerned"], towns.index(r["town"])))
    return rows
