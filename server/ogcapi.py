"""OGC API – Features (Part 1: Core, GeoJSON, HTML, OpenAPI 3.0) over the registry.

One collection per catalog layer, ``featureId`` = the registry ``fid``. Views check
their parameters with :mod:`server.ogcapi_params`, call the registry, and serialise
with :mod:`geo.features`; the OpenAPI document comes from :mod:`server.openapi`.

Reads stay cheap on big layers: ``bbox`` goes to the GeoPackage R-tree, property
filters, ``sortby``, ``limit`` and ``offset`` to SQL, and ``numberMatched`` of an
unfiltered layer is the GeoPackage feature count. Only ``datetime`` and a CQL2
``filter`` are evaluated on a frame, after the SQL-side filters have narrowed it.

Every response carries an ``ETag`` and ``Last-Modified`` and answers ``304`` to a
matching ``If-None-Match`` or, without one, to an ``If-Modified-Since`` no earlier than
the last change; bodies over 1 KB are gzipped for clients that accept it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import cache, wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, json, render_template, request, url_for

from geo.errors import HehuError, NotFoundError
from geo.features import (
    collection_head,
    dumps_feature_collection,
    dumps_feature_rows,
    feature_dicts,
    feature_dicts_from_rows,
    feature_from_record,
    json_value,
)
from layers import Field, Layer
from server import http_cache
from server.context import lang as request_lang
from server.context import registry
from server.ogcapi_params import (
    CRS84,
    DEFAULT_LIMIT,
    ITEM_PARAMETERS,
    ITEMS_PARAMETERS,
    MAX_LIMIT,
    ParameterError,
    check_crs,
    cql2_module,
    parse_bbox,
    parse_datetime,
    parse_limit,
    parse_offset,
    parse_properties,
    parse_property_filters,
    parse_sortby,
)

bp = Blueprint("ogcapi", __name__)

#: An HTML page lists (and maps) at most this many features; JSON pages go to MAX_LIMIT.
HTML_MAX_LIMIT = 1000

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
        "download": "下载全部匹配要素",
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
        "download": "Download every match",
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


def _extendable_items_url(collection_id: str) -> str:
    """The GeoJSON items link, with no query: clients extend it. GDAL appends ``/{fid}``
    for ``-fid`` and ``?limit=`` for paging, so ``items?f=json`` became ``items?f=json/4``.
    The format follows from the link's ``type`` (the items answer JSON unless a browser
    asks for HTML)."""
    return url_for("ogcapi.items", collection_id=collection_id, _external=True)


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
        raise ParameterError("f", f"unknown format {f!r}; use json or html (items also download as {', '.join(FILE_FORMATS)})")
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
    text = body if isinstance(body, (str, bytes)) else json.dumps(body, ensure_ascii=False)
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
    """The web map page (another blueprint), wherever it is mounted, or None."""
    for rule in current_app.url_map.iter_rules():
        if rule.rule == "/map" and "GET" in (rule.methods or ()):
            params = {"lang": request.args["lang"]} if request.args.get("lang") in ("zh", "en") else {}
            return url_for(rule.endpoint, _external=True, **params)
    return None


# -- change tracking, ETag, Last-Modified, gzip ----------------------------------------


def _state(layer_id: str | None = None) -> tuple[str, datetime | None]:
    """A token that changes with every committed write, and when the data last changed.

    Read from the store's change stamps (per layer: last change and feature count, kept by
    every writer, and GDAL's feature counts) so that it is the same in every server
    thread and process; stores without it fall back to ``Registry.version()``.
    """
    reg = registry()
    states, last = reg.stamps()
    token = f"{last}|" + "|".join(f"{k}:{v[0]}:{v[1]}" for k, v in sorted(states.items()))
    g.hehu_layer_states = states
    stamps = [v[0] for k, v in states.items() if v[0] and (layer_id is None or k == layer_id)]
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


def _not_modified(tag: str, weak: bool = False, modified: datetime | None = None) -> Response:
    resp = Response(status=304)
    resp.set_etag(tag, weak=weak)
    if modified is not None:
        resp.last_modified = modified
    resp.headers["Vary"] = "Accept, Accept-Language, Accept-Encoding"
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def _http_last_modified(modified: datetime | None) -> datetime | None:
    """The ``Last-Modified`` to send for a change at ``modified`` (None when unknown).

    HTTP dates have whole seconds while the store keeps milliseconds. Once the second
    of the change is over, the change is rounded up to the next second, which an
    ``If-Modified-Since`` then matches; within that second it is rounded down, which
    matches nothing, so a client cannot be told "unchanged" across a later write made
    in the same second.
    """
    if modified is None:
        return None
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=timezone.utc)
    whole = modified.replace(microsecond=0)
    if whole < modified and datetime.now(timezone.utc) >= whole + timedelta(seconds=1):
        whole += timedelta(seconds=1)
    return whole


def _unmodified_since(modified: datetime | None) -> bool:
    """``If-Modified-Since`` is no earlier than the last change (and no ``If-None-Match``)."""
    if modified is None or "If-None-Match" in request.headers:
        return False
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=timezone.utc)
    since = request.if_modified_since
    return since is not None and since >= modified


@cache
def _code_state() -> tuple[str, datetime]:
    """A token and time for the code, templates and catalog that shape the responses.

    Part of every tag and ``Last-Modified``, so that a client holding a page from before
    an upgrade (new links, new fields) gets the new page, not a ``304``.
    """
    root = Path(__file__).resolve().parent.parent
    files = [
        *(root / "server").glob("ogcapi*.py"),
        root / "server" / "openapi.py",
        root / "geo" / "features.py",
        *(root / "server" / "templates" / "ogcapi").glob("*.html"),
        *(root / "layers").glob("*.yaml"),
    ]
    stamps = sorted((str(f.relative_to(root)), f.stat().st_mtime_ns) for f in files if f.exists())
    newest = max((ns for _, ns in stamps), default=0)
    token = hashlib.sha256(repr(stamps).encode()).hexdigest()[:16]
    return token, datetime.fromtimestamp(newest / 1e9, timezone.utc)


def conditional(layer_arg: str | None = None) -> Callable:
    """Give a view an ``ETag``/``Last-Modified`` and answer ``304`` when unchanged.

    The tag hashes the registry state, the code that writes the response, the URL and
    the headers the response varies on, so it is computed before any feature is read and
    a ``304`` costs two small queries.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            asked = request.args.get("lang")
            if asked is not None and asked not in ("zh", "en"):
                raise ParameterError("lang", f"unknown language {asked!r}; use zh or en")
            token, modified = _state(kwargs.get(layer_arg) if layer_arg else None)
            g.hehu_state = token
            code, code_modified = _code_state()
            if modified is not None and modified.tzinfo is None:
                modified = modified.replace(tzinfo=timezone.utc)
            if modified is not None and code_modified > modified:
                modified = code_modified
            key = "\n".join(
                [
                    code,
                    token,
                    request.full_path,
                    request.headers.get("Accept", ""),
                    request.headers.get("Accept-Language", ""),
                    request.host,
                ]
            )
            tag = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
            last_modified = _http_last_modified(modified)
            if _etag_matches(tag):
                return _not_modified(tag, weak=True, modified=last_modified)
            resp = view(*args, **kwargs)
            if resp.status_code == 200:
                if not resp.get_etag()[0]:
                    # Weak: the same state may be written with another timeStamp.
                    resp.set_etag(tag, weak=True)
                elif _etag_matches(resp.get_etag()[0]):
                    return _not_modified(*resp.get_etag(), modified=last_modified)
                if _unmodified_since(modified):
                    return _not_modified(*resp.get_etag(), modified=last_modified)
                if last_modified is not None:
                    resp.last_modified = last_modified
                resp.headers["Cache-Control"] = "no-cache"
            return resp

        return wrapper

    return decorate


