"""The CJK font for printed maps and charts, shipped by the ``mplfonts`` PyPI package.

Printed maps carry Chinese labels, so they must never depend on what fonts a machine
happens to have: the project depends on ``mplfonts``, which ships Noto Sans CJK SC, and
registers that file with matplotlib here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"


@lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    """Path of the bundled Noto Sans CJK SC font file."""
    import mplfonts

    path = Path(mplfonts.__file__).resolve().parent / "fonts" / CJK_FONT_FILE
    if not path.exists():  # pragma: no cover - a broken mplfonts install
        raise RuntimeError(f"{path} is missing: reinstall mplfonts (pip install --force-reinstall mplfonts)")
    return path


@lru_cache(maxsize=1)
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
    # Embed TrueType/CFF outlines so PDF text stays selectable and extractable.
    matplotlib.rcParams["pdf.fonttype"] = 42
    return family
