"""Synthetic workloads shared by the benchmarks: the demo topped up with violations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

from geo.registry import Registry

CATEGORIES = ["乱占", "乱采", "乱堆", "乱建"]
STATUSES = ["待交办", "已交办", "整改中", "已销号", "反弹"]
# Roughly the demo's mix: most cases closed, a few relapsed.
STATUS_WEIGHTS = [0.08, 0.14, 0.18, 0.55, 0.05]


def add_violations(path: Path, total: int, seed: int = 7) -> int:
    """Top the registry's violations up to ``total`` random points inside the district.

    Deterministic for a seed; each point gets the town it falls in, a category, a status
    and a day of 2021. Written in one transaction without history (a bulk load).
    """
    reg = Registry.open(path)
    try:
        layer = reg.layer("violations")
        have = reg.count("violations")
        n = total - have
        if n <= 0:
            return have
        district = reg.district()
        towns = reg.read("towns")
        rng = np.random.default_rng(seed)
        minx, miny, maxx, maxy = district.bounds
        shapely.prepare(district)
        xy = np.empty((0, 2))
        while len(xy) < n:
            cand = rng.uniform([minx, miny], [maxx, maxy], size=(n * 2, 2))
            xy = np.vstack([xy, cand[shapely.contains_xy(district, cand[:, 0], cand[:, 1])]])
        points = shapely.points(xy[:n])
        tree = shapely.STRtree(towns.geometry.values)
        pt_idx, town_idx = tree.query(points, predicate="within")
        town_of = np.full(n, "金城镇", dtype=object)
        town_of[pt_idx] = towns["name"].to_numpy()[town_idx]
        cats = rng.choice(CATEGORIES, size=n)
        statuses = rng.choice(STATUSES, size=n, p=STATUS_WEIGHTS)
        days = np.datetime64("2021-01-01") + rng.integers(0, 365, size=n)
        rows = [
            (
                {
                    "code": f"QSL-B-{i:06d}",
                    "category": str(cats[i]),
                    "status": str(statuses[i]),
                    "town": str(town_of[i]),
                    "found_on": str(days[i]),
                    "source": "巡河",
                },
                points[i],
            )
            for i in range(n)
        ]
        reg.store.add(layer, rows, user="bench", history=False)
        return reg.count("violations")
    finally:
        reg.close()
