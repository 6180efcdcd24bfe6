"""The store does the work: hehu on the demo plus a million violations.

Run: ``.venv/bin/python -m bench.store`` (``--violations N``, default 1,000,000;
``--requests R`` server requests, default 1,000). One run measures, on the demo and on
the demo with the violations topped up to N random points inside the district:

1. **cold query** — ``hehu query near --target 丹金溧漕河 --distance 50 --layers
   violations --all`` in a new process: wall time (median of 3) and peak RSS, on the
   plain demo and on the big registry. Goal: big within 3x of demo, under 500 MB.
2. **warm query** — ``Registry.near`` in a process that has asked before, against
   naive geopandas in the same process (the layer read with pyogrio, projected to
   EPSG:4549 and ``distance() <= 50``, then the result frame built), with and without
   counting the read. Goal: at least 100x.
3. **items with a CQL2 filter** — ``/collections/violations/items?filter=...`` through
   the app (the filter runs as SQL), against the former way (whole layer read, then
   the filter evaluated in pandas).
4. **server memory** — ``hehu serve`` on the big registry, R random requests (items
   by bbox, items with a filter, the map's view reads, near queries), then its RSS.
   Goal: under 1 GB.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

from bench.workload import add_violations
from geo.demo import build_demo
from geo.registry import Registry

TARGET = "丹金溧漕河"
QUERY = ["query", "near", "--target", TARGET, "--distance", "50", "--layers", "violations", "--all", "--format", "csv"]
CQL = "status = '整改中' AND found_on >= '2021-06-01' AND town LIKE '儒林%'"


def run_cold(registry: Path, repeat: int = 3) -> tuple[float, float, int]:
    """(median wall s, peak RSS MB, result rows) of the CLI query in new processes.

    The peak is the largest RSS of any child this process has waited for so far
    (``RUSAGE_CHILDREN``): run the small registry first, then the big one.
    """
    import resource

    walls, rows = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "cli.main", *QUERY, "--registry", str(registry)],
            capture_output=True, check=False,
        )
        walls.append(time.perf_counter() - start)
        if out.returncode != 0:
            raise SystemExit(f"query failed: {out.stderr.decode()}")
        rows = out.stdout.decode("utf-8-sig").count("\n") - 1
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return statistics.median(walls), peak, rows


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def warm_vs_naive(path: Path) -> dict[str, float]:
    import geopandas as gpd
    import pyogrio

    from geo.crs import to_metric

    reg = Registry.open(path)
    reg.near(TARGET, 50, layers="violations", all_features=True)  # warm up
    warm_s, warm = timed(lambda: reg.near(TARGET, 50, layers="violations", all_features=True))
    river_m = to_metric(reg.near(TARGET, 1, layers="violations").attrs["target"])

    start = time.perf_counter()
    gdf = pyogrio.read_dataframe(path, layer="violations", fid_as_index=True)
    read_s = time.perf_counter() - start

    def naive():
        metric = gdf.to_crs(4549)
        dist = metric.distance(river_m)
        hit = gdf[dist <= 50].copy()
        hit["distance_m"] = dist[dist <= 50]
        return gpd.GeoDataFrame(hit.sort_values("distance_m"), crs=4326)

    naive_s, result = timed(naive, repeat=2)
    assert sorted(result.index.tolist()) == sorted(warm["fid"].tolist()), "naive and hehu disagree"
    reg.close()
    return {"warm_s": warm_s, "naive_s": naive_s, "naive_read_s": read_s, "hits": len(warm)}


def items_filter(path: Path) -> dict[str, float]:
    from geo import cql2
    from server import create_app

    app = create_app({"REGISTRY": str(path), "TESTING": True})
    client = app.test_client()
    url = f"/collections/violations/items?limit=100&filter={quote(CQL)}"
    assert client.get(url).status_code == 200
    pushed_s, resp = timed(lambda: client.get(url), repeat=5)
    matched = resp.get_json()["numberMatched"]

    reg = Registry.open(path)
    layer = reg.layer("violations")

    def former():
        frame = reg.read("violations")
        return frame[cql2.filter_mask(frame, layer, CQL)]

    former_s, frame = timed(former, repeat=2)
    assert len(frame) == matched, (len(frame), matched)
    reg.close()
    return {"pushed_s": pushed_s, "former_s": former_s, "matched": matched}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_rss(path: Path, requests: int, seed: int = 11) -> dict[str, float]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--registry", str(path), "--port", str(port), "--threads", "4"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        reg = Registry.open(path)
        minx, miny, maxx, maxy = reg.extent("district")
        rivers = reg.read("rivers")["name"].dropna().unique().tolist()
        reg.close()
        rng = np.random.default_rng(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        errors = 0
        start = time.perf_counter()
        for i in range(requests):
            x, y = rng.uniform(minx, maxx - 0.02), rng.uniform(miny, maxy - 0.02)
            kind = i % 4
            if kind == 0:  # an items page by bbox (a 2 km box)
                url = f"/collections/violations/items?bbox={x},{y},{x + 0.02},{y + 0.02}&limit=100"
            elif kind == 1:  # items with a filter
                url = f"/collections/violations/items?limit=100&filter={quote(CQL)}&offset={int(rng.integers(0, 50))}"
            elif kind == 2:  # what the map reads for a town-sized view
                url = f"/collections/violations/items?bbox={x},{y},{x + 0.08},{y + 0.06}&limit=5000"
            else:
                river = quote(str(rng.choice(rivers)))
                url = f"/query/near?target={river}&distance=50&layers=violations"
            conn.request("GET", url)
            resp = conn.getresponse()
            resp.read()
            errors += resp.status != 200
        elapsed = time.perf_counter() - start
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss = int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024
        hwm = int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024
        return {"rss_mb": rss, "peak_mb": hwm, "errors": errors, "seconds": elapsed}
    finally:
        proc.terminate()
        proc.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--violations", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="hehu-bench-store-"))
    demo = work / "demo.gpkg"
    big = work / f"demo-{args.violations}.gpkg"
    if not demo.exists():
        build_demo(demo, seed=2021).close()
    if not big.exists():
        shutil.copyfile(demo, big)
        start = time.perf_counter()
        add_violations(big, args.violations)
        print(f"built {big.name}: {args.violations:,} violations in {time.perf_counter() - start:.0f} s", flush=True)

    print(f"\n1. cold `hehu {' '.join(QUERY[:-2])}` (new process, median of 3)")
    d_wall, d_peak, d_rows = run_cold(demo)
    b_wall, b_peak, b_rows = run_cold(big)
    print(f"   demo ({d_rows} rows):        {d_wall:6.2f} s   peak RSS {d_peak:6.0f} MB")
    print(f"   +{args.violations:,} ({b_rows} rows): {b_wall:6.2f} s   peak RSS {b_peak:6.0f} MB")
    print(f"   big / demo: {b_wall / d_wall:.2f}x wall (goal <= 3x), peak {b_peak:.0f} MB (goal < 500 MB)")

    print("\n2. warm Registry.near vs naive geopandas (same process)")
    w = warm_vs_naive(big)
    print(f"   hehu warm near:                 {w['warm_s'] * 1000:8.1f} ms  ({w['hits']} features)")
    print(f"   naive (frame in memory):        {w['naive_s'] * 1000:8.1f} ms  -> {w['naive_s'] / w['warm_s']:.0f}x")
    print(f"   naive incl. reading the layer:  {(w['naive_s'] + w['naive_read_s']) * 1000:8.1f} ms  -> "
          f"{(w['naive_s'] + w['naive_read_s']) / w['warm_s']:.0f}x (goal >= 100x)")

    print(f"\n3. items page with filter={CQL!r}")
    f = items_filter(big)
    print(f"   pushed into SQL: {f['pushed_s'] * 1000:8.1f} ms   whole layer + pandas: {f['former_s'] * 1000:8.1f} ms"
          f"   -> {f['former_s'] / f['pushed_s']:.0f}x  (numberMatched {f['matched']})")

    print(f"\n4. hehu serve after {args.requests} random items/map/query requests")
    s = server_rss(big, args.requests)
    print(f"   RSS {s['rss_mb']:.0f} MB, peak {s['peak_mb']:.0f} MB (goal < 1024 MB); "
          f"{s['errors']} errors; {args.requests / s['seconds']:.0f} requests/s")
    print(json.dumps({"cold": [d_wall, d_peak, b_wall, b_peak], "warm": w, "items": f, "server": s}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
