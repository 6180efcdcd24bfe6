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

The geometry blob codec is :mod:`geo.stores.gpkg_blob`; the tables, and what an older
file gains on open, are :mod:`geo.stores.gpkg_schema`; reading is :mod:`geo.stores.gpkg_read`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.errors import ConflictError, NotFoundError, RegistryFileError, ValidationError
from geo.stores.base import ATTACHMENT_FIELDS, Store
from geo.stores.gpkg_blob import _register_gpkg_functions, encode_geometry
from geo.stores.gpkg_read import GeoPackageReading
from geo.stores.gpkg_schema import (
    GPKG_APPLICATION_ID,
    GPKG_USER_VERSION,
    HISTORY_TABLE,
    MEDIA_TABLE,
    META_TABLE,
    SESSIONS_TABLE,
    USERS_TABLE,
    _bring_up_to_date,
    _check_header,
    _create_core_tables,
    _create_layer_table,
    _create_media_tables,
    _create_registry_tables,
    _mapping_table,
    _q,
    _table_exists,
    _to_sql,
)
from geo.stores.records import (
    attachment_history,
    attachment_record,
    now_iso,
    same_feature,
    unique_error,
)
from geo.stores.records import feature_json as _feature_json
from layers import Catalog, Layer


class GeoPackageStore(GeoPackageReading, Store):
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

    def _insert_rows(
        self, conn, layer: Layer, rows: Sequence[tuple[dict[str, Any], BaseGeometry]], user: str, history: bool
    ) -> list[int]:
        """Insert ``rows`` (unique-checked, numbered from 1 in errors when many), each with
        its ``add`` history row unless ``history`` is off; the caller holds the write lock."""
        cols = layer.field_names
        sql = (
            f"INSERT INTO {_q(layer.id)}(geom, {', '.join(_q(c) for c in cols)}) "
            f"VALUES (?, {', '.join('?' * len(cols))})"
        )
        fids: list[int] = []
        for i, (props, geom) in enumerate(rows, start=1):
            self._check_unique(conn, layer, props, None, row=i if len(rows) > 1 else None)
            values = [_to_sql(props.get(f.name), f.type) for f in layer.fields]
            fid = int(conn.execute(sql, [encode_geometry(geom), *values]).lastrowid)
            fids.append(fid)
            if history:
                full = {f.name: props.get(f.name) for f in layer.fields}
                after = {"fid": fid, "properties": full, "geometry": geom}
                self._history(conn, layer, fid, "add", user, None, after)
        return fids

    def _update_row(
        self, conn, layer: Layer, fid: int, properties: dict[str, Any], geometry: BaseGeometry | None,
        user: str, expected: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """Update one feature (conflict- and unique-checked) with its ``update`` history
        row, and return it as it now is; the caller holds the write lock."""
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
        return after

    def add(
        self,
        layer: Layer,
        rows: Sequence[tuple[dict[str, Any], BaseGeometry]],
        *,
        user: str,
        history: bool = True,
    ) -> list[int]:
        conn = self.conn
        with self._write():
            fids = self._insert_rows(conn, layer, rows, user, history)
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
            after = self._update_row(conn, layer, fid, properties, geometry, user, expected)
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
        conn = self.conn
        with self._write():
            touched = [
                self._update_row(conn, layer, int(fid), properties, geometry, user, None)["geometry"]
                for fid, properties, geometry in updates
            ]
            fids = self._insert_rows(conn, layer, adds, user, True)
            self._touch(conn, layer, [g for g in [*touched, *(geom for _, geom in adds)] if g is not None])
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
