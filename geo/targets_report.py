"""The one-page PDF summary of the work plan's targets, for officials.

An A4 portrait page in the look of the printed maps: the title, the date the figures
stand at, a stamp when the registry holds demo data, one row per target (progress bar,
value against target, met or not), the towns with the most features standing between
them and the targets, and a data-source line.

>>> from geo.registry import Registry
>>> from geo.targets_report import write_targets_pdf
>>> write_targets_pdf(Registry.open("data/jintan.gpkg"), "targets.pdf")   # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from geo.errors import HehuError
from geo.registry import Registry
from geo.targets import Plan, compute_targets, format_value, load_plan, parse_today, town_table

A4_PORTRAIT_IN = (8.27, 11.69)
INK = "#222222"
MUTED = "#666666"
MET = "#1a9850"
MISSED = "#d73027"
TRACK = "#e6e6e6"
ACCENT = "#08519c"
#: Colours of the per-town stacked bars, one per target, cycled.
TARGET_COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79",
]


def _bold_text(ax, x: float, y: float, text: str, color: str, **kw: Any) -> None:
    """Bold type as the printed maps draw it (one-weight CJK font, thickened by a stroke).

    The text is drawn once as text, so the PDF's title stays selectable and extractable,
    and once more as a stroked outline on top.
    """
    import matplotlib.patheffects as pe

    ax.text(x, y, text, color=color, **kw)
    ax.text(x, y, text, color=color, path_effects=[pe.Stroke(linewidth=0.45, foreground=color)], **kw)


def report_title(plan: Plan) -> str:
    """The page's title, e.g. "2021年金坛区河湖长制工作要点 目标进展"."""
    return f"{plan.title} · 目标进展"


def source_lines(registry: Registry, plan: Plan) -> tuple[str, str]:
    """Where the figures come from (the registry) and where the targets come from (the plan)."""
    meta = registry.metadata
    name = registry.path.name if registry.path else "registry"
    credits = [
        f"{str(c.get('data', '')).split(' ')[0]}：{c.get('source', '')}"
        + (f"（{c.get('licence')}）" if c.get("licence") else "")
        for c in meta.get("credits") or []
        if isinstance(c, dict)
    ]
    line = f"数据来源：{meta.get('title') or '河湖一张图'}（{name}）"
    if credits:
        line += "；" + "；".join(credits)
    basis = f"《{plan.title}》"
    if plan.issued_by or plan.issued_on:
        basis += f"（{plan.issued_by}{'，' if plan.issued_by and plan.issued_on else ''}{plan.issued_on}）"
    return line, f"目标依据：{basis}"


