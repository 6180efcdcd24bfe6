"""The OpenAPI 3.0 document of the service, built from the layer catalog.

Every collection gets its own items paths with one query parameter per catalog field
(type and enum from the catalog), so a client (GDAL reads the ``limit`` maximum and
the parameters from here) and a person reading ``/api`` see exactly what each layer
takes. The domain endpoints (``/query/*``, ``/export``, ``/print``, ``/targets``,
``/map``) and the editing methods are described here too, in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geo import search
from layers import Catalog, Field, Layer

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"

_ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "404": {"$ref": "#/components/responses/NotFound"},
}


def _text(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _field_schema(f: Field) -> dict[str, Any]:
    if f.type == "int":
        schema: dict[str, Any] = {"type": "integer"}
    elif f.type == "float":
        schema = {"type": "number"}
    elif f.type == "bool":
        schema = {"type": "boolean"}
    elif f.type == "date":
        schema = {"type": "string", "format": "date"}
    elif f.type == "datetime":
        schema = {"type": "string", "format": "date-time"}
    else:
        schema = {"type": "string"}
    if f.enum:
        schema["enum"] = list(f.enum)
    return schema


def _property_parameter(f: Field, lang: str) -> dict[str, Any]:
    schema = _field_schema(f)
    description = _text(
        lang,
        f"{f.title_zh}：只返回该属性等于给定值的要素",
        f"{f.title_en}: only features whose property equals the value",
    )
    if f.enum:
        description += _text(lang, "；可用逗号列出多个取值", "; several values may be given, comma-separated")
        schema = {"type": "array", "items": schema}
        return {
            "name": f.name,
            "in": "query",
            "required": False,
            "description": description,
            "style": "form",
            "explode": False,
            "schema": schema,
        }
    return {"name": f.name, "in": "query", "required": False, "description": description, "schema": schema}


def _feature_schema(layer: Layer) -> dict[str, Any]:
    props = {}
    for f in layer.fields:
        s = _field_schema(f)
        s["title"] = f"{f.title_zh} / {f.title_en}"
        s["nullable"] = not f.required
        props[f.name] = s
    return {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "integer", "description": "registry fid"},
            "geometry": {"$ref": "#/components/schemas/geometryGeoJSON"},
            "properties": {
                "type": "object",
                "properties": props,
                "required": [f.name for f in layer.fields if f.required],
            },
        },
    }


def _components(default_limit: int, max_limit: int, lang: str, cql2: bool) -> dict[str, Any]:
    params = {
        "f": {
            "name": "f",
            "in": "query",
            "required": False,
            "description": _text(lang, "返回格式（默认按 Accept 头协商）", "Response format (default: by the Accept header)"),
            "schema": {"type": "string", "enum": ["json", "html"]},
        },
        "fItems": {
            "name": "f",
            "in": "query",
            "required": False,
            "description": _text(
                lang,
                "返回格式：json、html，或下载文件 gpkg、shp（zip）、kml、csv、xlsx（台账）；下载包含全部匹配要素，除非给出 limit",
                "Response format: json, html, or a file download gpkg, shp (zip), kml, csv, xlsx (ledger); a download holds every match unless limit is given",
            ),
            "schema": {"type": "string", "enum": ["json", "html", "gpkg", "shp", "kml", "csv", "xlsx"]},
        },
        "lang": {
            "name": "lang",
            "in": "query",
            "required": False,
            "description": _text(lang, "语言：中文或英文（默认按 Accept-Language）", "Language (default: by Accept-Language)"),
            "schema": {"type": "string", "enum": ["zh", "en"]},
        },
        "bbox": {
            "name": "bbox",
            "in": "query",
            "required": False,
            "description": _text(
                lang,
                "经纬度范围 minlon,minlat,maxlon,maxlat（CRS84）；返回与之相交的要素",
                "Bounding box minlon,minlat,maxlon,maxlat (CRS84); features intersecting it",
            ),
            "style": "form",
            "explode": False,
            "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        },
        "bbox-crs": {
            "name": "bbox-crs",
            "in": "query",
            "required": False,
            "description": _text(
                lang,
                "bbox 的坐标系：CRS84（默认，经度在前）或 EPSG:4326（纬度在前）",
                "CRS of bbox: CRS84 (default, longitude first) or EPSG:4326 (latitude first)",
            ),
            "schema": {
                "type": "string",
                "format": "uri",
                "enum": [
                    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                    "http://www.opengis.net/def/crs/EPSG/0/4326",
                ],
            },
        },
        "crs": {
            "name": "crs",
            "in": "query",
            "required": False,
            "description": _text(lang, "输出坐标系（仅 CRS84）", "Output CRS (CRS84 only)"),
            "schema": {"type": "string", "format": "uri", "enum": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]},
        },
        "limit": {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": _text(
                lang,
                f"每页要素数，默认 {default_limit}，最大 {max_limit}（更大的值按 {max_limit} 处理）",
                f"Features per page, default {default_limit}, at most {max_limit} (larger values are lowered to it)",
            ),
            "style": "form",
            "explode": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": max_limit, "default": default_limit},
        },
        "offset": {
            "name": "offset",
            "in": "query",
            "required": False,
            "description": _text(lang, "跳过的要素数（分页）", "Number of features to skip (paging)"),
            "schema": {"type": "integer", "minimum": 0, "default": 0},
        },
        "datetime": {
            "name": "datetime",
            "in": "query",
            "required": False,
            "description": _text(
                lang,
                "日期或时段（RFC 3339）：2021-05-01、2021-01-01/2021-06-30、../2021-06-30、2021-01-01/..；"
                "按该数据集的第一个时间字段过滤",
                "Date or interval (RFC 3339): 2021-05-01, 2021-01-01/2021-06-30, ../2021-06-30, 2021-01-01/..; "
                "filters on the collection's first temporal property",
            ),
            "schema": {"type": "string"},
        },
        "sortby": {
            "name": "sortby",
            "in": "query",
            "required": False,
            "description": _text(
                lang, "排序字段，逗号分隔，前缀 - 为降序：-found_on,code", "Sort keys, comma-separated, - for descending: -found_on,code"
            ),
            "style": "form",
            "explode": False,
            "schema": {"type": "array", "items": {"type": "string", "pattern": "[+|-]?[A-Za-z_].*"}},
        },
        "properties": {
            "name": "properties",
            "in": "query",
            "required": False,
            "description": _text(lang, "只返回这些属性（逗号分隔）", "Return only these properties (comma-separated)"),
            "style": "form",
            "explode": False,
            "schema": {"type": "array", "items": {"type": "string"}},
        },
        "featureId": {
            "name": "featureId",
            "in": "path",
            "required": True,
            "description": _text(lang, "要素编号（注册库 fid）", "Feature id (the registry fid)"),
            "schema": {"type": "integer", "minimum": 1},
        },
        "collectionId": {
            "name": "collectionId",
            "in": "path",
            "required": True,
            "description": _text(lang, "数据集（图层）编号", "Collection (layer) id"),
            "schema": {"type": "string"},
        },
    }
    if cql2:
        params["filter"] = {
            "name": "filter",
            "in": "query",
            "required": False,
            "description": _text(lang, "CQL2 文本过滤条件", "CQL2 text filter expression"),
            "schema": {"type": "string"},
        }
        params["filter-lang"] = {
            "name": "filter-lang",
            "in": "query",
            "required": False,
            # "cql-text" (the drafts' name, accepted as CQL2-text) is what makes GDAL's OAPIF
            # driver send -where as a CQL filter: without it GDAL turns a comparison on
            # *any* date field into datetime=, which means the collection's one temporal
            # property (docs/ogcapi.md, "GDAL").
            "schema": {"type": "string", "enum": ["cql2-text", "cql-text"], "default": "cql2-text"},
        }
        params["filter-crs"] = {
            "name": "filter-crs",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "format": "uri", "enum": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]},
        }
    exception = {
        "type": "object",
        "required": ["code"],
        "properties": {
            "code": {"type": "string"},
            "description": {"type": "string"},
            "parameter": {"type": "string", "description": "the query parameter at fault"},
        },
    }
    link = {
        "type": "object",
        "required": ["href"],
        "properties": {
            "href": {"type": "string"},
            "rel": {"type": "string"},
            "type": {"type": "string"},
            "title": {"type": "string"},
        },
    }
    return {
        "parameters": params,
        "schemas": {
            "exception": exception,
            "link": link,
            "geometryGeoJSON": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}},
            "featureCollectionGeoJSON": {
                "type": "object",
                "required": ["type", "features"],
                "properties": {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {"type": "array", "items": {"type": "object"}},
                    "links": {"type": "array", "items": {"$ref": "#/components/schemas/link"}},
                    "timeStamp": {"type": "string", "format": "date-time"},
                    "numberMatched": {"type": "integer", "minimum": 0},
                    "numberReturned": {"type": "integer", "minimum": 0},
                },
            },
        },
        "responses": {
            "BadRequest": {
                "description": _text(lang, "参数错误（响应中 parameter 指出哪个参数）", "Bad parameter (named in `parameter`)"),
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}},
            },
            "NotFound": {
                "description": _text(lang, "数据集或要素不存在", "No such collection or feature"),
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}},
            },
            "Features": {
                "description": _text(lang, "要素集合（GeoJSON）", "Features (GeoJSON)"),
                "content": {
                    GEOJSON: {"schema": {"$ref": "#/components/schemas/featureCollectionGeoJSON"}},
                    HTML: {"schema": {"type": "string"}},
                },
            },
        },
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": _text(lang, "编辑需登录：用户令牌（hehu user）", "Writes need a user token (hehu user)"),
            }
        },
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _simple_get(summary: str, tag: str, content_type: str = JSON, params: Sequence[str] = ("f", "lang")) -> dict:
    return {
        "get": {
            "summary": summary,
            "tags": [tag],
            "parameters": [_ref(p) for p in params],
            "responses": {
                "200": {"description": summary, "content": {content_type: {}, HTML: {}}},
                "400": _ERRORS["400"],
            },
        }
    }


def _items_get(layer: Layer | None, lang: str, items_parameters: Sequence[str], cql2: bool) -> dict:
    known = [p for p in items_parameters if p not in ("filter", "filter-lang", "filter-crs") or cql2]
    params: list[dict[str, Any]] = []
    if layer is None:
        params.append(_ref("collectionId"))
    params += [_ref("fItems" if p == "f" else p) for p in known]
    if layer is not None:
        params += [_property_parameter(f, lang) for f in layer.fields]
    title = layer.title(lang) if layer else _text(lang, "某数据集", "a collection")
    op = {
        "summary": _text(lang, f"{title}的要素", f"Features of {title}"),
        "description": _text(
            lang,
            "GeoJSON 要素集合，含 numberMatched、numberReturned、timeStamp 与 next/prev 分页链接。",
            "A GeoJSON FeatureCollection with numberMatched, numberReturned, timeStamp and next/prev paging links.",
        ),
        "tags": [layer.id if layer else "collections"],
        "operationId": f"getFeatures_{layer.id}" if layer else "getFeatures",
        "parameters": params,
        "responses": {"200": {"$ref": "#/components/responses/Features"}, **_ERRORS},
    }
    return op


def _write_ops(layer: Layer | None, lang: str) -> tuple[dict, dict]:
    """POST on items; PUT, PATCH, DELETE on one item (editing needs a signed-in editor)."""
    title = layer.title(lang) if layer else _text(lang, "某数据集", "a collection")
    body_schema = (
        {"$ref": f"#/components/schemas/feature_{layer.id}"} if layer else {"type": "object"}
    )
    security = [{"bearer": []}]
    auth_errors = {
        "401": {"description": _text(lang, "未登录", "Not signed in")},
        "403": {"description": _text(lang, "无编辑权限", "No editing rights")},
    }
    path_params = [] if layer else [_ref("collectionId")]
    post = {
        "summary": _text(lang, f"新增{title}要素", f"Add a feature to {title}"),
        "tags": [layer.id if layer else "collections"],
        "security": security,
        "parameters": path_params,
        "requestBody": {"required": True, "content": {GEOJSON: {"schema": body_schema}, JSON: {"schema": body_schema}}},
        "responses": {
            "201": {
                "description": _text(lang, "已新增；Location 指向新要素", "Added; Location names the new feature"),
                "headers": {"Location": {"schema": {"type": "string"}}, "ETag": {"schema": {"type": "string"}}},
            },
            "400": _ERRORS["400"],
            **auth_errors,
            "404": _ERRORS["404"],
        },
    }
    if_match = {
        "name": "If-Match",
        "in": "header",
        "required": True,
        "description": _text(
            lang,
            "读取要素时得到的 ETag；要素已被他人修改时返回 412",
            "The ETag read with the feature; 412 when someone changed it since",
        ),
        "schema": {"type": "string"},
    }
    one = [*path_params, _ref("featureId"), if_match]
    conflict = {
        "412": {"description": _text(lang, "要素已被他人修改", "The feature changed since it was read")},
        "428": {"description": _text(lang, "缺少 If-Match", "If-Match is missing")},
    }
    changed = {
        "200": {"description": _text(lang, "修改后的要素", "The feature as changed"), "content": {GEOJSON: {}}},
        "400": _ERRORS["400"],
        **auth_errors,
        "404": _ERRORS["404"],
        **conflict,
    }
    item_ops = {
        "put": {
            "summary": _text(lang, f"替换{title}中的一个要素", f"Replace a feature of {title}"),
            "tags": [layer.id if layer else "collections"],
            "security": security,
            "parameters": one,
            "requestBody": {"required": True, "content": {GEOJSON: {"schema": body_schema}}},
            "responses": changed,
        },
        "patch": {
            "summary": _text(lang, f"修改{title}中一个要素的部分属性或几何", f"Change some properties or the geometry of a feature of {title}"),
            "tags": [layer.id if layer else "collections"],
            "security": security,
            "parameters": one,
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": {"type": "object"}}, "application/merge-patch+json": {"schema": {"type": "object"}}},
            },
            "responses": changed,
        },
        "delete": {
            "summary": _text(lang, f"删除{title}中的一个要素", f"Delete a feature of {title}"),
            "tags": [layer.id if layer else "collections"],
            "security": security,
            "parameters": one,
            "responses": {"204": {"description": _text(lang, "已删除", "Deleted")}, **{k: v for k, v in changed.items() if k != "200"}},
        },
    }
    return post, item_ops


def _q(name: str, schema: dict[str, Any], description: str = "", required: bool = False) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        param["description"] = description
    return param


def _domain_paths(catalog: Catalog, lang: str) -> dict[str, Any]:
    """The river-chief endpoints beside the OGC API (distances in metres unless ``units``)."""
    layer_ids = catalog.ids
    problem_ids = [layer.id for layer in catalog.problem_layers]
    RIVER = {"name": "river", "in": "path", "required": True, "schema": {"type": "string"},  # noqa: N806
             "description": _text(lang, "河道编码（任一河段）、名称或别名，或湖泊编码、名称",
                                  "A reach code, river name or alias, or a lake code or name")}
    layers_param = {
        "name": "layers",
        "in": "query",
        "required": False,
        "description": _text(
            lang,
            f"图层，逗号分隔（查询默认问题图层：{', '.join(problem_ids)}）",
            f"Layers, comma-separated (queries default to the problem layers {', '.join(problem_ids)})",
        ),
        "style": "form",
        "explode": False,
        "schema": {"type": "array", "items": {"type": "string", "enum": layer_ids}},
    }
    units = _q(
        "units",
        {"type": "string", "enum": ["meters", "kilometers", "feet", "statute miles", "nautical miles"], "default": "meters"},
        _text(lang, "距离单位（默认米）", "Distance unit (default metres)"),
    )
    cql = _q("filter", {"type": "string"}, _text(lang, "CQL2 文本过滤条件", "CQL2 text filter"))
    cql_lang = _q("filter-lang", {"type": "string", "enum": ["cql2-text"]})
    bbox = _q("bbox", {"type": "string"}, _text(lang, "经纬度范围 minlon,minlat,maxlon,maxlat", "minlon,minlat,maxlon,maxlat"))
    limit = _q("limit", {"type": "integer", "minimum": 0}, _text(lang, "最多返回的要素数", "At most this many features"))
    download = _q("download", {"type": "boolean"}, _text(lang, "作为附件下载", "Send as a file download"))
    result = {
        "200": {
            "description": _text(
                lang, "命中的要素（GeoJSON），每个带 layer 与 distance_m", "Matching features (GeoJSON), each with layer and distance_m"
            ),
            "content": {GEOJSON: {"schema": {"$ref": "#/components/schemas/featureCollectionGeoJSON"}}},
        },
        **_ERRORS,
    }
    tag = ["query"]
    where = {
        "name": "where",
        "in": "query",
        "required": False,
        "description": _text(lang, "属性条件 field=value，可重复", "Property condition field=value, may repeat"),
        "schema": {"type": "array", "items": {"type": "string"}},
        "explode": True,
    }
    selection = [
        layers_param,
        _q("town", {"type": "string"}, _text(lang, "只取该镇内的要素", "Only features in this town")),
        bbox,
        where,
        _q("near", {"type": "string"}, _text(lang, "目标:米，如 丹金溧漕河:50", "TARGET:METRES, e.g. 丹金溧漕河:50")),
        _q("problems", {"type": "boolean"}, _text(lang, "只取问题要素", "Only problem features")),
    ]
    return {
        "/query/near": {
            "get": {
                "summary": _text(lang, "某河湖（或几何）一定距离内的要素", "Features within a distance of a river, lake or geometry"),
                "tags": tag,
                "parameters": [
                    _q("target", {"type": "string"}, _text(lang, "河道或湖泊：编码、名称或别名；或 WKT/GeoJSON 几何", "A river or lake (code, name or alias), or a WKT/GeoJSON geometry"), True),
                    _q("distance", {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 50000}, _text(lang, "距离（默认米，EPSG:4549 中量算，含边界；大于 0，至多 50 公里）", "Distance (metres by default, measured in EPSG:4549, inclusive; above 0, at most 50 km)"), True),
                    units,
                    layers_param,
                    _q("all", {"type": "boolean"}, _text(lang, "包括非问题要素", "Include features that are not problems")),
                    cql, cql_lang, bbox, limit, download,
                ],
                "responses": result,
            }
        },
        "/query/within": {
            "get": {
                "summary": _text(lang, "某镇、湖泊、河道或面内的要素", "Features in a town, lake, river or polygon"),
                "tags": tag,
                "parameters": [
                    _q("area", {"type": "string"}, _text(lang, "镇名或编码、湖泊、河道，或 WKT/GeoJSON 面", "A town, lake or river (name or code), or a WKT/GeoJSON polygon"), True),
                    layers_param, cql, cql_lang, bbox, limit, download,
                ],
                "responses": result,
            }
        },
        "/query/intersects": {
            "get": {
                "summary": _text(lang, "与给定几何相交的要素", "Features intersecting a geometry"),
                "tags": tag,
                "parameters": [
                    _q("geometry", {"type": "string"}, _text(lang, "WKT 或 GeoJSON 几何（经纬度）", "WKT or GeoJSON geometry (lon/lat)"), True),
                    layers_param, cql, cql_lang, bbox, limit, download,
                ],
                "responses": result,
            }
        },
        "/query/nearest": {
            "get": {
                "summary": _text(lang, "某图层中离一点最近的 k 个要素", "The k features of a layer nearest to a point"),
                "tags": tag,
                "parameters": [
                    _q("lon", {"type": "number", "minimum": -180, "maximum": 180}, "", True),
                    _q("lat", {"type": "number", "minimum": -90, "maximum": 90}, "", True),
                    _q("layer", {"type": "string", "enum": layer_ids}, "", True),
                    _q("k", {"type": "integer", "minimum": 1, "default": 1}),
                    _q("max_distance", {"type": "number", "minimum": 0}, _text(lang, "最大距离（单位见 units）", "Largest distance (in units)")),
                    units, cql, cql_lang, limit, download,
                ],
                "responses": result,
            }
        },
        "/export": {
            "get": {
                "summary": _text(lang, "导出图层（可筛选）为文件", "Export layers, filtered, as a file"),
                "tags": ["export"],
                "parameters": [
                    _q("format", {"type": "string", "enum": ["geojson", "gpkg", "shp", "kml", "csv", "xlsx"], "default": "geojson"}),
                    _q("crs", {"type": "string"}, _text(lang, "输出坐标系（如 EPSG:4549）", "Output CRS (e.g. EPSG:4549)")),
                    *selection,
                    _q("within", {"type": "string"}, _text(lang, "只取该区域内的要素", "Only features within this area")),
                ],
                "responses": {
                    "200": {"description": _text(lang, "导出文件", "The exported file"), "content": {"application/octet-stream": {}}},
                    **_ERRORS,
                },
            }
        },
        "/print": {
            "get": {
                "summary": _text(lang, "打印地图（PDF/PNG），图例只列出所选图层", "Print a map (PDF/PNG); the legend lists the chosen layers only"),
                "tags": ["print"],
                "parameters": [
                    _q("format", {"type": "string", "enum": ["pdf", "png"], "default": "pdf"}),
                    _q("title", {"type": "string"}),
                    _q("subtitle", {"type": "string"}),
                    _q("paper", {"type": "string", "default": "A3"}),
                    _q("orientation", {"type": "string", "enum": ["landscape", "portrait"], "default": "landscape"}),
                    _q("dpi", {"type": "integer"}),
                    *selection,
                ],
                "responses": {
                    "200": {"description": _text(lang, "地图文件", "The map"), "content": {"application/pdf": {}, "image/png": {}}},
                    **_ERRORS,
                },
            }
        },
        "/targets": {
            "get": {
                "summary": _text(lang, "年度工作目标完成情况（实时）", "Work-plan targets, live"),
                "tags": ["targets"],
                "parameters": [
                    _q("f", {"type": "string", "enum": ["html", "json"], "default": "html"}),
                    _q("plan", {"type": "integer"}, _text(lang, "计划年度，如 2021", "Plan year, e.g. 2021")),
                    _q("as_of", {"type": "string", "format": "date"}, _text(lang, "统计日期", "Counted as of this day")),
                ],
                "responses": {"200": {"description": "targets", "content": {JSON: {}, HTML: {}}}, "400": _ERRORS["400"]},
            }
        },
        "/targets.pdf": {
            "get": {
                "summary": _text(lang, "工作目标完成情况（PDF）", "Work-plan targets (PDF)"),
                "tags": ["targets"],
                "parameters": [_q("plan", {"type": "integer"}), _q("as_of", {"type": "string", "format": "date"})],
                "responses": {"200": {"description": "PDF", "content": {"application/pdf": {}}}, "400": _ERRORS["400"]},
            }
        },
        "/quality": {
            "get": {
                "summary": _text(lang, "水质月报（断面×月份，按GB 3838-2002类别着色）", "Water-quality report matrix (sections × months, GB 3838-2002 classes)"),
                "tags": ["quality"],
                "parameters": [
                    _q("year", {"type": "integer"}, _text(lang, "年度（北京时间）", "Calendar year (Beijing time)")),
                    _q("section", {"type": "string"}, _text(lang, "断面编号或名称", "Section code or name")),
                    _q("lang", {"type": "string", "enum": ["zh", "en"]}),
                ],
                "responses": {"200": {"description": "report", "content": {HTML: {}}}, **_ERRORS},
            }
        },
        "/quality.json": {
            "get": {
                "summary": _text(lang, "水质报告 JSON：年度类别、各月类别、均值、主要污染物", "Water-quality report: annual and monthly classes (1–6, 6 = worse than V), means, main pollutants"),
                "tags": ["quality"],
                "parameters": [_q("year", {"type": "integer"}), _q("section", {"type": "string"})],
                "responses": {"200": {"description": "report", "content": {JSON: {}}}, **_ERRORS},
            }
        },
        "/quality.pdf": {
            "get": {
                "summary": _text(lang, "水质月报（A4 PDF）", "Water-quality report (one A4 PDF page)"),
                "tags": ["quality"],
                "parameters": [_q("year", {"type": "integer"})],
                "responses": {"200": {"description": "PDF", "content": {"application/pdf": {}}}, **_ERRORS},
            }
        },
        "/rivers/{river}": {
            "get": {
                "summary": _text(lang, "一河一档：河段与河湖长、问题、断面、工程、公示牌、巡河", "River dossier page: reaches and chiefs, problems, sections, projects, signboards, patrols"),
                "tags": ["rivers"],
                "parameters": [RIVER, _q("lang", {"type": "string", "enum": ["zh", "en"]}), _q("year", {"type": "integer"}, _text(lang, "巡河覆盖统计年度", "Year of the patrol coverage"))],
                "responses": {"200": {"description": "page", "content": {HTML: {}}}, "404": {"description": _text(lang, "未找到河湖（附相近名称）", "No such river or lake (with suggestions)")}, **_ERRORS},
            }
        },
        "/rivers/{river}.json": {
            "get": {
                "summary": _text(lang, "一河一档 JSON", "River dossier as JSON"),
                "tags": ["rivers"],
                "parameters": [RIVER, _q("lang", {"type": "string", "enum": ["zh", "en"]}), _q("year", {"type": "integer"})],
                "responses": {"200": {"description": "dossier", "content": {JSON: {}}}, **_ERRORS},
            }
        },
        "/rivers/{river}.pdf": {
            "get": {
                "summary": _text(lang, "一河一档（A4 PDF）", "River dossier (A4 PDF)"),
                "tags": ["rivers"],
                "parameters": [RIVER, _q("lang", {"type": "string", "enum": ["zh", "en"]}), _q("year", {"type": "integer"})],
                "responses": {"200": {"description": "PDF", "content": {"application/pdf": {}}}, **_ERRORS},
            }
        },
        "/rivers/{river}/map.png": {
            "get": {
                "summary": _text(lang, "河道及各段河长示意图（PNG）", "Map of the reaches and their chiefs (PNG)"),
                "tags": ["rivers"],
                "parameters": [RIVER, _q("lang", {"type": "string", "enum": ["zh", "en"]}), _q("year", {"type": "integer"})],
                "responses": {"200": {"description": "PNG", "content": {"image/png": {}}}, **_ERRORS},
            }
        },
        "/collections/violations/items/{featureId}/case.pdf": {
            "get": {
                "summary": _text(lang, "清四乱问题交办单（A4 PDF）", "Assignment sheet of one violation (A4 PDF)"),
                "tags": ["rivers"],
                "parameters": [{"name": "featureId", "in": "path", "required": True, "schema": {"type": "integer"}}, _q("lang", {"type": "string", "enum": ["zh", "en"]})],
                "responses": {"200": {"description": "PDF", "content": {"application/pdf": {}}}, **_ERRORS},
            }
        },
        "/signboards.pdf": {
            "get": {
                "summary": _text(lang, "河长公示牌（每块一页，含二维码，标出需更新）", "Signboard sheets, one per board, with QR codes; out-of-date boards flagged"),
                "tags": ["rivers"],
                "parameters": [_q("river", {"type": "string"}), _q("lang", {"type": "string", "enum": ["zh", "en"]})],
                "responses": {"200": {"description": "PDF", "content": {"application/pdf": {}}}, **_ERRORS},
            }
        },
        "/map": {
            "get": {
                "summary": _text(lang, "交互式地图", "The interactive web map"),
                "tags": ["map"],
                "parameters": [_q("lang", {"type": "string", "enum": ["zh", "en"]})],
                "responses": {"200": {"description": "map", "content": {HTML: {}}}},
            }
        },
        "/search": {
            "get": {
                "summary": _text(lang, "搜索河湖、镇、污水厂或问题编号（联想建议）", "Search rivers, lakes, towns, plants or violation codes (suggestions)"),
                "tags": ["map"],
                "parameters": [
                    _q("q", {"type": "string", "maxLength": search.MAX_QUERY_CHARS}, "", True),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": search.MAX_LIMIT, "default": 10}),
                    layers_param,
                    _q("lang", {"type": "string", "enum": ["zh", "en"]}),
                ],
                "responses": {"200": {"description": "matches", "content": {JSON: {}}}, "400": _ERRORS["400"]},
            }
        },
    }


def _edit_extras(lang: str) -> dict[str, Any]:
    """Status lifecycle and edit history of one feature."""
    one = [{"$ref": "#/components/parameters/collectionId"}, {"$ref": "#/components/parameters/featureId"}]
    return {
        "/collections/{collectionId}/items/{featureId}/transition": {
            "get": {
                "summary": _text(lang, "要素当前状态及可转入的状态", "The feature's status and the moves allowed from it"),
                "tags": ["collections"],
                "parameters": one,
                "responses": {"200": {"description": "status", "content": {JSON: {}}}, **_ERRORS},
            },
            "post": {
                "summary": _text(lang, "按流程变更状态（交办、整改、销号……）", "Move the status along its lifecycle"),
                "tags": ["collections"],
                "security": [{"bearer": []}],
                "parameters": [*one, {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object", "required": ["to"]}}}},
                "responses": {"200": {"description": "changed", "content": {GEOJSON: {}}}, **_ERRORS},
            },
        },
        "/collections/{collectionId}/items/{featureId}/history": {
            "get": {
                "summary": _text(lang, "要素的修改历史（谁、何时、改了什么）", "Edit history of the feature: who, when, what"),
                "tags": ["collections"],
                "parameters": one,
                "responses": {"200": {"description": "history", "content": {JSON: {}, HTML: {}}}, **_ERRORS},
            }
        },
        "/import": {
            "post": {
                "summary": _text(lang, "导入文件（GeoJSON、SHP、GPKG、CSV、XLSX）", "Import a file (GeoJSON, SHP, GPKG, CSV, XLSX)"),
                "tags": ["collections"],
                "security": [{"bearer": []}],
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {"type": "object"}}}},
                "responses": {
                    "200": {"description": "imported", "content": {JSON: {}}},
                    "400": _ERRORS["400"],
                    "413": {"description": _text(lang, "文件过大", "File too large")},
                },
            }
        },
        "/patrols/import": {
            "post": {
                "summary": _text(lang, "导入巡河轨迹（GPX、KML/KMZ、CSV、XLSX）", "Import patrol tracks (GPX, KML/KMZ, CSV, XLSX)"),
                "tags": ["patrols"],
                "security": [{"bearer": []}],
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object",
                    "required": ["file", "chief"],
                    "properties": {
                        "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "chief": {"type": "string"},
                        "crs": {"type": "string", "enum": ["wgs84", "gcj02", "bd09"], "default": "wgs84"},
                        "source": {"type": "string"},
                        "dry_run": {"type": "boolean"},
                    },
                }}}},
                "responses": {
                    "200": {"description": _text(lang, "试导入结果", "Dry run"), "content": {JSON: {}}},
                    "201": {"description": _text(lang, "已导入", "Imported"), "content": {JSON: {}}},
                    "400": _ERRORS["400"],
                    "401": {"description": _text(lang, "未登录", "Not signed in")},
                    "403": {"description": _text(lang, "无权限", "Not allowed")},
                },
            }
        },
        "/patrols/coverage": {
            "get": {
                "summary": _text(lang, "河段巡河覆盖（米，EPSG:4549）", "Reach coverage by valid patrols (metres, EPSG:4549)"),
                "tags": ["patrols"],
                "parameters": [
                    _q("from", {"type": "string", "format": "date"}, required=True),
                    _q("to", {"type": "string", "format": "date"}, required=True),
                    _q("river", {"type": "string"}, _text(lang, "河道名称或编码", "River name or code")),
                    _q("buffer", {"type": "number", "minimum": 0, "maximum": 1000, "default": 50},
                       _text(lang, "轨迹两侧米数", "Metres either side of a track")),
                ],
                "responses": {"200": {"description": "coverage", "content": {GEOJSON: {}}}, "400": _ERRORS["400"]},
            }
        },
        "/patrols/duty": {
            "get": {
                "summary": _text(lang, "河湖长巡河履职与巡河率", "Chiefs' patrol duty and patrol rate per level"),
                "tags": ["patrols"],
                "parameters": [
                    _q("from", {"type": "string", "format": "date"}, required=True),
                    _q("to", {"type": "string", "format": "date"}, required=True),
                ],
                "responses": {"200": {"description": "duty", "content": {JSON: {}}}, "400": _ERRORS["400"]},
            }
        },
    }


def _attachment_paths(lang: str) -> dict[str, Any]:
    """Photos and PDFs on a feature (server/attachments.py)."""
    one = [{"$ref": "#/components/parameters/collectionId"}, {"$ref": "#/components/parameters/featureId"}]
    aid = {"name": "attachmentId", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "/collections/{collectionId}/items/{featureId}/attachments": {
            "get": {
                "summary": _text(lang, "要素的附件（照片、文件）列表", "Attachments (photos, files) of the feature"),
                "tags": ["collections"],
                "parameters": [*one, _ref("f"), _ref("lang")],
                "responses": {"200": {"description": "attachments", "content": {JSON: {}}}, **_ERRORS},
            },
            "post": {
                "summary": _text(lang, "上传附件（JPEG/PNG/HEIC/PDF；kind 为 before/after/other）",
                                 "Upload an attachment (JPEG/PNG/HEIC/PDF; kind before/after/other)"),
                "tags": ["collections"],
                "security": [{"bearer": []}],
                "parameters": one,
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "kind": {"type": "string", "enum": ["before", "after", "other"], "default": "other"},
                    },
                }}}},
                "responses": {
                    "201": {"description": _text(lang, "已保存", "Stored"), "content": {JSON: {}}},
                    "400": _ERRORS["400"],
                    "404": {"description": _text(lang, "要素不存在", "No such feature")},
                    "413": {"description": _text(lang, "文件过大", "File too large")},
                    "415": {"description": _text(lang, "文件类型不接受", "File type not accepted")},
                },
            },
        },
        "/collections/{collectionId}/items/{featureId}/attachments/{attachmentId}": {
            "get": {
                "summary": _text(lang, "附件内容（size=thumb 为缩略图，f=json 为记录）",
                                 "The attachment's bytes (size=thumb: thumbnail; f=json: its record)"),
                "tags": ["collections"],
                "parameters": [
                    *one, aid,
                    _q("size", {"type": "string", "enum": ["thumb", "full"]}),
                    _q("f", {"type": "string", "enum": ["json"]}),
                    _ref("lang"),
                ],
                "responses": {"200": {"description": "bytes", "content": {"image/jpeg": {}, "image/png": {}, "application/pdf": {}, JSON: {}}},
                              "304": {"description": "not modified"}, **_ERRORS},
            },
            "delete": {
                "summary": _text(lang, "删除附件（编辑及以上）", "Delete the attachment (editor and up)"),
                "tags": ["collections"],
                "security": [{"bearer": []}],
                "parameters": [*one, aid],
                "responses": {"204": {"description": "deleted"}, **_ERRORS},
            },
        },
    }


def build_openapi(
    catalog: Catalog,
    *,
    server_url: str,
    lang: str = "zh",
    default_limit: int = 100,
    max_limit: int = 10_000,
    items_parameters: Sequence[str] = (),
    cql2: bool = False,
    title: str = "河湖一张图 OGC API – Features",
) -> dict[str, Any]:
    """The OpenAPI 3.0 document of every endpoint, for one server URL."""
    paths: dict[str, Any] = {
        "/": _simple_get(_text(lang, "首页", "Landing page"), "service"),
        "/conformance": _simple_get(_text(lang, "符合性声明", "Conformance classes"), "service"),
        "/api": _simple_get(_text(lang, "本文档（OpenAPI 3.0）", "This document (OpenAPI 3.0)"), "service",
                            "application/vnd.oai.openapi+json;version=3.0"),
        "/collections": _simple_get(_text(lang, "数据集列表", "The collections"), "collections"),
    }
    generic_post, generic_item_ops = _write_ops(None, lang)
    paths["/collections/{collectionId}"] = {
        "get": {**_simple_get(_text(lang, "一个数据集", "One collection"), "collections")["get"],
                "parameters": [_ref("collectionId"), _ref("f"), _ref("lang")],
                "responses": {"200": {"description": "collection", "content": {JSON: {}, HTML: {}}}, **_ERRORS}}
    }
    paths["/collections/{collectionId}/items"] = {
        "get": _items_get(None, lang, items_parameters, cql2),
        "post": generic_post,
    }
    paths["/collections/{collectionId}/items/{featureId}"] = {
        "get": {
            "summary": _text(lang, "一个要素", "One feature"),
            "tags": ["collections"],
            "parameters": [_ref("collectionId"), _ref("featureId"), _ref("f"), _ref("lang"), _ref("properties"), _ref("crs")],
            "responses": {
                "200": {
                    "description": _text(lang, "要素（GeoJSON），ETag 用于编辑时的 If-Match", "The feature (GeoJSON); its ETag goes in If-Match when editing"),
                    "headers": {"ETag": {"schema": {"type": "string"}}},
                    "content": {GEOJSON: {}, HTML: {}},
                },
                **_ERRORS,
            },
        },
        **generic_item_ops,
    }
    paths["/collections/{collectionId}/queryables"] = {
        "get": {
            "summary": _text(lang, "可查询属性（JSON Schema）", "Queryable properties (JSON Schema)"),
            "tags": ["collections"],
            "parameters": [_ref("collectionId"), _ref("f"), _ref("lang")],
            "responses": {"200": {"description": "queryables", "content": {"application/schema+json": {}, HTML: {}}}, **_ERRORS},
        }
    }
    schemas_extra: dict[str, Any] = {}
    tags = [
        {"name": "service", "description": _text(lang, "服务说明", "About the service")},
        {"name": "collections", "description": _text(lang, "数据集与要素", "Collections and features")},
    ]
    for layer in catalog:
        base = f"/collections/{layer.id}"
        post, item_ops = _write_ops(layer, lang)
        paths[base] = {
            "get": {
                "summary": layer.title(lang),
                "tags": [layer.id],
                "parameters": [_ref("f"), _ref("lang")],
                "responses": {"200": {"description": layer.title(lang), "content": {JSON: {}, HTML: {}}}},
            }
        }
        paths[f"{base}/items"] = {"get": _items_get(layer, lang, items_parameters, cql2), "post": post}
        paths[f"{base}/items/{{featureId}}"] = {
            "get": {
                "summary": _text(lang, f"{layer.title_zh}中的一个要素", f"One feature of {layer.title_en}"),
                "tags": [layer.id],
                "parameters": [_ref("featureId"), _ref("f"), _ref("lang"), _ref("properties"), _ref("crs")],
                "responses": {
                    "200": {
                        "description": layer.title(lang),
                        "content": {GEOJSON: {"schema": {"$ref": f"#/components/schemas/feature_{layer.id}"}}, HTML: {}},
                    },
                    **_ERRORS,
                },
            },
            **item_ops,
        }
        paths[f"{base}/queryables"] = {
            "get": {
                "summary": _text(lang, f"{layer.title_zh}的可查询属性", f"Queryables of {layer.title_en}"),
                "tags": [layer.id],
                "parameters": [_ref("f"), _ref("lang")],
                "responses": {"200": {"description": "queryables", "content": {"application/schema+json": {}}}},
            }
        }
        schemas_extra[f"feature_{layer.id}"] = _feature_schema(layer)
        tags.append({"name": layer.id, "description": f"{layer.title_zh} / {layer.title_en}"})
    paths.update(_domain_paths(catalog, lang))
    tags += [{"name": n} for n in ("query", "export", "print", "targets", "quality", "map")]
    paths.update(_edit_extras(lang))
    paths.update(_attachment_paths(lang))
    components = _components(default_limit, max_limit, lang, cql2)
    components["schemas"].update(schemas_extra)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": title,
            "version": "1.0.0",
            "description": _text(
                lang,
                "金坛区河长制河湖资源注册库：OGC API – Features 第 1 部分（核心、GeoJSON、HTML、OpenAPI 3.0）"
                "及距离查询、导出、打印、目标等业务接口。所有距离单位为米。",
                "The Jintan river-chief asset registry: OGC API – Features Part 1 (Core, GeoJSON, HTML, "
                "OpenAPI 3.0) and the domain endpoints for distance queries, export, print and targets. "
                "All distances are in metres.",
            ),
            "license": {"name": "MIT"},
        },
        "servers": [{"url": server_url}],
        "tags": tags,
        "paths": paths,
        "components": components,
    }
