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
from datetime import date, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.cql2 import evaluate, resolve_property
from geo.errors import (
    ConflictError,
    NotFoundError,
    ReadOnlyRegistryError,
    RegistryFileError,
    StoreUnavailableError,
    ValidationError,
)
from geo.stores.base import ATTACHMENT_FIELDS, BBox, FilterTree, OrderBy, Store, Where
from geo.stores.records import (
    attachment_history,
    attachment_record,
    now_iso,
    same_feature,
    unique_error,
)
from geo.stores.records import feature_json as _feature_json
from geo.stores.sql_filter import Dialect, Unpushable, spatial_box, translate
from layers import Catalog, Layer

SCHEMA_VERSION = 1
DEFAULT_SCHEMA = "hehu"
SRID = 4326
#: Batches this big are written by COPY (bulk loads and imports).
BULK_ROWS = 1000
METRIC_SRID = 4549
HISTORY = "hehu_history"
USERS = "hehu_users"
#: Signed-out sessions (a hash of the id, until the cookie would expire): never copied.
SESSIONS = "hehu_sessions"
META = "hehu_meta"
CHANGES = "hehu_changes"
VERSION = "hehu_schema"
#: Attachments (photos, documents) of features: one table, bytes in bytea.
ATTACHMENTS = "hehu_attachments"
#: hehu's own URI parameters, removed before the URI reaches libpq.
HEHU_PARAMS = ("schema", "pool_size", "pool_timeout", "statement_timeout", "read_only")
_PG_TYPES = {
    "str": 'text COLLATE "C"',
    "int": "bigint",
    "float": "double precision",
    "bool": "boolean",
    "date": "date",
    "datetime": "timestamptz",
}
_PG_GEOMETRY = {"Point": "Point", "LineString": "MultiLineString", "Polygon": "MultiPolygon", "Geometry": "Geometry"}
#: PostGIS ST_GeometryType names (without ST_) each declared geometry family takes in.
_FAMILY_TYPES = {"Point": ("Point",), "LineString": ("LineString", "MultiLineString"), "Polygon": ("Polygon", "MultiPolygon")}


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


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
        from geo.query import to_meters

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


