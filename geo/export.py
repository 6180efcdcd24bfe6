"""Field exports: layers, filtered or queried, written as GeoJSON, GeoPackage, Shapefile,
KML, CSV or an Excel ledger (台账).

>>> from geo.export import export
>>> export(reg, "violations", "geojson", "out.geojson",
...        where="status=整改中", near="丹金溧漕河:50")              # doctest: +SKIP
ExportResult(path=PosixPath('out.geojson'), counts={'violations': 12}, ...)

Selecting (:func:`select`) and writing (:func:`write_frames`) are separate, so that the
result of a spatial query (``registry.near`` / ``registry.within``) can be written
directly, and so that printed maps (:mod:`geo.carto`) select features exactly as exports
do.

Every writer writes into a temporary file beside the target and moves it into place
with :func:`os.replace` once complete: a failure part-way leaves nothing at the target
path. The formats and their choices are described in ``docs/exports.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import STORAGE_CRS, CRSError, normalize_crs, transform_geometry
from geo.derived import derived_column
from geo.errors import HehuError, QueryError
from geo.features import json_value as _plain
from geo.registry import problem_mask
from layers import Catalog, Layer, load_catalog

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

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class Selection:
    """Features chosen for an export or a print, per layer, in lon/lat.

    ``tags`` describe the filters (for file names and captions) as ``(zh, ascii)`` pairs;
    the query fields carry what a print highlights.
    """

    frames: dict[str, gpd.GeoDataFrame]
    tags: list[tuple[str, str]] = field(default_factory=list)
    area: BaseGeometry | None = None  # the town (``town`` or ``within``), lon/lat
    area_label: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    target: BaseGeometry | None = None  # ``near`` target, lon/lat
    buffer: BaseGeometry | None = None  # ``near`` buffer, lon/lat
    target_label: str | None = None
    distance_m: float | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.frames.items()}

    def describe(self, lang: str = "zh") -> str:
        return "、".join(t[0] for t in self.tags) if lang == "zh" else ", ".join(t[1] for t in self.tags)


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


# -- selecting ----------------------------------------------------------------------------


def find_town(registry, name: str) -> tuple[BaseGeometry, str]:
    """The outline (lon/lat) and name of a town given by name or code."""
    towns = registry.read("towns")
    hit = towns[(towns["name"] == name) | (towns["code"] == name)]
    if hit.empty:
        names = [str(n) for n in towns["name"].tolist()]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.3)
        hint = {"close": ", ".join(close)} if close else {}
        raise ExportError(
            key=("export.unknown_town_close" if close else "export.unknown_town") if names else "export.no_towns",
            params={"name": repr(name), "towns": ", ".join(names), **hint},
            parameter="town",
            value=name,
        )
    return shapely.union_all(hit.geometry.values), str(hit["name"].iloc[0])


def _in_area(gdf: gpd.GeoDataFrame, area: BaseGeometry) -> np.ndarray:
    """Features sharing more than a boundary line with ``area`` (vectorised)."""
    geoms = gdf.geometry.values
    shapely.prepare(area)
    return shapely.intersects(area, geoms) & ~shapely.touches(area, geoms)


def _query_fids(result: gpd.GeoDataFrame, layer_id: str) -> pd.Series:
    """``fid -> distance_m`` (NaN when absent) of one layer in a query result."""
    part = result[result["layer"] == layer_id] if "layer" in result.columns else result
    fids = part["fid"] if "fid" in part.columns else part.index.to_series()
    dist = part["distance_m"] if "distance_m" in part.columns else pd.Series(np.nan, index=part.index)
    return pd.Series(dist.to_numpy(dtype=float), index=fids.to_numpy(dtype="int64"))


def _run_query(fn, what: str, *args, **kwargs) -> gpd.GeoDataFrame:
    try:
        return fn(*args, **kwargs)
    except ImportError:  # geo.query not installed in this checkout
        raise ExportError(key="export.no_spatial", params={"what": what}) from None
    except HehuError as exc:
        # An unknown or ambiguous target is a bad parameter of this request, named as the
        # request names it (``near``/``within``, not the query engine's ``target``/``area``).
        exc.status = 400 if exc.status == 404 else exc.status
        if exc.details.get("parameter") in ("target", "area", "distance"):
            exc.details["parameter"] = what
        raise


def select(
    registry,
    layers: str | Sequence[str],
    *,
    town: str | None = None,
    bbox: str | Sequence[float] | None = None,
    where: str | Sequence[str] | Mapping[str, Any] | None = None,
    near: str | tuple[Any, float] | None = None,
    within: str | None = None,
    problems: bool | None = None,
) -> Selection:
    """The features of ``layers`` that pass every filter given.

    - ``town``: features sharing more than a boundary with the town (the town itself
      for the ``towns`` layer);
    - ``bbox``: features intersecting ``minlon,minlat,maxlon,maxlat``;
    - ``where``: property values, applied to the layers that have the field;
    - ``near``: ``(target, metres)``, the answer of ``registry.near`` (adds ``distance_m``);
    - ``within``: a town name, the answer of ``registry.within``;
    - ``problems``: in layers with a problem rule (open violations, micro water bodies
      with 问题/整治中, black-odorous waters not yet 已整治), only the problems. By default
      on with ``near`` (as ``registry.near`` answers), off otherwise.
    """
    chosen = parse_layers(registry.catalog, layers)
    box = parse_bbox(bbox)
    conditions = parse_where(where, chosen)
    near_q = parse_near(near)
    sel = Selection(frames={}, bbox=box)
    ids = [lyr.id for lyr in chosen]

    if town:
        sel.area, sel.area_label = find_town(registry, str(town).strip())
        sel.tags.append((sel.area_label, "town"))
    if box is not None:
        sel.tags.append(("范围内", "bbox"))
    for name, values in conditions.items():
        ascii_values = "-".join(_ascii(str(v)) for v in values)
        sel.tags.append(("或".join(str(v) for v in values), f"{name}-{ascii_values}" if ascii_values else name))

    if problems is None:
        problems = near_q is not None
    near_result = within_result = None
    if near_q is not None:
        target, distance = near_q
        near_result = _run_query(
            registry.near, "near", target, distance, layers=ids, all_features=not problems
        )
        attrs = near_result.attrs
        sel.target = attrs.get("target")
        sel.buffer = attrs.get("buffer")
        sel.target_label = attrs.get("target_label") or target
        sel.distance_m = float(attrs.get("distance_m", distance))
        sel.tags.append((f"{target}{distance:g}米内", f"near{distance:g}m"))
    if within:
        within_result = _run_query(registry.within, "within", str(within).strip(), layers=ids)
        area = within_result.attrs.get("area") or within_result.attrs.get("target")
        if area is None:
            area, _ = find_town(registry, str(within).strip())
        if sel.area is None:
            sel.area, sel.area_label = area, str(within).strip()
        sel.tags.append((f"{str(within).strip()}内", "within"))

    if problems:
        sel.tags.append(("问题", "problems"))
    for layer in chosen:
        cond = {k: v for k, v in conditions.items() if layer.has_field(k)}
        gdf = registry.read(layer.id, bbox=box, where=cond or None)
        if problems and layer.problem is not None:
            gdf = gdf[problem_mask(layer, gdf)]
        if town and len(gdf):
            if layer.id == "towns":
                gdf = gdf[gdf["name"] == sel.area_label]
            else:
                gdf = gdf[_in_area(gdf, sel.area)]
        if within_result is not None:
            gdf = gdf[gdf.index.isin(_query_fids(within_result, layer.id).index)]
        if near_result is not None:
            dist = _query_fids(near_result, layer.id)
            gdf = gdf[gdf.index.isin(dist.index)].copy()
            gdf["distance_m"] = dist.reindex(gdf.index).to_numpy()
            gdf = gdf.sort_values("distance_m", kind="stable")
        sel.frames[layer.id] = gdf
    return sel


# -- preparing frames for writing ------------------------------------------------------------


def frames_from_result(result: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """Split a query result (one frame with a ``layer`` column) into frames per layer."""
    if "layer" not in result.columns:
        raise ExportError(key="export.result_needs_layer")
    return {str(k): part for k, part in result.groupby("layer", sort=False)}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    title_zh: str
    title_en: str


def _columns(layer: Layer, gdf: gpd.GeoDataFrame) -> list[Column]:
    """The columns written: catalog fields in catalog order, then query columns present."""
    cols = [Column(f.name, f.type, f.title_zh, f.title_en) for f in layer.fields]
    cols += [Column(k, *v) for k, v in EXTRA_COLUMNS.items() if k in gdf.columns]
    return cols


def _prepared(layer: Layer, gdf: gpd.GeoDataFrame, crs: str) -> tuple[pd.DataFrame, np.ndarray, list[Column]]:
    """Attribute table (missing catalog fields as nulls) and geometries in ``crs``."""
    if "fid" in gdf.columns:
        gdf = gdf.set_index("fid")
    cols = _columns(layer, gdf)
    data = pd.DataFrame(index=gdf.index)
    for c in cols:
        data[c.name] = gdf[c.name] if c.name in gdf.columns else pd.Series(None, index=gdf.index, dtype=object)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    src = gdf.crs.to_string() if gdf.crs is not None else STORAGE_CRS
    src = normalize_crs(src) if src else STORAGE_CRS
    if len(geoms) and src != crs:
        geoms = transform_geometry(geoms, src, crs)
    return data, geoms, cols


def _as_dates(values: pd.Series) -> list[dt.date | None]:
    out = []
    for v in values.tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT or v is pd.NA:
            out.append(None)
        elif isinstance(v, dt.datetime):
            out.append(v.date())
        elif isinstance(v, dt.date):
            out.append(v)
        else:
            out.append(dt.date.fromisoformat(str(v)[:10]))
    return out


def _geometry_type_name(layer: Layer) -> str:
    return {"Point": "Point", "LineString": "MultiLineString", "Polygon": "MultiPolygon"}.get(
        layer.geometry, "Unknown"
    )


def _is_lonlat(crs: str) -> bool:
    return crs in (STORAGE_CRS, "EPSG:4490", "gcj02", "bd09")


def _file_crs(crs: str) -> str:
    """The CRS recorded in a file: GCJ-02/BD-09 have no EPSG code, so WGS84 axes are declared."""
    return STORAGE_CRS if crs in ("gcj02", "bd09") else crs


# -- writers ----------------------------------------------------------------------------------


def _write_geojson(items, path: Path, crs: str) -> None:
    """One RFC 7946 FeatureCollection; a ``layer`` property when several layers share it."""
    multi = len(items) > 1
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write('{"type":"FeatureCollection","features":[')
        first = True
        for layer, data, geoms, _cols in items:
            if not len(data):
                continue
            # RFC 7946 section 3.1.6: exterior rings counterclockwise, holes clockwise.
            geoms = shapely.orient_polygons(geoms, exterior_cw=False)
            gjson = shapely.to_geojson(geoms)
            props = data.copy()
            for c in props.columns:
                if props[c].dtype == "boolean":
                    props[c] = props[c].astype(object).where(props[c].notna(), None)
            if multi:
                props.insert(0, "layer", layer.id)
            lines = props.to_json(orient="records", lines=True, force_ascii=False, double_precision=15)
            ids = [f'"{layer.id}.{int(i)}"' for i in data.index]
            body = ",\n".join(
                f'{{"type":"Feature","id":{i},"properties":{p},"geometry":{g}}}'
                for i, p, g in zip(ids, lines.splitlines(), gjson, strict=True)
            )
            fh.write(("\n" if first else ",\n") + body)
            first = False
        fh.write("\n]}\n")


def _arrow_table(data: pd.DataFrame, geoms: np.ndarray, cols: list[Column], names: dict[str, str] | None = None):
    """A pyarrow table with catalog types (dates as dates) and WKB geometry."""
    import pyarrow as pa

    arrays, fields = [], []
    for c in cols:
        values = data[c.name]
        if c.type == "date":
            arr = pa.array(_as_dates(values), type=pa.date32())
        elif c.type == "datetime":
            # GeoPackage DATETIME (UTC), as GDAL writes it.
            stamps = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
            arr = pa.array(stamps, type=pa.timestamp("ms", tz="UTC"), from_pandas=True)
        elif c.type == "bool":
            arr = pa.array([None if v is None else bool(v) for v in map(_plain, values.tolist())], type=pa.bool_())
        elif c.type == "int":
            arr = pa.array([_plain(v) for v in values.tolist()], type=pa.int64())
        elif c.type == "float":
            arr = pa.array(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float), type=pa.float64(), from_pandas=True)
        else:
            arr = pa.array([None if _plain(v) is None else str(v) for v in values.tolist()], type=pa.string())
        arrays.append(arr)
        fields.append(pa.field((names or {}).get(c.name, c.name), arr.type))
    arrays.append(pa.array(shapely.to_wkb(geoms) if len(geoms) else [], type=pa.binary()))
    fields.append(pa.field("geometry", pa.binary(), metadata={"ARROW:extension:name": "geoarrow.wkb"}))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _write_gpkg(items, path: Path, crs: str) -> None:
    """One GeoPackage table per layer, named by layer id, with real DATE columns."""
    import pyogrio

    for layer, data, geoms, cols in items:
        table = _arrow_table(data, geoms, cols)
        pyogrio.write_arrow(
            table,
            path,
            layer=layer.id,
            driver="GPKG",
            geometry_name="geometry",
            geometry_type=_geometry_type_name(layer),
            crs=_file_crs(crs),
            append=False,
            layer_options={"IDENTIFIER": layer.title_zh, "DESCRIPTION": layer.title_en},
        )


def shapefile_field_names(names: Sequence[str], limit: int = DBF_NAME_LIMIT) -> dict[str, str]:
    """A collision-free mapping of field names to at most ``limit`` characters.

    Names that fit are kept. Longer names are cut to ``limit``; when the cut name is
    taken (case-insensitively, as dBASE compares), the name is cut shorter and a
    number appended: ``target_class`` -> ``target_cla``, a second ``target_clb...``
    -> ``target_c_1``.

    >>> shapefile_field_names(["code", "mechanism_on", "mechanism_one"])
    {'code': 'code', 'mechanism_on': 'mechanism_', 'mechanism_one': 'mechanis_1'}
    """
    taken = {n.lower() for n in names if len(n) <= limit}
    out: dict[str, str] = {}
    for n in names:
        if len(n) <= limit:
            out[n] = n
            continue
        cand = n[:limit]
        k = 0
        while cand.lower() in taken:
            k += 1
            suffix = f"_{k}"
            cand = n[: limit - len(suffix)] + suffix
        taken.add(cand.lower())
        out[n] = cand
    return out


_FAMILIES = {"Point": "point", "LineString": "line", "Polygon": "polygon"}
#: Geometry family by shapely type id + 1 (-1 is a missing geometry).
_TYPE_FAMILY = np.array(["other", "point", "line", "line", "polygon", "point", "line", "polygon", "other"])
_FAMILY_TYPES = {"point": "Point", "line": "MultiLineString", "polygon": "MultiPolygon"}


#: dBASE text fields hold at most 254 bytes.
DBF_TEXT_BYTES = 254


def _cut_dbf_text(data: pd.DataFrame, cols: list[Column]) -> tuple[pd.DataFrame, int]:
    """Text cut to the dBASE limit at a character boundary, and how many values were cut
    (GDAL would cut them too, mid-character and with a warning only)."""
    cut = 0
    for c in cols:
        if c.type != "str" or not len(data):
            continue
        col = data[c.name]
        # A character is at most 4 bytes in UTF-8: only longer strings can overflow.
        maybe = col.map(lambda v: isinstance(v, str) and len(v) > DBF_TEXT_BYTES // 4)
        if not maybe.any():
            continue
        long = col[maybe].map(lambda v: len(v.encode("utf-8")) > DBF_TEXT_BYTES)
        idx = long[long].index
        if len(idx):
            data = data.copy() if cut == 0 else data
            data.loc[idx, c.name] = col[idx].map(
                lambda v: v.encode("utf-8")[:DBF_TEXT_BYTES].decode("utf-8", "ignore")
            )
            cut += len(idx)
    return data, cut


def _write_shp(items, path: Path, crs: str) -> list[str]:
    """A zip of one Shapefile per layer and geometry family, with ``fieldmap.csv``."""
    import pyogrio

    notes = []
    fieldmap_rows = []
    with tempfile.TemporaryDirectory(prefix="hehu-shp-") as tmp, zipfile.ZipFile(
        path, "w", compression=zipfile.ZIP_DEFLATED
    ) as zf:
        for layer, data, geoms, cols in items:
            names = shapefile_field_names([c.name for c in cols])
            data, cut = _cut_dbf_text(data, cols)
            if cut:
                notes.append(
                    f"{layer.id}: {cut} text values longer than the Shapefile limit of "
                    f"{DBF_TEXT_BYTES} bytes were cut; gpkg or geojson keep them whole"
                )
            kinds = _TYPE_FAMILY[shapely.get_type_id(geoms) + 1] if len(geoms) else np.array([], dtype=str)
            if layer.geometry in ("Point", "LineString", "Polygon"):
                families = [_FAMILIES[layer.geometry]]
            else:
                families = sorted(set(kinds.tolist()) - {"other"}) or ["polygon"]
            for fam in families:
                stem = layer.id if len(families) == 1 else f"{layer.id}_{fam}"
                mask = kinds == fam if len(kinds) else np.zeros(0, dtype=bool)
                part = geoms[mask]
                if fam in ("line", "polygon") and len(part):
                    part = shapely.force_2d(part)
                table = _arrow_table(data[mask], part, cols, names)
                shp = Path(tmp) / f"{stem}.shp"
                pyogrio.write_arrow(
                    table,
                    shp,
                    driver="ESRI Shapefile",
                    geometry_name="geometry",
                    geometry_type=_FAMILY_TYPES[fam],
                    crs=_file_crs(crs),
                    encoding="UTF-8",
                )
                for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
                    f = shp.with_suffix(ext)
                    if f.exists():
                        zf.write(f, f.name)
                for c in cols:
                    fieldmap_rows.append([stem + ".shp", layer.id, c.name, names[c.name], c.title_zh, c.title_en, c.type])
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["file", "layer", "field", "shp_field", "title_zh", "title_en", "type"])
        w.writerows([[spreadsheet_text(v) for v in r] for r in fieldmap_rows])
        zf.writestr("fieldmap.csv", "\ufeff" + buf.getvalue())
    return notes


def _kml_color(hex_rgb: str, alpha: float = 1.0) -> str:
    """``#rrggbb`` -> KML's ``aabbggrr``."""
    h = hex_rgb.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    a = max(0, min(255, round(alpha * 255)))
    return f"{a:02x}{h[4:6]}{h[2:4]}{h[0:2]}".lower()


