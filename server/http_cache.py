"""HTTP caching and compression shared by the blueprints.

Dynamic bodies (OGC API pages, the map's configuration) over 1 KB go gzipped to clients
that accept it (:func:`gzip_body`). Static files (Leaflet, the map's scripts and
styles) get two more hooks, installed on the app by the map blueprint, since Flask's
static route sends a file as it is with ``Cache-Control: no-cache``: the map's ~250 KB
of JavaScript and CSS crossed the network uncompressed, and every visit paid one
revalidation round trip per file.

* ``url_for("static", filename=...)`` adds ``?v=<version>`` (the file's mtime and size),
  so a page always names the current file; a response to a versioned URL may be kept a
  year (``immutable``), and an edited file gets a new URL.
* Text files (JavaScript, CSS, SVG, JSON) go gzipped to clients that accept it. Each
  file version is compressed once and kept in memory. The ETag turns weak, as the bytes
  are not the file's; a conditional request still gets its ``304`` from Flask, which
  compares ETags weakly.
"""

from __future__ import annotations

import gzip
import os
from typing import Any

from flask import Response, current_app, request
from werkzeug.security import safe_join

#: One year: the longest lifetime caches honour.
VERSIONED_MAX_AGE = 365 * 24 * 3600
#: Media types worth compressing; images and fonts are compressed already.
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")
#: Smaller files are sent as they are (gzip's header would eat the saving).
MIN_BYTES = 1024
#: Larger files are sent as they are rather than held in memory.
MAX_BYTES = 4 * 1024 * 1024


def _static_path(filename: str) -> str | None:
    folder = current_app.static_folder
    return safe_join(folder, filename) if folder else None


def file_version(path: str) -> str | None:
    """A short token that changes whenever the file is replaced or edited, or None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{st.st_mtime_ns // 1_000_000:x}{st.st_size:x}"


def add_version(endpoint: str, values: dict[str, Any]) -> None:
    """``url_defaults`` hook: ``/static/x.js`` -> ``/static/x.js?v=<version>``."""
    if endpoint != "static" or "v" in values or "filename" not in values:
        return
    path = _static_path(values["filename"])
    version = file_version(path) if path else None
    if version:
        values["v"] = version


def _gzipped(path: str, version: str) -> bytes | None:
    cache: dict[tuple[str, str], bytes] = current_app.extensions.setdefault("hehu_static_gzip", {})
    key = (path, version)
    if key not in cache:
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_BYTES + 1)
        except OSError:
            return None
        if len(data) > MAX_BYTES:
            return None
        if len(cache) >= 128:
            cache.clear()
        cache[key] = gzip.compress(data, compresslevel=9, mtime=0)
    return cache[key]


def _accepts_gzip() -> bool:
    return bool(request.accept_encodings["gzip"])


def gzip_body(resp: Response, level: int = 5) -> Response:
    """Gzip a 200 text or JSON body of at least ``MIN_BYTES`` for a client that accepts it.

    ``Vary: Accept-Encoding`` is added whatever the outcome, so that caches keep the two
    forms apart; the ETag is left as it is (the views that set one tag the content).
    """
    if not (resp.mimetype or "").startswith(("application/", "text/")):
        return resp
    resp.vary.add("Accept-Encoding")
    if resp.status_code != 200 or resp.direct_passthrough or "Content-Encoding" in resp.headers:
        return resp
    if not _accepts_gzip():
        return resp
    data = resp.get_data()
    if len(data) < MIN_BYTES:
        return resp
    resp.set_data(gzip.compress(data, compresslevel=level))
    resp.headers["Content-Encoding"] = "gzip"
    return resp


def compress_static(resp: Response) -> Response:
    """``after_app_request`` hook: long cache for versioned URLs, gzip for text files."""
    if request.endpoint != "static":
        return resp
    if request.args.get("v") and resp.status_code in (200, 304):
        resp.headers["Cache-Control"] = f"public, max-age={VERSIONED_MAX_AGE}, immutable"
    if not (resp.mimetype or "").startswith(COMPRESSIBLE):
        return resp
    resp.vary.add("Accept-Encoding")
    if (
        resp.status_code != 200
        or "Content-Encoding" in resp.headers
        or not _accepts_gzip()
        or (resp.content_length or 0) < MIN_BYTES
    ):
        return resp
    path = _static_path((request.view_args or {}).get("filename", ""))
    version = file_version(path) if path else None
    data = _gzipped(path, version) if version else None
    if data is None:
        return resp
    tag, _ = resp.get_etag()
    if hasattr(resp.response, "close"):
        resp.response.close()  # the file Flask opened
    resp.direct_passthrough = False
    resp.set_data(data)
    resp.headers["Content-Encoding"] = "gzip"
    if tag:
        resp.set_etag(tag, weak=True)
    return resp
