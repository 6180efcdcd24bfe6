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

import difflib
import re
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
GEOMETRY_TYPES = {
    "Point": "POINT",
    "LineString": "MULTILINESTRING",
    "Polygon": "MULTIPOLYGON",
    "Geometry": "GEOMETRY",
}


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


#: The keys each part of a layer definition may have; anything else is a typo the
#: loader refuses (a misspelt ``requried: true`` would otherwise be silently ignored).
LAYER_KEYS = frozenset({
    "id", "title_zh", "title_en", "geometry", "fields", "id_field", "label_field", "style", "popup",
    "problem", "temporal", "search", "aliases_field", "derived", "order", "default_visible", "on_map",
    "description_zh", "description_en", "geometry_optional", "lifecycle", "edit_role",
})
FIELD_KEYS = frozenset({
    "name", "type", "title_zh", "title_en", "required", "enum", "unique", "description", "max_length",
})
STYLE_KEYS = frozenset({
    "color", "fill_color", "fill_opacity", "weight", "radius", "icon", "dash", "by", "values",
})
PROBLEM_KEYS = frozenset({"field", "values", "not_in"})
LIFECYCLE_KEYS = frozenset({"field", "steps"})
STEP_KEYS = frozenset({"to", "requires", "sets", "label_zh", "label_en"})
DERIVED_KEYS = frozenset({"expression", "title_zh", "title_en", "labels"})
EDIT_ROLES = ("editor", "field")
#: What a lifecycle step may fill in by itself.
STEP_FILLS = ("today",)


class _Where:
    """Where a definition is read from, for error messages: ``violations.yaml: fields[2].enum``."""

    def __init__(self, source: str):
        self.source = source

    def error(self, key: str, problem: str) -> CatalogError:
        return CatalogError(f"{self.source}: {key}: {problem}")

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping, got {type(value).__name__}")
        return value

    def keys(self, value: dict[str, Any], allowed: frozenset[str], key: str) -> None:
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:

            hints = [difflib.get_close_matches(u, sorted(allowed), n=1) for u in unknown]
            hint = "; ".join(f"did you mean {h[0]!r}?" for h in hints if h)
            raise self.error(
                key or "(top level)",
                f"unknown key {', '.join(repr(u) for u in unknown)}{' (' + hint + ')' if hint else ''}; "
                f"known keys: {', '.join(sorted(allowed))}",
            )

    def names(self, value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, (list, tuple)):
            raise self.error(key, f"expected a list, got {type(value).__name__}")
        return tuple(str(v) for v in value)


def _field(d: dict[str, Any], layer_id: str, where: _Where | None = None, key: str = "") -> Field:
    where = where or _Where(layer_id)
    name = d.get("name")
    key = key or f"fields.{name}"
    where.keys(d, FIELD_KEYS, key)
    for required in ("name", "title_zh", "title_en"):
        if required not in d:
            raise where.error(key, f"missing {required!r}")
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
    elif isinstance(enum, (list, tuple)):
        enum = tuple(str(v) for v in enum)
    elif enum is not None:
        raise where.error(f"{key}.enum", f"expected a list or a mapping of values, got {enum!r}")
    if enum is not None and not enum:
        raise where.error(f"{key}.enum", "an enum lists at least one value")
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


