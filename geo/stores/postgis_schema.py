"""The PostGIS registry's tables: creating a registry's schema (``hehu db init``),
checking it on open, and bringing an older one up to date (``hehu db upgrade``,
including the one-geometry-type split). The rows themselves are read and written by
:class:`geo.stores.postgis.PostGISStore`, which takes these steps in as a mixin.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import shapely

from geo.errors import RegistryFileError
from geo.stores.records import now_iso
from layers import Catalog, Layer

if TYPE_CHECKING:
    from geo.stores.postgis import PostGISStore


SCHEMA_VERSION = 1
SRID = 4326
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


class PostGISSchema:
    """Creating, opening and upgrading a registry's schema (a mixin of :class:`PostGISStore`)."""

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

        As the GeoPackage store does on open (geo/stores/gpkg_schema.py): the features of the new
        layer's type move to it with their fields and history (old history rows follow
        the feature; a ``delete`` and an ``add`` row by the migration user record the
        move), the lines left are promoted to multi-lines, and the column's typmod is
        narrowed to the catalog's type. A feature fitting neither layer stops the upgrade
        (PostGIS enforces the typmod), naming it, with nothing written."""
        from geo.stores.gpkg_schema import MIGRATION_USER

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


MIGRATIONS: dict[int, Any] = {}
"""Schema version -> function(store, connection) bringing version - 1 up to it."""


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
