"""The PostGIS store: same answers as the GeoPackage, one registry for many processes.

Every test runs on the session's throwaway PostgreSQL cluster (tests/pg.py), each in
a schema of its own.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlsplit

import numpy as np
import pg
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from test_filter_pushdown import filters

from geo.cql2 import evaluate, parse
from geo.errors import ConflictError, StoreUnavailableError
from geo.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
POINT = {"type": "Point", "coordinates": [119.57, 31.74]}


def hehu(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the ``hehu`` command in this process (as a subprocess would, but without
    paying for the imports each time): exit status, stdout and stderr."""
    import contextlib
    import io

    from cli.main import main

    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([*args, "--lang", "en"])  # these checks read the English texts
            except SystemExit as exc:
                code = exc.code
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def pg_demo(pg_demo_uri) -> str:
    return pg_demo_uri


@pytest.fixture
def pg_demo_copy(pg_demo_copy_uri) -> str:
    return pg_demo_copy_uri


def same_frames(a, b) -> None:
    assert list(a.index) == list(b.index)
    assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    assert all(
        (x is None and y is None) or (x is not None and y is not None and x.equals_exact(y, 0))
        for x, y in zip(a.geometry.values, b.geometry.values, strict=True)
    )


# -- the same answers as the GeoPackage -------------------------------------------------------

FILTERS = [
    "status = '整改中'",
    "status <> '已销号' AND category IN ('乱占', '乱建')",
    "found_on >= '2021-06-01'",
    "found_on BETWEEN DATE('2021-01-01') AND DATE('2021-06-30')",
    "found_on > '2021-06-15' AND deadline IS NOT NULL",
    "code LIKE 'V%1'",
    "town LIKE '%镇'",
    "NOT category IN ('乱占','乱采') OR source IS NULL",
    "DWITHIN(geometry, POINT(119.55 31.72), 3, kilometers)",
    "DWITHIN(geometry, LINESTRING(119.4 31.6, 119.7 31.8), 500, meters) AND status = '已销号'",
    "S_INTERSECTS(geometry, BBOX(119.4, 31.6, 119.6, 31.8))",
    "S_WITHIN(geometry, POLYGON((119.4 31.6, 119.6 31.6, 119.6 31.8, 119.4 31.8, 119.4 31.6)))",
    "S_DISJOINT(geometry, BBOX(119.4, 31.6, 119.6, 31.8)) AND fid < 200",
]


def test_every_layer_reads_back_exactly_as_in_the_geopackage(demo_path, pg_demo):
    with Registry.open(demo_path) as a, Registry.open(pg_demo) as b:
        for layer in a.layers:
            same_frames(a.read(layer.id), b.read(layer.id))
            assert a.count(layer.id) == b.count(layer.id)
            assert a.extent(layer.id) == pytest.approx(b.extent(layer.id))
            for field in layer.temporal:
                assert a.store.temporal_extent(layer, field) == b.store.temporal_extent(layer, field)


@pytest.mark.parametrize("text", FILTERS)
def test_cql2_filters_select_the_same_features_as_the_geopackage(demo_path, pg_demo, text):
    tree = parse(text)
    with Registry.open(demo_path) as a, Registry.open(pg_demo) as b:
        layer = a.layer("violations")
        expected = a.store.read(layer, filter=tree)
        same_frames(expected, b.store.read(layer, filter=tree))
        assert b.store.count(layer, filter=tree) == len(expected)
        rows, matched = b.store.read_rows(layer, filter=tree, order_by=[("found_on", False)], limit=7, offset=3)
        rows_a, matched_a = a.store.read_rows(layer, filter=tree, order_by=[("found_on", False)], limit=7, offset=3)
        assert matched == matched_a == len(expected)
        assert [r[0] for r in rows] == [r[0] for r in rows_a]
        assert [r[2:] for r in rows] == [r[2:] for r in rows_a]


@pytest.fixture(scope="module")
def pg_demo_reg(pg_demo):
    reg = Registry.open(pg_demo)
    yield reg
    reg.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=filters())
