"""What a collection's properties are, for clients: the JSON Schema of its queryables
(OGC API – Features Part 3) and the field table of its HTML pages, from the catalog.

>>> from layers import load_catalog
>>> schema = queryables_schema(load_catalog()["violations"], "en", "https://example.org/q")
>>> schema["properties"]["status"]["title"], schema["additionalProperties"]
('Status', False)
"""

from __future__ import annotations

from typing import Any

from geo.features import json_value
from layers import Field, Layer


def json_schema_type(f: Field) -> dict[str, Any]:
    """The JSON Schema type of a catalog field."""
    if f.type == "int":
        return {"type": "integer"}
    if f.type == "float":
        return {"type": "number"}
    if f.type == "bool":
        return {"type": "boolean"}
    if f.type == "date":
        return {"type": "string", "format": "date"}
    if f.type == "datetime":
        return {"type": "string", "format": "date-time"}
    return {"type": "string"}


_GEOMETRY_SCHEMAS = {
    "Point": "https://geojson.org/schema/Point.json",
    "LineString": "https://geojson.org/schema/MultiLineString.json",
    "Polygon": "https://geojson.org/schema/MultiPolygon.json",
    "Geometry": "https://geojson.org/schema/Geometry.json",
}


def queryables_schema(layer: Layer, lang: str, schema_id: str) -> dict[str, Any]:
    """JSON Schema of the properties one can filter, sort and select by."""
    props: dict[str, Any] = {}
    for f in layer.fields:
        entry: dict[str, Any] = {"title": f.title(lang), **json_schema_type(f)}
        entry["x-title-zh"] = f.title_zh
        entry["x-title-en"] = f.title_en
        if f.enum:
            entry["enum"] = list(f.enum)
            if f.enum_en:
                entry["x-enum-en"] = dict(f.enum_en)
        if f.description:
            entry["description"] = f.description
        props[f.name] = entry
    props["geometry"] = {"$ref": _GEOMETRY_SCHEMAS.get(layer.geometry, _GEOMETRY_SCHEMAS["Geometry"])}
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": schema_id,
        "type": "object",
        "title": layer.title(lang),
        "properties": props,
        "additionalProperties": False,
    }


def field_rows(layer: Layer, lang: str) -> list[dict[str, Any]]:
    """One row per field: name, title in ``lang``, type and the values it may take."""
    rows = []
    for f in layer.fields:
        values = ""
        if f.enum:
            if lang == "en" and f.enum_en:
                values = ", ".join(f"{k} ({v})" for k, v in f.enum_en.items())
            else:
                values = "、".join(f.enum)
        rows.append({"name": f.name, "title": f.title(lang), "type": f.type, "values": values})
    return rows


def enum_labels(layer: Layer, lang: str) -> dict[str, dict[str, str]]:
    """English labels of each enum field's values (none in Chinese: the values are Chinese)."""
    if lang != "en":
        return {}
    return {f.name: dict(f.enum_en) for f in layer.fields if f.enum_en}


def leaflet_style(layer: Layer) -> dict[str, Any]:
    """The layer's catalog style as the small maps of the HTML pages draw it."""
    s = layer.style
    return {
        "color": s.color,
        "fillColor": s.fill_color or s.color,
        "fillOpacity": s.fill_opacity,
        "weight": s.weight,
        "radius": s.radius,
        "by": s.by,
        "values": s.values,
    }


def display_value(f: Field, value: Any, lang: str) -> str:
    """A property value as an HTML page shows it: yes/no words, enum labels in English."""
    value = json_value(value)
    if value is None:
        return ""
    if f.type == "bool":
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if lang == "en" and f.enum_en and str(value) in f.enum_en:
        return f"{value} ({f.enum_en[str(value)]})"
    return str(value)
