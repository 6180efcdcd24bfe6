"""CQL2 text to the filter's syntax tree: a tokenizer and a recursive-descent parser
building small tuples (``("cmp", op, left, right, pos)``, ``("and", a, b)``…), with
every error a :class:`geo.errors.QueryError` naming its position in the text."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.cql2.literals import _error
from geo.errors import QueryError
from geo.params import check_lonlat, one_line

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


def parse(text: str):
    """The syntax tree of a CQL2-text filter (QueryError with the position if malformed)."""
    if not isinstance(text, str):
        raise QueryError("filter must be CQL2 text", parameter="filter")
    return _Parser(text).parse()