@bp.after_request
def _compress(resp: Response) -> Response:
    """Gzip bodies over 1 KB for clients that accept it (the ETag is kept as is).

    Reads are open to web clients of other origins (CORS), as OGC API services usually
    are: without credentials, so a page elsewhere never reads with a signed-in user's
    session, and only for GET (writes on the same URLs get no preflight answer).
    """
    if not resp.headers.get("Vary"):
        resp.headers["Vary"] = "Accept, Accept-Language, Accept-Encoding"
    if resp.status_code == 200 and request.args.get("lang") in (None, "zh", "en"):
        resp.headers["Content-Language"] = "zh-CN" if _lang() == "zh" else "en"
    if request.method in ("GET", "HEAD"):
        resp.headers["Access-Control-Allow-Origin"] = "*"
        resp.headers["Access-Control-Expose-Headers"] = "ETag, Last-Modified, Content-Crs, Content-Disposition"
    elif request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method") in ("GET", "HEAD"):
        # The preflight of a read that sends its own validators or language.
        resp.headers["Access-Control-Allow-Origin"] = "*"
        resp.headers["Access-Control-Allow-Methods"] = "GET, HEAD"
        resp.headers["Access-Control-Allow-Headers"] = "Accept, Accept-Language, If-None-Match, If-Modified-Since"
        resp.headers["Access-Control-Max-Age"] = "86400"
    return http_cache.gzip_body(resp)


