"""OGC API – Features (Part 1: Core, GeoJSON, HTML, OpenAPI 3.0) over the registry.

One collection per catalog layer, ``featureId`` = the registry ``fid``. Views read and
check parameters, call the registry, and serialise with :mod:`geo.features`; the
OpenAPI document comes from :mod:`server.openapi`.

Reads stay cheap on big layers: ``bbox`` goes to the GeoPackage R-tree, property
filters, ``sortby``, ``limit`` and ``offset`` to SQL, and ``numberMatched`` of an
unfiltered layer is the GeoPackage feature count. Only ``datetime`` and a CQL2
``filter`` are evaluated on a frame, after the SQL-side filters have narrowed it.

Every response carries an ``ETag`` and ``Last-Modified`` and answers ``304`` to a
matching ``If-None-Match``; bodies over 1 KB are gzipped for clients that accept it.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import re
from collections.abc import Callable
from datetime import date, datetime, timezone
from functools import wraps
from typing import Any
from urllib.parse import urlencode

import pandas as pd
from flask import Blueprint, Response, current_app, json, render_template, request, url_for

from geo.errors import HehuError, NotFoundError
from geo.features import (
    dumps_feature_collection,
    dumps_feature_rows,
    feature_dicts,
    feature_dicts_from_rows,
    feature_from_record,
    json_value,
)
from layers import Field, Layer
from server.context import lang as request_lang
from server.context import registry

bp = Blueprint("ogcapi", __name__)

DEFAULT_LIMIT = 100
#: Largest page; a larger ``limit`` is lowered to it (OGC API – Features 1.0, 7.15.3).
MAX_LIMIT = 10_000
GZIP_MIN_BYTES = 1024

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
TRS_GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA = "application/schema+json"

CONFORMANCE_CORE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
]
CONFORMANCE_FILTER = [
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
]

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
    """A query parameter that cannot be used as given; names the parameter."""

    code = "invalid-parameter"

    def __init__(self, parameter: str, message: str, **details: Any):
        super().__init__(f"parameter {parameter}: {message}", parameter=parameter, **details)


# -- strings of the HTML pages ------------------------------------------------------

TEXT = {
    "zh": {
        "site": "河湖一张图 OGC API – Features",
        "home": "首页",
        "collections": "数据集",
        "collection": "数据集",
        "conformance": "符合性声明",
        "api": "API 文档 (OpenAPI 3.0)",
        "items": "要素",
        "feature": "要素",
        "queryables": "可查询属性",
        "map": "地图",
        "json": "JSON",
        "demo": "演示数据 / synthetic demo data",
        "matched": "共 {matched} 个，本页 {returned} 个（第 {first}–{last} 个）",
        "next": "下一页",
        "prev": "上一页",
        "field": "字段",
        "title": "名称",
        "type": "类型",
        "values": "取值",
        "value": "值",
        "extent": "范围",
        "temporal": "时间范围",
        "geometry": "几何类型",
        "count": "要素数",
        "endpoints": "接口",
        "landing_intro": "金坛区河长制河湖资源注册库的 OGC API – Features 标准服务：QGIS、GDAL 等 GIS 软件可直接读取。",
        "no_features": "没有符合条件的要素。",
        "language": "English",
    },
    "en": {
        "site": "hehu OGC API – Features",
        "home": "Home",
        "collections": "Collections",
        "collection": "Collection",
        "conformance": "Conformance",
        "api": "API definition (OpenAPI 3.0)",
        "items": "Features",
        "feature": "Feature",
        "queryables": "Queryables",
        "map": "Map",
        "json": "JSON",
        "demo": "演示数据 / synthetic demo data",
        "matched": "{matched} matched, {returned} on this page ({first}–{last})",
        "next": "Next",
        "prev": "Previous",
        "field": "Field",
        "title": "Title",
        "type": "Type",
        "values": "Values",
        "value": "Value",
        "extent": "Extent",
        "temporal": "Time span",
        "geometry": "Geometry",
        "count": "Features",
        "endpoints": "Endpoints",
        "landing_intro": "The OGC API – Features service of the Jintan river-chief asset registry: QGIS, GDAL and other GIS tools read it as is.",
        "no_features": "No features match.",
        "language": "中文",
    },
}


# -- request helpers --------------------------------------------------------------


def _lang() -> str:
    return request_lang()


def _url(endpoint: str, **params: Any) -> str:
    """Absolute URL of one of this blueprint's views, keeping an explicit ``lang``."""
    if "lang" not in params and request.args.get("lang") in ("zh", "en"):
        params["lang"] = request.args["lang"]
    return url_for(f"ogcapi.{endpoint}", _external=True, **params)


