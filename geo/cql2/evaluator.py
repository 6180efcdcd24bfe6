"""The reference evaluator of a parsed CQL2 filter on a layer's GeoDataFrame (pandas
three-valued logic, spatial predicates in EPSG:4549 metres) and the LIKE matcher it and
the stores share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.cql2.literals import _GEOMETRY_NAMES, _error, coerce_literal
from geo.cql2.parser import _COMPARE, _SPATIAL, parse
from geo.crs import to_metric
from geo.errors import QueryError
from geo.params import to_meters
from layers import Layer, load_catalog


class _Evaluator:
    def __init__(self, gdf: gpd.GeoDataFrame, layer: Layer):
        self.gdf = gdf
        self.layer = layer
        self.n = len(gdf)
        self._metric = None

    def metric(self) -> np.ndarray:
        if self._metric is None:
            self._metric = to_metric(np.asarray(self.gdf.geometry.values, dtype=object))
        return self._metric

    def truth(self, node) -> pd.arrays.BooleanArray:
        kind = node[0]
        if kind == "and":
            return self.truth(node[1]) & self.truth(node[2])
        if kind == "or":
            return self.truth(node[1]) | self.truth(node[2])
        if kind == "not":
            return ~self.truth(node[1])
        if kind == "cmp":
            return self.compare(node[1], node[2], node[3], node[4])
        if kind == "like":
            return self.like(node[1], node[2], node[3])
        if kind == "in":
            return self.isin(node[1], node[2], node[3])
        if kind == "between":
            return self.compare(">=", node[1], node[2], node[4]) & self.compare("<=", node[1], node[3], node[4])
        if kind == "null":
            values, _ = self.value(node[1])
            return pd.array(pd.isna(values) if isinstance(values, pd.Series) else np.full(self.n, values is None), dtype="boolean")
        if kind == "truth":
            return self.compare("=", node[1], ("lit", True), node[2])
        if kind == "spatial":
            return self.spatial(node)
        if kind == "dwithin":
            return self.dwithin(node)
        raise AssertionError(kind)  # pragma: no cover

    # -- operands ----------------------------------------------------------------------

    def field_type(self, node) -> str | None:
        if node[0] != "prop":
            return None
        name = self.column(node)
        if self.layer.has_field(name):
            return self.layer.field(name).type
        return "float" if name == "distance_m" else "int" if name == "fid" else "str"

    def column(self, node) -> str:
        name = node[1]
        if name in self.gdf.columns or self.layer.has_field(name):
            return name
        if name.lower() in ("id", "fid"):
            return "fid"
        lower = {c.lower(): c for c in self.layer.field_names}
        if name.lower() in lower:
            return lower[name.lower()]
        if name.lower() in _GEOMETRY_NAMES or name == self.gdf.geometry.name:
            return self.gdf.geometry.name
        known = ", ".join([*self.layer.field_names, "geometry"])
        exc = _error(f"unknown property {name!r} of layer {self.layer.id}; properties: {known}", node[2])
        exc.details["property"] = name
        raise exc

    def value(self, node) -> tuple[Any, str | None]:
        kind = node[0]
        if kind == "lit":
            return node[1], None
        if kind == "time":
            return node[1], "time"
        if kind == "geom":
            return node[1], "geom"
        name = self.column(node)
        if name == self.gdf.geometry.name:
            return self.gdf.geometry, "geom"
        if name == "fid" and "fid" not in self.gdf.columns:
            return pd.Series(self.gdf.index.to_numpy(), index=self.gdf.index), self.field_type(node)
        if name not in self.gdf.columns:
            return pd.Series([None] * self.n, index=self.gdf.index, dtype=object), self.field_type(node)
        return self.gdf[name], self.field_type(node)

    def coerce(self, literal: Any, ftype: str | None, pos: int) -> Any:
        return coerce_literal(literal, ftype, pos)

    def compare(self, op: str, left, right, pos: int) -> pd.arrays.BooleanArray:
        lv, lt = self.value(left)
        rv, rt = self.value(right)
        if "geom" in (lt, rt):
            raise _error("compare geometries with S_INTERSECTS, S_EQUALS or DWITHIN", pos)
        if not isinstance(lv, pd.Series) and isinstance(rv, pd.Series):
            flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
            return self.compare(flipped, right, left, pos)
        if not isinstance(lv, pd.Series):
            try:
                result = bool(_COMPARE[op](lv, rv)) if lv is not None and rv is not None else None
            except TypeError:
                raise _error(f"cannot compare {lv!r} with {rv!r}", pos) from None
            return pd.array([result] * self.n, dtype="boolean")
        series = lv
        null = series.isna().to_numpy(dtype=bool)
        if isinstance(rv, pd.Series):
            null = null | rv.isna().to_numpy(dtype=bool)
            other = rv
        elif rt == "time" or isinstance(rv, pd.Timestamp):
            series = pd.to_datetime(series, errors="coerce", utc=True)
            null = null | series.isna().to_numpy(dtype=bool)
            other = rv.tz_localize("UTC") if rv.tzinfo is None else rv.tz_convert("UTC")
        else:
            if rv is None:
                return pd.array([None] * self.n, dtype="boolean")
            other = self.coerce(rv, lt, pos)
        out = np.zeros(self.n, dtype=bool)
        keep = ~null
        if keep.any():
            a = series[keep]
            b = other[keep] if isinstance(other, pd.Series) else other
            try:
                out[keep] = np.asarray(_COMPARE[op](a, b), dtype=bool)
            except TypeError:
                raise _error(f"cannot compare property values with {rv!r}", pos) from None
        result = pd.array(out, dtype="boolean")
        result[null] = pd.NA
        return result

    def like(self, left, pattern, pos: int) -> pd.arrays.BooleanArray:
        values, _ = self.value(left)
        pat, _ = self.value(pattern)
        if not isinstance(values, pd.Series) or isinstance(pat, pd.Series):
            raise _error("LIKE compares a property with a quoted pattern", pos)
        matcher = like_matcher(str(pat))
        null = values.isna().to_numpy(dtype=bool)
        out = np.zeros(self.n, dtype=bool)
        if (~null).any():
            out[~null] = [matcher(v) for v in values[~null].astype(str).tolist()]
        result = pd.array(out, dtype="boolean")
        result[null] = pd.NA
        return result

    def isin(self, left, items, pos: int) -> pd.arrays.BooleanArray:
        values, ftype = self.value(left)
        if not isinstance(values, pd.Series):
            raise _error("IN tests a property against a list of values", pos)
        wanted = []
        for item in items:
            v, t = self.value(item)
            if isinstance(v, pd.Series) or t == "geom":
                raise _error("IN lists values, not properties or geometries", pos)
            wanted.append(self.coerce(v, ftype, pos))
        null = values.isna().to_numpy(dtype=bool)
        result = pd.array(values.isin(wanted).to_numpy(dtype=bool), dtype="boolean")
        result[null] = pd.NA
        return result

    def geometries(self, node, pos: int):
        v, t = self.value(node)
        if t != "geom":
            raise _error("expected the geometry property or a WKT geometry", pos)
        if isinstance(v, pd.Series):
            return self.metric()
        return to_metric(v)

    def spatial(self, node) -> pd.arrays.BooleanArray:
        _, name, a, b, pos = node
        ga, gb = self.geometries(a, pos), self.geometries(b, pos)
        out = _SPATIAL[name](ga, gb)
        return pd.array(np.broadcast_to(np.asarray(out, dtype=bool), (self.n,)).copy(), dtype="boolean")

    def dwithin(self, node) -> pd.arrays.BooleanArray:
        _, a, b, dist, units, pos, (dist_pos, unit_pos) = node
        ga, gb = self.geometries(a, pos), self.geometries(b, pos)
        try:
            metres = to_meters(dist, units)
        except QueryError as exc:
            where = unit_pos if exc.details.get("parameter") == "units" else dist_pos
            raise _error(f"DWITHIN: {exc.message}", where) from None
        out = shapely.distance(ga, gb) <= metres
        return pd.array(np.broadcast_to(np.asarray(out, dtype=bool), (self.n,)).copy(), dtype="boolean")


def like_matcher(pattern: str) -> Callable[[str], bool]:
    """A LIKE test in time linear in pattern × text, whatever the pattern.

    The pattern is cut at ``%`` into pieces (``_`` matches one character, a backslash
    makes the next one literal); the first piece must match at the start, the last at
    the end, and the others are found greedily leftmost in between. Leftmost is always
    right for ``%``-separated pieces, so nothing is ever retried: a regular expression
    would backtrack, and one hostile pattern could hold a server thread for minutes.

    >>> m = like_matcher("丹金%河")
    >>> m("丹金溧漕河"), m("丹金溧漕河支"), like_matcher("a%b%c")("a" * 50 + "c")
    (True, False, False)
    """
    pieces: list[list[str | None]] = [[]]
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            pieces[-1].append(pattern[i + 1])
            i += 2
            continue
        i += 1
        if c == "%":
            pieces.append([])
        else:
            pieces[-1].append(None if c == "_" else c)

    def fits(text: str, at: int, piece: list[str | None]) -> bool:
        return all(p is None or text[at + k] == p for k, p in enumerate(piece))

    def find(text: str, start: int, end: int, piece: list[str | None]) -> int:
        for at in range(start, end - len(piece) + 1):
            if fits(text, at, piece):
                return at
        return -1

    first, last = pieces[0], pieces[-1]

    def match(text: str) -> bool:
        if len(pieces) == 1:
            return len(text) == len(first) and fits(text, 0, first)
        if len(text) < len(first) + len(last) or not fits(text, 0, first):
            return False
        end = len(text) - len(last)
        if not fits(text, end, last):
            return False
        pos = len(first)
        for piece in pieces[1:-1]:
            at = find(text, pos, end, piece)
            if at < 0:
                return False
            pos = at + len(piece)
        return True

    return match


def filter_mask(gdf: gpd.GeoDataFrame, layer: Layer | str, text: str) -> np.ndarray:
    """Boolean mask of the rows of ``gdf`` (a layer's features) that match CQL2 ``text``.

    Rows where the filter is unknown (comparisons with missing values) are not selected.
    Raises :class:`geo.errors.QueryError` naming the position of a syntax error or the
    unknown property.
    """
    if isinstance(layer, str):
        layer = load_catalog()[layer]
    tree = parse(text)
    if len(gdf) == 0:
        _Evaluator(gdf, layer).truth(tree)  # still reports unknown properties
        return np.zeros(0, dtype=bool)
    result = _Evaluator(gdf, layer).truth(tree)
    return result.fillna(False).to_numpy(dtype=bool)


def evaluate(tree: tuple, gdf: gpd.GeoDataFrame, layer: Layer) -> np.ndarray:
    """Boolean mask of the rows of ``gdf`` matching the parsed filter ``tree``: the
    reference every store's SQL translation is tested against."""
    if len(gdf) == 0:
        _Evaluator(gdf, layer).truth(tree)
        return np.zeros(0, dtype=bool)
    return _Evaluator(gdf, layer).truth(tree).fillna(False).to_numpy(dtype=bool)
