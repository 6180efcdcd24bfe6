"""The villages, the micro water bodies and the black-odorous waters."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from geo import demo_names as names
from geo.demo.helpers import _day, _lines_only, _meander, _person, _town_of
from geo.demo.tables import (
    DEMO_VILLAGES,
    FACILITIES,
    MICRO_FIXING,
    MICRO_PROBLEMS,
    MICRO_WATER_BODIES,
)


class _Water:
    """The villages, the micro water bodies and the black-odorous waters.

    Steps of :class:`geo.demo.build._Demo`, which holds the state they share (``rng``,
    ``district``, ``out``, and what earlier steps drew) and runs them in a fixed order.
    """

    # villages and micro water bodies ---------------------------------------------------
    def build_micro_water_bodies(self) -> None:
        rng = self.rng
        # Village centres: spread inside each town, away from the lake.
        vnames, vtown, vxy = [], [], []
        for town, geom in self.towns.items():
            area = geom.buffer(-500).difference(self.lake.buffer(400))
            villages = names.VILLAGES[town]
            cand = self._random_points(area, 40 * len(villages))
            chosen = [cand[0]]
            for p in cand[1:]:
                if len(chosen) == len(villages):
                    break
                if np.min(np.linalg.norm(np.array(chosen) - p, axis=1)) > 1800:
                    chosen.append(p)
            for v, p in zip(villages, chosen, strict=False):  # a crowded town may get fewer
                vnames.append(v)
                vtown.append(town)
                vxy.append(p)
        vxy = np.array(vxy)
        vtown = np.array(vtown)
        vnames = np.array(vnames)

        # Candidate centres on a jittered 300 m grid: one water body at most per cell and
        # each within 100 m of its centre keeps them apart without pairwise tests.
        cell, jitter, reach = 300.0, 45.0, 100.0
        minx, miny, maxx, maxy = self.district.bounds
        gx, gy = np.meshgrid(
            np.arange(minx, maxx, cell) + cell / 2, np.arange(miny, maxy, cell) + cell / 2
        )
        xy = np.column_stack([gx.ravel(), gy.ravel()])
        xy += rng.uniform(-jitter, jitter, xy.shape)
        room = self.district.buffer(-150)
        shapely.prepare(room)
        xy = xy[shapely.contains_xy(room, xy[:, 0], xy[:, 1])]
        pts = shapely.points(xy)
        clear = shapely.distance(pts, self.river_union) > 20 + reach + 10
        clear &= shapely.distance(pts, self.lake) > reach + 60
        xy = xy[clear]

        town = np.array(_town_of(xy, self.towns))
        # Village of each candidate: the nearest village centre of its own town.
        d = np.linalg.norm(xy[:, None, :] - vxy[None, :, :], axis=2)
        d[town[:, None] != vtown[None, :]] = np.inf
        vid = np.argmin(d, axis=1)
        dmin = d[np.arange(len(xy)), vid]
        w = np.exp(-((dmin / 1300.0) ** 2)) + 0.02
        pick = rng.choice(len(xy), size=MICRO_WATER_BODIES, replace=False, p=w / w.sum())
        pick = pick[np.lexsort((xy[pick, 0], town[pick]))]  # codes run town by town
        xy, town, vid = xy[pick], town[pick], vid[pick]

        kinds = rng.choice(["塘", "沟", "渠", "坑"], size=len(xy), p=[0.55, 0.25, 0.12, 0.08])
        geoms = [self._water_body_shape(k, c) for k, c in zip(kinds, xy, strict=True)]

        # Demonstration villages: three villages with several water bodies, all in order.
        counts = np.bincount(vid, minlength=len(vnames))
        eligible = [i for i in np.argsort(-counts, kind="stable") if counts[i] >= 6]
        demo_vids = set()
        for i in eligible:
            if vtown[i] not in {vtown[j] for j in demo_vids}:
                demo_vids.add(int(i))
            if len(demo_vids) == DEMO_VILLAGES:
                break
        is_demo = np.isin(vid, list(demo_vids))

        status = np.where(rng.random(len(xy)) < 0.75, "正常", "已整治").astype(object)
        others = np.flatnonzero(~is_demo)
        bad = rng.choice(others, size=MICRO_PROBLEMS + MICRO_FIXING, replace=False)
        status[bad[:MICRO_PROBLEMS]] = "问题"
        status[bad[MICRO_PROBLEMS:]] = "整治中"

        seq: dict[str, int] = {}
        feats = []
        for i, geom in enumerate(geoms):
            village = str(vnames[vid[i]])
            key = village + kinds[i]
            seq[key] = seq.get(key, 0) + 1
            props = {
                "code": f"XW-{i + 1:04d}",
                "name": f"{village}{seq[key]}号{kinds[i]}",
                "kind": str(kinds[i]),
                "town": str(town[i]),
                "village": village,
                "status": str(status[i]),
                "custodian": _person(rng) if rng.random() < 0.93 else None,
                "demo_village": bool(is_demo[i]),
                "remediated_on": _day(rng, date(2020, 3, 1), date(2021, 10, 31))
                if status[i] == "已整治"
                else None,
            }
            feats.append((props, geom))
        self.out["micro_water_bodies"] = feats
        self.villages = {"name": vnames, "town": vtown, "xy": vxy}

    def _water_body_shape(self, kind: str, c: np.ndarray) -> Polygon:
        """A pond (irregular ellipse) or a ditch (thin rotated strip) centred on ``c``."""
        rng = self.rng
        ang = rng.uniform(0, np.pi)
        if kind in ("沟", "渠"):
            length = rng.uniform(60, 180)
            width = rng.uniform(3, 6) if kind == "沟" else rng.uniform(4, 8)
            local = np.array(
                [
                    [-length / 2, -width / 2],
                    [length / 2, -width / 2],
                    [length / 2, width / 2],
                    [-length / 2, width / 2],
                ]
            )
        else:
            r = rng.uniform(12, 38) if kind == "塘" else rng.uniform(8, 18)
            t = np.linspace(0, 2 * np.pi, 17)[:-1]
            squash = rng.uniform(0.55, 1.0)
            wobble = 1 + 0.12 * np.sin(3 * t + rng.uniform(0, 6)) + rng.uniform(-0.05, 0.05, t.size)
            local = np.column_stack([r * wobble * np.cos(t), r * squash * wobble * np.sin(t)])
        rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
        return Polygon(local @ rot.T + c)

    def build_black_odorous(self) -> None:
        rng = self.rng
        spec = [(x["name"], x["town"], x["status"]) for x in FACILITIES["black_odorous"]]
        feats = []
        for i, (name, town, status) in enumerate(spec, start=1):
            area = self.towns[town].buffer(-300).difference(self.river_union.buffer(150))
            start = self._random_points(area, 1)[0]
            ang = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(600, 1400)
            end = start + length * np.array([np.cos(ang), np.sin(ang)])
            mid = (start + end) / 2 + rng.normal(0, 80, 2)
            line = _meander(np.array([start, mid, end]), rng, 25, step=40)
            line = _lines_only(shapely.intersection(line, self.towns[town]))
            feats.append(
                (
                    {"code": f"HC-{i:02d}", "name": name, "town": town, "status": status},
                    max(line, key=lambda g: g.length),
                )
            )
        self.out["black_odorous"] = feats
        self.out["black_odorous_areas"] = [self._black_odorous_pond()]

    def _black_odorous_pond(self) -> tuple[dict[str, Any], BaseGeometry]:
        """One black-odorous pond (a polygon, so its own layer), from a generator of its
        own so that the layers built before and after keep their features."""
        rng = np.random.default_rng(self.seed + 16)
        area = self.towns["直溪镇"].buffer(-500).difference(self.river_union.buffer(200))
        minx, miny, maxx, maxy = area.bounds
        shapely.prepare(area)
        while True:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if area.contains(shapely.Point(x, y)):
                break
        ang = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        radius = 60 * (1 + 0.25 * np.sin(3 * ang + rng.uniform(0, np.pi)))
        pond = shapely.Polygon(np.column_stack([x + radius * np.cos(ang), y + 0.7 * radius * np.sin(ang)]))
        return {"code": "HC-07", "name": "五叶村东塘", "town": "直溪镇", "status": "整治中"}, pond
