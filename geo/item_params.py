"""Query parameters of OGC API – Features items: parsed, checked, or an error naming them.

Each ``parse_*`` function takes the raw text of one parameter (``None`` when absent)
and returns what the registry needs, or raises :class:`ParameterError`, which the app
turns into a JSON 400 with ``parameter`` set, in the request's language (messages in
``geo/messages/server.yaml``). No HTTP here: ``args`` is any mapping with ``get`` and
``getlist`` (a Flask ``request.args``, a ``MultiDict``), so :mod:`geo.items` and its
tests use the same rules (axis order of ``bbox-crs``, open ``datetime`` intervals, enum
labels in filters) without a request.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

from geo.errors import HehuError
from geo.values import parse_bool
from layers import Field, Layer

DEFAULT_LIMIT = 100
#: Largest page; a larger ``limit`` is lowered to it (OGC API – Features 1.0, 7.15.3).
MAX_LIMIT = 10_000

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_CRS84_NAMES = {
    CRS84,
    "https://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "OGC:CRS84",
    "[OGC:CRS84]",
    "CRS84",
    "urn:ogc:def:crs:OGC:1.3:CRS84",
}
_EPSG4326_NAMES = {
    "http://www.opengis.net/def/crs/EPSG/0/4326",
    "https://www.opengis.net/def/crs/EPSG/0/4326",
    "EPSG:4326",
    "[EPSG:4326]",
    "urn:ogc:def:crs:EPSG::4326",
}
#: Query parameters of ``/collections/{id}/items/{featureId}``.
ITEM_PARAMETERS = ("f", "lang", "properties", "crs")
#: Query parameters of ``/collections/{id}/items`` besides the catalog fields.
ITEMS_PARAMETERS = (
    "f",
    "lang",
    "bbox",
    "bbox-crs",
    "limit",
    "offset",
    "datetime",
    "sortby",
    "properties",
    "filter",
    "filter-lang",
    "filter-crs",
    "crs",
)


class ParameterError(HehuError):
    """A query parameter that cannot be used as given; names the parameter.

    ``key`` and ``params`` name the message (``geo/messages/server.yaml``) said after
    ``parameter <name>:``; a bare ``message`` (a CQL2 parser's own text) is given as is.

    >>> ParameterError("limit", key="server.param_at_least_one", params={"value": 0, "max": 10}).render("zh")
    '参数 limit：须至少为 1（最多 10），收到 0'
    """

    code = "invalid-parameter"

    def __init__(
        self,
        parameter: str,
        message: str | None = None,
        *,
        key: str | None = None,
        params: dict[str, Any] | None = None,
        **details: Any,
    ):
        self.parameter = parameter
        self.body_key = key
        self.body_params = dict(params or {})
        self.bare = message
        super().__init__(self._text("en"), parameter=parameter, **details)

    def _text(self, lang: str | None) -> str:
        from geo.i18n import message as render_message

        body = self.bare if self.body_key is None else render_message(self.body_key, lang, **self.body_params)
        return render_message("server.param_prefix", lang, parameter=self.parameter, text=body)


def _number(parameter: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(parameter, key="server.param_not_number", params={"value": repr(text.strip())}) from None
    if not math.isfinite(value):
        raise ParameterError(parameter, key="server.param_not_finite", params={"value": repr(text.strip())})
    return value


def parse_bbox(raw: str | None, crs: str | None) -> tuple[float, float, float, float] | None:
    """``bbox`` as (minlon, minlat, maxlon, maxlat), checked; axis order of ``bbox-crs``.

    Per OGC API – Features Part 2, a bbox in EPSG:4326 is in that CRS's own axis
    order, latitude first; CRS84 (the default) is longitude first.
    """
    crs = (crs or CRS84).strip()
    if crs not in _EPSG4326_NAMES and crs not in _CRS84_NAMES:
        raise ParameterError("bbox-crs", key="server.bbox_crs_unsupported", params={"crs": repr(crs), "crs84": CRS84})
    if raw is None:
        return None
    parts = [p for p in raw.split(",")]
    if len(parts) not in (4, 6):
        raise ParameterError("bbox", key="server.bbox_count", params={"count": len(parts)})
    values = [_number("bbox", p) for p in parts]
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if crs in _EPSG4326_NAMES:
        values = [values[1], values[0], values[3], values[2]]
    minx, miny, maxx, maxy = values
    if minx > maxx or miny > maxy:
        raise ParameterError("bbox", key="server.bbox_order")
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180):
        raise ParameterError("bbox", key="server.bbox_longitudes")
    if not (-90 <= miny <= 90 and -90 <= maxy <= 90):
        raise ParameterError("bbox", key="server.bbox_latitudes")
    return (minx, miny, maxx, maxy)


#: The database compares and pages with 64-bit integers; a larger number is a 400, not an overflow.
INT64_MAX = 2**63 - 1


def _integer(parameter: str, raw: str, bounded: bool = True) -> int:
    """A whole number; ``bounded`` ones must fit the database's 64-bit integers."""
    text = raw.strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ParameterError(parameter, key="server.param_not_integer", params={"value": repr(raw)})
    value = int(text)
    if bounded and abs(value) > INT64_MAX:
        raise ParameterError(parameter, key="server.param_too_large", params={"value": text, "max": INT64_MAX})
    return value


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    value = _integer("limit", raw, bounded=False)  # any larger limit means the maximum
    if value < 1:
        raise ParameterError("limit", key="server.param_at_least_one", params={"value": value, "max": MAX_LIMIT})
    return min(value, MAX_LIMIT)


def parse_offset(raw: str | None) -> int:
    if raw is None:
        return 0
    value = _integer("offset", raw)
    if value < 0:
        raise ParameterError("offset", key="server.param_not_negative", params={"value": value})
    return value


def _field_or_error(layer: Layer, parameter: str, name: str) -> Field:
    if not layer.has_field(name):
        raise ParameterError(
            parameter,
            key="server.no_such_property",
            params={"layer": layer.id, "name": repr(name), "properties": ", ".join(layer.field_names)},
            value=name,
        )
    return layer.field(name)


def parse_sortby(raw: str | None, layer: Layer) -> list[tuple[str, bool]] | None:
    """``+field,-field`` (a ``+`` may arrive decoded as a space) -> [(field, ascending)]."""
    if raw is None:
        return None
    order: list[tuple[str, bool]] = []
    for item in raw.split(","):
        text = item.strip()
        ascending = True
        if item.startswith((" ", "+")) or text.startswith("+"):
            text = text.lstrip("+").strip()
        elif text.startswith("-"):
            ascending = False
            text = text[1:].strip()
        if not text:
            raise ParameterError("sortby", key="server.sortby_empty", params={"value": repr(raw)})
        if text in ("id", "fid"):
            order.append(("fid", ascending))
            continue
        _field_or_error(layer, "sortby", text)
        order.append((text, ascending))
    return order


def parse_properties(raw: str | None, layer: Layer) -> list[str] | None:
    """``properties=a,b``: the fields to return, in that order."""
    if raw is None:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    for name in names:
        _field_or_error(layer, "properties", name)
    return list(dict.fromkeys(names))


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _instant(parameter: str, text: str) -> date:
    text = text.strip()
    if text[-1:] in ("T", "t") and _DATE_RE.match(text[:-1]):
        text = text[:-1]  # GDAL's OAPIF driver sends a date filter as "2021-03-01T/.."
    try:
        if _DATE_RE.match(text):
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ParameterError(parameter, key="server.datetime_not_rfc3339", params={"value": repr(text)}) from None
    if "T" not in text.upper():
        raise ParameterError(parameter, key="server.datetime_not_rfc3339", params={"value": repr(text)})
    # The registry's dates are calendar days with no zone: an instant names the day
    # written in it (2021-05-01T00:30:00+08:00 is 1 May, as is 2021-05-01T20:00:00Z).
    return moment.date()


def parse_datetime(raw: str | None, layer: Layer) -> tuple[date | None, date | None] | None:
    """``datetime`` as an inclusive (start, end) day range; ``None`` ends are open.

    The registry's temporal fields are dates, so an instant selects the day written in
    it and an interval every day it touches. The layer's first ``temporal`` field is used.
    """
    if raw is None:
        return None
    if not layer.temporal:
        raise ParameterError("datetime", key="server.datetime_no_temporal", params={"layer": layer.id})
    text = raw.strip()
    if "/" in text:
        parts = text.split("/")
        if len(parts) != 2:
            raise ParameterError("datetime", key="server.datetime_one_slash", params={"value": repr(raw)})
        start = None if parts[0].strip() in ("", "..") else _instant("datetime", parts[0])
        end = None if parts[1].strip() in ("", "..") else _instant("datetime", parts[1])
        if start is not None and end is not None and start > end:
            raise ParameterError("datetime", key="server.datetime_reversed", params={"value": repr(raw)})
        return (start, end)
    if text in ("", ".."):
        raise ParameterError("datetime", key="server.datetime_empty")
    day = _instant("datetime", text)
    return (day, day)


def _coerce_filter_value(layer: Layer, f: Field, text: str) -> Any:
    parameter = f.name
    text = text.strip()
    if f.enum:
        if text in f.enum:
            return text
        reverse = {v.lower(): k for k, v in (f.enum_en or {}).items()}
        if text.lower() in reverse:
            return reverse[text.lower()]
        # A value no feature can hold matches none: an empty page, as a GeoPackage answers
        # the same question (OGC API – Features 7.15.4 filters, it does not validate).
        return text
    if f.type == "int":
        return _integer(parameter, text)
    if f.type == "float":
        return _number(parameter, text)
    if f.type == "bool":
        flag = parse_bool(text)
        if flag is None:
            raise ParameterError(parameter, key="server.param_not_bool", params={"value": repr(text)})
        return flag
    if f.type == "date":
        try:
            if not _DATE_RE.match(text):
                raise ValueError
            date.fromisoformat(text)
        except ValueError:
            raise ParameterError(parameter, key="server.param_not_date", params={"value": repr(text)}) from None
        return text
    return text


def parse_property_filters(args, layer: Layer) -> dict[str, Any]:
    """Equality filters ``field=value`` for catalog fields; any other unknown name is a 400.

    An enum field may list several values separated by commas (``status=待交办,整改中``)
    or repeat the parameter, and takes its English labels too (``status=closed``).
    """
    where: dict[str, Any] = {}
    for name in args:
        if name in ITEMS_PARAMETERS:
            continue
        if not layer.has_field(name):
            raise ParameterError(
                name,
                key="server.items_unknown_param",
                params={
                    "layer": layer.id,
                    "known": ", ".join(ITEMS_PARAMETERS),
                    "properties": ", ".join(layer.field_names),
                },
            )
        f = layer.field(name)
        raw_values = args.getlist(name)
        texts = [p for raw in raw_values for p in (raw.split(",") if f.enum else [raw])]
        values = [_coerce_filter_value(layer, f, t) for t in texts]
        where[name] = values[0] if len(values) == 1 else values
    return where


def check_crs(parameter: str, raw: str | None) -> None:
    if raw is not None and raw.strip() not in _CRS84_NAMES:
        raise ParameterError(parameter, key="server.crs_unsupported", params={"crs": repr(raw), "crs84": CRS84})


def cql2_module():
    """The CQL2 module, or None while this installation has none."""
    try:
        from geo import cql2
    except ImportError:
        return None
    return cql2 if hasattr(cql2, "filter_mask") else None
