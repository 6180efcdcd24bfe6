"""Coordinate reference systems: storage, measurement and China's offset datums.

hehu stores and serves longitude/latitude (EPSG:4326) and measures in metres in
EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E), which covers Jintan
(119.3-119.8E). CGCS2000 geographic (EPSG:4490) differs from WGS84 by centimetres here
and is treated as the same.

GCJ-02 (Amap, Tencent) and BD-09 (Baidu) are not datums pyproj knows: they are
obfuscations of WGS84 defined by published formulas, implemented here with numpy so
they apply to whole coordinate arrays and, through :func:`transform_geometry`, to any
shapely geometry.

>>> lon, lat = wgs84_to_gcj02(116.404, 39.915)
>>> round(float(lon), 6), round(float(lat), 6)
(116.410244, 39.916404)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

STORAGE_CRS = "EPSG:4326"
METRIC_CRS = "EPSG:4549"

#: Names accepted wherever a user says which CRS their coordinates are in.
OFFSET_CRS = ("gcj02", "bd09")
CRS_ALIASES = {
    "wgs84": "EPSG:4326",
    "crs84": "EPSG:4326",
    "4326": "EPSG:4326",
    "cgcs2000": "EPSG:4490",
    "4490": "EPSG:4490",
    "4549": "EPSG:4549",
    "4528": "EPSG:4528",
    "http://www.opengis.net/def/crs/ogc/1.3/crs84": "EPSG:4326",
    "http://www.opengis.net/def/crs/epsg/0/4326": "EPSG:4326",
    "http://www.opengis.net/def/crs/epsg/0/4490": "EPSG:4490",
    "http://www.opengis.net/def/crs/epsg/0/4549": "EPSG:4549",
}

# Krasovsky 1940 ellipsoid, as the GCJ-02 formula uses it.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0


class CRSError(ValueError):
    """A CRS name that hehu does not know or cannot convert."""


def normalize_crs(name: str | int | None) -> str:
    """Canonical form of a CRS name: ``"EPSG:nnnn"``, ``"gcj02"`` or ``"bd09"``.

    >>> normalize_crs("GCJ-02"), normalize_crs(4549), normalize_crs("epsg:4326")
    ('gcj02', 'EPSG:4549', 'EPSG:4326')
    """
    if name is None:
        return STORAGE_CRS
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    if key in ("gcj02", "gcj", "amap", "gaode", "mars"):
        return "gcj02"
    if key in ("bd09", "bd09ll", "baidu"):
        return "bd09"
    raw = str(name).strip().lower()
    if raw in CRS_ALIASES:
        return CRS_ALIASES[raw]
    if key in CRS_ALIASES:
        return CRS_ALIASES[key]
    if key.startswith("epsg:"):
        code = key[5:]
    elif key.isdigit():
        code = key
    else:
        try:
            epsg = CRS.from_user_input(str(name)).to_epsg()
        except Exception:  # noqa: BLE001 - pyproj raises many kinds
            epsg = None
        if epsg is None:
            raise CRSError(
                f"unknown CRS {name!r}; use an EPSG code (4326, 4490, 4549, 4528), gcj02 or bd09"
            )
        code = str(epsg)
    try:
        CRS.from_epsg(int(code))
    except Exception:  # noqa: BLE001
        raise CRSError(f"unknown CRS {name!r}: EPSG:{code} does not exist") from None
    return f"EPSG:{int(code)}"


def _out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset in degrees at WGS84 position (lon, lat)."""
    x = lon - 105.0
    y = lat - 35.0
    sx = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = _out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon, lat):
    """Offset WGS84 lon/lat into GCJ-02 (what Amap shows). Arrays or scalars."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon, lat, tol: float = 1e-10, max_iter: int = 30):
    """Invert the GCJ-02 offset by fixed-point iteration (to ``tol`` degrees).

    The one-step inverse found in most code is off by up to a metre or two; iterating
    makes WGS84 -> GCJ-02 -> WGS84 exact to well under a millimetre.
    """
    glon = np.asarray(lon, dtype=float)
    glat = np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon = wlon - elon
        wlat = wlat - elat
        if np.all(np.abs(elon) < tol) and np.all(np.abs(elat) < tol):
            break
    return wlon, wlat


def gcj02_to_bd09(lon, lat):
    """Baidu's further offset of GCJ-02."""
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon, lat, tol: float = 1e-10, max_iter: int = 10):
    """Remove Baidu's offset, giving GCJ-02.

    Baidu's published inverse is approximate (errors near 1e-6 degrees); it is used as
    the starting point and refined against the forward formula.
    """
    blon = np.asarray(lon, dtype=float)
    blat = np.asarray(lat, dtype=float)
    x = blon - 0.0065
    y = blat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    glon, glat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(max_iter):
        flon, flat = gcj02_to_bd09(glon, glat)
        elon, elat = flon - blon, flat - blat
        glon = glon - elon
        glat = glat - elat
        if np.all(np.abs(elon) < tol) and np.all(np.abs(elat) < tol):
            break
    return glon, glat


def bd09_to_wgs84(lon, lat):
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon, lat):
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


@lru_cache(maxsize=64)
def transformer(src: str, dst: str) -> Transformer:
    """A cached, always lon/lat-ordered pyproj transformer between two EPSG CRSs."""
    return Transformer.from_crs(src, dst, always_xy=True)


def _xy_function(src: str, dst: str):
    """A function (x, y) -> (x, y) converting between any two supported CRSs."""
    src, dst = normalize_crs(src), normalize_crs(dst)
    if src == dst:
        return lambda x, y: (x, y)
    to_wgs = {
        "gcj02": gcj02_to_wgs84,
        "bd09": bd09_to_wgs84,
    }.get(src)
    from_wgs = {
        "gcj02": wgs84_to_gcj02,
        "bd09": wgs84_to_bd09,
    }.get(dst)

    def convert(x, y):
        if to_wgs is not None:
            x, y = to_wgs(x, y)
            s = STORAGE_CRS
        else:
            s = src
        d = STORAGE_CRS if from_wgs is not None else dst
        if s != d:
            x, y = transformer(s, d).transform(x, y)
        if from_wgs is not None:
            x, y = from_wgs(x, y)
        return x, y

    return convert


def transform_coords(x, y, src: str, dst: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinate arrays between CRSs, offset datums included."""
    fx, fy = _xy_function(src, dst)(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(fx, dtype=float), np.asarray(fy, dtype=float)


def transform_geometry(geoms, src: str, dst: str):
    """Convert shapely geometries (one or an array) between CRSs, vectorised."""
    fn = _xy_function(src, dst)

    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = fn(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, apply)


def to_metric(geoms, src: str = STORAGE_CRS):
    """Geometries in EPSG:4549 metres, where every distance in hehu is measured."""
    return transform_geometry(geoms, src, METRIC_CRS)


def from_metric(geoms, dst: str = STORAGE_CRS):
    """Geometries from EPSG:4549 back to lon/lat (or ``dst``)."""
    return transform_geometry(geoms, METRIC_CRS, dst)


def looks_projected(x, y) -> bool:
    """True when coordinates cannot be degrees (|x| > 180 or |y| > 90)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.size == 0:
        return False
    return bool(np.nanmax(np.abs(x)) > 180 or np.nanmax(np.abs(y)) > 90)
