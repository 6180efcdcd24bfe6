"""``GET /export``: layers, filtered or queried, as a file download.

    /export?layers=violations&format=geojson&near=丹金溧漕河:50
    /export?layers=violations,micro_water_bodies&format=xlsx&town=儒林镇&where=status:整改中

Parameters mirror ``hehu export``; ``where`` may be repeated. The view only adapts: the
selection and the file come from :mod:`geo.export`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, current_app, request, send_file

from geo.export import (
    ExportError,
    export_filename,
    parse_crs,
    parse_format,
    parse_layers,
    select,
    write_frames,
)
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
    fmt = parse_format(args.get("format") or args.get("f") or "geojson")
    crs = parse_crs(fmt, args.get("crs"))
    layers = parse_layers(reg.catalog, args.get("layers") or "")
    check_export(lyr.id for lyr in layers)
    where = args.getlist("where") or None
    sel = select(
        reg,
        [lyr.id for lyr in layers],
        town=args.get("town") or None,
        bbox=args.get("bbox") or None,
        where=where,
        near=args.get("near") or None,
        within=args.get("within") or None,
        problems=bool_arg("problems"),
    )
    name = export_filename(layers, fmt, sel.tags, crs=crs)
    ascii_name = export_filename(layers, fmt, sel.tags, crs=crs, ascii_only=True)
    suffix = Path(name).suffix
    fd, tmp = tempfile.mkstemp(prefix="hehu-export-", suffix=suffix)
    os.close(fd)
    os.unlink(tmp)
    try:
        result = write_frames(sel.frames, fmt, tmp, crs, catalog=reg.catalog, description=sel.describe(),
                              registry=reg, base_url=(current_app.config.get("PUBLIC_BASE_URL") or request.url_root).rstrip("/"))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    mimetype = result.media_type
    if fmt == "csv" and len(layers) > 1:
        mimetype = "application/zip"
    return send_temporary(
        result.path, mimetype, name, ascii_name,
        {
            "X-Hehu-Count": str(result.total),
            "X-Hehu-Empty": "true" if result.empty else "false",
            # Percent-encoded: header values are Latin-1. The server's temporary path is not shown.
            "X-Hehu-Message": quote(result.message.replace(str(result.path), name), safe=" /:;,()[]=+-_."),
        },
    )
