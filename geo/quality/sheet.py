"""The report as a text table (the terminal) and as an Excel workbook (offices)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geo.export import atomic_path
from geo.quality.limits import CLASS_COLOURS, CLASS_NAMES, standard
from geo.quality.page import pollutant_text, title


def table_rows(rows: list[dict[str, Any]], lang: str = "zh") -> tuple[list[str], list[list[Any]]]:
    """Headers and cells of the report matrix (classes as Ⅰ…劣Ⅴ, — without data)."""
    months = list(rows[0]["months"]) if rows else []
    if lang == "zh":
        heads = ["编号", "断面", "目标", *[f"{int(m[5:])}月" for m in months], "年度", "总氮", "主要污染物"]
    else:
        heads = ["code", "section", "target", *[m[5:] for m in months], "year", "TN", "main pollutants"]
    out = []
    for r in rows:
        cls = [CLASS_NAMES.get(r["months"][m], "—") if r["months"][m] else "—" for m in months]
        out.append([
            r["code"], r["name"] + ("" if r["counted"] else "*"), CLASS_NAMES.get(r["target_class"], ""), *cls,
            CLASS_NAMES.get(r["annual_class"], "—") if r["annual_class"] else "—",
            CLASS_NAMES.get(r["tn_class"], "") if r["tn_class"] else "",
            pollutant_text(r, lang).replace("\n", ""),
        ])
    return heads, out


def write_report_xlsx(rows: list[dict[str, Any]], path: str | Path, year: int) -> Path:
    """Sheet 水质月报 (the coloured matrix) and sheet 年均值 (means per parameter)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    std = standard()
    wb = Workbook()
    ws = wb.active
    ws.title = "水质月报"
    ws.append([title(year)])
    ws["A1"].font = Font(bold=True, size=14)
    heads, cells = table_rows(rows)
    ws.append(heads)
    for c in ws[2]:
        c.font = Font(bold=True)
        c.alignment = Alignment(horizontal="center")
    months = list(rows[0]["months"]) if rows else []
    for r, line in zip(rows, cells, strict=True):
        ws.append(line)
        classes = [None, None, None, *[r["months"][m] for m in months], r["annual_class"], r["tn_class"], None]
        for j, cls in enumerate(classes, start=1):
            if cls:
                ws.cell(ws.max_row, j).fill = PatternFill("solid", fgColor=CLASS_COLOURS[cls].lstrip("#").upper())
                ws.cell(ws.max_row, j).alignment = Alignment(horizontal="center")
    ws.column_dimensions["B"].width = 22
    ws.column_dimensions[ws.cell(2, len(heads)).column_letter].width = 40
    ws.freeze_panes = "D3"
    means = wb.create_sheet("年均值")
    codes = std.codes
    means.append(["编号", "断面", *[f"{std.parameter(c).zh}({std.parameter(c).unit})" for c in codes], "样品数"])
    for r in rows:
        means.append([r["code"], r["name"], *[r["means"].get(c) for c in codes], r["samples"]])
    path = Path(path)
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return path
