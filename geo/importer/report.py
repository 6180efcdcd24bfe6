"""The import's options and its report: every problem by row (or feature), field and value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geo.errors import HehuError


class ImportFileError(HehuError):
    """The file as a whole cannot be imported (unreadable, unsafe, no usable CRS...)."""

    code = "bad-import-file"


@dataclass
class ImportOptions:
    """What ``hehu import`` and the upload form let a person choose."""

    crs: str | None = None
    encoding: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    update: bool = False
    skip_invalid: bool = False
    dry_run: bool = False
    strict: bool = False
    source_layer: str | None = None
    rejects: Path | None = None


@dataclass
class Problem:
    """One thing wrong (or repaired) in one row: where, which field, which value, why."""

    row: int | None
    field: str | None
    value: Any
    message: str
    severity: str = "error"
    #: The message in Chinese, for the upload page, when the check has one.
    message_zh: str | None = None

    def to_dict(self) -> dict[str, Any]:
        value = self.value
        if value is not None and not isinstance(value, (str, int, float, bool)):
            value = str(value)
        if isinstance(value, float) and not np.isfinite(value):
            value = str(value)
        if isinstance(value, str):
            value = value[:120]
        return {
            "row": self.row,
            "field": self.field,
            "value": value,
            "message": self.message,
            "severity": self.severity,
        }

    def __str__(self) -> str:
        return self.describe()

    def describe(self, row_label: str = "row") -> str:
        """``row 3, field category, value '乱放': ...`` (``feature 3`` for vector files)."""
        where = [f"{row_label} {self.row}" if self.row is not None else "file"]
        if self.field:
            where.append(f"field {self.field}")
        if self.value is not None and self.value != "":
            where.append(f"value {str(self.value)[:60]!r}")
        tag = "" if self.severity == "error" else f"{self.severity}: "
        return f"{', '.join(where)}: {tag}{self.message}"


@dataclass
class ImportReport:
    """Everything an import found and did."""

    source: str
    layer: str
    format: str = ""
    crs: str | None = None
    encoding: str | None = None
    rows: int = 0
    row_label: str = "feature"
    mapping: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    rejected: list[int] = field(default_factory=list)
    fids: list[int] = field(default_factory=list)
    written: bool = False
    dry_run: bool = False
    skip_invalid: bool = False
    rejects_path: str | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != "error"]

    @property
    def ok(self) -> bool:
        """No errors at all (a dry run that would write everything, or a clean import)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "layer": self.layer,
            "format": self.format,
            "crs": self.crs,
            "encoding": self.encoding,
            "rows": self.rows,
            "row_label": self.row_label,
            "mapping": self.mapping,
            "ignored": self.ignored,
            "ok": self.ok,
            "written": self.written,
            "dry_run": self.dry_run,
            "added": self.added,
            "updated": self.updated,
            "rejected": self.rejected,
            "fids": self.fids,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "problems": [p.to_dict() for p in self.problems],
            "hints": self.hints,
            "notes": self.notes,
            "rejects_path": self.rejects_path,
        }

    def text(self) -> str:
        """The report as a person reads it on a terminal."""
        head = (
            f"{self.source} -> {self.layer}: {self.format}, {self.rows} {self.row_label}(s), "
            f"CRS {self.crs or '?'}" + (f", encoding {self.encoding}" if self.encoding else "")
        )
        lines = [head]
        if self.mapping:
            lines.append("columns: " + ", ".join(f"{s} -> {d}" for s, d in self.mapping.items()))
        if self.ignored:
            lines.append("ignored columns (no matching field; use --map SRC=FIELD): " + ", ".join(self.ignored))
        lines += [f"note: {n}" for n in self.notes]
        if self.problems:
            lines.append(f"problems ({len(self.errors)} error(s), {len(self.warnings)} warning(s)):")
            lines += [f"  {p.describe(self.row_label)}" for p in self.problems]
        lines += [f"hint: {h}" for h in self.hints]
        lines.append("result: " + self.summary())
        return "\n".join(lines)

    def summary(self, lang: str = "en") -> str:
        """The outcome in a line; ``lang="zh"`` for the upload page (the CLI prints English)."""
        if lang == "zh":
            return _summary_zh(self)
        if self.dry_run:
            verdict = "dry run, nothing written"
            counts = f"add {self.added}, update {self.updated}"
            if self.errors and not self.skip_invalid:
                return (
                    f"{verdict}; {len(self.errors)} error(s) in {len(self.rejected)} {self.row_label}(s) would refuse "
                    f"the whole import (without them it would {counts})"
                )
            return f"{verdict}; would {counts}, reject {len(self.rejected)} {self.row_label}(s)"
        if not self.written:
            return (
                f"nothing written: {len(self.errors)} error(s); the import is all-or-nothing "
                "(fix them, or --skip-invalid to import the valid rows)"
            )
        out = f"added {self.added}, updated {self.updated}"
        if self.rejected:
            out += f", rejected {len(self.rejected)} {self.row_label}(s)"
            if self.rejects_path:
                out += f" (written to {self.rejects_path})"
        return out


def _rows_word(report: ImportReport) -> str:
    return "行" if report.row_label == "row" else "个要素"


def _summary_zh(report: ImportReport) -> str:
    """The outcome line in Chinese, from geo/messages/importer.yaml."""
    from geo.i18n import message

    unit = _rows_word(report)
    counts = {"added": report.added, "updated": report.updated, "rejected": len(report.rejected), "unit": unit}
    if report.dry_run:
        if report.errors and not report.skip_invalid:
            return message("import.dry_refused", "zh", errors=len(report.errors), **counts)
        return message("import.dry_ok", "zh", **counts)
    if not report.written:
        return message("import.refused", "zh", errors=len(report.errors))
    out = message("import.done", "zh", **counts)
    if report.rejected:
        out += message("import.rejected", "zh", **counts)
    return out

