"""The web map page ``/map``, its configuration ``/map/config.json`` and ``/search``.

The page is plain Leaflet (vendored under ``static/vendor``) driven by one JSON
configuration built here from the layer catalog and the app's ``BASEMAPS`` setting:
layer titles, styles, popup fields with their Chinese/English titles, legends, derived
expressions and basemaps. Layer data is never inlined: the page reads each layer from
the OGC API items endpoint for the current view, so the page stays the same size with
100,000 violations.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for

from geo import carto
from geo import search as geo_search
from geo.errors import QueryError
from layers import Layer
from layers import parse_derived as catalog_parse_derived
from server import http_cache
from server.context import lang as request_lang
from server.context import registry

bp = Blueprint("map", __name__)
# The page's static files: versioned URLs cached for long, text sent gzipped.
bp.app_url_defaults(http_cache.add_version)
bp.after_app_request(http_cache.compress_static)

#: Features asked for per layer and view; beyond it the page says "zoom in to see all".
MAX_FEATURES_PER_VIEW = 5000
#: Point layers with more features than this are clustered (markercluster).
CLUSTER_THRESHOLD = 1000
#: Layers whose features carry a permanent label (the offline look: towns, lakes).
LABEL_LAYERS = ("towns", "lakes")
#: Shown when no layer has an extent yet: Jintan District.
JINTAN_BBOX = (119.25, 31.55, 119.75, 31.95)
#: Hollow grey for point features of a problem layer that are no longer problems
#: (violations 已销号): still on the map, but out of the way.
# The same hollow grey symbol on paper (geo.carto draws closed violations with it).
RESOLVED_STYLE = carto.RESOLVED_STYLE

#: How the page reads a layer beyond bbox and limit: patrols newest first (the first
#: valid track seen per reach is its latest) and without their per-fix times.
READ_OPTIONS = {"patrols": {"sortby": "-started_at", "omit": ("fix_seconds", "cleaning")}}
#: Patrol tracks by age: days before the newest patrol, the opacity and weight they get.
PATROL_AGES = (("week", 7, 1.0, 3.5), ("month", 30, 0.75, 2.5), ("older", None, 0.35, 1.5))
#: The latest valid patrol of each reach, drawn over the rest.
PATROL_LATEST = {"color": "#005a32", "weight": 5}
#: Coverage mode: the reach split into patrolled (solid) and not patrolled (red dashed).
COVERAGE_STYLE = {"covered": {"color": "#1a9850", "weight": 4}, "uncovered": {"color": "#d73027", "weight": 4, "dash": "6 5"}}


STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "page_title": "河湖一张图 · 金坛区",
        "app_title": "河湖一张图",
        "layers": "图层",
        "basemaps": "底图",
        "no_basemap": "无底图",
        "legend": "图例",
        "search_placeholder": "搜索河道、湖泊、镇、污水厂、问题编号…",
        "no_results": "没有找到匹配的要素",
        "query": "空间查询",
        "query_near": "河湖周边问题",
        "query_within": "镇(街道)内问题",
        "target": "河湖",
        "area": "镇(街道)",
        "distance_m": "距离(米)",
        "problem_layers": "问题图层",
        "run": "查询",
        "clear": "清除",
        "count": "共 {n} 个问题",
        "download": "下载 GeoJSON",
        "col_code": "编号",
        "col_kind": "类别/状态",
        "col_town": "所在镇",
        "col_distance": "距离(米)",
        "col_layer": "图层",
        "zoom_in": "{layer}：显示 {shown} / {total}，放大查看全部",
        "loading": "加载中…",
        "load_error": "{layer} 加载失败：{error}",
        "print": "打印当前视图",
        "about": "关于",
        "demo_badge": "演示数据（合成）",
        "credits": "数据来源",
        "yes": "是",
        "no": "否",
        "lon": "经度",
        "lat": "纬度",
        "querying": "查询中…",
        "select_layers": "请至少选择一个问题图层",
        "lang_switch": "English",
        "close": "关闭",
    },
    "en": {
        "page_title": "River and lake map · Jintan",
        "app_title": "River and lake map",
        "layers": "Layers",
        "basemaps": "Basemap",
        "no_basemap": "No basemap",
        "legend": "Legend",
        "search_placeholder": "Search rivers, lakes, towns, plants, violation codes…",
        "no_results": "No matching feature",
        "query": "Spatial query",
        "query_near": "Problems near a river or lake",
        "query_within": "Problems within a town",
        "target": "River or lake",
        "area": "Town",
        "distance_m": "Distance (m)",
        "problem_layers": "Problem layers",
        "run": "Query",
        "clear": "Clear",
        "count": "{n} problems",
        "download": "Download GeoJSON",
        "col_code": "Code",
        "col_kind": "Category/status",
        "col_town": "Town",
        "col_distance": "Distance (m)",
        "col_layer": "Layer",
        "zoom_in": "{layer}: showing {shown} of {total}, zoom in to see all",
        "loading": "Loading…",
        "load_error": "{layer} failed to load: {error}",
        "print": "Print this view",
        "about": "About",
        "demo_badge": "synthetic demo data",
        "credits": "Data credits",
        "yes": "yes",
        "no": "no",
        "lon": "Lon",
        "lat": "Lat",
        "querying": "Querying…",
        "select_layers": "Select at least one problem layer",
        "lang_switch": "中文",
        "close": "Close",
    },
}


def _catalog_strings() -> None:
    """Add the map's ``map.*`` messages of ``geo/messages`` to the page strings."""
    from geo.i18n import catalog

    for key, texts in catalog().items():
        if key.startswith("map."):
            for lang, text in texts.items():
                STRINGS[lang][key[4:]] = text