def style_values(layer: Layer, data: pd.DataFrame) -> pd.Series:
    """The value of the style's ``by`` field per feature, as catalog style keys (strings).

    A ``by`` naming a derived field (``meets_target: latest_class <= target_class``) is
    computed from its expression.
    """
    by = layer.style.by
    if by is None:
        return pd.Series("", index=data.index, dtype=object)
    if by in data.columns:
        col = data[by]
    elif by in layer.derived:
        col = derived_column(layer, data, by)
    else:
        col = pd.Series(None, index=data.index, dtype=object)
    return col.map(lambda v: "" if _plain(v) is None else str(_plain(v)))


def _kml_description(layer: Layer, cols: list[Column], row: list[Any]) -> str:
    """The balloon: the catalog's popup fields as a small table (escaped for XML)."""
    from html import escape

    shown = set(layer.popup) or {c.name for c in cols}
    cells = "".join(
        f"<tr><th align='left'>{escape(c.title_zh)}</th><td>{escape(_display(c, v))}</td></tr>"
        for c, v in zip(cols, row, strict=True)
        if c.name in shown or c.name == "distance_m"
        if _plain(v) is not None
    )
    return escape(f"<table>{cells}</table>", quote=False)


def _display(col: Column, value: Any) -> str:
    v = _plain(value)
    if v is None:
        return ""
    if col.type == "bool":
        return "是" if v else "否"
    if isinstance(v, float):
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return str(v)


