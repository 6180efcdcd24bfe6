"""Names and targets: what a question is asked about.

A code, an exact name or an alias across rivers and lakes (towns too for ``within``),
or a geometry typed as WKT, GeoJSON or "lon,lat"; :func:`resolve_target` turns any of
them into a :class:`Target`.
"""

from __future__ import annotations

import difflib
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo import i18n
from geo.crs import from_metric, to_metric
from geo.errors import QueryError
from geo.params import (
    looks_like_geometry,
    parse_geometry,
)
from geo.spatial_index import LayerIndex, RegistryIndexes
from geo.validate import DISTRICT_TOLERANCE_M
from geo.values import split_aliases

if TYPE_CHECKING:
    from geo.registry import Registry


#: Layers a named target is looked up in.
TARGET_LAYERS = ("rivers", "lakes")
AREA_LAYERS = ("towns", "rivers", "lakes")


def resolve_layers(registry: Registry, layers: str | Sequence[str] | None, default: Sequence[str]) -> list[str]:
    """Layer ids from "a,b" or a list (None: ``default``); unknown ids are a QueryError."""
    if layers is None:
        return list(default)
    if isinstance(layers, str):
        ids = [s.strip() for s in layers.split(",") if s.strip()]
    else:
        ids = [str(s).strip() for s in layers]
    unknown = [i for i in ids if i not in registry.catalog]
    if unknown:
        raise QueryError(
            key="query.unknown_layer",
            params={"layer": unknown[0], "known": ", ".join(registry.catalog.ids)},
            parameter="layers",
        )
    if not ids:
        raise QueryError(key="query.no_layers", parameter="layers")
    return list(dict.fromkeys(ids))


# -- targets --------------------------------------------------------------------------


@dataclass
class Target:
    """What a question is asked about: its lon/lat geometry, metric geometry and name."""

    geometry: BaseGeometry
    label: str
    features: list[tuple[str, int]] = field(default_factory=list)

    @cached_property
    def metric(self) -> BaseGeometry:
        return to_metric(self.geometry)

    def buffer(self, distance_m: float) -> BaseGeometry:
        """The area within ``distance_m`` metres, in lon/lat (kept: a named target is
        asked about again and again)."""
        cache = self.__dict__.setdefault("_buffers", {})
        if distance_m not in cache:
            if len(cache) > 16:
                cache.clear()
            cache[distance_m] = from_metric(self.metric.buffer(distance_m, quad_segs=16))
        return cache[distance_m]


def _forget_targets(registry: Registry) -> None:
    for key in [k for k in registry.cache if isinstance(k, tuple) and k[:2] == ("query", "target")]:
        del registry.cache[key]


def _similarity(a: str, b: str) -> float:
    """Name similarity that works for Chinese: difflib ratio or character-bigram Dice."""
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    ba = {a[i : i + 2] for i in range(len(a) - 1)} or {a}
    bb = {b[i : i + 2] for i in range(len(b) - 1)} or {b}
    dice = 2 * len(ba & bb) / (len(ba) + len(bb))
    return max(ratio, dice)


def _target_geometry(geoms: Iterable[BaseGeometry]) -> BaseGeometry:
    """The union of a target's features; lines are collected as they are (no noding)."""
    parts = shapely.get_parts(np.array([g for g in geoms if g is not None], dtype=object))
    types = set(shapely.get_type_id(parts).tolist())
    if types <= {1, 2}:
        return shapely.multilinestrings(parts) if len(parts) > 1 else parts[0]
    if types <= {0}:
        return shapely.multipoints(parts) if len(parts) > 1 else parts[0]
    return shapely.union_all(parts)


