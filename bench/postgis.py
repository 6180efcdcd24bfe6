"""hehu on PostGIS at 1,000,000 violations, against tipg and pygeoapi on the same tables.

One command::

    python -m bench.postgis                      # a throwaway cluster (tests/pg.py)
    python -m bench.postgis --uri postgresql://user@host/db --total 1000000

In one run it loads the demo plus synthetic violations up to ``--total`` into a PostGIS
schema, then measures and prints, each against a baseline measured in the same run:

1. the metric index: ``ST_DWithin`` in EPSG:4549 metres served by a GiST expression
   index on ``ST_Transform(geom, 4549)`` against a stored ``geom_m`` column with its
   own GiST index (write cost per 10,000 features, query time);
2. ``hehu query near`` cold (a fresh process's first question) and warm;
3. ``/collections/violations/items?bbox=<2 km box>&limit=100`` with 4 clients for
   ``hehu serve --workers 2`` and ``--workers 4``, **tipg** and **pygeoapi's
   PostgreSQL provider**, all on the same table; requests per second, latency and
   errors.

tipg and pygeoapi are run from their own virtualenv (``--others-python``, default
``$HEHU_BENCH_PYTHON``), since their pins differ from hehu's:
``python -m venv /tmp/hehu-bench-venv && /tmp/hehu-bench-venv/bin/pip install tipg
pygeoapi psycopg2-binary geoalchemy2 uvicorn waitress``. Without it those rows are skipped and the
note says so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from bench.server import free_port, load, random_boxes  # noqa: E402


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build(uri: str, total: int, workdir: Path) -> Path:
    """The demo GeoPackage topped up to ``total`` violations, copied into ``uri``."""
    from geo.copy import copy_registry
    from geo.demo import build_demo

    gpkg = workdir / "demo.gpkg"
    build_demo(gpkg, seed=2021).close()
    t0 = time.perf_counter()
    copy_registry(gpkg, uri, replace=True)
    _log(f"copied the demo in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    _top_up(uri, total)
    _log(f"loaded {total} violations in {time.perf_counter() - t0:.1f} s")
    return gpkg


def _top_up(uri: str, total: int) -> None:
    """add_violations, on the PostGIS registry (its bulk path writes by COPY)."""
    from bench import workload
    from geo.registry import Registry

    with Registry.open(uri) as reg:
        have = reg.count("violations")
    if have >= total:
        return
    workload.add_violations(uri, total)


def metric_index(conninfo: str, schema: str) -> dict:
    """Expression index vs stored metric column: write cost and DWITHIN time."""
    import psycopg

    out = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'SET search_path = "{schema}", public')
        conn.execute("DROP TABLE IF EXISTS bench_expr, bench_col")
        for name, extra in (("bench_expr", ""), ("bench_col", ", geom_m geometry(Point, 4549)")):
            conn.execute(f"CREATE TABLE {name} (fid bigint PRIMARY KEY, geom geometry(Point, 4326){extra})")
            conn.execute(f"CREATE INDEX ON {name} USING gist (geom)")
        conn.execute("CREATE INDEX ON bench_expr USING gist (ST_Transform(geom, 4549))")
        conn.execute("CREATE INDEX ON bench_col USING gist (geom_m)")
        for name, cols, expr in (
            ("bench_expr", "fid, geom", "fid, geom"),
            ("bench_col", "fid, geom, geom_m", "fid, geom, ST_Transform(geom, 4549)"),
        ):
            t0 = time.perf_counter()
            conn.execute(f"INSERT INTO {name}({cols}) SELECT {expr} FROM violations ORDER BY fid LIMIT 100000")
            out[f"{name}_insert_s_per_100k"] = time.perf_counter() - t0
        conn.execute("ANALYZE bench_expr")
        conn.execute("ANALYZE bench_col")
        probes = [(119.45 + 0.02 * i, 31.62 + 0.02 * i) for i in range(10)]
        for name, col in (("bench_expr", "ST_Transform(geom, 4549)"), ("bench_col", "geom_m")):
            t0 = time.perf_counter()
            n = 0
            for _ in range(5):
                for x, y in probes:
                    n += conn.execute(
                        f"SELECT count(*) FROM {name} WHERE ST_DWithin({col}, "
                        "ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4326), 4549), 500)",
                        (x, y),
                    ).fetchone()[0]
            out[f"{name}_dwithin_ms"] = (time.perf_counter() - t0) / 50 * 1000
            out[f"{name}_hits"] = n
        out["bench_expr_size_mb"], out["bench_col_size_mb"] = (
            conn.execute(f"SELECT pg_total_relation_size('{t}') / 1e6").fetchone()[0] for t in ("bench_expr", "bench_col")
        )
        conn.execute("DROP TABLE bench_expr, bench_col")
    return out


_NEAR = """
import json, sys, time
t0 = time.perf_counter()
from geo.registry import Registry
reg = Registry.open(sys.argv[1])
t1 = time.perf_counter()
cold = reg.near("丹金溧漕河", 50, layers=["violations"])
t2 = time.perf_counter()
warm = reg.near("丹金溧漕河", 50, layers=["violations"])
t3 = time.perf_counter()
print(json.dumps({"open_s": t1 - t0, "cold_s": t2 - t1, "warm_s": t3 - t2, "n": len(cold), "same": len(cold) == len(warm)}))
"""


def near_times(uri: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _NEAR, uri], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=600,
    )
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    import socket

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"server on {port} did not start; see {log}")


def _spawn(cmd: list[str], env: dict, log: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=open(log, "wb"), stderr=subprocess.STDOUT, cwd=ROOT)  # noqa: SIM115
    _wait_port(port, proc, log)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _warm(base: str, path_of, boxes, seconds: float = 5.0) -> None:
    import urllib.request

    end = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < end:
        try:
            urllib.request.urlopen(base + path_of(boxes[i % len(boxes)]), timeout=60).read()
        except OSError:
            time.sleep(0.2)
        i += 1


def run_servers(args, uri: str, tcp: dict, schema: str, boxes, workdir: Path) -> dict:
    import bench.server as bs

    results = {}

    def measure(name: str, base: str, path_of) -> None:
        original = bs.items_path
        bs.items_path = path_of
        try:
            _warm(base, path_of, boxes)
            results[name] = load(base, boxes, args.clients, args.seconds)
        finally:
            bs.items_path = original
        r = results[name]
        _log(f"{name}: {r['rps']:.0f} req/s, median {r['median_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, errors {r['errors']}")

    def hehu_path(box):
        return "/collections/violations/items?bbox={},{},{},{}&limit=100&f=json".format(*box)

    for workers in (2, 4):
        port = free_port()
        log = workdir / f"hehu-{workers}.log"
        proc = _spawn(
            [sys.executable, "-m", "cli.main", "serve", "--registry", uri, "--port", str(port), "--workers", str(workers), "--threads", "4"],
            {"PYTHONPATH": str(ROOT)}, log, port,
        )
        try:
            measure(f"hehu --workers {workers}", f"http://127.0.0.1:{port}", hehu_path)
        finally:
            _stop(proc)
    other = args.others_python
    if not other or not Path(other).exists():
        results["note"] = "tipg/pygeoapi skipped: no --others-python (see the module docstring)"
        return results
    dsn = f"postgresql://{tcp['user']}:{tcp['password']}@{tcp['host']}:{tcp['port_db']}/{tcp['dbname']}"
    # tipg: the PostGIS-native OGC API Features server (FastAPI + asyncpg), 2 workers.
    port = free_port()
    proc = _spawn(
        [other, "-m", "uvicorn", "tipg.main:app", "--port", str(port), "--workers", "2", "--log-level", "warning"],
        {"DATABASE_URL": dsn, "TIPG_DB_SCHEMAS": json.dumps([schema]), "TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS": '["public"]'},
        workdir / "tipg.log", port,
    )
    try:
        measure("tipg (2 workers)", f"http://127.0.0.1:{port}",
                lambda box: f"/collections/{schema}.violations/items?bbox={box[0]},{box[1]},{box[2]},{box[3]}&limit=100&f=geojson")
    finally:
        _stop(proc)
    # pygeoapi with its PostgreSQL provider, under waitress with 4 threads.
    cfg = workdir / "pygeoapi.yml"
    cfg.write_text(PYGEOAPI_CONFIG.format(port=free_port(), schema=schema, **tcp), encoding="utf-8")  # tcp: host, port_db, dbname, user, password
    api = workdir / "pygeoapi-openapi.yml"
    env = {"PYGEOAPI_CONFIG": str(cfg), "PYGEOAPI_OPENAPI": str(api)}
    subprocess.run([str(Path(other).parent / "pygeoapi"), "openapi", "generate", str(cfg), "--output-file", str(api)],
                   env={**os.environ, **env}, check=True, capture_output=True)
    port = free_port()
    proc = _spawn(
        [other, "-c", "import sys; from waitress import serve; from pygeoapi.flask_app import APP; "
         "serve(APP, host='127.0.0.1', port=int(sys.argv[1]), threads=4, _quiet=True)", str(port)],
        env, workdir / "pygeoapi.log", port,
    )
    try:
        measure("pygeoapi (PostgreSQL)", f"http://127.0.0.1:{port}",
                lambda box: "/collections/violations/items?bbox={},{},{},{}&limit=100&f=json".format(*box))
    finally:
        _stop(proc)
    return results


PYGEOAPI_CONFIG = """
server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages: [en-US]
  limits: {{default_items: 100, max_items: 1000}}
  map: {{url: "https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png", attribution: OSM}}
