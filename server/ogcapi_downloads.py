"""A collection's items as files (``/collections/{id}/items?f=gpkg``...): the formats,
their ``enclosure`` links and the download response. The features come from
:func:`geo.items.read_items`; the file from :mod:`geo.export`."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Response

from geo.items import Page
from layers import Layer
from server.context import registry

#: Field formats a collection's items download as (``?f=``), written by geo.export.
FILE_FORMATS = ("gpkg", "shp", "kml", "csv", "xlsx")
FILE_FORMAT_TITLES = {"gpkg": "GeoPackage", "shp": "Shapefile (zip)", "kml": "KML", "csv": "CSV", "xlsx": "Excel"}


def download_links(title: str, href: Callable[[str], str]) -> list[dict[str, Any]]:
    """``enclosure`` links, one per format; ``href(fmt)`` is the request's URL in it."""
    from geo.export import FORMATS

    return [
        {
            "rel": "enclosure",
            "type": FORMATS[fmt][1],
            "title": f"{title} ({FILE_FORMAT_TITLES[fmt]})",
            "href": href(fmt),
        }
        for fmt in FILE_FORMATS
    ]


def send_download(layer: Layer, fmt: str, found: Page) -> Response:
    """The features of ``found`` as a file (GeoPackage, Shapefile zip, KML, CSV, Excel ledger)."""
    from geo.export import export_filename, write_frames
    from server.export import send_temporary

    page = found.frame
    if found.properties is not None:
        page = page[[*found.properties, page.geometry.name]]
    tags = [("筛选", "filtered")] if len(page) < registry().count(layer.id) else []
    name = export_filename([layer], fmt, tags)
    ascii_name = export_filename([layer], fmt, tags, ascii_only=True)
    fd, tmp = tempfile.mkstemp(prefix="hehu-items-", suffix=Path(name).suffix)
    os.close(fd)
    os.unlink(tmp)
    try:
        written = write_frames({layer.id: page}, fmt, tmp, catalog=registry().catalog)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return send_temporary(
        written.path, written.media_type, name, ascii_name, {"X-Hehu-Count": str(written.total)}
    )
