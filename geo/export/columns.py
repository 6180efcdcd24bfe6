"""Frames ready for a writer: the columns written (catalog fields in order, then query
columns), geometries in the target CRS, values as shown and as data, and text made
inert for spreadsheets.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.crs import STORAGE_CRS, normalize_crs, transform_geometry
from geo.derived import derived_column
from geo.export.options import EXTRA_COLUMNS
from geo.features import json_value as _plain
from layers import Layer


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    title_zh: str
    title_en: str


def _columns(layer: Layer, gdf: gpd.GeoDataFrame) -> list[Column]:
    """The columns written: catalog fields in catalog order, then query columns present."""
    cols = [Column(f.name, f.type, f.title_zh, f.title_en) for f in layer.fields]
    cols += [Column(k, *v) for k, v in EXTRA_COLUMNS.items() if k in gdf.columns]
    return cols


def _prepared(layer: Layer, gdf: gpd.GeoDataFrame, crs: str) -> tuple[pd.DataFrame, np.ndarray, list[Column]]:
    """Attribute table (missing catalog fields as nulls) and geometries in ``crs``."""
    if "fid" in gdf.columns:
        gdf = gdf.set_index("fid")
    cols = _columns(layer, gdf)
    data = pd.DataFrame(index=gdf.index)
    for c in cols:
        data[c.name] = gdf[c.name] if c.name in gdf.columns else pd.Series(None, index=gdf.index, dtype=object)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    src = gdf.crs.to_string() if gdf.crs is not None else STORAGE_CRS
    src = normalize_crs(src) if src else STORAGE_CRS
    if len(geoms) and src != crs:
        geoms = transform_geometry(geoms, src, crs)
    return data, geoms, cols


def _as_dates(values: pd.Series) -> list[dt.date | None]:
    out = []
    for v in values.tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT or v is pd.NA:
            out.append(None)
        elif isinstance(v, dt.datetime):
            out.append(v.date())
        elif isinstance(v, dt.date):
            out.append(v)
        else:
            out.append(dt.date.fromisoformat(str(v)[:10]))
    return out


def _geometry_type_name(layer: Layer) -> str:
    return {"Point": "Point", "LineString": "MultiLineString", "Polygon": "MultiPolygon"}.get(
        layer.geometry, "Unknown"
    )


def _is_lonlat(crs: str) -> bool:
    return crs in (STORAGE_CRS, "EPSG:4490", "gcj02", "bd09")


def _file_crs(crs: str) -> str:
    """The CRS recorded in a file: GCJ-02/BD-09 have no EPSG code, so WGS84 axes are declared."""
    return STORAGE_CRS if crs in ("gcj02", "bd09") else crs


def style_values(layer: Layer, data: pd.DataFrame) -> pd.Series:
    """The value of the style's ``by`` field per feature, as catalog style keys (strings).

    A ``by`` naming a derived field (``meets_target: latest_class <= target_class``) is
    computed from its expression.
    """
    by = layer.style.by
    if by is None:
        return pd.Series("", index=data.index, dtype=object)
    if by in data.columns:
        col = data[by]
    elif by in layer.derived:
        col = derived_column(layer, data, by)
    else:
        col = pd.Series(None, index=data.index, dtype=object)
    return col.map(lambda v: "" if _plain(v) is None else str(_plain(v)))


def _display(col: Column, value: Any) -> str:
    v = _plain(value)
    if v is None:
        return ""
    if col.type == "bool":
        return "是" if v else "否"
    if isinstance(v, float):
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return str(v)


def _data_text(col: Column, value: Any) -> str:
    """A value as written in ExtendedData: full precision, booleans as 是/否."""
    v = _plain(value)
    if v is None:
        return ""
    if col.type == "bool":
        return "是" if v else "否"
    return repr(v) if isinstance(v, float) else str(v)


#: What makes a spreadsheet (Excel, WPS, LibreOffice) read a cell as a formula, or
#: split it: ``=HYPERLINK(…)``, ``+cmd|…``, ``-2+3``, ``@SUM(…)``, and a tab or carriage
#: return in front of them (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: Any) -> bool:
    """Whether a spreadsheet would run ``value`` (text) as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def spreadsheet_text(value: Any) -> Any:
    """``value`` made inert for a spreadsheet: formula-like text gets a leading ``'``.

    Every tabular text output (CSV exports, the import's rejected rows, the query CSV)
    passes its text cells through here. The apostrophe is what Excel itself shows for
    "text that looks like a formula"; a phone number written ``+86…`` therefore reads
    ``'+86…`` in a CSV. The XLSX ledger keeps the text exact and stores such cells as
    text instead (see :func:`_write_xlsx`). Non-text values pass unchanged.

    >>> spreadsheet_text('=HYPERLINK("http://x")'), spreadsheet_text("丹金溧漕河"), spreadsheet_text(-3)
    ('\\'=HYPERLINK("http://x")', '丹金溧漕河', -3)
    """
    return "'" + value if looks_like_formula(value) else value


def spreadsheet_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell passed through :func:`spreadsheet_text`
    (column names too), vectorised over the text columns."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if not (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_datetime64_any_dtype(col.dtype)):
            out[name] = col.astype(object).map(spreadsheet_text)
    out.columns = [spreadsheet_text(str(c)) for c in out.columns]
    return out