_catalog_strings()


def parse_derived(name: str, expression: str) -> dict[str, Any]:
    """A catalog ``derived`` expression as ``{"name", "left", "op", "right"}`` for the page
    (the catalog parses it: :func:`layers.parse_derived`).

    >>> parse_derived("meets_target", "latest_class <= target_class")["op"]
    '<='
    """
    return catalog_parse_derived(name, expression).as_dict()


def _value_label(layer: Layer, field: str, value: str, lang: str, strings: dict[str, str]) -> str:
    """What a legend shows for one ``by`` value (enum label, 是/否 for booleans)."""
    if value in ("True", "False"):
        title = _field_title(layer, field, lang)
        sep = "：" if lang == "zh" else ": "
        return f"{title}{sep}{strings['yes'] if value == 'True' else strings['no']}"
    if layer.has_field(field):
        f = layer.field(field)
        if lang == "en" and f.enum_en and value in f.enum_en:
            return f.enum_en[value]
    return value


def _field_title(layer: Layer, name: str, lang: str) -> str:
    return layer.field_title(name, lang)


def _resolved_label(layer: Layer, lang: str) -> str:
    """Legend text for the hollow grey points: the values that stop being problems."""
    rule = layer.problem
    f = layer.field(rule.field)
    values = rule.not_in or tuple(v for v in (f.enum or ()) if v not in (rule.values or ()))
    if lang == "en" and f.enum_en:
        values = tuple(f.enum_en.get(v, v) for v in values)
    hollow = "（空心）" if lang == "zh" else " (hollow)"
    return "、".join(values) + hollow if lang == "zh" else ", ".join(values) + hollow