def _data_text(col: Column, value: Any) -> str:
    """A value as written in ExtendedData: full precision, booleans as 是/否."""
    v = _plain(value)
    if v is None:
        return ""
    if col.type == "bool":
        return "是" if v else "否"
    return repr(v) if isinstance(v, float) else str(v)


_KML_TYPES = {"int": "int", "float": "double"}


def _kml_coords(seq: np.ndarray) -> str:
    return " ".join(f"{x:.9f},{y:.9f}" for x, y in seq[:, :2])


def _kml_geometry(geom: BaseGeometry) -> str:
    """KML geometry markup: multi-part geometries as MultiGeometry."""
    t = geom.geom_type
    if t == "Point":
        return f"<Point><coordinates>{geom.x:.9f},{geom.y:.9f}</coordinates></Point>"
    if t == "LineString":
        return f"<LineString><tessellate>1</tessellate><coordinates>{_kml_coords(np.asarray(geom.coords))}</coordinates></LineString>"
    if t == "Polygon":
        inner = "".join(
            f"<innerBoundaryIs><LinearRing><coordinates>{_kml_coords(np.asarray(r.coords))}</coordinates></LinearRing></innerBoundaryIs>"
            for r in geom.interiors
        )
        return (
            "<Polygon><outerBoundaryIs><LinearRing><coordinates>"
            f"{_kml_coords(np.asarray(geom.exterior.coords))}</coordinates></LinearRing></outerBoundaryIs>{inner}</Polygon>"
        )
    parts = getattr(geom, "geoms", None)
    if parts is None:
        raise ExportError(key="export.kml_geometry", params={"type": t})
    if len(parts) == 1:
        return _kml_geometry(parts[0])
    return "<MultiGeometry>" + "".join(_kml_geometry(p) for p in parts) + "</MultiGeometry>"


