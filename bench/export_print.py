"""Time to print an A3 district map and to export every layer, at demo size and at
100,000 violations.

Run: ``.venv/bin/python -m bench.export_print`` (options: ``--violations N`` (default
100000), ``--runs R`` (default 1: the median of R runs is shown)).

Two registries measured in the same run:

- the demo district (``build_demo(seed=2021)``: 1,232 features, 300 violations);
- the same district topped up to N violations (random points inside the district,
  written straight through the store: the benchmark is about exporting, not validating).

For each: ``render_map`` of an A3 landscape PDF of every layer over the whole district
(legend, labels, scale bar...), and ``export`` of every layer to each format. Baselines,
measured in the same run on the same frames: the plain geopandas/pandas way to write
each format (``GeoDataFrame.to_file`` with pyogrio per layer for GeoJSON, GeoPackage,
Shapefile and KML; ``DataFrame.to_csv``; ``DataFrame.to_excel``), and for the print a bare
``GeoDataFrame.plot`` of the same layers saved as an A3 PDF (no legend, labels, styling
by value or layout). The ratio is hehu / baseline: what the catalog styling, Chinese
headers, field maps, atomic writes and layout cost.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from bench.workload import add_violations
from geo.carto import render_map
from geo.demo import build_demo
from geo.export import FORMATS, export
from geo.registry import Registry


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def baseline_export(frames: dict, fmt: str, folder: Path) -> None:
    """The plain way: geopandas/pandas writers, one call per layer, no catalog."""
    for lid, gdf in frames.items():
        if fmt == "geojson":
            gdf.to_file(folder / f"{lid}.geojson", driver="GeoJSON", engine="pyogrio")
        elif fmt == "gpkg":
            gdf.to_file(folder / "all.gpkg", layer=lid, driver="GPKG", engine="pyogrio")
        elif fmt == "shp":
            gdf.to_file(folder / f"{lid}.shp", driver="ESRI Shapefile", engine="pyogrio")
        elif fmt == "kml":
            gdf.to_file(folder / f"{lid}.kml", driver="LIBKML", engine="pyogrio")
        elif fmt == "csv":
            gdf.to_wkt().to_csv(folder / f"{lid}.csv", index=False)
        elif fmt == "xlsx":
            gdf.to_wkt().to_excel(folder / f"{lid}.xlsx", index=False)


def baseline_print(frames: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(420 / 25.4, 297 / 25.4))
    ax = fig.add_subplot()
    for gdf in frames.values():
        if len(gdf):
            gdf.to_crs("EPSG:4549").plot(ax=ax, linewidth=0.5, markersize=4)
    fig.savefig(out)


def measure(path: Path, runs: int, folder: Path) -> list[tuple[str, float, float]]:
    reg = Registry.open(path)
    layers = reg.catalog.ids
    frames = {lid: reg.read(lid) for lid in layers}
    rows = []
    pdf = folder / "district.pdf"
    render_map(reg, ["towns"], folder / "warm-up.pdf", title="预热")  # fonts, caches
    t = timed(lambda: render_map(reg, layers, pdf, title="金坛区河湖一张图", paper="A3"), runs)
    b = timed(lambda: baseline_print(frames, folder / "baseline.pdf"), runs)
    rows.append(("print A3 PDF", t, b))
    for fmt in FORMATS:
        suffix = ".zip" if fmt == "csv" else FORMATS[fmt][0]
        out = folder / f"all{suffix}"
        t = timed(lambda fmt=fmt, out=out: export(reg, layers, fmt, out), runs)
        sub = folder / f"base-{fmt}"
        sub.mkdir(exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GDAL's shapefile name truncation notices
            b = timed(lambda fmt=fmt, sub=sub: baseline_export(frames, fmt, sub), runs)
        rows.append((f"export {fmt} ({out.stat().st_size / 1e6:.1f} MB)", t, b))
    reg.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--violations", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hehu-bench-") as tmp:
        tmp = Path(tmp)
        demo = tmp / "demo.gpkg"
        build_demo(demo, seed=2021).close()
        big = tmp / "big.gpkg"
        build_demo(big, seed=2021).close()
        n = add_violations(big, args.violations)
        for label, path in (("demo (300 violations)", demo), (f"{n:,} violations", big)):
            folder = tmp / label.split()[0].replace(",", "")
            folder.mkdir()
            print(f"\n{label}")
            print(f"{'task':32} {'hehu s':>8} {'baseline s':>11} {'ratio':>7}")
            for name, t, b in measure(path, args.runs, folder):
                print(f"{name:32} {t:8.2f} {b:11.2f} {t / b:7.2f}")


if __name__ == "__main__":
    main()
