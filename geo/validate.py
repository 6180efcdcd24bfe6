"""Check a feature against its catalog layer before anything is written.

Every write path (the registry API, imports, the HTTP editing API) goes through
:func:`validate_feature`, so a wrong geometry type, a missing required field, a value
outside its enum, a non-number or a point outside the district is refused the same way
everywhere, with the layer, field and value named.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiLineString, MultiPolygon
from shapely.geometry.base import BaseGeometry

from geo.errors import ValidationError
from layers import Field, Layer

#: How far outside the district outline a feature may lie, in metres. The outline is a
#: generalised GCJ-02 trace converted to WGS84, good to a few hundred metres at best.
DISTRICT_TOLERANCE_M = 500.0

_TRUE = {"true", "1", "yes", "y", "是", "t", "✓", "√"}
_FALSE = {"false", "0", "no", "n", "否", "f", "✗", "×"}
_DATE_RE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_DATETIME_RE = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)
#: A time written without a zone is Beijing time (UTC+8), what Chinese labs and
#: automatic stations write.
LOCAL_ZONE = timezone(timedelta(hours=8))


def coerce_instant(value: Any) -> datetime:
    """An aware datetime from a datetime or ISO-like text, or ValueError.

    A zone-less time is Beijing time; a date alone is that day 00:00 UTC (08:00 Beijing),
    so that it stays on the same calendar day in both.
    """
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.replace(tzinfo=LOCAL_ZONE) if value.tzinfo is None else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    m = _DATETIME_RE.match(str(value).strip())
    if not m:
        raise ValueError("expected a date-time as YYYY-MM-DDTHH:MM[:SS][Z|+08:00]")
    y, mo, d, hh, mi, ss, frac, zone = m.groups()
    if hh is None:
        tz: timezone = timezone.utc
        hh = mi = "0"
    elif zone is None:
        tz = LOCAL_ZONE
    elif zone in ("Z", "z"):
        tz = timezone.utc
    else:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    micro = int((frac or "0").ljust(6, "0"))
    return datetime(int(y), int(mo), int(d), int(hh), int(mi), int(ss or 0), micro, tzinfo=tz)


def format_instant(moment: datetime) -> str:
    """``2021-03-15T01:30:00.000Z``: UTC, milliseconds, as GDAL writes GeoPackage DATETIME."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"

_ACCEPTED = {
    "Point": {"Point"},
    "LineString": {"LineString", "MultiLineString"},
    "Polygon": {"Polygon", "MultiPolygon"},
    "Geometry": {
        "Point",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "MultiPoint",
    },
}


def is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def coerce_value(field: Field, value: Any, layer: str, row: int | None = None) -> Any:
    """The value in the field's type, or a ValidationError saying why it cannot be."""
    if is_missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()

    def bad(msg: str | None = None, **kw: Any) -> ValidationError:
        return ValidationError(msg, layer=layer, field=field.name, value=value, row=row, **kw)

    t = field.type
    if t == "str":
        out: Any = value.strip() if isinstance(value, str) else str(value)
        if isinstance(value, float) and value.is_integer():
            out = str(int(value))  # 12345.0 from a spreadsheet is the code "12345"
        if field.max_length is not None and len(out) > field.max_length:
            raise bad(f"text of {len(out)} characters; at most {field.max_length}")
    elif t == "int":
        if isinstance(value, bool):
            raise bad("expected a whole number, got a true/false value")
        try:
            f = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
        except (ValueError, OverflowError):
            raise bad("expected a whole number") from None
        if not math.isfinite(f) or not f.is_integer():
            raise bad("expected a whole number")
        out = value if isinstance(value, int) else int(f)
        if not -(2**63) <= out < 2**63:  # SQLite INTEGER is 64-bit
            raise bad("whole number out of range")
    elif t == "float":
        if isinstance(value, bool):
            raise bad("expected a number, got a true/false value")
        try:
            out = float(str(value).strip().replace(",", "")) if isinstance(value, str) else float(value)
        except (TypeError, ValueError, OverflowError):
            raise bad("expected a number") from None
        if not math.isfinite(out):
            raise bad("expected a finite number")
    elif t == "bool":
        if isinstance(value, bool):
            out = value
        elif isinstance(value, (int, float)) and value in (0, 1):
            out = bool(value)
        else:
            s = str(value).strip().lower()
            if s in _TRUE:
                out = True
            elif s in _FALSE:
                out = False
            else:
                raise bad("expected true/false (是/否)")
    elif t == "date":
        if isinstance(value, datetime):
            out = value.date().isoformat()
        elif isinstance(value, date):
            out = value.isoformat()
        else:
            m = _DATE_RE.match(str(value).strip())
            if not m:
                raise bad(key="validate.date")
            try:
                out = date(int(m[1]), int(m[2]), int(m[3])).isoformat()
            except ValueError:
                raise bad(key="validate.real_date") from None
    elif t == "datetime":
        try:
            out = format_instant(coerce_instant(value))
        except (ValueError, OverflowError):
            raise bad("not a real date-time (YYYY-MM-DDTHH:MM:SSZ; no zone means Beijing time)") from None
    else:  # pragma: no cover - the catalog loader rejects other types
        raise bad(f"unknown field type {t}")
    if field.enum is not None and out not in field.enum:
        # Accept the English label too, and store the Chinese value.
        by_en = {v.lower(): k for k, v in (field.enum_en or {}).items()}
        key = str(out).strip().lower()
        if key in by_en:
            return by_en[key]
        raise bad(
            key="validate.enum",
            params={"allowed_zh": "、".join(field.enum), "allowed_en": ", ".join(field.enum)},
        )
    return out


