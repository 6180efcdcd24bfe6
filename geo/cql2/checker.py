"""Checking a parsed CQL2 filter against a layer before any feature is read: the
errors a store's query would raise, raised up front and the same on every store."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from geo.cql2.evaluator import _Evaluator
from layers import Layer


def check(tree: tuple, layer: Layer) -> None:
    """Raise the QueryError the filter would raise on this layer (unknown properties,
    literals of the wrong type, bad distances) without reading a feature."""
    empty = gpd.GeoDataFrame(
        {f: pd.Series([], dtype=object) for f in layer.field_names},
        geometry=gpd.GeoSeries([], crs="EPSG:4326"),
    )
    _Evaluator(empty, layer).truth(tree)