def _kml_style(style_id: str, layer: Layer, value: str) -> str:
    s = layer.style
    color = s.color_for(value) if value else s.color
    fill = s.fill_color if (s.fill_color and not s.by) else color
    return (
        f'<Style id="{style_id}">'
        f"<IconStyle><color>{_kml_color(color)}</color><scale>0.9</scale><Icon><href>"
        "http://maps.google.com/mapfiles/kml/shapes/placemark_circle.png</href></Icon></IconStyle>"
        f"<LineStyle><color>{_kml_color(color)}</color><width>{max(1.0, s.weight):g}</width></LineStyle>"
        f"<PolyStyle><color>{_kml_color(fill, s.fill_opacity)}</color><outline>1</outline></PolyStyle>"
        "</Style>"
    )


def _write_kml(items, path: Path, crs: str, balloon=None) -> None:
    """A KML 2.2 document: a folder per layer; placemarks named by the catalog label
    field, with a Chinese balloon of the popup fields, a shared style per ``by`` value
    (the catalog colours) and every field as typed ExtendedData (one Schema per layer,
    which carries the Chinese field titles once).

    The KML 2.2 schema orders a Document's children: its styles, then its Schemas,
    then its features; so every layer's styles and schema are written before the first
    folder (the tests validate the file against the OGC schema).

    ``balloon(layer, fid)``, when given, returns more balloon HTML (the KMZ's photos).
    """
    from html import escape

    by_values = [style_values(layer, data).tolist() for layer, data, _g, _c in items]
    style_ids = [
        {v: f"{layer.id}-{i}" for i, v in enumerate(dict.fromkeys(values or [""]))}
        for (layer, *_rest), values in zip(items, by_values, strict=True)
    ]
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">'
                 "<Document><name>河湖一张图导出</name>\n")
        for (layer, *_rest), ids in zip(items, style_ids, strict=True):
            fh.write("".join(_kml_style(sid, layer, v) for v, sid in ids.items()) + "\n")
        for layer, _data, _geoms, cols in items:
            fields = "".join(
                f'<SimpleField name="{c.name}" type="{_KML_TYPES.get(c.type, "string")}">'
                f"<displayName>{escape(c.title_zh)}</displayName></SimpleField>"
                for c in cols
            )
            fh.write(f'<Schema name="{layer.id}" id="{layer.id}">{fields}</Schema>\n')
        for (layer, data, geoms, cols), values, ids in zip(items, by_values, style_ids, strict=True):
            fh.write(f"<Folder><name>{escape(layer.title_zh)}</name><description>{escape(layer.title_en)}</description>\n")
            label_col = layer.label_field if layer.label_field in data.columns else layer.id_field
            labels = data[label_col].tolist()
            rows = data.to_numpy(dtype=object).tolist()
            chunk = []
            for fid, label, value, row, geom in zip(data.index, labels, values, rows, geoms, strict=True):
                if geom is None or geom.is_empty:
                    continue
                extra = escape(balloon(layer, fid), quote=False) if balloon else ""
                extended = "".join(
                    f'<SimpleData name="{c.name}">{escape(_data_text(c, v), quote=False)}</SimpleData>'
                    for c, v in zip(cols, row, strict=True)
                    if _plain(v) is not None
                )
                chunk.append(
                    f"<Placemark><name>{escape('' if _plain(label) is None else str(label), quote=False)}</name>"
                    f"<description>{_kml_description(layer, cols, row)}{extra}</description>"
                    f"<styleUrl>#{ids[value]}</styleUrl>"
                    f'<ExtendedData><SchemaData schemaUrl="#{layer.id}">{extended}</SchemaData></ExtendedData>'
                    f"{_kml_geometry(geom)}</Placemark>\n"
                )
                if len(chunk) >= 2000:
                    fh.write("".join(chunk))
                    chunk = []
            fh.write("".join(chunk) + "</Folder>\n")
        fh.write("</Document></kml>\n")


