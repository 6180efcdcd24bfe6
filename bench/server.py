"""Requests per second and latency of OGC API items by bbox: hehu against pygeoapi.

Run: ``.venv/bin/python -m bench.server`` (options: ``--violations N`` (default
100000), ``--seconds S`` per server (default 20), ``--clients C`` (default 4)).
pygeoapi comes with the ``bench`` extra (``pip install -e '.[bench]'``); its GeoPackage
provider loads SpatiaLite (Debian: ``apt-get install libsqlite3-mod-spatialite``).

One registry is built for the run: the demo district with violations topped up to N
random points inside the district (written straight through the store: this measures
reading, not validating). Both servers serve that same GeoPackage file, each in its
own process under the same WSGI server (waitress, 4 threads):

- hehu: ``create_app`` as ``hehu serve`` runs it (a layer this big is paged from an
  in-memory copy, :mod:`geo.feature_pages`, built during the warm-up);
- pygeoapi: its ``SQLiteGPKG`` provider on the ``violations`` table (its GeoPackage
  provider).

Workload: ``/collections/violations/items?bbox=<2 km box>&limit=100``, the 2 km boxes
drawn at random inside the district (same sequence for both servers), C clients on
keep-alive connections for S seconds each, after 5 s of warm-up. An error is any non-200,
a failed connection or a body that is not a JSON FeatureCollection. The two answers
for the same box are compared once (number of features returned).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import shapely

from bench.workload import add_violations
from geo.crs import from_metric, to_metric
from geo.demo import build_demo
from geo.registry import Registry

BOX_M = 2000.0


# -- data ------------------------------------------------------------------------------


def random_boxes(path: Path, count: int, seed: int = 5) -> list[tuple[float, float, float, float]]:
    """``count`` boxes of 2 km x 2 km (in EPSG:4549) centred inside the district, lon/lat."""
    reg = Registry.open(path)
    try:
        district = reg.district()
    finally:
        reg.close()
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = district.bounds
    boxes = []
    while len(boxes) < count:
        x, y = rng.uniform([minx, miny], [maxx, maxy])
        if not district.contains(shapely.Point(x, y)):
            continue
        cx, cy = np.asarray(to_metric(shapely.Point(x, y)).coords[0])
        square = shapely.box(cx - BOX_M / 2, cy - BOX_M / 2, cx + BOX_M / 2, cy + BOX_M / 2)
        boxes.append(tuple(round(v, 6) for v in from_metric(square).bounds))
    return boxes


# -- servers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pygeoapi_config(
    gpkg: Path, workdir: Path, port: int, data: Path | None = None, tag: str = "gpkg"
) -> tuple[Path, Path]:
    """A pygeoapi configuration with one collection on ``data`` (default: the GeoPackage),
    and its OpenAPI document."""
    import yaml

    reg = Registry.open(gpkg)
    try:
        bbox = [float(v) for v in reg.extent("violations")]
    finally:
        reg.close()
    config = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "language": "en-US",
            "cors": False,
            "pretty_print": False,
            "limits": {"default_items": 100, "max_items": 10000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "hehu benchmark",
                "description": "violations",
                "keywords": ["violations"],
                "keywords_type": "theme",
                "terms_of_service": "https://example.org/",
                "url": "https://example.org/",
            },
            "license": {"name": "MIT", "url": "https://opensource.org/licenses/MIT"},
            "provider": {"name": "hehu", "url": "https://example.org/"},
            "contact": {"name": "hehu", "position": "-", "address": "-", "city": "-",
                        "stateorprovince": "-", "postalcode": "-", "country": "-", "phone": "-",
                        "fax": "-", "email": "-", "url": "https://example.org/", "hours": "-",
                        "instructions": "-", "role": "pointOfContact"},
        },
        "resources": {
            "violations": {
                "type": "collection",
                "title": "violations",
                "description": "清四乱问题",
                "keywords": ["violations"],
                "extents": {"spatial": {"bbox": bbox, "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
                "providers": [
                    {
                        "type": "feature",
                        "name": "SQLiteGPKG",
                        "data": str(data or gpkg),
                        "id_field": "fid",
                        "table": "violations",
                    }
                ],
            }
        },
    }
    cfg = workdir / f"pygeoapi-{tag}-config.yml"
    cfg.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    api = workdir / f"pygeoapi-{tag}-openapi.yml"
    generate = (
        SQLITE_SHIM
        + "import importlib\n"
        + "from pathlib import Path\n"
        + "oas = importlib.import_module('pygeoapi.openapi')\n"
        + "doc = oas.generate_openapi_document(Path(sys.argv[1]), 'yaml')\n"
        + "Path(sys.argv[2]).write_text(doc, encoding='utf-8')\n"
    )
    subprocess.run(
        [sys.executable, "-c", generate, str(cfg), str(api)],
        check=True,
        capture_output=True,
        env={**os.environ, "PYGEOAPI_CONFIG": str(cfg)},
    )
    return cfg, api


SERVE_HEHU = """
import sys
from waitress import serve
from server import create_app
app = create_app({"REGISTRY": sys.argv[1]})
serve(app, host="127.0.0.1", port=int(sys.argv[2]), threads=4, ident="hehu", _quiet=True)
"""

# pygeoapi's GeoPackage provider loads SpatiaLite into sqlite3; where Python's own sqlite3
# was built without extension loading, the pysqlite3 wheel stands in for it.
def _sqlite_with_extensions():
    """An sqlite3 module that can load SpatiaLite (the stdlib one, or the pysqlite3 wheel)."""
    import sqlite3

    try:
        sqlite3.connect(":memory:").enable_load_extension(True)
        return sqlite3
    except AttributeError:
        import pysqlite3

        return pysqlite3


def spatialite_copy(gpkg: Path, out: Path) -> Path:
    """The violations of ``gpkg`` as a SpatiaLite table with its spatial index."""
    from layers import load_catalog

    layer = load_catalog()["violations"]
    sqlite = _sqlite_with_extensions()
    conn = sqlite.connect(out)
    conn.enable_load_extension(True)
    conn.execute("SELECT load_extension('mod_spatialite')")
    conn.execute("SELECT InitSpatialMetadata(1)")
    cols = ", ".join(f'"{f.name}" {f.gpkg_type}' for f in layer.fields)
    conn.execute(f"CREATE TABLE violations (fid INTEGER PRIMARY KEY, {cols})")
    conn.execute("SELECT AddGeometryColumn('violations', 'geom', 4326, 'POINT', 'XY')")
    conn.execute("ATTACH DATABASE ? AS g", (str(gpkg),))
    names = ", ".join(f'"{f.name}"' for f in layer.fields)
    conn.execute(
        f"INSERT INTO violations (fid, {names}, geom) "
        f"SELECT fid, {names}, GeomFromGPB(geom) FROM g.violations"
    )
    conn.commit()
    conn.execute("DETACH DATABASE g")
    conn.execute("SELECT CreateSpatialIndex('violations', 'geom')")
    conn.commit()
    conn.close()
    return out


SQLITE_SHIM = """
import sys
try:
    import sqlite3
    sqlite3.connect(":memory:").enable_load_extension(True)
