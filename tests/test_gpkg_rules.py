"""The GeoPackage keeps the catalog's rules when other tools write to it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from geo.registry import Registry


def _raw(path):
    conn = sqlite3.connect(path, isolation_level=None)
    # The R-tree triggers call GeoPackage functions plain SQLite lacks (GDAL has them).
    for name in ("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
        conn.create_function(name, 1, lambda blob: 0.0)
    conn.create_function("ST_IsEmpty", 1, lambda blob: 0)
    return conn


def test_a_duplicate_code_written_with_plain_sqlite_is_refused(demo_copy):
    conn = _raw(demo_copy)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute("UPDATE violations SET code = (SELECT code FROM violations WHERE fid = 1) WHERE fid = 2")


def test_an_out_of_list_status_and_an_empty_required_field_are_refused(demo_copy):
    conn = _raw(demo_copy)
    with pytest.raises(sqlite3.IntegrityError, match="violations.status"):
        conn.execute("UPDATE violations SET status = '已关闭' WHERE fid = 1")
    with pytest.raises(sqlite3.IntegrityError, match="violations.category .* required"):
        conn.execute("UPDATE violations SET category = NULL WHERE fid = 1")
    with pytest.raises(sqlite3.IntegrityError, match="violations.code"):
        conn.execute("INSERT INTO violations(code, category, status, found_on) VALUES (NULL, '乱堆', '待交办', '2021-01-01')")


def test_gdal_cannot_write_a_listed_field_outside_its_list(demo_copy):
    import geopandas as gpd
    import pyogrio
    from shapely.geometry import Point

    frame = gpd.GeoDataFrame(
        {"code": ["QSL-GDAL-1"], "category": ["乱堆"], "status": ["已关闭"], "found_on": ["2021-05-01"]},
        geometry=[Point(119.57, 31.74)], crs=4326,
    )
    with pytest.raises(Exception, match="status"):
        pyogrio.write_dataframe(frame, demo_copy, layer="violations", append=True)
    with Registry.open(demo_copy) as reg:
        assert reg.count("violations", where={"code": "QSL-GDAL-1"}) == 0


def _strip_rules(path):
    """A registry as an older hehu (or another tool) left it: no rules in the file."""
    conn = _raw(path)
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'hehu_rules_%'")]
    for name in names:
        conn.execute(f'DROP TRIGGER "{name}"')
    conn.execute('DROP INDEX "uq_violations_code"')
    conn.execute('CREATE INDEX "idx_violations_code" ON violations(code)')
    return conn


def test_hehu_check_finds_rows_planted_before_the_rules(demo_copy):
    conn = _strip_rules(demo_copy)
    conn.execute("UPDATE violations SET code = 'QSL-DUP' WHERE fid IN (3, 4)")
    conn.execute("UPDATE violations SET status = '已关闭' WHERE fid = 5")
    conn.execute("UPDATE violations SET category = NULL, found_on = '2021/05/01' WHERE fid = 6")
    conn.close()
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "check", "--registry", str(demo_copy), "--format", "json", "--lang", "en"],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 1, out.stderr
    import json

    found = {(f["layer"], f["fid"], f["field"], f["problem"]) for f in json.loads(out.stdout)}
    assert found == {
        ("violations", 3, "code", "duplicate"),
        ("violations", 4, "code", "duplicate"),
        ("violations", 5, "status", "enum"),
        ("violations", 6, "category", "required"),
        ("violations", 6, "found_on", "date"),
    }


def test_opening_an_old_file_writes_the_rules_into_it(demo_copy):
    _strip_rules(demo_copy).close()
    Registry.open(demo_copy).close()
    conn = _raw(demo_copy)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE violations SET status = '已关闭' WHERE fid = 1")


def test_hehu_check_passes_the_demo(demo_path):
    out = subprocess.run([sys.executable, "-m", "cli.main", "check", "--registry", str(demo_path)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "均符合" in out.stdout


def test_a_file_left_in_rollback_journal_mode_returns_to_wal(demo_copy):
    conn = sqlite3.connect(demo_copy)
    assert conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    conn.close()
    Registry.open(demo_copy).close()
    conn = sqlite3.connect(demo_copy)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
