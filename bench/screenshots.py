"""Screenshots of the map page for the docs: ``python -m bench.screenshots [outdir]``.

Builds the demo district in a temporary folder, serves it on loopback and photographs
it in offline headless Chromium (the browser-test setup of ``tests/browser_support.py``),
on a desktop (1440×900) and a phone (390×844):

- ``map.png``: the whole district, default layers, no basemap;
- ``map-query.png``: the query panel's answer to "problems within 50 m of 丹金溧漕河";
- ``map-rivers.png``: zoom 13, river names along the lines, the point symbols;
- ``targets.png``: the targets page;
- ``phone-map.png``, ``phone-menu.png``, ``phone-query.png``, ``phone-near-me.png``,
  ``phone-popup.png``: the map on a phone: search and menu, the layer list behind the
  menu, a query answer and "problems near me" in the bottom sheet, a popup as a sheet.
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

from browser_support import browser_page, chromium, offline_page, serve, wait_map_idle  # noqa: E402

OUT = Path("docs/screenshots")
DESKTOP = (1440, 900)
PHONE = (390, 844)
#: Where the phone "stands" for locate me: by 丹金溧漕河 in 金城镇.
HERE = {"latitude": 31.735, "longitude": 119.572}


def _query(page, target: str = "丹金溧漕河", distance: str = "50") -> None:
    page.locator("#query-toggle").click()
    page.locator("#query-target").fill(target)
    page.locator("#query-distance").fill(distance)
    page.locator("#query-run").click()
    page.wait_for_function("() => document.getElementById('query-panel').dataset.state === 'done'")
    wait_map_idle(page)
    page.wait_for_timeout(500)


def take(outdir: Path = OUT) -> list[Path]:
    """Write the screenshots into ``outdir``; returns their paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []

    def shot(page, name: str) -> None:
        path = outdir / name
        page.screenshot(path=str(path))
        shots.append(path)

    with tempfile.TemporaryDirectory(prefix="hehu-shots-") as tmp:
        path = Path(tmp) / "jintan.gpkg"
        build_demo(path, seed=2021).close()
        app = create_app({"REGISTRY": str(path)})
        with serve(app) as base, chromium() as browser:
            with offline_page(browser, *DESKTOP) as (page, errors, _):
                page.goto(base + "/map")
                wait_map_idle(page)
                page.mouse.move(820, 520)
                shot(page, "map.png")
                _query(page)
                shot(page, "map-query.png")
                page.goto(base + "/map")
                wait_map_idle(page)
                page.evaluate("hehuMap.map.setView([31.715, 119.565], 13)")
                page.wait_for_timeout(500)
                wait_map_idle(page)
                page.wait_for_timeout(500)
                shot(page, "map-rivers.png")
                page.goto(base + "/targets")
                page.wait_for_load_state("networkidle")
                shot(page, "targets.png")
                if errors:
                    raise RuntimeError(f"console errors on the desktop pages: {errors}")
            with offline_page(browser, *PHONE) as (page, errors, _):
                page.context.grant_permissions(["geolocation"])
                page.context.set_geolocation(HERE)
                page.goto(base + "/map")
                wait_map_idle(page)
                shot(page, "phone-map.png")
                page.locator("#menu-toggle").click()
                page.locator("#menu-layers").click()
                page.wait_for_timeout(200)
                shot(page, "phone-menu.png")
                page.mouse.click(200, 780)
                _query(page)
                shot(page, "phone-query.png")
                page.locator("#query-close").click()
                page.locator("#near-me-button").click()
                page.wait_for_function("() => document.getElementById('query-panel').dataset.state === 'done'")
                wait_map_idle(page)
                page.wait_for_timeout(500)
                shot(page, "phone-near-me.png")
                page.locator("#query-close").click()
                page.evaluate(
                    "(() => { let done = false; hehuMap.layers.violations.eachLayer(function visit(l) {"
                    " if (done) return; if (l.eachLayer) { l.eachLayer(visit); return; }"
                    " if (l.openPopup && l.feature && l.feature.properties.status === '整改中') { l.openPopup(); done = true; } }); })()"
                )
                page.locator("#sheet .hehu-popup").wait_for()
                page.wait_for_timeout(300)
                shot(page, "phone-popup.png")
                if errors:
                    raise RuntimeError(f"console errors on the phone map: {errors}")
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
                    page.wait_for_function("() => document.getElementById('river-map').naturalWidth > 0")
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
