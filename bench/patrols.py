"""Benchmark of patrols: importing 1,000 GPX files, and a year's coverage of every reach.

Run: ``.venv/bin/python -m bench.patrols`` (options: ``--files``, ``--seed``).

On a fresh demo registry (its synthetic 2021 of patrols, whose tracks and fixes are
counted in the output):

- import: ``--files`` GPX files written from a second synthetic year of the demo's
  chiefs (one track per file, a fix a minute), imported one chief at a time with
  :func:`geo.patrols.importing.import_tracks` (read, clean, match reaches, judge,
  check duplicates, write in one transaction per chief);
- coverage: every river reach against every valid track of 2021, 50 m buffer, with
  :func:`geo.patrols.report.coverage_report` (STRtree + linear referencing), against a
  naive pairwise shapely loop run in the same process (for each reach, for each track:
  ``reach.distance(track) <= 50``, then ``reach ∩ union(buffers)``). Both answers are
  compared reach by reach (within 1 m).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import shapely

from geo.crs import from_metric, to_metric
from geo.demo import build_demo
from geo.patrols.importing import import_tracks
from geo.patrols.report import coverage_report, parse_period, valid_patrols

BUFFER_M = 50.0


def _gpx(coords: np.ndarray, times: list[str], name: str) -> bytes:
    pts = "".join(
        f'<trkpt lat="{y:.7f}" lon="{x:.7f}"><time>{t}</time></trkpt>' for (x, y), t in zip(coords, times, strict=True)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><name>{name}</name><trkseg>{pts}</trkseg></trk></gpx>"
    ).encode()


def make_files(n: int, seed: int) -> dict[str, list[tuple[str, bytes]]]:
    """``n`` GPX files per chief: a second synthetic year (2022) of the demo's chiefs."""
    from geo.demo import _Demo
    from geo.patrols.demo import demo_chiefs, demo_patrols

    d = _Demo(2021)
    d.build_district_and_lake()
    d.build_towns()
    d.build_rivers()
    waters = [{**r["props"], "phone": r["phone"], "line": r["geom"]} for r in d.reaches]
    chiefs = demo_chiefs(waters)
    feats = demo_patrols(waters, chiefs, np.random.default_rng(seed))
    while len(feats) < n:  # more files than a year holds: another year's worth
        feats += demo_patrols(waters, chiefs, np.random.default_rng(seed + len(feats)))
    feats = feats[:n]
    geoms = from_metric(np.array([g for _, g in feats], dtype=object))
    files: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for i, ((props, _), g) in enumerate(zip(feats, geoms, strict=True)):
        # Shift to 2022 so that no file repeats a demo patrol (a duplicate is refused).
        times = [t.replace("2021-", "2022-", 1) for t in props["times"].split()]
        files[props["chief"]].append((f"{i:04d}.gpx", _gpx(shapely.get_coordinates(g), times, props["code"])))
    return files


def naive_coverage(reaches: np.ndarray, tracks: np.ndarray) -> list[float]:
    """Covered metres per reach, pairwise: the baseline."""
    out = []
    for reach in reaches:
        near = [t.buffer(BUFFER_M) for t in tracks if reach.distance(t) <= BUFFER_M]
        out.append(reach.intersection(shapely.union_all(near)).length if near else 0.0)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        reg = build_demo(Path(tmp) / "bench.gpkg")
        print(f"demo registry built in {time.perf_counter() - t:.1f} s")
        p = reg.read("patrols")
        n_points = int(shapely.get_num_coordinates(p.geometry.values).sum())
        print(f"demo year: {len(p)} patrols ({int(p['valid'].sum())} valid), {n_points} fixes, "
              f"{reg.count('chiefs')} chiefs, {reg.count('rivers')} river reaches")

        files = make_files(args.files, args.seed)
        n_files = sum(len(v) for v in files.values())
        t = time.perf_counter()
        imported = 0
        for chief, fs in files.items():
            imported += len(import_tracks(reg, fs, chief, user="bench").patrols)
        dt_import = time.perf_counter() - t
        print(f"import: {n_files} GPX files ({imported} patrols) in {dt_import:.2f} s "
              f"= {1000 * dt_import / n_files:.1f} ms per file")

        t = time.perf_counter()
        result = coverage_report(reg, "2021-01-01", "2021-12-31")
        dt_cov = time.perf_counter() - t
        tracks = valid_patrols(reg, *parse_period("2021-01-01", "2021-12-31"))
        rivers = reg.read("rivers")
        print(f"coverage (hehu: STRtree + linear referencing): {len(result)} reaches x {len(tracks)} valid tracks "
              f"in {dt_cov:.2f} s")
        t = time.perf_counter()
        naive = naive_coverage(to_metric(rivers.geometry.values), to_metric(tracks.geometry.values))
        dt_naive = time.perf_counter() - t
        print(f"coverage (naive pairwise shapely loop): {dt_naive:.2f} s; ratio naive/hehu = {dt_naive / dt_cov:.1f}x")
        worst = max(abs(r.covered_m - n) for r, n in zip(result, naive, strict=True))
        print(f"largest difference between the two, per reach: {worst:.3f} m")
        reg.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
