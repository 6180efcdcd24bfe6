"""OGC API – Features (Part 1: Core, GeoJSON, HTML, OpenAPI 3.0) over the registry.

One collection per catalog layer, ``featureId`` = the registry ``fid``. The views are
HTTP only: they read the request, call one :mod:`geo` function — items come from
:func:`geo.items.read_items`, which checks the parameters (:mod:`geo.item_params`) and
plans the read — and shape the response with :mod:`geo.features`; the OpenAPI
document comes from :mod:`server.openapi`.

Every response carries an ``ETag`` and ``Last-Modified`` and answers ``304`` to a
matching ``If-None-Match`` or, without one, to an ``If-Modified-Since`` no earlier than
the last change (:mod:`server.http_cache`); bodies over 1 KB are gzipped for clients
that accept it. Errors are rendered in the request's language
(``geo/messages/server.yaml``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime, timezone
from functools import cache, wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, json, render_template, request, url_for

from geo.attachments import enclosure_links, records_of
from geo.errors import NotFoundError
from geo.features import (
    collection_head,
    feature_dicts_from_rows,
    feature_from_record,
)
from geo.i18n import LANGUAGES, catalog
from geo.item_params import (
    CRS84,
    DEFAULT_LIMIT,
    ITEM_PARAMETERS,
    ITEMS_PARAMETERS,
    MAX_LIMIT,
    ParameterError,
    check_crs,
    cql2_module,
    parse_properties,
)
from geo.items import Page, feature_texts_with_links, read_items, registry_state, temporal_extent
from geo.queryables import display_value, enum_labels, field_rows, leaflet_style, queryables_schema
from geo.registry import UnknownLayerError
from layers import Layer
from server import http_cache
from server.context import lang as request_lang
from server.context import registry
from server.ogcapi_downloads import FILE_FORMAT_TITLES, FILE_FORMATS, download_links, send_download
from server.rights import check_export

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

def _page_texts() -> dict[str, dict[str, str]]:
    """The HTML pages' strings by language, from ``geo/messages/ogcapi.yaml``."""
    return {
        lang: {key.removeprefix("ogcapi."): texts[lang] for key, texts in catalog().items() if key.startswith("ogcapi.")}
        for lang in LANGUAGES
    }


#: ``TEXT[lang][name]``: what the templates call ``t``.
TEXT = _page_texts()


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
        raise ParameterError("f", key="server.format_unknown", params={"value": repr(f), "files": ", ".join(FILE_FORMATS)})
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


# -- change tracking: ETag, Last-Modified (server.http_cache), gzip ------------------------


def _state(layer_id: str | None = None) -> tuple[str, datetime | None]:
    """The registry's change token and last change (geo.items.registry_state); the
    per-layer stamps stay in ``g`` for the snapshot cache."""
    state = registry_state(registry(), layer_id)
    g.hehu_layer_states = state.layers
    return state.token, state.modified


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
        root / "server" / "http_cache.py",
        root / "geo" / "features.py",
        root / "geo" / "items.py",
        root / "geo" / "item_params.py",
        root / "geo" / "queryables.py",
        *(root / "geo" / "messages").glob("*.yaml"),
        *(root / "server" / "templates" / "ogcapi").glob("*.html"),
        *(root / "layers").glob("*.yaml"),
    ]
    stamps = sorted((str(f.relative_to(root)), f.stat().st_mtime_ns) for f in files if f.exists())
    newest = max((ns for _, ns in stamps), default=0)
    token = hashlib.sha256(repr(stamps).encode()).hexdigest()[:16]
    return token, datetime.fromtimestamp(newest / 1e9, timezone.utc)


