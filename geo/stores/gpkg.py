"""The embedded store: one standard GeoPackage file.

Each catalog layer is a feature table with the GeoPackage R-tree spatial index
extension (the same tables and triggers GDAL writes, so QGIS and ``ogrinfo`` open the
file as a normal GeoPackage), in EPSG:4326. The registry's own tables
(``hehu_meta``, ``hehu_history``, ``hehu_users``) are registered as GeoPackage
``attributes`` tables.

Writes go through Python's ``sqlite3`` in ``BEGIN IMMEDIATE`` transactions: each call is
atomic, and two processes writing at once queue on SQLite's lock instead of losing
rows. The R-tree triggers call the GeoPackage SQL functions ``ST_MinX`` etc., which
only GDAL-aware SQLite builds have; they are registered on every connection here.
"""

from __future__ import annotations

import json
import math
import sqlite3
import struct
import threading
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from geo.cql2 import evaluate
from geo.errors import ConflictError, NotFoundError, RegistryFileError, ValidationError
from geo.stores.base import ATTACHMENT_FIELDS, BBox, FilterTree, OrderBy, Store, Where
from geo.stores.records import (
    attachment_history,
    attachment_record,
    now_iso,
    same_feature,
    unique_error,
)
from geo.stores.records import feature_json as _feature_json
from geo.stores.sql_filter import SQLiteDialect, translate
from layers import Catalog, Layer

GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
# GeoPackage 1.2: the version the file really is (its R-tree triggers are the 1.2 ones).
# Files that said 1.4 made GDAL 3.6 and QGIS 3.22 warn on every open.
GPKG_USER_VERSION = 10200
#: Registry tables GIS clients must not list as layers (edit history with every old
#: value, users' token hashes): kept out of gpkg_contents. hehu_meta stays registered as
#: an attributes table, which also tells GDAL (LIST_ALL_TABLES=AUTO) to list only
#: registered tables.
HIDDEN_TABLES = ("hehu_history", "hehu_users", "hehu_sessions")
SRS_ID = 4326
META_TABLE = "hehu_meta"
HISTORY_TABLE = "hehu_history"
USERS_TABLE = "hehu_users"
#: Signed-out sessions (a hash of the id, until the cookie would expire): never copied.
SESSIONS_TABLE = "hehu_sessions"
#: Attachments: the media table of the OGC GeoPackage Related Tables Extension (18-000),
#: related to each feature table through a mapping table ``hehu_attachments_<layer>``.
MEDIA_TABLE = "hehu_attachments"
RTE_DEFINITION = "http://docs.opengeospatial.org/is/18-000/18-000.html"

_DIALECT = SQLiteDialect()

# Envelope sizes in bytes by the envelope-contents indicator of the GeoPackage
# geometry header (0: none, 1: xy, 2: xyz, 3: xym, 4: xyzm).
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def _q(identifier: str) -> str:
    """Quote an SQL identifier (table or column name)."""
    return '"' + identifier.replace('"', '""') + '"'


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


# -- values ------------------------------------------------------------------------


def _to_sql(value: Any, ftype: str) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if ftype == "bool":
        return 1 if bool(value) else 0
    if ftype == "int":
        return int(value)
    if ftype == "float":
        return float(value)
    if ftype == "date":
        if hasattr(value, "strftime"):
            return value.strftime("%Y-%m-%d")
        return str(value)[:10]
    return str(value)


def _from_sql(value: Any, ftype: str) -> Any:
    if value is None:
        return None
    if ftype == "bool":
        return bool(value)
    if ftype == "date":
        return str(value)[:10]
    return value


def _order_sql(layer: Layer, order_by: Sequence[tuple[str, bool]] | None) -> str:
    """ORDER BY terms for (field, ascending) pairs, fid last so pages are stable."""
    parts = []
    for name, ascending in order_by or ():
        if name != "fid":
            layer.field(name)  # an unknown field raises before any SQL is built
        parts.append(f"{_q(name)} {'ASC' if ascending else 'DESC'}")
    return ", ".join([*parts, "fid"])


