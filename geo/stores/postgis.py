"""The shared store: one registry in PostgreSQL + PostGIS, for many servers at once.

A registry is named by a libpq URI (``postgresql://user@host:5432/hehu``,
``postgresql:///hehu`` for the local socket) plus hehu's own query parameters, which are
taken off before libpq sees the URI:

- ``schema`` (default ``hehu``): every table lives in this schema, so the database can
  hold other things (and the tests a registry per schema);
- ``read_only=1``: refuse every write (HTTP 405), as a server of the public map on a
  read replica should (a replica is also detected by itself, ``pg_is_in_recovery()``);
- ``pool_size`` (default 10), ``pool_timeout`` (seconds to wait for a free connection,
  default 5; then :class:`geo.errors.StoreUnavailableError`, HTTP 503 with Retry-After)
  and ``statement_timeout`` (milliseconds, default 30000: no one query runs longer).

The environment variables ``HEHU_PG_POOL_SIZE``, ``HEHU_PG_POOL_TIMEOUT`` and
``HEHU_PG_STATEMENT_TIMEOUT`` give the defaults.

Tables come from the catalog: one per layer with ``fid bigserial``, ``geom
geometry(<type>, 4326)`` with a GiST index and a GiST expression index on
``ST_Transform(geom, 4549)`` for metric questions in the database (see docs/deploy.md
for the measurement), the catalog's UNIQUE / NOT NULL / enum CHECK constraints, and the
registry's own tables: ``hehu_history``, ``hehu_users``, ``hehu_meta``,
``hehu_changes`` (per-layer change counter and exact feature count, bumped in the
write's transaction) and ``hehu_schema`` (the recorded schema version).

Writes run in one transaction each, under a transaction-scoped advisory lock of the
registry: history ids are then handed out in commit order, so a cache that follows the
history table (``changes_since``) never skips a row committed late with a smaller id,
and two editors with the same ETag in two processes queue, the second finding the
feature changed. A process killed mid-write leaves nothing: PostgreSQL rolls the
transaction back when its connection drops.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.errors import (
    ConflictError,
    NotFoundError,
    ReadOnlyRegistryError,
    RegistryFileError,
    StoreUnavailableError,
    ValidationError,
)
from geo.stores.base import ATTACHMENT_FIELDS, Store
from geo.stores.postgis_read import _DIALECT as _DIALECT  # the tests' dialect
from geo.stores.postgis_read import _ISO_UTC, PostGISReading, _from_pg, _placeholder, _to_pg, _wkb
from geo.stores.postgis_schema import (
    ATTACHMENTS,
    CHANGES,
    HISTORY,
    META,
    SESSIONS,
    SRID,
    USERS,
    PostGISSchema,
    _q,
)
from geo.stores.postgis_schema import SCHEMA_VERSION as SCHEMA_VERSION  # hehu db version
from geo.stores.records import (
    attachment_history,
    attachment_record,
    now_iso,
    same_feature,
    unique_error,
)
from geo.stores.records import feature_json as _feature_json
from layers import Catalog, Layer

DEFAULT_SCHEMA = "hehu"
#: Batches this big are written by COPY (bulk loads and imports).
BULK_ROWS = 1000
#: hehu's own URI parameters, removed before the URI reaches libpq.
HEHU_PARAMS = ("schema", "pool_size", "pool_timeout", "statement_timeout", "read_only")


# -- naming ------------------------------------------------------------------------------


def safe_name(uri: str) -> str:
    """The URI as a person may see it: without the password (in the user part or the query)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "postgresql://…"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = userinfo.split(":", 1)[0] + "@" + host
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"], safe="/")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def parse_uri(uri: str) -> tuple[str, dict[str, Any], str]:
    """(libpq URI, hehu options, name without password) of a registry URI."""
    from psycopg.conninfo import conninfo_to_dict

    name = safe_name(uri)
    try:
        parts = urlsplit(uri)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError as exc:
        raise RegistryFileError(f"{name}: not a valid PostgreSQL URI ({exc}); expected postgresql://user@host:5432/dbname") from None
    opts = {k: v for k, v in pairs if k in HEHU_PARAMS}
    libpq = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode([(k, v) for k, v in pairs if k not in HEHU_PARAMS], safe="/"), ""))
    try:
        conninfo_to_dict(libpq)
    except Exception as exc:  # noqa: BLE001 - psycopg raises ProgrammingError for bad URIs
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if parts.password:
            reason = reason.replace(parts.password, "***")
        raise RegistryFileError(f"{name}: not a valid PostgreSQL URI ({reason}); expected postgresql://user@host:5432/dbname") from None
    options: dict[str, Any] = {
        "schema": opts.get("schema") or DEFAULT_SCHEMA,
        "pool_size": os.environ.get("HEHU_PG_POOL_SIZE", "10"),
        "pool_timeout": os.environ.get("HEHU_PG_POOL_TIMEOUT", "5"),
        "statement_timeout": os.environ.get("HEHU_PG_STATEMENT_TIMEOUT", "30000"),
    }
    options.update({k: v for k, v in opts.items() if k not in ("schema", "read_only")})
    flag = str(opts.get("read_only", os.environ.get("HEHU_PG_READ_ONLY", ""))).strip().lower()
    if flag not in ("", "0", "1", "true", "false", "yes", "no"):
        raise RegistryFileError(f"{name}: read_only must be 1/true or 0/false, not {flag!r}")
    options["read_only"] = flag in ("1", "true", "yes")
    try:
        options["pool_size"] = int(options["pool_size"])
        options["pool_timeout"] = float(options["pool_timeout"])
        options["statement_timeout"] = int(options["statement_timeout"])
        if options["pool_size"] < 1 or options["pool_timeout"] <= 0 or options["statement_timeout"] < 0:
            raise ValueError
    except ValueError:
        raise RegistryFileError(
            f"{name}: pool_size must be a whole number ≥ 1, pool_timeout a number of seconds > 0 "
            "and statement_timeout whole milliseconds"
        ) from None
    return libpq, options, name