def test_filters_pushed_into_postgis_equal_the_pandas_reference(pg_demo_reg, text):
    layer = pg_demo_reg.layer("violations")
    whole = pg_demo_reg.read("violations")
    expected = sorted(whole.index[evaluate(parse(text), whole, layer)].tolist())
    assert sorted(pg_demo_reg.read("violations", filter=text).index.tolist()) == expected
    assert pg_demo_reg.count("violations", filter=text) == len(expected)
    rows, matched = pg_demo_reg.read_rows("violations", filter=text, limit=7, offset=3)
    assert matched == len(expected) and [r[0] for r in rows] == expected[3:10]


def test_the_dwithin_translation_runs_in_sql(pg_demo):
    from geo.stores.postgis import _DIALECT
    from geo.stores.sql_filter import translate

    with Registry.open(pg_demo) as reg:
        t = translate(parse(FILTERS[9]), reg.layer("violations"), _DIALECT)
    assert t.residual is None and "ST_DWithin" in t.sql and "ST_Transform" in t.sql


def test_bbox_pages_orders_and_candidates_match_the_geopackage(demo_path, pg_demo):
    bbox = (119.45, 31.62, 119.62, 31.78)
    with Registry.open(demo_path) as a, Registry.open(pg_demo) as b:
        for layer_id in ("violations", "rivers", "micro_water_bodies"):
            layer = a.layer(layer_id)
            for order in (None, [("code", True)], [("town", False), ("code", True)]):
                same_frames(a.store.read(layer, bbox=bbox, order_by=order), b.store.read(layer, bbox=bbox, order_by=order))
                ra, na = a.store.read_rows(layer, bbox=bbox, order_by=order, limit=10, offset=5)
                rb, nb = b.store.read_rows(layer, bbox=bbox, order_by=order, limit=10, offset=5)
                assert na == nb and [r[0] for r in ra] == [r[0] for r in rb]
            boxes = np.array([[119.4, 31.6, 119.45, 31.65], [119.5, 31.7, 119.6, 31.8]])
            everything = a.read(layer_id)
            touching = {
                int(f) for f, g in zip(everything.index, everything.geometry.values, strict=True)
                if any(shapely.box(*box).intersects(shapely.box(*g.bounds)) for box in boxes)
            }
            assert touching <= set(b.store.candidates(layer, boxes).tolist())


def test_near_within_and_nearest_give_the_geopackage_answers(demo_path, pg_demo):
    with Registry.open(demo_path) as a, Registry.open(pg_demo) as b:
        for ga, gb in [
            (a.near("丹金溧漕河", 50), b.near("丹金溧漕河", 50)),
            (a.within("金城镇", layers=["violations"]), b.within("金城镇", layers=["violations"])),
            (a.nearest((119.55, 31.72), "sewage_plants", k=3), b.nearest((119.55, 31.72), "sewage_plants", k=3)),
        ]:
            assert ga.shape == gb.shape
            assert ga.drop(columns="geometry").astype(str).values.tolist() == gb.drop(columns="geometry").astype(str).values.tolist()


# -- writes, history, change stamps ----------------------------------------------------------


def violation(code: str = "PG-1", **props):
    base = {"code": code, "category": "乱堆", "status": "待交办", "found_on": "2021-05-01", "town": "金城镇"}
    return {**base, **props}, shapely.Point(119.57, 31.74)


def test_writes_record_history_and_move_the_stamps(pg_demo_copy):
    with Registry.open(pg_demo_copy) as reg:
        stamps, last = reg.store.stamps()
        fid = reg.add("violations", *violation(), user="tester")
        after, last2 = reg.store.stamps()
        assert after["violations"] != stamps["violations"] and last2 > last
        assert after["violations"][1] == stamps["violations"][1] + 1
        assert reg.store.changes_since(last) == [("violations", fid)]
        feature = reg.get("violations", fid)
        reg.update("violations", fid, {"status": "已交办"}, user="tester", expected=feature)
        with pytest.raises(ConflictError):
            reg.update("violations", fid, {"status": "整改中"}, user="tester", expected=feature)
        reg.delete("violations", fid, user="tester")
        ops = [h["op"] for h in reg.history("violations", fid)]
        assert ops == ["add", "update", "delete"]
        assert reg.count("violations") == stamps["violations"][1]


