"""``GET /export``: layers, filtered or queried, as a file download.

    /export?layers=violations&format=geojson&near=丹金溧漕河:50
    /export?layers=violations,micro_water_bodies&format=xlsx&town=儒林镇&where=status:整改中

Parameters mirror ``hehu export``; ``where`` may be repeated. The view only adapts: the
selection and the file come from :mod:`geo.export`.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, current_app, request, send_file

from geo.export import ExportError, ExportRequest, export_request
from geo.values import parse_bool
from server.context import registry
from server.rights import SETTING, check_export, check_setting

bp = Blueprint("export", __name__)


@bp.record_once
def _setup(state) -> None:
    """Check ``EXPORT_ROLES`` when the app is built: a typo must not leave a layer open."""
    cfg = state.app.config
    cfg[SETTING] = check_setting(cfg.get(SETTING), state.app.extensions["hehu_registry"].catalog.ids)


def content_disposition(filename: str, ascii_fallback: str | None = None) -> str:
    """An RFC 6266 ``attachment`` header value for any file name, Chinese included.

    Old clients read the ASCII ``filename=``; current ones prefer the RFC 5987
    ``filename*=UTF-8''…`` form, which carries the real name.

    >>> content_disposition("河道.geojson", "rivers.geojson")
    'attachment; filename="rivers.geojson"; filename*=UTF-8\\'\\'%E6%B2%B3%E9%81%93.geojson'
    """
    fallback = ascii_fallback or filename.encode("ascii", "ignore").decode()
    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '\\"' else "_" for ch in fallback)
    stem, dot, suffix = fallback.rpartition(".") if "." in fallback else (fallback, "", "")
    if not stem.strip("._ "):  # nothing left of the name but its suffix
        fallback = "download" + dot + suffix
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def bool_arg(name: str) -> bool | None:
    """A boolean query parameter (absent: None); anything else than yes/no is a 400."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    flag = parse_bool(raw)
    if flag is None:
        raise ExportError(key="server.flag_not_bool", params={"name": name, "value": repr(raw)}, parameter=name)
    return flag


def send_temporary(path: Path, mimetype: str, filename: str, ascii_name: str, headers: dict[str, str] | None = None):
    """Send a file written for this response and remove it at once (POSIX keeps it readable)."""
    fh = open(path, "rb")  # noqa: SIM115 - closed by the response
    try:
        os.unlink(path)
    except OSError:  # pragma: no cover - Windows: left to the temp folder's cleanup
        pass
    resp = send_file(fh, mimetype=mimetype, as_attachment=False, max_age=0)
    resp.headers["Content-Disposition"] = content_disposition(filename, ascii_name)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


@bp.get("/export")
def export_view():
    """Export the chosen layers, filtered, as a file download."""
    args = request.args
    reg = registry()
    req = ExportRequest(
        layers=args.get("layers") or "",
        format=args.get("format") or args.get("f") or "geojson",
        crs=args.get("crs"),
        town=args.get("town") or None,
        bbox=args.get("bbox") or None,
        where=args.getlist("where") or None,
        near=args.get("near") or None,
        within=args.get("within") or None,
        temporary=True,
        base_url=(current_app.config.get("PUBLIC_BASE_URL") or request.url_root).rstrip("/"),
    )

    def admit(layer_ids: list[str]) -> None:
        # Rights first, then the flag: the order the errors have always come in.
        check_export(layer_ids)
        req.problems = bool_arg("problems")

    result = export_request(reg, req, check_layers=admit)
    name = result.filename
    mimetype = result.media_type
    if result.format == "csv" and len(result.counts) > 1:
        mimetype = "application/zip"
    return send_temporary(
        result.path, mimetype, name, result.ascii_filename,
        {
            "X-Hehu-Count": str(result.total),
            "X-Hehu-Empty": "true" if result.empty else "false",
            # Percent-encoded: header values are Latin-1. The server's temporary path is not shown.
            "X-Hehu-Message": quote(result.message.replace(str(result.path), name), safe=" /:;,()[]=+-_."),
        },
    )
