"""The GPX writer: points as waypoints, lines and outlines as tracks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geo.export.columns import Column, _display
from geo.features import json_value as _plain
from layers import Layer


def _gpx_desc(layer: Layer, cols: list[Column], row: list[Any]) -> str:
    shown = set(layer.popup) or {c.name for c in cols}
    return "；".join(
        f"{c.title_zh}：{_display(c, v)}"
        for c, v in zip(cols, row, strict=True)
        if (c.name in shown or c.name == "distance_m") and _plain(v) is not None
    )


def _write_gpx(items, path: Path, crs: str) -> None:
    """GPX 1.1 for phones in the field: points as waypoints, lines (and polygon
    outlines) as tracks, one segment per part, named by the catalog label with the
    popup fields as the description. A patrol's fix times (``started_at`` plus
    ``fix_seconds``) become the track points' ``time``, so the file is the track as it
    was walked.

    GPX puts waypoints before tracks, so every layer's points are written first.
    """
    from html import escape

    from geo.patrols.importing import fix_instants

    def pts(coords: np.ndarray, times: list[str] | None) -> str:
        if times is not None and len(times) == len(coords):
            return "".join(
                f'<trkpt lat="{y:.9f}" lon="{x:.9f}"><time>{escape(t)}</time></trkpt>'
                for (x, y), t in zip(coords[:, :2], times, strict=True)
            )
        return "".join(f'<trkpt lat="{y:.9f}" lon="{x:.9f}"/>' for x, y in coords[:, :2])

    wpts: list[str] = []
    trks: list[str] = []
    for layer, data, geoms, cols in items:
        label_col = layer.label_field if layer.label_field in data.columns else layer.id_field
        labels = data[label_col].tolist()
        rows = data.to_numpy(dtype=object).tolist()
        # A patrol's fix times: started_at plus each fix's seconds after it.
        if "fix_seconds" in data.columns and "started_at" in data.columns:
            times_col = [
                fix_instants(str(t0), str(secs)) if _plain(t0) is not None and _plain(secs) is not None else None
                for t0, secs in zip(data["started_at"], data["fix_seconds"], strict=True)
            ]
        else:
            times_col = [None] * len(data)
        for label, row, geom, times in zip(labels, rows, geoms, times_col, strict=True):
            if geom is None or geom.is_empty:
                continue
            name = escape("" if _plain(label) is None else str(label), quote=False)
            desc = escape(_gpx_desc(layer, cols, row), quote=False)
            head = f"<name>{name}</name><desc>{desc}</desc>"
            kind = shapely.get_type_id(geom)
            if kind in (0, 4):  # points
                for x, y in shapely.get_coordinates(geom):
                    wpts.append(f'<wpt lat="{y:.9f}" lon="{x:.9f}">{head}<type>{escape(layer.title_zh)}</type></wpt>\n')
                continue
            lines = shapely.get_parts(shapely.boundary(geom) if kind in (3, 6) else geom)
            lines = shapely.get_parts(lines)  # a polygon's boundary may be multi
            stamps = times
            segs, at = [], 0
            for part in lines:
                c = shapely.get_coordinates(part)
                segs.append(f"<trkseg>{pts(c, stamps[at:at + len(c)] if stamps else None)}</trkseg>")
                at += len(c)
            trks.append(f"<trk>{head}<type>{escape(layer.title_zh)}</type>{''.join(segs)}</trk>\n")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="hehu 河湖一张图" '
                 'xmlns="http://www.topografix.com/GPX/1/1"><metadata><name>河湖一张图导出</name></metadata>\n')
        fh.write("".join(wpts))
        fh.write("".join(trks))
        fh.write("</gpx>\n")
