"""What an export asks for, parsed from what a person typed: formats, layers, bounding
box, ``near``, ``where`` and CRS, and the error and result types of an export.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo.crs import STORAGE_CRS, CRSError, normalize_crs
from geo.errors import HehuError
from layers import Catalog, Layer

#: Format id -> (file suffix, media type).
FORMATS: dict[str, tuple[str, str]] = {
    "geojson": (".geojson", "application/geo+json"),
    "gpkg": (".gpkg", "application/geopackage+sqlite3"),
    "shp": (".zip", "application/zip"),
    "kml": (".kml", "application/vnd.google-earth.kml+xml"),
    "csv": (".csv", "text/csv; charset=utf-8"),
    "xlsx": (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "gpx": (".gpx", "application/gpx+xml"),
    "kmz": (".kmz", "application/vnd.google-earth.kmz"),
}
FORMAT_ALIASES = {"json": "geojson", "shapefile": "shp", "zip": "shp", "excel": "xlsx", "geopackage": "gpkg"}

#: Formats whose specification fixes longitude/latitude: only lon/lat CRSs (WGS84 or the
#: GCJ-02/BD-09 offsets of it) may be asked for.
LONLAT_ONLY = ("geojson", "kml", "gpx", "kmz")

#: Columns a query adds to the catalog fields, with their titles.
EXTRA_COLUMNS: dict[str, tuple[str, str, str]] = {
    "distance_m": ("float", "距离(米)", "Distance (m)"),
}

#: The dBASE limit on field names in a Shapefile.
DBF_NAME_LIMIT = 10

#: Largest query distance accepted, in metres (the district is about 40 km across).
MAX_DISTANCE_M = 50_000


class ExportError(HehuError):
    """An export asked for something that cannot be written (format, CRS, path...)."""

    code = "bad-export"


@dataclass
class ExportResult:
    """What an export wrote: the file, features per layer, and a message for the person."""

    path: Path
    format: str
    counts: dict[str, int]
    empty: bool
    message: str
    crs: str = STORAGE_CRS
    media_type: str = ""
    notes: list[str] = field(default_factory=list)
    description: str = ""  # the selection in words (Chinese), set by export_request
    filename: str = ""  # the name a download is offered under (export_filename)
    ascii_filename: str = ""
    attachments: Path | None = None  # the zip of the features' files, when asked for
    attachment_count: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


# -- parsing what a person typed ----------------------------------------------------------


def parse_format(fmt: str | None) -> str:
    """Canonical format id, or ExportError listing the formats."""
    key = str(fmt or "").strip().lower().lstrip(".")
    key = FORMAT_ALIASES.get(key, key)
    if key not in FORMATS:
        raise ExportError(
            key="export.unknown_format", params={"fmt": repr(fmt), "formats": ", ".join(FORMATS)}, parameter="format"
        )
    return key


def parse_layers(catalog: Catalog, layers: str | Sequence[str] | None) -> list[Layer]:
    """Catalog layers named by a comma-separated string or a list (at least one)."""
    if isinstance(layers, str):
        ids = [s.strip() for s in layers.split(",") if s.strip()]
    else:
        ids = [str(s).strip() for s in (layers or []) if str(s).strip()]
    if not ids:
        raise ExportError(key="export.no_layers", params={"layers": ", ".join(catalog.ids)}, parameter="layers")
    out: list[Layer] = []
    for layer_id in dict.fromkeys(ids):
        if layer_id not in catalog:
            close = difflib.get_close_matches(layer_id, catalog.ids, n=3)
            hint = {"close": ", ".join(close)} if close else {}
            raise ExportError(
                key="export.unknown_layer_close" if close else "export.unknown_layer",
                params={"layer": repr(layer_id), "layers": ", ".join(catalog.ids), **hint},
                parameter="layers",
                value=layer_id,
            )
        out.append(catalog[layer_id])
    return out


def parse_bbox(bbox: str | Sequence[float] | None) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` (a string or four numbers), checked."""
    if bbox is None or bbox == "":
        return None
    parts = bbox.split(",") if isinstance(bbox, str) else list(bbox)
    try:
        values = [float(v) for v in parts]
    except (TypeError, ValueError):
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ExportError(
            key="export.bbox_numbers", params={"bbox": repr(bbox)}, parameter="bbox"
        )
    minx, miny, maxx, maxy = values
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise ExportError(
            key="export.bbox_order", params={"bbox": repr(bbox)},
            parameter="bbox",
        )
    return (minx, miny, maxx, maxy)


