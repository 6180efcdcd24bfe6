"""What every store writes the same way: history timestamps, features as GeoJSON for
the history, the "same feature" test behind optimistic concurrency, and the error for
a repeated unique value."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import shapely
from shapely.geometry import shape

from geo.errors import ValidationError
from geo.features import feature_from_record, json_value
from layers import Layer


def now_iso() -> str:
    """Now, in UTC with microseconds: the ``at`` of a history row."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def feature_json(feature: dict[str, Any]) -> dict[str, Any]:
    """A registry feature as the GeoJSON the history keeps (geo.features, id = fid)."""
    return feature_from_record(feature)


def same_feature(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two feature dicts hold the same properties and geometry."""
    pa = {k: json_value(v) for k, v in a["properties"].items()}
    pb = {k: json_value(v) for k, v in b["properties"].items()}
    if pa != pb:
        return False
    ga, gb = a.get("geometry"), b.get("geometry")
    if isinstance(gb, dict):
        gb = shape(gb)
    if ga is None or gb is None:
        return ga is gb
    return shapely.equals_exact(ga, gb, tolerance=1e-12)


def unique_error(layer: Layer, field: str, value: Any, other_fid: Any, row: int | None = None) -> ValidationError:
    """The refusal of a value a unique field already holds in feature ``other_fid``."""
    return ValidationError(
        f"{value!r} is already used by feature {other_fid}; {field} must be unique",
        layer=layer.id,
        field=field,
        value=value,
        row=row,
    )


def attachment_record(row: tuple) -> dict[str, Any]:
    """An attachment record from a row of ATTACHMENT_FIELDS, in that order."""
    from geo.stores.base import ATTACHMENT_FIELDS

    rec = dict(zip(ATTACHMENT_FIELDS, row, strict=True))
    rec["id"], rec["fid"], rec["size"] = int(rec["id"]), int(rec["fid"]), int(rec["size"])
    for k in ("lon", "lat"):
        rec[k] = None if rec[k] is None else float(rec[k])
    return rec


def attachment_history(record: dict[str, Any]) -> dict[str, Any]:
    """What a history row keeps of an attachment: its record (no bytes), under one key so
    that the history's feature diffs see no property change."""
    return {"attachment": {k: json_value(v) for k, v in record.items()}}
