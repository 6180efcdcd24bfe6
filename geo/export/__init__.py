"""Field exports: layers, filtered or queried, written as GeoJSON, GeoPackage, Shapefile,
KML/KMZ, CSV, an Excel ledger (台账) or GPX.

For example (on the demo registry)::

    from geo.export import export
    export(reg, "violations", "geojson", "out.geojson",
               where="status=整改中", near="丹金溧漕河:50")
    # → ExportResult(path=PosixPath('out.geojson'), counts={'violations': 12}, ...)

Selecting (:func:`select`) and writing (:func:`write_frames`) are separate, so that the
result of a spatial query (``registry.near`` / ``registry.within``) can be written
directly, and so that printed maps (:mod:`geo.carto`) select features exactly as exports
do. :func:`export_request` is the one entry point of ``GET /export`` and ``hehu export``.

Every writer writes into a temporary file beside the target and moves it into place
with :func:`os.replace` once complete: a failure part-way leaves nothing at the target
path. The formats and their choices are described in ``docs/exports.md``.

The package by concern: ``options`` (what a person typed), ``selection``, ``columns``
(frames ready to write), one module per writer family (``geojson``, ``gpkg``,
``shapefile``, ``kml`` with KMZ, ``tables`` for CSV/XLSX, ``gpx``), ``media``
(attachments in exports), ``files`` (paths and names) and ``run`` (writing, the entry
point). Every name importable from ``geo.export`` before the split still is.
"""

from __future__ import annotations

from geo.errors import QueryError
from geo.export.columns import (
    FORMULA_START,
    Column,
    _as_dates,
    _columns,
    _display,
    _prepared,
    looks_like_formula,
    spreadsheet_frame,
    spreadsheet_text,
    style_values,
)
from geo.export.files import _ascii, atomic_path, check_out_path, export_filename, safe_filename
from geo.export.geojson import _write_geojson
from geo.export.gpkg import _write_gpkg
from geo.export.gpx import _write_gpx
from geo.export.kml import _kml_color, _write_kml, write_kmz
from geo.export.media import write_attachments_zip
from geo.export.options import (
    DBF_NAME_LIMIT,
    EXTRA_COLUMNS,
    FORMAT_ALIASES,
    FORMATS,
    LONLAT_ONLY,
    MAX_DISTANCE_M,
    ExportError,
    ExportResult,
    parse_bbox,
    parse_crs,
    parse_format,
    parse_layers,
    parse_near,
    parse_where,
)
from geo.export.run import _WRITERS, ExportRequest, export, export_request, write_frames
from geo.export.selection import Selection, find_town, frames_from_result, select
from geo.export.shapefile import DBF_TEXT_BYTES, shapefile_field_names
from geo.export.tables import EASTING_NORTHING_HEADS, _sheet_title, _write_csv, _write_xlsx

__all__ = [
    "DBF_NAME_LIMIT",
    "DBF_TEXT_BYTES",
    "EASTING_NORTHING_HEADS",
    "EXTRA_COLUMNS",
    "FORMATS",
    "FORMAT_ALIASES",
    "FORMULA_START",
    "LONLAT_ONLY",
    "MAX_DISTANCE_M",
    "Column",
    "ExportError",
    "ExportRequest",
    "ExportResult",
    "QueryError",
    "Selection",
    "atomic_path",
    "check_out_path",
    "export",
    "export_filename",
    "export_request",
    "find_town",
    "frames_from_result",
    "looks_like_formula",
    "parse_bbox",
    "parse_crs",
    "parse_format",
    "parse_layers",
    "parse_near",
    "parse_where",
    "safe_filename",
    "select",
    "shapefile_field_names",
    "spreadsheet_frame",
    "spreadsheet_text",
    "style_values",
    "write_attachments_zip",
    "write_frames",
    "write_kmz",
]

# Private names kept importable for the tests and callers that reached them before the split.
_PRIVATE = (_WRITERS, _as_dates, _ascii, _columns, _display, _kml_color, _prepared, _sheet_title,
            _write_csv, _write_geojson, _write_gpkg, _write_gpx, _write_kml, _write_xlsx)