def layer_config(layer: Layer, lang: str, count: int | None) -> dict[str, Any]:
    """Everything the page needs to draw, style, label and describe one layer."""
    strings = STRINGS[lang]
    cluster_threshold = int(current_app.config.get("MAP_CLUSTER_THRESHOLD", CLUSTER_THRESHOLD))
    s = layer.style
    fields = {}
    for f in layer.fields:
        entry: dict[str, Any] = {"title": f.title(lang), "type": f.type}
        if lang == "en" and f.enum_en:
            entry["enum_labels"] = f.enum_en
        fields[f.name] = entry
    derived = [d.as_dict() for d in layer.derived_fields]
    for d in derived:
        fields[d["name"]] = {"title": _field_title(layer, d["name"], lang), "type": "bool"}
    popup = list(layer.popup) + [d["name"] for d in derived if d["name"] not in layer.popup]
    legend = []
    if s.by:
        legend = [
            {"value": value, "color": color, "label": _value_label(layer, s.by, value, lang, strings)}
            for value, color in s.values.items()
        ]
    problem = None
    if layer.problem is not None:
        problem = {
            "field": layer.problem.field,
            "values": list(layer.problem.values) if layer.problem.values is not None else None,
            "not_in": list(layer.problem.not_in) if layer.problem.not_in is not None else None,
        }
    geometry = layer.geometry
    point = geometry == "Point"
    read = READ_OPTIONS.get(layer.id)
    if read:
        read = {"sortby": read["sortby"],
                "properties": [f.name for f in layer.fields if f.name not in read["omit"]]}
    return {
        "id": layer.id,
        "title": layer.title(lang),
        "title_zh": layer.title_zh,
        "title_en": layer.title_en,
        "geometry": geometry,
        # Point symbol from the catalog's icon, as printed maps draw it (geo.carto).
        "shape": carto.point_shape(layer) if point else None,
        "id_field": layer.id_field,
        "label_field": layer.label_field,
        "default_visible": layer.default_visible,
        "order": layer.order,
        "count": count,
        "cluster": bool(point and count is not None and count > cluster_threshold),
        "label": layer.id in current_app.config.get("MAP_LABEL_LAYERS", LABEL_LAYERS),
        "style": {
            "color": s.color,
            "fill_color": s.fill_color,
            "fill_opacity": s.fill_opacity,
            "weight": s.weight,
            "radius": s.radius,
            "dash": s.dash,
            "by": s.by,
            "values": dict(s.values),
        },
        # Point features of a problem layer that are not problems: hollow and grey.
        "resolved_style": RESOLVED_STYLE if (point and problem) else None,
        "resolved_label": _resolved_label(layer, lang) if (point and problem) else None,
        "legend": legend,
        "derived": derived,
        "fields": fields,
        "popup": popup,
        "problem": problem,
        "searchable": bool(layer.search),
        "read": read,
    }


def basemaps_config(lang: str) -> list[dict[str, Any]]:
    """Configured basemaps, keys filled in; ones that need a key and have none are left out."""
    out = []
    for bid, b in (current_app.config.get("BASEMAPS") or {}).items():
        url = b.get("url", "")
        if "{key}" in url:
            key = b.get("key") or ""
            if not key:
                continue
            url = url.replace("{key}", key)
        out.append(
            {
                "id": bid,
                "title": b.get(f"title_{lang}") or b.get("title_zh") or bid,
                "url": url,
                "subdomains": b.get("subdomains", "abc"),
                "attribution": b.get("attribution", ""),
                "crs": (b.get("crs") or "wgs84").lower(),
                "max_zoom": int(b.get("max_zoom", 18)),
            }
        )
    return out


def _credits(meta: dict[str, Any]) -> list[str]:
    """The registry's data credits as display lines, whatever shape they were stored in."""
    raw = meta.get("credits") or []
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, dict):
        raw = [{"name": k, **v} if isinstance(v, dict) else f"{k}: {v}" for k, v in raw.items()]
    lines = []
    for item in raw:
        if isinstance(item, dict):
            parts = [str(item[k]) for k in ("data", "name", "title", "source", "licence", "license", "url")
                     if item.get(k)]
            lines.append(" · ".join(parts))
        else:
            lines.append(str(item))
    return lines


def _initial_bbox(reg) -> list[float]:
    for layer_id in ("district", "towns"):
        if layer_id in reg.catalog:
            ext = reg.extent(layer_id)
            if ext and reg.count(layer_id):
                return [float(v) for v in ext]
    boxes = [reg.extent(layer.id) for layer in reg.catalog if layer.on_map]
    boxes = [b for b in boxes if b]
    if not boxes:
        return list(JINTAN_BBOX)
    return [min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes)]


