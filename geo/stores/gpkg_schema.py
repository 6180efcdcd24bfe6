"""The GeoPackage registry's tables: what a new file is made of and what an older file
gains when it is opened.

The DDL (the core ``gpkg_*`` tables, one feature table per catalog layer with its
R-tree index and its catalog rules as triggers, the schema extension's data columns,
the registry tables, the Related Tables Extension's media tables) and the on-open
upgrades (:func:`bring_up_to_date`: new layers, the GeoPackage version, one geometry
type per layer). The store itself, reading and writing rows, is :mod:`geo.stores.gpkg`.
"""

from __future__ import annotations

import math
import sqlite3
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from geo.errors import RegistryFileError
from geo.stores.gpkg_blob import SRS_ID, decode_geometries, encode_geometry
from geo.stores.records import now_iso
from layers import Catalog, Layer

if TYPE_CHECKING:
    from geo.stores.gpkg import GeoPackageStore


GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
# GeoPackage 1.2: the version the file really is (its R-tree triggers are the 1.2 ones).
# Files that said 1.4 made GDAL 3.6 and QGIS 3.22 warn on every open.
GPKG_USER_VERSION = 10200
#: Registry tables GIS clients must not list as layers (edit history with every old
#: value, users' token hashes): kept out of gpkg_contents. hehu_meta stays registered as
#: an attributes table, which also tells GDAL (LIST_ALL_TABLES=AUTO) to list only
#: registered tables.
HIDDEN_TABLES = ("hehu_history", "hehu_users", "hehu_sessions")
META_TABLE = "hehu_meta"
HISTORY_TABLE = "hehu_history"
USERS_TABLE = "hehu_users"
#: Signed-out sessions (a hash of the id, until the cookie would expire): never copied.
SESSIONS_TABLE = "hehu_sessions"
#: Attachments: the media table of the OGC GeoPackage Related Tables Extension (18-000),
#: related to each feature table through a mapping table ``hehu_attachments_<layer>``.
MEDIA_TABLE = "hehu_attachments"
RTE_DEFINITION = "http://docs.opengeospatial.org/is/18-000/18-000.html"


def _q(identifier: str) -> str:
    """Quote an SQL identifier (table or column name)."""
    return '"' + identifier.replace('"', '""') + '"'


# -- values (catalog types to SQLite and back; the store and `hehu copy` use them too) --


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