def _this_url(**changes: Any) -> str:
    """The current URL with some query parameters replaced (``None`` removes one)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in changes]
    args += [(k, str(v)) for k, v in changes.items() if v is not None]
    query = urlencode(args)
    return request.base_url + ("?" + query if query else "")


def _format() -> str:
    """``json`` or ``html``: from ``f=``, else from the Accept header (JSON by default)."""
    f = request.args.get("f")
    if f is not None:
        f = f.strip().lower()
        if f in ("json", "geojson", "application/json", GEOJSON):
            return "json"
        if f in ("html", HTML):
            return "html"
        raise ParameterError("f", f"unknown format {f!r}; use json or html")
    best = request.accept_mimetypes.best_match([JSON, GEOJSON, HTML, OPENAPI, SCHEMA], default=JSON)
    return "html" if best == HTML else "json"


def _alternates(fmt: str, json_type: str) -> list[dict[str, Any]]:
    """The self link and its alternate in the other format."""
    t = TEXT[_lang()]
    json_link = {"href": _this_url(f="json"), "type": json_type, "title": "JSON"}
    html_link = {"href": _this_url(f="html"), "type": HTML, "title": "HTML"}
    if fmt == "json":
        return [{**json_link, "rel": "self", "title": t["json"]}, {**html_link, "rel": "alternate"}]
    return [{**html_link, "rel": "self"}, {**json_link, "rel": "alternate"}]


def _json_response(body: Any, mimetype: str = JSON, status: int = 200) -> Response:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return Response(text, status=status, mimetype=mimetype)


def _html_response(template: str, **context: Any) -> Response:
    lang = _lang()
    reg = registry()
    meta = reg.metadata
    context.setdefault("title", TEXT[lang]["site"])
    html = render_template(
        f"ogcapi/{template}",
        t=TEXT[lang],
        lang=lang,
        other_lang_url=_this_url(lang="en" if lang == "zh" else "zh"),
        json_url=_this_url(f="json"),
        home_url=_url("landing", f="html"),
        collections_url=_url("collections", f="html"),
        map_url=_map_url(),
        is_demo=bool(meta.get("demo") or meta.get("synthetic")),
        registry_title=meta.get("title", "河湖一张图"),
        **context,
    )
    return Response(html, mimetype=HTML)


def _map_url() -> str | None:
    try:
        return url_for("map.index", _external=True)
    except Exception:  # the map page is another blueprint; absent in some apps
        return None


# -- change tracking, ETag, Last-Modified, gzip ----------------------------------------


def _state(layer_id: str | None = None) -> tuple[str, datetime | None]:
    """A token that changes with every committed write, and when the data last changed.

    Read from the GeoPackage's own bookkeeping (``gpkg_contents.last_change``, kept by
    every writer, and GDAL's feature counts) so that it is the same in every server
    thread and process; stores without it fall back to ``Registry.version()``.
    """
    reg = registry()
    conn = getattr(reg.store, "conn", None)
    if conn is None:
        return repr(reg.version()), None
    rows = conn.execute(
        "SELECT c.table_name, c.last_change, o.feature_count FROM gpkg_contents c "
        "LEFT JOIN gpkg_ogr_contents o ON o.table_name = c.table_name ORDER BY c.table_name"
    ).fetchall()
    last = reg.store.last_change()
    token = f"{last}|" + "|".join(f"{r[0]}:{r[1]}:{r[2]}" for r in rows)
    stamps = [r[1] for r in rows if r[1] and (layer_id is None or r[0] == layer_id)]
    modified = None
    if stamps:
        try:
            modified = datetime.fromisoformat(max(stamps).replace("Z", "+00:00"))
        except ValueError:
            modified = None
    return token, modified


def _etag_matches(tag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    for part in header.split(","):
        part = part.strip()
        if part == "*":
            return True
        if part.startswith("W/"):
            part = part[2:]
        if part.strip('"') == tag:
            return True
    return False


def _not_modified(tag: str, modified: datetime | None) -> Response:
    resp = Response(status=304)
    resp.set_etag(tag)
    if modified is not None:
        resp.last_modified = modified
    resp.headers["Vary"] = "Accept, Accept-Language, Accept-Encoding"
    return resp


def conditional(layer_arg: str | None = None) -> Callable:
    """Give a view an ``ETag``/``Last-Modified`` and answer ``304`` when unchanged.

    The tag hashes the registry state, the URL and the headers the response varies on,
    so it is computed before any feature is read and a ``304`` costs two small queries.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            token, modified = _state(kwargs.get(layer_arg) if layer_arg else None)
            key = "\n".join(
                [
                    token,
                    request.full_path,
                    request.headers.get("Accept", ""),
                    request.headers.get("Accept-Language", ""),
                    request.host,
                ]
            )
            tag = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
            if _etag_matches(tag):
                return _not_modified(tag, modified)
            resp = view(*args, **kwargs)
            if resp.status_code == 200:
                if not resp.get_etag()[0]:
                    resp.set_etag(tag)
                elif _etag_matches(resp.get_etag()[0]):
                    return _not_modified(resp.get_etag()[0], modified)
                if modified is not None:
                    resp.last_modified = modified
                resp.headers["Cache-Control"] = "no-cache"
            return resp

        return wrapper

    return decorate


