"""Read lab sheets of water-quality results (CSV or XLSX) into clean observations.

Two shapes, as labs send them:

- **long**: one row per parameter, columns ``section, sampled_at, parameter, value[,
  unit][, source][, note]`` or their Chinese names (断面编号, 采样时间, 指标, 数值, 单位,
  来源, 备注);
- **wide**: ``section, sampled_at`` and one column per parameter, named by code (``TP``,
  ``NH3-N``) or Chinese name (总磷, 氨氮), optionally with the unit in brackets
  (``总磷(mg/L)``, ``TP [µg/L]``); an empty cell is "not measured".

Rules, each refused row named by its row in the file (the header is row 1) and column:

- parameters by code or Chinese name; an unknown one is refused with the closest known
  name suggested;
- units: mg/L (mg/l, 毫克/升) as is, µg/L (ug/L, μg/L, 微克/升) divided by 1000; pH takes
  no unit (无量纲); any other unit is refused;
- **detection limits**: ``<0.01`` or ``0.01L`` (the Chinese lab notation) means "not
  detected, detection limit 0.01" and is counted as **half the detection limit** (0.005),
  the rule of 《地表水环境质量评价办法（试行）》(环办〔2011〕22号); the note keeps the
  original text;
- negative concentrations, pH outside 0–14, non-numbers, unknown sections (a code or
  name of the sections layer), times in the future, and the same section, time and
  parameter twice in the file are refused;
- a time without a zone is Beijing time; a date alone is that day 00:00 UTC (08:00
  Beijing); instants are stored in UTC.

Nothing is returned unless every row is good: the caller writes all or nothing.
"""

from __future__ import annotations

import difflib
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from geo.errors import HehuError
from geo.i18n import message
from geo.quality.limits import standard
from geo.validate import coerce_instant, format_instant, is_missing

COLUMNS = {
    "section": ("section", "断面编号", "断面", "断面代码", "section_code", "code", "站点编号"),
    "sampled_at": ("sampled_at", "采样时间", "采样日期", "监测时间", "监测日期", "time", "date", "datetime"),
    "parameter": ("parameter", "指标", "监测项目", "项目", "参数"),
    "value": ("value", "数值", "监测值", "结果", "浓度"),
    "unit": ("unit", "单位"),
    "source": ("source", "来源", "数据来源"),
    "note": ("note", "备注"),
}
MG_L = {"mg/l", "mg/L", "毫克/升", "mg·l-1", "mg l-1", "mg/dm3"}
UG_L = {"µg/l", "μg/l", "ug/l", "微克/升", "µg/L", "μg/L", "ug/L"}
PH_UNITS = {"", "无量纲", "pH", "ph", "-", "/", "dimensionless", "none"}
SOURCE_NAMES = {
    "人工": "人工", "manual": "人工", "手工": "人工", "实验室": "人工", "lab": "人工",
    "自动站": "自动站", "automatic": "自动站", "自动": "自动站", "auto": "自动站", "automatic station": "自动站",
}
_DL = re.compile(r"^\s*(?:<\s*([0-9.]+(?:[eE]-?\d+)?)|([0-9.]+(?:[eE]-?\d+)?)\s*[Ll])\s*$")
_HEADER_UNIT = re.compile(r"^(.*?)\s*[\(（\[【]\s*([^\)）\]】]*)\s*[\)）\]】]\s*$")


class QualityImportError(HehuError):
    """A lab sheet that cannot be imported: names the file, row and column."""

    code = "invalid-observations"


@dataclass
class ParsedSheet:
    """Clean observations (one row each) and what the parse noticed."""

    rows: pd.DataFrame  # section, sampled_at, parameter, value, unit, source, note, row
    shape: str  # "long" or "wide"
    below_detection: int = 0
    converted: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)


def _suggest(value: str, names: list[str], lang: str) -> str:
    hit = difflib.get_close_matches(str(value), names, n=1, cutoff=0.4)
    return message("quality.suggest", lang, name=hit[0]) if hit else ""