class PostGISStore(Store):
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

    # -- creation, opening, upgrades ----------------------------------------------------------

    @classmethod
    def create(cls, uri: str, catalog: Catalog, metadata: dict[str, Any]) -> PostGISStore:
        """Create the registry's schema and tables (``hehu db init``); refuses an existing one."""
        store = cls(uri, catalog)
        with store._direct() as conn:
            _require_postgis(conn, store.name, create=True)
            if _has_table(conn, store.schema, VERSION):
                raise RegistryFileError(
                    f"{store.name}: schema {store.schema} already holds a hehu registry; "
                    f"use it, or `hehu db upgrade {store.name}` after updating hehu"
                )
            with conn.transaction():
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(store.schema)}")
                store._create_registry_tables(conn)
                store._create_attachments_table(conn)
                for layer in catalog:
                    store._create_layer_table(conn, layer)
                for key, value in metadata.items():
                    conn.execute(
                        f"INSERT INTO {store.t(META)}(key, value) VALUES (%s, %s)",
                        (key, json.dumps(value, ensure_ascii=False)),
                    )
                conn.execute(f"INSERT INTO {store.t(VERSION)}(version, at) VALUES (%s, %s)", (SCHEMA_VERSION, now_iso()))
        return store

    @classmethod
    def open(cls, uri: str, catalog: Catalog) -> PostGISStore:
        """Open an existing registry, checking server, PostGIS, schema and its version."""
        store = cls(uri, catalog)
        with store._direct() as conn:
            _require_postgis(conn, store.name, create=False)
            version = store._schema_version(conn)
            if version is None:
                raise RegistryFileError(f"{store.name}: no hehu registry in schema {store.schema}; create it with `hehu db init {store.name}`")
            if version > SCHEMA_VERSION:
                raise RegistryFileError(
                    f"{store.name}: the registry has schema version {version}, newer than this hehu "
                    f"knows ({SCHEMA_VERSION}); update hehu (pip install -U hehu) before opening it"
                )
            missing = [layer.id for layer in catalog if not _has_table(conn, store.schema, layer.id)]
            missing += [lid for lid in store._mixed_sources(conn) if lid not in missing]
            if version < SCHEMA_VERSION or missing:
                what = f"schema version {version}, this hehu needs {SCHEMA_VERSION}" if version < SCHEMA_VERSION else f"no table for layer(s) {', '.join(missing)}"
                raise RegistryFileError(f"{store.name}: the registry is older than this hehu ({what}); run `hehu db upgrade {store.name}`")
            # Registries made before sessions were revoked in the store get the table now
            # (additive, like a GeoPackage's new tables on open); a read-only one does not.
            if not _has_table(conn, store.schema, SESSIONS) and not store.options["read_only"]:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"hehu:{store.schema}",))
                    store._create_sessions_table(conn)
            if not _has_table(conn, store.schema, ATTACHMENTS) and not store.options["read_only"]:
                # Registries made before attachments gain their table (additive, no data moved).
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"hehu:{store.schema}",))
                    if not _has_table(conn, store.schema, ATTACHMENTS):
                        store._create_attachments_table(conn)
        return store

    @classmethod
    def upgrade(cls, uri: str, catalog: Catalog) -> list[str]:
        """Bring an older registry up to this hehu (``hehu db upgrade``); returns what was done."""
        store = cls(uri, catalog)
        done: list[str] = []
        with store._direct() as conn:
            _require_postgis(conn, store.name, create=False)
            version = store._schema_version(conn)
            if version is None:
                raise RegistryFileError(f"{store.name}: no hehu registry in schema {store.schema}; create it with `hehu db init {store.name}`")
            if version > SCHEMA_VERSION:
                raise RegistryFileError(
                    f"{store.name}: the registry has schema version {version}, newer than this hehu "
                    f"knows ({SCHEMA_VERSION}); update hehu instead"
                )
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"hehu:{store.schema}",))
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    MIGRATIONS[step](store, conn)
                    done.append(f"schema version {step}")
                done += store._split_mixed_layers(conn)
                if not _has_table(conn, store.schema, SESSIONS):
                    store._create_sessions_table(conn)
                    done.append(f"table {SESSIONS}")
                for layer in catalog:
                    if not _has_table(conn, store.schema, layer.id):
                        store._create_layer_table(conn, layer)
                        done.append(f"layer {layer.id}")
                if not _has_table(conn, store.schema, ATTACHMENTS):
                    store._create_attachments_table(conn)
                    done.append("attachments table")
                if version < SCHEMA_VERSION:
                    conn.execute(f"UPDATE {store.t(VERSION)} SET version = %s, at = %s", (SCHEMA_VERSION, now_iso()))
        return done

    # -- one geometry type per layer ----------------------------------------------------------

    def _geometry_typmod(self, conn, table: str) -> str | None:
        """The geometry type a table's ``geom`` column declares (``GEOMETRY`` for any)."""
        row = conn.execute(
            "SELECT type FROM geometry_columns WHERE f_table_schema = %s AND f_table_name = %s "
            "AND f_geometry_column = 'geom'",
            (self.schema, table),
        ).fetchone()
        return None if row is None else str(row[0]).upper()

    def _mixed_sources(self, conn) -> list[str]:
        """Layers the catalog split (``split_from``) whose table still takes any geometry."""
        sources = {layer.split_from for layer in self.catalog if layer.split_from in self.catalog}
        return sorted(
            lid for lid in sources
            if _has_table(conn, self.schema, lid) and self.catalog[lid].geometry != "Geometry"
            and self._geometry_typmod(conn, lid) == "GEOMETRY"
        )

    def _split_mixed_layers(self, conn) -> list[str]:
        """Give each split layer its one geometry type, inside ``upgrade``'s transaction.

        As the GeoPackage store does on open (geo/stores/gpkg.py): the features of the new
        layer's type move to it with their fields and history (old history rows follow
        the feature; a ``delete`` and an ``add`` row by the migration user record the
        move), the lines left are promoted to multi-lines, and the column's typmod is
        narrowed to the catalog's type. A feature fitting neither layer stops the upgrade
        (PostGIS enforces the typmod), naming it, with nothing written."""
        from geo.stores.gpkg import MIGRATION_USER

        done: list[str] = []
        for source_id in self._mixed_sources(conn):
            source = self.catalog[source_id]
            accepted = [f"ST_{t}" for t in _FAMILY_TYPES[source.geometry]]
            for target in [layer for layer in self.catalog if layer.split_from == source_id]:
                if not _has_table(conn, self.schema, target.id):
                    self._create_layer_table(conn, target)
                    done.append(f"layer {target.id}")
                types = [f"ST_{t}" for t in _FAMILY_TYPES[target.geometry]]
                fids = [r[0] for r in conn.execute(
                    f"SELECT fid FROM {self.t(source_id)} WHERE ST_GeometryType(geom) = ANY(%s) ORDER BY fid", (types,)
                )]
                # The source's shape, fields as stored, read through a layer that takes any geometry.
                for fid in fids:
                    before = self._get(conn, source, fid, lock=True)
                    props = {f.name: before["properties"].get(f.name) for f in target.fields if source.has_field(f.name)}
                    geom = before["geometry"]
                    if geom.geom_type in ("LineString", "Polygon"):
                        geom = shapely.multilinestrings([geom]) if geom.geom_type == "LineString" else shapely.multipolygons([geom])
                    new_fid = self._insert(conn, target, props, geom)
                    conn.execute(
                        f"UPDATE {self.t(HISTORY)} SET layer = %s, fid = %s WHERE layer = %s AND fid = %s",
                        (target.id, new_fid, source_id, fid),
                    )
                    conn.execute(f"DELETE FROM {self.t(source_id)} WHERE fid = %s", (fid,))
                    self._history(conn, source, fid, "delete", MIGRATION_USER, before, None)
                    self._history(conn, target, new_fid, "add", MIGRATION_USER, None, self._get(conn, target, new_fid))
                    self._touch(conn, target, [geom])
                if fids:
                    done.append(f"{len(fids)} feature(s) {source_id} -> {target.id}")
            misfits = [r[0] for r in conn.execute(
                f"SELECT fid FROM {self.t(source_id)} WHERE geom IS NOT NULL AND NOT ST_GeometryType(geom) = ANY(%s) ORDER BY fid",
                (accepted,),
            )]
            if misfits:
                raise RegistryFileError(
                    f"{self.name}: layer {source_id} holds features of no catalog layer's geometry type "
                    f"(fid {', '.join(map(str, misfits[:20]))}); fix or delete them, then run `hehu db upgrade` again"
                )
            conn.execute(
                f"ALTER TABLE {self.t(source_id)} ALTER COLUMN geom TYPE geometry({_PG_GEOMETRY[source.geometry]}, {SRID}) "
                "USING ST_Multi(geom)" if source.geometry != "Point" else
                f"ALTER TABLE {self.t(source_id)} ALTER COLUMN geom TYPE geometry(Point, {SRID}) USING geom"
            )
            conn.execute(
                f"UPDATE {self.t(CHANGES)} c SET min_x = e.x0, min_y = e.y0, max_x = e.x1, max_y = e.y1 FROM "
                f"(SELECT ST_XMin(x) x0, ST_YMin(x) y0, ST_XMax(x) x1, ST_YMax(x) y1 FROM "
                f"(SELECT ST_Extent(geom)::geometry x FROM {self.t(source_id)}) s) e WHERE c.layer = %s",
                (source_id,),
            )
            done.append(f"geometry type of {source_id}: {source.geometry}")
        return done

    def _schema_version(self, conn) -> int | None:
        if not _has_table(conn, self.schema, VERSION):
            return None
        row = conn.execute(f"SELECT max(version) FROM {self.t(VERSION)}").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def _create_registry_tables(self, conn) -> None:
        conn.execute(f"CREATE TABLE {self.t(VERSION)} (version integer NOT NULL, at text NOT NULL)")
        conn.execute(f"CREATE TABLE {self.t(META)} (key text PRIMARY KEY, value text)")
        conn.execute(
            f"CREATE TABLE {self.t(HISTORY)} (id bigserial PRIMARY KEY, layer text NOT NULL, "
            "fid bigint NOT NULL, op text NOT NULL, \"user\" text NOT NULL, at text NOT NULL, "
            "before json, after json)"
        )
        conn.execute(f"CREATE INDEX ON {self.t(HISTORY)} (layer, fid)")
        conn.execute(f"CREATE INDEX ON {self.t(HISTORY)} (layer, id)")
        conn.execute(
            f"CREATE TABLE {self.t(USERS)} (name text PRIMARY KEY, role text NOT NULL, "
            "token_salt text NOT NULL, token_hash text NOT NULL, created_at text NOT NULL, "
            "active boolean NOT NULL DEFAULT true)"
        )
        self._create_sessions_table(conn)
        self._create_change_function(conn)
        conn.execute(
            f"CREATE TABLE {self.t(CHANGES)} (layer text PRIMARY KEY, changed bigint NOT NULL DEFAULT 0, "
            "feature_count bigint NOT NULL DEFAULT 0, last_change timestamptz, "
            "min_x double precision, min_y double precision, max_x double precision, max_y double precision)"
        )

    def _create_sessions_table(self, conn) -> None:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(SESSIONS)} (sid_hash text PRIMARY KEY, \"user\" text NOT NULL, "
            "revoked_at text NOT NULL, expires_at text NOT NULL)"
        )
    def _create_attachments_table(self, conn) -> None:
        conn.execute(
            f"CREATE TABLE {self.t(ATTACHMENTS)} (id bigserial PRIMARY KEY, layer text NOT NULL, "
            "fid bigint NOT NULL, kind text NOT NULL, name text NOT NULL, content_type text NOT NULL, "
            "size bigint NOT NULL, sha256 text NOT NULL, taken_at text, lon double precision, "
            "lat double precision, uploader text NOT NULL, created_at text NOT NULL, "
            "data bytea NOT NULL, thumbnail bytea)"
        )
        conn.execute(f"CREATE INDEX ON {self.t(ATTACHMENTS)} (layer, fid)")

    def _create_change_function(self, conn) -> None:
        """The trigger function keeping ``hehu_changes`` exact whoever writes a layer
        table (hehu, QGIS, GDAL, another system): a change stamp by the database clock,
        strictly increasing, and the feature count from the statement's transition rows."""
        changes = self.t(CHANGES)
        stamp = "greatest(clock_timestamp(), last_change + interval '1 microsecond')"
        conn.execute(
            f"""CREATE OR REPLACE FUNCTION {self.t('hehu_count')}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE {changes} SET changed = changed + 1, last_change = {stamp},
      feature_count = feature_count + (SELECT count(*) FROM new_rows) WHERE layer = TG_TABLE_NAME;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE {changes} SET changed = changed + 1, last_change = {stamp},
      feature_count = feature_count - (SELECT count(*) FROM old_rows) WHERE layer = TG_TABLE_NAME;
  ELSIF TG_OP = 'TRUNCATE' THEN
    UPDATE {changes} SET changed = changed + 1, last_change = {stamp}, feature_count = 0,
      min_x = NULL, min_y = NULL, max_x = NULL, max_y = NULL WHERE layer = TG_TABLE_NAME;
  ELSE
    UPDATE {changes} SET changed = changed + 1, last_change = {stamp} WHERE layer = TG_TABLE_NAME;
  END IF;
  RETURN NULL;
END $$"""
        )

    def _create_layer_table(self, conn, layer: Layer) -> None:
        cols = []
        for f in layer.fields:
            col = f"{_q(f.name)} {_PG_TYPES[f.type]}"
            if f.required:
                col += " NOT NULL"
            if f.unique:
                col += " UNIQUE"
            if f.type == "str" and getattr(f, "max_length", None):
                col += f" CHECK (char_length({_q(f.name)}) <= {int(f.max_length)})"
            if f.enum:
                values = ", ".join("'" + v.replace("'", "''") + "'" for v in f.enum)
                col += f" CHECK ({_q(f.name)} IN ({values}))"
            cols.append(col)
        gtype = _PG_GEOMETRY[layer.geometry]
        table = self.t(layer.id)
        conn.execute(
            f"CREATE TABLE {table} (fid bigserial PRIMARY KEY, "
            f"geom geometry({gtype}, {SRID}), {', '.join(cols)})"
        )
        conn.execute(f"CREATE INDEX {_q(layer.id + '_geom_gist')} ON {table} USING gist (geom)")
        # Metric questions in the database (DWITHIN in metres) use this index when they
        # are written as ST_DWithin(ST_Transform(geom, 4549), ...).
        conn.execute(
            f"CREATE INDEX {_q(layer.id + '_geom_metric_gist')} ON {table} "
            f"USING gist (ST_Transform(geom, {METRIC_SRID}))"
        )
        for name in layer.temporal:
            conn.execute(f"CREATE INDEX ON {table} ({_q(name)})")
        count = self.t("hehu_count")
        for event, ref in (("INSERT", "REFERENCING NEW TABLE AS new_rows "), ("DELETE", "REFERENCING OLD TABLE AS old_rows "),
                           ("UPDATE", ""), ("TRUNCATE", "")):
            conn.execute(
                f"CREATE TRIGGER {_q('hehu_changes_' + event.lower())} AFTER {event} ON {table} "
                f"{ref}FOR EACH STATEMENT EXECUTE FUNCTION {count}()"
            )
        conn.execute(f"INSERT INTO {self.t(CHANGES)}(layer) VALUES (%s) ON CONFLICT DO NOTHING", (layer.id,))

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


MIGRATIONS: dict[int, Any] = {}
"""Schema version -> function(store, connection) bringing version - 1 up to it."""


def _first_line(exc: Exception, uri: str) -> str:
    text = str(exc).strip()
    password = urlsplit(uri).password
    if password:
        text = text.replace(password, "***")
    return text.splitlines()[0] if text else type(exc).__name__


def _has_table(conn, schema: str, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (f"{_q(schema)}.{_q(table)}",)).fetchone()
    return row is not None and row[0] is not None


def _require_postgis(conn, name: str, *, create: bool) -> None:
    import psycopg

    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone():
        return
    if create:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            return
        except psycopg.Error:
            pass
    dbname = conn.info.dbname
    raise RegistryFileError(
        f"{name}: database {dbname} has no PostGIS; as a superuser run "
        f"`psql -d {dbname} -c 'CREATE EXTENSION postgis'` (Debian package postgis), then "
        + ("run this again" if create else f"`hehu db init {name}`")
    )

