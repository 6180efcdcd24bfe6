"""The GeoPackage geometry blob: the binary header (magic, flags, SRS id, envelope)
followed by WKB, encoded and decoded here, and the ``ST_*`` SQL functions that the
R-tree triggers of the GeoPackage spatial index extension call on it.

See OGC 12-128r18 section 2.1.3 (GeoPackageBinary). Points are written without an
envelope, as GDAL does; the envelope flag is the bits 1-3 of the flags byte.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

#: The SRS id hehu's layers use: EPSG:4326 lon/lat.
SRS_ID = 4326

# Envelope sizes in bytes by the envelope-contents indicator of the GeoPackage
# geometry header (0: none, 1: xy, 2: xyz, 3: xym, 4: xyzm).
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


# -- GeoPackage geometry blobs ----------------------------------------------------


def encode_geometry(geom: BaseGeometry | None, srs_id: int = SRS_ID) -> bytes | None:
    """GeoPackage binary: 'GP' header, envelope (except for points, as GDAL does), WKB."""
    if geom is None:
        return None
    if geom.is_empty:
        flags = 0b00010001  # little endian, empty, no envelope
        return b"GP\x00" + bytes([flags]) + struct.pack("<i", srs_id) + shapely.to_wkb(geom)
    if geom.geom_type == "Point":
        flags = 0b00000001
        return b"GP\x00" + bytes([flags]) + struct.pack("<i", srs_id) + shapely.to_wkb(geom)
    minx, miny, maxx, maxy = geom.bounds
    flags = 0b00000011  # little endian, xy envelope
    return (
        b"GP\x00"
        + bytes([flags])
        + struct.pack("<i", srs_id)
        + struct.pack("<4d", minx, maxx, miny, maxy)
        + shapely.to_wkb(geom)
    )


def _header_length(blob: bytes) -> int:
    return 8 + _ENVELOPE_BYTES.get((blob[3] >> 1) & 0b111, 0)


def decode_geometries(blobs: Sequence[bytes | None]) -> np.ndarray:
    """Decode many GeoPackage blobs at once into a shapely array."""
    wkb = [None if b is None else b[_header_length(b):] for b in blobs]
    return shapely.from_wkb(np.array(wkb, dtype=object))


@lru_cache(maxsize=64)
def _blob_envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) from the header, or from the geometry when absent.

    Cached: the R-tree triggers ask four times per written row (ST_MinX, ST_MaxX...),
    and points carry no envelope in their header, so each ask would decode the WKB."""
    if blob is None:
        return None
    if (blob[3] >> 1) & 0b111:
        return struct.unpack_from("<4d", blob, 8)
    geom = shapely.from_wkb(blob[_header_length(blob):])
    if geom.is_empty:
        return None
    minx, miny, maxx, maxy = geom.bounds
    return (minx, maxx, miny, maxy)


def _register_gpkg_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions GeoPackage R-tree triggers call."""

    def is_empty(blob):
        if blob is None:
            return 1
        return 1 if (blob[3] >> 4) & 1 else 0

    def part(i):
        def f(blob):
            env = _blob_envelope(blob)
            return None if env is None else env[i]

        return f

    conn.create_function("ST_IsEmpty", 1, is_empty, deterministic=True)
    conn.create_function("ST_MinX", 1, part(0), deterministic=True)
    conn.create_function("ST_MaxX", 1, part(1), deterministic=True)
    conn.create_function("ST_MinY", 1, part(2), deterministic=True)
    conn.create_function("ST_MaxY", 1, part(3), deterministic=True)
