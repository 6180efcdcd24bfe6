"""The import's options and its report: every problem by row (or feature), field and value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geo.errors import HehuError
from geo.i18n import message, normalise_language


class Said(str):
    """A note or hint of the report: its English text (what JSON and logs carry) with its
    Chinese text in ``zh``; both from one ``geo/messages`` key."""

    zh: str

    @classmethod
    def of(cls, key: str, **params: Any) -> Said:
        return cls.pair(message(key, "en", **params), message(key, "zh", **params))

    @classmethod
    def pair(cls, en: str, zh: str) -> Said:
        out = cls(en)
        out.zh = zh
        return out


def in_language(text: str, lang: str | None) -> str:
    """``text`` in ``lang``: a :class:`Said`'s Chinese text, else the text as it is
    (a GDAL warning, say, is quoted as GDAL gives it)."""
    if isinstance(text, Said) and normalise_language(lang) == "zh":
        return text.zh
    return str(text)


def said(key: str, **params: Any) -> dict[str, str]:
    """A row problem's text in both languages from ``geo/messages``, as ``message`` and
    ``message_zh`` keywords of the importer's ``problem`` callback."""
    return {"message": message(key, "en", **params), "message_zh": message(key, "zh", **params)}


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

    def text(self, lang: str | None = "en") -> str:
        """The problem itself in ``lang`` (its English text when it has no Chinese one)."""
        return (self.message_zh or self.message) if normalise_language(lang) == "zh" else self.message

    def describe(self, row_label: str = "row", lang: str | None = "en") -> str:
        """``row 3, field category, value '乱放': ...`` (``feature 3`` for vector files);
        ``第 3 行，字段 category，值 '乱放'：…`` in Chinese."""
        lang = normalise_language(lang)
        if self.row is None:
            where = [message("import.where_file", lang)]
        else:
            where = [message("import.where_row" if row_label == "row" else "import.where_feature", lang, row=self.row)]
        if self.field:
            where.append(message("import.where_field", lang, field=self.field))
        if self.value is not None and self.value != "":
            where.append(message("import.where_value", lang, value=repr(str(self.value)[:60])))
        tag = "" if self.severity == "error" else message("import.warning_tag", lang)
        sep, colon = ("，", "：") if lang == "zh" else (", ", ": ")
        return sep.join(where) + colon + tag + self.text(lang)


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

    def unit(self, lang: str | None = "en") -> str:
        """``行``/``个要素`` or ``row(s)``/``feature(s)``: what the file's records are."""
        return message("import.unit_row" if self.row_label == "row" else "import.unit_feature", lang)

    def head(self, lang: str | None = "en") -> str:
        """``source -> layer: format, N rows, CRS …[, encoding …]``."""
        out = message("import.head", lang, source=self.source, layer=self.layer, format=self.format,
                      rows=self.rows, unit=self.unit(lang), crs=self.crs or "?")
        if self.encoding:
            out += message("import.head_encoding", lang, encoding=self.encoding)
        return out

    def notes_in(self, lang: str | None = "en") -> list[str]:
        return [in_language(n, lang) for n in self.notes]

    def hints_in(self, lang: str | None = "en") -> list[str]:
        return [in_language(h, lang) for h in self.hints]

    def ignored_text(self, lang: str | None = "en") -> str:
        """The columns no field took, and how to map them."""
        return message("import.ignored", lang, columns=("，" if normalise_language(lang) == "zh" else ", ").join(self.ignored))

    def lines(self, lang: str | None = "en") -> list[str]:
        """The report's lines in ``lang`` (Chinese or English), from ``geo/messages``: the
        one text both ``hehu import`` and the upload page give."""
        sep = "，" if normalise_language(lang) == "zh" else ", "
        arrow = " → " if normalise_language(lang) == "zh" else " -> "
        lines = [self.head(lang)]
        if self.mapping:
            lines.append(message("import.columns", lang, columns=sep.join(f"{s}{arrow}{d}" for s, d in self.mapping.items())))
        if self.ignored:
            lines.append(self.ignored_text(lang))
        lines += [message("import.note", lang, note=n) for n in self.notes_in(lang)]
        if self.problems:
            lines.append(message("import.problems", lang, errors=len(self.errors), warnings=len(self.warnings)))
            lines += ["  " + p.describe(self.row_label, lang) for p in self.problems]
        lines += [message("import.hint", lang, hint=h) for h in self.hints_in(lang)]
        lines.append(message("import.result", lang, summary=self.summary(lang)))
        return lines

    def text(self, lang: str | None = "en") -> str:
        """The report as a person reads it on a terminal (English unless ``lang="zh"``)."""
        return "\n".join(self.lines(lang))

    def summary(self, lang: str | None = "en") -> str:
        """The outcome in a line, in ``lang``."""
        unit = self.unit(lang)
        counts = {"added": self.added, "updated": self.updated, "rejected": len(self.rejected), "unit": unit}
        if self.dry_run:
            if self.errors and not self.skip_invalid:
                return message("import.dry_refused", lang, errors=len(self.errors), **counts)
            return message("import.dry_ok", lang, **counts)
        if not self.written:
            return message("import.refused", lang, errors=len(self.errors))
        out = message("import.done", lang, **counts)
        if self.rejected:
            out += message("import.rejected", lang, **counts)
            if self.rejects_path:
                out += message("import.rejects_written", lang, path=self.rejects_path)
        return out
