"""The 清四乱 violations, placed near the waters they concern."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from geo import demo_names as names
from geo.demo.helpers import _day, _town_of


class _Cases:
    """The 清四乱 violations, placed near the waters they concern.

    Steps of :class:`geo.demo.build._Demo`, which holds the state they share (``rng``,
    ``district``, ``out``, and what earlier steps drew) and runs them in a fixed order.
    """

    # violations -----------------------------------------------------------------------
    def _water_targets(self) -> tuple[list[BaseGeometry], list[str]]:
        geoms = [r["geom"] for r in self.reaches] + [self.lake]
        labels = [r["props"]["name"] for r in self.reaches] + ["长荡湖"]
        return geoms, labels

    def _points_near(self, line: BaseGeometry, n: int, dmin: float, dmax: float) -> np.ndarray:
        """``n`` points at dmin..dmax metres to either side of random places on ``line``."""
        rng = self.rng
        s = rng.uniform(0, line.length, n)
        p = shapely.get_coordinates(shapely.line_interpolate_point(line, s))
        a = shapely.get_coordinates(
            shapely.line_interpolate_point(line, np.minimum(s + 5, line.length))
        )
        b = shapely.get_coordinates(shapely.line_interpolate_point(line, np.maximum(s - 5, 0)))
        t = a - b
        t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-9)
        normal = np.column_stack([-t[:, 1], t[:, 0]]) * rng.choice([-1, 1], n)[:, None]
        return p + normal * rng.uniform(dmin, dmax, n)[:, None]

    def build_violations(self) -> None:
        rng = self.rng
        geoms, labels = self._water_targets()
        flagship = shapely.union_all(
            [r["geom"] for r in self.reaches if r["props"]["name"] == "丹金溧漕河"]
        )
        other_rivers = self.river_union
        shore = self.lake.boundary
        batches = [
            self._points_near(flagship, 200, 5, 45),
            self._points_near(other_rivers, 600, 5, 190),
            self._points_near(shore, 150, 10, 190),
        ]
        wanted = [70, 180, 50]
        water = shapely.union_all([self.river_union, self.lake])
        inside = self.district.buffer(-30)
        shapely.prepare(inside)
        chosen = []
        for xy, k in zip(batches, wanted, strict=True):
            pts = shapely.points(xy)
            ok = shapely.contains(inside, pts) & (shapely.distance(pts, water) >= 5)
            ok &= shapely.distance(pts, water) <= 195
            chosen.append(xy[ok][:k])
        xy = np.vstack(chosen)
        pts = shapely.points(xy)
        tree = shapely.STRtree(geoms)
        nearest = tree.query_nearest(pts, all_matches=False)[1]
        town = _town_of(xy, self.towns)

        n = len(xy)
        cats = rng.choice(["乱占", "乱采", "乱堆", "乱建"], size=n, p=[0.3, 0.1, 0.35, 0.25])
        statuses = rng.choice(
            ["待交办", "已交办", "整改中", "已销号", "反弹"],
            size=n,
            p=[0.08, 0.14, 0.18, 0.55, 0.05],
        )
        statuses[:5] = ["待交办", "已交办", "整改中", "已销号", "反弹"]
        sources = rng.choice(
            ["巡河", "暗访", "12345", "96082", "12314", "无人机"],
            size=n,
            p=[0.45, 0.15, 0.15, 0.08, 0.05, 0.12],
        )
        order = np.argsort(rng.random(n))  # shuffle so codes are not grouped by batch
        feats = []
        for k, i in enumerate(order, start=1):
            found = _day(rng, date(2020, 1, 6), date(2021, 11, 30))
            status = str(statuses[i])
            deadline = closed = None
            if status != "待交办":
                deadline = found + timedelta(days=int(rng.choice([15, 30, 30, 60, 90])))
            if status == "已销号":
                closed = found + timedelta(days=int(rng.integers(5, (deadline - found).days + 20)))
            t = str(town[i])
            unit = f"{t.removesuffix('街道').removesuffix('镇')}{'街道办事处' if t.endswith('街道') else '镇人民政府'}"
            if rng.random() < 0.2:
                unit = str(rng.choice(names.DISTRICT_UNITS))
            feats.append(
                (
                    {
                        "code": f"QSL-{found.year}-{k:04d}",
                        "category": str(cats[i]),
                        "status": status,
                        "description": str(rng.choice(names.VIOLATION_TEXT[str(cats[i])])),
                        "river": labels[int(nearest[i])],
                        "town": t,
                        "found_on": found,
                        "source": str(sources[i]),
                        "deadline": deadline,
                        "unit": unit if status != "待交办" else None,
                        "closed_on": closed,
                    },
                    Point(xy[i]),
                )
            )
        self.out["violations"] = feats
