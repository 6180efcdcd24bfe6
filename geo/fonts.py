"""The CJK font for printed maps and charts, shipped by the ``mplfonts`` PyPI package.

Printed maps carry Chinese labels, so they must never depend on what fonts a machine
happens to have: the project depends on ``mplfonts``, which ships Noto Sans CJK SC (SIL
Open Font Licence), and registers it with matplotlib here.

The font ships with PostScript (CFF) outlines. Matplotlib embeds a font in a PDF as
TrueType (``pdf.fonttype = 42``, which keeps the text selectable), and labels a CFF font
that way too: Poppler warns "Mismatch between font type and embedded font file" and
stricter readers (Acrobat, some print servers) may refuse the file. So the outlines are
converted once to TrueType quadratics with fontTools (about half a minute) and the
result is cached; every PDF then embeds a real TrueType subset.

The cached font leaves out the OpenType layout and vertical-metrics tables (GSUB, GPOS,
BASE, vhea, vmtx...): matplotlib sets horizontal text glyph by glyph and never reads
them, and subsetting them for every PDF was half the time of a print (4.1 s → 2.1 s for
an A4 print-this-view of the demo).
"""

from __future__ import annotations

import os
import tempfile
from functools import cache
from pathlib import Path

CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"
TRUETYPE_NAME = "NotoSansCJKsc-Regular-glyf-lean.ttf"
#: The cache of earlier versions (all tables kept): made lean in a second, not re-converted.
_FULL_TRUETYPE_NAME = "NotoSansCJKsc-Regular-glyf.ttf"
#: Tables matplotlib never reads, left out of the cached font (see the module docstring).
UNUSED_TABLES = ("GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH", "vhea", "vmtx", "VORG")


def source_font_path() -> Path:
    """Path of the Noto Sans CJK SC file that mplfonts installs (CFF outlines)."""
    import mplfonts

    path = Path(mplfonts.__file__).resolve().parent / "fonts" / CJK_FONT_FILE
    if not path.exists():  # pragma: no cover - a broken mplfonts install
        raise RuntimeError(f"{path} is missing: reinstall mplfonts (pip install --force-reinstall mplfonts)")
    return path


def cache_dir() -> Path:
    """Where converted fonts are kept: ``$HEHU_CACHE``, else ``$XDG_CACHE_HOME/hehu``."""
    if os.environ.get("HEHU_CACHE"):
        return Path(os.environ["HEHU_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hehu"


def convert_to_truetype(src: Path, dst: Path) -> Path:
    """Write ``src`` (an OpenType font with CFF outlines) as a TrueType-outline font.

    Cubic curves become quadratic within one font unit (1/1000 em), far below what
    print or screen can show. Written to a temporary file first, then moved into place,
    so concurrent first uses never see half a font.
    """
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable

    font = TTFont(str(src))
    if "CFF " not in font:
        raise ValueError(f"{src} has no CFF outlines to convert")
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, glyph in glyf.glyphs.items():
        if hasattr(glyph, "xMin"):
            hmtx[name] = (hmtx[name][0], glyph.xMin)
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.maxZones = 1
    maxp.maxTwilightPoints = 0
    maxp.maxStorage = 0
    maxp.maxFunctionDefs = 0
    maxp.maxInstructionDefs = 0
    maxp.maxStackElements = 0
    maxp.maxSizeOfInstructions = 0
    maxp.maxComponentElements = 0
    font["maxp"] = maxp
    font["head"].glyphDataFormat = 0
    # 65,000 glyph names do not fit a version 2 'post' table; version 3 carries none.
    font["post"].formatType = 3.0
    font.sfntVersion = "\x00\x01\x00\x00"
    _save(font, dst)
    return dst


def _save(font, dst: Path) -> None:
    """Save without the unused tables, through a temporary file moved into place."""
    for tag in UNUSED_TABLES:
        if tag in font:
            del font[tag]
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=dst.name, suffix=".part", dir=dst.parent)
    os.close(fd)
    try:
        font.save(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@cache
def cjk_font_path() -> Path:
    """The TrueType-outline Noto Sans CJK SC, converted on first use and cached."""
    src = source_font_path()
    dst = cache_dir() / TRUETYPE_NAME
    if not dst.exists() or dst.stat().st_mtime < src.stat().st_mtime:
        full = cache_dir() / _FULL_TRUETYPE_NAME
        if full.exists() and full.stat().st_mtime >= src.stat().st_mtime:
            from fontTools.ttLib import TTFont

            _save(TTFont(str(full)), dst)
        else:
            convert_to_truetype(src, dst)
    return dst


@cache
def use_cjk_font() -> str:
    """Register the CJK font with matplotlib and make it the default; returns its family name."""
    import matplotlib
    from matplotlib import font_manager

    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    family = font_manager.FontProperties(fname=str(path)).get_name()
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [family, "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False
    # Embed TrueType outlines so PDF text stays selectable and extractable.
    matplotlib.rcParams["pdf.fonttype"] = 42
    return family