@bp.after_request
def _compress(resp: Response) -> Response:
    """Gzip bodies over 1 KB for clients that accept it (the ETag is kept as is)."""
    vary = resp.headers.get("Vary")
    if not vary:
        resp.headers["Vary"] = "Accept, Accept-Language, Accept-Encoding"
    if (
        resp.status_code != 200
        or resp.direct_passthrough
        or "Content-Encoding" in resp.headers
        or "gzip" not in request.headers.get("Accept-Encoding", "").lower()
        or not (resp.mimetype or "").startswith(("application/", "text/"))
    ):
        return resp
    data = resp.get_data()
    if len(data) < GZIP_MIN_BYTES:
        return resp
    resp.set_data(gzip.compress(data, compresslevel=5))
    resp.headers["Content-Encoding"] = "gzip"
    return resp


# -- parameters -----------------------------------------------------------------------


def _number(parameter: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(parameter, f"{text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ParameterError(parameter, f"{text.strip()!r} is not a finite number")
    return value


def parse_bbox(raw: str | None, crs: str | None) -> tuple[float, float, float, float] | None:
    """``bbox`` as (minlon, minlat, maxlon, maxlat), checked; axis order of ``bbox-crs``.

    Per OGC API – Features Part 2, a bbox in EPSG:4326 is in that CRS's own axis
    order, latitude first; CRS84 (the default) is longitude first.
    """
    if raw is None:
        return None
    parts = [p for p in raw.split(",")]
    if len(parts) not in (4, 6):
        raise ParameterError(
            "bbox", f"expected 4 numbers minlon,minlat,maxlon,maxlat (or 6 with heights), got {len(parts)}"
        )
    values = [_number("bbox", p) for p in parts]
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    crs = (crs or CRS84).strip()
    if crs in _EPSG4326_NAMES:
        values = [values[1], values[0], values[3], values[2]]
    elif crs not in _CRS84_NAMES:
        raise ParameterError(
            "bbox-crs", f"unsupported CRS {crs!r}; use {CRS84} or http://www.opengis.net/def/crs/EPSG/0/4326"
        )
    minx, miny, maxx, maxy = values
    if minx > maxx or miny > maxy:
        raise ParameterError("bbox", "the lower corner must come first: minlon <= maxlon and minlat <= maxlat")
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180):
        raise ParameterError("bbox", "longitudes must lie within -180..180")
    if not (-90 <= miny <= 90 and -90 <= maxy <= 90):
        raise ParameterError("bbox", "latitudes must lie within -90..90")
    return (minx, miny, maxx, maxy)


def _integer(parameter: str, raw: str) -> int:
    text = raw.strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ParameterError(parameter, f"{raw!r} is not a whole number")
    return int(text)


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    value = _integer("limit", raw)
    if value < 1:
        raise ParameterError("limit", f"must be at least 1 (at most {MAX_LIMIT}), got {value}")
    return min(value, MAX_LIMIT)


def parse_offset(raw: str | None) -> int:
    if raw is None:
        return 0
    value = _integer("offset", raw)
    if value < 0:
        raise ParameterError("offset", f"must be 0 or more, got {value}")
    return value


def _field_or_error(layer: Layer, parameter: str, name: str) -> Field:
    if not layer.has_field(name):
        raise ParameterError(
            parameter,
            f"collection {layer.id} has no property {name!r}; properties: {', '.join(layer.field_names)}",
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
            raise ParameterError("sortby", f"empty sort key in {raw!r}; use e.g. sortby=-found_on,code")
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
    try:
        if _DATE_RE.match(text):
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ParameterError(
            parameter, f"{text!r} is not an RFC 3339 date or date-time (e.g. 2021-05-01 or 2021-05-01T08:00:00Z)"
        ) from None
    if "T" not in text.upper():
        raise ParameterError(parameter, f"{text!r} is not an RFC 3339 date or date-time")
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.date()


def parse_datetime(raw: str | None, layer: Layer) -> tuple[date | None, date | None] | None:
    """``datetime`` as an inclusive (start, end) day range; ``None`` ends are open.

    The registry's temporal fields are dates, so an instant selects its (UTC) day and an
    interval every day it touches. The layer's first ``temporal`` field is used.
    """
    if raw is None:
        return None
    if not layer.temporal:
        raise ParameterError(
            "datetime", f"collection {layer.id} has no temporal property; datetime cannot be used on it"
        )
    text = raw.strip()
    if "/" in text:
        parts = text.split("/")
        if len(parts) != 2:
            raise ParameterError("datetime", f"{raw!r}: an interval has exactly one '/'")
        start = None if parts[0].strip() in ("", "..") else _instant("datetime", parts[0])
        end = None if parts[1].strip() in ("", "..") else _instant("datetime", parts[1])
        if start is not None and end is not None and start > end:
            raise ParameterError("datetime", f"{raw!r}: the interval ends before it starts")
        return (start, end)
    if text in ("", ".."):
        raise ParameterError("datetime", "expected a date, a date-time or an interval start/end")
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
        raise ParameterError(
            parameter, f"{text!r} is not one of {', '.join(f.enum)}", value=text, allowed=list(f.enum)
        )
    if f.type == "int":
        return _integer(parameter, text)
    if f.type == "float":
        return _number(parameter, text)
    if f.type == "bool":
        low = text.lower()
        if low in ("true", "1", "yes", "是"):
            return True
        if low in ("false", "0", "no", "否"):
            return False
        raise ParameterError(parameter, f"{text!r} is not true or false")
    if f.type == "date":
        if not _DATE_RE.match(text):
            raise ParameterError(parameter, f"{text!r} is not a date YYYY-MM-DD")
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
                f"unknown query parameter; collection {layer.id} takes {', '.join(ITEMS_PARAMETERS)} "
                f"and its properties {', '.join(layer.field_names)}",
            )
        f = layer.field(name)
        raw_values = args.getlist(name)
        texts = [p for raw in raw_values for p in (raw.split(",") if f.enum else [raw])]
        values = [_coerce_filter_value(layer, f, t) for t in texts]
        where[name] = values[0] if len(values) == 1 else values
    return where


def _check_crs(parameter: str, raw: str | None) -> None:
    if raw is not None and raw.strip() not in _CRS84_NAMES:
        raise ParameterError(parameter, f"unsupported CRS {raw!r}; this service serves {CRS84} only")


def _cql2():
    """The CQL2 module, or None while this installation has none."""
    try:
        from geo import cql2
    except ImportError:
        return None
    return cql2 if hasattr(cql2, "filter_mask") else None


def _date_mask(frame: pd.DataFrame, column: str, span: tuple[date | None, date | None]) -> pd.Series:
    values = frame[column].astype("string")
    mask = values.notna()
    start, end = span
    if start is not None:
        mask &= values >= start.isoformat()
    if end is not None:
        mask &= values <= end.isoformat()
    return mask.fillna(False).astype(bool)


# -- resources ------------------------------------------------------------------------


def _layer(collection_id: str) -> Layer:
    return registry().layer(collection_id)


def _temporal_extent(layer: Layer) -> list[str | None] | None:
    """[first, last] date over the layer's temporal fields, cached per registry state."""
    if not layer.temporal:
        return None
    reg = registry()
    cache = current_app.extensions.setdefault("hehu_ogcapi_temporal", {})
    token = _state()[0]
    key = (layer.id, token)
    if key in cache:
        return cache[key]
    conn = getattr(reg.store, "conn", None)
    lows, highs = [], []
    if conn is not None:
        for name in layer.temporal:
            q = '"' + name.replace('"', '""') + '"'
            t = '"' + layer.id.replace('"', '""') + '"'
            lo, hi = conn.execute(f"SELECT min({q}), max({q}) FROM {t} WHERE {q} IS NOT NULL").fetchone()
            if lo is not None:
                lows.append(str(lo)[:10])
                highs.append(str(hi)[:10])
    else:
        frame = reg.read(layer.id)
        for name in layer.temporal:
            col = frame[name].dropna().astype(str)
            if len(col):
                lows.append(col.min()[:10])
                highs.append(col.max()[:10])
    result = [min(lows), max(highs)] if lows else None
    if len(cache) > 256:
        cache.clear()
    cache[key] = result
    return result


def _title(layer: Layer, lang: str) -> str:
    return layer.title(lang)


def collection_info(layer: Layer) -> dict[str, Any]:
    """The JSON description of one collection."""
    lang = _lang()
    reg = registry()
    extent: dict[str, Any] = {}
    bbox = reg.extent(layer.id)
    if bbox is not None:
        extent["spatial"] = {"bbox": [[float(v) for v in bbox]], "crs": CRS84}
    span = _temporal_extent(layer)
    if span is not None:
        extent["temporal"] = {"interval": [[f"{span[0]}T00:00:00Z", f"{span[1]}T23:59:59Z"]], "trs": TRS_GREGORIAN}
    cid = layer.id
    links = [
        {"rel": "self", "type": JSON, "title": "JSON", "href": _url("collection", collection_id=cid, f="json")},
        {"rel": "alternate", "type": HTML, "title": "HTML", "href": _url("collection", collection_id=cid, f="html")},
        {"rel": "items", "type": GEOJSON, "title": layer.title(lang), "href": _url("items", collection_id=cid, f="json")},
        {"rel": "items", "type": HTML, "title": layer.title(lang), "href": _url("items", collection_id=cid, f="html")},
        {
            "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            "type": SCHEMA,
            "title": TEXT[lang]["queryables"],
            "href": _url("queryables", collection_id=cid),
        },
    ]
    description = layer.description_zh if lang == "zh" else layer.description_en
    info: dict[str, Any] = {
        "id": cid,
        "title": layer.title(lang),
        "title_zh": layer.title_zh,
        "title_en": layer.title_en,
        "description": description or layer.title(lang),
        "description_zh": layer.description_zh,
        "description_en": layer.description_en,
        "itemType": "feature",
        "geometryType": layer.geometry,
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": extent,
        "links": links,
    }
    if layer.temporal:
        info["temporalProperty"] = layer.temporal[0]
    return info


@bp.get("/")
@conditional()
def landing() -> Response:
    """Landing page: what the service is and where its parts are."""
    fmt = _format()
    lang = _lang()
    t = TEXT[lang]
    meta = registry().metadata
    links = _alternates(fmt, JSON) + [
        {"rel": "service-desc", "type": OPENAPI, "title": t["api"], "href": _url("api", f="json")},
        {"rel": "service-doc", "type": HTML, "title": t["api"], "href": _url("api", f="html")},
        {"rel": "conformance", "type": JSON, "title": t["conformance"], "href": _url("conformance", f="json")},
        {"rel": "data", "type": JSON, "title": t["collections"], "href": _url("collections", f="json")},
        {"rel": "data", "type": HTML, "title": t["collections"], "href": _url("collections", f="html")},
    ]
    map_url = _map_url()
    if map_url:
        links.append({"rel": "related", "type": HTML, "title": t["map"], "href": map_url})
    body = {
        "title": meta.get("title", "河湖一张图"),
        "description": t["landing_intro"],
        "demo": bool(meta.get("demo") or meta.get("synthetic")),
        "links": links,
    }
    if fmt == "html":
        return _html_response("landing.html", body=body, note=meta.get("synthetic_note"))
    return _json_response(body)


@bp.get("/conformance")
@conditional()
def conformance() -> Response:
    """The conformance classes this service implements."""
    fmt = _format()
    classes = CONFORMANCE_CORE + (CONFORMANCE_FILTER if _cql2() else [])
    body = {"conformsTo": classes, "links": _alternates(fmt, JSON)}
    if fmt == "html":
        return _html_response("conformance.html", body=body)
    return _json_response(body)


@bp.get("/api")
@conditional()
def api() -> Response:
    """The OpenAPI 3.0 document (JSON), or a readable list of its paths (HTML)."""
    from server.openapi import build_openapi

    fmt = _format()
    doc = build_openapi(
        registry().catalog,
        server_url=request.host_url.rstrip("/"),
        lang=_lang(),
        default_limit=DEFAULT_LIMIT,
        max_limit=MAX_LIMIT,
        items_parameters=ITEMS_PARAMETERS,
        cql2=_cql2() is not None,
    )
    if fmt == "html":
        return _html_response("api.html", doc=doc)
    return _json_response(doc, mimetype=OPENAPI)


@bp.get("/collections")
@conditional()
def collections() -> Response:
    """Every catalog layer as a collection."""
    fmt = _format()
    reg = registry()
    infos = [collection_info(layer) for layer in reg.layers]
    body = {"links": _alternates(fmt, JSON), "collections": infos}
    if fmt == "html":
        counts = {layer.id: reg.count(layer.id) for layer in reg.layers}
        return _html_response("collections.html", body=body, counts=counts)
    return _json_response(body)


@bp.get("/collections/<collection_id>")
@conditional("collection_id")
def collection(collection_id: str) -> Response:
    """One collection: titles, extent, links to its items and queryables."""
    layer = _layer(collection_id)
    fmt = _format()
    info = collection_info(layer)
    info["links"] = _alternates(fmt, JSON) + [
        link for link in info["links"] if link["rel"] not in ("self", "alternate")
    ]
    if fmt == "html":
        return _html_response(
            "collection.html",
            info=info,
            layer=layer,
            count=registry().count(layer.id),
            fields=_field_rows(layer, _lang()),
            title=f"{layer.title(_lang())} – {TEXT[_lang()]['site']}",
        )
    return _json_response(info)


def _json_schema_type(f: Field) -> dict[str, Any]:
    if f.type == "int":
        return {"type": "integer"}
    if f.type == "float":
        return {"type": "number"}
    if f.type == "bool":
        return {"type": "boolean"}
    if f.type == "date":
        return {"type": "string", "format": "date"}
    return {"type": "string"}


_GEOMETRY_SCHEMAS = {
    "Point": "https://geojson.org/schema/Point.json",
    "LineString": "https://geojson.org/schema/MultiLineString.json",
    "Polygon": "https://geojson.org/schema/MultiPolygon.json",
    "Geometry": "https://geojson.org/schema/Geometry.json",
}


def queryables_schema(layer: Layer, lang: str, schema_id: str) -> dict[str, Any]:
    """JSON Schema of the properties one can filter, sort and select by."""
    props: dict[str, Any] = {}
    for f in layer.fields:
        entry: dict[str, Any] = {"title": f.title(lang), **_json_schema_type(f)}
        entry["x-title-zh"] = f.title_zh
        entry["x-title-en"] = f.title_en
        if f.enum:
            entry["enum"] = list(f.enum)
            if f.enum_en:
                entry["x-enum-en"] = dict(f.enum_en)
        if f.description:
            entry["description"] = f.description
        props[f.name] = entry
    props["geometry"] = {"$ref": _GEOMETRY_SCHEMAS.get(layer.geometry, _GEOMETRY_SCHEMAS["Geometry"])}
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": schema_id,
        "type": "object",
        "title": layer.title(lang),
        "properties": props,
        "additionalProperties": False,
    }