def test_catalog_constraints_hold_in_the_database(pg_demo_copy):
    import psycopg

    from geo.stores.postgis import parse_uri

    conninfo, options, _ = parse_uri(pg_demo_copy)
    with psycopg.connect(conninfo) as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                f'INSERT INTO "{options["schema"]}".violations(code, category, status, found_on) '
                "VALUES ('X', '别的', '待交办', '2021-01-01')"
            )
        conn.rollback()
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                f'INSERT INTO "{options["schema"]}".violations(code, category, status, found_on) '
                f"SELECT code, category, status, found_on FROM \"{options['schema']}\".violations LIMIT 1"
            )
        conn.rollback()
        srid = conn.execute(
            "SELECT srid FROM geometry_columns WHERE f_table_schema = %s AND f_table_name = 'violations'",
            (options["schema"],),
        ).fetchone()
        assert srid == (4326,)


def test_a_duplicate_code_is_refused_naming_the_field(pg_demo_copy):
    from geo.errors import ValidationError

    with Registry.open(pg_demo_copy) as reg:
        code = reg.read("violations", limit=1)["code"].iloc[0]
        before = reg.count("violations"), reg.store.last_change()
        with pytest.raises(ValidationError, match="code"):
            reg.add_many("violations", [violation("NEW-1"), violation(code)])
        assert (reg.count("violations"), reg.store.last_change()) == before


def test_a_user_added_through_one_process_signs_in_through_another(pg_demo_copy):
    from geo.users import add_user, authenticate

    with Registry.open(pg_demo_copy) as a, Registry.open(pg_demo_copy) as b:
        token = add_user(a, "chief", "editor", iterations=1000)
        assert authenticate(b, token).name == "chief"
    out = hehu("user", "list", "--registry", pg_demo_copy)
    assert out.returncode == 0 and "chief" in out.stdout


# -- copy ---------------------------------------------------------------------------------------


def test_copy_round_trip_is_lossless(demo_copy, pg_cluster, tmp_path):
    from geo.users import add_user

    with Registry.open(demo_copy) as reg:
        add_user(reg, "copier", "admin", iterations=1000)
        fid = reg.add("violations", *violation("RT-1"), user="copier")
        reg.delete("violations", fid - 1, user="copier")  # a gap in the fids
    uri = pg_cluster.uri(pg.new_schema())
    try:
        assert hehu("copy", str(demo_copy), uri).returncode == 0
        back = tmp_path / "back.gpkg"
        r = hehu("copy", uri, str(back))
        assert r.returncode == 0, r.stderr
        with Registry.open(demo_copy) as a, Registry.open(uri) as b, Registry.open(back) as c:
            for layer in a.layers:
                same_frames(a.read(layer.id), b.read(layer.id))
                same_frames(a.read(layer.id), c.read(layer.id))
            assert a.history() == b.history() == c.history()
            assert a.store.list_users() == b.store.list_users() == c.store.list_users()
            assert a.metadata == b.metadata == c.metadata
            # New features after a copy get fids after the copied ones.
            new = b.add("violations", *violation("RT-2"))
            assert new > fid
    finally:
        pg_cluster.drop_schema(uri.rsplit("schema=", 1)[1])


def test_copy_refuses_a_target_with_data_unless_replace(demo_path, pg_demo_copy, tmp_path):
    r = hehu("copy", str(demo_path), pg_demo_copy)
    assert r.returncode == 2 and "--replace" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    target = tmp_path / "t.gpkg"
    assert hehu("copy", pg_demo_copy, str(target)).returncode == 0
    r = hehu("copy", pg_demo_copy, str(target))
    assert r.returncode == 2 and "--replace" in r.stderr
    with Registry.open(pg_demo_copy) as reg:
        reg.add("violations", *violation("REPL-1"))
    assert hehu("copy", str(demo_path), pg_demo_copy, "--replace").returncode == 0
    with Registry.open(pg_demo_copy) as reg, Registry.open(demo_path) as demo:
        assert reg.read("violations", where={"code": "REPL-1"}).empty
        assert reg.store.last_change() == demo.store.last_change()


# -- hehu db: init, upgrade, versions --------------------------------------------------------------


