"""Bytes transferred and time to a fully drawn ``/map`` in headless Chromium.

Run: ``.venv/bin/python -m bench.map`` (options: ``--violations N`` (default 100000),
``--runs R`` (default 3)).

Two registries measured in the same run, each served on loopback by the app (threaded
werkzeug server) and opened in offline headless Debian Chromium (cold cache, fresh
browser context per run):

- the demo district (``build_demo(seed=2021)``: 300 violations);
- the same district with N violations in all (random points inside the district,
  written straight through the store: the benchmark is about reading, not validating).

"Fully drawn" is the page's own idle state: configuration read, every default layer
loaded for the view and drawn (no request pending). Bytes are the Resource Timing
``transferSize`` of every response (HTML, CSS, JS, configuration, layer data), so they
include compression when the server compresses.

Baseline, computed in the same run: what inlining the default layers into the page
would weigh (the approach of a folium export: every feature of every default layer as
GeoJSON in the HTML), the ratio showing what loading by view saves.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.workload import add_violations
from geo.demo import build_demo
from geo.features import dumps_feature_collection
from geo.registry import Registry
from server import create_app

TESTS = Path(__file__).resolve().parents[1] / "tests"
# The browser set-up is the tests' own (tests/browser_support.py), imported from that
# folder: an installed pygeoapi ships a top-level ``tests`` package shadowing ours.
sys.path.insert(0, str(TESTS))

from browser_support import chromium, offline_page, serve  # noqa: E402

IDLE = (
    "() => window.hehuMap && window.hehuMap.map && window.hehuMap.pending() === 0"
    " && document.getElementById('map').dataset.loaded === '1'"
)
TRANSFER = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  return {
    bytes: nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0),
    body: nav.encodedBodySize + res.reduce((s, r) => s + r.encodedBodySize, 0),
    requests: 1 + res.length,
    data: res.filter(r => r.name.includes('/collections/')).reduce((s, r) => s + r.transferSize, 0),
  };
}"""
DRAWN = """() => ({
  paths: document.querySelectorAll('.leaflet-overlay-pane path, .leaflet-pane path').length,
  clusters: document.querySelectorAll('.marker-cluster').length,
})"""


def inline_bytes(path: Path) -> int:
    """Size of every feature of every default layer as GeoJSON: the inlined-page baseline."""
    reg = Registry.open(path)
    try:
        total = 0
        for layer in reg.catalog:
            if layer.default_visible:
                total += len(dumps_feature_collection(reg.read(layer.id), layer).encode("utf-8"))
        return total
    finally:
        reg.close()


def measure(browser, base_url: str, runs: int) -> dict:
    """Median time to the drawn map and the bytes of one cold load."""
    times, last = [], None
    for _ in range(runs):
        with offline_page(browser) as (page, errors, _):
            t0 = time.perf_counter()
            page.goto(base_url + "/map")
            page.wait_for_function(IDLE, timeout=120_000)
            times.append(time.perf_counter() - t0)
            page.wait_for_timeout(200)
            last = {**page.evaluate(TRANSFER), **page.evaluate(DRAWN), "errors": len(errors)}
    return {"seconds": statistics.median(times), "runs": times, **last}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--violations", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hehu-bench-map-") as tmp:
        demo = Path(tmp) / "demo.gpkg"
        build_demo(demo, seed=2021).close()
        big = Path(tmp) / "big.gpkg"
        shutil.copyfile(demo, big)
        t0 = time.perf_counter()
        n = add_violations(big, args.violations)
        print(f"built: demo, and a copy with {n:,} violations ({time.perf_counter() - t0:.1f} s)")
        results = {}
        with chromium() as browser:
            for name, path in (("demo", demo), (f"{n:,} violations", big)):
                app = create_app({"REGISTRY": str(path)})
                with serve(app) as url:
                    results[name] = measure(browser, url, args.runs)
                results[name]["inline"] = inline_bytes(path)
    base = results["demo"]
    print()
    print(f"{'registry':<20}{'to drawn map':>14}{'transferred':>14}{'of it data':>12}"
          f"{'requests':>10}{'svg paths':>11}{'clusters':>10}{'inlined page':>15}{'saved':>8}")
    for name, r in results.items():
        print(f"{name:<20}{r['seconds']:>12.2f} s{r['bytes'] / 1024:>11.0f} KB{r['data'] / 1024:>9.0f} KB"
              f"{r['requests']:>10}{r['paths']:>11}{r['clusters']:>10}"
              f"{r['inline'] / 1024:>12.0f} KB{r['inline'] / max(r['bytes'], 1):>7.1f}x")
    for name, r in results.items():
        if r is not base:
            print(f"\n{name} vs demo: time x{r['seconds'] / base['seconds']:.2f}, "
                  f"bytes x{r['bytes'] / base['bytes']:.2f} (runs: "
                  f"{', '.join(f'{t:.2f}' for t in r['runs'])} s); console errors: {r['errors']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
