"""CQL2 literals in the type of the field they meet, and filter properties resolved to
a layer's fields: shared by the parser, the reference evaluator and the SQL translation
(:mod:`geo.stores.sql_filter`)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pandas as pd

from geo.errors import QueryError
from layers import Layer

#: The names a filter may use for a layer's geometry.
_GEOMETRY_NAMES = {"geometry", "geom", "the_geom", "shape"}


def _error(message: str, pos: int) -> QueryError:
    return QueryError(f"filter: {message} at position {pos + 1}", parameter="filter", position=pos + 1)


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