def conditional(layer_arg: str | None = None) -> Callable:
    """Check ``lang``, then answer through :func:`server.http_cache.conditional` (ETag,
    Last-Modified, ``304``) with this module's data and code state."""

    def decorate(view: Callable) -> Callable:
        # Looked up at each call, so that a replaced _code_state (an upgrade, in tests) counts.
        cached = http_cache.conditional(lambda layer_id: _state(layer_id), lambda: _code_state(), layer_arg)(view)

        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            asked = request.args.get("lang")
            if asked is not None and asked not in ("zh", "en"):
                raise ParameterError("lang", key="server.lang_unknown", params={"value": repr(asked)})
            return cached(*args, **kwargs)

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
        resp.headers["Vary"] = http_cache.VARY
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
    """The collection's layer, or a 404 naming the collections there are."""
    catalog = registry().catalog
    if collection_id not in catalog:
        raise UnknownLayerError(
            key="server.unknown_collection",
            params={"value": repr(collection_id), "known": ", ".join(catalog.ids)},
            layer=collection_id,
        )
    return catalog[collection_id]


def _temporal_extent(layer: Layer) -> list[str] | None:
    """[first, last] date over the layer's temporal fields, cached per registry state."""
    cache = current_app.extensions.setdefault("hehu_ogcapi_temporal", {})
    return temporal_extent(registry(), layer, cache, g.get("hehu_state") or _state()[0])


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
            fields=field_rows(layer, _lang()),
            context_url=_context_url(layer),
            title=f"{layer.title(_lang())} – {TEXT[_lang()]['site']}",
        )
    return _json_response(info)


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
            "queryables.html", layer=layer, fields=field_rows(layer, lang), schema=schema
        )
    accept = request.accept_mimetypes
    mimetype = JSON if accept[JSON] > accept[SCHEMA] else SCHEMA
    return _json_response(schema, mimetype=mimetype)


def _snapshots():
    """The app's cache of in-memory snapshots of big layers, or None when turned off."""
    from geo.feature_pages import DEFAULT_MAX_FEATURES, DEFAULT_MIN_FEATURES, SnapshotCache

    minimum = current_app.config.get("OGCAPI_SNAPSHOT_MIN_FEATURES", DEFAULT_MIN_FEATURES)
    maximum = current_app.config.get("OGCAPI_SNAPSHOT_MAX_FEATURES", DEFAULT_MAX_FEATURES)
    if not minimum:
        return None
    found = current_app.extensions.get("hehu_ogcapi_snapshots")
    if found is None:
        found = current_app.extensions.setdefault("hehu_ogcapi_snapshots", SnapshotCache(minimum, maximum))
    return found


def _read_page(layer: Layer, want: str = "texts", page_max: int | None = None) -> Page:
    """This request's page of ``layer`` (geo.items.read_items)."""
    return read_items(
        registry(),
        layer,
        request.args,
        want=want,
        page_max=page_max,
        snapshots=_snapshots,
        states=g.get("hehu_layer_states"),
    )


def _paging_links(page: Page, fmt_type: str) -> list[dict[str, Any]]:
    t = TEXT[_lang()]
    f = "html" if fmt_type == HTML else "json"
    links = []
    for rel, offset in (("next", page.next_offset), ("prev", page.prev_offset)):
        if offset is not None:
            href = _this_url(offset=offset, limit=page.limit, f=f)
            links.append({"rel": rel, "type": fmt_type, "title": t[rel], "href": href})
    return links


