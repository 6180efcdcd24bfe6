"""Attribute values row by row: types, enums, dates, required fields, and codes
repeated in the file or already in the registry."""

from __future__ import annotations

from typing import Any

import pandas as pd

from geo.errors import ValidationError
from geo.importer.report import ImportOptions, said
from geo.registry import Registry
from geo.validate import coerce_value
from layers import Layer


def coerce_rows(frame: pd.DataFrame, layer: Layer, mapping: dict[str, str], problem, *, update: bool):
    """Properties of every row in the fields' types, reporting each bad value.

    With ``update``, an empty cell leaves the stored value alone, and required fields
    are checked later, once it is known whether the row adds or updates a feature.
    """
    fields = {f.name: f for f in layer.fields}
    records = frame[list(mapping)].to_dict("records") if mapping else [{} for _ in range(len(frame))]
    mapped = set(mapping.values())
    out = []
    for i, rec in enumerate(records):
        props: dict[str, Any] = {}
        failed = set()
        for src, value in rec.items():
            fdef = fields[mapping[src]]
            try:
                coerced = coerce_value(fdef, value, layer.id)
            except ValidationError as exc:
                problem(i, fdef.name, value, exc.message.split(": ", 1)[-1], message_zh=exc.body("zh"))
                failed.add(fdef.name)
                continue
            if coerced is None and update:
                continue
            props[fdef.name] = coerced
        if not update:
            for f in layer.fields:
                if f.required and props.get(f.name) is None and f.name not in failed:
                    if f.name in mapped:
                        problem(i, f.name, None, **said("import.required_empty"))
                    else:
                        problem(i, f.name, None, **said("import.required_unmapped", field=f.name))
        out.append(props)
    return out


def check_codes(
    registry: Registry, layer: Layer, rows: list[dict], options: ImportOptions, problem, bad, rownum
) -> dict[int, int]:
    """Refuse codes repeated in the file or already stored; with ``update``, map rows to fids."""
    key = layer.id_field
    if not layer.has_field(key) or not layer.field(key).unique:
        return {}
    codes = [r.get(key) for r in rows]
    first: dict[Any, int] = {}
    for i, code in enumerate(codes):
        if code is None:
            continue
        if code in first:
            problem(i, key, code, **said("import.duplicate_in_file", field=key, row=int(rownum[first[code]])))
        else:
            first[code] = i
    existing: dict[Any, int] = {}
    wanted = list(first)
    for k in range(0, len(wanted), 500):
        hits = registry.read(layer.id, where={key: wanted[k : k + 500]})
        for fid, code in zip(hits.index, hits[key], strict=False):
            existing[code] = int(fid)
    updates: dict[int, int] = {}
    for code, i in first.items():
        if code not in existing:
            continue
        if options.update:
            updates[i] = existing[code]
        else:
            problem(i, key, code, **said("import.already_stored", fid=existing[code]))
    # A new feature (not an update) needs every required field.
    for i, props in enumerate(rows):
        if i in updates or i in bad or not options.update:
            continue
        for f in layer.fields:
            if f.required and props.get(f.name) is None:
                problem(i, f.name, None, **said("import.required_new"))
    return updates
