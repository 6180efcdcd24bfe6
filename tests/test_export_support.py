"""Small registries and a stand-in for ``registry.near`` used by the export and print tests.

``fake_near`` follows the query contract (layer fields plus ``fid``, ``layer``,
``distance_m``; ``attrs`` target, buffer, target_label, distance_m) with a brute-force
computation, so these tests pin the export/print side independently of ``geo.query``.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from geo.crs import from_metric, to_metric
from geo.errors import QueryError
from geo.registry import Registry

# Two towns side by side around 119.5E 31.7N, a river crossing both, a lake.
WEST = Polygon([(119.40, 31.60), (119.50, 31.60), (119.50, 31.80), (119.40, 31.80)])
EAST = Polygon([(119.50, 31.60), (119.60, 31.60), (119.60, 31.80), (119.50, 31.80)])
RIVER = LineString([(119.41, 31.70), (119.45, 31.71), (119.55, 31.69), (119.59, 31.70)])
LAKE = Polygon(
    [(119.52, 31.62), (119.56, 31.62), (119.56, 31.66), (119.52, 31.66)],
    holes=[[(119.535, 31.635), (119.545, 31.635), (119.545, 31.645), (119.535, 31.645)]],
)


def small_registry(path) -> Registry:
    """A registry of a few features of every kind, with Chinese text, dates and booleans."""
    reg = Registry.create(path, metadata={"demo": True, "credits": [{"data": "测试数据 test", "source": "tests", "licence": "MIT"}]})
    reg.add("district", {"code": "320413", "name": "金坛区"}, shapely.union_all([WEST, EAST]))
    reg.add("towns", {"code": "T1", "name": "儒林镇", "chief": "张三"}, WEST)
    reg.add("towns", {"code": "T2", "name": "金城镇"}, EAST)
    reg.add("lakes", {"code": "L1", "name": "长荡湖", "area_km2": 1.5}, LAKE)
    reg.add(
        "rivers",
        {"code": "R1", "name": "丹金溧漕河", "grade": "区级", "five_good": True, "scope_m": 30.5},
        RIVER,
    )
    reg.add("rivers", {"code": "R2", "name": "通济河", "grade": "镇级", "five_good": False},
            LineString([(119.45, 31.62), (119.45, 31.78)]))
    statuses = ["整改中", "已销号", "待交办", "反弹", "整改中", "已交办"]
    categories = ["乱占", "乱采", "乱堆", "乱建"]
    # Violations at known metric offsets north of the river: 0, 20, 49, 51, 120, 400 m.
    offsets = [0.0, 20.0, 49.0, 51.0, 120.0, 400.0]
    river_m = to_metric(RIVER)
    along = river_m.project(to_metric(Point(119.47, 31.71)))
    foot, ahead = river_m.interpolate(along), river_m.interpolate(along + 1.0)
    nx, ny = -(ahead.y - foot.y), ahead.x - foot.x  # unit normal, to the left (north)
    for i, off in enumerate(offsets):
        p = from_metric(Point(foot.x + off * nx, foot.y + off * ny))
        reg.add(
            "violations",
            {
                "code": f"QSL-{i:03d}",
                "category": categories[i % 4],
                "status": statuses[i],
                "description": f"河坡堆放建筑垃圾，约{i + 1}0平方米；含\"引号\"与<尖括号>&",
                "river": "丹金溧漕河",
                "town": "儒林镇",
                "found_on": dt.date(2021, 3, i + 1),
                "deadline": dt.date(2021, 6, 30) if i % 2 == 0 else None,
                "source": "巡河",
            },
            p,
        )
    reg.add("violations", {"code": "QSL-E1", "category": "乱建", "status": "整改中", "town": "金城镇",
                           "found_on": "2021-04-02"}, Point(119.58, 31.78))
    reg.add("micro_water_bodies", {"code": "W1", "name": "东塘", "kind": "塘", "town": "儒林镇",
                                   "status": "问题", "demo_village": True, "remediated_on": None},
            Polygon([(119.42, 31.75), (119.421, 31.75), (119.421, 31.751), (119.42, 31.751)]))
    reg.add("micro_water_bodies", {"code": "W2", "name": "西沟", "kind": "沟", "town": "金城镇",
                                   "status": "已整治", "demo_village": False, "remediated_on": "2021-05-01"},
            MultiPolygon([Polygon([(119.57, 31.75), (119.571, 31.75), (119.571, 31.751)]),
                          Polygon([(119.58, 31.75), (119.581, 31.75), (119.581, 31.751)])]))
    reg.add("black_odorous_areas", {"code": "B1", "name": "黑臭塘", "status": "黑臭"},
            Polygon([(119.43, 31.65), (119.432, 31.65), (119.432, 31.652), (119.43, 31.652)]))
    reg.add("black_odorous", {"code": "B2", "name": "黑臭沟", "status": "整治中"},
            LineString([(119.53, 31.72), (119.54, 31.73)]))
    reg.add("sections", {"code": "S1", "name": "河口断面", "level": "国考", "target_class": 3,
                         "latest_class": 2, "counted": True}, Point(119.55, 31.70))
    reg.add("cross_boundary_reaches", {"code": "X1", "river": "丹金溧漕河", "neighbor": "溧阳",
                                       "mechanism": True, "mechanism_on": "2020-01-01"},
            LineString([(119.57, 31.695), (119.59, 31.70)]))
    return reg


def fake_near(registry, target, distance_m, layers=None, **_):
    """Brute-force ``near`` with the query contract: rivers/lakes by name, metres in EPSG:4549."""
    hits = []
    for lid in ("rivers", "lakes"):
        gdf = registry.read(lid)
        hits.append(gdf[gdf["name"] == target])
    hits = pd.concat([h for h in hits if len(h)]) if any(len(h) for h in hits) else None
    if hits is None:
        raise QueryError(f"no river or lake named {target!r}")
    tgt = shapely.union_all(hits.geometry.values)
    tgt_m = to_metric(tgt)
    out = []
    ids = layers if layers is not None else registry.catalog.ids
    ids = ids.split(",") if isinstance(ids, str) else ids
    for lid in ids:
        gdf = registry.read(lid)
        if gdf.empty:
            continue
        d = shapely.distance(to_metric(np.asarray(gdf.geometry.values, dtype=object)), tgt_m)
        part = gdf[d <= distance_m + 1e-9].copy()
        part["distance_m"] = d[d <= distance_m + 1e-9]
        part["layer"] = lid
        part["fid"] = part.index
        out.append(part.reset_index(drop=True))
    res = gpd.GeoDataFrame(pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["fid", "layer", "distance_m", "geometry"]), geometry="geometry", crs="EPSG:4326")
    res.attrs.update(target=tgt, buffer=from_metric(tgt_m.buffer(distance_m)), target_label=target,
                     distance_m=float(distance_m))
    return res
