"""Bring features in from the files people actually have.

Reads GeoJSON, GeoPackage, Shapefile (a ``.zip``, a folder or the ``.shp``), KML/KMZ,
and CSV/XLSX tables with coordinate columns; works out the coordinate reference system
and the text encoding; maps the file's columns onto the catalog fields; checks every
row the way the registry does; and writes all of it in one transaction, or nothing.

The result is an :class:`ImportReport` that names every problem by row (or feature)
number, field and value. Problems with the file as a whole (unreadable, unsafe zip,
projected numbers with no CRS) raise :class:`ImportFileError` instead.

For example (on the demo registry)::

    from geo.importer import import_file, ImportOptions
    report = import_file(reg, "巡河问题.csv", "violations",
                             ImportOptions(crs="gcj02"), user="wang")
    print(report.text())

Notes for readers who know GIS:

- GeoJSON without a ``crs`` member, CSV and XLSX say nothing about their CRS. Their
  numbers are read as WGS84 lon/lat unless ``crs`` says otherwise, and refused, with a
  hint, when they cannot be degrees.
- ``crs`` given explicitly wins over what the file says: files traced on Amap are often
  labelled WGS84 but hold GCJ-02 coordinates. The report notes the override.
- EPSG:4490 (CGCS2000) is treated through pyproj like any EPSG code; over Jintan it is
  within centimetres of WGS84.
"""

from geo.importer.columns import map_columns, parse_mapping
from geo.importer.readers import dbf_encoding, read_source
from geo.importer.report import ImportFileError, ImportOptions, ImportReport, Problem
from geo.importer.run import import_file
from geo.importer.zips import (
    MAX_UNZIPPED_BYTES,
    MAX_ZIP_MEMBERS,
    MAX_ZIP_RATIO,
    check_zip,
    safe_extract,
)

__all__ = [
    "MAX_UNZIPPED_BYTES",
    "MAX_ZIP_MEMBERS",
    "MAX_ZIP_RATIO",
    "ImportFileError",
    "ImportOptions",
    "ImportReport",
    "Problem",
    "check_zip",
    "dbf_encoding",
    "import_file",
    "map_columns",
    "parse_mapping",
    "read_source",
    "safe_extract",
]
