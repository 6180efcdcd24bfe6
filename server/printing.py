"""``GET /print``: a printable map (PDF, or PNG) of chosen layers, a view, a town or a
query result. The web map's "print this view" button calls it with the visible layers,
the view's bbox and ``base=false`` (the district outline and towns are drawn only when
visible, like every other layer):

    /print?layers=towns,rivers,violations&bbox=119.4,31.6,119.6,31.8&base=false&paper=A4&orientation=landscape&title=…
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from flask import Blueprint, request

from geo.carto import BASE_LAYERS, parse_format, render_map
from geo.export import parse_layers, safe_filename
from server.context import registry
from server.export import bool_arg, send_temporary
from server.rights import check_export

bp = Blueprint("printing", __name__)


@bp.get("/print")
def print_view():
    """Draw the map and send it as a download."""
    args = request.args
    reg = registry()
    fmt = parse_format(Path("map.pdf"), args.get("format") or args.get("f") or "pdf")
    raw_layers = (args.get("layers") or "").strip()
    layers = parse_layers(reg.catalog, raw_layers) if raw_layers else []
    # A printed map hands its features over as surely as a file does: EXPORT_ROLES apply
    # to every layer it draws, the base layers included (docs/security.md).
    base = bool_arg("base") is not False or not layers
    check_export([lyr.id for lyr in layers] + (list(BASE_LAYERS) if base else []))
    title = (args.get("title") or "").strip() or reg.metadata.get("title") or "河湖一张图"
    fd, tmp = tempfile.mkstemp(prefix="hehu-print-", suffix="." + fmt)
    os.close(fd)
    os.unlink(tmp)
    try:
        result = render_map(
            reg,
            [lyr.id for lyr in layers],
            tmp,
            title=title[:200],
            subtitle=(args.get("subtitle") or "")[:300] or None,
            paper=args.get("paper") or "A3",
            orientation=args.get("orientation") or "landscape",
            fmt=fmt,
            dpi=args.get("dpi") or None,
            town=args.get("town") or None,
            bbox=args.get("bbox") or None,
            near=args.get("near") or None,
            where=args.getlist("where") or None,
            problems=bool_arg("problems"),
            base=base,
        )
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    name = safe_filename(f"{title}_{result.paper}.{fmt}")
    ascii_name = safe_filename("-".join(["map", *(lyr.id for lyr in layers[:3])]) + f"_{dt.date.today():%Y%m%d}_{result.paper}.{fmt}")
    return send_temporary(
        result.path, "application/pdf" if fmt == "pdf" else "image/png", name, ascii_name,
        {"X-Hehu-Pages": str(result.pages), "X-Hehu-Scale": f"1:{result.scale}",
         "X-Hehu-Extent": ",".join(f"{v:.6f}" for v in result.extent_lonlat or ())},
    )