logging: {{level: ERROR}}
metadata:
  identification: {{title: bench, description: bench, keywords: [bench], keywords_type: theme, terms_of_service: none, url: http://example.org}}
  license: {{name: CC-BY 4.0, url: https://creativecommons.org/licenses/by/4.0/}}
  provider: {{name: bench, url: http://example.org}}
  contact: {{name: bench, position: bench, address: x, city: x, stateorprovince: x, postalcode: x, country: x, phone: x, fax: x, email: x@example.org, url: http://example.org, hours: x, instructions: x, role: pointOfContact}}
resources:
  violations:
    type: collection
    title: violations
    description: violations
    keywords: [violations]
    extents:
      spatial: {{bbox: [119.2, 31.5, 119.8, 31.9], crs: http://www.opengis.net/def/crs/OGC/1.3/CRS84}}
    providers:
      - type: feature
        name: PostgreSQL
        data: {{host: {host}, port: {port_db}, dbname: {dbname}, user: {user}, password: {password}, search_path: [{schema}, public]}}
        id_field: fid
        table: violations
        geom_field: geom
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.postgis", description=__doc__.splitlines()[0])
    parser.add_argument("--uri", help="a PostgreSQL database to use (default: a throwaway cluster)")
    parser.add_argument("--total", type=int, default=1_000_000, help="violations to load (default 1,000,000)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--others-python", default=os.environ.get("HEHU_BENCH_PYTHON", "/tmp/hehu-bench-venv/bin/python"))
    args = parser.parse_args(argv)
    cluster = None
    workdir = Path(tempfile.mkdtemp(prefix="hehu-bench-pg-"))
    try:
        if args.uri:
            uri = args.uri
            from geo.stores.postgis import parse_uri

            conninfo, options, _ = parse_uri(uri)
            from psycopg.conninfo import conninfo_to_dict

            d = conninfo_to_dict(conninfo)
            tcp = {"host": d.get("host", "127.0.0.1"), "port_db": d.get("port", 5432), "dbname": d.get("dbname"),
                   "user": d.get("user"), "password": d.get("password", "")}
            schema = options["schema"]
        else:
            import pg

            cluster = pg.start_cluster()
            schema = "bench"
            uri = cluster.uri(schema)
            conninfo = cluster.admin_conninfo()
            tcp = {"host": "127.0.0.1", "port_db": cluster.port, "dbname": cluster.dbname, "user": "postgres", "password": pg.PASSWORD}
        build(uri, args.total, workdir)
        print(f"# hehu on PostGIS, {args.total:,} violations\n")
        runs = [metric_index(conninfo, schema) for _ in range(3)]
        m = {k: min(r[k] for r in runs) if k.endswith(("_s_per_100k", "_ms")) else runs[0][k] for k in runs[0]}
        print("## metric index (100,000 points, best of 3)\n")
        print(f"insert: expression index {m['bench_expr_insert_s_per_100k']:.2f} s, stored column "
              f"{m['bench_col_insert_s_per_100k']:.2f} s (column/expression {m['bench_col_insert_s_per_100k'] / m['bench_expr_insert_s_per_100k']:.2f}x)")
        print(f"DWITHIN 500 m: expression index {m['bench_expr_dwithin_ms']:.2f} ms, stored column "
              f"{m['bench_col_dwithin_ms']:.2f} ms (same hits: {m['bench_expr_hits'] == m['bench_col_hits']})")
        print(f"size: expression {m['bench_expr_size_mb']:.1f} MB, column {m['bench_col_size_mb']:.1f} MB\n")
        near = near_times(uri)
        print(f"## hehu query near 丹金溧漕河 50 m ({near['n']} violations)\n")
        print(f"open {near['open_s']:.2f} s, cold {near['cold_s']:.2f} s, warm {near['warm_s'] * 1000:.0f} ms "
              f"(cold/warm {near['cold_s'] / max(near['warm_s'], 1e-9):.0f}x)\n")
        boxes = random_boxes(workdir / "demo.gpkg", 200)
        res = run_servers(args, uri, tcp, schema, boxes, workdir)
        print(f"## items?bbox=<2 km>&limit=100, {args.clients} clients, {args.seconds:.0f} s each\n")
        print("| server | req/s | median ms | p95 ms | errors |\n|---|---|---|---|---|")
        for name, r in res.items():
            if name == "note":
                continue
            print(f"| {name} | {r['rps']:.0f} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} | {r['errors']} |")
        base = {k: v for k, v in res.items() if k != "note"}
        for other in ("tipg (2 workers)", "pygeoapi (PostgreSQL)"):
            if other in base:
                best = max(base["hehu --workers 2"]["rps"], base["hehu --workers 4"]["rps"])
                print(f"\nhehu (best) / {other}: {best / base[other]['rps']:.2f}x")
        if "note" in res:
            print(f"\n{res['note']}")
    finally:
        if cluster is not None:
            cluster.destroy()
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