def resolve_target(
    registry: Registry, target: Any, *, layers: Sequence[str] = TARGET_LAYERS, name: str = "target", check_district: bool = True
) -> Target:
    """Turn what a person typed (code, name, alias, WKT, GeoJSON, geometry) into a Target."""
    if isinstance(target, Target):
        return target
    if isinstance(target, dict) and "layer" in target and "fid" in target:
        try:
            fid = int(target["fid"])
        except (TypeError, ValueError):
            raise QueryError(key="query.fid_number", params={"name": name, "value": target["fid"]},
                             parameter=name) from None
        feature = registry.get(str(target["layer"]), fid)
        layer = registry.layer(str(target["layer"]))
        label = str(feature["properties"].get(layer.label_field) or f"{layer.id} {target['fid']}")
        return Target(feature["geometry"], label, [(layer.id, fid)])
    if isinstance(target, str) and not looks_like_geometry(target):
        return _resolve_name(registry, target.strip(), layers, name)
    if target is None or (isinstance(target, str) and not target.strip()):
        raise QueryError(key="query.required", params={"name": name}, parameter=name)
    geom = parse_geometry(target, name=name)
    if check_district:
        _check_district(registry, geom, name)
    return Target(geom, _geometry_label(geom))


def _geometry_label(geom: BaseGeometry) -> str:
    if geom.geom_type == "Point":
        return f"点 {geom.x:.6f},{geom.y:.6f}"
    return {"LineString": "线", "MultiLineString": "线", "Polygon": "面", "MultiPolygon": "面"}.get(
        geom.geom_type, "几何"
    )


def _check_district(registry: Registry, geom: BaseGeometry, name: str) -> None:
    """Refuse a geometry lying wholly outside the district (beyond the outline tolerance)."""
    district = registry.district()
    if district is None:
        return
    key = ("query", "district-metric")
    cached = registry.cache.get(key)
    if cached is None or cached[0] is not district:
        outline = to_metric(district).buffer(DISTRICT_TOLERANCE_M)
        shapely.prepare(outline)
        cached = (district, outline)
        registry.cache[key] = cached
    if not shapely.intersects(cached[1], to_metric(geom)):
        where = f"{geom.x:.6f},{geom.y:.6f}" if geom.geom_type == "Point" else geom.geom_type
        raise QueryError(
            key="query.outside_district",
            params={"name": name, "where": where, "tolerance": f"{DISTRICT_TOLERANCE_M:.0f}"},
            parameter=name,
        )


@dataclass
class _Names:
    """A layer's codes, names and aliases -> index rows, rebuilt when the index changes."""

    codes: dict[str, list[int]]
    names: dict[str, list[int]]
    aliases: dict[str, dict[str, list[int]]]  # alias -> {name: rows}


def _names(registry: Registry, layer_id: str, index: LayerIndex) -> _Names:
    """The lookup table of a layer; call with the index lock held."""
    key = ("query", "names", layer_id)
    cached = registry.cache.get(key)
    if cached is not None and cached[0] is index and cached[1] == index.version:
        return cached[2]
    layer = registry.catalog[layer_id]
    rows = index.all_rows()
    frame = index.take(rows)
    table = _Names({}, {}, {})
    codes = frame[layer.id_field].tolist()
    labels = frame[layer.label_field].tolist()
    aliases = frame[layer.aliases_field].tolist() if layer.aliases_field else [None] * len(rows)
    for row, code, label, alias in zip(rows.tolist(), codes, labels, aliases, strict=True):
        if code is not None:
            table.codes.setdefault(str(code), []).append(row)
        if label is not None:
            table.names.setdefault(str(label), []).append(row)
        for a in split_aliases(alias):
            table.aliases.setdefault(a, {}).setdefault(str(label), []).append(row)
    registry.cache[key] = (index, index.version, table)
    return table


