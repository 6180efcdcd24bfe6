"""The hehu web application: OGC API – Features, the map, and domain endpoints.

``create_app(config)`` builds a Flask app around one registry. Nothing is built at
import time; every interface is one blueprint in its own module, and views delegate
spatial work to :mod:`geo`.
"""

from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from geo.errors import HehuError
from layers import CatalogError

log = logging.getLogger("hehu.server")

#: One blueprint per interface, each a module of this package exposing ``bp``.
BLUEPRINTS = [
    "server.ogcapi",
    "server.edit",
    "server.map",
    "server.query",
    "server.export",
    "server.printing",
    "server.targets",
    "server.auth",
]

DEFAULTS: dict[str, Any] = {
    "REGISTRY": "data/jintan.gpkg",
    # Uploads (imports) larger than this are refused with 413.
    "MAX_CONTENT_LENGTH": 50 * 1024 * 1024,
    # Reads are open on a LAN deployment; set true to make every read need sign-in.
    "READ_REQUIRES_LOGIN": False,
    "SECRET_KEY": None,
    "LANG": "zh",
    # Basemaps offered by the map besides "none". Keys and URLs come from configuration.
    "BASEMAPS": {
        "osm": {
            "title_zh": "OpenStreetMap",
            "title_en": "OpenStreetMap",
            "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "attribution": "© OpenStreetMap contributors",
            "crs": "wgs84",
        },
        "tianditu": {
            "title_zh": "天地图",
            "title_en": "Tianditu",
            "url": "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
            "subdomains": "01234567",
            "key": "",
            "attribution": "© 天地图",
            "crs": "wgs84",
        },
        "amap": {
            "title_zh": "高德地图",
            "title_en": "Amap",
            "url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
            "subdomains": "1234",
            "attribution": "© 高德地图 (GCJ-02)",
            "crs": "gcj02",
        },
    },
}


def load_config(path: str | Path | None) -> dict[str, Any]:
    """Settings from a YAML or JSON file (keys as in :data:`DEFAULTS`), or an empty dict."""
    if not path:
        return {}
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith(".json"):
        return json.loads(text)
    import yaml

    return yaml.safe_load(text) or {}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app for the registry named by ``config["REGISTRY"]``."""
    from geo.registry import Registry

    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    if not app.config.get("SECRET_KEY"):
        import secrets

        app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    registry = app.config.get("REGISTRY_OBJECT") or Registry.open(app.config["REGISTRY"])
    app.extensions["hehu_registry"] = registry
    for name in BLUEPRINTS:
        module = importlib.import_module(name)
        app.register_blueprint(module.bp)
    _register_error_handlers(app)
    return app


def _register_error_handlers(app: Flask) -> None:
    def error_response(status: int, code: str, description: str, **extra: Any):
        body = {"code": code, "description": description, **extra}
        resp = jsonify(body)
        resp.status_code = status
        return resp

    @app.errorhandler(HehuError)
    def hehu_error(exc: HehuError):
        return error_response(exc.status, exc.code, exc.message, **{
            k: v for k, v in exc.details.items() if k not in ("code", "description")
        })

    @app.errorhandler(CatalogError)
    def catalog_error(exc: CatalogError):
        return error_response(404, "unknown-layer", str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return error_response(exc.code or 500, exc.name.lower().replace(" ", "-"), exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        # Logged with its traceback for the operator; the client sees no internals.
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal-error", "internal server error; the operator's log has details")
