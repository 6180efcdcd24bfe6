"""The import itself: read, map, check, then write everything in one transaction or nothing."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geo.errors import ValidationError
from geo.i18n import message
from geo.importer.columns import map_columns
from geo.importer.geometry import FIX, FIX_ZH, check_geometries, resolve_crs
from geo.importer.readers import Source, read_source
from geo.importer.report import ImportFileError, ImportOptions, ImportReport, Problem, Said
from geo.importer.rows import check_codes, coerce_rows
from geo.registry import SYSTEM_USER, Registry
from geo.validate import is_missing, validate_feature


def import_file(
    registry: Registry,
    path: str | Path,
    layer_id: str,
    options: ImportOptions | None = None,
    *,
    user: str = SYSTEM_USER,
    source_name: str | None = None,
) -> ImportReport:
    """Read, check and (unless refused or a dry run) write a file into ``layer_id``."""
    options = options or ImportOptions()
    layer = registry.layer(layer_id)
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="hehu-import-") as tmp:
        src = read_source(path, options, layer.id, Path(tmp))
    report = ImportReport(
        source=source_name or path.name,
        layer=layer.id,
        format=src.format,
        encoding=src.encoding,
        rows=len(src.frame),
        row_label=src.row_label,
        dry_run=options.dry_run,
    )
    report.notes += src.notes
    if src.row_label == "row":
        report.notes.append(Said.of("import.note_header_row"))
    rownum = np.arange(len(src.frame)) + 1 + src.row_offset
    bad: dict[int, list[Problem]] = {}

    def problem(
        i: int, fld: str | None, value: Any, message: str, severity: str = "error", message_zh: str | None = None
    ) -> None:
        p = Problem(int(rownum[i]), fld, value, message, severity, message_zh)
        report.problems.append(p)
        if severity == "error":
            bad.setdefault(i, []).append(p)

    for p in src.row_problems:
        problem(p.row, p.field, p.value, p.message, message_zh=p.message_zh)

    # Columns -> fields (entirely empty columns, like LIBKML's unused ones, are not noise).
    frame = src.frame
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    empty_cols = [c for c in columns if frame[c].map(is_missing).all()]
    mapping, ignored = map_columns(columns, layer, options.mapping, skip=src.coord_columns)
    report.mapping = {s: d for s, d in mapping.items()}
    report.ignored = [c for c in ignored if c not in empty_cols]

    # The CRS.
    crs = resolve_crs(src, options, report)
    report.crs = crs

    # Values.
    props_rows = coerce_rows(frame, layer, mapping, problem, update=options.update)

    # Geometries.
    reported = {p.row for p in src.row_problems if p.field == "geometry"}
    geoms = check_geometries(registry, layer, src.geoms, crs, options, problem, reported)

    # Codes: within the file and against the registry.
    updates_for = check_codes(registry, layer, props_rows, options, problem, bad, rownum)

    # Final check through the registry's own validator, for every row still clean.
    adds: list[tuple[dict[str, Any], Any]] = []
    updates: list[tuple[int, dict[str, Any], Any]] = []
    for i, props in enumerate(props_rows):
        if i in bad:
            continue
        fid = updates_for.get(i)
        try:
            clean, geom = validate_feature(layer, props, geoms[i], partial=fid is not None, row=int(rownum[i]))
        except ValidationError as exc:
            problem(i, exc.field, exc.value, exc.message.split(": ", 1)[-1], message_zh=exc.body("zh"))
            continue
        if fid is None:
            adds.append((clean, geom))
        else:
            updates.append((fid, clean, geom))

    report.problems.sort(key=lambda p: (p.row is not None, p.row or 0))
    fixes = Counter(
        (p.message.split(FIX, 1)[1].strip(), (p.message_zh or "").split(FIX_ZH, 1)[-1].strip())
        for p in report.errors if FIX in p.message
    )
    for (fix_en, fix_zh), n in fixes.items():
        unit = {lang: message("import.unit_row" if src.row_label == "row" else "import.unit_feature", lang)
                for lang in ("en", "zh")}
        report.hints.append(Said.pair(message("import.hint_outside", "en", n=n, unit=unit["en"], fix=fix_en),
                                      message("import.hint_outside", "zh", n=n, unit=unit["zh"], fix=fix_zh)))
    report.rejected = sorted(int(rownum[i]) for i in bad)
    report.added, report.updated = len(adds), len(updates)
    report.skip_invalid = options.skip_invalid
    if options.dry_run:
        return report
    if bad and not options.skip_invalid:
        report.added = report.updated = 0
        return report
    if bad and options.skip_invalid:
        report.rejects_path = _write_rejects(src, bad, rownum, options.rejects, path, crs)
    if adds or updates:
        fids = registry.store.add_and_update(layer, adds, updates, user=user)
        report.fids = list(fids)
    report.written = True
    return report


def _write_rejects(src: Source, bad: dict[int, list[Problem]], rownum, target: Path | None, path: Path, crs: str) -> str:
    """The refused rows, with their problems, as a UTF-8 CSV (Excel opens it)."""
    from geo.export import spreadsheet_frame

    idx = sorted(bad)
    frame = src.frame.iloc[idx].copy()
    if not src.coord_columns:
        frame["wkt"] = [None if shapely.is_missing(g) else shapely.to_wkt(g) for g in src.geoms[idx]]
    frame.insert(0, "row", [int(rownum[i]) for i in idx])
    frame["problems"] = ["; ".join(f"{p.field or ''}: {p.message}" for p in bad[i]) for i in idx]
    target = Path(target) if target else path.with_name(path.stem + ".rejects.csv")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # The rejected rows are raw, hostile input: inert in a spreadsheet.
        spreadsheet_frame(frame).to_csv(target, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    except OSError as exc:  # before anything is written to the registry
        raise ImportFileError(key="import_file.cannot_write_rejects", params={"target": str(target), "reason": str(exc.strerror or exc)}) from None
    return str(target)