# -- resources ------------------------------------------------------------------------


def _layer(collection_id: str) -> Layer:
    return registry().layer(collection_id)


def _temporal_extent(layer: Layer) -> list[str | None] | None:
    """[first, last] date over the layer's temporal fields, cached per registry state."""
    if not layer.temporal:
        return None
    reg = registry()
    cache = current_app.extensions.setdefault("hehu_ogcapi_temporal", {})
    token = g.get("hehu_state") or _state()[0]
    key = (layer.id, token)
    if key in cache:
        return cache[key]
    lows, highs = [], []
    for name in layer.temporal:
        span = reg.temporal_extent(layer.id, name)
        if span is not None:
            lows.append(str(span[0])[:10])
            highs.append(str(span[1])[:10])
    result = [min(lows), max(highs)] if lows else None
    if len(cache) > 256:
        cache.clear()
    cache[key] = result
    return result


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
        {"rel": "items", "type": GEOJSON, "title": layer.title(lang), "href": _extendable_items_url(cid)},
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
    classes = CONFORMANCE_CORE + (CONFORMANCE_FILTER if cql2_module() else [])
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
        cql2=cql2_module() is not None,
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
            context_url=_context_url(layer),
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
    if f.type == "datetime":
        return {"type": "string", "format": "date-time"}
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


def _snapshot(layer: Layer):
    """The in-memory snapshot of a big layer at the request's registry state, or None."""
    from geo.feature_pages import DEFAULT_MAX_FEATURES, DEFAULT_MIN_FEATURES, SnapshotCache

    minimum = current_app.config.get("OGCAPI_SNAPSHOT_MIN_FEATURES", DEFAULT_MIN_FEATURES)
    maximum = current_app.config.get("OGCAPI_SNAPSHOT_MAX_FEATURES", DEFAULT_MAX_FEATURES)
    states = g.get("hehu_layer_states")
    if not minimum or not states or layer.id not in states:
        return None
    # This layer's own state: writes to other layers leave its snapshot valid. Every
    # write through the store moves the layer's last_change, deletes and adds its
    # count, and edits add to its history.
    newest_edit = registry().last_change(layer.id)
    token = (layer.id, *states[layer.id], newest_edit)
    cache = current_app.extensions.get("hehu_ogcapi_snapshots")
    if cache is None:
        cache = current_app.extensions.setdefault("hehu_ogcapi_snapshots", SnapshotCache(minimum, maximum))
    return cache.get(registry(), layer, token)


def _filter_tree(layer: Layer, span, cql_text: str | None):
    """The items filter as one CQL2 tree: the ``filter`` parameter and ``datetime``
    (an inclusive day range on the layer's first temporal field), checked on the layer."""
    from geo import cql2

    tree = None
    if cql_text is not None:
        try:
            tree = cql2.parse(cql_text)
            cql2.check(tree, layer)
        except HehuError as exc:
            if "parameter" not in exc.details:
                exc.details["parameter"] = "filter"
            raise
        except (ValueError, TypeError, KeyError) as exc:
            raise ParameterError("filter", str(exc) or "cannot parse the filter") from None
    if span is not None:
        prop = ("prop", layer.temporal[0], 0)
        terms = [("not", ("null", prop))]
        if span[0] is not None:
            terms.append(("cmp", ">=", prop, ("lit", span[0].isoformat()), 0))
        if span[1] is not None:
            # Before the next day: a date-time field's "2021-03-31T08:00:00.000Z" is on
            # the 31st, and as text it sorts after "2021-03-31".
            terms.append(("cmp", "<", prop, ("lit", (span[1] + timedelta(days=1)).isoformat()), 0))
        for term in terms:
            tree = term if tree is None else ("and", tree, term)
    return tree