def read_table(source: str | Path | bytes, filename: str | None = None, lang: str = "zh") -> pd.DataFrame:
    """The sheet as text cells (XLSX dates kept as datetimes), header on row 1."""
    name = filename or (str(source) if not isinstance(source, bytes) else "upload")
    suffix = Path(name).suffix.lower()
    data = source if isinstance(source, bytes) else None
    if suffix in (".xlsx", ".xlsm"):
        _check_xlsx(source if data is None else data, name)
    try:
        if suffix in (".xlsx", ".xlsm"):
            frame = pd.read_excel(io.BytesIO(data) if data is not None else source, dtype=object, engine="openpyxl")
        elif suffix in (".csv", ".txt"):
            raw = data if data is not None else Path(source).read_bytes()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("gb18030")  # Excel on Chinese Windows saves CSV as GBK
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        else:
            raise QualityImportError(message("quality.file_format", lang, file=Path(name).name), column="file")
    except QualityImportError:
        raise
    except Exception as exc:  # noqa: BLE001 - pandas/openpyxl raise many kinds
        raise QualityImportError(
            message("quality.file_unreadable", lang, file=Path(name).name, reason=str(exc)[:200]), column="file"
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _check_xlsx(source: str | Path | bytes, name: str) -> None:
    """An XLSX is a zip: refuse zip bombs before openpyxl expands it (the importer's limits)."""
    import tempfile

    from geo.importer.zips import check_zip

    if not isinstance(source, bytes):
        check_zip(Path(source))
        return
    with tempfile.TemporaryDirectory(prefix="hehu-quality-") as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(source)
        check_zip(path)


def _find_column(columns: list[str], key: str) -> str | None:
    wanted = {n.lower() for n in COLUMNS[key]}
    for c in columns:
        if c.lower() in wanted:
            return c
    return None


def parse_sheet(
    frame: pd.DataFrame,
    sections: dict[str, str],
    *,
    filename: str = "upload",
    now: datetime | None = None,
    lang: str = "zh",
    default_source: str = "人工",
) -> ParsedSheet:
    """Clean observations from a read sheet, or a ValidationError listing every problem.

    ``sections`` maps every accepted section spelling (code and name) to its code.
    """
    std = standard()
    now = now or datetime.now(timezone.utc)
    cols = list(frame.columns)
    found = {k: _find_column(cols, k) for k in COLUMNS}
    name = Path(filename).name
    if len(frame) == 0:
        raise QualityImportError(message("quality.file_empty", lang, file=name), column="file")
    for key in ("section", "sampled_at"):
        if found[key] is None:
            raise QualityImportError(
                message("quality.missing_column", lang, column=key, accepted=", ".join(COLUMNS[key])), column=key
            )
    long = found["parameter"] is not None and found["value"] is not None
    problems: list[dict[str, Any]] = []

    def problem(row: int, column: str, text: str, value: Any = None) -> None:
        problems.append({"row": row, "column": column, "message": message("quality.row", lang, row=row, column=column, text=text), "value": None if value is None else str(value)})

    # (row, column label, parameter text, value cell, unit text) per observation.
    cells: list[tuple[int, int, str, str, Any, Any]] = []
    known = [c for c in found.values() if c is not None]
    if long:
        unit_col = found["unit"]
        for i, rec in enumerate(frame.to_dict("records")):
            cells.append((i, i + 2, found["value"], rec[found["parameter"]], rec[found["value"]], rec[unit_col] if unit_col else None))
    else:
        param_cols = []
        for c in cols:
            if c in known:
                continue
            m = _HEADER_UNIT.match(c)
            label, unit = (m.group(1), m.group(2)) if m else (c, None)
            code = std.resolve(label)
            if code is None:
                hint = std.suggest(label)
                raise QualityImportError(
                    message("quality.unknown_column", lang, column=c, hint=message("quality.suggest", lang, name=hint) if hint else ""),
                    column=c,
                    value=c,
                    row=1,
                )
            param_cols.append((c, code, unit))
        for i, rec in enumerate(frame.to_dict("records")):
            for c, code, unit in param_cols:
                if is_missing(rec[c]):
                    continue  # not measured
                cells.append((i, i + 2, c, code, rec[c], unit))

    records = frame.to_dict("records")
    out: list[dict[str, Any]] = []
    below = converted = 0
    seen: dict[tuple[str, str, str], int] = {}
    section_names = sorted(set(sections))
    # Per-row checks (section, time, source) once per file row.
    row_info: dict[int, tuple[str | None, str | None, str, str]] = {}
    for i, rec in enumerate(records):
        row = i + 2
        sec_text = "" if is_missing(rec[found["section"]]) else str(rec[found["section"]]).strip()
        section = sections.get(sec_text)
        if section is None:
            problem(row, found["section"], message("quality.unknown_section", lang, value=sec_text, hint=_suggest(sec_text, section_names, lang)), sec_text)
        at_raw = rec[found["sampled_at"]]
        at: str | None = None
        try:
            if is_missing(at_raw):
                raise ValueError
            moment = coerce_instant(at_raw)
            if moment > now:
                problem(row, found["sampled_at"], message("quality.future", lang, value=str(at_raw)), at_raw)
            else:
                at = format_instant(moment)
        except (ValueError, OverflowError):
            problem(row, found["sampled_at"], message("quality.bad_time", lang, value=str(at_raw)), at_raw)
        src = default_source
        if found["source"] and not is_missing(rec[found["source"]]):
            s = str(rec[found["source"]]).strip()
            src = SOURCE_NAMES.get(s) or SOURCE_NAMES.get(s.lower())
            if src is None:
                problem(row, found["source"], message("quality.unknown_source", lang, value=s), s)
                src = default_source
        note = "" if not found["note"] or is_missing(rec[found["note"]]) else str(rec[found["note"]]).strip()
        row_info[i] = (section, at, src, note)

    all_names = sorted(std.aliases())
    for i, row, column, param_text, raw, unit in cells:
        section, at, src, note = row_info[i]
        code = std.resolve(param_text) if not is_missing(param_text) else None
        if code is None:
            text = "" if is_missing(param_text) else str(param_text)
            problem(row, found["parameter"] or column, message("quality.unknown_parameter", lang, value=text, hint=_suggest(text, all_names, lang)), text)
            continue
        p = std.parameter(code)
        notes = [note] if note else []
        if is_missing(raw):
            problem(row, column, message("quality.missing_value", lang))
            continue
        text = str(raw).strip()
        m = _DL.match(text)
        try:
            value = float(m.group(1) or m.group(2)) / 2 if m else float(text.replace(",", ""))
        except ValueError:
            problem(row, column, message("quality.not_a_number", lang, value=text), text)
            continue
        if value != value or value in (float("inf"), float("-inf")):
            problem(row, column, message("quality.not_a_number", lang, value=text), text)
            continue
        unit_text = "" if is_missing(unit) else str(unit).strip()
        if p.range is not None:  # pH
            if unit_text not in PH_UNITS and unit_text.lower() not in PH_UNITS:
                problem(row, found["unit"] or column, message("quality.unknown_unit", lang, value=unit_text, parameter=code, accepted="无量纲"), unit_text)
                continue
            if not 0 <= value <= 14:
                problem(row, column, message("quality.ph_range", lang, value=text), text)
                continue
            stored_unit = "无量纲"
        else:
            if unit_text == "" or unit_text in MG_L or unit_text.lower() in {u.lower() for u in MG_L}:
                pass
            elif unit_text in UG_L or unit_text.lower() in {u.lower() for u in UG_L}:
                notes.append(message("quality.converted", lang, value=text))
                value = value / 1000.0
                converted += 1
            else:
                problem(row, found["unit"] or column, message("quality.unknown_unit", lang, value=unit_text, parameter=code, accepted="mg/L, µg/L"), unit_text)
                continue
            if value < 0:
                problem(row, column, message("quality.negative", lang, value=text), text)
                continue
            stored_unit = "mg/L"
        if m:
            below += 1
            notes.append(f"{text}: " + message("quality.below_detection", lang, limit=m.group(1) or m.group(2)))
        if section is None or at is None:
            continue
        key = (section, at, code)
        if key in seen:
            problem(row, column, message("quality.duplicate_in_file", lang, other=seen[key]))
            continue
        seen[key] = row
        out.append({
            "section": section, "sampled_at": at, "parameter": code, "value": value,
            "unit": stored_unit, "source": src, "note": "; ".join(notes) or None, "row": row,
        })
    if problems:
        raise_problems(problems, name, lang)
    rows = pd.DataFrame(out, columns=["section", "sampled_at", "parameter", "value", "unit", "source", "note", "row"])
    return ParsedSheet(rows, "long" if long else "wide", below, converted)


def raise_problems(problems: list[dict[str, Any]], filename: str, lang: str) -> None:
    """One error naming the first problem and carrying them all (row, column, message)."""
    problems.sort(key=lambda p: (p["row"], p["column"]))
    first = problems[0]
    raise QualityImportError(
        message("quality.problems", lang, file=filename, count=len(problems), first=first["message"]),
        row=first["row"],
        column=first["column"],
        value=first.get("value"),
        problems=problems[:200],
    )