#: What makes a spreadsheet (Excel, WPS, LibreOffice) read a cell as a formula, or
#: split it: ``=HYPERLINK(…)``, ``+cmd|…``, ``-2+3``, ``@SUM(…)``, and a tab or carriage
#: return in front of them (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: Any) -> bool:
    """Whether a spreadsheet would run ``value`` (text) as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def spreadsheet_text(value: Any) -> Any:
    """``value`` made inert for a spreadsheet: formula-like text gets a leading ``'``.

    Every tabular text output (CSV exports, the import's rejected rows, the query CSV)
    passes its text cells through here. The apostrophe is what Excel itself shows for
    "text that looks like a formula"; a phone number written ``+86…`` therefore reads
    ``'+86…`` in a CSV. The XLSX ledger keeps the text exact and stores such cells as
    text instead (see :func:`_write_xlsx`). Non-text values pass unchanged.

    >>> spreadsheet_text('=HYPERLINK("http://x")'), spreadsheet_text("丹金溧漕河"), spreadsheet_text(-3)
    ('\\'=HYPERLINK("http://x")', '丹金溧漕河', -3)
    """
    return "'" + value if looks_like_formula(value) else value


def spreadsheet_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell passed through :func:`spreadsheet_text`
    (column names too), vectorised over the text columns."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if not (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_datetime64_any_dtype(col.dtype)):
            out[name] = col.astype(object).map(spreadsheet_text)
    out.columns = [spreadsheet_text(str(c)) for c in out.columns]
    return out


def _csv_frame(data: pd.DataFrame, geoms: np.ndarray, layer: Layer, cols: list[Column], crs: str) -> pd.DataFrame:
    out = spreadsheet_frame(data)
    for c in cols:
        if c.type == "bool":
            out[c.name] = out[c.name].map(lambda v: "" if _plain(v) is None else ("true" if v else "false"))
    lonlat = _is_lonlat(crs)
    xname, yname = ("lon", "lat") if lonlat else ("x", "y")
    if layer.geometry == "Point":
        out[xname] = shapely.get_x(geoms) if len(geoms) else []
        out[yname] = shapely.get_y(geoms) if len(geoms) else []
    else:
        out["wkt"] = shapely.to_wkt(geoms, rounding_precision=9 if lonlat else 4) if len(geoms) else []
    return out


def _write_csv(items, path: Path, crs: str) -> None:
    """UTF-8 with BOM (Excel shows Chinese); several layers make a zip, one CSV each.

    Rows end in CRLF (RFC 4180): the writer then quotes a field holding a bare carriage
    return, which would otherwise end the row in Excel and start the next one with
    whatever follows it (``\r=1+1``, a formula).
    """
    if len(items) == 1:
        layer, data, geoms, cols = items[0]
        _csv_frame(data, geoms, layer, cols, crs).to_csv(
            path, index=False, encoding="utf-8-sig", float_format=None, lineterminator="\r\n"
        )
        return
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for layer, data, geoms, cols in items:
            text = _csv_frame(data, geoms, layer, cols, crs).to_csv(index=False, lineterminator="\r\n")
            zf.writestr(f"{layer.id}.csv", "\ufeff" + text)


#: Characters Excel refuses in sheet titles.
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def _sheet_title(layer: Layer, used: set[str]) -> str:
    base = _SHEET_BAD.sub("_", layer.title_zh)[:31]
    name, k = base, 1
    while name in used:
        k += 1
        name = f"{base[:28]}({k})"
    used.add(name)
    return name


def _width(text: str) -> float:
    from unicodedata import east_asian_width

    return sum(2 if east_asian_width(ch) in "WF" else 1 for ch in text)


#: Ledger headers of projected coordinates, easting first: unambiguous for a surveyor.
EASTING_NORTHING_HEADS = ["东坐标Y(米)", "北坐标X(米)"]


def _write_xlsx(items, path: Path, crs: str) -> None:
    """The ledger: one sheet per layer, Chinese headers from the catalog, real dates, a
    frozen and filterable header row, columns sized to their contents."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    wb.properties.title = "河湖一张图 台账"
    wb.properties.creator = "hehu"
    used: set[str] = set()
    lonlat = _is_lonlat(crs)
    for layer, data, geoms, cols in items:
        ws = wb.create_sheet(_sheet_title(layer, used))
        point = layer.geometry == "Point"
        if lonlat:
            geo_heads = ["经度", "纬度"] if point else ["代表点经度", "代表点纬度"]
        else:
            # Chinese surveying calls the northing X and the easting Y (the reverse of a
            # plot's x/y): the headers say which is which, easting first as in lon/lat.
            geo_heads = EASTING_NORTHING_HEADS if point else [f"代表点{h}" for h in EASTING_NORTHING_HEADS]
        heads = [c.title_zh for c in cols] + geo_heads
        pts = geoms if point else (shapely.point_on_surface(geoms) if len(geoms) else geoms)
        xs = shapely.get_x(pts) if len(pts) else np.array([])
        ys = shapely.get_y(pts) if len(pts) else np.array([])
        columns: list[list[Any]] = []
        for c in cols:
            values = data[c.name]
            if c.type == "date":
                columns.append(_as_dates(values))
            elif c.type == "bool":
                columns.append([None if _plain(v) is None else ("是" if v else "否") for v in values.tolist()])
            else:
                columns.append([_plain(v) for v in values.tolist()])
        columns += [[None if math.isnan(v) else float(v) for v in xs], [None if math.isnan(v) else float(v) for v in ys]]
        # Widths from the header and the first few hundred values, within sensible bounds.
        for j, (h, colvals) in enumerate(zip(heads, columns, strict=True), start=1):
            sample = [_width(str(v)) for v in colvals[:300] if v is not None]
            width = max([_width(h) + 2, *(w + 1 for w in sample)])
            if j > len(cols):
                width = 13
            elif cols[j - 1].type == "date":
                width = max(_width(h) + 2, 12)
            ws.column_dimensions[get_column_letter(j)].width = max(6, min(50, width))
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(heads))}{max(1, len(data) + 1)}"
        bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
        header = []
        for h in heads:
            cell = WriteOnlyCell(ws, value=h)
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(horizontal="center")
            header.append(cell)
        ws.append(header)
        date_cols = [j for j, c in enumerate(cols) if c.type == "date"]
        text_cols = [j for j, c in enumerate(cols) if c.type == "str"]
        for row in zip(*columns, strict=True):
            row = list(row)
            for j in date_cols:
                if row[j] is not None:
                    cell = WriteOnlyCell(ws, value=row[j])
                    cell.number_format = "yyyy-mm-dd"
                    row[j] = cell
            for j in text_cols:
                if looks_like_formula(row[j]):
                    # openpyxl writes text starting with "=" as a formula: a description
                    # like "=HYPERLINK(...)" would run in Excel. It is text, and stays
                    # text (a text cell: Excel never evaluates it, and the value is exact).
                    cell = WriteOnlyCell(ws, value=row[j])
                    cell.data_type = "s"
                    row[j] = cell
            ws.append(row)
    if not items:
        wb.create_sheet("空")
    wb.save(path)


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