@bp.get("/collections/<collection_id>/queryables")
@conditional("collection_id")
def queryables(collection_id: str) -> Response:
    """The queryable properties of a collection, with their types and enums."""
    layer = _layer(collection_id)
    fmt = _format()
    lang = _lang()
    schema = queryables_schema(layer, lang, _url("queryables", collection_id=layer.id))
    if fmt == "html":
        return _html_response(
            "queryables.html", layer=layer, fields=_field_rows(layer, lang), schema=schema
        )
    accept = request.accept_mimetypes
    mimetype = JSON if accept[JSON] > accept[SCHEMA] else SCHEMA
    return _json_response(schema, mimetype=mimetype)


def _field_rows(layer: Layer, lang: str) -> list[dict[str, Any]]:
    rows = []
    for f in layer.fields:
        values = ""
        if f.enum:
            if lang == "en" and f.enum_en:
                values = ", ".join(f"{k} ({v})" for k, v in f.enum_en.items())
            else:
                values = "、".join(f.enum)
        rows.append({"name": f.name, "title": f.title(lang), "type": f.type, "values": values})
    return rows


def _read_page(layer: Layer, args) -> dict[str, Any]:
    """Check every items parameter, then read one page and count the matches."""
    for name in ("crs",):
        _check_crs(name, args.get(name))
    _check_crs("filter-crs", args.get("filter-crs"))
    bbox = parse_bbox(args.get("bbox"), args.get("bbox-crs"))
    limit = parse_limit(args.get("limit"))
    offset = parse_offset(args.get("offset"))
    order_by = parse_sortby(args.get("sortby"), layer)
    properties = parse_properties(args.get("properties"), layer)
    span = parse_datetime(args.get("datetime"), layer)
    where = parse_property_filters(args, layer) or None
    cql_text = args.get("filter")
    lang_ = args.get("filter-lang")
    if lang_ is not None and lang_.strip() != "cql2-text":
        raise ParameterError("filter-lang", f"unsupported filter language {lang_!r}; use cql2-text")
    cql = None
    if cql_text is not None:
        cql = _cql2()
        if cql is None:
            raise ParameterError("filter", "CQL2 filters are not available on this server yet")
        if not cql_text.strip():
            raise ParameterError("filter", "empty filter")

    reg = registry()
    if span is not None or cql is not None:
        frame = reg.read(layer.id, bbox=bbox, where=where, order_by=order_by)
        if span is not None:
            frame = frame[_date_mask(frame, layer.temporal[0], span)]
        if cql is not None:
            try:
                mask = cql.filter_mask(frame, layer, cql_text)
            except HehuError as exc:
                if "parameter" not in exc.details:
                    exc.details["parameter"] = "filter"
                raise
            except (ValueError, TypeError, KeyError) as exc:
                raise ParameterError("filter", str(exc) or "cannot parse the filter") from None
            frame = frame[pd.Series(mask, index=frame.index).fillna(False).astype(bool)]
        matched = len(frame)
        page = frame.iloc[offset : offset + limit]
        rows = None
    else:
        # SQL does the bbox (R-tree), equality filters, order and paging; a bbox page is
        # counted from the one R-tree read it needs anyway. No GeoDataFrame is built.
        rows, matched = reg.read_rows(
            layer.id, bbox=bbox, where=where, order_by=order_by, limit=limit, offset=offset
        )
        page = None
    return {
        "rows": rows,
        "page": page,
        "returned": len(rows) if rows is not None else len(page),
        "matched": matched,
        "limit": limit,
        "offset": offset,
        "properties": properties,
    }