def patrols_config(reg) -> dict[str, Any] | None:
    """Ages, styles and the default period of the patrol tracks and the coverage mode.

    Ages count back from the newest patrol (a registry of last year's patrols still
    shows which were that year's last week); the coverage period defaults to its month.
    """
    if "patrols" not in reg.catalog or "rivers" not in reg.catalog:
        return None
    from geo.patrols.chiefs import latest_patrol_date, month_of
    from geo.patrols.coverage import DEFAULT_BUFFER_M

    newest = latest_patrol_date(reg)
    start, end = month_of(newest) if newest else (None, None)
    style = reg.catalog["patrols"].style
    return {
        "as_of": newest.isoformat() if newest else None,
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "buffer_m": DEFAULT_BUFFER_M,
        "ages": [{"id": a, "days": d, "opacity": o, "weight": w} for a, d, o, w in PATROL_AGES],
        "valid_color": style.values.get("True", style.color),
        "invalid_color": style.values.get("False", "#b2b2b2"),
        "invalid_dash": "6 4",
        "latest": PATROL_LATEST,
        "coverage": COVERAGE_STYLE,
        "reach_layers": [lid for lid in ("rivers", "lakes") if lid in reg.catalog],
    }


def map_config(lang: str) -> dict[str, Any]:
    """The page's whole configuration: layers, styles, labels, basemaps, endpoints."""
    reg = registry()
    meta = reg.metadata
    root = request.script_root
    # A layer whose features may have no geometry (the chiefs) is a table, not a map
    # layer; on_map: false keeps registry data such as observations off the list.
    layers = [
        layer_config(layer, lang, reg.count(layer.id))
        for layer in reg.catalog
        if layer.on_map and not layer.geometry_optional
    ]
    return {
        "lang": lang,
        "title": meta.get("title") or STRINGS[lang]["app_title"],
        "strings": STRINGS[lang],
        "layers": layers,
        "problem_layers": [layer.id for layer in reg.catalog.problem_layers],
        # Which layers the query panel suggests targets from: named waters for "near"
        # (the layers whose names and aliases queries resolve), towns for "within".
        "query_targets": {
            "near": [layer.id for layer in reg.catalog if layer.aliases_field and layer.search],
            "within": [lid for lid in ("towns",) if lid in reg.catalog],
        },
        "basemaps": basemaps_config(lang),
        "bbox": _initial_bbox(reg),
        "max_features": int(current_app.config.get("MAP_MAX_FEATURES", MAX_FEATURES_PER_VIEW)),
        "synthetic": bool(meta.get("synthetic") or meta.get("demo")),
        "credits": _credits(meta),
        "synthetic_note": meta.get("synthetic_note") or "",
        "patrols": patrols_config(reg),
        # Below the prefix the app is mounted at (SCRIPT_NAME), like every URL the page uses.
        "urls": {
            "items": f"{root}/collections/{{id}}/items",
            "item": f"{root}/collections/{{id}}/items/{{fid}}",
            "search": url_for("map.search_view"),
            "near": f"{root}/query/near",
            "within": f"{root}/query/within",
            "nearest": f"{root}/query/nearest",
            "print": f"{root}/print",
            "river": f"{root}/rivers/{{code}}",
            "case": f"{root}/collections/violations/items/{{fid}}/case.pdf",
            "coverage": url_for("patrols.coverage"),
            "chiefs": url_for("patrols.chiefs"),
        },
    }


#: The fields of the map's "add" form, per layer a field role may add to from the map.
#: Titles, types and choices come from the catalog.
ADD_FIELDS = {"violations": ("code", "category", "found_on", "river", "town", "description")}


def _template_url(endpoint: str, **placeholders: str) -> str:
    """``url_for`` with ``{id}``/``{fid}`` placeholders left for the page to fill."""
    url = url_for(endpoint, **{k: f"__{v}__" for k, v in placeholders.items()})
    for v in placeholders.values():
        url = url.replace(f"__{v}__", "{" + v + "}")
    return url


