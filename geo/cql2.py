"""CQL2-text filters, evaluated on a layer's GeoDataFrame, with distances in metres.

Supported (OGC CQL2 Basic CQL2 plus the spatial operators GIS users reach for):

- comparisons ``=  <>  !=  <  <=  >  >=``, ``LIKE`` (``%`` any run, ``_`` one
  character, ``\\`` escapes), ``IN (...)``, ``IS [NOT] NULL``, ``BETWEEN a AND b``, each
  with ``NOT`` where CQL2 allows it;
- ``AND``, ``OR``, ``NOT`` and parentheses, with SQL's three-valued logic (a comparison
  with a missing value is unknown, and unknown rows are not selected);
- literals: ``'text'`` (``''`` for a quote), numbers, ``TRUE``/``FALSE``,
  ``DATE('2021-06-30')``, ``TIMESTAMP('2021-06-30T08:00:00Z')``;
- ``S_INTERSECTS``, ``S_WITHIN``, ``S_CONTAINS``, ``S_DISJOINT``, ``S_TOUCHES``,
  ``S_CROSSES``, ``S_OVERLAPS``, ``S_EQUALS`` with WKT or ``BBOX(minx,miny,maxx,maxy)``
  in lon/lat;
- the extension ``DWITHIN(geometry, <WKT>, 50, meters)``: CQL2 has no distance
  predicate, and GeoServer's measures in degrees on lon/lat layers. Here the distance is
  metres in EPSG:4549, inclusive, like every distance in hehu; units are ``meters``,
  ``kilometers``, ``feet``, ``statute miles`` or ``nautical miles``.

Spatial predicates are evaluated in EPSG:4549 like :mod:`geo.query`.

>>> import geopandas as gpd
>>> from shapely import Point
>>> gdf = gpd.GeoDataFrame({"status": ["整改中", "已销号"]},
...                        geometry=[Point(119.5, 31.7), Point(119.6, 31.7)], crs="EPSG:4326")
>>> filter_mask(gdf, "violations", "status <> '已销号' AND DWITHIN(geometry, POINT(119.5 31.7), 10, meters)").tolist()
[True, False]
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import to_metric
from geo.errors import QueryError
from geo.params import check_lonlat, one_line, to_meters
from layers import Layer, load_catalog

_COMPARE = {
    "=": operator.eq,
    "<>": operator.ne,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_SPATIAL = {
    "S_INTERSECTS": shapely.intersects,
    "S_WITHIN": shapely.within,
    "S_CONTAINS": shapely.contains,
    "S_DISJOINT": shapely.disjoint,
    "S_TOUCHES": shapely.touches,
    "S_CROSSES": shapely.crosses,
    "S_OVERLAPS": shapely.overlaps,
    "S_EQUALS": shapely.equals,
}
_WKT_WORDS = {
    "POINT",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
    "GEOMETRYCOLLECTION",
}
_KEYWORDS = {"AND", "OR", "NOT", "LIKE", "IN", "IS", "NULL", "BETWEEN", "TRUE", "FALSE"}
_GEOMETRY_NAMES = {"geometry", "geom", "the_geom", "shape"}
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<number>[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
    | (?P<quoted>"(?:[^"]|"")+")
    | (?P<op><>|!=|<=|>=|=|<|>|\(|\)|,)
    | (?P<word>[A-Za-z_\u4e00-\u9fff][\w.:\u4e00-\u9fff]*)
    )""",
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int  # 0-based offset in the filter text

    @property
    def upper(self) -> str:
        return self.text.upper()


#: A date literal, as people write it and as GDAL's OAPIF driver sends it for a date
#: field ("2021-06-01T": the date, a "T" and no time), optionally with a midnight time.
_DATE_LITERAL = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ](.*))?")
_MIDNIGHT = re.compile(r"(?:00(?::00(?::00(?:\.0+)?)?)?)?(?:Z|[+-]00(?::?00)?)?")


