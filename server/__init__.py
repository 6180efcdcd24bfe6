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
from geo.i18n import message
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
    "server.patrols",
    "server.quality",
    "server.rivers",
    "server.auth",
    "server.attachments",
]

DEFAULTS: dict[str, Any] = {
    "REGISTRY": "data/jintan.gpkg",
    # Uploads (imports) larger than this are refused with 413.
    "MAX_CONTENT_LENGTH": 50 * 1024 * 1024,
    # Reads are open on a LAN deployment; set true to make every read need sign-in.
    "READ_REQUIRES_LOGIN": False,
    "SECRET_KEY": None,
    "LANG": "zh",
    # Public address of this server, as printed in signboard QR codes (/rivers/{code});
    # unset: the address the request came in on.
    "PUBLIC_BASE_URL": None,
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


#: Settings read by the blueprints, besides :data:`DEFAULTS` and Flask's own.
OTHER_SETTINGS = {
    "REGISTRY_OBJECT",  # an open Registry instead of a path (tests, embedding)
    "EXPORT_ROLES",  # layer id -> lowest role that may download it (server/rights.py)
    "SECURE_COOKIES",  # session cookie only over https
    "LOGIN_MAX_FAILURES",  # failed sign-ins per address before 429
    "LOGIN_WINDOW_S",  # ... within this many seconds
    "OGCAPI_SNAPSHOT_MIN_FEATURES",  # layers this big are also paged from memory; 0 = never
    "OGCAPI_SNAPSHOT_MAX_FEATURES",  # ... and no bigger (bigger layers: the store's R-tree)
    "MAP_MAX_FEATURES",  # features per layer and map view
    "MAP_LABEL_LAYERS",  # layers labelled on the map
    "MAP_CLUSTER_THRESHOLD",  # point layers this big are clustered on the map
    "BEHIND_PROXY",  # trust X-Forwarded-For/-Proto/-Host/-Prefix from one proxy
    "SESSION_LIFETIME_H",  # hours a browser session lasts
    "ACCESS_LOG",  # file for one line per request (no tokens), server/security.py
    "SECURITY_LOG",  # file for sign-ins, refusals and permission changes
    "HEAVY_LIMITS",  # kind (print, pdf, export, query) -> concurrent requests; 429 past it
    "HEAVY_RETRY_AFTER_S",  # Retry-After of that 429
    "CONTENT_SECURITY_POLICY",  # replaces the computed policy (server/security.py)
    "ATTACHMENT_MAX_BYTES",  # largest attachment (photo, PDF) accepted; default 20 MB
    "CLOSE_REQUIRES_PHOTO",  # closing a violation (已销号) needs an "after" photo; default true
}


class SettingsError(HehuError):
    """A settings file that cannot be read, or a setting hehu does not know."""

    code = "bad-settings"


def load_config(path: str | Path | None) -> dict[str, Any]:
    """Settings from a YAML or JSON file (keys as in :data:`DEFAULTS`), or an empty dict.

    A missing or malformed file, or an unknown key (a typo that would silently leave,
    say, ``READ_REQUIRES_LOGIN`` off), is a :class:`SettingsError`.
    """
    if not path:
        return {}
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(key="settings.no_file", params={"path": str(path)}) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(key="settings.unreadable", params={"path": str(path), "reason": str(exc)}) from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text) if text.strip() else {}
        else:
            import yaml

            data = yaml.safe_load(text) or {}
    except Exception as exc:  # noqa: BLE001 - yaml and json raise their own kinds
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise SettingsError(key="settings.not_valid", params={"path": str(path), "format": kind, "reason": first}) from None
    if not isinstance(data, dict):
        raise SettingsError(key="settings.not_mapping", params={"path": str(path), "kind": type(data).__name__})
    known = set(DEFAULTS) | OTHER_SETTINGS | set(Flask.default_config)
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        import difflib

        close = {k: m[0] for k in unknown if (m := difflib.get_close_matches(k, known, n=1))}
        names = {
            lang: ", ".join(message("settings.did_you_mean", lang, name=k, close=close[k]) if k in close else k
                            for k in unknown)
            for lang in ("zh", "en")
        }
        raise SettingsError(
            key="settings.unknown", params={"path": str(path), "names_zh": names["zh"], "names_en": names["en"]}
        )
    return data


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
    from server import security

    security.init_app(app)  # first: host and size checks run before any other hook
    for name in BLUEPRINTS:
        module = importlib.import_module(name)
        app.register_blueprint(module.bp)
    _register_error_handlers(app)
    if app.config.get("BEHIND_PROXY"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # One reverse proxy in front: links and secure cookies follow its scheme and host.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)
    return app


def _register_error_handlers(app: Flask) -> None:
    def error_response(status: int, code: str, description: str, **extra: Any):
        body = {"code": code, "description": description, **extra}
        resp = jsonify(body)
        resp.status_code = status
        return resp

    @app.errorhandler(HehuError)
    def hehu_error(exc: HehuError):
        from server.context import lang

        # Rendered in the request's language (Chinese unless it asks for English).
        resp = error_response(exc.status, exc.code, exc.render(lang()), **{
            k: v for k, v in exc.details.items() if k not in ("code", "description")
        })
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            # The database is restarting or every pooled connection is busy: say when
            # to come back rather than leave the client hanging.
            resp.headers["Retry-After"] = str(retry_after)
        return resp

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
