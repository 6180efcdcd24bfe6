"""What every response and request goes through: headers, logs, hosts, body size, and
the bound on concurrent heavy work.

* **Headers.** ``X-Content-Type-Options: nosniff``, a Content-Security-Policy the map and
  every page satisfy (scripts only from this site, no inline script; see
  docs/security.md for why inline *styles* stay allowed), frame protection
  (``frame-ancestors 'self'`` and ``X-Frame-Options: SAMEORIGIN``) and
  ``Referrer-Policy: same-origin``.
* **Logs.** ``ACCESS_LOG`` names a file that gets one line per request (address, user,
  method, path, status, bytes, milliseconds); a query parameter that could carry a
  secret is masked, and the ``Authorization`` header is never written. ``SECURITY_LOG``
  names a file for the ``hehu.security`` logger: sign-ins, sign-outs, refusals and user
  or permission changes, which an office keeps.
* **Hosts.** With ``TRUSTED_HOSTS`` (Flask's own setting) a request for another host
  is a 400 before any link is built from its ``Host`` header.
* **Body size.** A request announcing a body larger than ``MAX_CONTENT_LENGTH`` is
  refused with 413 before anything reads it; ``hehu serve`` also tells waitress the
  limit (:func:`waitress_options`), so the server does not buffer it first.
* **Heavy work.** Printing, PDF summaries, file exports and spatial queries each have a
  limit of concurrent requests (``HEAVY_LIMITS``); past it the answer is 429 with
  ``Retry-After`` at once, so the worker threads stay free for cheap reads.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from geo.errors import HehuError

access_log = logging.getLogger("hehu.access")
security_log = logging.getLogger("hehu.security")

#: Concurrent requests per kind of heavy work, unless ``HEAVY_LIMITS`` says otherwise.
#: A print or a PDF keeps a thread busy for seconds; 8 threads is waitress's default.
DEFAULT_HEAVY_LIMITS = {"print": 2, "pdf": 2, "export": 2, "query": 4}
#: Endpoints and the kind of heavy work they do (items count only as file downloads).
HEAVY_ENDPOINTS = {
    "printing.print_view": "print",
    "targets.targets_pdf": "pdf",
    "rivers.river_pdf": "pdf",
    "rivers.case_pdf": "pdf",
    "rivers.signboards_pdf": "pdf",
    "rivers.river_map": "print",
    "export.export_view": "export",
    "query.near": "query",
    "query.within": "query",
    "query.intersects": "query",
    "query.nearest": "query",
}
#: Query parameters whose values are never written to the access log.
SECRET_PARAMETERS = {"token", "access_token", "key", "tk", "api_key", "apikey", "password", "csrf_token"}


class Busy(HehuError):
    status = 429
    code = "busy"


def _heavy_kind() -> str | None:
    kind = HEAVY_ENDPOINTS.get(request.endpoint or "")
    if kind is None and request.endpoint == "ogcapi.items":
        from server.ogcapi_downloads import FILE_FORMATS

        if (request.args.get("f") or "").strip().lower() in FILE_FORMATS:
            kind = "export"
    return kind


class HeavyLimiter:
    """One counting semaphore per kind of heavy work, taken without waiting."""

    def __init__(self, limits: dict[str, int]):
        self.limits = {**DEFAULT_HEAVY_LIMITS, **{str(k): int(v) for k, v in (limits or {}).items()}}
        self.slots = {kind: threading.BoundedSemaphore(n) for kind, n in self.limits.items() if n > 0}

    def try_enter(self, kind: str) -> bool:
        slot = self.slots.get(kind)
        return True if slot is None else slot.acquire(blocking=False)

    def leave(self, kind: str) -> None:
        slot = self.slots.get(kind)
        if slot is not None:
            slot.release()


def waitress_options(app: Flask) -> dict[str, Any]:
    """Options for waitress that follow the app's settings (used by ``hehu serve``).

    waitress reads a whole body before the app sees the request; its own limit makes
    it answer 413 as soon as the headers announce more (a little is added for the
    multipart framing of an upload at the limit).
    """
    limit = app.config.get("MAX_CONTENT_LENGTH")
    return {"max_request_body_size": int(limit) + 64 * 1024} if limit else {}


def _csp(app: Flask) -> str:
    """The Content-Security-Policy: this site, plus the configured basemaps' tiles."""
    tiles = set()
    for base in (app.config.get("BASEMAPS") or {}).values():
        parts = urlsplit(str(base.get("url", "")))
        if parts.scheme in ("http", "https") and parts.netloc:
            labels = parts.netloc.split(".")
            if "{" in labels[0]:
                labels[0] = "*"  # a subdomain template: t{s}.tianditu.gov.cn
            tiles.add(f"{parts.scheme}://{'.'.join(labels)}")
    img = " ".join(["'self'", "data:", "blob:", *sorted(tiles)])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src {img}; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
    )


