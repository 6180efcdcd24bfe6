"""Reading a GeoPackage registry: selections (bbox through the R-tree, CQL2 pushed into
SQL with a residual evaluated on the rows returned, fids), pages, chunks, counts,
extents and read snapshots. A mixin of :class:`geo.stores.gpkg.GeoPackageStore`, which
owns the connections; writing, history, users and attachments stay there.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.cql2 import evaluate
from geo.stores.base import BBox, FilterTree, OrderBy, Where
from geo.stores.gpkg_blob import decode_geometries
from geo.stores.gpkg_schema import (
    _from_sql,
    _q,
    _to_sql,
)
from geo.stores.sql_filter import SQLiteDialect, translate
from layers import Layer

_DIALECT = SQLiteDialect()


def _order_sql(layer: Layer, order_by: Sequence[tuple[str, bool]] | None) -> str:
    """ORDER BY terms for (field, ascending) pairs, fid last so pages are stable."""
    parts = []
    for name, ascending in order_by or ():
        if name != "fid":
            layer.field(name)  # an unknown field raises before any SQL is built
        parts.append(f"{_q(name)} {'ASC' if ascending else 'DESC'}")
    return ", ".join([*parts, "fid"])


class GeoPackageReading:
    """The store's reading methods (a mixin of :class:`GeoPackageStore`)."""

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