def test_db_init_creates_a_registry_once(pg_uri):
    r = hehu("db", "init", pg_uri)
    assert r.returncode == 0, r.stderr
    with Registry.open(pg_uri) as reg:
        assert reg.count("violations") == 0 and reg.metadata["title"] == "河湖一张图"
    again = hehu("db", "init", pg_uri)
    assert again.returncode == 2 and "already holds a hehu registry" in again.stderr
    up = hehu("db", "upgrade", pg_uri)
    assert up.returncode == 0 and "up to date" in up.stderr


def _sql(cluster, sql: str) -> None:
    import psycopg

    with psycopg.connect(cluster.admin_conninfo(), autocommit=True) as conn:
        conn.execute(sql)


def test_a_registry_from_a_newer_hehu_says_to_update_hehu(pg_cluster, pg_uri):
    Registry.create(pg_uri).close()
    schema = pg_uri.rsplit("schema=", 1)[1]
    _sql(pg_cluster, f'UPDATE "{schema}".hehu_schema SET version = 99')
    r = hehu("query", "near", "--target", "丹金溧漕河", "--distance", "50", "--registry", pg_uri)
    assert r.returncode == 2 and "newer than this hehu" in r.stderr and "Traceback" not in r.stderr


def test_a_registry_missing_a_layer_table_says_to_run_db_upgrade(pg_cluster, pg_uri):
    Registry.create(pg_uri).close()
    schema = pg_uri.rsplit("schema=", 1)[1]
    _sql(pg_cluster, f'DROP TABLE "{schema}".projects')
    r = hehu("user", "list", "--registry", pg_uri)
    assert r.returncode == 2 and f"hehu db upgrade {pg_uri}" in r.stderr
    up = hehu("db", "upgrade", pg_uri)
    assert up.returncode == 0 and "layer projects" in up.stderr
    with Registry.open(pg_uri) as reg:
        assert reg.count("projects") == 0


# -- bad input: one line, exit 2, no password --------------------------------------------------------


def _bad_uris(cluster) -> dict[str, tuple[str, str]]:
    cluster_port = cluster.port
    dead = pg._free_port()
    return {
        "unparsable": ("postgresql://hehu:s3cret-pw@[::1/db", "not a valid PostgreSQL URI"),
        "no server": (f"postgresql://hehu:s3cret-pw@127.0.0.1:{dead}/hehu", "no PostgreSQL server answers"),
        "wrong password": (cluster.tcp_uri("s3cret-pw"), "refused the user name or password"),
        "no database": (cluster.uri(dbname="nodb") + "&password=s3cret-pw", "database nodb does not exist"),
        "no postgis": (cluster.uri(dbname="plain") + "&password=s3cret-pw", "has no PostGIS"),
        "no schema": (cluster.uri("nothing_here") + "&password=s3cret-pw", "hehu db init"),
        "bad pool size": (f"postgresql://127.0.0.1:{cluster_port}/x?pool_size=0&password=s3cret-pw", "pool_size"),
    }


@pytest.fixture(scope="module")
def plain_database(pg_cluster):
    pg_cluster.create_database("plain", postgis=False)
    return "plain"


@pytest.mark.parametrize("case", ["unparsable", "no server", "wrong password", "no database", "no postgis", "no schema", "bad pool size"])
def test_an_unusable_database_is_one_line_saying_what_to_do(pg_cluster, plain_database, case):
    uri, expected = _bad_uris(pg_cluster)[case]
    r = hehu("user", "list", "--registry", uri)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], r.stderr
    assert "s3cret-pw" not in r.stderr and "Traceback" not in r.stderr


def test_hehu_registry_names_the_registry_for_every_command(pg_demo):
    r = hehu(
        "query", "near", "--target", "丹金溧漕河", "--distance", "50", "--layers", "violations",
        "--format", "geojson", env={"HEHU_REGISTRY": pg_demo},
    )
    assert r.returncode == 0, r.stderr
    with Registry.open(pg_demo) as reg:
        expected = reg.near("丹金溧漕河", 50, layers=["violations"])
    assert len(json.loads(r.stdout)["features"]) == len(expected) > 0


def test_the_store_name_has_no_password(pg_cluster):
    from geo.stores import display_name

    uri = pg_cluster.tcp_uri(schema="demo")
    assert pg.PASSWORD in uri
    assert pg.PASSWORD not in display_name(uri)
    assert pg.PASSWORD not in display_name(uri.replace("?", "?password=x&"))


