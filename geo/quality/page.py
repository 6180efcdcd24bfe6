"""The 水质月报 page: sections × months coloured by class, as one A4 landscape PDF.

Same furniture as the printed maps and the targets summary (:mod:`geo.carto`): the
bundled CJK font, title block, demo mark and footer. A cell worse than the section's
target class is outlined in red (the target is marked); the last columns give the
annual class and the main pollutants with their exceedance of the Ⅲ limit.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

from geo.carto import MARGIN_MM, _credits_line, _demo_mark, _text, _wrap
from geo.errors import HehuError
from geo.export import atomic_path
from geo.i18n import message
from geo.quality.limits import CLASS_COLOURS, CLASS_NAMES, standard
from geo.quality.report import months_of, quality_report
from geo.registry import Registry

A4_LANDSCAPE_MM = (297.0, 210.0)
MISSED = "#c0392b"


def title(year: int) -> str:
    return f"{year}年金坛区国省考断面水质月报"


def pollutant_text(row: dict[str, Any], lang: str = "zh") -> str:
    """总磷(0.56)、高锰酸盐指数(0.37): names with the exceedance multiple (超标倍数)."""
    std = standard()
    sep = "、" if lang == "zh" else ", "
    parts = [f"{std.parameter(c).name(lang)}({row['exceedance'].get(c, 0):.2f})" for c in row["main_pollutants"]]
    text = sep.join(parts)
    if len(text) > 20 and len(parts) > 2:  # two lines in the page's cell
        text = sep.join(parts[:2]) + sep + "\n" + sep.join(parts[2:])
    return text


def render_quality_pdf(registry: Registry, year: int, rows: list[dict[str, Any]] | None = None) -> bytes:
    """The report page of ``year`` as PDF bytes."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from geo.fonts import use_cjk_font

    use_cjk_font()
    rows = quality_report(registry, year) if rows is None else rows
    pw, ph = A4_LANDSCAPE_MM
    W, H = pw / 25.4, ph / 25.4
    m = MARGIN_MM / 25.4
    fig = Figure(figsize=(W, H))
    page = fig.add_axes((0, 0, 1, 1))
    page.set_xlim(0, W)
    page.set_ylim(0, H)
    page.axis("off")
    left, right = m, W - m
    _text(page, W / 2, H - m, title(year), ha="center", va="top", fontsize=20, bold=1.0, color="#222222")
    counted = [r for r in rows if r["counted"] and r["annual_class"]]
    good = sum(1 for r in counted if r["annual_class"] <= 3)
    rate = f"{good / len(counted):.1%}" if counted else "—"
    page.text(W / 2, H - m - 0.42, f"GB 3838-2002 单因子评价　计入考核断面 {len(counted)} 个，优Ⅲ类 {good} 个，优Ⅲ率 {rate}"
              "　（月均值定月类别，年均值定年度类别；总氮不参与评价）",
              ha="center", va="top", fontsize=9.5, color="#333333")
    if registry.is_demo:
        _demo_mark(page, (0, 0, W, H), 0.85)

    months = months_of(year)
    heads = ["断面", "目标", *[f"{int(x[5:])}月" for x in months], "年度", "总氮", "主要污染物（超标倍数）"]
    widths = [1.55, 0.45, *[0.45] * 12, 0.5, 0.45, 2.35]
    scale = (right - left) / sum(widths)
    widths = [w * scale for w in widths]
    xs = [left]
    for w in widths:
        xs.append(xs[-1] + w)
    top = H - m - 0.85
    row_h = min(0.36, (top - m - 1.3) / max(len(rows) + 1, 1))
    for j, h in enumerate(heads):
        page.add_patch(Rectangle((xs[j], top - row_h), widths[j], row_h, fc="#e8eef5", ec="#888888", lw=0.4))
        page.text(xs[j] + widths[j] / 2, top - row_h / 2, h, ha="center", va="center", fontsize=8.5, color="#222222")
    for i, r in enumerate(rows):
        y = top - (i + 2) * row_h
        target = r["target_class"]
        name = r["name"] + ("（湖）" if r["lake"] else "") + ("" if r["counted"] else "*")
        cells = [name, CLASS_NAMES.get(target, "")]
        classes = [None, None, *[r["months"][x] for x in months], r["annual_class"], r["tn_class"], None]
        cells += [CLASS_NAMES.get(c, "") if c else "—" for c in classes[2:-1]]
        cells.append(pollutant_text(r))
        for j, text in enumerate(cells):
            cls = classes[j]
            fc = CLASS_COLOURS.get(cls, "white") if cls else "white"
            page.add_patch(Rectangle((xs[j], y), widths[j], row_h, fc=fc, ec="#888888", lw=0.4))
            if cls and target and j < len(cells) - 2 and cls > target:
                page.add_patch(Rectangle((xs[j] + 0.02, y + 0.02), widths[j] - 0.04, row_h - 0.04, fc="none", ec=MISSED, lw=1.3))
            size = 8.5 if j else 8.0
            if j == len(cells) - 1:
                size = 7.0
            page.text(xs[j] + (0.05 if j in (0, len(cells) - 1) else widths[j] / 2), y + row_h / 2, text,
                      ha="left" if j in (0, len(cells) - 1) else "center", va="center", fontsize=size, color="#222222",
                      linespacing=1.1)

    # Legend: colours, the target outline, the asterisk.
    ly = top - (len(rows) + 2) * row_h - 0.35
    x = left
    for cls in range(1, 7):
        page.add_patch(Rectangle((x, ly - 0.08), 0.3, 0.18, fc=CLASS_COLOURS[cls], ec="#888888", lw=0.4))
        page.text(x + 0.36, ly, f"{CLASS_NAMES[cls]}类" if cls < 6 else "劣Ⅴ类", va="center", fontsize=8)
        x += 0.95
    page.add_patch(Rectangle((x + 0.1, ly - 0.08), 0.3, 0.18, fc="white", ec=MISSED, lw=1.3))
    page.text(x + 0.46, ly, "劣于目标类别", va="center", fontsize=8)
    page.text(x + 1.7, ly, "* 不计入优Ⅲ率（长荡湖心）　（湖）湖库总磷标准；总氮单独评价", va="center", fontsize=8, color="#444444")

    now = datetime.now()
    foot = [
        f"制图日期：{now.year}年{now.month}月{now.day}日    评价依据：GB 3838-2002《地表水环境质量标准》表1；"
        "《地表水环境质量评价办法（试行）》（未检出按检出限一半计）    明细：hehu quality report --format json 或 /quality.json",
        _credits_line(registry.metadata),
    ]
    if registry.is_demo:
        foot.append("演示数据 / demo data：监测数据为虚构（synthetic），仅用于演示。")
    page.plot([left, right], [m + 0.55, m + 0.55], color="#222222", lw=0.6)
    page.text(left, m + 0.5, _wrap("\n".join(foot), pw - 2 * MARGIN_MM, 6.3), ha="left", va="top", fontsize=6.3,
              color="#333333", linespacing=1.35)
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf", metadata={"Title": title(year), "Creator": "hehu 河湖一张图"})
    return buf.getvalue()


def write_quality_pdf(registry: Registry, path: str | Path, year: int, lang: str = "zh") -> Path:
    """Write the page to ``path`` atomically."""
    path = Path(path)
    if path.suffix.lower() != ".pdf":
        raise HehuError(message("quality.pdf_suffix", lang, path=str(path)), path=str(path))
    data = render_quality_pdf(registry, year)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path
