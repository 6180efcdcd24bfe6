"""HTTP caching and compression shared by the blueprints.

Conditional requests (:func:`conditional`): a view gets an ``ETag`` and a
``Last-Modified`` computed from the registry's change state before any feature is
read, and answers ``304`` to a matching ``If-None-Match`` or, without one, to an
``If-Modified-Since`` no earlier than the last change; responses say
``Cache-Control: no-cache`` (keep, but ask each time).

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
import hashlib
import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import wraps
from typing import Any

from flask import Response, current_app, g, request
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


# -- conditional requests: ETag, Last-Modified, 304 --------------------------------------

#: What a conditional response varies on besides the URL.
VARY = "Accept, Accept-Language, Accept-Encoding"


def etag_matches(tag: str) -> bool:
    """Whether the request's ``If-None-Match`` names ``tag`` (weakly) or ``*``."""
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


def not_modified(tag: str, weak: bool = False, modified: datetime | None = None) -> Response:
    """A ``304`` carrying the validators a cache keeps."""
    resp = Response(status=304)
    resp.set_etag(tag, weak=weak)
    if modified is not None:
        resp.last_modified = modified
    resp.headers["Vary"] = VARY
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def http_last_modified(modified: datetime | None) -> datetime | None:
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


def unmodified_since(modified: datetime | None) -> bool:
    """``If-Modified-Since`` is no earlier than the last change (and no ``If-None-Match``)."""
    if modified is None or "If-None-Match" in request.headers:
        return False
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=timezone.utc)
    since = request.if_modified_since
    return since is not None and since >= modified


def conditional(
    state: Callable[[str | None], tuple[str, datetime | None]],
    code_state: Callable[[], tuple[str, datetime]],
    layer_arg: str | None = None,
) -> Callable:
    """Give a view an ``ETag``/``Last-Modified`` and answer ``304`` when unchanged.

    ``state(layer_id)`` gives the data's token and last change (of the view's layer,
    named by the view argument ``layer_arg``), ``code_state()`` a token and time for the
    code and templates that write the response, so that an upgrade is never answered
    ``304``. The tag hashes both, the URL and the headers the response varies on: it is
    computed before any feature is read, and a ``304`` costs two small queries. The
    data token is left in ``g.hehu_state`` for the view's own caches.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            token, modified = state(kwargs.get(layer_arg) if layer_arg else None)
            g.hehu_state = token
            code, code_modified = code_state()
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
            last_modified = http_last_modified(modified)
            if etag_matches(tag):
                return not_modified(tag, weak=True, modified=last_modified)
            resp = view(*args, **kwargs)
            if resp.status_code == 200:
                if not resp.get_etag()[0]:
                    # Weak: the same state may be written with another timeStamp.
                    resp.set_etag(tag, weak=True)
                elif etag_matches(resp.get_etag()[0]):
                    return not_modified(*resp.get_etag(), modified=last_modified)
                if unmodified_since(modified):
                    return not_modified(*resp.get_etag(), modified=last_modified)
                if last_modified is not None:
                    resp.last_modified = last_modified
                resp.headers["Cache-Control"] = "no-cache"
            return resp

        return wrapper

    return decorate
