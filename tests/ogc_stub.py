"""Temporary stand-ins for the OGC API items routes, for map tests only.

Installed on an app only when the real ``server.ogcapi`` does not serve
``/collections/<id>/items`` yet; then it serves the same standard shape (GeoJSON
FeatureCollection with ``numberMatched``/``numberReturned``, ``bbox`` and ``limit``).
"""

from __future__ import annotations

import json

import shapely
from flask import Blueprint, Flask, Response, request

from geo.features import json_value

bp = Blueprint("map_test_ogc", __name__)


def _has_items_route(app: Flask) -> bool:
    return any(str(rule).endswith("/items") and "collections" in str(rule) for rule in app.url_map.iter_rules())


def install(app: Flask) -> bool:
    """Register the stand-in routes when the app has no items endpoint; True if it did."""
    if _has_items_route(app):
        return False
    app.register_blueprint(bp)
    return True


def _feature(fid, props, geom) -> dict:
    return {"type": "Feature", "id": int(fid), "properties": props, "geometry": shapely.geometry.mapping(geom)}


@bp.get("/collections/<layer_id>/items")
def items(layer_id: str):
    reg = app_registry()
    bbox = request.args.get("bbox")
    box = tuple(float(v) for v in bbox.split(",")) if bbox else None
    limit = int(request.args.get("limit", 100))
    gdf = reg.read(layer_id, bbox=box)
    matched = len(gdf)
    gdf = gdf.iloc[:limit]
    feats = []
    for fid, row in gdf.iterrows():
        props = {k: json_value(v) for k, v in row.drop("geometry").items()}
        feats.append(_feature(fid, props, row.geometry))
    body = {"type": "FeatureCollection", "features": feats, "numberMatched": matched, "numberReturned": len(feats)}
    return Response(json.dumps(body, ensure_ascii=False, default=str), mimetype="application/geo+json")


@bp.get("/collections/<layer_id>/items/<int:fid>")
def item(layer_id: str, fid: int):
    f = app_registry().get(layer_id, fid)
    body = _feature(fid, f["properties"], f["geometry"])
    return Response(json.dumps(body, ensure_ascii=False, default=str), mimetype="application/geo+json")


def app_registry():
    from server.context import registry

    return registry()


# -- /query/near and /query/within (the contract of server/query.py) ------------------------

qbp = Blueprint("map_test_query", __name__)


def install_query(app: Flask) -> bool:
    """Register stand-in /query routes when the app has none yet; True if it did."""
    if any(str(rule) == "/query/near" for rule in app.url_map.iter_rules()):
        return False
    app.register_blueprint(qbp)
    return True


def _collection(gdf, extra: dict) -> Response:
    feats = []
    for _, row in gdf.iterrows():
        props = {k: json_value(v) for k, v in row.drop("geometry").items()}
        feats.append({"type": "Feature", "id": f"{props['layer']}.{props['fid']}", "properties": props,
                      "geometry": shapely.geometry.mapping(row.geometry)})
    a = gdf.attrs
    body = {
        "type": "FeatureCollection", "features": feats, "numberMatched": len(feats),
        "query": {"target": {"type": "Feature", "properties": {"label": a["target_label"]},
                             "geometry": shapely.geometry.mapping(a["target"])},
                  "buffer": shapely.geometry.mapping(a["buffer"]), "distance_m": a["distance_m"],
                  "layers": a["layers"], **extra},
    }
    return Response(json.dumps(body, ensure_ascii=False, default=str), mimetype="application/geo+json")


@qbp.get("/query/near")
def near():
    d = request.args.get("distance", "")
    try:
        dist = float(d)
    except ValueError:
        from geo.errors import QueryError

        raise QueryError(f"parameter distance: {d!r} is not a number of metres", parameter="distance") from None
    gdf = app_registry().near(request.args.get("target", ""), dist, layers=request.args.get("layers") or None)
    return _collection(gdf, {})


@qbp.get("/query/within")
def within():
    gdf = app_registry().within(request.args.get("area", ""), layers=request.args.get("layers") or None)
    return _collection(gdf, {})
