"""``/query``: the spatial questions of :mod:`geo.query` over HTTP, as GeoJSON.

- ``GET /query/near?target=丹金溧漕河&distance=50[&units=meters|kilometers|feet][&layers=a,b][&all=true]``
- ``GET /query/within?area=儒林镇[&layers=a,b][&all=true]``
- ``GET /query/nearest?lon=119.56&lat=31.72&layer=sewage_plants[&k=3][&max_distance=5000]``
- ``GET /query/intersects?geometry=<WKT or GeoJSON>[&layers=a,b]``

Every endpoint also takes ``filter`` (CQL2 text), ``bbox`` (minlon,minlat,maxlon,maxlat),
``limit`` and ``download=1`` (an attachment named after the question; with
``format=kml`` a KML file, with ``crs=gcj02`` coordinates for Amap-based phone apps). Answers are
GeoJSON FeatureCollections (``application/geo+json``) whose ``query`` member holds the
target and its buffer so that a map can draw them. Bad parameters are 400 JSON errors,
and so are parameters an endpoint does not take (``unit=kilometers`` for ``units``,
which would otherwise read 5 km as 5 m) or one given twice.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from flask import Blueprint, Response, request

from geo import query
from geo.errors import QueryError
from geo.values import parse_bool
from server.context import check_parameter_names, registry
from server.rights import check_export

bp = Blueprint("query", __name__, url_prefix="/query")

#: The parameters each endpoint takes; any other (``unit=km`` for ``units``) is a 400
#: rather than silently ignored, and none may be given twice.
_COMMON = ("filter", "filter-lang", "bbox", "limit", "download", "format", "crs", "lang", "f")
#: Download formats of a query answer: what phones and GIS tools open.
DOWNLOAD_FORMATS = ("geojson", "kml")
PARAMETERS = {
    "near": ("target", "distance", "units", "layers", "all", *_COMMON),
    "within": ("area", "layers", "all", *_COMMON),
    "intersects": ("geometry", "layers", *_COMMON),
    "nearest": ("lon", "lat", "layer", "k", "max_distance", "units", *_COMMON),
}


@bp.before_request
def _check_parameters() -> None:
    known = PARAMETERS.get((request.endpoint or "").rsplit(".", 1)[-1])
    if known is None:
        return
    check_parameter_names(known)
    f = request.args.get("f")
    if f is not None and f.strip().lower() not in ("json", "geojson"):
        raise QueryError(key="server.query_format", params={"value": repr(f)}, parameter="f")


def _required(name: str) -> str:
    value = request.args.get(name)
    if value is None or not value.strip():
        raise QueryError(key="query.param_required", params={"name": name}, parameter=name)
    return value


def _flag(name: str) -> bool:
    value = request.args.get(name)
    if value is None or not value.strip():
        return False
    flag = parse_bool(value)
    if flag is None:
        raise QueryError(key="server.query_flag_not_bool", params={"name": name, "value": repr(value)}, parameter=name)
    return flag


def _limit() -> int | None:
    value = request.args.get("limit")
    if value is None:
        return None
    try:
        limit = int(value)
    except ValueError:
        limit = -1
    if limit < 0:
        raise QueryError(key="server.query_limit", params={"value": repr(value)}, parameter="limit")
    return limit


def _filters() -> dict:
    lang = request.args.get("filter-lang")
    if lang not in (None, "cql2-text", "cql-text"):  # cql-text: the drafts' name, what GDAL sends
        raise QueryError(key="server.query_filter_lang", params={"value": repr(lang)}, parameter="filter-lang")
    return {"where": request.args.get("filter") or None, "bbox": request.args.get("bbox") or None}


def _download_options() -> tuple[str, str | None]:
    """``(format, crs)`` of a download: geojson or kml, lon/lat in WGS84 or GCJ-02."""
    fmt = (request.args.get("format") or "geojson").strip().lower()
    if fmt not in DOWNLOAD_FORMATS:
        raise QueryError(
            key="server.query_download_format",
            params={"formats": " or ".join(DOWNLOAD_FORMATS), "formats_zh": " 或 ".join(DOWNLOAD_FORMATS), "value": repr(fmt)},
            parameter="format",
        )
    crs = (request.args.get("crs") or "").strip().lower() or None
    if crs not in (None, "gcj02", "wgs84", "epsg:4326"):
        raise QueryError(key="server.query_download_crs", params={"value": repr(crs)}, parameter="crs")
    return fmt, ("gcj02" if crs == "gcj02" else None)


def _send_file(gdf, kind: str, fmt: str, crs: str | None) -> Response:
    """The answer written as a file (KML, or GeoJSON in GCJ-02) by the export writers."""
    import os
    import tempfile
    from pathlib import Path

    from geo.export import write_frames
    from server.export import send_temporary

    name = query.result_filename(gdf, kind, fmt)
    if crs == "gcj02":
        name = name.replace(f".{fmt}", f"-gcj02.{fmt}")
    fd, tmp = tempfile.mkstemp(prefix="hehu-query-", suffix=f".{fmt}")
    os.close(fd)
    os.unlink(tmp)
    try:
        result = write_frames(gdf, fmt, tmp, crs, catalog=registry().catalog)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return send_temporary(result.path, result.media_type, name, f"hehu-{kind}.{fmt}")


def _respond(gdf, kind: str) -> Response:
    if _flag("download"):  # a download is an export: per-layer export rights apply
        check_export(gdf.attrs.get("layers") or gdf.get("layer", []))
        fmt, crs = _download_options()
        if fmt != "geojson" or crs is not None:
            return _send_file(gdf, kind, fmt, crs)
    body = query.result_to_geojson(registry(), gdf, limit=_limit())
    resp = Response(json.dumps(body, ensure_ascii=False), mimetype="application/geo+json")
    if _flag("download"):
        name = query.result_filename(gdf, kind)
        ascii_name = f"hehu-{kind}.geojson"
        resp.headers["Content-Disposition"] = (
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
        )
    return resp


@bp.get("/near")
def near():
    """Features within a distance (metres by default) of a river, lake or geometry."""
    gdf = query.near(
        registry(),
        _required("target"),
        _required("distance"),
        request.args.get("layers") or None,
        all_features=_flag("all"),
        units=request.args.get("units") or "meters",
        **_filters(),
    )
    return _respond(gdf, "near")


@bp.get("/within")
def within():
    """Features in a town, lake, river or polygon."""
    gdf = query.within(
        registry(), _required("area"), request.args.get("layers") or None, all_features=_flag("all"), **_filters()
    )
    return _respond(gdf, "within")


@bp.get("/intersects")
def intersects():
    """Features intersecting a WKT or GeoJSON geometry."""
    gdf = query.intersects(registry(), _required("geometry"), request.args.get("layers") or None, **_filters())
    return _respond(gdf, "intersects")


@bp.get("/nearest")
def nearest():
    """The k features of one layer nearest to a point."""
    lon, lat = _required("lon"), _required("lat")
    try:
        point = (float(lon), float(lat))
    except ValueError:
        raise QueryError(key="server.query_lonlat", params={"lon": repr(lon), "lat": repr(lat)}, parameter="lon") from None
    gdf = query.nearest(
        registry(),
        point,
        _required("layer"),
        k=request.args.get("k", "1"),
        max_distance_m=request.args.get("max_distance") or None,
        units=request.args.get("units") or "meters",
        **_filters(),
    )
    return _respond(gdf, "nearest")