# -- many processes --------------------------------------------------------------------------------


def _racer(uri: str, fid: int, expected: dict, status: str, barrier, results) -> None:
    reg = Registry.open(uri)
    barrier.wait()
    try:
        reg.update("violations", fid, {"status": status}, user=status, expected=expected)
        results.put("won")
    except ConflictError:
        results.put("conflict")
    finally:
        reg.close()


def test_two_processes_with_the_same_version_exactly_one_wins(pg_demo_copy):
    with Registry.open(pg_demo_copy) as reg:
        fid = int(reg.read("violations", where={"status": "待交办"}, limit=1).index[0])
        current = reg.get("violations", fid)
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(pg_demo_copy, fid, current, s, barrier, results)) for s in ("已交办", "整改中", "已交办", "整改中")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    assert outcomes == ["conflict", "conflict", "conflict", "won"]
    with Registry.open(pg_demo_copy) as reg:
        assert len([h for h in reg.history("violations", fid) if h["op"] == "update"]) == 1


_SLOW_WRITER = """
import sys
from shapely import Point
from geo.registry import Registry
reg = Registry.open(sys.argv[1])
rows = [({"code": f"K-{i}", "category": "乱堆", "status": "待交办", "found_on": "2021-05-01"},
         Point(119.5 + i * 1e-6, 31.7)) for i in range(int(sys.argv[2]))]
print("writing", flush=True)
reg.add_many("violations", rows, user="killed")
print("done", flush=True)
"""


def test_kill_9_mid_write_leaves_nothing_partial(pg_cluster, pg_demo_copy):
    import psycopg

    with Registry.open(pg_demo_copy) as reg:
        before = reg.count("violations"), reg.store.last_change(), reg.store.stamps()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, pg_demo_copy, "5000"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "writing"
        # Wait until the write transaction holds the registry's lock and has written
        # rows (uncommitted), then kill the writer without a chance to clean up.
        deadline = time.monotonic() + 60
        with psycopg.connect(pg_cluster.admin_conninfo(), autocommit=True) as conn:
            while time.monotonic() < deadline:
                held = conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                ).fetchone()[0]
                if held:
                    break
                time.sleep(0.01)
            assert held, "the writer never took the write lock"
            time.sleep(0.3)
            proc.kill()
            proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    with Registry.open(pg_demo_copy) as reg:
        assert reg.count("violations") == before[0]
        assert reg.store.last_change() == before[1]
        assert reg.read("violations", where={"code": "K-1"}).empty
        # The lock died with the connection: the next write goes through.
        fid = reg.add("violations", *violation("AFTER-KILL"))
        assert reg.history("violations", fid)[0]["op"] == "add"


def test_a_busy_pool_answers_503_with_retry_after(pg_demo):
    from server import create_app

    uri = pg_demo + "&pool_size=1&pool_timeout=0.3"
    reg = Registry.open(uri)
    app = create_app({"REGISTRY_OBJECT": reg, "TESTING": True})
    client = app.test_client()
    assert client.get("/collections/violations/items?limit=2").status_code == 200
    holding, release = threading.Event(), threading.Event()

    def hold():
        with reg.store.snapshot():  # takes the pool's only connection
            holding.set()
            release.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    try:
        holding.wait(10)
        with pytest.raises(StoreUnavailableError) as exc:
            reg.count("violations", where={"status": "整改中"})
        assert exc.value.retry_after >= 1
        r = client.get("/collections/violations/items?limit=2&status=整改中")
        assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1
        assert "连接池" in r.get_json()["description"]
        r = client.get("/collections/violations/items?limit=2&status=整改中", headers={"Accept-Language": "en"})
        assert r.status_code == 503 and "pool" in r.get_json()["description"]
    finally:
        release.set()
        t.join()
    assert client.get("/collections/violations/items?limit=2&status=整改中").status_code == 200
    reg.close()


# -- servers ------------------------------------------------------------------------------------------