def _style(s: Any, where: _Where) -> Style:
    s = where.mapping(s if s is not None else {}, "style")
    where.keys(s, STYLE_KEYS, "style")
    if "color" not in s:
        raise where.error("style", "missing 'color'")
    return Style(
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


def _problem(p: Any, where: _Where) -> ProblemRule | None:
    if not p:
        return None
    p = where.mapping(p, "problem")
    where.keys(p, PROBLEM_KEYS, "problem")
    if "field" not in p:
        raise where.error("problem", "missing 'field'")
    if ("values" in p) == ("not_in" in p):
        raise where.error("problem", "give exactly one of 'values' and 'not_in'")
    return ProblemRule(
        field=str(p["field"]),
        values=where.names(p["values"], "problem.values") if "values" in p else None,
        not_in=where.names(p["not_in"], "problem.not_in") if "not_in" in p else None,
    )


def _derived(d: Any, where: _Where) -> tuple[dict[str, str], tuple[DerivedField, ...]]:
    """``derived:`` as name -> expression text, and parsed. A value is the expression,
    or a mapping with ``expression``, titles and legend ``labels`` ({value: {zh, en}})."""
    d = where.mapping(d or {}, "derived")
    texts: dict[str, str] = {}
    parsed = []
    for name, spec in d.items():
        key = f"derived.{name}"
        extra: dict[str, Any] = {}
        if isinstance(spec, dict):
            where.keys(spec, DERIVED_KEYS, key)
            if "expression" not in spec:
                raise where.error(key, "missing 'expression'")
            labels = {}
            for value, words in where.mapping(spec.get("labels") or {}, f"{key}.labels").items():
                words = where.mapping(words, f"{key}.labels.{value}")
                where.keys(words, frozenset({"zh", "en"}), f"{key}.labels.{value}")
                labels[str(value)] = (str(words.get("zh", value)), str(words.get("en", value)))
            extra = {"title_zh": str(spec.get("title_zh", "")), "title_en": str(spec.get("title_en", "")),
                     "labels": labels}
            expression = spec["expression"]
        else:
            expression = spec
        try:
            parsed.append(parse_derived(str(name), str(expression), **extra))
        except CatalogError as exc:
            raise where.error(key, str(exc)) from None
        texts[str(name)] = str(expression)
    return texts, tuple(parsed)


def _lifecycle(d: Any, layer_id: str, where: _Where) -> Lifecycle | None:
    if not d:
        return None
    d = where.mapping(d, "lifecycle")
    where.keys(d, LIFECYCLE_KEYS, "lifecycle")
    for required in ("field", "steps"):
        if required not in d:
            raise where.error("lifecycle", f"missing {required!r}")
    steps: dict[str, tuple[Step, ...]] = {}
    for status, moves in where.mapping(d["steps"], "lifecycle.steps").items():
        key = f"lifecycle.steps.{status}"
        if not isinstance(moves, list):
            raise where.error(key, f"expected a list of moves, got {type(moves).__name__}")
        out = []
        for i, move in enumerate(moves):
            mkey = f"{key}[{i}]"
            move = where.mapping(move, mkey)
            where.keys(move, STEP_KEYS, mkey)
            if "to" not in move:
                raise where.error(mkey, "missing 'to'")
            sets = {str(k): str(v) for k, v in where.mapping(move.get("sets") or {}, f"{mkey}.sets").items()}
            for fname, rule in sets.items():
                if rule not in STEP_FILLS:
                    raise where.error(f"{mkey}.sets.{fname}", f"unknown fill {rule!r}; known: {', '.join(STEP_FILLS)}")
            out.append(Step(
                to=str(move["to"]),
                requires=where.names(move.get("requires"), f"{mkey}.requires"),
                sets=sets,
                label_zh=str(move.get("label_zh", "")),
                label_en=str(move.get("label_en", "")),
            ))
        steps[str(status)] = tuple(out)
    return Lifecycle(layer=layer_id, field=str(d["field"]), steps=steps)


def _layer(d: dict[str, Any], source: str | None = None) -> Layer:
    where = _Where(source or str(d.get("id", "?")))
    d = where.mapping(d, "")
    where.keys(d, LAYER_KEYS, "")
    for required in ("id", "title_zh", "title_en", "geometry", "fields", "id_field", "label_field"):
        if required not in d:
            raise where.error(required, "missing")
    layer_id = d["id"]
    if d.get("geometry") not in GEOMETRY_TYPES:
        raise CatalogError(f"{layer_id}: unknown geometry {d.get('geometry')!r}")
    if not isinstance(d["fields"], list):
        raise where.error("fields", "expected a list of fields")
    fields = tuple(
        _field(where.mapping(f, f"fields[{i}]"), layer_id, where, f"fields[{i}]") for i, f in enumerate(d["fields"])
    )
    derived, derived_fields = _derived(d.get("derived"), where)
    edit_role = str(d.get("edit_role", "editor"))
    if edit_role not in EDIT_ROLES:
        raise where.error("edit_role", f"unknown role {edit_role!r}; known: {', '.join(EDIT_ROLES)}")
    layer = Layer(
        id=layer_id,
        title_zh=d["title_zh"],
        title_en=d["title_en"],
        geometry=d["geometry"],
        fields=fields,
        id_field=d["id_field"],
        label_field=d["label_field"],
        style=_style(d.get("style"), where),
        popup=where.names(d.get("popup", []), "popup"),
        problem=_problem(d.get("problem"), where),
        temporal=where.names(d.get("temporal", []), "temporal"),
        search=where.names(d.get("search", []), "search"),
        aliases_field=d.get("aliases_field"),
        derived=derived,
        derived_fields=derived_fields,
        lifecycle=_lifecycle(d.get("lifecycle"), layer_id, where),
        edit_role=edit_role,
        order=int(d.get("order", 100)),
        default_visible=bool(d.get("default_visible", True)),
        on_map=bool(d.get("on_map", True)),
        description_zh=d.get("description_zh", ""),
        description_en=d.get("description_en", ""),
        geometry_optional=bool(d.get("geometry_optional", False)),
    )
    _check_references(layer, where)
    return layer


def _check_references(layer: Layer, where: _Where) -> None:
    """Every name a definition uses must be one of its fields, and every value one of
    the field's values: a broken reference is an error at load time, not a blank map."""
    names = set(layer.field_names)
    seen: set[str] = set()
    for i, f in enumerate(layer.fields):
        if f.name in seen:
            raise where.error(f"fields[{i}]", f"field {f.name!r} is declared twice")
        seen.add(f.name)

    def known(name: Any, key: str, *, derived: bool = False) -> None:
        if name in names or (derived and name in layer.derived):
            return

        close = difflib.get_close_matches(str(name), sorted(names), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise where.error(key, f"no field {name!r}{hint}; fields: {', '.join(layer.field_names)}")

    def in_enum(fname: str, values: Any, key: str) -> None:
        if not layer.has_field(fname):
            return
        f = layer.field(fname)
        allowed = f.enum if f.enum is not None else (("True", "False") if f.type == "bool" else None)
        if allowed is None:
            return
        bad = [str(v) for v in values if str(v) not in allowed]
        if bad:
            raise where.error(
                key, f"value {bad[0]!r} is not one of field {fname!r}'s values: {', '.join(allowed)}"
            )

    for key in ("id_field", "label_field"):
        known(getattr(layer, key), key)
    if layer.aliases_field is not None:
        known(layer.aliases_field, "aliases_field")
    for key in ("popup", "search", "temporal"):
        for name in getattr(layer, key):
            known(name, key)
    for d in layer.derived_fields:
        if d.name in names:
            raise where.error(f"derived.{d.name}", "a derived field cannot share a stored field's name")
        for name in d.fields:
            known(name, f"derived.{d.name}")
    if layer.style.by is not None:
        known(layer.style.by, "style.by", derived=True)
        in_enum(layer.style.by, layer.style.values, "style.values")
    if layer.problem is not None:
        known(layer.problem.field, "problem.field")
        in_enum(layer.problem.field, layer.problem.values or layer.problem.not_in or (), "problem")
    lc = layer.lifecycle
    if lc is not None:
        known(lc.field, "lifecycle.field")
        if layer.field(lc.field).enum is None:
            raise where.error("lifecycle.field", f"field {lc.field!r} has no enum: a lifecycle moves between listed statuses")
        for status, steps in lc.steps.items():
            in_enum(lc.field, [status], f"lifecycle.steps.{status}")
            for i, step in enumerate(steps):
                key = f"lifecycle.steps.{status}[{i}]"
                in_enum(lc.field, [step.to], f"{key}.to")
                for name in (*step.requires, *step.sets):
                    known(name, key)


@cache
def load_catalog(directory: str | None = None) -> Catalog:
    """Read every ``*.yaml`` layer definition in ``directory`` (default: this package).

    A definition with an unknown key, or naming a field, value or layer that does not
    exist, is a :class:`CatalogError` naming the file and the key.
    """
    folder = Path(directory) if directory else CATALOG_DIR
    layers = []
    for path in sorted(folder.glob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            try:
                data = yaml.safe_load(fh)
            except yaml.YAMLError as exc:
                raise CatalogError(f"{path.name}: not valid YAML: {' '.join(str(exc).split())}") from None
        layers.append(_layer(data, path.name))
    first: dict[str, str] = {}
    for path, layer in zip(sorted(folder.glob("*.yaml")), layers, strict=True):
        if layer.id in first:
            raise CatalogError(f"{path.name}: id: layer {layer.id!r} is already defined in {first[layer.id]}")
        first[layer.id] = path.name
    return Catalog(layers)


__all__ = [
    "Catalog",
    "DerivedField",
    "Lifecycle",
    "Step",
    "parse_derived",
    "CatalogError",
    "Field",
    "Layer",
    "ProblemRule",
    "Style",
    "load_catalog",
    "FIELD_TYPES",
    "GEOMETRY_TYPES",
]
