"""The Shapefile writer: a zip of one Shapefile per layer and geometry family, with
dBASE field names and text cut to their limits.
"""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo.export.columns import Column, _file_crs, spreadsheet_text
from geo.export.gpkg import _arrow_table
from geo.export.options import DBF_NAME_LIMIT


def shapefile_field_names(names: Sequence[str], limit: int = DBF_NAME_LIMIT) -> dict[str, str]:
    """A collision-free mapping of field names to at most ``limit`` characters.

    Names that fit are kept. Longer names are cut to ``limit``; when the cut name is
    taken (case-insensitively, as dBASE compares), the name is cut shorter and a
    number appended: ``target_class`` -> ``target_cla``, a second ``target_clb...``
    -> ``target_c_1``.

    >>> shapefile_field_names(["code", "mechanism_on", "mechanism_one"])
    {'code': 'code', 'mechanism_on': 'mechanism_', 'mechanism_one': 'mechanis_1'}
    """
    taken = {n.lower() for n in names if len(n) <= limit}
    out: dict[str, str] = {}
    for n in names:
        if len(n) <= limit:
            out[n] = n
            continue
        cand = n[:limit]
        k = 0
        while cand.lower() in taken:
            k += 1
            suffix = f"_{k}"
            cand = n[: limit - len(suffix)] + suffix
        taken.add(cand.lower())
        out[n] = cand
    return out


_FAMILIES = {"Point": "point", "LineString": "line", "Polygon": "polygon"}
#: Geometry family by shapely type id + 1 (-1 is a missing geometry).
_TYPE_FAMILY = np.array(["other", "point", "line", "line", "polygon", "point", "line", "polygon", "other"])
_FAMILY_TYPES = {"point": "Point", "line": "MultiLineString", "polygon": "MultiPolygon"}


#: dBASE text fields hold at most 254 bytes.
DBF_TEXT_BYTES = 254


def _cut_dbf_text(data: pd.DataFrame, cols: list[Column]) -> tuple[pd.DataFrame, int]:
    """Text cut to the dBASE limit at a character boundary, and how many values were cut
    (GDAL would cut them too, mid-character and with a warning only)."""
    cut = 0
    for c in cols:
        if c.type != "str" or not len(data):
            continue
        col = data[c.name]
        # A character is at most 4 bytes in UTF-8: only longer strings can overflow.
        maybe = col.map(lambda v: isinstance(v, str) and len(v) > DBF_TEXT_BYTES // 4)
        if not maybe.any():
            continue
        long = col[maybe].map(lambda v: len(v.encode("utf-8")) > DBF_TEXT_BYTES)
        idx = long[long].index
        if len(idx):
            data = data.copy() if cut == 0 else data
            data.loc[idx, c.name] = col[idx].map(
                lambda v: v.encode("utf-8")[:DBF_TEXT_BYTES].decode("utf-8", "ignore")
            )
            cut += len(idx)
    return data, cut


def _write_shp(items, path: Path, crs: str) -> list[str]:
    """A zip of one Shapefile per layer and geometry family, with ``fieldmap.csv``."""
    import pyogrio

    notes = []
    fieldmap_rows = []
    with tempfile.TemporaryDirectory(prefix="hehu-shp-") as tmp, zipfile.ZipFile(
        path, "w", compression=zipfile.ZIP_DEFLATED
    ) as zf:
        for layer, data, geoms, cols in items:
            names = shapefile_field_names([c.name for c in cols])
            data, cut = _cut_dbf_text(data, cols)
            if cut:
                notes.append(
                    f"{layer.id}: {cut} text values longer than the Shapefile limit of "
                    f"{DBF_TEXT_BYTES} bytes were cut; gpkg or geojson keep them whole"
                )
            kinds = _TYPE_FAMILY[shapely.get_type_id(geoms) + 1] if len(geoms) else np.array([], dtype=str)
            if layer.geometry in ("Point", "LineString", "Polygon"):
                families = [_FAMILIES[layer.geometry]]
            else:
                families = sorted(set(kinds.tolist()) - {"other"}) or ["polygon"]
            for fam in families:
                stem = layer.id if len(families) == 1 else f"{layer.id}_{fam}"
                mask = kinds == fam if len(kinds) else np.zeros(0, dtype=bool)
                part = geoms[mask]
                if fam in ("line", "polygon") and len(part):
                    part = shapely.force_2d(part)
                table = _arrow_table(data[mask], part, cols, names)
                shp = Path(tmp) / f"{stem}.shp"
                pyogrio.write_arrow(
                    table,
                    shp,
                    driver="ESRI Shapefile",
                    geometry_name="geometry",
                    geometry_type=_FAMILY_TYPES[fam],
                    crs=_file_crs(crs),
                    encoding="UTF-8",
                )
                for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
                    f = shp.with_suffix(ext)
                    if f.exists():
                        zf.write(f, f.name)
                for c in cols:
                    fieldmap_rows.append([stem + ".shp", layer.id, c.name, names[c.name], c.title_zh, c.title_en, c.type])
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["file", "layer", "field", "shp_field", "title_zh", "title_en", "type"])
        w.writerows([[spreadsheet_text(v) for v in r] for r in fieldmap_rows])
        zf.writestr("fieldmap.csv", "\ufeff" + buf.getvalue())
    return notes