@bp.get("/collections/<collection_id>/items")
@conditional("collection_id")
def items(collection_id: str) -> Response:
    """Features of a collection: bbox, datetime, property filters, CQL2, sorting, paging."""
    layer = _layer(collection_id)
    if (request.args.get("f") or "").strip().lower() in FILE_FORMATS:
        return _download(layer)
    fmt = _format()
    page = _read_page(layer, "rows", HTML_MAX_LIMIT) if fmt == "html" else _read_page(layer)
    rows, returned = page.rows, page.returned
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    collection_link = {
        "rel": "collection",
        "type": JSON,
        "title": layer.title(_lang()),
        "href": _url("collection", collection_id=layer.id, f="json"),
    }
    if fmt == "html":
        lang = _lang()
        names = page.properties if page.properties is not None else layer.field_names
        feats = feature_dicts_from_rows(rows, layer, names)
        return _html_response(
            "items.html",
            layer=layer,
            features=feats,
            columns=[(n, layer.field(n).title(lang)) for n in names],
            enum_labels=enum_labels(layer, lang),
            matched=page.matched,
            returned=returned,
            first=page.offset + 1 if returned else 0,
            last=page.offset + returned,
            paging=_paging_links(page, HTML),
            downloads=[(FILE_FORMAT_TITLES[f], link["href"]) for f, link in zip(FILE_FORMATS, _download_links(), strict=True)],
            collection_url=_url("collection", collection_id=layer.id, f="html"),
            item_url=_url("items", collection_id=layer.id) + "/",
            style=leaflet_style(layer),
            context_url=_context_url(layer),
            title=f"{layer.title(lang)} – {TEXT[lang]['items']}",
        )
    links = _alternates(fmt, GEOJSON) + _paging_links(page, GEOJSON) + [collection_link] + _download_links()
    members = {
        "links": links,
        "timeStamp": stamp,
        "numberMatched": int(page.matched),
        "numberReturned": int(returned),
    }
    # Features with files carry enclosure links to them (one store query for the page).
    texts = feature_texts_with_links(registry(), layer, page, request.url_root)
    text = collection_head(**members).encode("utf-8") + b"[" + b",".join(texts) + b"]}"
    resp = _json_response(text, mimetype=GEOJSON)
    resp.headers["Content-Crs"] = f"<{CRS84}>"
    return resp


def _download_links() -> list[dict[str, Any]]:
    """``enclosure`` links: every feature matching this request's filters, as files."""
    return download_links(TEXT[_lang()]["download"], lambda fmt: _this_url(f=fmt, limit=None, offset=None))


def _download(layer: Layer) -> Response:
    """The matching features as a file: every items parameter applies; unlike a JSON
    page, a download holds every match unless ``limit`` is given."""
    check_export([layer.id])
    return send_download(layer, request.args["f"].strip().lower(), _read_page(layer, "frame"))


def _context_url(layer: Layer) -> str | None:
    """Items of the district outline, drawn under the small maps for orientation."""
    if layer.id == "district" or "district" not in registry().catalog:
        return None
    return _url("items", collection_id="district", f="json", properties="name")


@bp.get("/collections/<collection_id>/items/<feature_id>")
@conditional("collection_id")
def item(collection_id: str, feature_id: str) -> Response:
    """One feature by its registry fid."""
    layer = _layer(collection_id)
    fmt = _format()
    if not re.fullmatch(r"\d{1,18}", feature_id):
        raise NotFoundError(
            key="server.feature_id_not_integer", params={"layer": layer.id, "value": repr(feature_id)}, layer=layer.id
        )
    for name in request.args:
        if name not in ITEM_PARAMETERS:
            raise ParameterError(name, key="server.item_unknown_param", params={"known": ", ".join(ITEM_PARAMETERS)})
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
                (layer.field(n).title(lang), display_value(layer.field(n), v, lang))
                for n, v in feature["properties"].items()
            ],
            collection_url=_url("collection", collection_id=layer.id, f="html"),
            items_url=_url("items", collection_id=layer.id, f="html"),
            style=leaflet_style(layer),
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
    files = records_of(registry(), layer.id, [int(feature_id)]).get(int(feature_id), [])
    feature["links"] += enclosure_links(request.url_root, files)
    resp = _json_response(json.dumps(feature, ensure_ascii=False), mimetype=GEOJSON)
    resp.headers["Content-Crs"] = f"<{CRS84}>"
    # The editing API compares If-Match with this tag (geo.etag).
    resp.set_etag(feature_etag(record))
    return resp
