"""Source columns onto catalog fields: by name, 中文 or English title, or ``--map``."""

from __future__ import annotations

from collections import Counter

from geo.importer.report import ImportFileError
from layers import Layer


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """``["源列=code", ...]`` as a dict; refuses items without ``=``."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ImportFileError(key="import_file.map_syntax", params={"item": repr(item)})
        src, dst = item.split("=", 1)
        if not src.strip() or not dst.strip():
            raise ImportFileError(key="import_file.map_syntax", params={"item": repr(item)})
        out[src.strip()] = dst.strip()
    return out


def _field_named(layer: Layer, name: str) -> str | None:
    key = name.strip().lower()
    for f in layer.fields:
        if key in (f.name.lower(), f.title_zh.lower(), f.title_en.lower()):
            return f.name
    # DBF cuts field names to 10 characters: "descriptio" is "description".
    if len(key) == 10:
        hits = [f.name for f in layer.fields if f.name.lower().startswith(key)]
        if len(hits) == 1:
            return hits[0]
    return None


def map_columns(
    columns: list[str], layer: Layer, explicit: dict[str, str], skip: tuple[str, ...] = ()
) -> tuple[dict[str, str], list[str]]:
    """Source column -> catalog field, by explicit ``--map``, name, or 中文/English title."""
    mapping: dict[str, str] = {}
    for src, dst in explicit.items():
        if src not in columns:
            raise ImportFileError(key="import_file.map_no_column", params={
                "src": src, "dst": dst, "column": repr(src), "columns": ", ".join(columns)})
        target = _field_named(layer, dst)
        if target is None:
            raise ImportFileError(key="import_file.map_no_field", params={
                "src": src, "dst": dst, "layer": layer.id, "field": repr(dst), "fields": ", ".join(layer.field_names)})
        mapping[src] = target
    ignored = []
    for col in columns:
        if col in mapping or col in skip:
            continue
        target = _field_named(layer, str(col))
        if target is None:
            ignored.append(str(col))
        else:
            mapping[col] = target
    taken = Counter(mapping.values())
    clash = [f for f, n in taken.items() if n > 1]
    if clash:
        srcs = [s for s, d in mapping.items() if d == clash[0]]
        raise ImportFileError(key="import_file.map_clash", params={"columns": ", ".join(srcs), "field": clash[0]})
    return mapping, ignored