class GeoPackageStore(Store):
    """A hehu registry in one GeoPackage file."""

    def __init__(self, path: str | Path, catalog: Catalog):
        self.path = Path(path)
        self.name = str(self.path)
        self.catalog = catalog
        self._local = threading.local()

    # -- connections ---------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 60000")
        _register_gpkg_functions(conn)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not be shared across threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _write(self):
        return _WriteTransaction(self.conn)

    # -- creation and checks -----------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, catalog: Catalog, metadata: dict[str, Any]) -> GeoPackageStore:
        """Create a new GeoPackage with every catalog layer; refuses to overwrite."""
        path = Path(path)
        if path.exists():
            raise RegistryFileError(f"{path} already exists; refusing to overwrite it")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".creating")
        if tmp.exists():
            tmp.unlink()
        store = cls(tmp, catalog)
        try:
            conn = store.conn
            conn.execute(f"PRAGMA application_id = {GPKG_APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {GPKG_USER_VERSION}")
            with store._write():
                _create_core_tables(conn)
                for layer in catalog:
                    _create_layer_table(conn, layer)
                _create_registry_tables(conn)
                _create_media_tables(conn, catalog)
                for key, value in metadata.items():
                    conn.execute(
                        f"INSERT OR REPLACE INTO {META_TABLE}(key, value) VALUES (?, ?)",
                        (key, json.dumps(value, ensure_ascii=False)),
                    )
            # WAL lets readers (the map server) go on while an editor writes.
            conn.execute("PRAGMA journal_mode = WAL")
            store.close()
            tmp.rename(path)
        except BaseException:
            store.close()
            tmp.unlink(missing_ok=True)
            raise
        return cls(path, catalog)

    @classmethod
    def open(cls, path: str | Path, catalog: Catalog) -> GeoPackageStore:
        """Open an existing registry, checking that it is a GeoPackage made by hehu.

        Layers the catalog gained since the file was made are added as empty tables.
        """
        path = Path(path)
        _check_header(path)
        store = cls(path, catalog)
        tables = {
            r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if "gpkg_contents" not in tables:
            store.close()
            raise RegistryFileError(f"{path} is not a GeoPackage (no gpkg_contents table)")
        missing = [t for t in (META_TABLE, HISTORY_TABLE) if t not in tables]
        if missing:
            store.close()
            raise RegistryFileError(
                f"{path} is a GeoPackage but not a hehu registry: missing table(s) "
                f"{', '.join(missing)}; create one with `hehu demo --out {path.name}` "
                "or bring data in with `hehu import`"
            )
        _bring_up_to_date(store, catalog, tables)
        return store

    # -- reading ---------------------------------------------------------------------

    def _where_sql(self, layer: Layer, bbox: BBox | None, where: Where | None, fids, filter=None):
        """``WHERE`` SQL and parameters for a selection, and the filter's residual (the
        part SQLite cannot express, evaluated on the rows it returns)."""
        clauses: list[str] = []
        params: list[Any] = []
        if bbox is not None:
            minx, miny, maxx, maxy = bbox
            clauses.append(
                f"fid IN (SELECT id FROM {_q('rtree_' + layer.id + '_geom')} "
                "WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)"
            )
            params += [maxx, minx, maxy, miny]
        for name, value in (where or {}).items():
            fdef = layer.field(name)
            if isinstance(value, (list, tuple, set)):
                values = [_to_sql(v, fdef.type) for v in value]
                if not values:
                    clauses.append("0")
                    continue
                clauses.append(f"{_q(name)} IN ({', '.join('?' * len(values))})")
                params += values
            elif value is None:
                clauses.append(f"{_q(name)} IS NULL")
            else:
                clauses.append(f"{_q(name)} = ?")
                params.append(_to_sql(value, fdef.type))
        if fids is not None:
            fids = [int(f) for f in fids]
            if len(fids) > 500:  # beyond SQLite's parameter limit: a JSON array instead
                clauses.append("fid IN (SELECT value FROM json_each(?))")
                params.append(json.dumps(fids))
            else:
                clauses.append(f"fid IN ({', '.join('?' * len(fids))})" if fids else "0")
                params += fids
        residual = None
        if filter is not None:
            translation = translate(filter, layer, _DIALECT)
            if translation.sql:
                clauses.append(translation.sql)
                params += translation.params
            residual = translation.residual
        sql = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        return sql, params, residual

    def _select(self, layer: Layer, sql_where: str, order_by) -> str:
        cols = ", ".join(_q(c) for c in layer.field_names)
        return f"SELECT fid, geom, {cols} FROM {_q(layer.id)}{sql_where} ORDER BY {_order_sql(layer, order_by)}"

    def _refine(self, layer: Layer, gdf: gpd.GeoDataFrame, bbox: BBox | None, residual) -> gpd.GeoDataFrame:
        """The exact bbox test (the R-tree gave boxes) and the filter's residual."""
        if bbox is not None and len(gdf):
            gdf = gdf[shapely.intersects(gdf.geometry.values._data, shapely.box(*bbox))]
        if residual is not None:
            gdf = gdf[evaluate(residual, gdf, layer)]
        return gdf

    def read(
        self,
        layer: Layer,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        filter: FilterTree | None = None,
        fids: Sequence[int] | None = None,
        order_by: OrderBy | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> gpd.GeoDataFrame:
        sql_where, params, residual = self._where_sql(layer, bbox, where, fids, filter)
        sql = self._select(layer, sql_where, order_by)
        exact = bbox is not None or residual is not None
        if limit is not None and not exact:
            sql += " LIMIT ? OFFSET ?"
            params = [*params, int(limit), int(offset)]
        gdf = self._refine(layer, self._frame(layer, self.conn.execute(sql, params).fetchall()), bbox, residual)
        if exact and (limit is not None or offset):
            gdf = gdf.iloc[offset : None if limit is None else offset + limit]
        return gdf

    def read_geometries(self, layer: Layer, fids: Sequence[int]) -> gpd.GeoDataFrame:
        sql_where, params, _ = self._where_sql(layer, None, None, fids)
        rows = self.conn.execute(f"SELECT fid, geom FROM {_q(layer.id)}{sql_where} ORDER BY fid", params).fetchall()
        index = pd.Index([r[0] for r in rows], name="fid", dtype="int64")
        geoms = decode_geometries([r[1] for r in rows]) if rows else np.array([], dtype=object)
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries(geoms, index=index, crs="EPSG:4326"))

    def iter_frames(
        self,
        layer: Layer,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        filter: FilterTree | None = None,
        order_by: OrderBy | None = None,
        chunk_size: int = 50_000,
    ) -> Iterator[gpd.GeoDataFrame]:
        sql_where, params, residual = self._where_sql(layer, bbox, where, None, filter)
        # A connection of its own, so that the caller may read (or write) on this
        # thread's connection between chunks.
        conn = self._connect()
        try:
            cur = conn.execute(self._select(layer, sql_where, order_by), params)
            while True:
                rows = cur.fetchmany(chunk_size)
                if not rows:
                    break
                yield self._refine(layer, self._frame(layer, rows), bbox, residual)
        finally:
            conn.close()

    def read_rows(
        self,
        layer: Layer,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        filter: FilterTree | None = None,
        order_by: OrderBy | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[tuple], int]:
        """One page as ``(fid, geometry, *values in catalog order)`` tuples, and the number
        of features matched in all.

        The same selection as :meth:`read` without building a GeoDataFrame: the OGC API
        serves pages of big layers from here. A bbox page counts its matches from the one
        R-tree read it makes anyway; an unfiltered count comes from gpkg_ogr_contents. A
        filter SQLite cannot wholly express is finished on the rows it narrowed to.
        """
        cols = layer.field_names
        sql_where, params, residual = self._where_sql(layer, bbox, where, None, filter)
        if residual is not None:
            gdf = self.read(layer, bbox=bbox, where=where, filter=filter, order_by=order_by)
            page = gdf.iloc[offset : None if limit is None else offset + limit]
            return _frame_rows(layer, page), len(gdf)
        order = _order_sql(layer, order_by)
        sql = self._select(layer, sql_where, order_by)
        if bbox is None:
            if limit is not None:
                sql += " LIMIT ? OFFSET ?"
                params = [*params, int(limit), int(offset)]
            rows = self.conn.execute(sql, params).fetchall()
            geoms = decode_geometries([r[1] for r in rows]) if rows else np.array([], dtype=object)
            matched = self.count(layer, where=where, filter=filter)
        elif not where and filter is None and all(name == "fid" for name, _ in order_by or ()):
            rows, geoms, matched = self._bbox_page_by_rtree(layer, bbox, order_by, limit, offset)
        else:
            # Exact test and count on (fid, geom) of every R-tree candidate; the other
            # columns only for the page.
            cands = self.conn.execute(
                f"SELECT fid, geom FROM {_q(layer.id)}{sql_where} ORDER BY {order}", params
            ).fetchall()
            geoms = decode_geometries([r[1] for r in cands]) if cands else np.array([], dtype=object)
            keep = np.flatnonzero(shapely.intersects(geoms, shapely.box(*bbox))) if cands else []
            matched = len(keep)
            keep = keep[offset : None if limit is None else offset + limit]
            page_fids = [cands[i][0] for i in keep]
            geoms = geoms[keep] if len(keep) else np.array([], dtype=object)
            by_fid = {}
            if page_fids:
                by_fid = {
                    r[0]: r
                    for r in self.conn.execute(
                        f"SELECT fid, NULL, {', '.join(_q(c) for c in cols)} FROM {_q(layer.id)} "
                        f"WHERE fid IN ({', '.join('?' * len(page_fids))})",
                        page_fids,
                    )
                }
            rows = [by_fid[f] for f in page_fids]
        # Only booleans and dates need converting; text and numbers come out as they are.
        convert = [(i, f.type) for i, f in enumerate(layer.fields) if f.type in ("bool", "date")]
        out = []
        for r, g in zip(rows, geoms, strict=True):
            values = list(r[2:])
            for i, ftype in convert:
                values[i] = _from_sql(values[i], ftype)
            out.append((int(r[0]), g, *values))
        return out, matched

    def _bbox_page_by_rtree(self, layer: Layer, bbox: BBox, order_by, limit, offset):
        """A bbox page in fid order, counted from the R-tree alone where it can be.

        An R-tree box lies around its feature (SQLite rounds it outwards to float32), so
        a feature whose R-tree box is inside the query box certainly intersects it: only
        the features whose boxes straddle the edge are read and tested exactly.
        """
        minx, miny, maxx, maxy = bbox
        ents = self.conn.execute(
            f"SELECT id, minx, maxx, miny, maxy FROM {_q('rtree_' + layer.id + '_geom')} "
            "WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?",
            (maxx, minx, maxy, miny),
        ).fetchall()
        if ents:
            arr = np.array(ents, dtype=float)
            ids = arr[:, 0].astype(np.int64)
            inside = (arr[:, 1] >= minx) & (arr[:, 2] <= maxx) & (arr[:, 3] >= miny) & (arr[:, 4] <= maxy)
            edge = ids[~inside].tolist()
            keep = ids[inside]
            if edge:
                blobs = self.conn.execute(
                    f"SELECT fid, geom FROM {_q(layer.id)} WHERE fid IN ({', '.join('?' * len(edge))})", edge
                ).fetchall()
                if blobs:
                    hit = shapely.intersects(decode_geometries([b[1] for b in blobs]), shapely.box(*bbox))
                    keep = np.concatenate([keep, np.array([b[0] for b in blobs], dtype=np.int64)[hit]])
            keep = np.sort(keep)
        else:
            keep = np.array([], dtype=np.int64)
        if order_by and not order_by[0][1]:
            keep = keep[::-1]
        matched = len(keep)
        page_fids = keep[offset : None if limit is None else offset + limit].tolist()
        if not page_fids:
            return [], np.array([], dtype=object), matched
        by_fid = {
            r[0]: r
            for r in self.conn.execute(
                f"SELECT fid, geom, {', '.join(_q(c) for c in layer.field_names)} FROM {_q(layer.id)} "
                f"WHERE fid IN ({', '.join('?' * len(page_fids))})",
                page_fids,
            )
        }
        rows = [by_fid[f] for f in page_fids]
        return rows, decode_geometries([r[1] for r in rows]), matched

    def _frame(self, layer: Layer, rows: list[tuple]) -> gpd.GeoDataFrame:
        cols = layer.field_names
        fids = [r[0] for r in rows]
        geoms = decode_geometries([r[1] for r in rows]) if rows else np.array([], dtype=object)
        data: dict[str, Any] = {}
        for i, f in enumerate(layer.fields, start=2):
            values = [r[i] for r in rows]
            if f.type == "bool":
                data[f.name] = pd.array(
                    [None if v is None else bool(v) for v in values], dtype="boolean"
                )
            elif f.type == "int":
                data[f.name] = pd.array(values, dtype="Int64")
            elif f.type == "float":
                data[f.name] = pd.array(
                    [np.nan if v is None else float(v) for v in values], dtype="float64"
                )
            elif f.type == "date":
                data[f.name] = pd.array(
                    [None if v is None else str(v)[:10] for v in values], dtype=object
                )
            else:
                data[f.name] = pd.array(values, dtype=object)
        index = pd.Index(fids, name="fid", dtype="int64")
        df = pd.DataFrame(data, index=index, columns=cols)
        return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, index=index, crs="EPSG:4326"))

    def count(
        self,
        layer: Layer,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        filter: FilterTree | None = None,
    ) -> int:
        if bbox is None and not where and filter is None:
            row = self.conn.execute(
                "SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = ?", (layer.id,)
            ).fetchone()
            if row and row[0] is not None:
                return int(row[0])
        sql_where, params, residual = self._where_sql(layer, bbox, where, None, filter)
        if bbox is None and residual is None:
            return int(
                self.conn.execute(f"SELECT count(*) FROM {_q(layer.id)}{sql_where}", params).fetchone()[0]
            )
        if residual is None:
            return self.read_rows(layer, bbox=bbox, where=where, limit=0)[1]
        return sum(len(chunk) for chunk in self.iter_frames(layer, bbox=bbox, where=where, filter=filter))

    def candidates(self, layer: Layer, boxes: np.ndarray) -> np.ndarray:
        """Fids from the GeoPackage R-tree whose box meets any of ``boxes``."""
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        if len(boxes) == 0:
            return np.array([], dtype=np.int64)
        sql = (
            f"SELECT id FROM {_q('rtree_' + layer.id + '_geom')} "
            "WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?"
        )
        conn = self.conn
        found = [
            np.fromiter((r[0] for r in conn.execute(sql, (b[2], b[0], b[3], b[1]))), dtype=np.int64)
            for b in boxes.tolist()
        ]
        return np.unique(np.concatenate(found))

    def temporal_extent(self, layer: Layer, field: str) -> tuple[str, str] | None:
        layer.field(field)
        q = _q(field)
        lo, hi = self.conn.execute(
            f"SELECT min({q}), max({q}) FROM {_q(layer.id)} WHERE {q} IS NOT NULL"
        ).fetchone()
        return None if lo is None else (str(lo), str(hi))

    def snapshot(self) -> _ReadSnapshot:
        return _ReadSnapshot(self.conn)

    def get(self, layer: Layer, fid: int) -> dict[str, Any] | None:
        return self._get(self.conn, layer, fid)

    def _get(self, conn: sqlite3.Connection, layer: Layer, fid: int) -> dict[str, Any] | None:
        cols = layer.field_names
        row = conn.execute(
            f"SELECT fid, geom, {', '.join(_q(c) for c in cols)} FROM {_q(layer.id)} WHERE fid = ?",
            (int(fid),),
        ).fetchone()
        if row is None:
            return None
        geom = decode_geometries([row[1]])[0]
        props = {f.name: _from_sql(v, f.type) for f, v in zip(layer.fields, row[2:], strict=False)}
        return {"fid": int(row[0]), "properties": props, "geometry": geom}

    # -- writing -----------------------------------------------------------------------

    def _check_unique(self, conn, layer: Layer, props: dict[str, Any], fid: int | None, row=None):
        for f in layer.fields:
            if not f.unique or props.get(f.name) is None:
                continue
            sql = f"SELECT fid FROM {_q(layer.id)} WHERE {_q(f.name)} = ?"
            params: list[Any] = [_to_sql(props[f.name], f.type)]
            if fid is not None:
                sql += " AND fid != ?"
                params.append(fid)
            hit = conn.execute(sql, params).fetchone()
            if hit:
                raise unique_error(layer, f.name, props[f.name], hit[0], row)

    def _history(self, conn, layer: Layer, fid: int, op: str, user: str, before, after) -> None:
        conn.execute(
            f"INSERT INTO {HISTORY_TABLE}(layer, fid, op, user, at, before, after) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                layer.id,
                fid,
                op,
                user,
                now_iso(),
                None if before is None else json.dumps(_feature_json(before), ensure_ascii=False),
                None if after is None else json.dumps(_feature_json(after), ensure_ascii=False),
            ),
        )

    def _touch(self, conn, layer: Layer, geoms: Sequence[BaseGeometry]) -> None:
        """Keep gpkg_contents' last_change and extent current, as GDAL does."""
        bounds = shapely.total_bounds(np.array(list(geoms), dtype=object)) if geoms else None
        if bounds is not None and not np.isnan(bounds).any():
            conn.execute(
                "UPDATE gpkg_contents SET last_change = ?, "
                "min_x = min(coalesce(min_x, ?), ?), min_y = min(coalesce(min_y, ?), ?), "
                "max_x = max(coalesce(max_x, ?), ?), max_y = max(coalesce(max_y, ?), ?) "
                "WHERE table_name = ?",
                (now_iso(), *np.repeat(bounds, 2).tolist(), layer.id),
            )
        else:
            conn.execute(
                "UPDATE gpkg_contents SET last_change = ? WHERE table_name = ?", (now_iso(), layer.id)
            )

    def add(
        self,
        layer: Layer,
        rows: Sequence[tuple[dict[str, Any], BaseGeometry]],
        *,
        user: str,
        history: bool = True,
    ) -> list[int]:
        cols = layer.field_names
        sql = (
            f"INSERT INTO {_q(layer.id)}(geom, {', '.join(_q(c) for c in cols)}) "
            f"VALUES (?, {', '.join('?' * len(cols))})"
        )
        fids: list[int] = []
        conn = self.conn
        with self._write():
            for i, (props, geom) in enumerate(rows, start=1):
                self._check_unique(conn, layer, props, None, row=i if len(rows) > 1 else None)
                values = [_to_sql(props.get(f.name), f.type) for f in layer.fields]
                cur = conn.execute(sql, [encode_geometry(geom), *values])
                fid = int(cur.lastrowid)
                fids.append(fid)
                if history:
                    full = {f.name: props.get(f.name) for f in layer.fields}
                    after = {"fid": fid, "properties": full, "geometry": geom}
                    self._history(conn, layer, fid, "add", user, None, after)
            self._touch(conn, layer, [g for _, g in rows])
        return fids

    def _locked_current(self, conn, layer: Layer, fid: int, expected) -> dict[str, Any]:
        current = self._get(conn, layer, fid)
        if current is None:
            raise NotFoundError(f"layer {layer.id}: no feature {fid}", layer=layer.id, fid=fid)
        if expected is not None and not same_feature(current, expected):
            raise ConflictError(
                f"layer {layer.id}: feature {fid} was changed by someone else since you read it",
                layer=layer.id,
                fid=fid,
                current=_feature_json(current),
            )
        return current

    def update(
        self,
        layer: Layer,
        fid: int,
        properties: dict[str, Any],
        geometry: BaseGeometry | None,
        *,
        user: str,
        expected: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.update_cascade(layer, fid, properties, geometry, user=user, expected=expected)

    def update_cascade(
        self,
        layer: Layer,
        fid: int,
        properties: dict[str, Any],
        geometry: BaseGeometry | None,
        *,
        user: str,
        expected: dict[str, Any] | None = None,
        cascades: Sequence[tuple[Layer, str, Any, Any]] = (),
    ) -> dict[str, Any]:
        conn = self.conn
        with self._write():
            before = self._locked_current(conn, layer, fid, expected)
            props = {**before["properties"], **properties}
            self._check_unique(conn, layer, props, fid)
            assignments = [f"{_q(f.name)} = ?" for f in layer.fields]
            values = [_to_sql(props.get(f.name), f.type) for f in layer.fields]
            if geometry is not None:
                assignments.append("geom = ?")
                values.append(encode_geometry(geometry))
            conn.execute(f"UPDATE {_q(layer.id)} SET {', '.join(assignments)} WHERE fid = ?", [*values, fid])
            after = self._get(conn, layer, fid)
            self._history(conn, layer, fid, "update", user, before, after)
            self._touch(conn, layer, [after["geometry"]])
            for ref, field, old, new in cascades:
                ftype = ref.field(field).type
                fids = [r[0] for r in conn.execute(
                    f"SELECT fid FROM {_q(ref.id)} WHERE {_q(field)} = ? ORDER BY fid", (_to_sql(old, ftype),)
                )]
                for ref_fid in fids:
                    was = self._get(conn, ref, ref_fid)
                    conn.execute(f"UPDATE {_q(ref.id)} SET {_q(field)} = ? WHERE fid = ?", (_to_sql(new, ftype), ref_fid))
                    self._history(conn, ref, ref_fid, "update", user, was, self._get(conn, ref, ref_fid))
                if fids:
                    self._touch(conn, ref, [])
        return after

    def delete(
        self, layer: Layer, fid: int, *, user: str, expected: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        conn = self.conn
        with self._write():
            before = self._locked_current(conn, layer, fid, expected)
            conn.execute(f"DELETE FROM {_q(layer.id)} WHERE fid = ?", (fid,))
            self._history(conn, layer, fid, "delete", user, before, None)
            self._touch(conn, layer, [])
        return before

    def add_and_update(
        self,
        layer: Layer,
        adds: Sequence[tuple[dict[str, Any], BaseGeometry]],
        updates: Sequence[tuple[int, dict[str, Any], BaseGeometry | None]],
        *,
        user: str,
    ) -> list[int]:
        """Adds and updates in one ``BEGIN IMMEDIATE`` transaction (imports with --update)."""
        cols = layer.field_names
        insert = (
            f"INSERT INTO {_q(layer.id)}(geom, {', '.join(_q(c) for c in cols)}) "
            f"VALUES (?, {', '.join('?' * len(cols))})"
        )
        conn = self.conn
        fids: list[int] = []
        touched: list[BaseGeometry] = []
        with self._write():
            for fid, properties, geometry in updates:
                before = self._locked_current(conn, layer, int(fid), None)
                props = {**before["properties"], **properties}
                self._check_unique(conn, layer, props, int(fid))
                assignments = [f"{_q(f.name)} = ?" for f in layer.fields]
                values = [_to_sql(props.get(f.name), f.type) for f in layer.fields]
                if geometry is not None:
                    assignments.append("geom = ?")
                    values.append(encode_geometry(geometry))
                conn.execute(
                    f"UPDATE {_q(layer.id)} SET {', '.join(assignments)} WHERE fid = ?",
                    [*values, int(fid)],
                )
                after = self._get(conn, layer, int(fid))
                self._history(conn, layer, int(fid), "update", user, before, after)
                touched.append(after["geometry"])
            for i, (props, geom) in enumerate(adds, start=1):
                self._check_unique(conn, layer, props, None, row=i if len(adds) > 1 else None)
                values = [_to_sql(props.get(f.name), f.type) for f in layer.fields]
                fid = int(conn.execute(insert, [encode_geometry(geom), *values]).lastrowid)
                fids.append(fid)
                full = {f.name: props.get(f.name) for f in layer.fields}
                after = {"fid": fid, "properties": full, "geometry": geom}
                self._history(conn, layer, fid, "add", user, None, after)
                touched.append(geom)
            self._touch(conn, layer, [g for g in touched if g is not None])
        return fids

    # -- history and metadata -----------------------------------------------------------

    def history(
        self,
        layer: str | None = None,
        fid: int | None = None,
        since: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        clauses, params = ["id > ?"], [since]
        if layer is not None:
            clauses.append("layer = ?")
            params.append(layer)
        if fid is not None:
            clauses.append("fid = ?")
            params.append(int(fid))
        sql = (
            f"SELECT id, layer, fid, op, user, at, before, after FROM {HISTORY_TABLE} "
            f"WHERE {' AND '.join(clauses)} ORDER BY id {'DESC' if newest_first else 'ASC'}"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        out = []
        for row in self.conn.execute(sql, params):
            out.append(
                {
                    "id": row[0],
                    "layer": row[1],
                    "fid": row[2],
                    "op": row[3],
                    "user": row[4],
                    "at": row[5],
                    "before": None if row[6] is None else json.loads(row[6]),
                    "after": None if row[7] is None else json.loads(row[7]),
                }
            )
        return out

    def last_change(self, layer: str | None = None) -> int:
        if layer is None:
            row = self.conn.execute(f"SELECT max(id) FROM {HISTORY_TABLE}").fetchone()
        else:
            row = self.conn.execute(f"SELECT max(id) FROM {HISTORY_TABLE} WHERE layer = ?", (layer,)).fetchone()
        return int(row[0] or 0)

    def layer_stamp(self, layer: Layer) -> object:
        """gpkg_contents.last_change, which hehu and GDAL both update on every write."""
        row = self.conn.execute(
            "SELECT last_change FROM gpkg_contents WHERE table_name = ?", (layer.id,)
        ).fetchone()
        return (row[0] if row else None, self.last_change(layer.id))

    def stamps(self) -> tuple[dict[str, tuple], int]:
        """Each feature table's ``gpkg_contents.last_change`` and GDAL feature count (kept
        by every writer, hehu and GDAL alike) and the newest history id."""
        with self.snapshot():
            rows = self.conn.execute(
                "SELECT c.table_name, c.last_change, o.feature_count FROM gpkg_contents c "
                "LEFT JOIN gpkg_ogr_contents o ON o.table_name = c.table_name "
                "WHERE c.data_type = 'features' ORDER BY c.table_name"
            ).fetchall()
            last = self.conn.execute(f"SELECT max(id) FROM {HISTORY_TABLE}").fetchone()[0]
        return {r[0]: (r[1], r[2]) for r in rows}, int(last or 0)

    def changes_since(self, history_id: int) -> list[tuple[str, int]]:
        return [
            (r[0], int(r[1]))
            for r in self.conn.execute(
                f"SELECT layer, fid FROM {HISTORY_TABLE} WHERE id > ? ORDER BY id", (int(history_id),)
            )
        ]

    # -- attachments ----------------------------------------------------------------------------

    def _attachment_history(self, conn, record: dict[str, Any], op: str, user: str) -> None:
        entry = json.dumps(attachment_history(record), ensure_ascii=False)
        conn.execute(
            f"INSERT INTO {HISTORY_TABLE}(layer, fid, op, user, at, before, after) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (record["layer"], record["fid"], op, user, now_iso(),
             entry if op == "detach" else None, entry if op == "attach" else None),
        )

    def add_attachment(
        self, layer: Layer, fid: int, record: dict[str, Any], data: bytes, thumbnail: bytes | None, *, user: str
    ) -> dict[str, Any]:
        conn = self.conn
        cols = [c for c in ATTACHMENT_FIELDS if c != "id"]
        with self._write():
            if self._get(conn, layer, int(fid)) is None:
                raise NotFoundError(f"layer {layer.id}: no feature {fid}", layer=layer.id, fid=fid)
            rec = {**{c: record.get(c) for c in cols}, "layer": layer.id, "fid": int(fid), "created_at": now_iso()}
            cur = conn.execute(
                f"INSERT INTO {MEDIA_TABLE}(data, thumbnail, {', '.join(cols)}) VALUES (?, ?, {', '.join('?' * len(cols))})",
                [sqlite3.Binary(data), None if thumbnail is None else sqlite3.Binary(thumbnail), *(rec[c] for c in cols)],
            )
            rec = {"id": int(cur.lastrowid), **rec}
            conn.execute(f"INSERT INTO {_q(_mapping_table(layer.id))}(base_id, related_id) VALUES (?, ?)", (int(fid), rec["id"]))
            self._attachment_history(conn, rec, "attach", user)
            self._touch(conn, layer, [])
        return attachment_record(tuple(rec[c] for c in ATTACHMENT_FIELDS))

    def list_attachments(self, layer: Layer, fid: int) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            f"SELECT {', '.join(ATTACHMENT_FIELDS)} FROM {MEDIA_TABLE} WHERE layer = ? AND fid = ? ORDER BY id",
            (layer.id, int(fid)),
        ).fetchall()
        return [attachment_record(r) for r in rows]

    def get_attachment(self, attachment_id: int, *, thumbnail: bool = False) -> tuple[dict[str, Any], bytes | None] | None:
        row = self.conn.execute(
            f"SELECT {', '.join(ATTACHMENT_FIELDS)}, {'thumbnail' if thumbnail else 'data'} FROM {MEDIA_TABLE} WHERE id = ?",
            (int(attachment_id),),
        ).fetchone()
        if row is None:
            return None
        return attachment_record(row[:-1]), None if row[-1] is None else bytes(row[-1])

    def delete_attachment(self, attachment_id: int, *, user: str) -> dict[str, Any]:
        conn = self.conn
        with self._write():
            row = conn.execute(
                f"SELECT {', '.join(ATTACHMENT_FIELDS)} FROM {MEDIA_TABLE} WHERE id = ?", (int(attachment_id),)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no attachment {attachment_id}", attachment=attachment_id)
            rec = attachment_record(row)
            conn.execute(f"DELETE FROM {MEDIA_TABLE} WHERE id = ?", (rec["id"],))
            if _table_exists(conn, _mapping_table(rec["layer"])):
                conn.execute(f"DELETE FROM {_q(_mapping_table(rec['layer']))} WHERE related_id = ?", (rec["id"],))
            self._attachment_history(conn, rec, "detach", user)
            layer = self.catalog[rec["layer"]] if rec["layer"] in {lyr.id for lyr in self.catalog} else None
            if layer is not None:
                self._touch(conn, layer, [])
        return rec

    def attachment_counts(self, layer: Layer, fids: Sequence[int] | None = None) -> dict[int, dict[str, int]]:
        sql = f"SELECT fid, kind, count(*) FROM {MEDIA_TABLE} WHERE layer = ?"
        params: list[Any] = [layer.id]
        if fids is not None:
            sql += " AND fid IN (SELECT value FROM json_each(?))"
            params.append(json.dumps([int(f) for f in fids]))
        out: dict[int, dict[str, int]] = {}
        for fid, kind, n in self.conn.execute(sql + " GROUP BY fid, kind", params):
            out.setdefault(int(fid), {})[kind] = int(n)
        return out

    def attachments_by_fid(self, layer: Layer, fids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {}
        rows = self.conn.execute(
            f"SELECT {', '.join(ATTACHMENT_FIELDS)} FROM {MEDIA_TABLE} WHERE layer = ? "
            "AND fid IN (SELECT value FROM json_each(?)) ORDER BY id",
            (layer.id, json.dumps([int(f) for f in fids])),
        )
        for row in rows:
            rec = attachment_record(row)
            out.setdefault(int(rec["fid"]), []).append(rec)
        return out

    def iter_attachments(self) -> Iterator[tuple[dict[str, Any], bytes, bytes | None]]:
        conn = self._connect()  # its own connection: the caller may write between rows
        try:
            cur = conn.execute(f"SELECT {', '.join(ATTACHMENT_FIELDS)}, data, thumbnail FROM {MEDIA_TABLE} ORDER BY id")
            for row in cur:
                yield attachment_record(row[:-2]), bytes(row[-2]), None if row[-1] is None else bytes(row[-1])
        finally:
            conn.close()

    # -- users ------------------------------------------------------------------------------

    _USER_COLUMNS = ("name", "role", "token_salt", "token_hash", "created_at", "active")

    def _user(self, row) -> dict[str, Any]:
        record = dict(zip(self._USER_COLUMNS, row, strict=True))
        record["active"] = bool(record["active"])
        return record

    def get_user(self, name: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            f"SELECT {', '.join(self._USER_COLUMNS)} FROM {USERS_TABLE} WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else self._user(row)

    def list_users(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(f"SELECT {', '.join(self._USER_COLUMNS)} FROM {USERS_TABLE} ORDER BY name")
        return [self._user(r) for r in rows]

    def add_user(self, record: dict[str, Any]) -> None:
        with self._write() as conn:
            if conn.execute(f"SELECT 1 FROM {USERS_TABLE} WHERE name = ?", (record["name"],)).fetchone():
                raise ValidationError(f"user {record['name']!r} already exists", field="name", value=record["name"])
            conn.execute(
                f"INSERT INTO {USERS_TABLE}({', '.join(self._USER_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
                [record[c] if c != "active" else int(bool(record.get(c, True))) for c in self._USER_COLUMNS],
            )

    def update_user(self, name: str, **changes: Any) -> bool:
        unknown = set(changes) - set(self._USER_COLUMNS[1:])
        if unknown:
            raise ValueError(f"unknown user fields {sorted(unknown)}")
        if not changes:
            return self.get_user(name) is not None
        values = [int(bool(v)) if k == "active" else v for k, v in changes.items()]
        with self._write() as conn:
            cur = conn.execute(
                f"UPDATE {USERS_TABLE} SET {', '.join(f'{k} = ?' for k in changes)} WHERE name = ?",
                [*values, name],
            )
        return cur.rowcount > 0

    def revoke_session(self, sid_hash: str, user: str, expires_at: str) -> None:
        now = now_iso()
        with self._write() as conn:
            conn.execute(f"DELETE FROM {SESSIONS_TABLE} WHERE expires_at < ?", (now,))
            conn.execute(
                f"INSERT OR REPLACE INTO {SESSIONS_TABLE}(sid_hash, user, revoked_at, expires_at) VALUES (?, ?, ?, ?)",
                (sid_hash, user, now, expires_at),
            )

    def session_revoked(self, sid_hash: str) -> bool:
        row = self.conn.execute(
            f"SELECT 1 FROM {SESSIONS_TABLE} WHERE sid_hash = ? AND expires_at >= ?", (sid_hash, now_iso())
        ).fetchone()
        return row is not None

    def data_version(self) -> tuple:
        """A value that changes with every committed write by any connection or process.

        Built from what every writer (hehu and GDAL alike) updates: each table's
        ``gpkg_contents.last_change``, the feature counts and the newest history id. It
        is the same for every connection, unlike SQLite's per-connection
        ``PRAGMA data_version``, so caches shared by server threads can key on it.
        """
        row = self.conn.execute(
            "SELECT group_concat(c.table_name || '@' || c.last_change || '#' || "
            "coalesce(o.feature_count, ''), ';'), "
            f"(SELECT max(id) FROM {HISTORY_TABLE}) FROM gpkg_contents c "
            "LEFT JOIN gpkg_ogr_contents o ON o.table_name = c.table_name "
            "WHERE c.data_type = 'features'"
        ).fetchone()
        return (int(row[1] or 0), row[0] or "")

    def metadata(self) -> dict[str, Any]:
        return {
            k: json.loads(v) for k, v in self.conn.execute(f"SELECT key, value FROM {META_TABLE}")
        }

    def set_metadata(self, values: dict[str, Any]) -> None:
        with self._write():
            for key, value in values.items():
                self.conn.execute(
                    f"INSERT OR REPLACE INTO {META_TABLE}(key, value) VALUES (?, ?)",
                    (key, json.dumps(value, ensure_ascii=False)),
                )

    def extent(self, layer: Layer) -> tuple[float, float, float, float] | None:
        row = self.conn.execute(
            "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?", (layer.id,)
        ).fetchone()
        if row is None or any(v is None for v in row):
            return None
        return tuple(float(v) for v in row)


class _ReadSnapshot:
    """One read transaction on this thread's connection (nested uses join it), so that
    stamps, history and rows read inside agree with each other."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.began = False

    def __enter__(self):
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")
            self.began = True
        return self

    def __exit__(self, *exc):
        if self.began:
            self.conn.execute("COMMIT")
        return False


def _ensure_wal(conn: sqlite3.Connection) -> None:
    """Put the file back in WAL mode: QGIS switches a GeoPackage it opens to a rollback
    journal, and readers then wait on writers. Switching needs a moment with no other
    connection; when another program holds the file, the next open tries again."""
    try:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
    except sqlite3.OperationalError:
        pass


def _frame_rows(layer: Layer, page: gpd.GeoDataFrame) -> list[tuple]:
    """A frame's rows as ``(fid, geometry, *values in catalog order)``, None for missing."""
    names = layer.field_names
    values = page[names].astype(object).where(page[names].notna(), None)
    return [
        (int(fid), geom, *vals)
        for fid, geom, vals in zip(
            page.index, page.geometry.values, values.itertuples(index=False), strict=True
        )
    ]


class _WriteTransaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any error."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
        return False


# -- DDL ---------------------------------------------------------------------------


def _create_core_tables(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL "
        "PRIMARY KEY, organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, "
        "definition TEXT NOT NULL, description TEXT)"
    )
    wkt = CRS.from_epsg(4326).to_wkt("WKT1_GDAL")
    conn.executemany(
        "INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)",
        [
            ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
            ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
            ("WGS 84 geodetic", 4326, "EPSG", 4326, wkt, "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
        ],
    )
    conn.execute(
        "CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, "
        "identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT "
        "(strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, "
        "max_y DOUBLE, srs_id INTEGER, CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES "
        "gpkg_spatial_ref_sys(srs_id))"
    )
    conn.execute(
        "CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, "
        "geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, "
        "m TINYINT NOT NULL, CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name), "
        "CONSTRAINT uk_gc_table_name UNIQUE (table_name), CONSTRAINT fk_gc_tn FOREIGN KEY "
        "(table_name) REFERENCES gpkg_contents(table_name), CONSTRAINT fk_gc_srs FOREIGN KEY "
        "(srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))"
    )
    conn.execute(
        "CREATE TABLE gpkg_extensions (table_name TEXT, column_name TEXT, extension_name TEXT "
        "NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE "
        "(table_name, column_name, extension_name))"
    )
    # GDAL's feature-count cache, kept exact by triggers: cheap numberMatched.
    conn.execute(
        "CREATE TABLE gpkg_ogr_contents (table_name TEXT NOT NULL PRIMARY KEY, "
        "feature_count INTEGER DEFAULT NULL)"
    )


def _create_layer_table(conn: sqlite3.Connection, layer: Layer) -> None:
    t = layer.id
    cols = ", ".join(f"{_q(f.name)} {f.gpkg_type}" for f in layer.fields)
    conn.execute(
        f"CREATE TABLE {_q(t)} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "
        f"geom {layer.gpkg_geometry_type}, {cols})"
    )
    conn.execute(
        "INSERT INTO gpkg_contents(table_name, data_type, identifier, description, srs_id) "
        "VALUES (?, 'features', ?, ?, ?)",
        (t, t, f"{layer.title_zh} / {layer.title_en}", SRS_ID),
    )
    conn.execute(
        "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)",
        (t, layer.gpkg_geometry_type, SRS_ID),
    )
    conn.execute("INSERT INTO gpkg_ogr_contents VALUES (?, 0)", (t,))
    rt = _q(f"rtree_{t}_geom")
    conn.execute(
        "INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', "
        "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
        (t,),
    )
    conn.execute(f"CREATE VIRTUAL TABLE {rt} USING rtree(id, minx, maxx, miny, maxy)")
    vals = '(NEW."fid", ST_MinX(NEW."geom"), ST_MaxX(NEW."geom"), ST_MinY(NEW."geom"), ST_MaxY(NEW."geom"))'
    tq = _q(t)
    triggers = {
        "insert": f'AFTER INSERT ON {tq} WHEN (new."geom" NOT NULL AND NOT ST_IsEmpty(NEW."geom")) '
        f"BEGIN INSERT OR REPLACE INTO {rt} VALUES {vals}; END",
        "update1": f'AFTER UPDATE OF "geom" ON {tq} WHEN OLD."fid" = NEW."fid" AND '
        f'(NEW."geom" NOTNULL AND NOT ST_IsEmpty(NEW."geom")) BEGIN INSERT OR REPLACE INTO {rt} '
        f"VALUES {vals}; END",
        "update2": f'AFTER UPDATE OF "geom" ON {tq} WHEN OLD."fid" = NEW."fid" AND '
        f'(NEW."geom" ISNULL OR ST_IsEmpty(NEW."geom")) BEGIN DELETE FROM {rt} WHERE id = OLD."fid"; END',
        "update3": f'AFTER UPDATE ON {tq} WHEN OLD."fid" != NEW."fid" AND (NEW."geom" NOTNULL AND '
        f'NOT ST_IsEmpty(NEW."geom")) BEGIN DELETE FROM {rt} WHERE id = OLD."fid"; '
        f"INSERT OR REPLACE INTO {rt} VALUES {vals}; END",
        "update4": f'AFTER UPDATE ON {tq} WHEN OLD."fid" != NEW."fid" AND (NEW."geom" ISNULL OR '
        f'ST_IsEmpty(NEW."geom")) BEGIN DELETE FROM {rt} WHERE id IN (OLD."fid", NEW."fid"); END',
        "delete": f'AFTER DELETE ON {tq} WHEN old."geom" NOT NULL BEGIN DELETE FROM {rt} '
        'WHERE id = OLD."fid"; END',
    }
    for name, body in triggers.items():
        conn.execute(f"CREATE TRIGGER {_q(f'rtree_{t}_geom_{name}')} {body}")
    conn.execute(
        f"CREATE TRIGGER {_q(f'trigger_insert_feature_count_{t}')} AFTER INSERT ON {tq} BEGIN "
        "UPDATE gpkg_ogr_contents SET feature_count = feature_count + 1 "
        f"WHERE lower(table_name) = lower('{t}'); END"
    )
    conn.execute(
        f"CREATE TRIGGER {_q(f'trigger_delete_feature_count_{t}')} AFTER DELETE ON {tq} BEGIN "
        "UPDATE gpkg_ogr_contents SET feature_count = feature_count - 1 "
        f"WHERE lower(table_name) = lower('{t}'); END"
    )
    _create_constraints(conn, layer)
    _write_data_columns(conn, layer)


def _upgrade_file(store: GeoPackageStore, catalog: Catalog) -> None:
    """Bring a file made by an older hehu to what this one writes: the GeoPackage version
    it really is, registry internals out of gpkg_contents, field titles for clients."""
    conn = store.conn
    if conn.execute("PRAGMA user_version").fetchone()[0] != GPKG_USER_VERSION:
        conn.execute(f"PRAGMA user_version = {GPKG_USER_VERSION}")
    hidden = conn.execute(
        f"SELECT count(*) FROM gpkg_contents WHERE table_name IN ({', '.join('?' * len(HIDDEN_TABLES))})",
        HIDDEN_TABLES,
    ).fetchone()[0]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    described = set()
    if "gpkg_data_columns" in tables:
        described = {r[0] for r in conn.execute("SELECT DISTINCT table_name FROM gpkg_data_columns")}
    stale = [layer for layer in catalog if layer.id not in described]
    if hidden or stale:
        with store._write():
            conn.execute(
                f"DELETE FROM gpkg_contents WHERE table_name IN ({', '.join('?' * len(HIDDEN_TABLES))})",
                HIDDEN_TABLES,
            )
            for layer in stale:
                _write_data_columns(conn, layer)


def _write_data_columns(conn: sqlite3.Connection, layer: Layer) -> None:
    """The catalog's field titles and lists where GIS clients read them: the GeoPackage
    schema extension. GDAL (3.7 and later) turns ``gpkg_data_columns.name`` into the
    field's alias and ``description`` into its comment, which QGIS shows; a list becomes
    a coded-value field domain, a drop-down in QGIS forms."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, "
        "name TEXT, title TEXT, description TEXT, mime_type TEXT, constraint_name TEXT, "
        "CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), "
        "CONSTRAINT gdc_tn UNIQUE (table_name, name))"
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (constraint_name TEXT NOT NULL, "
        "constraint_type TEXT NOT NULL, value TEXT, min NUMERIC, min_is_inclusive BOOLEAN, max NUMERIC, "
        "max_is_inclusive BOOLEAN, description TEXT, "
        "CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value))"
    )
    for table in ("gpkg_data_columns", "gpkg_data_column_constraints"):
        conn.execute(
            "INSERT OR IGNORE INTO gpkg_extensions VALUES (?, NULL, 'gpkg_schema', "
            "'http://www.geopackage.org/spec/#extension_schema', 'read-write')",
            (table,),
        )
    conn.execute("DELETE FROM gpkg_data_columns WHERE table_name = ?", (layer.id,))
    for f in layer.fields:
        constraint = f"{layer.id}_{f.name}" if f.enum else None
        conn.execute(
            "INSERT INTO gpkg_data_columns VALUES (?, ?, ?, ?, ?, NULL, ?)",
            (layer.id, f.name, f.title_zh, f.title_zh, f.title_en, constraint),
        )
        if constraint:
            conn.execute("DELETE FROM gpkg_data_column_constraints WHERE constraint_name = ?", (constraint,))
            conn.executemany(
                "INSERT INTO gpkg_data_column_constraints VALUES (?, 'enum', ?, NULL, NULL, NULL, NULL, ?)",
                [(constraint, v, (f.enum_en or {}).get(v, v)) for v in f.enum],
            )


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _constraint_names(layer: Layer) -> list[str]:
    return [f"hehu_rules_{layer.id}_insert", f"hehu_rules_{layer.id}_update"]


def _create_constraints(conn: sqlite3.Connection, layer: Layer) -> None:
    """The catalog's hard rules inside the file, so that QGIS or GDAL cannot break them:
    a UNIQUE index on each unique field, and a trigger per write refusing an empty
    required field or a value outside its list (SQLite cannot add NOT NULL or CHECK to
    an existing table, and a trigger works the same for old and new files).

    A unique index cannot be built over rows that already repeat a value (written before
    the rules existed): then the plain index stays and ``hehu check`` names the rows.
    """
    t, tq = layer.id, _q(layer.id)
    for f in layer.fields:
        if not f.unique:
            continue
        try:
            conn.execute("SAVEPOINT hehu_unique")
            conn.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {_q(f'uq_{t}_{f.name}')} ON {tq}({_q(f.name)})")
            conn.execute("RELEASE hehu_unique")
            conn.execute(f"DROP INDEX IF EXISTS {_q(f'idx_{t}_{f.name}')}")
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK TO hehu_unique")
            conn.execute("RELEASE hehu_unique")
            conn.execute(f"CREATE INDEX IF NOT EXISTS {_q(f'idx_{t}_{f.name}')} ON {tq}({_q(f.name)})")
    cases = []
    for f in layer.fields:
        col = f'NEW.{_q(f.name)}'
        label = f"{t}.{f.name} ({f.title_zh})"
        if f.required:
            empty = f"{col} IS NULL" + (f" OR trim({col}) = ''" if f.type == "str" else "")
            cases.append(f"WHEN {empty} THEN RAISE(ABORT, {_sql_text(label + ' is required / 必填')})")
        if f.enum:
            allowed = ", ".join(_sql_text(v) for v in f.enum)
            message = f"{label} must be one of / 取值须为: {'、'.join(f.enum)}"
            cases.append(f"WHEN {col} IS NOT NULL AND {col} NOT IN ({allowed}) THEN RAISE(ABORT, {_sql_text(message)})")
    for name in _constraint_names(layer):
        conn.execute(f"DROP TRIGGER IF EXISTS {_q(name)}")
    if not cases:
        return
    body = f"BEGIN SELECT CASE {' '.join(cases)} END; END"
    insert, update = _constraint_names(layer)
    conn.execute(f"CREATE TRIGGER {_q(insert)} BEFORE INSERT ON {tq} {body}")
    conn.execute(f"CREATE TRIGGER {_q(update)} BEFORE UPDATE ON {tq} {body}")


def _has_constraints(conn: sqlite3.Connection, layer: Layer) -> bool:
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('trigger', 'index')")}
    needed = set(_constraint_names(layer)) if any(f.required or f.enum for f in layer.fields) else set()
    uniques = {f"uq_{layer.id}_{f.name}" for f in layer.fields if f.unique}
    plain = {f"idx_{layer.id}_{f.name}" for f in layer.fields if f.unique}
    return needed <= names and all(u in names or p in names for u, p in zip(sorted(uniques), sorted(plain), strict=True))


def _create_registry_tables(conn: sqlite3.Connection) -> None:
    existing = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    ddl = {
        META_TABLE: f"CREATE TABLE {META_TABLE} (key TEXT PRIMARY KEY NOT NULL, value TEXT)",
        HISTORY_TABLE: (
            f"CREATE TABLE {HISTORY_TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "
            "layer TEXT NOT NULL, fid INTEGER NOT NULL, op TEXT NOT NULL, user TEXT NOT NULL, "
            "at TEXT NOT NULL, before TEXT, after TEXT)"
        ),
        USERS_TABLE: (
            f"CREATE TABLE {USERS_TABLE} (name TEXT PRIMARY KEY NOT NULL, role TEXT NOT NULL, "
            "token_salt TEXT NOT NULL, token_hash TEXT NOT NULL, created_at TEXT NOT NULL, "
            "active BOOLEAN NOT NULL DEFAULT 1)"
        ),
        SESSIONS_TABLE: (
            f"CREATE TABLE {SESSIONS_TABLE} (sid_hash TEXT PRIMARY KEY NOT NULL, user TEXT NOT NULL, "
            "revoked_at TEXT NOT NULL, expires_at TEXT NOT NULL)"
        ),
    }
    descriptions = {
        META_TABLE: "hehu registry metadata",
        HISTORY_TABLE: "hehu edit history: who, when, what, before and after",
        USERS_TABLE: "hehu users and roles (salted token hashes only)",
        SESSIONS_TABLE: "hehu signed-out sessions (id hashes, until they expire)",
    }
    for name, sql in ddl.items():
        if name in existing:
            continue
        conn.execute(sql)
        if name in HIDDEN_TABLES:
            continue
        conn.execute(
            "INSERT INTO gpkg_contents(table_name, data_type, identifier, description) "
            "VALUES (?, 'attributes', ?, ?)",
            (name, name, descriptions[name]),
        )
    conn.execute(f"CREATE INDEX IF NOT EXISTS idx_{HISTORY_TABLE}_feature ON {HISTORY_TABLE}(layer, fid)")
    conn.execute(f"CREATE INDEX IF NOT EXISTS idx_{HISTORY_TABLE}_layer ON {HISTORY_TABLE}(layer, id)")


def _check_header(path: Path) -> None:
    """Refuse a path that is not an SQLite GeoPackage before SQLite opens (or creates) it."""
    if not path.exists():
        raise RegistryFileError(f"{path}: no such registry file")
    if path.is_dir():
        raise RegistryFileError(f"{path} is a folder, not a GeoPackage file")
    with path.open("rb") as fh:
        header = fh.read(100)
    if not header.startswith(b"SQLite format 3\x00"):
        raise RegistryFileError(f"{path} is not a GeoPackage (not an SQLite database)")
    app_id = struct.unpack(">I", header[68:72])[0]
    if app_id not in (GPKG_APPLICATION_ID, 0x47503130, 0):
        raise RegistryFileError(f"{path} is an SQLite database but not a GeoPackage")


def _bring_up_to_date(store: GeoPackageStore, catalog: Catalog, tables: set[str]) -> None:
    """What a file made by an older hehu (or before a catalog change) gains on open, each
    step additive or one transaction: split mixed layers, new layer tables, registry
    tables, WAL, format upgrades, the attachments' media tables and the catalog's rules."""
    if _split_mixed_layers(store, catalog, tables):
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    new_layers = [layer for layer in catalog if layer.id not in tables]
    if new_layers:
        with store._write():
            for layer in new_layers:
                _create_layer_table(store.conn, layer)
    if USERS_TABLE not in tables or SESSIONS_TABLE not in tables:
        with store._write():
            _create_registry_tables(store.conn)
    _ensure_wal(store.conn)
    _upgrade_file(store, catalog)
    # Registries made before attachments (or before a layer) gain the media tables.
    if not _has_media_tables(store.conn, catalog):
        with store._write():
            _create_media_tables(store.conn, catalog)
    # Files made before the catalog's rules were written into them get them now.
    stale = [layer for layer in catalog if not _has_constraints(store.conn, layer)]
    if stale:
        with store._write():
            for layer in stale:
                _create_constraints(store.conn, layer)


# -- one geometry type per layer -----------------------------------------------------------

#: GeoPackage/WKB type names of the geometries each declared family takes in.
_FAMILY_TYPES = {
    "Point": ("Point",),
    "LineString": ("LineString", "MultiLineString"),
    "Polygon": ("Polygon", "MultiPolygon"),
}
#: Who the history says moved features between layers.
MIGRATION_USER = "hehu-migration"


def _declared_type(conn: sqlite3.Connection, table: str) -> str | None:
    row = conn.execute(
        "SELECT geometry_type_name FROM gpkg_geometry_columns WHERE table_name = ?", (table,)
    ).fetchone()
    return None if row is None else str(row[0]).upper()


def _split_mixed_layers(store: GeoPackageStore, catalog: Catalog, tables: set[str]) -> bool:
    """Give each layer of a file made before "one geometry type per layer" its one type.

    For each catalog layer with ``split_from`` (``project_areas`` from ``projects``) whose
    source table is still declared ``GEOMETRY``: in one transaction, create the new
    layer's table, move the source's features of the new layer's type into it with
    their fields and their history (the old history rows follow the feature to its new
    layer and fid; a ``delete`` row in the source and an ``add`` row in the new layer,
    by :data:`MIGRATION_USER`, record the move, so caches following the history see
    it), promote the lines left behind to multi-lines and declare the source's type.
    A feature fitting neither layer stays where it is and ``hehu check`` names it.
    Returns whether anything was done.
    """
    pending = [
        layer for layer in catalog
        if layer.split_from in tables and layer.split_from in catalog
        and catalog[layer.split_from].geometry != "Geometry"
        and _declared_type(store.conn, layer.split_from) == "GEOMETRY"
    ]
    if not pending:
        return False
    conn = store.conn
    with store._write():
        for layer in pending:
            source = catalog[layer.split_from]
            # Another process may have done it between our look and our lock.
            if _declared_type(conn, source.id) != "GEOMETRY":
                continue
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (layer.id,)).fetchone() is None:
                _create_layer_table(conn, layer)
            _move_features(store, conn, source, layer)
        for source_id in {layer.split_from for layer in pending}:
            source = catalog[source_id]
            if _declared_type(conn, source.id) == "GEOMETRY":
                _settle_source(store, conn, source)
    return True


def _move_features(store: GeoPackageStore, conn: sqlite3.Connection, source: Layer, target: Layer) -> None:
    """Move the features of ``target``'s geometry type from ``source`` (same transaction)."""
    common = [f.name for f in target.fields if source.has_field(f.name)]
    rows = conn.execute(f"SELECT fid, geom FROM {_q(source.id)} WHERE geom IS NOT NULL ORDER BY fid").fetchall()
    if not rows:
        return
    geoms = decode_geometries([r[1] for r in rows])
    accepted = _FAMILY_TYPES[target.geometry]
    moved = []
    for (fid, _), geom in zip(rows, geoms, strict=True):
        if geom is None or geom.geom_type not in accepted:
            continue
        before = store._get(conn, source, fid)
        geom = _as_multi(geom, target.geometry)
        props = {name: before["properties"].get(name) for name in common}
        values = [_to_sql(props.get(f.name), f.type) for f in target.fields]
        cols = ", ".join(_q(f.name) for f in target.fields)
        new_fid = int(conn.execute(
            f"INSERT INTO {_q(target.id)}(geom, {cols}) VALUES (?, {', '.join('?' * len(target.fields))})",
            [encode_geometry(geom), *values],
        ).lastrowid)
        # The feature's past follows it: its old history rows now name its new place.
        conn.execute(
            f"UPDATE {HISTORY_TABLE} SET layer = ?, fid = ? WHERE layer = ? AND fid = ?",
            (target.id, new_fid, source.id, fid),
        )
        conn.execute(f"DELETE FROM {_q(source.id)} WHERE fid = ?", (fid,))
        store._history(conn, source, fid, "delete", MIGRATION_USER, before, None)
        after = store._get(conn, target, new_fid)
        store._history(conn, target, new_fid, "add", MIGRATION_USER, None, after)
        moved.append(geom)
    if moved:
        store._touch(conn, target, moved)
        _reset_extent(conn, source)


def _settle_source(store: GeoPackageStore, conn: sqlite3.Connection, source: Layer) -> None:
    """Promote the source's single parts to its multi type and declare that type."""
    rows = conn.execute(f"SELECT fid, geom FROM {_q(source.id)} WHERE geom IS NOT NULL").fetchall()
    for (fid, _), geom in zip(rows, decode_geometries([r[1] for r in rows]) if rows else [], strict=True):
        multi = _as_multi(geom, source.geometry)
        if geom is not None and multi is not geom:
            conn.execute(f"UPDATE {_q(source.id)} SET geom = ? WHERE fid = ?", (encode_geometry(multi), fid))
    conn.execute(
        "UPDATE gpkg_geometry_columns SET geometry_type_name = ? WHERE table_name = ?",
        (source.gpkg_geometry_type, source.id),
    )


def _as_multi(geom: BaseGeometry, family: str) -> BaseGeometry:
    """A single line or polygon as its multi type (how hehu stores lines and polygons)."""
    from shapely.geometry import MultiLineString, MultiPolygon

    if geom is not None and family == "LineString" and geom.geom_type == "LineString":
        return MultiLineString([geom])
    if geom is not None and family == "Polygon" and geom.geom_type == "Polygon":
        return MultiPolygon([geom])
    return geom


def _reset_extent(conn: sqlite3.Connection, layer: Layer) -> None:
    """gpkg_contents' extent of ``layer`` from its R-tree (after features left it)."""
    row = conn.execute(
        f"SELECT min(minx), min(miny), max(maxx), max(maxy) FROM {_q('rtree_' + layer.id + '_geom')}"
    ).fetchone()
    conn.execute(
        "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ?, last_change = ? WHERE table_name = ?",
        (*row, now_iso(), layer.id),
    )
# -- attachments: the Related Tables Extension ------------------------------------------


def _mapping_table(layer_id: str) -> str:
    return f"{MEDIA_TABLE}_{layer_id}"


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _has_media_tables(conn: sqlite3.Connection, catalog: Catalog) -> bool:
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {MEDIA_TABLE, "gpkgext_relations"} | {_mapping_table(lyr.id) for lyr in catalog} <= names


def _create_media_tables(conn: sqlite3.Connection, catalog: Catalog) -> None:
    """The media table, ``gpkgext_relations`` and one mapping table per layer (idempotent).

    Per OGC 18-000 a media table has ``id``, ``data`` and ``content_type`` and is an
    ``attributes`` table of ``gpkg_contents``; a mapping table has ``base_id`` (the
    feature's fid) and ``related_id`` (the media id). hehu's own columns (layer, fid,
    kind, ...) sit beside them so the registry reads one table, while QGIS and GDAL
    follow the relations to show a feature's photos as related records.
    """
    cols = (
        "id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, data BLOB NOT NULL, content_type TEXT NOT NULL, "
        "layer TEXT NOT NULL, fid INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, "
        "size INTEGER NOT NULL, sha256 TEXT NOT NULL, taken_at TEXT, lon DOUBLE, lat DOUBLE, "
        "uploader TEXT NOT NULL, created_at TEXT NOT NULL, thumbnail BLOB"
    )
    conn.execute(f"CREATE TABLE IF NOT EXISTS {MEDIA_TABLE} ({cols})")
    conn.execute(f"CREATE INDEX IF NOT EXISTS idx_{MEDIA_TABLE}_feature ON {MEDIA_TABLE}(layer, fid)")
    conn.execute(
        "INSERT OR IGNORE INTO gpkg_contents(table_name, data_type, identifier, description) VALUES (?, 'attributes', ?, ?)",
        (MEDIA_TABLE, MEDIA_TABLE, "hehu attachments: photos and documents of features / 附件（照片、文件）"),
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS gpkgext_relations (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "base_table_name TEXT NOT NULL, base_primary_column TEXT NOT NULL DEFAULT 'id', "
        "related_table_name TEXT NOT NULL, related_primary_column TEXT NOT NULL DEFAULT 'id', "
        "relation_name TEXT NOT NULL, mapping_table_name TEXT NOT NULL UNIQUE)"
    )
    conn.execute(
        "INSERT OR IGNORE INTO gpkg_extensions VALUES ('gpkgext_relations', NULL, 'gpkg_related_tables', ?, 'read-write')",
        (RTE_DEFINITION,),
    )
    for layer in catalog:
        mapping = _mapping_table(layer.id)
        if _table_exists(conn, mapping):
            continue
        conn.execute(f"CREATE TABLE {_q(mapping)} (base_id INTEGER NOT NULL, related_id INTEGER NOT NULL)")
        conn.execute(f"CREATE INDEX {_q('idx_' + mapping)} ON {_q(mapping)}(base_id)")
        conn.execute(
            "INSERT OR IGNORE INTO gpkg_contents(table_name, data_type, identifier, description) VALUES (?, 'attributes', ?, ?)",
            (mapping, mapping, f"{layer.title_zh} → 附件 / {layer.title_en} → attachments"),
        )
        conn.execute(
            "INSERT OR IGNORE INTO gpkg_extensions VALUES (?, NULL, 'gpkg_related_tables', ?, 'read-write')",
            (mapping, RTE_DEFINITION),
        )
        conn.execute(
            "INSERT INTO gpkgext_relations(base_table_name, base_primary_column, related_table_name, "
            "related_primary_column, relation_name, mapping_table_name) VALUES (?, 'fid', ?, 'id', 'media', ?)",
            (layer.id, MEDIA_TABLE, mapping),
        )
        # Rows the registry already holds for this layer (a file copied in) get mapped too.
        conn.execute(
            f"INSERT INTO {_q(mapping)}(base_id, related_id) SELECT fid, id FROM {MEDIA_TABLE} WHERE layer = ?",
            (layer.id,),
        )
