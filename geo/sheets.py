"""A4 sheets in the printed maps' furniture: the dossier, 交办单 and signboard sheets.

Each sheet is a matplotlib Figure whose page axes run in millimetres from the bottom
left, drawn with the bundled CJK font (:mod:`geo.fonts`) so that every Chinese word is
text a PDF reader can select and extract; :func:`pdf_bytes` joins sheets into one PDF.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo.carto import MARGIN_MM, _credits_line, _demo_mark, _text, _wrap
from geo.errors import HehuError
from geo.export import atomic_path
from geo.i18n import message

if TYPE_CHECKING:
    from geo.registry import Registry

A4_MM = (210.0, 297.0)


class Sheet:
    """One A4 portrait page; ``page`` is an axes in millimetres, ``y`` a writing cursor."""

    def __init__(self, title: str, subtitle: str | None = None, *, demo: bool = False):
        from matplotlib.figure import Figure

        from geo.fonts import use_cjk_font

        use_cjk_font()
        self.w, self.h = A4_MM
        self.fig = Figure(figsize=(self.w / 25.4, self.h / 25.4))
        self.page = self.fig.add_axes((0, 0, 1, 1))
        self.page.set_xlim(0, self.w)
        self.page.set_ylim(0, self.h)
        self.page.axis("off")
        self.left, self.right = MARGIN_MM, self.w - MARGIN_MM
        _text(self.page, self.w / 2, self.h - MARGIN_MM, title, ha="center", va="top", fontsize=18, bold=0.8,
              color="#222222")
        self.y = self.h - MARGIN_MM - 10
        if subtitle:
            self.page.text(self.w / 2, self.y, subtitle, ha="center", va="top", fontsize=9, color="#444444")
            self.y -= 6
        if demo:
            _demo_mark(self.page, (0, 0, self.w, self.h), 0.7)

    def axes_mm(self, x: float, y: float, w: float, h: float):
        """A new axes at (x, y) millimetres, w × h."""
        return self.fig.add_axes((x / self.w, y / self.h, w / self.w, h / self.h))

    def heading(self, text: str) -> None:
        self.y -= 2
        self.page.text(self.left, self.y, text, fontsize=11, va="top", color="#08306b")
        self.page.plot([self.left, self.right], [self.y - 5.2, self.y - 5.2], color="#9ecae1", lw=0.6)
        self.y -= 7

    def line(self, text: str, size: float = 8.5, color: str = "#222222", indent: float = 0.0) -> None:
        wrapped = _wrap(text, self.right - self.left - indent, size)
        self.page.text(self.left + indent, self.y, wrapped, fontsize=size, va="top", color=color, linespacing=1.3)
        self.y -= (wrapped.count("\n") + 1) * size * 0.3528 * 1.3 + 1.0

    def table(self, heads: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[float],
              size: float = 7.5, max_rows: int | None = None) -> int:
        """Draw a table from the cursor down; returns how many rows fitted."""
        from matplotlib.patches import Rectangle

        scale = (self.right - self.left) / sum(widths)
        ws = [w * scale for w in widths]
        row_h = size * 0.3528 * 1.8
        xs = [self.left]
        for w in ws:
            xs.append(xs[-1] + w)
        fitted = 0
        for i, row in enumerate([heads, *rows]):
            if self.y - row_h < MARGIN_MM + 16 or (max_rows is not None and i > max_rows):
                break
            for j, cell in enumerate(row):
                self.page.add_patch(Rectangle((xs[j], self.y - row_h), ws[j], row_h, fc="#e8eef5" if i == 0 else "white",
                                              ec="#999999", lw=0.35))
                text = "" if cell is None else str(cell)
                limit = max(2, int(ws[j] / (size * 0.3528) * 1.9) - 1)
                if sum(2 if ord(c) > 0x2E80 else 1 for c in text) > limit:
                    out, n = "", 0
                    for ch in text:
                        n += 2 if ord(ch) > 0x2E80 else 1
                        if n > limit - 1:
                            break
                        out += ch
                    text = out + "…"
                self.page.text(xs[j] + 1.0, self.y - row_h / 2, text, fontsize=size, va="center", color="#222222")
            self.y -= row_h
            fitted = i
        self.y -= 3
        return fitted

    def footer(self, registry: Registry, note: str | None = None) -> None:
        now = datetime.now()
        lines = [f"制表日期：{now.year}年{now.month}月{now.day}日　hehu 河湖一张图" + (f"　{note}" if note else ""),
                 _credits_line(registry.metadata)]
        if registry.is_demo:
            lines.append("演示数据 / demo data：数据为虚构（synthetic），仅用于演示。")
        self.page.plot([self.left, self.right], [MARGIN_MM + 9, MARGIN_MM + 9], color="#222222", lw=0.5)
        self.page.text(self.left, MARGIN_MM + 8, _wrap("\n".join(lines), self.right - self.left, 6.0), fontsize=6.0,
                       va="top", color="#444444", linespacing=1.3)


def pdf_bytes(sheets: Sequence[Sheet], title: str) -> bytes:
    """The sheets as one PDF, in order."""
    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": title, "Creator": "hehu 河湖一张图"}) as pdf:
        for s in sheets:
            pdf.savefig(s.fig)
    return buf.getvalue()


def write_pdf(path: str | Path, data: bytes, lang: str = "zh") -> Path:
    """Write PDF bytes to ``path`` atomically (refusing a name not ending in .pdf)."""
    path = Path(path)
    if path.suffix.lower() != ".pdf":
        raise HehuError(message("print.pdf_suffix", lang, path=str(path)), path=str(path))
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path
