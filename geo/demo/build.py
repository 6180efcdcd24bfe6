"""The whole demo: every layer drawn in order, converted to lon/lat, and written to a
new registry with its metadata, observations and photos.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import from_metric, to_metric
from geo.demo.cases import _Cases
from geo.demo.facilities import _Facilities
from geo.demo.geography import _Geography
from geo.demo.helpers import _load_outline
from geo.demo.people import _People
from geo.demo.tables import CREDITS, SYNTHETIC_LAYERS, SYNTHETIC_NOTE, TITLE
from geo.demo.water import _Water
from geo.registry import Registry


class _Demo(_Geography, _Water, _Cases, _Facilities, _People):
    """Builds every layer in EPSG:4549 metres; :func:`demo_layers` converts them to lon/lat."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.district = to_metric(_load_outline("320413_jintan.geojson"))
        self.inner = self.district.buffer(-60)
        self.out: dict[str, list[tuple[dict[str, Any], BaseGeometry]]] = {}

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
        from geo.demo.photos import add_demo_photos

        add_demo_photos(registry, seed)  # drawn before/after photos on a few cases
    except BaseException:
        # Nothing half-built stays behind: a later `hehu serve` would take it for a registry.
        registry.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        raise
    return registry