def _read_page(layer: Layer, args, fmt: str = "json") -> dict[str, Any]:
    """Check every items parameter, then read one page and count the matches."""
    for name in ("crs",):
        check_crs(name, args.get(name))
    check_crs("filter-crs", args.get("filter-crs"))
    bbox = parse_bbox(args.get("bbox"), args.get("bbox-crs"))
    limit = parse_limit(args.get("limit"))
    if fmt == "file" and args.get("limit") is None:
        limit = None  # a download holds every match unless a page is asked for
    if fmt == "html":
        limit = min(limit, HTML_MAX_LIMIT)
    offset = parse_offset(args.get("offset"))
    order_by = parse_sortby(args.get("sortby"), layer)
    properties = parse_properties(args.get("properties"), layer)
    span = parse_datetime(args.get("datetime"), layer)
    where = parse_property_filters(args, layer) or None
    cql_text = args.get("filter")
    lang_ = args.get("filter-lang")
    # "cql-text" is what GDAL (3.1 and later) sends: CQL2-text's name in the drafts.
    if lang_ is not None and lang_.strip() not in ("cql2-text", "cql-text"):
        raise ParameterError("filter-lang", f"unsupported filter language {lang_!r}; use cql2-text")
    cql = None
    if cql_text is not None:
        cql = cql2_module()
        if cql is None:
            raise ParameterError("filter", "CQL2 filters are not available on this server yet")
        if not cql_text.strip():
            raise ParameterError("filter", "empty filter")

    reg = registry()
    texts = None
    plain_bbox_page = (
        fmt == "json"
        and bbox is not None
        and where is None
        and properties is None
        and span is None
        and cql is None
        and all(name == "fid" for name, _ in order_by or ())
    )
    snap = _snapshot(layer) if plain_bbox_page else None
    if snap is not None:
        # A big layer's bbox page from memory (geo.feature_pages), same answer as SQL.
        descending = bool(order_by) and not order_by[0][1]
        texts, matched = snap.page(bbox, descending=descending, limit=limit, offset=offset)
        rows = page = None
    elif fmt == "file":
        tree = _filter_tree(layer, span, cql_text)
        frame = reg.read(layer.id, bbox=bbox, where=where, filter=tree, order_by=order_by)
        matched = len(frame)
        page = frame.iloc[offset:] if limit is None else frame.iloc[offset : offset + limit]
        rows = None
    else:
        # The store does the bbox (R-tree), equality filters, CQL2 and datetime (as SQL
        # where it can), order and paging; a bbox page is counted from the one R-tree
        # read it needs anyway. No GeoDataFrame is built.
        tree = _filter_tree(layer, span, cql_text)
        rows, matched = reg.read_rows(
            layer.id, bbox=bbox, where=where, filter=tree, order_by=order_by, limit=limit, offset=offset
        )
        page = None
    return {
        "texts": texts,
        "rows": rows,
        "page": page,
        "returned": len(texts) if texts is not None else len(rows) if rows is not None else len(page),
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
    if (request.args.get("f") or "").strip().lower() in FILE_FORMATS:
        return _download(layer)
    fmt = _format()
    result = _read_page(layer, request.args, fmt)
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
            downloads=[(FILE_FORMAT_TITLES[f], link["href"]) for f, link in zip(FILE_FORMATS, _download_links(), strict=True)],
            collection_url=_url("collection", collection_id=layer.id, f="html"),
            item_url=_url("items", collection_id=layer.id) + "/",
            style=_style(layer),
            context_url=_context_url(layer),
            title=f"{layer.title(lang)} – {TEXT[lang]['items']}",
        )
    links = _alternates(fmt, GEOJSON) + _paging_links(result, GEOJSON) + [collection_link] + _download_links()
    members = {
        "links": links,
        "timeStamp": stamp,
        "numberMatched": int(result["matched"]),
        "numberReturned": int(returned),
    }
    if result["texts"] is not None:
        text = (
            collection_head(**members).encode("utf-8") + b"[" + b",".join(result["texts"]) + b"]}"
        )
    elif rows is not None:
        text = dumps_feature_rows(rows, layer, result["properties"], **members)
    else:
        text = dumps_feature_collection(page, layer, result["properties"], **members)
    resp = _json_response(text, mimetype=GEOJSON)
    resp.headers["Content-Crs"] = f"<{CRS84}>"
    return resp