def parse_near(near: str | tuple[Any, float] | None) -> tuple[str, float] | None:
    """``(target, distance_m)`` from ``"丹金溧漕河:50"`` (``50m`` also accepted) or a tuple."""
    if near is None or near == "":
        return None
    if isinstance(near, str):
        target, sep, dist = near.rpartition(":")
        if not sep:
            raise ExportError(
                key="export.near_format", params={"near": repr(near)}, parameter="near"
            )
    else:
        target, dist = near
    text = str(dist).strip().lower().removesuffix("m").strip()
    try:
        distance = float(text)
    except ValueError:
        raise ExportError(key="export.near_not_number", params={"dist": repr(dist)}, parameter="near") from None
    if not math.isfinite(distance) or distance < 0 or distance > MAX_DISTANCE_M:
        raise ExportError(
            key="export.near_range", params={"max": MAX_DISTANCE_M, "dist": repr(dist)}, parameter="near"
        )
    target = str(target).strip()
    if not target:
        raise ExportError(key="export.near_no_target", parameter="near")
    return target, distance


def parse_where(
    where: str | Sequence[str] | Mapping[str, Any] | None, layers: Sequence[Layer]
) -> dict[str, list[Any]]:
    """``field -> accepted values`` from ``status=整改中`` / ``status:整改中`` strings or a dict.

    The same field given twice means either value; different fields must all match.
    Each field must belong to one of the layers, and enum values must be known.
    """
    if not where:
        return {}
    pairs: list[tuple[str, Any]] = []
    if isinstance(where, Mapping):
        for k, v in where.items():
            vals = v if isinstance(v, (list, tuple, set)) else [v]
            pairs += [(str(k), x) for x in vals]
    else:
        items = [where] if isinstance(where, str) else list(where)
        for item in items:
            m = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*[=:]\s*(.*?)\s*$", str(item))
            if not m:
                raise ExportError(
                    key="export.where_format", params={"item": repr(item)}, parameter="where"
                )
            pairs.append((m.group(1), m.group(2)))
    out: dict[str, list[Any]] = {}
    for name, value in pairs:
        fields = [lyr.field(name) for lyr in layers if lyr.has_field(name)]
        if not fields:
            known = sorted({f for lyr in layers for f in lyr.field_names})
            raise ExportError(
                key="export.where_no_field",
                params={"layers": ", ".join(lyr.id for lyr in layers), "name": repr(name), "fields": ", ".join(known)},
                parameter="where",
                value=name,
            )
        f = fields[0]
        if f.enum is not None and str(value) not in f.enum:
            raise ExportError(
                key="export.where_enum", params={"name": name, "value": repr(value), "values": ", ".join(f.enum)},
                parameter="where",
                value=str(value),
            )
        if f.type == "bool":
            value = str(value).strip().lower() in ("1", "true", "yes", "是", "y", "t")
        out.setdefault(name, []).append(value)
    return out


def parse_crs(fmt: str, crs: str | int | None) -> str:
    """Canonical output CRS, refusing a projected CRS for lon/lat-only formats."""
    try:
        name = normalize_crs(crs) if crs not in (None, "") else STORAGE_CRS
    except CRSError as exc:
        raise ExportError(str(exc), parameter="crs") from None
    if fmt in LONLAT_ONLY and name not in (STORAGE_CRS, "EPSG:4490", "gcj02", "bd09"):
        raise ExportError(
            key="export.lonlat_only", params={"fmt": fmt, "crs": crs, "name": name},
            parameter="crs",
        )
    return name
