"""KML (one folder per layer, styled like the map, balloons from the catalog's popup
fields) and KMZ (the KML plus each feature's photos in ``files/…``).
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry.base import BaseGeometry

from geo.attachments import file_of
from geo.export.columns import Column, _data_text, _display, style_values
from geo.export.media import _code, _current, _order, feature_file_names, records_by_fid
from geo.export.options import ExportError
from geo.features import json_value as _plain
from layers import Layer


def _kml_color(hex_rgb: str, alpha: float = 1.0) -> str:
    """``#rrggbb`` -> KML's ``aabbggrr``."""
    h = hex_rgb.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    a = max(0, min(255, round(alpha * 255)))
    return f"{a:02x}{h[4:6]}{h[2:4]}{h[0:2]}".lower()


def _kml_description(layer: Layer, cols: list[Column], row: list[Any]) -> str:
    """The balloon: the catalog's popup fields as a small table (escaped for XML)."""
    from html import escape

    shown = set(layer.popup) or {c.name for c in cols}
    cells = "".join(
        f"<tr><th align='left'>{escape(c.title_zh)}</th><td>{escape(_display(c, v))}</td></tr>"
        for c, v in zip(cols, row, strict=True)
        if c.name in shown or c.name == "distance_m"
        if _plain(v) is not None
    )
    return escape(f"<table>{cells}</table>", quote=False)


_KML_TYPES = {"int": "int", "float": "double"}


def _kml_coords(seq: np.ndarray) -> str:
    return " ".join(f"{x:.9f},{y:.9f}" for x, y in seq[:, :2])


def _kml_geometry(geom: BaseGeometry) -> str:
    """KML geometry markup: multi-part geometries as MultiGeometry."""
    t = geom.geom_type
    if t == "Point":
        return f"<Point><coordinates>{geom.x:.9f},{geom.y:.9f}</coordinates></Point>"
    if t == "LineString":
        return f"<LineString><tessellate>1</tessellate><coordinates>{_kml_coords(np.asarray(geom.coords))}</coordinates></LineString>"
    if t == "Polygon":
        inner = "".join(
            f"<innerBoundaryIs><LinearRing><coordinates>{_kml_coords(np.asarray(r.coords))}</coordinates></LinearRing></innerBoundaryIs>"
            for r in geom.interiors
        )
        return (
            "<Polygon><outerBoundaryIs><LinearRing><coordinates>"
            f"{_kml_coords(np.asarray(geom.exterior.coords))}</coordinates></LinearRing></outerBoundaryIs>{inner}</Polygon>"
        )
    parts = getattr(geom, "geoms", None)
    if parts is None:
        raise ExportError(key="export.kml_geometry", params={"type": t})
    if len(parts) == 1:
        return _kml_geometry(parts[0])
    return "<MultiGeometry>" + "".join(_kml_geometry(p) for p in parts) + "</MultiGeometry>"


def _kml_style(style_id: str, layer: Layer, value: str) -> str:
    s = layer.style
    color = s.color_for(value) if value else s.color
    fill = s.fill_color if (s.fill_color and not s.by) else color
    return (
        f'<Style id="{style_id}">'
        f"<IconStyle><color>{_kml_color(color)}</color><scale>0.9</scale><Icon><href>"
        "http://maps.google.com/mapfiles/kml/shapes/placemark_circle.png</href></Icon></IconStyle>"
        f"<LineStyle><color>{_kml_color(color)}</color><width>{max(1.0, s.weight):g}</width></LineStyle>"
        f"<PolyStyle><color>{_kml_color(fill, s.fill_opacity)}</color><outline>1</outline></PolyStyle>"
        "</Style>"
    )