_WRITERS = {
    "geojson": _write_geojson,
    "gpkg": _write_gpkg,
    "shp": _write_shp,
    "kml": _write_kml,
    "csv": _write_csv,
    "xlsx": _write_xlsx,
    "gpx": _write_gpx,
    "kmz": lambda items, path, crs: _media().write_kmz(items, path, crs),
}


def _media():
    """The attachment-carrying writers (geo/export_media.py), imported when used."""
    from geo import export_media

    return export_media


# -- files ---------------------------------------------------------------------------------


def check_out_path(target: str | Path) -> Path:
    """``target`` as a Path, or ExportError when it is a folder or its folder is missing."""
    target = Path(target)
    if target.is_dir():
        raise ExportError(key="export.out_is_folder", params={"target": target}, parameter="out")
    if not target.parent.is_dir():
        what = "export.out_parent_not_folder" if target.parent.exists() else "export.out_parent_missing"
        raise ExportError(key=what, params={"target": target, "folder": target.parent}, parameter="out")
    return target


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, moved onto it only when the block succeeds.

    The temporary name keeps the target's suffix (GDAL chooses drivers by suffix) and
    starts with a dot; on any error it is removed, so nothing half-written remains.
    """
    target = check_out_path(target)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem[:40]}.", suffix=".part" + target.suffix, dir=target.parent)
    except OSError as exc:  # a read-only or full file system, no permission...
        raise ExportError(
            key="export.cannot_write", params={"folder": target.parent, "reason": exc.strerror or exc}, parameter="out"
        ) from None
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers create the file themselves (GDAL refuses an empty one)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, Path(str(tmp) + "-journal"), Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
            if leftover.exists():
                leftover.unlink()


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+|\s+')


def safe_filename(name: str, max_len: int = 120) -> str:
    """``name`` with path separators, reserved and control characters replaced by ``_``."""
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    stem = re.sub(r"_{2,}", "_", _UNSAFE.sub("_", stem)).strip("._-") or "export"
    ext = _UNSAFE.sub("", ext)
    return stem[: max_len - len(ext) - 1] + (dot + ext if dot else "")


def _ascii(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "", text)


def export_filename(
    layers: Sequence[Layer],
    fmt: str,
    tags: Sequence[tuple[str, str]] = (),
    *,
    crs: str = STORAGE_CRS,
    date: dt.date | None = None,
    ascii_only: bool = False,
) -> str:
    """A safe, meaningful file name: layers, filters, CRS and date.

    >>> from layers import load_catalog
    >>> export_filename([load_catalog()["violations"]], "geojson", [("丹金溧漕河50米内", "near50m")],
    ...                 date=dt.date(2021, 5, 1))
    '清四乱问题_丹金溧漕河50米内_20210501.geojson'
    """
    date = date or dt.date.today()
    idx = 1 if ascii_only else 0
    names = [lyr.id if ascii_only else lyr.title_zh for lyr in layers]
    head = ("-" if ascii_only else "+").join(names) if len(names) <= 3 else (f"{len(names)}layers" if ascii_only else f"{len(names)}个图层")
    parts = [head, *(t[idx] for t in tags if t[idx])]
    if crs != STORAGE_CRS:
        parts.append(crs.replace(":", "").replace("EPSG", "EPSG") if crs.startswith("EPSG") else crs)
    parts.append(date.strftime("%Y%m%d"))
    suffix = FORMATS[fmt][0]
    if fmt == "csv" and len(layers) > 1:
        suffix = ".zip"
    if fmt == "shp":
        suffix = ".shp.zip"
    name = safe_filename("_".join(p for p in parts if p) + suffix)
    return _ascii(name) if ascii_only else name


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
    # GeoJSON links when a base URL is known): geo/export_media.py.
    with atomic_path(out) as tmp, _media().source(registry, base_url):
        notes = _WRITERS[fmt](items, tmp, crs_name) or []
        notes += _media().after_write(fmt, items, tmp)
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
    fmt = parse_format(fmt)
    parse_crs(fmt, crs)
    sel = select(registry, layers, town=town, bbox=bbox, where=where, near=near, within=within, problems=problems)
    return write_frames(sel.frames, fmt, out_path, crs, catalog=registry.catalog, description=sel.describe("zh"), registry=registry)


__all__ = [
    "FORMATS",
    "ExportError",
    "ExportResult",
    "QueryError",
    "Selection",
    "atomic_path",
    "check_out_path",
    "export",
    "export_filename",
    "frames_from_result",
    "parse_bbox",
    "parse_format",
    "parse_layers",
    "parse_near",
    "parse_where",
    "safe_filename",
    "select",
    "shapefile_field_names",
    "style_values",
    "write_frames",
]
