"""CQL2 filters as SQL: each store's query language does what it can express.

A parsed CQL2 filter (:func:`geo.cql2.parse`) is split into its top-level ``AND``
terms. Each term the store's SQL can express exactly is translated; the others stay a
*residual* that the store evaluates with the reference evaluator
(:func:`geo.cql2.evaluate`) on the rows SQL returns. A term under ``OR`` or ``NOT`` is
translated only when all of it can be, so the residual is always a conjunction and the
answer is the same as evaluating the whole filter in pandas (a property test compares
both on random filters).

What "exactly" means is decided per node, by the evaluator's own rules: a literal is
coerced to the type of the field it is compared with (``coerce_literal``), SQL's NULL
is the evaluator's unknown, and three-valued ``AND``/``OR``/``NOT`` agree. Whatever
differs between the two — a date field against a TIMESTAMP with a time of day, LIKE on
a number, two properties compared — is left to the residual rather than risked.

Spatial terms are dialect business: PostGIS translates ``S_INTERSECTS`` and metric
``DWITHIN`` itself; SQLite has no geometry functions, so its dialect narrows the rows
with the GeoPackage R-tree (the term's box, grown by the distance) and leaves the exact
test to the residual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from geo.cql2 import coerce_literal, resolve_property
from geo.params import to_meters
from layers import Layer

Params = list[Any]


class Unpushable(Exception):
    """This node cannot be expressed exactly in the dialect's SQL."""


@dataclass
class Translation:
    """A filter as ``WHERE`` SQL (None: nothing pushed) and the residual left to pandas."""

    sql: str | None
    params: Params = field(default_factory=list)
    residual: tuple | None = None


class Dialect:
    """How one SQL dialect spells the parts of a filter. Subclasses override hooks."""

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def column(self, layer: Layer, name: str) -> str:
        return self.quote(name)

    def value(self, value: Any, ftype: str | None) -> Any:
        """A coerced literal as the driver should bind it."""
        return value

    def like(self, column_sql: str, pattern: str) -> tuple[str, Params]:
        """Case-sensitive LIKE with CQL2's ``%``, ``_`` and backslash escapes."""
        raise Unpushable

    def spatial(self, layer: Layer, node: tuple) -> tuple[str, Params]:
        """An exact spatial predicate (S_* or DWITHIN), or Unpushable."""
        raise Unpushable

    def prefilter(self, layer: Layer, node: tuple) -> tuple[str, Params] | None:
        """A cheap superset test for a spatial term kept in the residual (or None)."""
        return None


def translate(tree: tuple | None, layer: Layer, dialect: Dialect) -> Translation:
    """Split ``tree`` into SQL the dialect can run and a residual conjunction."""
    if tree is None:
        return Translation(None)
    sqls: list[str] = []
    params: Params = []
    rest: list[tuple] = []
    for term in conjuncts(tree):
        try:
            sql, p = _node(term, layer, dialect)
        except Unpushable:
            rest.append(term)
            pre = dialect.prefilter(layer, term) if term[0] in ("spatial", "dwithin") else None
            if pre is not None:
                sqls.append(pre[0])
                params += pre[1]
            continue
        sqls.append(sql)
        params += p
    residual = None
    for term in rest:
        residual = term if residual is None else ("and", residual, term)
    return Translation(_joined(sqls) if sqls else None, params, residual)


def _joined(sqls: list[str]) -> str:
    """Terms joined by AND as a balanced tree: SQLite parses ``a AND b AND c ...`` into a
    chain as deep as it is long, and refuses one deeper than 1,000."""
    if len(sqls) == 1:
        return sqls[0]
    mid = len(sqls) // 2
    return f"({_joined(sqls[:mid])}) AND ({_joined(sqls[mid:])})"


def conjuncts(tree: tuple) -> list[tuple]:
    """The terms of a top-level ``AND`` chain (the tree itself when it is not one)."""
    out: list[tuple] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if node[0] == "and":
            stack.append(node[2])
            stack.append(node[1])
        else:
            out.append(node)
    return out


# -- nodes -------------------------------------------------------------------------------


def _node(node: tuple, layer: Layer, d: Dialect) -> tuple[str, Params]:
    kind = node[0]
    if kind in ("and", "or"):
        a, pa = _node(node[1], layer, d)
        b, pb = _node(node[2], layer, d)
        return f"({a}) {kind.upper()} ({b})", pa + pb
    if kind == "not":
        a, pa = _node(node[1], layer, d)
        return f"NOT ({a})", pa
    if kind == "cmp":
        return _compare(node[1], node[2], node[3], layer, d)
    if kind == "between":
        lo, plo = _compare(">=", node[1], node[2], layer, d)
        hi, phi = _compare("<=", node[1], node[3], layer, d)
        return f"({lo}) AND ({hi})", plo + phi
    if kind == "truth":
        return _compare("=", node[1], ("lit", True), layer, d)
    if kind == "in":
        name, ftype = _field(node[1], layer)
        values = []
        for item in node[2]:
            if item[0] != "lit":
                raise Unpushable
            values.append(d.value(coerce_literal(item[1], ftype, node[3]), ftype))
        return f"{d.column(layer, name)} IN ({', '.join('?' * len(values))})", values
    if kind == "null":
        name, _ = _field(node[1], layer)
        return f"{d.column(layer, name)} IS NULL", []
    if kind == "like":
        name, ftype = _field(node[1], layer)
        if ftype not in ("str", "date") or node[2][0] != "lit" or not isinstance(node[2][1], str):
            raise Unpushable
        return d.like(d.column(layer, name), node[2][1])
    if kind in ("spatial", "dwithin"):
        return d.spatial(layer, node)
    raise Unpushable