def _write_kml(items, path: Path, crs: str, balloon=None) -> None:
    """A KML 2.2 document: a folder per layer; placemarks named by the catalog label
    field, with a Chinese balloon of the popup fields, a shared style per ``by`` value
    (the catalog colours) and every field as typed ExtendedData (one Schema per layer,
    which carries the Chinese field titles once).

    The KML 2.2 schema orders a Document's children: its styles, then its Schemas,
    then its features; so every layer's styles and schema are written before the first
    folder (the tests validate the file against the OGC schema).

    ``balloon(layer, fid)``, when given, returns more balloon HTML (the KMZ's photos).
    """
    from html import escape

    by_values = [style_values(layer, data).tolist() for layer, data, _g, _c in items]
    style_ids = [
        {v: f"{layer.id}-{i}" for i, v in enumerate(dict.fromkeys(values or [""]))}
        for (layer, *_rest), values in zip(items, by_values, strict=True)
    ]
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">'
                 "<Document><name>河湖一张图导出</name>\n")
        for (layer, *_rest), ids in zip(items, style_ids, strict=True):
            fh.write("".join(_kml_style(sid, layer, v) for v, sid in ids.items()) + "\n")
        for layer, _data, _geoms, cols in items:
            fields = "".join(
                f'<SimpleField name="{c.name}" type="{_KML_TYPES.get(c.type, "string")}">'
                f"<displayName>{escape(c.title_zh)}</displayName></SimpleField>"
                for c in cols
            )
            fh.write(f'<Schema name="{layer.id}" id="{layer.id}">{fields}</Schema>\n')
        for (layer, data, geoms, cols), values, ids in zip(items, by_values, style_ids, strict=True):
            fh.write(f"<Folder><name>{escape(layer.title_zh)}</name><description>{escape(layer.title_en)}</description>\n")
            label_col = layer.label_field if layer.label_field in data.columns else layer.id_field
            labels = data[label_col].tolist()
            rows = data.to_numpy(dtype=object).tolist()
            chunk = []
            for fid, label, value, row, geom in zip(data.index, labels, values, rows, geoms, strict=True):
                if geom is None or geom.is_empty:
                    continue
                extra = escape(balloon(layer, fid), quote=False) if balloon else ""
                extended = "".join(
                    f'<SimpleData name="{c.name}">{escape(_data_text(c, v), quote=False)}</SimpleData>'
                    for c, v in zip(cols, row, strict=True)
                    if _plain(v) is not None
                )
                chunk.append(
                    f"<Placemark><name>{escape('' if _plain(label) is None else str(label), quote=False)}</name>"
                    f"<description>{_kml_description(layer, cols, row)}{extra}</description>"
                    f"<styleUrl>#{ids[value]}</styleUrl>"
                    f'<ExtendedData><SchemaData schemaUrl="#{layer.id}">{extended}</SchemaData></ExtendedData>'
                    f"{_kml_geometry(geom)}</Placemark>\n"
                )
                if len(chunk) >= 2000:
                    fh.write("".join(chunk))
                    chunk = []
            fh.write("".join(chunk) + "</Folder>\n")
        fh.write("</Document></kml>\n")


# -- KMZ -------------------------------------------------------------------------------------


def write_kmz(items, path: Path, crs: str) -> list[str]:
    """``doc.kml`` plus ``files/…``: the KML export with each feature's photos in its balloon."""
    from html import escape

    registry, _ = _current()
    files: dict[str, tuple[int, bool]] = {}  # archive name -> (attachment id, thumbnail?)
    balloons: dict[tuple[str, int], str] = {}
    for layer, data, _geoms, _cols in items:
        for fid, records in records_by_fid(registry, layer, data.index).items():
            records = _order(records)
            names = feature_file_names(_code(layer, data, fid), records)
            parts = []
            for rec, name in zip(records, names, strict=True):
                arc = f"files/{layer.id}/{name}"
                files[arc] = (rec["id"], False)
                label = escape(name.rsplit(".", 1)[0])
                if rec["content_type"].startswith("image/"):
                    parts.append(f'<div><img src="{escape(arc)}" width="320"/><br/>{label}</div>')
                else:
                    parts.append(f'<div><a href="{escape(arc)}">{label}</a></div>')
            balloons[(layer.id, int(fid))] = "".join(parts)

    def balloon(layer, fid) -> str:
        return balloons.get((layer.id, int(fid)), "")

    with tempfile.TemporaryDirectory(prefix="hehu-kmz-") as tmp:
        doc = Path(tmp) / "doc.kml"
        _write_kml(items, doc, crs, balloon=balloon)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(doc, "doc.kml")  # first entry: what KMZ readers open
            for arc, (aid, thumb) in files.items():
                found = file_of(registry, aid, thumbnail=thumb)
                if found is not None and found[1] is not None:
                    # Photos are already compressed: stored, not deflated again.
                    zf.writestr(arc, found[1], compress_type=zipfile.ZIP_STORED)
    return [f"{len(files)} attachment file(s) inside"] if files else []