def _connect_error(exc: Exception, name: str, uri: str) -> RegistryFileError:
    """One line saying what is wrong with reaching the server, and what to do."""
    text = str(exc).strip()
    password = urlsplit(uri).password
    if password:
        text = text.replace(password, "***")
    low = text.lower()
    first = text.splitlines()[-1] if text else type(exc).__name__
    if "password authentication failed" in low or "no password supplied" in low or "authentication failed" in low:
        msg = f"{name}: the server refused the user name or password; check them (in the URI, PGPASSWORD or ~/.pgpass)"
    elif "does not exist" in low and "database" in low:
        m = re.search(r'database "([^"]+)" does not exist', text)
        what = f"database {m.group(1)} does not exist" if m else "the database does not exist"
        msg = f"{name}: {what}; create it (createdb) and run `hehu db init {name}`"
    elif any(w in low for w in ("connection refused", "could not connect", "timeout expired", "no such file or directory", "could not translate host name", "is the server running")):
        msg = f"{name}: no PostgreSQL server answers there; start it (systemctl start postgresql) or check host and port"
    else:
        msg = f"{name}: cannot connect ({first})"
    return RegistryFileError(msg)


class PostGISStore(PostGISReading, PostGISSchema, Store):
    """A hehu registry in a PostgreSQL schema, shared by any number of processes."""

    def __init__(self, uri: str, catalog: Catalog):
        self._conninfo, self.options, self.name = parse_uri(uri)
        self._uri = uri
        self.catalog = catalog
        self.schema = self.options["schema"]
        self._pool = None
        self._pool_lock = threading.Lock()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"PostGISStore({self.name!r})"

    # -- names -----------------------------------------------------------------------------

    def t(self, table: str) -> str:
        """A table name qualified with the registry's schema."""
        return f"{_q(self.schema)}.{_q(table)}"

    # -- connections -------------------------------------------------------------------------

    def _connect_kwargs(self) -> dict[str, Any]:
        return {
            "autocommit": True,
            "options": f"-c statement_timeout={self.options['statement_timeout']}",
            "application_name": "hehu",
        }

    def _direct(self):
        """A connection outside the pool (opening checks, DDL); errors say what to do."""
        import psycopg

        # No statement_timeout here: DDL of an init or upgrade may rightly take long.
        try:
            return psycopg.connect(self._conninfo, connect_timeout=5, autocommit=True, application_name="hehu")
        except psycopg.Error as exc:
            raise _connect_error(exc, self.name, self._uri) from None

    def _get_pool(self):
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    from psycopg_pool import ConnectionPool

                    self._pool = ConnectionPool(
                        self._conninfo,
                        min_size=1,
                        max_size=self.options["pool_size"],
                        timeout=self.options["pool_timeout"],
                        kwargs=self._connect_kwargs(),
                        # A connection idle for a while is pinged before use, so one the
                        # server dropped (restart, idle kill) is replaced and the next
                        # request succeeds; a busy one is not, saving a round trip.
                        check=_check_if_idle,
                        reconnect_timeout=30,
                        name=f"hehu-{self.schema}",
                        open=True,
                    )
        return self._pool

    @contextmanager
    def _conn(self, *, fresh: bool = False):
        """This thread's snapshot connection, or one from the pool for the duration."""
        snap = None if fresh else getattr(self._local, "snap", None)
        if snap is not None:
            yield snap
            return
        import psycopg
        from psycopg_pool import PoolClosed, PoolTimeout

        try:
            with self._get_pool().connection() as conn:
                try:
                    yield conn
                finally:
                    conn._hehu_used = time.monotonic()
        except (PoolTimeout, PoolClosed) as exc:
            raise StoreUnavailableError(
                key="postgis.pool_busy",
                params={"name": self.name, "seconds": f"{self.options['pool_timeout']:g}"},
                retry_after=max(1, math.ceil(self.options["pool_timeout"])),
            ) from exc
        except psycopg.errors.QueryCanceled as exc:
            raise StoreUnavailableError(
                key="postgis.statement_timeout",
                params={"name": self.name, "ms": self.options["statement_timeout"]},
                retry_after=5,
            ) from exc
        except psycopg.errors.IntegrityError as exc:
            raise ValidationError(str(exc).strip().splitlines()[0]) from exc
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError(
                key="postgis.unavailable",
                params={"name": self.name, "reason": _first_line(exc, self._uri)},
                retry_after=2,
            ) from exc

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._conn() as conn:
            return conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        with self._conn() as conn:
            return conn.execute(sql, params).fetchone()

    @contextmanager
    def _write(self, *, bulk: bool = False):
        """One transaction under the registry's write lock (see the module docstring).
        A ``bulk`` write (imports, copies, big batches) is not held to statement_timeout."""
        if self.options["read_only"]:
            raise ReadOnlyRegistryError(key="postgis.read_only_uri", params={"name": self.name})
        with self._conn(fresh=True) as conn:
            if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                raise ReadOnlyRegistryError(key="postgis.read_only_replica", params={"name": self.name})
            with conn.transaction():
                if bulk:
                    conn.execute("SET LOCAL statement_timeout = 0")
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"hehu:{self.schema}",))
                yield conn

    @contextmanager
    def snapshot(self):
        """Reads of this thread inside the block see one committed state (REPEATABLE READ)."""
        if getattr(self._local, "snap", None) is not None:
            yield self
            return
        with self._conn(fresh=True) as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            self._local.snap = conn
            try:
                yield self
            finally:
                self._local.snap = None

    def close(self) -> None:
        """Release this thread's connection; from the main thread also close the pool
        (server threads call this after background work, and must not end the pool
        under their neighbours; a later call opens a new pool)."""
        self._local.snap = None
        if threading.current_thread() is threading.main_thread():
            with self._pool_lock:
                pool, self._pool = self._pool, None
            if pool is not None:
                pool.close()

    # -- writing ------------------------------------------------------------------------------

    def _check_unique(self, conn, layer: Layer, props: dict[str, Any], fid: int | None, row=None) -> None:
        for f in layer.fields:
            if not f.unique or props.get(f.name) is None:
                continue
            sql = f"SELECT fid FROM {self.t(layer.id)} WHERE {_q(f.name)} = {_placeholder(f.type)}"
            params: list[Any] = [_to_pg(props[f.name], f.type)]
            if fid is not None:
                sql += " AND fid <> %s"
                params.append(fid)
            hit = conn.execute(sql, params).fetchone()
            if hit:
                raise unique_error(layer, f.name, props[f.name], hit[0], row)

    def _history(self, conn, layer: Layer, fid: int, op: str, user: str, before, after) -> None:
        conn.execute(
            f'INSERT INTO {self.t(HISTORY)}(layer, fid, op, "user", at, before, after) '
            "VALUES (%s, %s, %s, %s, %s, %s::json, %s::json)",
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

    def _touch(self, conn, layer: Layer, geoms: Sequence[BaseGeometry | None]) -> None:
        """Grow the layer's extent (as gpkg_contents keeps it); its count and change stamp
        are moved by the table's triggers, for hehu's writes and every other tool's."""
        geoms = [g for g in geoms if g is not None and not g.is_empty]
        if not geoms:
            return
        bounds = shapely.total_bounds(np.array(geoms, dtype=object)).tolist()
        conn.execute(
            f"UPDATE {self.t(CHANGES)} SET min_x = least(min_x, %s), min_y = least(min_y, %s), "
            "max_x = greatest(max_x, %s), max_y = greatest(max_y, %s) WHERE layer = %s",
            (*bounds, layer.id),
        )

    def _insert(self, conn, layer: Layer, props: dict[str, Any], geom: BaseGeometry | None, fid: int | None = None) -> int:
        cols = layer.field_names
        values = [_to_pg(props.get(f.name), f.type) for f in layer.fields]
        marks = ", ".join(_placeholder(f.type) for f in layer.fields)
        geom_sql = f"ST_GeomFromWKB(%s, {SRID})"
        if fid is None:
            sql = f"INSERT INTO {self.t(layer.id)}(geom, {', '.join(_q(c) for c in cols)}) VALUES ({geom_sql}, {marks}) RETURNING fid"
            return int(conn.execute(sql, [_wkb(geom), *values]).fetchone()[0])
        sql = f"INSERT INTO {self.t(layer.id)}(fid, geom, {', '.join(_q(c) for c in cols)}) VALUES (%s, {geom_sql}, {marks}) RETURNING fid"
        return int(conn.execute(sql, [int(fid), _wkb(geom), *values]).fetchone()[0])

    def add(
        self,
        layer: Layer,
        rows: Sequence[tuple[dict[str, Any], BaseGeometry]],
        *,
        user: str,
        history: bool = True,
    ) -> list[int]:
        if len(rows) >= BULK_ROWS:
            return self._add_bulk(layer, rows, user=user, history=history)
        fids: list[int] = []
        with self._write() as conn:
            for i, (props, geom) in enumerate(rows, start=1):
                self._check_unique(conn, layer, props, None, row=i if len(rows) > 1 else None)
                fid = self._insert(conn, layer, props, geom)
                fids.append(fid)
                if history:
                    full = {f.name: props.get(f.name) for f in layer.fields}
                    self._history(conn, layer, fid, "add", user, None, {"fid": fid, "properties": full, "geometry": geom})
            self._touch(conn, layer, [g for _, g in rows])
        return fids

    def _add_bulk(self, layer: Layer, rows, *, user: str, history: bool) -> list[int]:
        """A big batch (imports, bulk loads) by COPY: the unique fields are checked in
        one query, the fids reserved from the sequence, then rows (and history) streamed."""
        with self._write(bulk=True) as conn:
            for f in layer.fields:
                if not f.unique:
                    continue
                values = [_to_pg(p.get(f.name), f.type) for p, _ in rows]
                seen: dict[Any, int] = {}
                for i, v in enumerate(values, start=1):
                    if v is None:
                        continue
                    if v in seen:
                        raise ValidationError(
                            f"{v!r} appears twice in the batch (rows {seen[v]} and {i}); {f.name} must be unique",
                            layer=layer.id, field=f.name, value=v, row=i,
                        )
                    seen[v] = i
                hit = conn.execute(
                    f"SELECT {_q(f.name)}, fid FROM {self.t(layer.id)} WHERE {_q(f.name)} = ANY(%s) LIMIT 1",
                    ([v for v in seen],),
                ).fetchone()
                if hit:
                    value = _from_pg(hit[0], f.type)
                    raise ValidationError(
                        f"{value!r} is already used by feature {hit[1]}; {f.name} must be unique",
                        layer=layer.id, field=f.name, value=value, row=seen.get(hit[0]),
                    )
            fids = [r[0] for r in conn.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'fid')) FROM generate_series(1, %s)",
                (self.t(layer.id), len(rows)),
            )]
            self.copy_features(conn, layer, [(fid, props, geom) for fid, (props, geom) in zip(fids, rows, strict=True)])
            if history:
                at = now_iso()
                with conn.cursor().copy(
                    f'COPY {self.t(HISTORY)}(layer, fid, op, "user", at, after) FROM STDIN'
                ) as copy:
                    for fid, (props, geom) in zip(fids, rows, strict=True):
                        full = {f.name: props.get(f.name) for f in layer.fields}
                        after = _feature_json({"fid": fid, "properties": full, "geometry": geom})
                        copy.write_row((layer.id, fid, "add", user, at, json.dumps(after, ensure_ascii=False)))
            self._touch(conn, layer, [shapely.box(*shapely.total_bounds(np.array([g for _, g in rows], dtype=object)))])
        return fids

    def copy_features(self, conn, layer: Layer, rows: Sequence[tuple[int, dict[str, Any], Any]]) -> None:
        """Stream features with their fids into the layer's table (COPY, text format:
        geometries as hex EWKB)."""
        geoms = np.array([g for _, _, g in rows], dtype=object)
        hexes = shapely.to_wkb(shapely.set_srid(geoms, SRID), hex=True, include_srid=True)
        cols = ", ".join(_q(c) for c in layer.field_names)
        with conn.cursor().copy(f"COPY {self.t(layer.id)}(fid, geom, {cols}) FROM STDIN") as copy:
            for (fid, props, _), wkb in zip(rows, hexes, strict=True):
                copy.write_row((fid, wkb, *(_to_pg(props.get(f.name), f.type) for f in layer.fields)))

    def _locked_current(self, conn, layer: Layer, fid: int, expected) -> dict[str, Any]:
        current = self._get(conn, layer, fid, lock=True)
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

    def _update_row(self, conn, layer: Layer, fid: int, before, properties, geometry) -> dict[str, Any]:
        props = {**before["properties"], **properties}
        self._check_unique(conn, layer, props, fid)
        assignments = [f"{_q(f.name)} = {_placeholder(f.type)}" for f in layer.fields]
        values = [_to_pg(props.get(f.name), f.type) for f in layer.fields]
        if geometry is not None:
            assignments.append(f"geom = ST_GeomFromWKB(%s, {SRID})")
            values.append(_wkb(geometry))
        conn.execute(f"UPDATE {self.t(layer.id)} SET {', '.join(assignments)} WHERE fid = %s", [*values, fid])
        return self._get(conn, layer, fid)

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
        with self._write() as conn:
            before = self._locked_current(conn, layer, int(fid), expected)
            after = self._update_row(conn, layer, int(fid), before, properties, geometry)
            self._history(conn, layer, int(fid), "update", user, before, after)
            self._touch(conn, layer, [after["geometry"]])
        return after

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
        with self._write() as conn:
            before = self._locked_current(conn, layer, int(fid), expected)
            after = self._update_row(conn, layer, int(fid), before, properties, geometry)
            self._history(conn, layer, int(fid), "update", user, before, after)
            self._touch(conn, layer, [after["geometry"]])
            for ref, field, old, new in cascades:
                ftype = ref.field(field).type
                fids = [r[0] for r in conn.execute(
                    f"SELECT fid FROM {self.t(ref.id)} WHERE {_q(field)} = {_placeholder(ftype)} ORDER BY fid FOR UPDATE",
                    (_to_pg(old, ftype),),
                )]
                for ref_fid in fids:
                    was = self._get(conn, ref, ref_fid)
                    conn.execute(
                        f"UPDATE {self.t(ref.id)} SET {_q(field)} = {_placeholder(ftype)} WHERE fid = %s",
                        (_to_pg(new, ftype), ref_fid),
                    )
                    self._history(conn, ref, ref_fid, "update", user, was, self._get(conn, ref, ref_fid))
        return after

    def delete(self, layer: Layer, fid: int, *, user: str, expected: dict[str, Any] | None = None) -> dict[str, Any]:
        with self._write() as conn:
            before = self._locked_current(conn, layer, int(fid), expected)
            conn.execute(f"DELETE FROM {self.t(layer.id)} WHERE fid = %s", (int(fid),))
            self._history(conn, layer, int(fid), "delete", user, before, None)
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
        fids: list[int] = []
        touched: list[BaseGeometry | None] = []
        with self._write() as conn:
            for fid, properties, geometry in updates:
                before = self._locked_current(conn, layer, int(fid), None)
                after = self._update_row(conn, layer, int(fid), before, properties, geometry)
                self._history(conn, layer, int(fid), "update", user, before, after)
                touched.append(after["geometry"])
            for i, (props, geom) in enumerate(adds, start=1):
                self._check_unique(conn, layer, props, None, row=i if len(adds) > 1 else None)
                fid = self._insert(conn, layer, props, geom)
                fids.append(fid)
                full = {f.name: props.get(f.name) for f in layer.fields}
                self._history(conn, layer, fid, "add", user, None, {"fid": fid, "properties": full, "geometry": geom})
                touched.append(geom)
            self._touch(conn, layer, touched)
        return fids

    # -- change tracking ----------------------------------------------------------------------

    def history(
        self,
        layer: str | None = None,
        fid: int | None = None,
        since: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        clauses, params = ["id > %s"], [int(since)]
        if layer is not None:
            clauses.append("layer = %s")
            params.append(layer)
        if fid is not None:
            clauses.append("fid = %s")
            params.append(int(fid))
        sql = (
            f'SELECT id, layer, fid, op, "user", at, before, after FROM {self.t(HISTORY)} '
            f"WHERE {' AND '.join(clauses)} ORDER BY id {'DESC' if newest_first else 'ASC'}"
        )
        if limit is not None:
            sql += " LIMIT %s"
            params.append(int(limit))
        keys = ("id", "layer", "fid", "op", "user", "at", "before", "after")
        return [dict(zip(keys, row, strict=True)) for row in self._rows(sql, params)]

    def last_change(self, layer: str | None = None) -> int:
        if layer is None:
            row = self._one(f"SELECT max(id) FROM {self.t(HISTORY)}")
        else:
            row = self._one(f"SELECT max(id) FROM {self.t(HISTORY)} WHERE layer = %s", (layer,))
        return int(row[0] or 0) if row else 0

    def stamps(self) -> tuple[dict[str, tuple], int]:
        """Each layer's last change (ISO time by the database's clock) and exact feature
        count, and the newest history id, in one statement."""
        rows = self._rows(
            f"SELECT c.layer, {_ISO_UTC.format('c.last_change')}, c.feature_count, "
            f"(SELECT max(id) FROM {self.t(HISTORY)}) FROM {self.t(CHANGES)} c ORDER BY c.layer"
        )
        last = int(rows[0][3] or 0) if rows else 0
        return {r[0]: (r[1], int(r[2])) for r in rows}, last

    def layer_stamp(self, layer: Layer) -> tuple:
        row = self._one(
            f"SELECT {_ISO_UTC.format('last_change')}, feature_count, "
            f"(SELECT max(id) FROM {self.t(HISTORY)} WHERE layer = %s) FROM {self.t(CHANGES)} WHERE layer = %s",
            (layer.id, layer.id),
        )
        return (None, None, 0) if row is None else (row[0], int(row[1]), int(row[2] or 0))

    def changes_since(self, history_id: int) -> list[tuple[str, int]]:
        rows = self._rows(f"SELECT layer, fid FROM {self.t(HISTORY)} WHERE id > %s ORDER BY id", (int(history_id),))
        return [(r[0], int(r[1])) for r in rows]

    # -- users ----------------------------------------------------------------------------------

    _USER_COLS = ("name", "role", "token_salt", "token_hash", "created_at", "active")

    def get_user(self, name: str) -> dict[str, Any] | None:
        row = self._one(f"SELECT {', '.join(self._USER_COLS)} FROM {self.t(USERS)} WHERE name = %s", (name,))
        return None if row is None else dict(zip(self._USER_COLS, row, strict=True))

    def list_users(self) -> list[dict[str, Any]]:
        rows = self._rows(f"SELECT {', '.join(self._USER_COLS)} FROM {self.t(USERS)} ORDER BY name")
        return [dict(zip(self._USER_COLS, r, strict=True)) for r in rows]

    def add_user(self, record: dict[str, Any]) -> None:
        with self._write() as conn:
            if conn.execute(f"SELECT 1 FROM {self.t(USERS)} WHERE name = %s", (record["name"],)).fetchone():
                raise ValidationError(f"user {record['name']!r} already exists", field="name", value=record["name"])
            conn.execute(
                f"INSERT INTO {self.t(USERS)}({', '.join(self._USER_COLS)}) VALUES (%s, %s, %s, %s, %s, %s)",
                [record["name"], record["role"], record["token_salt"], record["token_hash"], record["created_at"], bool(record.get("active", True))],
            )

    def update_user(self, name: str, **changes: Any) -> bool:
        unknown = set(changes) - set(self._USER_COLS)
        if unknown:
            raise ValueError(f"unknown user field(s) {', '.join(sorted(unknown))}")
        if not changes:
            return self.get_user(name) is not None
        with self._write() as conn:
            cur = conn.execute(
                f"UPDATE {self.t(USERS)} SET {', '.join(f'{_q(k)} = %s' for k in changes)} WHERE name = %s",
                [*(bool(v) if k == "active" else v for k, v in changes.items()), name],
            )
            return cur.rowcount > 0

    def revoke_session(self, sid_hash: str, user: str, expires_at: str) -> None:
        now = now_iso()
        with self._write() as conn:
            conn.execute(f"DELETE FROM {self.t(SESSIONS)} WHERE expires_at < %s", (now,))
            conn.execute(
                f'INSERT INTO {self.t(SESSIONS)}(sid_hash, "user", revoked_at, expires_at) VALUES (%s, %s, %s, %s) '
                "ON CONFLICT (sid_hash) DO UPDATE SET expires_at = EXCLUDED.expires_at",
                (sid_hash, user, now, expires_at),
            )

    def session_revoked(self, sid_hash: str) -> bool:
        if self.options["read_only"] and self._one("SELECT to_regclass(%s)", (self.t(SESSIONS),))[0] is None:
            return False
        row = self._one(f"SELECT 1 FROM {self.t(SESSIONS)} WHERE sid_hash = %s AND expires_at >= %s", (sid_hash, now_iso()))
        return row is not None
    # -- attachments ------------------------------------------------------------------------------

    def _attachment_history(self, conn, record: dict[str, Any], op: str, user: str) -> None:
        entry = json.dumps(attachment_history(record), ensure_ascii=False)
        conn.execute(
            f'INSERT INTO {self.t(HISTORY)}(layer, fid, op, "user", at, before, after) '
            "VALUES (%s, %s, %s, %s, %s, %s::json, %s::json)",
            (record["layer"], record["fid"], op, user, now_iso(),
             entry if op == "detach" else None, entry if op == "attach" else None),
        )

    def add_attachment(
        self, layer: Layer, fid: int, record: dict[str, Any], data: bytes, thumbnail: bytes | None, *, user: str
    ) -> dict[str, Any]:
        cols = [c for c in ATTACHMENT_FIELDS if c != "id"]
        with self._write() as conn:
            if self._get(conn, layer, int(fid), lock=True) is None:
                raise NotFoundError(f"layer {layer.id}: no feature {fid}", layer=layer.id, fid=fid)
            rec = {**{c: record.get(c) for c in cols}, "layer": layer.id, "fid": int(fid), "created_at": now_iso()}
            row = conn.execute(
                f"INSERT INTO {self.t(ATTACHMENTS)}(data, thumbnail, {', '.join(cols)}) "
                f"VALUES (%s, %s, {', '.join(['%s'] * len(cols))}) RETURNING id",
                [bytes(data), None if thumbnail is None else bytes(thumbnail), *(rec[c] for c in cols)],
            ).fetchone()
            rec = {"id": int(row[0]), **rec}
            self._attachment_history(conn, rec, "attach", user)
        return attachment_record(tuple(rec[c] for c in ATTACHMENT_FIELDS))

    def list_attachments(self, layer: Layer, fid: int) -> list[dict[str, Any]]:
        rows = self._rows(
            f"SELECT {', '.join(ATTACHMENT_FIELDS)} FROM {self.t(ATTACHMENTS)} WHERE layer = %s AND fid = %s ORDER BY id",
            (layer.id, int(fid)),
        )
        return [attachment_record(r) for r in rows]

    def get_attachment(self, attachment_id: int, *, thumbnail: bool = False) -> tuple[dict[str, Any], bytes | None] | None:
        row = self._one(
            f"SELECT {', '.join(ATTACHMENT_FIELDS)}, {'thumbnail' if thumbnail else 'data'} FROM {self.t(ATTACHMENTS)} WHERE id = %s",
            (int(attachment_id),),
        )
        if row is None:
            return None
        return attachment_record(row[:-1]), None if row[-1] is None else bytes(row[-1])

    def delete_attachment(self, attachment_id: int, *, user: str) -> dict[str, Any]:
        with self._write() as conn:
            row = conn.execute(
                f"DELETE FROM {self.t(ATTACHMENTS)} WHERE id = %s RETURNING {', '.join(ATTACHMENT_FIELDS)}",
                (int(attachment_id),),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no attachment {attachment_id}", attachment=attachment_id)
            rec = attachment_record(row)
            self._attachment_history(conn, rec, "detach", user)
        return rec

    def attachment_counts(self, layer: Layer, fids: Sequence[int] | None = None) -> dict[int, dict[str, int]]:
        sql = f"SELECT fid, kind, count(*) FROM {self.t(ATTACHMENTS)} WHERE layer = %s"
        params: list[Any] = [layer.id]
        if fids is not None:
            sql += " AND fid = ANY(%s)"
            params.append([int(f) for f in fids])
        out: dict[int, dict[str, int]] = {}
        for fid, kind, n in self._rows(sql + " GROUP BY fid, kind", params):
            out.setdefault(int(fid), {})[kind] = int(n)
        return out

    def attachments_by_fid(self, layer: Layer, fids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {}
        rows = self._rows(
            f"SELECT {', '.join(ATTACHMENT_FIELDS)} FROM {self.t(ATTACHMENTS)} WHERE layer = %s AND fid = ANY(%s) ORDER BY id",
            (layer.id, [int(f) for f in fids]),
        )
        for row in rows:
            rec = attachment_record(row)
            out.setdefault(int(rec["fid"]), []).append(rec)
        return out

    def iter_attachments(self) -> Iterator[tuple[dict[str, Any], bytes, bytes | None]]:
        ids = [r[0] for r in self._rows(f"SELECT id FROM {self.t(ATTACHMENTS)} ORDER BY id")]
        for aid in ids:  # one at a time: photos are megabytes each
            row = self._one(
                f"SELECT {', '.join(ATTACHMENT_FIELDS)}, data, thumbnail FROM {self.t(ATTACHMENTS)} WHERE id = %s", (aid,)
            )
            if row is not None:
                yield attachment_record(row[:-2]), bytes(row[-2]), None if row[-1] is None else bytes(row[-1])

    def copy_attachments(self, conn, rows: Sequence[tuple[dict[str, Any], bytes, bytes | None]]) -> None:
        """Insert attachments keeping their ids (``hehu copy``), inside the caller's transaction."""
        cols = [c for c in ATTACHMENT_FIELDS]
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {self.t(ATTACHMENTS)}({', '.join(cols)}, data, thumbnail) "
                f"VALUES ({', '.join(['%s'] * (len(cols) + 2))})",
                [[rec[c] for c in cols] + [data, thumb] for rec, data, thumb in rows],
            )
        conn.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
            f"coalesce((SELECT max(id) FROM {self.t(ATTACHMENTS)}), 0) + 1, false)",
            (self.t(ATTACHMENTS),),
        )

    # -- metadata -------------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._rows(f"SELECT key, value FROM {self.t(META)}")}

    def set_metadata(self, values: dict[str, Any]) -> None:
        with self._write() as conn:
            for key, value in values.items():
                conn.execute(
                    f"INSERT INTO {self.t(META)}(key, value) VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (key, json.dumps(value, ensure_ascii=False)),
                )



#: Seconds a pooled connection may sit unused before it is pinged on checkout.
IDLE_CHECK_S = 2.0


def _check_if_idle(conn) -> None:
    """The pool's check: ping a connection only when it has been idle a while."""
    if time.monotonic() - getattr(conn, "_hehu_used", 0.0) > IDLE_CHECK_S:
        conn.execute("SELECT 1")



def _first_line(exc: Exception, uri: str) -> str:
    text = str(exc).strip()
    password = urlsplit(uri).password
    if password:
        text = text.replace(password, "***")
    return text.splitlines()[0] if text else type(exc).__name__
