"""Sewage plants, sections, signboards, cross-boundary reaches and projects."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from geo.demo.helpers import _day, _lines_only, _polygons_only, _town_of
from geo.demo.tables import CROSSINGS, FACILITIES, NO_MECHANISM


class _Facilities:
    """Sewage plants, sections, signboards, cross-boundary reaches and projects.

    Steps of :class:`geo.demo.build._Demo`, which holds the state they share (``rng``,
    ``district``, ``out``, and what earlier steps drew) and runs them in a fixed order.
    """

    # plants, sections, signboards, cross-boundary reaches, projects ---------------------
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
