"""Screenshots of the map page for the docs: ``python -m bench.screenshots [outdir]``.

Builds the demo district in a temporary folder, serves it on loopback and photographs
``/map`` in offline headless Chromium (the browser-test setup of
``tests/browser_support.py``):

- ``map.png``: the whole district, default layers, no basemap;
- ``map-query.png``: the query panel's answer to "problems within 50 m of 丹金溧漕河";
- ``river.png`` and ``river-phone.png``: the 一河一档 page of 丹金溧漕河 at 1440×900 and
  on a 390×844 phone (``python -m bench.screenshots docs/screenshots rivers`` takes only these).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from geo.demo import build_demo
from server import create_app

TESTS = Path(__file__).resolve().parents[1] / "tests"
# The browser set-up is the tests' own (tests/browser_support.py), imported from that
# folder: an installed pygeoapi ships a top-level ``tests`` package shadowing ours.
sys.path.insert(0, str(TESTS))

from browser_support import browser_page, serve, wait_map_idle  # noqa: E402

OUT = Path("docs/screenshots")
SIZE = (1400, 900)


def take(outdir: Path = OUT) -> list[Path]:
    """Write the screenshots into ``outdir``; returns their paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hehu-shots-") as tmp:
        path = Path(tmp) / "jintan.gpkg"
        build_demo(path, seed=2021).close()
        app = create_app({"REGISTRY": str(path)})
        shots = [outdir / "map.png", outdir / "map-query.png"]
        with serve(app) as base, browser_page(*SIZE) as (page, errors, _):
            page.goto(base + "/map")
            wait_map_idle(page)
            page.mouse.move(820, 520)
            page.screenshot(path=str(shots[0]))
            page.locator("#query-toggle").click()
            page.locator("#query-target").fill("丹金溧漕河")
            page.locator("#query-distance").fill("50")
            page.locator("#query-run").click()
            page.wait_for_function("document.getElementById('query-panel').dataset.state === 'done'")
            wait_map_idle(page)
            page.wait_for_timeout(500)
            page.screenshot(path=str(shots[1]))
            if errors:
                raise RuntimeError(f"console errors on /map: {errors}")
    return shots


def take_rivers(outdir: Path = OUT) -> list[Path]:
    """The river page of 丹金溧漕河 on a desktop and on a phone."""
    outdir.mkdir(parents=True, exist_ok=True)
    shots = []
    with tempfile.TemporaryDirectory(prefix="hehu-shots-") as tmp:
        path = Path(tmp) / "jintan.gpkg"
        build_demo(path, seed=2021).close()
        app = create_app({"REGISTRY": str(path)})
        with serve(app) as base:
            for name, size in (("river.png", (1440, 900)), ("river-phone.png", (390, 844))):
                with browser_page(*size) as (page, errors, _):
                    page.goto(base + "/rivers/丹金溧漕河")
                    page.wait_for_function("document.getElementById('river-map').naturalWidth > 0")
                    page.screenshot(path=str(outdir / name))
                    if errors:
                        raise RuntimeError(f"console errors on /rivers: {errors}")
                shots.append(outdir / name)
    return shots


def main() -> None:
    outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    only_rivers = len(sys.argv) > 2 and sys.argv[2] == "rivers"
    for shot in (take_rivers(outdir) if only_rivers else take(outdir) + take_rivers(outdir)):
        print(f"{shot}  {shot.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