def _paging_links(result: dict[str, Any], fmt_type: str) -> list[dict[str, Any]]:
    limit, offset, matched = result["limit"], result["offset"], result["matched"]
    returned = result["returned"]
    lang = _lang()
    f = "html" if fmt_type == HTML else "json"
    links = []
    if offset + returned < matched:
        links.append(
            {
                "rel": "next",
                "type": fmt_type,
                "title": TEXT[lang]["next"],
                "href": _this_url(offset=offset + returned, limit=limit, f=f),
            }
        )
    if offset > 0:
        links.append(
            {
                "rel": "prev",
                "type": fmt_type,
                "title": TEXT[lang]["prev"],
                "href": _this_url(offset=max(0, offset - limit), limit=limit, f=f),
            }
        )
    return links


@bp.get("/collections/<collection_id>/items")
@conditional("collection_id")
def items(collection_id: str) -> Response:
    """Features of a collection: bbox, datetime, property filters, CQL2, sorting, paging."""
    layer = _layer(collection_id)
    fmt = _format()
    result = _read_page(layer, request.args)
    page, rows, returned = result["page"], result["rows"], result["returned"]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    collection_link = {
        "rel": "collection",
        "type": JSON,
        "title": layer.title(_lang()),
        "href": _url("collection", collection_id=layer.id, f="json"),
    }
    if fmt == "html":
        lang = _lang()
        names = result["properties"] if result["properties"] is not None else layer.field_names
        if rows is not None:
            feats = feature_dicts_from_rows(rows, layer, names)
        else:
            feats = feature_dicts(page, layer, names)
        return _html_response(
            "items.html",
            layer=layer,
            features=feats,
            columns=[(n, layer.field(n).title(lang)) for n in names],
            enum_labels=_enum_labels(layer, lang),
            matched=result["matched"],
            returned=returned,
            first=result["offset"] + 1 if returned else 0,
            last=result["offset"] + returned,
            paging=_paging_links(result, HTML),
            collection_url=_url("collection", collection_id=layer.id, f="html"),
            item_url=_url("items", collection_id=layer.id) + "/",
            style=_style(layer),
            title=f"{layer.title(lang)} – {TEXT[lang]['items']}",
        )
    links = _alternates(fmt, GEOJSON) + _paging_links(result, GEOJSON) + [collection_link]
    members = {
        "links": links,
        "timeStamp": stamp,
        "numberMatched": int(result["matched"]),
        "numberReturned": int(returned),
    }
    if rows is not None:
        text = dumps_feature_rows(rows, layer, result["properties"], **members)
    else:
        text = dumps_feature_collection(page, layer, result["properties"], **members)
    resp = _json_response(text, mimetype=GEOJSON)
    resp.headers["Content-Crs"] = f"<{CRS84}>"
    return resp


