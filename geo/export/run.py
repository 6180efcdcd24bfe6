"""Writing selected frames (:func:`write_frames`) and the one export entry point.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd

from geo.export import media
from geo.export.columns import _prepared
from geo.export.files import atomic_path, check_out_path, export_filename
from geo.export.geojson import _write_geojson
from geo.export.gpkg import _write_gpkg
from geo.export.gpx import _write_gpx
from geo.export.kml import _write_kml, write_kmz
from geo.export.media import write_attachments_zip
from geo.export.options import (
    FORMATS,
    ExportError,
    ExportResult,
    parse_crs,
    parse_format,
    parse_layers,
)
from geo.export.selection import frames_from_result, select
from geo.export.shapefile import _write_shp
from geo.export.tables import _write_csv, _write_xlsx
from layers import Catalog, load_catalog

_WRITERS = {
    "geojson": _write_geojson,
    "gpkg": _write_gpkg,
    "shp": _write_shp,
    "kml": _write_kml,
    "csv": _write_csv,
    "xlsx": _write_xlsx,
    "gpx": _write_gpx,
    "kmz": write_kmz,
}



def write_frames(
    frames: Mapping[str, gpd.GeoDataFrame] | gpd.GeoDataFrame,
    fmt: str,
    out_path: str | Path,
    crs: str | int | None = None,
    *,
    catalog: Catalog | None = None,
    description: str = "",
    registry: Any = None,
    base_url: str | None = None,
) -> ExportResult:
    """Write already-selected features (lon/lat frames keyed by layer id) to ``out_path``.

    A query result (one frame with a ``layer`` column) is split by layer first. Catalog
    fields are written in catalog order, plus ``distance_m`` when present. The file
    appears at ``out_path`` complete or not at all.
    """
    catalog = catalog or load_catalog()
    fmt = parse_format(fmt)
    crs_name = parse_crs(fmt, crs)
    if isinstance(frames, gpd.GeoDataFrame):
        frames = frames_from_result(frames)
    out = check_out_path(out_path)
    if fmt == "csv" and len(frames) > 1 and out.suffix.lower() == ".csv":
        raise ExportError(
            key="export.csv_needs_zip",
            parameter="out",
        )
    items = []
    for layer_id, gdf in frames.items():
        layer = catalog[layer_id] if layer_id in catalog else None
        if layer is None:
            raise ExportError(key="export.unknown_layer_id", params={"layer": repr(layer_id)}, parameter="layers")
        data, geoms, cols = _prepared(layer, gdf, crs_name)
        items.append((layer, data, geoms, cols))
    # With a registry, exports carry its attachments (KMZ photos, ledger thumbnails,
    # GeoJSON links when a base URL is known): geo/export/media.py.
    with atomic_path(out) as tmp, media.source(registry, base_url):
        notes = _WRITERS[fmt](items, tmp, crs_name) or []
        notes += media.after_write(fmt, items, tmp)
    counts = {layer.id: len(data) for layer, data, _g, _c in items}
    total = sum(counts.values())
    what = f" ({description})" if description else ""
    if total == 0:
        message = (
            f"导出结果为空 / the export is empty: no features match{what}; "
            f"wrote a valid empty {fmt} file {out}"
        )
    else:
        per = ", ".join(f"{k} {v}" for k, v in counts.items())
        message = f"wrote {total} features ({per}){what} to {out} [{fmt}, {crs_name}]"
    message += "".join(f"; note: {n}" for n in notes)
    return ExportResult(out, fmt, counts, total == 0, message, crs_name, FORMATS[fmt][1], notes)


@dataclass
class ExportRequest:
    """One export as a person asks for it (``GET /export``, ``hehu export``), before parsing.

    Where the file goes, one of three: ``out`` (a named file); no ``out`` (a file named
    from the selection by :func:`export_filename`, in ``folder`` or the working folder);
    ``temporary`` (a fresh temporary file with that name's suffix, for a download: the
    caller removes it). ``with_attachments`` adds a zip of the features' files beside it.
    """

    layers: str | Sequence[str]
    format: str
    out: str | Path | None = None
    town: str | None = None
    bbox: str | Sequence[float] | None = None
    where: str | Sequence[str] | Mapping[str, Any] | None = None
    near: str | tuple[Any, float] | None = None
    within: str | None = None
    crs: str | int | None = None
    problems: bool | None = None
    folder: str | Path | None = None
    temporary: bool = False
    with_attachments: bool = False
    base_url: str | None = None  # exports over HTTP link GeoJSON features to their files

    def filters(self) -> dict[str, Any]:
        """The keyword arguments of :func:`select` this request gives."""
        return dict(town=self.town, bbox=self.bbox, where=self.where, near=self.near, within=self.within,
                    problems=self.problems)


def export_request(registry, request: ExportRequest, check_layers: Callable[[list[str]], None] | None = None) -> ExportResult:
    """The one export entry point: parse, select, name, write (and zip the attachments).

    ``check_layers`` sees the parsed layer ids before anything is read (the server's
    export rights). The result carries the selection's description and the file names
    (Chinese and ASCII) a download is offered under.
    """
    fmt = parse_format(request.format)
    crs = parse_crs(fmt, request.crs)
    layers = parse_layers(registry.catalog, request.layers)
    if check_layers is not None:
        check_layers([lyr.id for lyr in layers])
    sel = select(registry, request.layers, **request.filters())
    name = export_filename(layers, fmt, sel.tags, crs=crs)
    ascii_name = export_filename(layers, fmt, sel.tags, crs=crs, ascii_only=True)
    description = sel.describe("zh")
    out = _target(request, name)
    try:
        result = write_frames(sel.frames, fmt, out, crs, catalog=registry.catalog, description=description,
                              registry=registry, base_url=request.base_url)
    except BaseException:
        if request.temporary:
            Path(out).unlink(missing_ok=True)
        raise
    result.description, result.filename, result.ascii_filename = description, name, ascii_name
    if request.with_attachments:
        result.attachments = result.path.with_name(result.path.name.split(".")[0] + "_附件.zip")
        result.attachment_count = write_attachments_zip(registry, sel.frames, result.attachments)
    return result


def _target(request: ExportRequest, name: str) -> Path:
    """Where :func:`export_request` writes: the named file, a temporary one, or ``name``."""
    if request.temporary:
        fd, tmp = tempfile.mkstemp(prefix="hehu-export-", suffix=Path(name).suffix)
        os.close(fd)
        os.unlink(tmp)  # the writer creates it (GDAL refuses an empty file)
        return Path(tmp)
    if request.out is not None:
        return Path(request.out)
    return Path(request.folder) / name if request.folder is not None else Path(name)


def export(
    registry,
    layers: str | Sequence[str],
    fmt: str,
    out_path: str | Path,
    *,
    town: str | None = None,
    bbox: str | Sequence[float] | None = None,
    where: str | Sequence[str] | Mapping[str, Any] | None = None,
    near: str | tuple[Any, float] | None = None,
    within: str | None = None,
    crs: str | int | None = None,
    problems: bool | None = None,
) -> ExportResult:
    """Select features of ``layers`` (see :func:`select`) and write them as ``fmt``.

    Raises :class:`ExportError` (HTTP 400) for an unknown layer, format, field, value,
    town or CRS, and :class:`geo.errors.QueryError` for a query that cannot be answered.
    """
    return export_request(registry, ExportRequest(
        layers, fmt, out_path, town=town, bbox=bbox, where=where, near=near, within=within, crs=crs,
        problems=problems,
    ))
