"""``hehu check``: rows that break the catalog's rules, whoever wrote them.

The registry validates every write it makes, and the GeoPackage refuses the worst
breaks itself (unique codes, required fields, listed values). Rows written by another
tool before those rules were in the file — a QGIS edit, an ``ogr2ogr -append`` — can
still break them; this reads every layer in chunks (never a whole big layer at once)
and names each such row by layer, fid, field and value.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from geo.features import json_value
from geo.i18n import message
from layers import Layer

if TYPE_CHECKING:
    from geo.registry import Registry

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: shapely type ids each declared geometry family takes in (0 Point, 1 LineString,
#: 3 Polygon, 5 MultiLineString, 6 MultiPolygon).
_FAMILY_TYPE_IDS = {"Point": [0], "LineString": [1, 5], "Polygon": [3, 6]}


@dataclass(frozen=True)
class Finding:
    """One rule broken by one row."""

    layer: str
    fid: int
    field: str
    value: Any
    problem: str  # a key of geo/messages/check.yaml

    def text(self, lang: str | None = None) -> str:
        return message(f"check.{self.problem}", lang, layer=self.layer, fid=self.fid, field=self.field,
                       value=self.value)

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {**asdict(self), "message": self.text(lang)}


def _shown(value: Any) -> Any:
    value = json_value(value)
    return value if value is None or isinstance(value, (int, float, bool)) else str(value)[:80]


def check_layer(registry: Registry, layer: Layer, chunk_size: int = 50_000) -> list[Finding]:
    """Every broken rule of one layer, in fid order within each rule."""
    found: list[Finding] = []
    seen: dict[str, list[pd.Series]] = {f.name: [] for f in layer.fields if f.unique}
    for frame in registry.iter_frames(layer.id, chunk_size=chunk_size):
        fids = frame.index.to_numpy()
        for f in layer.fields:
            col = frame[f.name]
            text = col.astype("string")
            missing = col.isna().to_numpy(dtype=bool) | (text.str.strip() == "").fillna(False).to_numpy(dtype=bool)
            if f.required:
                found += [Finding(layer.id, int(i), f.name, None, "required") for i in fids[missing]]
            if f.enum:
                bad = ~missing & ~col.isin(list(f.enum)).to_numpy(dtype=bool)
                found += [Finding(layer.id, int(i), f.name, _shown(v), "enum") for i, v in zip(fids[bad], col[bad], strict=True)]
            if f.type == "date":
                bad = ~missing & ~text.str.match(_ISO_DATE).fillna(False).to_numpy(dtype=bool)
                found += [Finding(layer.id, int(i), f.name, _shown(v), "date") for i, v in zip(fids[bad], col[bad], strict=True)]
            if f.unique:
                seen[f.name].append(col[~missing])
        geoms = np.asarray(frame.geometry.values, dtype=object)
        empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        if not layer.geometry_optional:
            found += [Finding(layer.id, int(i), "geometry", None, "geometry-missing") for i in fids[empty]]
        # One geometry type per layer: a polygon written into a line layer by another tool
        # (QGIS would type the layer by its first feature and drop the rest).
        accepted = _FAMILY_TYPE_IDS.get(layer.geometry)
        if accepted is not None:
            wrong = ~empty & ~np.isin(shapely.get_type_id(geoms), accepted)
            found += [
                Finding(layer.id, int(i), "geometry", g.geom_type, "geometry-type")
                for i, g in zip(fids[wrong], geoms[wrong], strict=True)
            ]
        invalid = ~empty & ~shapely.is_valid(np.where(empty, None, geoms))
        found += [
            Finding(layer.id, int(i), "geometry", shapely.is_valid_reason(g), "geometry-invalid")
            for i, g in zip(fids[invalid], geoms[invalid], strict=True)
        ]
    for name, parts in seen.items():
        if not parts:
            continue
        values = pd.concat(parts)
        dup = values[values.duplicated(keep=False)]
        found += [Finding(layer.id, int(i), name, _shown(v), "duplicate") for i, v in dup.sort_index().items()]
    return found


def check_registry(registry: Registry, layers: list[str] | None = None) -> list[Finding]:
    """Every broken rule in the registry (or in ``layers``)."""
    out: list[Finding] = []
    for layer in registry.layers:
        if layers is None or layer.id in layers:
            out += check_layer(registry, layer)
    return out