def coerce_geometry(layer: Layer, geom: Any, row: int | None = None) -> BaseGeometry:
    """The geometry in the layer's storage form (multi for lines and polygons)."""
    if isinstance(geom, dict):
        try:
            geom = shapely.geometry.shape(geom)
        except Exception as exc:  # noqa: BLE001 - shapely raises several kinds
            raise ValidationError(key="validate.geojson_malformed", params={"reason": str(exc)}, layer=layer.id, field="geometry", row=row) from None
    if isinstance(geom, str):
        try:
            geom = shapely.from_wkt(geom)
        except Exception:  # noqa: BLE001
            raise ValidationError(key="validate.wkt_malformed", layer=layer.id, field="geometry", value=geom, row=row) from None
    if geom is None or not isinstance(geom, BaseGeometry):
        raise ValidationError(key="validate.geometry_required", layer=layer.id, field="geometry", row=row)
    if geom.is_empty:
        raise ValidationError(key="validate.geometry_empty", layer=layer.id, field="geometry", row=row)
    gtype = geom.geom_type
    if gtype not in _ACCEPTED[layer.geometry]:
        raise ValidationError(
            key="validate.geometry_type",
            params={"expected": layer.geometry},
            layer=layer.id,
            field="geometry",
            value=gtype,
            row=row,
        )
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise ValidationError(key="validate.coordinates_not_finite", layer=layer.id, field="geometry", row=row)
    if (np.abs(coords[:, 0]) > 180).any() or (np.abs(coords[:, 1]) > 90).any():
        raise ValidationError(
            key="validate.coordinates_not_degrees",
            layer=layer.id,
            field="geometry",
            value=f"{coords[0, 0]:.3f},{coords[0, 1]:.3f}",
            row=row,
        )
    if shapely.has_z(geom):
        geom = shapely.force_2d(geom)
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise ValidationError(
            key="validate.geometry_invalid",
            params={"reason": reason},
            layer=layer.id,
            field="geometry",
            row=row,
        )
    if layer.geometry == "LineString" and gtype == "LineString":
        geom = MultiLineString([geom])
    elif layer.geometry == "Polygon" and gtype == "Polygon":
        geom = MultiPolygon([geom])
    return geom


def validate_properties(
    layer: Layer, properties: dict[str, Any], *, partial: bool = False, row: int | None = None
) -> dict[str, Any]:
    """Coerced properties; ``partial`` (an update) skips required fields not given."""
    unknown = [k for k in properties if not layer.has_field(k)]
    if unknown:
        raise ValidationError(
            key="validate.unknown_fields",
            params={"unknown": ", ".join(map(str, unknown)), "fields": ", ".join(layer.field_names)},
            layer=layer.id,
            field=str(unknown[0]),
            row=row,
        )
    out = {}
    for f in layer.fields:
        if f.name not in properties:
            if f.required and not partial:
                raise ValidationError(key="validate.required", layer=layer.id, field=f.name, row=row)
            continue
        value = coerce_value(f, properties[f.name], layer.id, row)
        if value is None and f.required:
            raise ValidationError(key="validate.required_nonempty", layer=layer.id, field=f.name, row=row)
        out[f.name] = value
    return out


def check_inside(
    layer: Layer,
    geom: BaseGeometry,
    district_metric: BaseGeometry | None,
    row: int | None = None,
) -> None:
    """Refuse a geometry lying beyond the district outline (plus the tolerance)."""
    if district_metric is None:
        return
    from geo.crs import to_metric

    gm = to_metric(geom)
    if shapely.covers(district_metric, gm):
        return
    outside = gm.difference(district_metric)
    sample = shapely.get_coordinates(geom)[0]
    raise ValidationError(
        key="validate.outside_district",
        params={
            "tolerance": f"{DISTRICT_TOLERANCE_M:.0f}",
            "amount": f"{outside.area if outside.area else outside.length:.0f}",
            "unit": "m²" if outside.area else "m",
        },
        layer=layer.id,
        field="geometry",
        value=f"{sample[0]:.6f},{sample[1]:.6f}",
        row=row,
    )


def validate_feature(
    layer: Layer,
    properties: dict[str, Any],
    geometry: Any,
    *,
    district_metric: BaseGeometry | None = None,
    partial: bool = False,
    row: int | None = None,
) -> tuple[dict[str, Any], BaseGeometry | None]:
    """Coerced (properties, geometry) ready to store, or a ValidationError."""
    props = validate_properties(layer, properties, partial=partial, row=row)
    geom = None
    if geometry is None and layer.geometry_optional:
        return props, None
    if geometry is not None or not partial:
        geom = coerce_geometry(layer, geometry, row=row)
        check_inside(layer, geom, district_metric, row=row)
    return props, geom