def render_targets_pdf(
    registry: Registry,
    *,
    plan: Plan | int | str | Path | None = None,
    today: date | str | None = None,
    results: list[dict[str, Any]] | None = None,
) -> bytes:
    """The summary page as PDF bytes (computing the targets unless ``results`` is given)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from geo.fonts import use_cjk_font

    use_cjk_font()
    plan = plan if isinstance(plan, Plan) else load_plan(plan)
    today = parse_today(today)
    if results is None:
        results = compute_targets(registry, plan, today=today)
    towns = town_table(results)

    fig = Figure(figsize=A4_PORTRAIT_IN)
    W, H = A4_PORTRAIT_IN
    # One full-page axes in inches: every element is placed in page units.
    page = fig.add_axes((0, 0, 1, 1))
    page.set_xlim(0, W)
    page.set_ylim(0, H)
    page.axis("off")
    left, right = 0.6, W - 0.6

    # Title block, centred in the printed maps' type (geo.carto): the CJK font has one
    # weight, so a stroke of the text's own colour makes it bold.
    _bold_text(page, W / 2, H - 0.85, report_title(plan), INK, fontsize=19, ha="center", va="baseline")
    page.text(W / 2, H - 1.1, plan.title_en + " — progress", fontsize=8.5, color=MUTED, ha="center", va="baseline")
    met = sum(r["met"] for r in results)
    page.text(
        W / 2,
        H - 1.42,
        f"截至 {today.isoformat()}　共 {len(results)} 项指标，已达成 {met} 项，未达成 {len(results) - met} 项",
        fontsize=10.5,
        color=INK,
        ha="center",
        va="baseline",
    )
    page.plot([left, right], [H - 1.6, H - 1.6], color=INK, lw=0.8)
    if registry.is_demo:
        # The printed maps' demo mark: a grey diagonal "演示数据 / demo data" and a footer line.
        page.text(W / 2, H / 2, "演示数据 / demo data", color=(0.5, 0.5, 0.5, 0.13), fontsize=44,
                  rotation=28, ha="center", va="center", zorder=60)

    # Targets: one row each.
    top = H - 1.95
    row_h = 0.48
    bar_x, bar_w = 3.35, 2.35
    page.text(left, top + 0.08, "指标", fontsize=8.5, color=MUTED)
    page.text(bar_x, top + 0.08, "进度", fontsize=8.5, color=MUTED)
    page.text(bar_x + bar_w + 0.15, top + 0.08, "当前 / 目标", fontsize=8.5, color=MUTED)
    page.text(right, top + 0.08, "状态", fontsize=8.5, color=MUTED, ha="right")
    for i, r in enumerate(results):
        y = top - 0.28 - i * row_h
        if i % 2 == 0:
            page.add_patch(Rectangle((left - 0.08, y - 0.2), right - left + 0.16, row_h, fc="#f6f6f6", ec="none"))
        page.text(left, y + 0.06, r["title"], fontsize=10, color=INK, va="center")
        page.text(left, y - 0.1, r["title_en"], fontsize=6, color=MUTED, va="center")
        colour = MET if r["met"] else MISSED
        page.add_patch(Rectangle((bar_x, y - 0.07), bar_w, 0.16, fc=TRACK, ec="none"))
        page.add_patch(Rectangle((bar_x, y - 0.07), bar_w * float(r["progress"]), 0.16, fc=colour, ec="none"))
        page.text(
            bar_x + bar_w + 0.15,
            y,
            f"{format_value(r['value'], r['unit'])} / {_target_text(r)}",
            fontsize=9.5,
            color=INK,
            va="center",
        )
        page.text(right, y, "达成" if r["met"] else f"差 {format_value(r['gap'], r['unit'])}",
                  fontsize=9.5, color=colour, ha="right", va="center")

    # Footer, as on the printed maps: date, data sources, and the demo note.
    data_line, plan_line = source_lines(registry, plan)
    now = datetime.now()
    foot = [
        f"制图日期：{now.year}年{now.month}月{now.day}日    统计截至：{today.isoformat()}（逾期以此日为准）    "
        "明细：hehu targets --format json 或 /targets",
        data_line,
        plan_line,
    ]
    if registry.is_demo:
        foot.append("演示数据 / demo data：除注明来源者外，图中要素均为虚构。")
    foot_lines = [piece for line in foot for piece in _wrap(line, right - left, 6.3)]
    foot_top = 0.55 + 0.15 * len(foot_lines)
    page.plot([left, right], [foot_top + 0.08, foot_top + 0.08], color=INK, lw=0.6)
    for j, line in enumerate(foot_lines):
        page.text(left, foot_top - 0.07 - j * 0.15, line, fontsize=6.3, color="#333333", va="center")

    # Towns, worst first: stacked bars of the features behind each target.
    chart_top = top - 0.28 - len(results) * row_h - 0.15
    page.text(left, chart_top, "各镇（街道）待办事项（由多到少）", fontsize=11.5, color=INK, va="top")
    page.text(left, chart_top - 0.25, "每项指标下拖后腿的要素数：未销号及逾期问题、问题小微水体、未达Ⅲ类断面、不规范公示牌等",
              fontsize=7.5, color=MUTED, va="top")
    chart_bottom = foot_top + 0.6
    ax_h = max(chart_top - 0.55 - chart_bottom, 1.0)
    ax = fig.add_axes((1.55 / W, chart_bottom / H, (right - 1.55 - 2.2) / W, ax_h / H))
    names = [row["town"] for row in towns][::-1]
    start = [0] * len(names)
    used: list[tuple[str, str]] = []
    for k, r in enumerate(results):
        values = [towns_row["by_target"][r["id"]] for towns_row in towns][::-1]
        if not any(values):
            continue
        colour = TARGET_COLOURS[k % len(TARGET_COLOURS)]
        ax.barh(names, values, left=start, color=colour, height=0.62, edgecolor="white", linewidth=0.4)
        start = [s + v for s, v in zip(start, values, strict=True)]
        used.append((r["short"], colour))
    for yi, total in enumerate(start):
        ax.text(total, yi, f" {total}", va="center", fontsize=8, color=INK)
    ax.tick_params(labelsize=8.5)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlim(0, max(start + [1]) * 1.12)
    ax.set_xlabel("要素数（个/处/段）", fontsize=8)
    # Legend to the right of the chart.
    lx = right - 2.05
    ly = chart_bottom + ax_h
    step = min(0.22, ax_h / max(len(used), 1))
    for j, (title, colour) in enumerate(used):
        page.add_patch(Rectangle((lx, ly - step * j - 0.1), 0.14, 0.12, fc=colour, ec="none"))
        page.text(lx + 0.2, ly - step * j - 0.04, title, fontsize=7.2, color=INK, va="center")

    buf = io.BytesIO()
    fig.savefig(
        buf,
        format="pdf",
        metadata={"Title": report_title(plan), "Subject": plan.title_en, "Creator": "hehu 河湖一张图"},
    )
    return buf.getvalue()


def _wrap(text: str, width_in: float, size_pt: float) -> list[str]:
    """Break a line to fit ``width_in``: a CJK glyph is about one em wide, a Latin one half."""
    cols = max(10, int(width_in / (size_pt / 72) * 1.75))
    lines, line, used = [], "", 0
    for ch in text:
        w = 2 if ord(ch) > 0x2E80 else 1
        if used + w > cols:
            lines.append(line)
            line, used = "", 0
        line += ch
        used += w
    return [*lines, line]


def _target_text(result: dict[str, Any]) -> str:
    sign = {">=": "≥", "<=": "≤", "==": "="}[result["comparison"]]
    return f"{sign}{format_value(result['target'], result['unit'])}"


def write_targets_pdf(
    registry: Registry,
    path: str | Path,
    *,
    plan: Plan | int | str | Path | None = None,
    today: date | str | None = None,
) -> Path:
    """Write the summary page to ``path`` atomically (nothing is left behind on failure)."""
    path = Path(path)
    if path.is_dir():
        raise HehuError(f"{path} is a folder; give the PDF file to write", path=str(path))
    if not path.parent.exists():
        raise HehuError(f"{path.parent}: no such folder for the PDF", path=str(path))
    if path.suffix.lower() != ".pdf":
        raise HehuError(f"{path}: the summary is a PDF, name it *.pdf", path=str(path))
    data = render_targets_pdf(registry, plan=plan, today=today)
    fd, tmp = tempfile.mkstemp(prefix=".targets-", suffix=".pdf", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


__all__ = ["render_targets_pdf", "report_title", "source_lines", "write_targets_pdf"]