def _serve(uri: str, port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--registry", uri, "--port", str(port), "--threads", "4", *extra],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.stderr.read()}")
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def _request(method: str, url: str, body: dict | None = None, headers: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def _stop(*procs: subprocess.Popen) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()


@pytest.fixture
def two_servers(pg_cluster, pg_demo_copy):
    """Two `hehu serve` processes on one database over TCP with a password, and an editor token."""
    from geo.users import add_user

    uri = pg_cluster.tcp_uri(schema=pg_demo_copy.rsplit("schema=", 1)[1])
    with Registry.open(uri) as reg:
        token = add_user(reg, "editor-1", "editor", iterations=1000)
    ports = [pg._free_port(), pg._free_port()]
    procs = [_serve(uri, p) for p in ports]
    try:
        for p, proc in zip(ports, procs, strict=True):
            _wait(f"http://127.0.0.1:{p}/collections", proc)
        yield [f"http://127.0.0.1:{p}" for p in ports], token, procs
    finally:
        _stop(*procs)
        for proc in procs:
            assert pg.PASSWORD not in proc.stderr.read()


def test_a_write_through_one_server_is_read_through_the_other(two_servers):
    (a, b), token, _ = two_servers
    auth = {"Authorization": f"Bearer {token}"}
    body = {"type": "Feature", "properties": violation("TWO-1")[0], "geometry": POINT}
    status, headers, _ = _request("POST", a + "/collections/violations/items", body, auth)
    assert status == 201
    status, _, data = _request("GET", b + urlsplit(headers["Location"]).path)
    assert status == 200 and json.loads(data)["properties"]["code"] == "TWO-1"
    status, _, data = _request("GET", b + "/collections/violations/items?code=TWO-1")
    assert json.loads(data)["numberMatched"] == 1


def test_the_etag_race_across_two_servers_has_exactly_one_winner(two_servers):
    (a, b), token, _ = two_servers
    status, headers, data = _request("GET", a + "/collections/violations/items/5")
    assert status == 200
    etag = headers["ETag"]
    results = []

    def patch(base: str, status_value: str):
        results.append(_request(
            "PATCH", base + "/collections/violations/items/5", {"properties": {"note": status_value}},
            {"Authorization": f"Bearer {token}", "If-Match": etag},
        )[0])

    threads = [threading.Thread(target=patch, args=(base, f"from {i}")) for i, base in enumerate([a, b, a, b])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 412, 412, 412]


def test_a_database_restart_gives_503s_then_recovers_without_restarting_hehu(pg_cluster, two_servers):
    (a, b), _, _ = two_servers
    statuses: list[int] = []
    stop = threading.Event()

    def traffic():
        while not stop.is_set():
            for base in (a, b):
                statuses.append(_request("GET", base + "/collections/violations/items?limit=5&status=" + quote("整改中"))[0])

    t = threading.Thread(target=traffic)
    t.start()
    try:
        time.sleep(0.5)
        pg_cluster.restart()
        time.sleep(1.0)
    finally:
        stop.set()
        t.join()
    assert len(statuses) > 10 and set(statuses) <= {200, 503}, statuses
    for base in (a, b):
        assert _request("GET", base + "/collections/violations/items?limit=5&status=" + quote("整改中"))[0] == 200


def test_serve_workers_share_one_port_and_replace_a_killed_worker(pg_demo):
    import signal

    port = pg._free_port()
    proc = _serve(pg_demo, port, "--workers", "2")
    try:
        _wait(f"http://127.0.0.1:{port}/collections", proc)
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 2
        os.kill(int(children[0]), signal.SIGKILL)
        for _ in range(20):
            assert _request("GET", f"http://127.0.0.1:{port}/collections/violations/items?limit=1")[0] == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
            if len(now) == 2 and children[0] not in now:
                break
            time.sleep(0.2)
        assert len(now) == 2 and children[0] not in now
    finally:
        _stop(proc)


def test_a_read_only_registry_refuses_writes_with_405_and_serves_reads(pg_demo_copy):
    from geo.errors import ReadOnlyRegistryError
    from geo.users import add_user
    from server import create_app

    with Registry.open(pg_demo_copy) as writable:
        token = add_user(writable, "ro-editor", "editor", iterations=1000)
    uri = pg_demo_copy + "&read_only=1"
    with Registry.open(uri) as reg:
        with pytest.raises(ReadOnlyRegistryError, match="read-only"):
            reg.add("violations", *violation("RO-1"))
    client = create_app({"REGISTRY": uri, "TESTING": True}).test_client()
    assert client.get("/collections/violations/items?limit=1").status_code == 200
    body = {"type": "Feature", "properties": violation("RO-1")[0], "geometry": POINT}
    r = client.post("/collections/violations/items", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 405 and "主库" in r.get_json()["description"]
    r = client.post(
        "/collections/violations/items", json=body,
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )
    assert r.status_code == 405 and "primary" in r.get_json()["description"]


def test_pool_and_timeouts_come_from_the_uri_or_the_environment(monkeypatch):
    from geo.errors import RegistryFileError
    from geo.stores.postgis import parse_uri

    monkeypatch.setenv("HEHU_PG_POOL_SIZE", "3")
    libpq, options, name = parse_uri("postgresql://u:pw@db:5433/hehu?schema=city&statement_timeout=2000&sslmode=require")
    assert options == {"schema": "city", "pool_size": 3, "pool_timeout": 5.0, "statement_timeout": 2000, "read_only": False}
    assert "schema" not in libpq and "sslmode=require" in libpq
    assert name == "postgresql://u@db:5433/hehu?schema=city&statement_timeout=2000&sslmode=require"
    with pytest.raises(RegistryFileError, match="pool_timeout"):
        parse_uri("postgresql:///hehu?pool_timeout=soon")


def test_a_big_batch_is_written_by_copy_with_history_and_unique_codes(pg_demo_copy):
    from geo.errors import ValidationError
    from geo.stores.postgis import BULK_ROWS

    n = BULK_ROWS + 5
    batch = [violation(f"BULK-{i}") for i in range(n)]
    with Registry.open(pg_demo_copy) as reg:
        count, last = reg.count("violations"), reg.store.last_change()
        with pytest.raises(ValidationError, match="twice"):
            reg.add_many("violations", [*batch, violation("BULK-3")])
        taken = reg.read("violations", limit=1)["code"].iloc[0]
        with pytest.raises(ValidationError, match="already used"):
            reg.add_many("violations", [*batch[:-1], violation(taken)])
        assert (reg.count("violations"), reg.store.last_change()) == (count, last)
        fids = reg.add_many("violations", batch, user="bulk")
        assert reg.count("violations") == count + n == len(reg.read("violations"))
        got = reg.get("violations", fids[7])
        assert got["properties"]["code"] == "BULK-7" and got["geometry"].equals(batch[7][1])
        history = reg.history("violations", since=last)
        assert len(history) == n and history[7]["fid"] == fids[7] and history[7]["user"] == "bulk"
        assert reg.add("violations", *violation("AFTER-BULK")) > max(fids)


def test_a_statement_timeout_bounds_any_one_query_with_a_503(pg_demo):
    with Registry.open(pg_demo + "&statement_timeout=1") as reg:
        with pytest.raises(StoreUnavailableError, match="statement_timeout") as exc:
            for _ in range(20):  # 1 ms: some read of every polygon will overrun it
                reg.read("micro_water_bodies", filter="DWITHIN(geometry, POINT(119.55 31.72), 20, kilometers)")
        assert exc.value.status == 503


def test_a_write_by_another_tool_moves_the_count_and_stamps(pg_cluster, pg_demo_copy):
    """QGIS, GDAL or another system may write the tables: triggers keep the count and
    change stamps exact, so caches and numberMatched follow."""
    schema = pg_demo_copy.rsplit("schema=", 1)[1]
    with Registry.open(pg_demo_copy) as reg:
        count = reg.count("violations")
        stamps, _ = reg.store.stamps()
        near = len(reg.near("POINT(119.571 31.741)", 30, layers=["violations"]))
        _sql(pg_cluster, f"INSERT INTO \"{schema}\".violations(geom, code, category, status, found_on) "
             "VALUES (ST_SetSRID(ST_MakePoint(119.571, 31.741), 4326), 'QGIS-1', '乱堆', '待交办', '2021-05-01')")
        after, _ = reg.store.stamps()
        assert reg.count("violations") == count + 1 and after["violations"][0] > stamps["violations"][0]
        assert len(reg.near("POINT(119.571 31.741)", 30, layers=["violations"])) == near + 1
        _sql(pg_cluster, f"DELETE FROM \"{schema}\".violations WHERE code = 'QGIS-1'")
        assert reg.count("violations") == count
