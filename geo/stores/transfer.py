"""Bulk loading of a whole registry into a store, for ``hehu copy``.

A copy keeps what the store contract's writes cannot: every feature's fid, every
history row with its id, time and author, the users' salted token hashes and the
metadata. The source is read through the contract (``iter_frames``, ``history``,
``list_users``, ``metadata``); the target is written here, in one transaction
(PostGIS) or into a new file renamed over the target at the end (GeoPackage), so a copy
that fails halfway leaves the target as it was.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo.stores.base import Store
from layers import Catalog, Layer


def frame_rows(layer: Layer, frame: gpd.GeoDataFrame) -> Iterator[tuple[int, dict[str, Any], Any]]:
    """(fid, properties, geometry) of each row of a layer frame indexed by fid."""
    names = layer.field_names
    values = frame[names].astype(object).where(frame[names].notna(), None)
    for fid, geom, vals in zip(frame.index, frame.geometry.values, values.itertuples(index=False), strict=True):
        yield int(fid), dict(zip(names, vals, strict=True)), geom


def _bounds(geoms: list) -> list[float] | None:
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return None
    return shapely.total_bounds(np.array(geoms, dtype=object)).tolist()


def load_geopackage(path: Path, catalog: Catalog, source: Store) -> dict[str, int]:
    """Write ``source`` into a new GeoPackage at ``path`` (replacing any file there)."""
    from geo.stores.gpkg import GeoPackageStore
    from geo.stores.gpkg_blob import encode_geometry
    from geo.stores.gpkg_schema import HISTORY_TABLE, USERS_TABLE, _q, _to_sql

    path = Path(path)
    tmp = path.with_name(path.name + ".copying")
    tmp.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    store = GeoPackageStore.create(tmp, catalog, source.metadata())
    try:
        conn = store.conn
        with store._write():
            for layer in catalog:
                cols = layer.field_names
                sql = (
                    f"INSERT INTO {_q(layer.id)}(fid, geom, {', '.join(_q(c) for c in cols)}) "
                    f"VALUES (?, ?, {', '.join('?' * len(cols))})"
                )
                n, geoms = 0, []
                for frame in source.iter_frames(layer):
                    batch = []
                    for fid, props, geom in frame_rows(layer, frame):
                        batch.append([fid, encode_geometry(geom), *(_to_sql(props[f.name], f.type) for f in layer.fields)])
                    conn.executemany(sql, batch)
                    n += len(batch)
                    b = _bounds(list(frame.geometry.values))
                    if b:
                        geoms.append(shapely.box(*b))
                if n:
                    store._touch(conn, layer, geoms)
                counts[layer.id] = n
            history = source.history()
            conn.executemany(
                f"INSERT INTO {HISTORY_TABLE}(id, layer, fid, op, user, at, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [_history_values(h) for h in history],
            )
            users = source.list_users()
            conn.executemany(
                f"INSERT INTO {USERS_TABLE}(name, role, token_salt, token_hash, created_at, active) VALUES (?, ?, ?, ?, ?, ?)",
                [(u["name"], u["role"], u["token_salt"], u["token_hash"], u["created_at"], 1 if u.get("active", True) else 0) for u in users],
            )
            counts["attachments"] = _load_gpkg_attachments(conn, source)
        store.close()
        os.replace(tmp, path)
    except BaseException:
        store.close()
        tmp.unlink(missing_ok=True)
        raise
    counts["history"], counts["users"] = len(history), len(users)
    return counts


def load_postgis(target, catalog: Catalog, source: Store, *, replace: bool) -> dict[str, int]:
    """Write ``source`` into the PostGIS registry ``target`` in one transaction; with
    ``replace`` its present contents are removed in the same transaction first."""
    from geo.stores.postgis import ATTACHMENTS, CHANGES, HISTORY, META, USERS

    counts: dict[str, int] = {}
    with target._write(bulk=True) as conn:
        if replace:
            tables = [target.t(layer.id) for layer in catalog] + [target.t(HISTORY), target.t(USERS), target.t(META), target.t(ATTACHMENTS)]
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
            conn.execute(
                f"UPDATE {target.t(CHANGES)} SET changed = changed + 1, feature_count = 0, "
                "min_x = NULL, min_y = NULL, max_x = NULL, max_y = NULL"
            )
        for key, value in source.metadata().items():
            conn.execute(
                f"INSERT INTO {target.t(META)}(key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, json.dumps(value, ensure_ascii=False)),
            )
        for layer in catalog:
            n, boxes = 0, []
            for frame in source.iter_frames(layer):
                target.copy_features(conn, layer, list(frame_rows(layer, frame)))
                n += len(frame)
                b = _bounds(list(frame.geometry.values))
                if b:
                    boxes.append(shapely.box(*b))
            conn.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'fid'), "
                f"coalesce((SELECT max(fid) FROM {target.t(layer.id)}), 0) + 1, false)",
                (target.t(layer.id),),
            )
            if n:
                target._touch(conn, layer, boxes)
            counts[layer.id] = n
        history = source.history()
        with conn.cursor() as cur:
            cur.executemany(
                f'INSERT INTO {target.t(HISTORY)}(id, layer, fid, op, "user", at, before, after) '
                "VALUES (%s, %s, %s, %s, %s, %s, %s::json, %s::json)",
                [_history_values(h) for h in history],
            )
        conn.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
            f"coalesce((SELECT max(id) FROM {target.t(HISTORY)}), 0) + 1, false)",
            (target.t(HISTORY),),
        )
        users = source.list_users()
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {target.t(USERS)}(name, role, token_salt, token_hash, created_at, active) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [(u["name"], u["role"], u["token_salt"], u["token_hash"], u["created_at"], bool(u.get("active", True))) for u in users],
            )
        n_att, batch = 0, []
        for item in source.iter_attachments():
            batch.append(item)
            if len(batch) >= 50:
                target.copy_attachments(conn, batch)
                n_att, batch = n_att + len(batch), []
        if batch:
            target.copy_attachments(conn, batch)
            n_att += len(batch)
        counts["attachments"] = n_att
    counts["history"], counts["users"] = len(history), len(users)
    return counts


def _history_values(h: dict[str, Any]) -> tuple:
    def dump(v):
        return None if v is None else json.dumps(v, ensure_ascii=False)

    return (int(h["id"]), h["layer"], int(h["fid"]), h["op"], h["user"], h["at"], dump(h["before"]), dump(h["after"]))


def _load_gpkg_attachments(conn, source: Store) -> int:
    """Copy every attachment of ``source`` (ids kept) into the new file's media and
    mapping tables, inside the caller's transaction."""
    from geo.stores.base import ATTACHMENT_FIELDS
    from geo.stores.gpkg_schema import MEDIA_TABLE, _mapping_table, _q, _table_exists

    n = 0
    sql = (
        f"INSERT INTO {MEDIA_TABLE}({', '.join(ATTACHMENT_FIELDS)}, data, thumbnail) "
        f"VALUES ({', '.join('?' * (len(ATTACHMENT_FIELDS) + 2))})"
    )
    for rec, data, thumb in source.iter_attachments():
        conn.execute(sql, [*(rec[c] for c in ATTACHMENT_FIELDS), data, thumb])
        if _table_exists(conn, _mapping_table(rec["layer"])):
            conn.execute(
                f"INSERT INTO {_q(_mapping_table(rec['layer']))}(base_id, related_id) VALUES (?, ?)",
                (rec["fid"], rec["id"]),
            )
        n += 1
    return n
