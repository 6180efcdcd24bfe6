"""The layer catalog: what every layer of the registry is.

Each layer is declared once, in a YAML file beside this module (``rivers.yaml``,
``violations.yaml``, ...). The store, validators, API, map, exports and prints read
these declarations instead of repeating field lists, so adding a layer means adding
one YAML file and nothing else.

>>> from layers import load_catalog
>>> catalog = load_catalog()
>>> catalog["violations"].title_zh
'清四乱问题'
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CATALOG_DIR = Path(__file__).resolve().parent

#: Field types a catalog may declare, and the GeoPackage column type each maps to.
FIELD_TYPES = {
    "str": "TEXT",
    "int": "INTEGER",
    "float": "REAL",
    "bool": "BOOLEAN",
    "date": "DATE",
    # An instant, stored as GDAL writes GeoPackage DATETIME: ISO 8601 in UTC with a
    # 'Z' and milliseconds ("2021-03-15T01:30:00.000Z").
    "datetime": "DATETIME",
}

#: Geometry families a catalog may declare. Lines and polygons are stored as their
#: multi variants so that a river in several parts or a town cut in two by the lake
#: stays one feature; single parts are accepted and promoted on write.
#: ``Geometry`` (any type) is what older catalogs gave projects and black-odorous waters;
#: the stores still know it to read and migrate such registries, but a catalog may no
#: longer declare it: QGIS types a mixed layer by its first feature and drops the rest,
#: and CSV and Shapefile hold one type per file (see docs/architecture.md).
GEOMETRY_TYPES = {
    "Point": "POINT",
    "LineString": "MULTILINESTRING",
    "Polygon": "MULTIPOLYGON",
    "Geometry": "GEOMETRY",
}
#: The geometry families a catalog layer may declare: one type per layer (``Geometry``
#: only for a table whose features have no shape, ``geometry_optional``).
DECLARABLE_GEOMETRIES = ("Point", "LineString", "Polygon")


class CatalogError(ValueError):
    """A layer definition is malformed, or a layer id is unknown."""


@dataclass(frozen=True)
class Field:
    """One attribute of a layer."""

    name: str
    type: str
    title_zh: str
    title_en: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    enum_en: dict[str, str] | None = None
    unique: bool = False
    description: str = ""
    #: Longest text a ``str`` field accepts, in characters (``max_length`` in the YAML,
    #: default :data:`DEFAULT_MAX_LENGTH`); None for other types.
    max_length: int | None = None

    @property
    def gpkg_type(self) -> str:
        return FIELD_TYPES[self.type]

    def title(self, lang: str = "zh") -> str:
        return self.title_zh if lang == "zh" else self.title_en


@dataclass(frozen=True)
class Style:
    """Default cartographic style; ``by`` colours features by the value of one field."""

    color: str
    fill_color: str | None = None
    fill_opacity: float = 0.3
    weight: float = 2.0
    radius: float = 5.0
    icon: str | None = None
    dash: str | None = None
    by: str | None = None
    values: dict[str, str] = field(default_factory=dict)

    def color_for(self, value: Any) -> str:
        """Colour of a feature whose ``by`` field holds ``value``."""
        if self.by is None:
            return self.color
        return self.values.get(str(value), self.color)


@dataclass(frozen=True)
class ProblemRule:
    """Which field decides whether a feature is a "problem", and how.

    Exactly one of ``values`` (problem when the field is one of them) and ``not_in``
    (problem when the field is none of them) is set.
    """

    field: str
    values: tuple[str, ...] | None = None
    not_in: tuple[str, ...] | None = None

    def matches(self, value: Any) -> bool:
        if self.values is not None:
            return value in self.values
        return value not in (self.not_in or ())


@dataclass(frozen=True)
class Layer:
    """One layer of the registry: identity, titles, geometry, fields and presentation."""

    id: str
    title_zh: str
    title_en: str
    geometry: str
    fields: tuple[Field, ...]
    id_field: str
    label_field: str
    style: Style
    popup: tuple[str, ...]
    problem: ProblemRule | None = None
    temporal: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    aliases_field: str | None = None
    derived: dict[str, str] = field(default_factory=dict)
    order: int = 100
    default_visible: bool = True
    #: False for registry data that is not drawn on the web map's layer list (the
    #: water-quality observations: thousands of rows at the same 11 points).
    on_map: bool = True
    description_zh: str = ""
    description_en: str = ""
    #: Features may have no geometry (``geometry_optional: true``): a table such as the
    #: chiefs, which has no natural shape. Maps and prints skip such layers.
    geometry_optional: bool = False
    #: The layer whose features of this layer's geometry type move here when a registry
    #: made before the split is opened (``split_from: projects`` on ``project_areas``):
    #: the one-type-per-layer migration, run by the stores (see geo/stores/*).
    split_from: str | None = None

    @property
    def gpkg_geometry_type(self) -> str:
        return GEOMETRY_TYPES[self.geometry]

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise CatalogError(f"layer {self.id!r} has no field {name!r}; fields: {', '.join(self.field_names)}")

    def has_field(self, name: str) -> bool:
        return any(f.name == name for f in self.fields)

    def title(self, lang: str = "zh") -> str:
        return self.title_zh if lang == "zh" else self.title_en

    @property
    def is_problem_layer(self) -> bool:
        return self.problem is not None


class Catalog:
    """All layers, in map order, addressable by id."""

    def __init__(self, layers: list[Layer]):
        self._layers = {layer.id: layer for layer in sorted(layers, key=lambda x: (x.order, x.id))}

    def __getitem__(self, layer_id: str) -> Layer:
        try:
            return self._layers[layer_id]
        except KeyError:
            raise CatalogError(
                f"unknown layer {layer_id!r}; known layers: {', '.join(self._layers)}"
            ) from None

    def __contains__(self, layer_id: object) -> bool:
        return layer_id in self._layers

    def __iter__(self) -> Iterator[Layer]:
        return iter(self._layers.values())

    def __len__(self) -> int:
        return len(self._layers)

    @property
    def ids(self) -> list[str]:
        return list(self._layers)

    @property
    def problem_layers(self) -> list[Layer]:
        return [layer for layer in self if layer.problem is not None]

    def resolve(self, ids: str | list[str] | None) -> list[Layer]:
        """Layers named by a comma-separated string or a list; ``None`` means all."""
        if ids is None:
            return list(self)
        if isinstance(ids, str):
            ids = [s.strip() for s in ids.split(",") if s.strip()]
        return [self[i] for i in ids]


#: Longest text of a ``str`` field unless the catalog says otherwise: enough for any
#: name, code or remark typed in the field, small enough that a hostile 3-million-
#: character note cannot make every map view download megabytes.
DEFAULT_MAX_LENGTH = 500


def _field(d: dict[str, Any], layer_id: str) -> Field:
    name = d.get("name")
    ftype = d.get("type", "str")
    if ftype not in FIELD_TYPES:
        raise CatalogError(f"{layer_id}.{name}: unknown field type {ftype!r}")
    max_length = d.get("max_length")
    if max_length is not None and (ftype != "str" or not isinstance(max_length, int) or max_length < 1):
        raise CatalogError(f"{layer_id}.{name}: max_length must be a positive whole number, on a str field")
    if ftype == "str" and max_length is None:
        max_length = DEFAULT_MAX_LENGTH
    enum = d.get("enum")
    enum_en = None
    if isinstance(enum, dict):  # {中文值: English label}
        enum_en = {str(k): str(v) for k, v in enum.items()}
        enum = tuple(enum_en)
    elif enum is not None:
        enum = tuple(str(v) for v in enum)
    return Field(
        name=name,
        type=ftype,
        title_zh=d["title_zh"],
        title_en=d["title_en"],
        required=bool(d.get("required", False)),
        enum=enum,
        enum_en=enum_en,
        unique=bool(d.get("unique", False)),
        description=d.get("description", ""),
        max_length=max_length,
    )


def _layer(d: dict[str, Any]) -> Layer:
    layer_id = d["id"]
    # A table without shapes (the chiefs: ``geometry_optional``, every geometry NULL) keeps
    # ``Geometry``; a layer with shapes declares one type.
    table = d.get("geometry") == "Geometry" and d.get("geometry_optional")
    if d.get("geometry") not in DECLARABLE_GEOMETRIES and not table:
        raise CatalogError(
            f"{layer_id}: geometry must be one of {', '.join(DECLARABLE_GEOMETRIES)} "
            f"(one type per layer; split lines and areas into two layers), not {d.get('geometry')!r}"
        )
    fields = tuple(_field(f, layer_id) for f in d["fields"])
    s = d.get("style", {})
    style = Style(
        color=s["color"],
        fill_color=s.get("fill_color"),
        fill_opacity=float(s.get("fill_opacity", 0.3)),
        weight=float(s.get("weight", 2.0)),
        radius=float(s.get("radius", 5.0)),
        icon=s.get("icon"),
        dash=s.get("dash"),
        by=s.get("by"),
        values={str(k): str(v) for k, v in (s.get("values") or {}).items()},
    )
    p = d.get("problem")
    problem = None
    if p:
        problem = ProblemRule(
            field=p["field"],
            values=tuple(p["values"]) if "values" in p else None,
            not_in=tuple(p["not_in"]) if "not_in" in p else None,
        )
    return Layer(
        id=layer_id,
        title_zh=d["title_zh"],
        title_en=d["title_en"],
        geometry=d["geometry"],
        fields=fields,
        id_field=d["id_field"],
        label_field=d["label_field"],
        style=style,
        popup=tuple(d.get("popup", [])),
        problem=problem,
        temporal=tuple(d.get("temporal", [])),
        search=tuple(d.get("search", [])),
        aliases_field=d.get("aliases_field"),
        derived={str(k): str(v) for k, v in (d.get("derived") or {}).items()},
        order=int(d.get("order", 100)),
        default_visible=bool(d.get("default_visible", True)),
        on_map=bool(d.get("on_map", True)),
        description_zh=d.get("description_zh", ""),
        description_en=d.get("description_en", ""),
        geometry_optional=bool(d.get("geometry_optional", False)),
        split_from=d.get("split_from"),
    )


@cache
def load_catalog(directory: str | None = None) -> Catalog:
    """Read every ``*.yaml`` layer definition in ``directory`` (default: this package)."""
    folder = Path(directory) if directory else CATALOG_DIR
    layers = []
    for path in sorted(folder.glob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            layers.append(_layer(yaml.safe_load(fh)))
    ids = {layer.id for layer in layers}
    for layer in layers:
        if layer.split_from is not None and layer.split_from not in ids:
            raise CatalogError(f"{layer.id}: split_from names no layer: {layer.split_from!r}")
    return Catalog(layers)


__all__ = [
    "Catalog",
    "CatalogError",
    "Field",
    "Layer",
    "ProblemRule",
    "Style",
    "load_catalog",
    "FIELD_TYPES",
    "GEOMETRY_TYPES",
    "DECLARABLE_GEOMETRIES",
]
