"""What GIS clients see when they open the registry file itself."""

from __future__ import annotations

import sqlite3
import warnings

import pyogrio

from geo.registry import Registry
from layers import load_catalog


def test_the_file_declares_the_geopackage_version_it_is(demo_path):
    conn = sqlite3.connect(demo_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 10200


def test_registry_internals_are_not_layers(demo_path):
    listed = {name for name, _ in pyogrio.list_layers(demo_path)}
    assert "hehu_users" not in listed and "hehu_history" not in listed
    assert {layer.id for layer in load_catalog()} <= listed


def test_field_titles_and_lists_are_where_gdal_reads_them(demo_path):
    conn = sqlite3.connect(demo_path)
    name, description, constraint = conn.execute(
        "SELECT name, description, constraint_name FROM gpkg_data_columns "
        "WHERE table_name = 'violations' AND column_name = 'status'"
    ).fetchone()
    assert (name, description) == ("状态", "Status")
    values = dict(conn.execute(
        "SELECT value, description FROM gpkg_data_column_constraints WHERE constraint_name = ?", (constraint,)
    ).fetchall())
    assert values["已销号"] == "closed" and len(values) == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = pyogrio.read_dataframe(demo_path, layer="violations", max_features=3)
    assert len(frame) == 3


def test_an_older_file_is_brought_up_to_date_on_open(demo_copy):
    conn = sqlite3.connect(demo_copy, isolation_level=None)
    conn.execute("PRAGMA user_version = 10400")
    conn.execute("INSERT INTO gpkg_contents(table_name, data_type, identifier) VALUES ('hehu_users', 'attributes', 'hehu_users')")
    conn.execute("DELETE FROM gpkg_data_columns WHERE table_name = 'rivers'")
    conn.close()
    Registry.open(demo_copy).close()
    conn = sqlite3.connect(demo_copy)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 10200
    assert conn.execute("SELECT count(*) FROM gpkg_contents WHERE table_name = 'hehu_users'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM gpkg_data_columns WHERE table_name = 'rivers'").fetchone()[0] > 0