#: Field formats a collection's items download as (``?f=``), written by geo.export.
FILE_FORMATS = ("gpkg", "shp", "kml", "csv", "xlsx")
FILE_FORMAT_TITLES = {"gpkg": "GeoPackage", "shp": "Shapefile (zip)", "kml": "KML", "csv": "CSV", "xlsx": "Excel"}


def _download_links() -> list[dict[str, Any]]:
    """``enclosure`` links: every feature matching this request's filters, as files."""
    from geo.export import FORMATS

    title = TEXT[_lang()]["download"]
    return [
        {
            "rel": "enclosure",
            "type": FORMATS[fmt][1],
            "title": f"{title} ({FILE_FORMAT_TITLES[fmt]})",
            "href": _this_url(f=fmt, limit=None, offset=None),
        }
        for fmt in FILE_FORMATS
    ]


def _download(layer: Layer) -> Response:
    """The matching features as a file (GeoPackage, Shapefile zip, KML, CSV, Excel ledger).

    Every items parameter applies; unlike a JSON page, a download holds every match
    unless ``limit`` is given.
    """
    import os
    import tempfile

    from geo.export import export_filename, write_frames
    from server.export import send_temporary
    from server.rights import check_export

    check_export([layer.id])
    fmt = request.args["f"].strip().lower()
    result = _read_page(layer, request.args, "file")
    page = result["page"]
    if result["properties"] is not None:
        page = page[[*result["properties"], page.geometry.name]]
    tags = [("筛选", "filtered")] if len(page) < registry().count(layer.id) else []
    name = export_filename([layer], fmt, tags)
    ascii_name = export_filename([layer], fmt, tags, ascii_only=True)
    fd, tmp = tempfile.mkstemp(prefix="hehu-items-", suffix=Path(name).suffix)
    os.close(fd)
    os.unlink(tmp)
    try:
        written = write_frames({layer.id: page}, fmt, tmp, catalog=registry().catalog)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return send_temporary(
        written.path, written.media_type, name, ascii_name, {"X-Hehu-Count": str(written.total)}
    )


def _enum_labels(layer: Layer, lang: str) -> dict[str, dict[str, str]]:
    if lang != "en":
        return {}
    return {f.name: dict(f.enum_en) for f in layer.fields if f.enum_en}


def _context_url(layer: Layer) -> str | None:
    """Items of the district outline, drawn under the small maps for orientation."""
    if layer.id == "district" or "district" not in registry().catalog:
        return None
    return _url("items", collection_id="district", f="json", properties="name")


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
    for name in request.args:
        if name not in ITEM_PARAMETERS:
            raise ParameterError(name, f"unknown query parameter; a feature takes {', '.join(ITEM_PARAMETERS)}")
    check_crs("crs", request.args.get("crs"))
    properties = parse_properties(request.args.get("properties"), layer)
    record = registry().get(layer.id, int(feature_id))
    feature = feature_from_record(record, layer, properties)
    lang = _lang()
    items_url = _extendable_items_url(layer.id)
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
            context_url=_context_url(layer),
            label=feature["properties"].get(layer.label_field) or feature["id"],
            title=f"{layer.title(lang)} {feature['properties'].get(layer.label_field) or feature['id']}",
        )
        resp.set_etag(feature_etag(record) + f"-html-{lang}-{_code_state()[0]}")
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