def _enum_labels(layer: Layer, lang: str) -> dict[str, dict[str, str]]:
    if lang != "en":
        return {}
    return {f.name: dict(f.enum_en) for f in layer.fields if f.enum_en}


def _style(layer: Layer) -> dict[str, Any]:
    s = layer.style
    return {
        "color": s.color,
        "fillColor": s.fill_color or s.color,
        "fillOpacity": s.fill_opacity,
        "weight": s.weight,
        "radius": s.radius,
        "by": s.by,
        "values": s.values,
    }


@bp.get("/collections/<collection_id>/items/<feature_id>")
@conditional("collection_id")
def item(collection_id: str, feature_id: str) -> Response:
    """One feature by its registry fid."""
    layer = _layer(collection_id)
    fmt = _format()
    if not re.fullmatch(r"\d{1,18}", feature_id):
        raise NotFoundError(
            f"collection {layer.id}: no feature {feature_id!r} (feature ids are whole numbers)",
            layer=layer.id,
        )
    properties = parse_properties(request.args.get("properties"), layer)
    record = registry().get(layer.id, int(feature_id))
    feature = feature_from_record(record, layer, properties)
    lang = _lang()
    items_url = _url("items", collection_id=layer.id)
    from geo.etag import feature_etag

    if fmt == "html":
        resp = _html_response(
            "item.html",
            layer=layer,
            feature=feature,
            rows=[
                (layer.field(n).title(lang), _display(layer.field(n), v, lang))
                for n, v in feature["properties"].items()
            ],
            collection_url=_url("collection", collection_id=layer.id, f="html"),
            items_url=_url("items", collection_id=layer.id, f="html"),
            style=_style(layer),
            label=feature["properties"].get(layer.label_field) or feature["id"],
            title=f"{layer.title(lang)} {feature['properties'].get(layer.label_field) or feature['id']}",
        )
        resp.set_etag(feature_etag(record) + f"-html-{lang}")
        return resp
    feature["links"] = _alternates(fmt, GEOJSON) + [
        {"rel": "collection", "type": JSON, "title": layer.title(lang), "href": _url("collection", collection_id=layer.id, f="json")},
        {"rel": "items", "type": GEOJSON, "title": layer.title(lang), "href": items_url},
    ]
    resp = _json_response(json.dumps(feature, ensure_ascii=False), mimetype=GEOJSON)
    resp.headers["Content-Crs"] = f"<{CRS84}>"
    # The editing API compares If-Match with this tag (geo.etag).
    resp.set_etag(feature_etag(record))
    return resp


def _display(f: Field, value: Any, lang: str) -> str:
    value = json_value(value)
    if value is None:
        return ""
    if f.type == "bool":
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if lang == "en" and f.enum_en and str(value) in f.enum_en:
        return f"{value} ({f.enum_en[str(value)]})"
    return str(value)
