"""Reading ``layers/*.yaml`` into the catalog, strictly: an unknown key or a broken
reference is a :class:`CatalogError` naming the file and the key, at load time."""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from layers.model import (
    DECLARABLE_GEOMETRIES,
    DEFAULT_MAX_LENGTH,
    FIELD_TYPES,
    Catalog,
    CatalogError,
    DerivedField,
    Field,
    Layer,
    Lifecycle,
    ProblemRule,
    Step,
    Style,
    parse_derived,
)

CATALOG_DIR = Path(__file__).resolve().parent


#: The keys each part of a layer definition may have; anything else is a typo the
#: loader refuses (a misspelt ``requried: true`` would otherwise be silently ignored).
LAYER_KEYS = frozenset({
    "id", "title_zh", "title_en", "geometry", "fields", "id_field", "label_field", "style", "popup",
    "problem", "temporal", "search", "aliases_field", "derived", "order", "default_visible", "on_map",
    "description_zh", "description_en", "geometry_optional", "lifecycle", "edit_role", "split_from",
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
    # A table without shapes (the chiefs: ``geometry_optional``, every geometry NULL) keeps
    # ``Geometry``; a layer with shapes declares one type.
    table = d.get("geometry") == "Geometry" and d.get("geometry_optional")
    if d.get("geometry") not in DECLARABLE_GEOMETRIES and not table:
        raise where.error(
            "geometry",
            f"must be one of {', '.join(DECLARABLE_GEOMETRIES)} (one type per layer; split lines "
            f"and areas into two layers), not {d.get('geometry')!r}",
        )
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
        split_from=d.get("split_from"),
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
    for path, layer in zip(sorted(folder.glob("*.yaml")), layers, strict=True):
        if layer.split_from is not None and layer.split_from not in first:
            raise CatalogError(f"{path.name}: split_from: names no layer: {layer.split_from!r}")
    return Catalog(layers)