def _resolve_name(registry: Registry, text: str, layer_ids: Sequence[str], name: str) -> Target:
    layer_ids = [lid for lid in layer_ids if lid in registry.catalog]
    if ":" in text and text.split(":", 1)[0] in registry.catalog:  # "lakes:长荡湖"
        prefix, text = text.split(":", 1)
        if prefix not in layer_ids:
            raise QueryError(
                key="query.prefix_not_target",
                params={"name": name, "layer": prefix, "known": ", ".join(layer_ids)},
                parameter=name,
            )
        layer_ids = [prefix]
    with RegistryIndexes.of(registry).use(registry, layer_ids) as indexes:
        # A name resolved before, against the same indexes, resolves the same way.
        key = ("query", "target", text, tuple(layer_ids))
        versions = tuple((id(indexes[lid]), indexes[lid].version) for lid in layer_ids)
        cached = registry.cache.get(key)
        if cached is not None and cached[0] == versions:
            return cached[1]
        tables = {lid: _names(registry, lid, indexes[lid]) for lid in layer_ids}
        found: dict[str, list[tuple[str, list[int]]]] = {"code": [], "name": [], "alias": []}
        for lid, table in tables.items():
            found["code"] += [(lid, [r]) for r in table.codes.get(text, [])]
            if text in table.names:
                found["name"].append((lid, table.names[text]))
            found["alias"] += [(lid, rows) for rows in table.aliases.get(text, {}).values()]
        for kind in ("code", "name", "alias"):
            groups = found[kind]
            if len(groups) == 1:
                lid, rows = groups[0]
                layer = registry.catalog[lid]
                sub = indexes[lid].take(np.asarray(rows))
                label = str(sub[layer.label_field].iloc[0])
                geom = _target_geometry(sub.geometry.values)
                target = Target(geom, label, [(lid, int(f)) for f in sub["fid"]])
                if len(registry.cache) > 4096:
                    _forget_targets(registry)
                registry.cache[key] = (versions, target)
                return target
            if len(groups) > 1:
                candidates = []
                for lid, rows in groups:
                    layer = registry.catalog[lid]
                    for rec in indexes[lid].take(np.asarray(rows)).to_dict("records"):
                        town = rec.get("town")
                        candidates.append(
                            {
                                "code": rec.get(layer.id_field),
                                "name": rec.get(layer.label_field),
                                "layer": lid,
                                "town": None if town is None or (isinstance(town, float) and math.isnan(town)) else town,
                            }
                        )
                listed = "; ".join(
                    f"{c['name']} {c['code']} ({c['layer']}{', ' + c['town'] if c['town'] else ''})"
                    for c in candidates
                )
                raise QueryError(
                    key="query.ambiguous",
                    params={"name": name, "text": text, "listed": listed,
                            "example": f"{candidates[0]['layer']}:{text}"},
                    parameter=name,
                    candidates=candidates,
                )
    normal = unicodedata.normalize("NFKC", text).strip()
    if normal != text:  # full-width letters, digits and dashes typed with a Chinese IME: ＨＤ－０００１
        return _resolve_name(registry, normal, layer_ids, name)
    suggestions = _suggest(tables, text)
    hint = {"zh": "", "en": ""}
    if suggestions:
        hint = i18n.both("query.did_you_mean", names="、".join(suggestions))
        hint["en"] = i18n.message("query.did_you_mean", "en", names=", ".join(suggestions))
    if not suggestions and "towns" not in layer_ids and "towns" in registry.catalog:
        with RegistryIndexes.of(registry).use(registry, ["towns"]) as indexes:
            if text in _names(registry, "towns", indexes["towns"]).names:
                hint = i18n.both("query.is_town", text=text)
    raise QueryError(
        key="query.not_found",
        params={
            "name": name,
            "text": text,
            "layers_en": ", ".join(layer_ids) or "the registry",
            "layers_zh": "、".join(registry.catalog[lid].title("zh") for lid in layer_ids) or "登记簿",
            "hint_zh": hint["zh"],
            "hint_en": hint["en"],
        },
        parameter=name,
        suggestions=suggestions,
    )


def _suggest(tables: dict[str, _Names], text: str, limit: int = 5) -> list[str]:
    scores: dict[str, float] = {}
    for table in tables.values():
        for v in [*table.names, *table.aliases]:
            score = _similarity(text, v)
            if score >= 0.4:
                scores[v] = max(score, scores.get(v, 0.0))
        for code in table.codes:  # codes compare case-insensitively: hd-0001 -> HD-0001
            score = _similarity(text.upper(), code.upper())
            if score >= 0.75:
                scores[code] = max(score, scores.get(code, 0.0))
    return [n for n, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


# -- the engine -------------------------------------------------------------------------
