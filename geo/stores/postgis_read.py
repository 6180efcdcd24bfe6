"""Reading a PostGIS registry: catalog values to PostgreSQL and back, the CQL2 dialect
(native dates, LIKE, spatial predicates in EPSG:4549 behind a lon/lat GiST box), and
the store's reading methods (selections, pages, chunks, counts, extents) as a mixin of
:class:`geo.stores.postgis.PostGISStore`, which owns the connections.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator, Sequence
from datetime import date, timezone
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.cql2 import evaluate, resolve_property
from geo.stores.base import BBox, FilterTree, OrderBy, Where
from geo.stores.postgis_schema import (
    CHANGES,
    METRIC_SRID,
    SRID,
    _q,
)
from geo.stores.sql_filter import Dialect, Unpushable, spatial_box, translate
from layers import Layer

# -- values ------------------------------------------------------------------------------


def _to_pg(value: Any, ftype: str) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if ftype == "bool":
        return bool(value)
    if ftype == "int":
        return int(value)
    if ftype == "float":
        return float(value)
    if ftype == "date":
        if hasattr(value, "strftime"):
            return value.strftime("%Y-%m-%d")
        return str(value)[:10]
    return str(value)


def _from_pg(value: Any, ftype: str) -> Any:
    if value is None:
        return None
    if ftype == "datetime" and hasattr(value, "astimezone"):
        # As GDAL writes a GeoPackage DATETIME, and the GeoPackage store returns it.
        utc = value.astimezone(timezone.utc)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if ftype == "date":
        return value.isoformat()[:10] if hasattr(value, "isoformat") else str(value)[:10]
    return value


def _placeholder(ftype: str) -> str:
    return {"date": "%s::date", "datetime": "%s::timestamptz"}.get(ftype, "%s")


def _wkb(geom: BaseGeometry | None) -> bytes | None:
    return None if geom is None else shapely.to_wkb(geom)


class PostGISDialect(Dialect):
    """PostgreSQL + PostGIS: native booleans and dates, LIKE, and spatial predicates in
    EPSG:4549 like the reference evaluator (the literal is projected here, with the
    same pyproj the evaluator uses; the column by PostGIS, which the metric expression
    index serves), behind a lon/lat box test on the GiST index."""

    def value(self, value: Any, ftype: str | None) -> Any:
        if ftype == "datetime":
            raise Unpushable  # instants compare by the evaluator's rules, on the rows SQL returns
        if ftype == "date" and isinstance(value, str):
            # A full ISO day compares as a date exactly as its text would; anything
            # else ('2021-06', a time of day) is the evaluator's text rule: not pushed.
            if not _ISO_DAY.fullmatch(value):
                raise Unpushable
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise Unpushable from None
        return value

    def like(self, column_sql: str, pattern: str) -> tuple[str, list]:
        # PostgreSQL's LIKE is case-sensitive and escapes with a backslash, as CQL2;
        # it refuses a pattern ending in a lone escape, which the evaluator reads as text.
        if (len(pattern) - len(pattern.rstrip("\\"))) % 2:
            raise Unpushable
        return f"{column_sql}::text LIKE ?", [pattern]

    def spatial(self, layer: Layer, node: tuple) -> tuple[str, list]:
        from geo.crs import to_metric
        from geo.params import to_meters

        if node[0] == "spatial":
            _, name, a, b, _pos = node
        else:
            _, a, b, dist, units, _pos, _ = node
            name = "DWITHIN"
        kinds = (a[0], b[0])
        if sorted(kinds) != ["geom", "prop"]:
            raise Unpushable
        prop = a if a[0] == "prop" else b
        if resolve_property(layer, prop[1]) != "geometry":
            raise Unpushable
        literal = b if a[0] == "prop" else a
        metric = shapely.to_wkb(to_metric(literal[1]))
        column = f"ST_Transform(geom, {METRIC_SRID})"
        lit = f"ST_GeomFromWKB(?, {METRIC_SRID})"
        first, second = (column, lit) if a[0] == "prop" else (lit, column)
        if name == "DWITHIN":
            try:
                metres = to_meters(dist, units)
            except Exception:  # noqa: BLE001 - the evaluator reports it with its position
                raise Unpushable from None
            sql, params = f"ST_DWithin({column}, {lit}, ?)", [metric, float(metres)]
        else:
            sql, params = f"{_SPATIAL_SQL[name]}({first}, {second})", [metric]
        box = spatial_box(node)
        if box is not None:
            sql = f"geom && ST_MakeEnvelope(?, ?, ?, ?, {SRID}) AND {sql}"
            params = [*box, *params]
        return sql, params


_ISO_UTC = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SPATIAL_SQL = {
    "S_INTERSECTS": "ST_Intersects",
    "S_WITHIN": "ST_Within",
    "S_CONTAINS": "ST_Contains",
    "S_DISJOINT": "ST_Disjoint",
    "S_TOUCHES": "ST_Touches",
    "S_CROSSES": "ST_Crosses",
    "S_OVERLAPS": "ST_Overlaps",
    "S_EQUALS": "ST_Equals",
}
_DIALECT = PostGISDialect()


class PostGISReading:
    """The store's reading methods (a mixin of :class:`PostGISStore`)."""

    # -- reading ------------------------------------------------------------------------------

    def _select(self, layer: Layer) -> str:
        cols = ", ".join(_q(c) for c in layer.field_names)
        return f"SELECT fid, ST_AsBinary(geom), {cols} FROM {self.t(layer.id)}"

    def _where_sql(self, layer: Layer, bbox: BBox | None, where: Where | None, fids, filter=None):
        """``WHERE`` SQL and parameters for a selection, and the filter's residual (what
        the translation left to the reference evaluator, run on the rows SQL returns)."""
        clauses: list[str] = []
        params: list[Any] = []
        if bbox is not None:
            minx, miny, maxx, maxy = (float(v) for v in bbox)
            env = f"ST_MakeEnvelope(%s, %s, %s, %s, {SRID})"
            clauses.append(f"geom && {env} AND ST_Intersects(geom, {env})")
            params += [minx, miny, maxx, maxy] * 2
        for name, value in (where or {}).items():
            fdef = layer.field(name)
            if isinstance(value, (list, tuple, set)):
                values = [_to_pg(v, fdef.type) for v in value]
                if not values:
                    clauses.append("false")
                    continue
                clauses.append(f"{_q(name)} IN ({', '.join(_placeholder(fdef.type) for _ in values)})")
                params += values
            elif value is None:
                clauses.append(f"{_q(name)} IS NULL")
            else:
                clauses.append(f"{_q(name)} = {_placeholder(fdef.type)}")
                params.append(_to_pg(value, fdef.type))
        if fids is not None:
            clauses.append("fid = ANY(%s)")
            params.append([int(f) for f in fids])
        residual = None
        if filter is not None:
            translation = translate(filter, layer, _DIALECT)
            if translation.sql:
                # The translator writes '?' placeholders; psycopg's are '%s'.
                clauses.append(translation.sql.replace("%", "%%").replace("?", "%s"))
                params += translation.params
            residual = translation.residual
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params, residual

    def _order_sql(self, layer: Layer, order_by: OrderBy | None) -> str:
        """ORDER BY as the GeoPackage store sorts: NULLs first ascending, fid last."""
        parts = []
        for name, ascending in order_by or ():
            if name != "fid":
                layer.field(name)  # an unknown field raises before any SQL is built
            parts.append(f"{_q(name)} {'ASC NULLS FIRST' if ascending else 'DESC NULLS LAST'}")
        return ", ".join([*parts, "fid"])

    def _fetch(self, layer: Layer, bbox, where, fids, filter, order_by, limit, offset) -> list[tuple]:
        """Rows ``(fid, wkb, *values)`` of the selection, filtered and paged."""
        sql_where, params, residual = self._where_sql(layer, bbox, where, fids, filter)
        sql = f"{self._select(layer)}{sql_where} ORDER BY {self._order_sql(layer, order_by)}"
        if residual is not None:
            rows = self._rows(sql, params)
            keep = evaluate(residual, self._frame(layer, rows), layer)
            rows = [r for r, k in zip(rows, keep, strict=True) if k]
            return rows[offset : None if limit is None else offset + limit]
        if limit is not None:
            sql += " LIMIT %s"
            params.append(int(limit))
        if offset:
            sql += " OFFSET %s"
            params.append(int(offset))
        return self._rows(sql, params)

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
        return self._frame(layer, self._fetch(layer, bbox, where, fids, filter, order_by, limit, offset))

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
        """One page, and the number matched in all, from one statement: the page and
        ``count(*) OVER ()`` (or the layer's kept count when nothing is selected) come
        from the same scan and the same snapshot."""
        sql_where, params, residual = self._where_sql(layer, bbox, where, None, filter)
        order = self._order_sql(layer, order_by)
        if residual is not None:
            rows = self._fetch(layer, bbox, where, None, filter, order_by, None, 0)
            matched = len(rows)
            rows = rows[offset : None if limit is None else offset + limit]
        else:
            if sql_where:
                total = "count(*) OVER ()"
            else:
                total = f"(SELECT feature_count FROM {self.t(CHANGES)} WHERE layer = %s)"
                params = [layer.id, *params]
            cols = ", ".join(_q(c) for c in layer.field_names)
            sql = f"SELECT fid, ST_AsBinary(geom), {cols}, {total} FROM {self.t(layer.id)}{sql_where} ORDER BY {order}"
            if limit is not None:
                sql += " LIMIT %s"
                params.append(int(limit))
            if offset:
                sql += " OFFSET %s"
                params.append(int(offset))
            fetched = self._rows(sql, params)
            if fetched:
                matched = int(fetched[0][-1])
                rows = [r[:-1] for r in fetched]
            else:
                rows = []
                matched = self.count(layer, bbox=bbox, where=where, filter=filter) if offset else 0
        geoms = shapely.from_wkb(np.array([r[1] for r in rows], dtype=object)) if rows else []
        convert = [(i, f.type) for i, f in enumerate(layer.fields) if f.type in ("date", "datetime")]
        out = []
        for r, g in zip(rows, geoms, strict=True):
            values = list(r[2:])
            for i, ftype in convert:
                values[i] = _from_pg(values[i], ftype)
            out.append((int(r[0]), g, *values))
        return out, matched

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
        sql = f"{self._select(layer)}{sql_where} ORDER BY {self._order_sql(layer, order_by)}"
        # A connection of its own and a server-side cursor: the rows stream in one
        # consistent snapshot while the caller reads or writes on other connections.
        with self._conn(fresh=True) as conn, conn.transaction():
            with conn.cursor(name=f"hehu_iter_{threading.get_ident()}_{id(sql)}") as cur:
                cur.execute(sql, params)
                while True:
                    rows = cur.fetchmany(chunk_size)
                    if not rows:
                        break
                    frame = self._frame(layer, rows)
                    if residual is not None:
                        frame = frame[evaluate(residual, frame, layer)]
                    yield frame

    def count(
        self,
        layer: Layer,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        filter: FilterTree | None = None,
    ) -> int:
        if bbox is None and not where and filter is None:
            row = self._one(f"SELECT feature_count FROM {self.t(CHANGES)} WHERE layer = %s", (layer.id,))
            return int(row[0]) if row else 0
        sql_where, params, residual = self._where_sql(layer, bbox, where, None, filter)
        if residual is not None:
            return sum(len(f) for f in self.iter_frames(layer, bbox=bbox, where=where, filter=filter))
        return int(self._one(f"SELECT count(*) FROM {self.t(layer.id)}{sql_where}", params)[0])

    def get(self, layer: Layer, fid: int) -> dict[str, Any] | None:
        with self._conn() as conn:
            return self._get(conn, layer, fid)

    def _get(self, conn, layer: Layer, fid: int, lock: bool = False) -> dict[str, Any] | None:
        sql = f"{self._select(layer)} WHERE fid = %s" + (" FOR UPDATE" if lock else "")
        row = conn.execute(sql, (int(fid),)).fetchone()
        if row is None:
            return None
        geom = None if row[1] is None else shapely.from_wkb(row[1])
        props = {f.name: _from_pg(v, f.type) for f, v in zip(layer.fields, row[2:], strict=True)}
        return {"fid": int(row[0]), "properties": props, "geometry": geom}

    def candidates(self, layer: Layer, boxes: np.ndarray) -> np.ndarray:
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        if not len(boxes):
            return np.array([], dtype=np.int64)
        rows = self._rows(
            f"SELECT DISTINCT t.fid FROM {self.t(layer.id)} t, "
            "unnest(%s::float8[], %s::float8[], %s::float8[], %s::float8[]) AS b(x0, y0, x1, y1) "
            f"WHERE t.geom && ST_MakeEnvelope(b.x0, b.y0, b.x1, b.y1, {SRID}) ORDER BY t.fid",
            [boxes[:, i].tolist() for i in range(4)],
        )
        return np.array([r[0] for r in rows], dtype=np.int64)

    def extent(self, layer: Layer) -> BBox | None:
        row = self._one(
            f"SELECT min_x, min_y, max_x, max_y, feature_count FROM {self.t(CHANGES)} WHERE layer = %s",
            (layer.id,),
        )
        if row is None or not row[4] or any(v is None for v in row[:4]):
            return None
        return tuple(float(v) for v in row[:4])

    def temporal_extent(self, layer: Layer, field: str) -> tuple[str, str] | None:
        fdef = layer.field(field)
        row = self._one(f"SELECT min({_q(field)}), max({_q(field)}) FROM {self.t(layer.id)} WHERE {_q(field)} IS NOT NULL")
        if row is None or row[0] is None:
            return None
        return str(_from_pg(row[0], fdef.type)), str(_from_pg(row[1], fdef.type))

    def _frame(self, layer: Layer, rows: list[tuple]) -> gpd.GeoDataFrame:
        cols = layer.field_names
        fids = [r[0] for r in rows]
        geoms = shapely.from_wkb(np.array([r[1] for r in rows], dtype=object)) if rows else np.array([], dtype=object)
        data: dict[str, Any] = {}
        for i, f in enumerate(layer.fields, start=2):
            values = [r[i] for r in rows]
            if f.type == "bool":
                data[f.name] = pd.array(values, dtype="boolean")
            elif f.type == "int":
                data[f.name] = pd.array(values, dtype="Int64")
            elif f.type == "float":
                data[f.name] = pd.array([np.nan if v is None else float(v) for v in values], dtype="float64")
            elif f.type in ("date", "datetime"):
                data[f.name] = pd.array([_from_pg(v, f.type) for v in values], dtype=object)
            else:
                data[f.name] = pd.array(values, dtype=object)
        index = pd.Index(fids, name="fid", dtype="int64")
        df = pd.DataFrame(data, index=index, columns=cols)
        return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, index=index, crs="EPSG:4326"))
