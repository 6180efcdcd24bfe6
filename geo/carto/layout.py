"""Paper, parameters, extent and scale of a printed map, and what a print returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo.errors import HehuError

if TYPE_CHECKING:
    pass


#: Paper sizes in millimetres (portrait: width, height), ISO 216.
PAPER_MM: dict[str, tuple[float, float]] = {"A4": (210.0, 297.0), "A3": (297.0, 420.0), "A1": (594.0, 841.0)}


ORIENTATIONS = ("portrait", "landscape")


#: Margin kept free on every side, in millimetres: more than office printers' 4-6 mm.
MARGIN_MM = 12.0


#: Highest PNG resolution, and the largest PNG in pixels (A1 at 600 dpi would need ~1 GB).
MAX_DPI = 600


MIN_DPI = 50


MAX_PIXELS = 80_000_000


DEFAULT_DPI = 200


#: Printed scales offered, the smallest that fits the extent is used (1:N).
NICE_SCALES = tuple(
    int(m * 10**e) for e in range(3, 7) for m in (1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 7.5)
)


class PrintError(HehuError):
    """A print request that cannot be drawn as asked (paper, dpi, format, extent)."""

    code = "bad-print"


@dataclass(frozen=True)
class LegendEntry:
    """One line of the legend: a layer, or one ``by`` value of a layer."""

    layer: str
    label: str
    kind: str  # point | line | polygon | header
    color: str
    value: str | None = None
    count: int | None = None
    #: A hollow point: the features of a problem layer that are no longer problems.
    hollow: bool = False


@dataclass
class PrintResult:
    """What a print wrote, and what it drew (for checks and for the caller's message)."""

    path: Path
    format: str
    pages: int
    paper: str
    orientation: str
    page_size_pt: tuple[float, float]
    scale: int
    layers: list[str]
    legend: list[LegendEntry]
    labels: list[str] = field(default_factory=list)
    matches: int | None = None
    message: str = ""
    #: The distance the scale bar stands for, in metres (its length on paper is this / scale).
    scale_bar_m: float = 0.0
    #: The map frame in lon/lat (minlon, minlat, maxlon, maxlat): it holds the extent asked for.
    extent_lonlat: tuple[float, float, float, float] | None = None
    #: Water drawn as context without being chosen (not in the legend).
    context: list[str] = field(default_factory=list)

    def text(self, lang: str | None = "en") -> str:
        """What was written, in ``lang``: ``wrote PDF m.pdf (A3 landscape, 1:175,000, 2
        page(s)); 7 matches`` or ``已写入 PDF m.pdf（A3 横向，1:175,000，2 页）；命中 7 个要素``."""
        from geo.i18n import message

        line = message("print.wrote", lang, fmt=self.format.upper(), out=self.path, paper=self.paper,
                       orientation=message(f"print.{self.orientation}", lang), scale=f"{self.scale:,}",
                       pages=self.pages)
        if self.matches is not None:
            line += message("print.matches", lang, matches=self.matches)
        return line

    @property
    def legend_layers(self) -> list[str]:
        return list(dict.fromkeys(e.layer for e in self.legend))


def parse_paper(paper: str | None, orientation: str | None) -> tuple[str, str, tuple[float, float]]:
    """Paper name, orientation and page size in millimetres (width, height)."""
    name = str(paper or "A3").strip().upper()
    if name not in PAPER_MM:
        raise PrintError(key="print.bad_paper", params={"papers": ", ".join(PAPER_MM), "value": repr(paper)},
                         parameter="paper")
    orient = str(orientation or "landscape").strip().lower()
    if orient not in ORIENTATIONS:
        raise PrintError(key="print.bad_orientation", params={"value": repr(orientation)}, parameter="orientation")
    w, h = PAPER_MM[name]
    return name, orient, ((h, w) if orient == "landscape" else (w, h))


def parse_dpi(dpi: Any, page_mm: tuple[float, float] | None = None) -> int:
    """Resolution for PNG output, within ``MIN_DPI..MAX_DPI`` and ``MAX_PIXELS``."""
    if dpi in (None, ""):
        return DEFAULT_DPI
    try:
        value = int(float(dpi))
    except (TypeError, ValueError, OverflowError):  # OverflowError: inf
        raise PrintError(key="print.dpi_not_number", params={"value": repr(dpi)}, parameter="dpi") from None
    if not MIN_DPI <= value <= MAX_DPI:
        raise PrintError(key="print.dpi_range", params={"low": MIN_DPI, "high": MAX_DPI, "value": repr(dpi)},
                         parameter="dpi")
    if page_mm is not None:
        px = (page_mm[0] / 25.4 * value) * (page_mm[1] / 25.4 * value)
        if px > MAX_PIXELS:
            most = int(math.sqrt(MAX_PIXELS / (page_mm[0] * page_mm[1] / 25.4**2)))
            raise PrintError(
                key="print.dpi_too_many_pixels",
                params={"dpi": value, "millions": f"{px / 1e6:.0f}", "most": most},
                parameter="dpi",
            )
    return value


def parse_format(out_path: Path, fmt: str | None) -> str:
    name = (fmt or out_path.suffix.lstrip(".") or "pdf").strip().lower()
    if name not in ("pdf", "png"):
        raise PrintError(key="print.bad_format", params={"value": repr(fmt or out_path.suffix)}, parameter="format")
    return name


def _nice_scale(needed: float) -> int:
    for s in NICE_SCALES:
        if s >= needed:
            return s
    return int(math.ceil(needed / 1_000_000) * 1_000_000)


def _fit_extent(bounds: tuple[float, float, float, float], box_mm: tuple[float, float]) -> tuple[tuple[float, float, float, float], int]:
    """Extent (metres) filling a map box of ``box_mm`` at the smallest nice scale showing ``bounds``."""
    minx, miny, maxx, maxy = bounds
    w_m, h_m = max(maxx - minx, 50.0), max(maxy - miny, 50.0)
    needed = max(w_m / (box_mm[0] / 1000), h_m / (box_mm[1] / 1000))
    scale = _nice_scale(needed)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    hw, hh = box_mm[0] / 1000 * scale / 2, box_mm[1] / 1000 * scale / 2
    return (cx - hw, cy - hh, cx + hw, cy + hh), scale


@dataclass
class _Page:
    width_mm: float
    height_mm: float
    k: float  # type scale relative to A3

    def rect(self, x: float, y: float, w: float, h: float) -> list[float]:
        """Figure-fraction rectangle from millimetres (origin bottom left)."""
        return [x / self.width_mm, y / self.height_mm, w / self.width_mm, h / self.height_mm]