def _masked_path() -> str:
    if not request.query_string:
        return request.path
    parts = []
    for name, value in request.args.items(multi=True):
        shown = "***" if name.lower() in SECRET_PARAMETERS else value
        parts.append(f"{name}={shown}")
    return request.path + "?" + "&".join(parts)[:1000]


def _file_handler(path: str) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    return handler


def log_to_file(logger: logging.Logger, path: str | None) -> None:
    """Send ``logger`` to the file ``path`` (once per file, whatever the number of apps)."""
    if not path:
        return
    from pathlib import Path

    target = str(Path(path).resolve())
    for h in logger.handlers:
        if isinstance(h, logging.FileHandler) and h.baseFilename == target:
            return
    logger.addHandler(_file_handler(target))
    logger.setLevel(logging.INFO)


def init_app(app: Flask) -> None:
    """Install the headers, logs, host and size checks and the heavy-work limiter."""
    cfg = app.config
    cfg.setdefault("HEAVY_LIMITS", {})
    cfg.setdefault("HEAVY_RETRY_AFTER_S", 5)
    limiter = HeavyLimiter(cfg["HEAVY_LIMITS"])
    app.extensions["hehu_heavy"] = limiter
    csp = cfg.get("CONTENT_SECURITY_POLICY") or _csp(app)
    log_to_file(access_log, cfg.get("ACCESS_LOG"))
    log_to_file(security_log, cfg.get("SECURITY_LOG"))

    @app.before_request
    def _guard():
        g.hehu_started = time.perf_counter()
        if cfg.get("TRUSTED_HOSTS"):
            request.host  # noqa: B018 - raises SecurityError (400) for an untrusted Host
        limit = cfg.get("MAX_CONTENT_LENGTH")
        if limit and request.content_length and request.content_length > limit:
            raise RequestEntityTooLarge()
        kind = _heavy_kind()
        if kind is not None:
            if not limiter.try_enter(kind):
                retry = int(cfg["HEAVY_RETRY_AFTER_S"])
                security_log.info("busy: refused %s %s from %s (%s full)", request.method, request.path,
                                  request.remote_addr, kind)
                raise Busy(key="hardening.busy", params={"kind": kind, "limit": limiter.limits[kind], "retry": retry},
                           kind=kind, retry_after=retry)
            g.hehu_heavy = kind
        return None

    @app.teardown_request
    def _release(exc):
        kind = g.pop("hehu_heavy", None)
        if kind is not None:
            limiter.leave(kind)

    @app.errorhandler(Busy)
    def _busy(exc: Busy):
        from server.context import lang

        resp = jsonify(exc.to_dict(lang()))
        resp.status_code = 429
        resp.headers["Retry-After"] = str(exc.details.get("retry_after", 5))
        return resp

    @app.after_request
    def _headers(resp):
        h = resp.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Content-Security-Policy", csp)
        h.setdefault("X-Frame-Options", "SAMEORIGIN")
        h.setdefault("Referrer-Policy", "same-origin")
        if access_log.isEnabledFor(logging.INFO):
            started = g.get("hehu_started")
            ms = (time.perf_counter() - started) * 1000 if started else 0.0
            user = g.get("hehu_user")
            access_log.info(
                '%s %s "%s %s" %s %s %.0fms', request.remote_addr or "-", getattr(user, "name", "-") or "-",
                request.method, _masked_path(), resp.status_code, resp.calculate_content_length() or "-", ms,
            )
        return resp