def edit_config(lang: str) -> dict[str, Any]:
    """What ``edit.js`` needs, rendered into the map page: URLs (below any prefix the app
    is mounted at), its strings in the page's language (``geo/messages/edit_map.yaml``),
    the layers with a lifecycle (``geo.lifecycle``) and the add form from the catalog."""
    from geo.i18n import catalog as messages
    from geo.lifecycle import lifecycle

    cat = registry().catalog
    strings = {key[len("edit_map."):]: texts.get(lang) or texts["zh"]
               for key, texts in messages().items() if key.startswith("edit_map.")}
    add = []
    for layer_id, names in ADD_FIELDS.items():
        if layer_id not in cat:
            continue
        layer = cat[layer_id]
        fields = []
        for name in names:
            f = layer.field(name)
            entry: dict[str, Any] = {"name": name, "title": f.title(lang), "type": f.type}
            if f.enum:
                labels = f.enum_en if lang == "en" and f.enum_en else {}
                entry["options"] = [[v, labels.get(v, v)] for v in f.enum]
            fields.append(entry)
        add.append({"layer": layer_id, "fields": fields})
    return {
        "lang": lang,
        "strings": strings,
        "lifecycle_layers": [layer.id for layer in cat if lifecycle(layer.id) is not None],
        "add": add,
        "urls": {
            "items": _template_url("edit.create_item", layer_id="id"),
            "item": _template_url("ogcapi.item", collection_id="id", feature_id="fid"),
            "me": url_for("auth.me"),
            "login": url_for("auth.login", next=url_for("map.map_page")),
            "logout": url_for("auth.logout"),
        },
    }


@bp.after_request
def _conditional_and_compressed(resp: Response) -> Response:
    """Content ETags with ``304`` for the page, its configuration and suggestions; gzip."""
    if resp.status_code == 200 and not resp.direct_passthrough:
        resp.add_etag(weak=True)  # weak: the bytes sent may be gzipped
        resp.headers.setdefault("Cache-Control", "no-cache")
        resp.vary.add("Accept-Language")
        resp = resp.make_conditional(request)
    return http_cache.gzip_body(resp)


def _has_edit_js() -> bool:
    return os.path.exists(os.path.join(current_app.static_folder or "", "map", "edit.js"))


@bp.app_context_processor
def _site_messages() -> dict[str, Any]:
    """``site_m(key, lang)`` for the shared header and footer of every page (base.html)."""
    from geo.i18n import message

    return {"site_m": lambda key, language="zh", **params: message(key, language or "zh", **params)}


@bp.get("/map")
def map_page():
    """The full-window map: Chinese, English on ``?lang=en`` or an English-first browser.

    The same rule as /targets, errors and /map/config.json (``server.context.lang``), so
    the page, its configuration and its search suggestions always share one language.
    """
    lang = request_lang()
    has_edit = _has_edit_js()
    return render_template(
        "map/map.html",
        lang=lang,
        t=STRINGS[lang],
        other_lang="en" if lang == "zh" else "zh",
        config_url=url_for("map.config_view", lang=lang),
        edit_js=has_edit,
        edit_config=edit_config(lang) if has_edit else None,
    )


def _check_args(allowed: tuple[str, ...]) -> None:
    """A 400 naming any query parameter the endpoint does not take, or a language it lacks."""
    for name in request.args:
        if name not in allowed:
            raise QueryError(
                key="query.unknown_param",
                params={"name": name, "hint_en": "", "hint_zh": "", "path": request.path, "known": ", ".join(allowed)},
                parameter=name,
            )
    if request.args.get("lang", "zh") not in STRINGS:
        raise QueryError(key="map.bad_lang", params={"value": repr(request.args["lang"][:40])}, parameter="lang")


@bp.get("/map/config.json")
def config_view():
    """Layers, styles, popups, legends and basemaps for the map page."""
    _check_args(("lang",))
    resp = jsonify(map_config(request_lang()))
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/search")
def search_view():
    """Suggestions: ``?q=text[&limit=10][&layers=rivers,lakes]`` -> ranked matches with bbox."""
    _check_args(("q", "limit", "layers", "lang"))
    q = request.args.get("q", "")
    raw_limit = request.args.get("limit", "10")
    try:
        limit = int(raw_limit)
    except ValueError:
        raise QueryError(
            key="map.bad_limit", params={"value": repr(raw_limit[:40]), "max": geo_search.MAX_LIMIT}, parameter="limit"
        ) from None
    raw_layers = request.args.get("layers")
    layers = [s.strip() for s in raw_layers.split(",") if s.strip()] if raw_layers else None
    results = geo_search.search(registry(), q, layers=layers, limit=limit, lang=request_lang())
    return jsonify({"query": q, "numberReturned": len(results), "results": results})
