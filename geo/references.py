"""Fields that name another feature, checked against the registry on every write.

A violation's ``town`` must be a registered town and its ``river`` a registered river or
lake: free text let 儒林 and 丹金漕河 in, and a phantom town 儒林 then appeared in the
targets. The rule is by field name, for every layer that has such a field (violations,
micro water bodies, plants, signboards, cross-boundary reaches); a registry whose
referenced layer is still empty (a new one, being filled) is not checked.

Codes a person should not have to invent are generated here too: ``QSL-2021-0042``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from geo.errors import ValidationError
from geo.values import split_aliases

if TYPE_CHECKING:
    from geo.registry import Registry

#: field name -> the layers whose ``label_field`` values it may take.
REFERENCES: dict[str, tuple[str, ...]] = {"town": ("towns",), "river": ("rivers", "lakes")}
#: Generated codes: layer -> prefix; the code is ``PREFIX-YYYY-NNNN``.
CODE_PREFIXES: dict[str, str] = {"violations": "QSL"}


def known_names(registry: Registry, layer_ids: Sequence[str]) -> set[str]:
    """The names (and aliases) of the features of ``layer_ids``.

    Kept per registry version (other connections' writes) and dropped by
    :func:`check_references` whenever this registry writes to one of those layers
    (a connection's own writes do not change the version SQLite reports).
    """
    key = ("references", tuple(layer_ids))
    version = registry.version()
    cached = registry.cache.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    names: set[str] = set()
    for lid in layer_ids:
        if lid not in registry.catalog:
            continue
        layer = registry.catalog[lid]
        frame = registry.read(lid)
        names.update(str(v) for v in frame[layer.label_field].dropna().tolist())
        for a in (frame[layer.aliases_field].dropna().tolist() if layer.aliases_field else []):
            names.update(split_aliases(a))
    registry.cache[key] = (version, names)
    return names


def check_references(registry: Registry, layer, rows: Sequence[dict[str, Any]]) -> None:
    """Refuse a value of ``town``/``river`` that names no registered town/river or lake.

    The error names the row, field and value, and suggests the closest names.
    """
    referenced = {lid for targets in REFERENCES.values() for lid in targets}
    if layer.id in referenced:  # a town, river or lake is being written: names change
        registry.cache = {k: v for k, v in registry.cache.items() if not (isinstance(k, tuple) and k[:1] == ("references",))}
    for field, targets in REFERENCES.items():
        if not layer.has_field(field) or layer.id in targets:
            continue
        values = {r.get(field) for r in rows if r.get(field) not in (None, "")}
        if not values:
            continue
        names = known_names(registry, targets)
        if not names:
            continue
        for i, props in enumerate(rows, start=1):
            value = props.get(field)
            if value in (None, "") or str(value) in names:
                continue
            close = difflib.get_close_matches(str(value), sorted(names), n=3, cutoff=0.3)
            if not close:
                close = sorted(n for n in names if str(value) in n or n in str(value))[:3]
            hint_zh = f"；您要找的是否是：{'、'.join(close)}？" if close else ""
            hint_en = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValidationError(
                key="validate.unknown_town" if field == "town" else "validate.unknown_river",
                params={"hint_zh": hint_zh, "hint_en": hint_en},
                layer=layer.id,
                field=field,
                value=value,
                row=i if len(rows) > 1 else None,
                suggestions=close,
            )


def renames(registry: Registry, layer, fid: int, properties: dict[str, Any]) -> list[tuple[Any, str, Any, Any]]:
    """What renaming a town, river or lake must carry into the features naming it.

    Features name their town and river by name (``town``, ``river`` fields, as the
    river-chief system's sheets do), so a rename is carried through rather than made a
    stable key: when ``properties`` changes the label (name) of feature ``fid`` of a
    referenced layer, and no other feature of the referenced layers still holds the old
    name or has it as an alias (a river in several reaches keeps its name on the other
    reaches; then the references still resolve and stay), every layer with such a field
    gets ``(layer, field, old, new)``. The store applies them in the update's own
    transaction (:meth:`geo.stores.base.Store.update_cascade`), each changed feature
    with its history row.
    """
    fields = [f for f, targets in REFERENCES.items() if layer.id in targets]
    label = layer.label_field
    if not fields or label not in properties:
        return []
    old = registry.get(layer.id, fid)["properties"].get(label)
    new = properties[label]
    if old in (None, "") or new in (None, "") or str(old) == str(new):
        return []
    out = []
    for field in fields:
        if _still_named(registry, REFERENCES[field], str(old), layer.id, int(fid)):
            continue
        for ref in registry.catalog:
            if ref.id not in REFERENCES[field] and ref.has_field(field):
                out.append((ref, field, old, new))
    return out


def _still_named(registry: Registry, layer_ids: Sequence[str], name: str, layer_id: str, fid: int) -> bool:
    """Whether a feature other than (layer_id, fid) holds ``name`` as its name or alias."""
    for lid in layer_ids:
        if lid not in registry.catalog:
            continue
        target = registry.catalog[lid]
        holders = registry.read(lid, where={target.label_field: name})
        if len(holders.index.difference([fid] if lid == layer_id else [])):
            return True
        if target.aliases_field:
            aliases = registry.read(lid)[target.aliases_field].dropna()
            if lid == layer_id:
                aliases = aliases.drop(fid, errors="ignore")
            if any(name in split_aliases(value) for value in aliases.tolist()):
                return True
    return False


def next_code(registry: Registry, layer_id: str, year: int | None = None) -> str:
    """The next free generated code of the year: ``QSL-2021-0042`` after ``QSL-2021-0041``."""
    prefix = f"{CODE_PREFIXES[layer_id]}-{year or date.today().year}-"
    layer = registry.catalog[layer_id]
    codes = registry.read(layer_id)[layer.id_field].dropna().astype(str)
    numbers = codes[codes.str.startswith(prefix)].str[len(prefix):]
    numbers = numbers[numbers.str.fullmatch(r"\d+")].astype(int)
    return f"{prefix}{(int(numbers.max()) if len(numbers) else 0) + 1:04d}"


def add_with_code(registry: Registry, layer_id: str, properties: dict[str, Any], geometry: Any, *, user: str, attempts: int = 20) -> int:
    """Add a feature, generating its code when it has none.

    Two people saving at once compute the same next code; the store refuses the second
    (the code is unique, checked in the write transaction), and it takes the next one.
    """
    layer = registry.catalog[layer_id]
    if layer_id not in CODE_PREFIXES or properties.get(layer.id_field) not in (None, ""):
        return registry.add(layer_id, properties, geometry, user=user)
    for _ in range(attempts):
        props = {**properties, layer.id_field: next_code(registry, layer_id)}
        try:
            return registry.add(layer_id, props, geometry, user=user)
        except ValidationError as exc:
            if exc.field != layer.id_field or "unique" not in exc.message:
                raise
    raise ValidationError("no free code after several attempts; try again", layer=layer_id, field=layer.id_field)