except AttributeError:
    import pysqlite3
    sys.modules["sqlite3"] = pysqlite3
"""

SERVE_PYGEOAPI = SQLITE_SHIM + """
from waitress import serve
from pygeoapi.flask_app import APP
serve(APP, host="127.0.0.1", port=int(sys.argv[1]), threads=4, ident="pygeoapi", _quiet=True)
"""


def start(args: list[str], port: int, env: dict | None = None, log: Path | None = None) -> subprocess.Popen:
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-c", *args],
        env={**os.environ, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parent.parent,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server on port {port} did not start; see {log}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- load --------------------------------------------------------------------------------


def items_path(box) -> str:
    return "/collections/violations/items?bbox={},{},{},{}&limit=100&f=json".format(*box)


def fetch(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path, headers={"Accept": "application/geo+json"})
    resp = conn.getresponse()
    return resp.status, resp.read()


def looks_right(status: int, body: bytes) -> bool:
    return status == 200 and body.startswith(b"{") and body.rstrip().endswith(b"}") and b'"FeatureCollection"' in body


def load(base_url: str, boxes, clients: int, seconds: float) -> dict:
    """``clients`` threads request the boxes in turn for ``seconds``; latencies and errors."""
    host = urlsplit(base_url)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    kinds: dict[str, int] = {}
    sizes = [0] * clients
    stop_at = [0.0]
    barrier = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        i = k
        barrier.wait()
        while time.perf_counter() < stop_at[0]:
            path = items_path(boxes[i % len(boxes)])
            i += clients
            t0 = time.perf_counter()
            try:
                status, body = fetch(conn, path)
                ok = looks_right(status, body)
                kind = f"HTTP {status}" if status != 200 else "bad body"
            except (OSError, http.client.HTTPException) as exc:
                ok, body, kind = False, b"", type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
            latencies[k].append(time.perf_counter() - t0)
            sizes[k] += len(body)
            if not ok:
                errors[k] += 1
                kinds[kind] = kinds.get(kind, 0) + 1
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    stop_at[0] = t0 + seconds
    barrier.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    lat = sorted(x for part in latencies for x in part)
    n = len(lat)
    return {
        "requests": n,
        "errors": sum(errors),
        "rps": n / elapsed,
        "median_ms": statistics.median(lat) * 1000 if lat else float("nan"),
        "p95_ms": lat[int(0.95 * (n - 1))] * 1000 if lat else float("nan"),
        "bytes_per_response": sum(sizes) / n if n else 0,
        "error_kinds": kinds,
    }


def warm_and_sample(base_url: str, boxes, count: int = 20, seconds: float = 5.0) -> list[int | None]:
    """Warm the server (``seconds`` of requests, the same for every server: caches,
    connections, hehu's in-memory copy of a big layer); the number of features it
    returns for the first ``count`` boxes."""
    host = urlsplit(base_url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
    end = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < end:
        try:
            fetch(conn, items_path(boxes[-1 - i % len(boxes)]))
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
        i += 1
    returned = []
    for box in boxes[:count]:
        try:
            status, body = fetch(conn, items_path(box))
            returned.append(len(json.loads(body)["features"]) if status == 200 else None)
        except (OSError, ValueError, KeyError, http.client.HTTPException):
            returned.append(None)
    conn.close()
    return returned


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.server", description=__doc__.split("\n\n")[0])
    p.add_argument("--violations", type=int, default=100_000)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--boxes", type=int, default=200)
    args = p.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="hehu-bench-server-"))
    try:
        gpkg = workdir / "jintan.gpkg"
        t0 = time.perf_counter()
        build_demo(gpkg, seed=2021).close()
        total = add_violations(gpkg, args.violations)
        print(f"registry: {total} violations ({time.perf_counter() - t0:.1f} s to build)", flush=True)
        boxes = random_boxes(gpkg, args.boxes)
        print(f"workload: {len(boxes)} random 2 km boxes, limit=100, {args.clients} clients, "
              f"{args.seconds:.0f} s per server, waitress 4 threads", flush=True)

        results: dict[str, dict] = {}
        samples: dict[str, list] = {}
        notes: list[str] = []

        port = free_port()
        proc = start([SERVE_HEHU, str(gpkg), str(port)], port, log=workdir / "hehu.log")
        try:
            base = f"http://127.0.0.1:{port}"
            samples["hehu"] = warm_and_sample(base, boxes)
            results["hehu"] = load(base, boxes, args.clients, args.seconds)
        finally:
            stop(proc)

        try:
            import pygeoapi  # noqa: F401
        except ImportError:
            notes.append("pygeoapi is not installed (pip install -e '.[bench]'): no baseline")
        else:
            sources = [("pygeoapi (GeoPackage)", "gpkg", None)]
            try:
                sources.append(
                    ("pygeoapi (SpatiaLite copy)", "spatialite", spatialite_copy(gpkg, workdir / "violations.sqlite"))
                )
            except Exception as exc:  # SpatiaLite missing: the GeoPackage baseline still runs
                notes.append(f"no SpatiaLite copy ({exc}); apt-get install libsqlite3-mod-spatialite")
            for name, tag, data in sources:
                port = free_port()
                log = workdir / f"pygeoapi-{tag}.log"
                try:
                    cfg, api = pygeoapi_config(gpkg, workdir, port, data=data, tag=tag)
                    env = {"PYGEOAPI_CONFIG": str(cfg), "PYGEOAPI_OPENAPI": str(api)}
                    proc = start([SERVE_PYGEOAPI, str(port)], port, env=env, log=log)
                except (RuntimeError, subprocess.CalledProcessError) as exc:
                    detail = getattr(exc, "stderr", b"") or b""
                    tail = log.read_text(errors="replace")[-600:] if log.exists() else ""
                    notes.append(f"{name} could not be started: {exc} {detail[-600:]!r} {tail}")
                    continue
                try:
                    base = f"http://127.0.0.1:{port}"
                    samples[name] = warm_and_sample(base, boxes)
                    if all(v is None for v in samples[name]):
                        notes.append(f"{name} answered no request with features: "
                                     f"{log.read_text(errors='replace')[-600:]}")
                    results[name] = load(base, boxes, args.clients, args.seconds)
                finally:
                    stop(proc)

        print()
        print(f"{'server':<28}{'requests':>9}{'errors':>8}{'req/s':>9}{'median ms':>11}{'p95 ms':>9}"
              f"{'KB/resp':>9}{'hehu is':>10}")
        baselines = {k: r["rps"] for k, r in results.items() if k != "hehu"}
        best = max(baselines.values()) if baselines else None
        for name, r in results.items():
            ratio = f"{results['hehu']['rps'] / r['rps']:.1f}x" if name != "hehu" and r["rps"] else "-"
            print(f"{name:<28}{r['requests']:>9}{r['errors']:>8}{r['rps']:>9.1f}{r['median_ms']:>11.1f}"
                  f"{r['p95_ms']:>9.1f}{r['bytes_per_response'] / 1024:>9.1f}{ratio:>10}")
            if r["error_kinds"]:
                print(f"{'':<28}errors: {r['error_kinds']}")
        if best:
            print(f"\nhehu / best pygeoapi: {results['hehu']['rps'] / best:.1f}x requests per second "
                  f"(median latency {results['hehu']['median_ms']:.1f} ms vs "
                  f"{min(r['median_ms'] for k, r in results.items() if k != 'hehu'):.1f} ms)")
        for name in samples:
            if name == "hehu":
                continue
            same = sum(a == b for a, b in zip(samples["hehu"], samples[name], strict=True))
            print(f"{name}: same number of features as hehu for {same} of {len(samples['hehu'])} sampled boxes")
        for note in notes:
            print("note:", note)
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
