"""CSV (UTF-8 with BOM, a zip for several layers) and the XLSX ledger (台账).
"""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geo.export.columns import Column, _as_dates, _is_lonlat, looks_like_formula, spreadsheet_frame
from geo.features import json_value as _plain
from layers import Layer


def _csv_frame(data: pd.DataFrame, geoms: np.ndarray, layer: Layer, cols: list[Column], crs: str) -> pd.DataFrame:
    out = spreadsheet_frame(data)
    for c in cols:
        if c.type == "bool":
            out[c.name] = out[c.name].map(lambda v: "" if _plain(v) is None else ("true" if v else "false"))
    lonlat = _is_lonlat(crs)
    xname, yname = ("lon", "lat") if lonlat else ("x", "y")
    if layer.geometry == "Point":
        out[xname] = shapely.get_x(geoms) if len(geoms) else []
        out[yname] = shapely.get_y(geoms) if len(geoms) else []
    else:
        out["wkt"] = shapely.to_wkt(geoms, rounding_precision=9 if lonlat else 4) if len(geoms) else []
    return out


def _write_csv(items, path: Path, crs: str) -> None:
    """UTF-8 with BOM (Excel shows Chinese); several layers make a zip, one CSV each.

    Rows end in CRLF (RFC 4180): the writer then quotes a field holding a bare carriage
    return, which would otherwise end the row in Excel and start the next one with
    whatever follows it (``\r=1+1``, a formula).
    """
    if len(items) == 1:
        layer, data, geoms, cols = items[0]
        _csv_frame(data, geoms, layer, cols, crs).to_csv(
            path, index=False, encoding="utf-8-sig", float_format=None, lineterminator="\r\n"
        )
        return
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for layer, data, geoms, cols in items:
            text = _csv_frame(data, geoms, layer, cols, crs).to_csv(index=False, lineterminator="\r\n")
            zf.writestr(f"{layer.id}.csv", "\ufeff" + text)


#: Characters Excel refuses in sheet titles.
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def _sheet_title(layer: Layer, used: set[str]) -> str:
    base = _SHEET_BAD.sub("_", layer.title_zh)[:31]
    name, k = base, 1
    while name in used:
        k += 1
        name = f"{base[:28]}({k})"
    used.add(name)
    return name


def _width(text: str) -> float:
    from unicodedata import east_asian_width

    return sum(2 if east_asian_width(ch) in "WF" else 1 for ch in text)


#: Ledger headers of projected coordinates, easting first: unambiguous for a surveyor.
EASTING_NORTHING_HEADS = ["东坐标Y(米)", "北坐标X(米)"]


def _write_xlsx(items, path: Path, crs: str) -> None:
    """The ledger: one sheet per layer, Chinese headers from the catalog, real dates, a
    frozen and filterable header row, columns sized to their contents."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    wb.properties.title = "河湖一张图 台账"
    wb.properties.creator = "hehu"
    used: set[str] = set()
    lonlat = _is_lonlat(crs)
    for layer, data, geoms, cols in items:
        ws = wb.create_sheet(_sheet_title(layer, used))
        heads = [c.title_zh for c in cols] + _xlsx_geo_heads(layer, lonlat)
        columns = _xlsx_columns(layer, data, geoms, cols)
        _xlsx_layout(ws, heads, columns, cols, len(data))
        _xlsx_rows(ws, heads, columns, cols)
    if not items:
        wb.create_sheet("空")
    wb.save(path)


def _xlsx_geo_heads(layer: Layer, lonlat: bool) -> list[str]:
    """Headers of the two coordinate columns (a representative point for lines, areas)."""
    point = layer.geometry == "Point"
    if lonlat:
        return ["经度", "纬度"] if point else ["代表点经度", "代表点纬度"]
    # Chinese surveying calls the northing X and the easting Y (the reverse of a
    # plot's x/y): the headers say which is which, easting first as in lon/lat.
    return EASTING_NORTHING_HEADS if point else [f"代表点{h}" for h in EASTING_NORTHING_HEADS]


def _xlsx_columns(layer: Layer, data: pd.DataFrame, geoms: np.ndarray, cols: list[Column]) -> list[list[Any]]:
    """The sheet's values column by column: real dates, booleans as 是/否, then x and y."""
    pts = geoms if layer.geometry == "Point" else (shapely.point_on_surface(geoms) if len(geoms) else geoms)
    xs = shapely.get_x(pts) if len(pts) else np.array([])
    ys = shapely.get_y(pts) if len(pts) else np.array([])
    columns: list[list[Any]] = []
    for c in cols:
        values = data[c.name]
        if c.type == "date":
            columns.append(_as_dates(values))
        elif c.type == "bool":
            columns.append([None if _plain(v) is None else ("是" if v else "否") for v in values.tolist()])
        else:
            columns.append([_plain(v) for v in values.tolist()])
    columns += [[None if math.isnan(v) else float(v) for v in xs], [None if math.isnan(v) else float(v) for v in ys]]
    return columns


def _xlsx_layout(ws, heads: list[str], columns: list[list[Any]], cols: list[Column], n_rows: int) -> None:
    """Column widths, the frozen header row and the filter over the whole table."""
    from openpyxl.utils import get_column_letter

    # Widths from the header and the first few hundred values, within sensible bounds.
    for j, (h, colvals) in enumerate(zip(heads, columns, strict=True), start=1):
        sample = [_width(str(v)) for v in colvals[:300] if v is not None]
        width = max([_width(h) + 2, *(w + 1 for w in sample)])
        if j > len(cols):
            width = 13
        elif cols[j - 1].type == "date":
            width = max(_width(h) + 2, 12)
        ws.column_dimensions[get_column_letter(j)].width = max(6, min(50, width))
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(heads))}{max(1, n_rows + 1)}"


def _xlsx_rows(ws, heads: list[str], columns: list[list[Any]], cols: list[Column]) -> None:
    """The bold header row, then one row per feature (dates formatted, formula-like text
    kept as text)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill

    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    header = []
    for h in heads:
        cell = WriteOnlyCell(ws, value=h)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(horizontal="center")
        header.append(cell)
    ws.append(header)
    date_cols = [j for j, c in enumerate(cols) if c.type == "date"]
    text_cols = [j for j, c in enumerate(cols) if c.type == "str"]
    for row in zip(*columns, strict=True):
        row = list(row)
        for j in date_cols:
            if row[j] is not None:
                cell = WriteOnlyCell(ws, value=row[j])
                cell.number_format = "yyyy-mm-dd"
                row[j] = cell
        for j in text_cols:
            if looks_like_formula(row[j]):
                # openpyxl writes text starting with "=" as a formula: a description
                # like "=HYPERLINK(...)" would run in Excel. It is text, and stays
                # text (a text cell: Excel never evaluates it, and the value is exact).
                cell = WriteOnlyCell(ws, value=row[j])
                cell.data_type = "s"
                row[j] = cell
        ws.append(row)