def _field(operand: tuple, layer: Layer) -> tuple[str, str]:
    """(column, type) of a property operand that names a field or the fid."""
    if operand[0] != "prop":
        raise Unpushable
    name = resolve_property(layer, operand[1])
    if name == "fid":
        return "fid", "int"
    if name is None or not layer.has_field(name):
        raise Unpushable
    return name, layer.field(name).type


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _compare(op: str, left: tuple, right: tuple, layer: Layer, d: Dialect) -> tuple[str, Params]:
    if left[0] != "prop" and right[0] == "prop":
        left, right, op = right, left, _FLIP.get(op, op)
    name, ftype = _field(left, layer)
    if right[0] == "time":
        stamp: pd.Timestamp = right[1]
        if ftype != "date":
            raise Unpushable
        utc = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        if utc != utc.normalize():
            raise Unpushable  # a time of day against a day: the evaluator's instant rule
        value = utc.strftime("%Y-%m-%d")
    elif right[0] == "lit":
        value = coerce_literal(right[1], ftype, 0)
        if isinstance(value, float) and not math.isfinite(value):
            raise Unpushable
    else:
        raise Unpushable
    sql_op = "<>" if op == "!=" else op
    return f"{d.column(layer, name)} {sql_op} ?", [d.value(value, ftype)]


# -- SQLite (GeoPackage) ---------------------------------------------------------------------


def like_to_glob(pattern: str) -> str:
    """A CQL2 LIKE pattern as an SQLite GLOB (case-sensitive, as CQL2 is).

    >>> like_to_glob("丹金%河_[1]*")
    '丹金*河?[[]1][*]'
    >>> like_to_glob(r"100\\%")
    '100%'
    """
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            c = pattern[i + 1]
            i += 2
            out.append(f"[{c}]" if c in "*?[" else c)
            continue
        i += 1
        if c == "%":
            out.append("*")
        elif c == "_":
            out.append("?")
        elif c in "*?[":
            out.append(f"[{c}]")
        else:
            out.append(c)
    return "".join(out)


class SQLiteDialect(Dialect):
    """SQLite as GeoPackage stores it: 0/1 booleans, ISO text dates, R-tree boxes."""

    def value(self, value: Any, ftype: str | None) -> Any:
        if isinstance(value, bool):
            return 1 if value else 0
        return value

    def like(self, column_sql: str, pattern: str) -> tuple[str, Params]:
        # SQLite's LIKE ignores ASCII case; GLOB does not. Its matcher gives up early on
        # hopeless '*' runs (SQLITE_NOWILDCARDMATCH), so no pattern can make it explode.
        return f"{column_sql} GLOB ?", [like_to_glob(pattern)]

    def prefilter(self, layer: Layer, node: tuple) -> tuple[str, Params] | None:
        box = spatial_box(node)
        if box is None:
            return None
        rtree = self.quote(f"rtree_{layer.id}_geom")
        return (
            f"fid IN (SELECT id FROM {rtree} WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)",
            [box[2], box[0], box[3], box[1]],
        )


#: Metres per degree of latitude, a lower bound over the globe (for growing boxes).
_M_PER_DEG_LAT = 110_500.0


def spatial_box(node: tuple) -> tuple[float, float, float, float] | None:
    """A lon/lat box every feature passing a spatial term must touch (None: any may).

    S_INTERSECTS, S_WITHIN, S_CONTAINS, S_EQUALS, S_TOUCHES, S_CROSSES and S_OVERLAPS
    all need the feature to meet the literal geometry, so its box; DWITHIN grows that
    box by the distance, with a fifth to spare for the projection's scale (EPSG:4549 is
    exact to 0.01 % across Jintan). S_DISJOINT narrows nothing.
    """
    if node[0] == "spatial":
        _, name, a, b, _pos = node
        if name == "S_DISJOINT":
            return None
        grow = 0.0
    else:
        _, a, b, dist, units, _pos, _ = node
        try:
            grow = to_meters(dist, units)
        except Exception:  # the evaluator reports a bad distance with its position
            return None
    literal = b if a[0] == "prop" else a if b[0] == "prop" else None
    if literal is None or literal[0] != "geom":
        return None
    minx, miny, maxx, maxy = literal[1].bounds
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        return None
    dlat = grow * 1.2 / _M_PER_DEG_LAT + 1e-6
    top = min(89.0, max(abs(miny), abs(maxy)) + dlat)
    dlon = grow * 1.2 / (_M_PER_DEG_LAT * math.cos(math.radians(top))) + 1e-6
    return (minx - dlon, miny - dlat, maxx + dlon, maxy + dlat)