def _date_literal(literal: Any, pos: int) -> str:
    """``literal`` as the ``YYYY-MM-DD`` text a date field holds, or a QueryError.

    Dates compare as ISO text, so ``'2021-06-01T'`` must become ``'2021-06-01'``: as
    text it sorts after ``'2021-06-01'`` and ``>=`` would miss that day. A time other
    than midnight is refused: a date field has no time of day to compare it with, and
    any answer would be a guess.
    """
    m = _DATE_LITERAL.fullmatch(literal.strip()) if isinstance(literal, str) else None
    if m is not None:
        try:
            day = date.fromisoformat(m.group(1))
        except ValueError:
            m = None
    if m is None:
        raise _error(f"expected a date like '2021-06-30' or DATE('2021-06-30'), got {literal!r}", pos)
    if m.group(2) and not _MIDNIGHT.fullmatch(m.group(2).strip()):
        raise _error(f"{literal!r}: this property is a date, compare it with a date (no time of day)", pos)
    return day.isoformat()


def _balanced(op: str, terms: list):
    """``a op b op c …`` as a balanced binary tree: AND and OR are associative (also in
    three-valued logic), and a chain of thousands stays a few levels deep."""
    while len(terms) > 1:
        terms = [(op, terms[i], terms[i + 1]) if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


#: Deepest nesting of parentheses and NOTs a filter may have (real filters use a few).
MAX_NESTING = 50


class _Parser:
    """Recursive descent over the tokens; builds a small tuple AST."""

    def __init__(self, text: str):
        self.text = text
        self.i = 0
        self.depth = 0
        self.toks: list[_Tok] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if not m or m.lastgroup is None:
                start = len(text) - len(text[pos:].lstrip())
                raise _error(f"unexpected character {text[start]!r}", start)
            kind = m.lastgroup
            start = m.start(kind)
            if kind == "word" and m.group(kind).upper() in _WKT_WORDS:
                end = _wkt_end(text, m.end(kind), start)
                self.toks.append(_Tok("wkt", text[start:end], start))
                pos = end
                continue
            self.toks.append(_Tok(kind, m.group(kind), start))
            pos = m.end()
        self.toks.append(_Tok("end", "", len(text)))

    # -- helpers -----------------------------------------------------------------

    def peek(self, offset: int = 0) -> _Tok:
        return self.toks[min(self.i + offset, len(self.toks) - 1)]

    def next(self) -> _Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def accept_word(self, *words: str) -> bool:
        tok = self.peek()
        if tok.kind == "word" and tok.upper in words:
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> _Tok:
        tok = self.next()
        if tok.upper != text:
            found = "the end of the filter" if tok.kind == "end" else repr(tok.text)
            raise _error(f"expected {text!r}, found {found}", tok.pos)
        return tok

    # -- grammar -----------------------------------------------------------------

    def parse(self):
        if self.peek().kind == "end":
            raise _error("the filter is empty", 0)
        node = self.or_expr()
        tok = self.peek()
        if tok.kind != "end":
            raise _error(f"unexpected {tok.text!r}", tok.pos)
        return node

    def or_expr(self):
        terms = [self.and_expr()]
        while self.accept_word("OR"):
            terms.append(self.and_expr())
        return _balanced("or", terms)

    def and_expr(self):
        terms = [self.not_expr()]
        while self.accept_word("AND"):
            terms.append(self.not_expr())
        return _balanced("and", terms)

    def _deeper(self, pos: int) -> None:
        # Parser and evaluator both recurse: a hostile "((((…" or "NOT NOT …" must be a
        # 400 naming the filter, not a RecursionError.
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _error(f"the filter nests more than {MAX_NESTING} levels deep", pos)

    def not_expr(self):
        tok = self.peek()
        if self.accept_word("NOT"):
            self._deeper(tok.pos)
            node = ("not", self.not_expr())
            self.depth -= 1
            return node
        return self.predicate()

    def predicate(self):
        tok = self.peek()
        if tok.text == "(":
            self._deeper(tok.pos)
            self.next()
            node = self.or_expr()
            self.expect(")")
            self.depth -= 1
            return node
        if tok.kind == "word" and tok.upper in _SPATIAL and self.peek(1).text == "(":
            return self.spatial()
        if tok.kind == "word" and tok.upper == "DWITHIN" and self.peek(1).text == "(":
            return self.dwithin()
        left = self.operand()
        tok = self.peek()
        if tok.kind == "op" and tok.text in _COMPARE:
            self.next()
            return ("cmp", tok.text, left, self.operand(), tok.pos)
        negate = self.accept_word("NOT")
        if self.accept_word("LIKE"):
            node = ("like", left, self.operand(), tok.pos)
        elif self.accept_word("IN"):
            self.expect("(")
            values = [self.operand()]
            while self.peek().text == ",":
                self.next()
                values.append(self.operand())
            self.expect(")")
            node = ("in", left, values, tok.pos)
        elif self.accept_word("BETWEEN"):
            low = self.operand()
            self.expect("AND")
            node = ("between", left, low, self.operand(), tok.pos)
        elif not negate and self.accept_word("IS"):
            is_not = self.accept_word("NOT")
            self.expect("NULL")
            node = ("null", left)
            return ("not", node) if is_not else node
        else:
            if negate:
                raise _error("expected LIKE, IN or BETWEEN after NOT", self.peek().pos)
            if left[0] == "prop" or (left[0] == "lit" and isinstance(left[1], bool)):
                return ("truth", left, tok.pos)
            found = "the end of the filter" if tok.kind == "end" else repr(tok.text)
            raise _error(f"expected a comparison operator, found {found}", tok.pos)
        return ("not", node) if negate else node

    def operand(self):
        tok = self.next()
        if tok.kind == "string":
            return ("lit", tok.text[1:-1].replace("''", "'"))
        if tok.kind == "number":
            value = float(tok.text)
            return ("lit", int(value) if re.fullmatch(r"[+-]?\d+", tok.text) else value)
        if tok.kind == "quoted":
            return ("prop", tok.text[1:-1].replace('""', '"'), tok.pos)
        if tok.kind == "wkt":
            return ("geom", _wkt(tok), tok.pos)
        if tok.kind == "word":
            word = tok.upper
            if word in ("TRUE", "FALSE"):
                return ("lit", word == "TRUE")
            if word in ("DATE", "TIMESTAMP") and self.peek().text == "(":
                self.next()
                inner = self.next()
                if inner.kind != "string":
                    raise _error(f"{word} needs a quoted value like {word}('2021-06-30')", inner.pos)
                self.expect(")")
                try:
                    stamp = pd.Timestamp(inner.text[1:-1])
                except ValueError:
                    raise _error(f"{word}: not a valid date or time {inner.text}", inner.pos) from None
                return ("time", stamp, word)
            if word == "BBOX" and self.peek().text == "(":
                self.next()
                nums = []
                for i in range(4):
                    n = self.next()
                    if n.kind != "number":
                        raise _error("BBOX needs four numbers minx, miny, maxx, maxy", n.pos)
                    nums.append(float(n.text))
                    if i < 3:
                        self.expect(",")
                self.expect(")")
                if nums[0] > nums[2] or nums[1] > nums[3] or not all(map(np.isfinite, nums)):
                    raise _error("BBOX needs minx <= maxx and miny <= maxy", tok.pos)
                box = shapely.box(*nums)
                return ("geom", _checked(box, tok.pos), tok.pos)
            if word in _KEYWORDS:
                raise _error(f"expected a property or a value, found {tok.text!r}", tok.pos)
            return ("prop", tok.text, tok.pos)
        found = "the end of the filter" if tok.kind == "end" else repr(tok.text)
        raise _error(f"expected a property or a value, found {found}", tok.pos)

    def spatial(self):
        name = self.next()
        self.expect("(")
        a = self.operand()
        self.expect(",")
        b = self.operand()
        self.expect(")")
        return ("spatial", name.upper, a, b, name.pos)

    def dwithin(self):
        name = self.next()
        self.expect("(")
        a = self.operand()
        self.expect(",")
        b = self.operand()
        self.expect(",")
        dist = self.next()
        if dist.kind != "number":
            raise _error("DWITHIN needs a distance number as its third argument", dist.pos)
        if self.peek().text == ")":
            raise _error("DWITHIN needs units as its fourth argument (meters, kilometers, feet...)", self.peek().pos)
        self.expect(",")
        unit_tok = self.peek()
        words = []
        while self.peek().kind in ("word", "string"):
            t = self.next()
            words.append(t.text[1:-1] if t.kind == "string" else t.text)
        if not words:
            raise _error("DWITHIN needs units as its fourth argument (meters, kilometers, feet...)", unit_tok.pos)
        self.expect(")")
        return ("dwithin", a, b, dist.text, " ".join(words), name.pos, (dist.pos, unit_tok.pos))


def _error(message: str, pos: int) -> QueryError:
    return QueryError(f"filter: {message} at position {pos + 1}", parameter="filter", position=pos + 1)


def _wkt_end(text: str, pos: int, start: int) -> int:
    """End offset of a WKT literal whose keyword ends at ``pos`` (balanced parentheses)."""
    m = re.compile(r"\s*(?:ZM|Z|M)?\s*(EMPTY)?", re.IGNORECASE).match(text, pos)
    pos = m.end() if m else pos
    if m and m.group(1):
        return pos
    if pos >= len(text) or text[pos] != "(":
        raise _error("a geometry literal needs its coordinates in parentheses", pos)
    depth = 0
    for i in range(pos, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    raise _error("unclosed parenthesis in the geometry literal", start)


def _wkt(tok: _Tok) -> BaseGeometry:
    """A WKT literal in lon/lat; NaN, metric-looking or invalid coordinates are errors."""
    try:
        geom = shapely.from_wkt(tok.text)
    except shapely.errors.GEOSException as exc:
        raise _error(f"malformed WKT ({one_line(exc)})", tok.pos) from None
    return _checked(geom, tok.pos)


def _checked(geom: BaseGeometry, pos: int) -> BaseGeometry:
    try:
        check_lonlat(geom, "geometry")
    except QueryError as exc:
        raise _error(exc.message.removeprefix("geometry: "), pos) from None
    return geom


# -- evaluation ------------------------------------------------------------------------


def coerce_literal(literal: Any, ftype: str | None, pos: int) -> Any:
    """A literal in the type of the field it is compared with."""
    if ftype in ("int", "float"):
        if isinstance(literal, bool) or not isinstance(literal, (int, float)):
            try:
                return float(str(literal))
            except ValueError:
                raise _error(f"expected a number, got {literal!r}", pos) from None
        return literal
    if ftype == "bool":
        if isinstance(literal, bool):
            return literal
        text = str(literal).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise _error(f"expected TRUE or FALSE, got {literal!r}", pos)
    if ftype == "date" and not isinstance(literal, pd.Timestamp):
        return _date_literal(literal, pos)
    if ftype in ("str", "date") and not isinstance(literal, pd.Timestamp):
        if isinstance(literal, float) and literal.is_integer():
            return str(int(literal))
        return str(literal) if not isinstance(literal, str) else literal
    return literal



def resolve_property(layer: Layer, name: str) -> str | None:
    """The field a filter's property names (``fid``, ``geometry``), or None if unknown."""
    if layer.has_field(name):
        return name
    if name.lower() in ("id", "fid"):
        return "fid"
    lower = {c.lower(): c for c in layer.field_names}
    if name.lower() in lower:
        return lower[name.lower()]
    if name.lower() in _GEOMETRY_NAMES:
        return "geometry"
    return None



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


def parse(text: str):
    """The syntax tree of a CQL2-text filter (QueryError with the position if malformed)."""
    if not isinstance(text, str):
        raise QueryError("filter must be CQL2 text", parameter="filter")
    return _Parser(text).parse()


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


def check(tree: tuple, layer: Layer) -> None:
    """Raise the QueryError the filter would raise on this layer (unknown properties,
    literals of the wrong type, bad distances) without reading a feature."""
    empty = gpd.GeoDataFrame(
        {f: pd.Series([], dtype=object) for f in layer.field_names},
        geometry=gpd.GeoSeries([], crs="EPSG:4326"),
    )
    _Evaluator(empty, layer).truth(tree)


def evaluate(tree: tuple, gdf: gpd.GeoDataFrame, layer: Layer) -> np.ndarray:
    """Boolean mask of the rows of ``gdf`` matching the parsed filter ``tree``: the
    reference every store's SQL translation is tested against."""
    if len(gdf) == 0:
        _Evaluator(gdf, layer).truth(tree)
        return np.zeros(0, dtype=bool)
    return _Evaluator(gdf, layer).truth(tree).fillna(False).to_numpy(dtype=bool)
