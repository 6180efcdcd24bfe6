"""What a layer is: fields, style, problem rule, lifecycle, derived fields (frozen
dataclasses), and the catalog of all layers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

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

    def mask(self, frame: Any) -> Any:
        """Boolean Series: which rows of ``frame`` (a DataFrame) are problems."""
        col = frame[self.field]
        if self.values is not None:
            return col.isin(self.values)
        return ~col.isin(self.not_in or ())

    def filter_tree(self) -> tuple:
        """The rule as a parsed CQL2 tree (:mod:`geo.cql2`) a store can run.

        A missing value counts as a problem under a ``not_in`` rule, as in :meth:`mask`.
        """
        prop = ("prop", self.field, 0)
        if self.values is not None:
            return ("in", prop, [("lit", v) for v in self.values], 0)
        if not self.not_in:
            return ("truth", ("lit", True), 0)
        return ("or", ("null", prop), ("not", ("in", prop, [("lit", v) for v in self.not_in], 0)))


@dataclass(frozen=True)
class Step:
    """One allowed move of a status: the fields it needs and the fields it fills when not given."""

    to: str
    requires: tuple[str, ...] = ()
    #: field -> "today": filled with the current date when the request leaves it out.
    sets: dict[str, str] = field(default_factory=dict)
    label_zh: str = ""
    label_en: str = ""


@dataclass(frozen=True)
class Lifecycle:
    """The status field of a layer and the moves allowed from each value (``lifecycle:``)."""

    layer: str
    field: str
    steps: dict[str, tuple[Step, ...]]

    def allowed(self, current: str | None) -> list[Step]:
        return list(self.steps.get(current or "", ()))

    @property
    def statuses(self) -> list[str]:
        """Every status the lifecycle names, in the order it first names them."""
        return list(dict.fromkeys([*self.steps, *(s.to for steps in self.steps.values() for s in steps)]))


#: ``<operand> <comparison> <operand>``, an operand a field name or a number: the one
#: grammar of derived fields, which the map page can evaluate too.
_DERIVED = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?)\s*(<=|>=|==|!=|<|>)\s*"
                      r"([A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class DerivedField:
    """A value computed from other fields (``derived:``), never stored.

    ``left``/``right`` are ``{"field": name}`` or ``{"value": number}``; ``labels`` maps
    a value's text ("True"/"False") to its legend words ``(zh, en)``.
    """

    name: str
    expression: str
    left: dict[str, Any]
    op: str
    right: dict[str, Any]
    title_zh: str = ""
    title_en: str = ""
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)

    def title(self, lang: str = "zh") -> str:
        return (self.title_zh if lang == "zh" else self.title_en) or self.name

    def label(self, value: str, lang: str = "zh") -> str | None:
        words = self.labels.get(value)
        return None if words is None else (words[0] if lang == "zh" else words[1])

    @property
    def fields(self) -> list[str]:
        return [o["field"] for o in (self.left, self.right) if "field" in o]

    def as_dict(self) -> dict[str, Any]:
        """``{"name", "left", "op", "right"}``: what the map page evaluates."""
        return {"name": self.name, "left": dict(self.left), "op": self.op, "right": dict(self.right)}


def parse_derived(name: str, expression: str, **extra: Any) -> DerivedField:
    """A derived field from its expression; CatalogError when outside the grammar.

    >>> parse_derived("meets_target", "latest_class <= target_class").op
    '<='
    """
    m = _DERIVED.match(str(expression))
    if not m:
        raise CatalogError(
            f"derived field {name!r}: cannot evaluate {expression!r} on the map; "
            "expected '<field or number> <op> <field or number>' with op one of < <= > >= == !="
        )

    def operand(token: str) -> dict[str, Any]:
        if re.match(r"^-?\d", token):
            return {"value": float(token)}
        return {"field": token}

    return DerivedField(name=name, expression=str(expression), left=operand(m.group(1)), op=m.group(2),
                        right=operand(m.group(3)), **extra)


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
    #: name -> expression, as written (``derived:``); the parsed form is :attr:`derived_fields`.
    derived: dict[str, str] = field(default_factory=dict)
    derived_fields: tuple[DerivedField, ...] = ()
    #: The status flow of the layer's features (``lifecycle:``), None when unmanaged.
    lifecycle: Lifecycle | None = None
    #: Who may write the layer over HTTP: "editor", or "field" (field staff too).
    edit_role: str = "editor"
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

    def derived_field(self, name: str) -> DerivedField | None:
        return next((d for d in self.derived_fields if d.name == name), None)

    def field_title(self, name: str, lang: str = "zh") -> str:
        """Title of a stored or derived field; the name itself when it is neither."""
        if self.has_field(name):
            return self.field(name).title(lang)
        d = self.derived_field(name)
        return d.title(lang) if d is not None else name

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
