"""Type on paper: text that stays text in the PDF, fitted, wrapped and shortened."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


MM_PER_PT = 25.4 / 72.0


def _text(target, x: float, y: float, s: str, *, bold: float = 0.0, halo: float = 0.0,
          halo_color: str = "white", **kw):
    """Text that stays text in the PDF (selectable, extractable), optionally bold or haloed.

    The bundled CJK font has a single (regular) weight, and matplotlib draws text with
    path effects as outlines, which PDF readers cannot extract. So a bold face or a
    halo is an outline-only copy drawn beneath, and the text itself is drawn plainly on
    top. Returns ``(text, underlay)``; the underlay is None without bold or halo.
    """
    import matplotlib.patheffects as pe

    under = None
    width = halo or bold
    if width:
        color = halo_color if halo else kw.get("color", "black")
        z = kw.get("zorder")
        under = target.text(x, y, s, **{**kw, "zorder": (z - 0.01) if z is not None else None},
                            path_effects=[pe.Stroke(linewidth=width, foreground=color)])
        if z is None:
            under.set_zorder(under.get_zorder() - 0.01)
    return target.text(x, y, s, **kw), under


def _fit_width(fig, texts, width_mm: float, min_size: float) -> None:
    """Shrink a line of text (and its bold or halo underlay) to ``width_mm``; below
    ``min_size`` points it keeps that size and is cut with an ellipsis instead, so that a
    long title never runs into the margins."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    texts = [t for t in texts if t is not None]
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    main = texts[0]
    avail = width_mm / 25.4 * fig.dpi
    width = main.get_window_extent(renderer).width
    if width <= avail:
        return
    size = main.get_fontsize() * avail / width * 0.98
    for t in texts:
        t.set_fontsize(max(size, min_size))
    if size >= min_size:
        return
    full = main.get_text()
    keep = len(full)
    while keep > 1 and main.get_window_extent(renderer).width > avail:
        keep -= 1
        for t in texts:
            t.set_text(full[:keep] + "…")


def _columns(text: str) -> int:
    """Width in half-em columns: a CJK glyph is about one em wide, a Latin one about half."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _wrap(text: str, width_mm: float, size_pt: float) -> str:
    """Break ``text`` into lines of ``width_mm``: between any two CJK characters, but a
    Latin word (a URL, a package name) moves whole to the next line."""
    em_mm = size_pt * MM_PER_PT
    cols = max(10, int(width_mm / em_mm * 1.9))
    out = []
    for para in text.split("\n"):
        line, w = "", 0
        for ch in para:
            cw = _columns(ch)
            if w + cw > cols:
                cut = line.rfind(" ")
                if ch == " ":  # a break between words: the space goes
                    out.append(line)
                    line, w = "", 0
                    continue
                if cw == 1 and cut > len(line) // 2:
                    out.append(line[:cut])
                    line = line[cut + 1 :]
                else:
                    out.append(line)
                    line = ""
                w = _columns(line)
            line += ch
            w += cw
        out.append(line)
    return "\n".join(out)


def _shorten(text: str, width_mm: float, size_pt: float) -> str:
    em = size_pt * MM_PER_PT
    cols = width_mm / em * 2
    w, out = 0.0, ""
    for ch in text:
        w += 2 if ord(ch) > 0x2E80 else 1
        if w > cols:
            return out + "…"
        out += ch
    return out
