"""The one-page PDF summary of the work plan's targets, for officials.

An A4 portrait page in the look of the printed maps: the title, the date the figures
stand at, a stamp when the registry holds demo data, one row per target (progress bar,
value against target, met or not), the towns with the most features standing between
them and the targets, and a data-source line.

For example (on the demo registry)::

    from geo.registry import Registry
    from geo.targets_report import write_targets_pdf
    write_targets_pdf(Registry.open("data/jintan.gpkg"), "targets.pdf")
"""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

from geo.carto import MARGIN_MM, _credits_line, _demo_mark, _fit_width, _text, _wrap
from geo.errors import HehuError
from geo.export import atomic_path
from geo.registry import Registry
from geo.targets import Plan, compute_targets, format_value, load_plan, parse_today, town_table

A4_PORTRAIT_MM = (210.0, 297.0)
INK = "#222222"
MUTED = "#666666"
MET = "#1a9850"
MISSED = "#d73027"
TRACK = "#e6e6e6"
#: Height kept for the towns' chart however many targets the plan has (inches).
MIN_CHART_IN = 2.6
#: Colours of the per-town stacked bars, one per target, cycled.
TARGET_COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79",
]


def report_title(plan: Plan) -> str:
    """The page's title, e.g. "2021年金坛区河湖长制工作要点 目标进展"."""
    return f"{plan.title} · 目标进展"


def source_lines(registry: Registry, plan: Plan) -> tuple[str, str]:
    """Where the figures come from (the registry's credits, worded as on the printed maps)
    and where the targets come from (the plan)."""
    basis = f"《{plan.title}》"
    if plan.issued_by or plan.issued_on:
        basis += f"（{plan.issued_by}{'，' if plan.issued_by and plan.issued_on else ''}{plan.issued_on}）"
    return _credits_line(registry.metadata), f"目标依据：{basis}"


def render_targets_pdf(
    registry: Registry,
    *,
    plan: Plan | int | str | Path | None = None,
    today: date | str | None = None,
    results: list[dict[str, Any]] | None = None,
) -> bytes:
    """The summary page as PDF bytes (computing the targets unless ``results`` is given).

    The page furniture is the printed maps' (:mod:`geo.carto`): the same margins, title
    and subtitle type, bold made the same way, the demo mark and the footer lines with
    the same wording and wrapping.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from geo.fonts import use_cjk_font

    use_cjk_font()
    plan = plan if isinstance(plan, Plan) else load_plan(plan)
    today = parse_today(today)
    if results is None:
        results = compute_targets(registry, plan, today=today)
    towns = town_table(results)

    pw, ph = A4_PORTRAIT_MM
    k = (min(pw, ph) / 297.0) ** 0.6  # the printed maps' type scale for this paper
    W, H = pw / 25.4, ph / 25.4
    margin = MARGIN_MM / 25.4
    fig = Figure(figsize=(W, H))
    # One full-page axes in inches: every element is placed in page units.
    page = fig.add_axes((0, 0, 1, 1))
    page.set_xlim(0, W)
    page.set_ylim(0, H)
    page.axis("off")
    left, right = margin, W - margin

    # Title block, as on the printed maps: bold centred title, subtitle beneath.
    # A long plan title shrinks (or is cut with …) to stay inside the margins, as there.
    line_mm = pw - 2 * MARGIN_MM
    _fit_width(fig, _text(page, W / 2, H - (MARGIN_MM + 1) / 25.4, report_title(plan), ha="center", va="top",
                          fontsize=22 * k, bold=1.0 * k, color=INK), line_mm, 11 * k)
    met = sum(r["met"] for r in results)
    page.text(W / 2, H - (MARGIN_MM + 12 * k) / 25.4,
              f"截至 {today.isoformat()}　共 {len(results)} 项指标，已达成 {met} 项，未达成 {len(results) - met} 项",
              ha="center", va="top", fontsize=12 * k, color="#333333")
    _fit_width(fig, [page.text(W / 2, H - (MARGIN_MM + 19 * k) / 25.4, "各项指标由登记簿实时计算，按镇(街道)列出差距",
                               ha="center", va="top", fontsize=8.5 * k, color=MUTED)], line_mm, 6 * k)
    rule = H - (MARGIN_MM + 25 * k) / 25.4
    page.plot([left, right], [rule, rule], color=INK, lw=0.8 * k)
    if registry.is_demo:
        # The printed maps' demo mark: a grey diagonal "演示数据 / demo data" and a footer line.
        _demo_mark(page, (0, 0, W, H), k)

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
    fs = 6.3 * k
    foot_text = _wrap("\n".join(foot), pw - 2 * MARGIN_MM, fs)
    foot_top = margin + (foot_text.count("\n") + 1) * fs * 1.35 / 72
    page.plot([left, right], [foot_top + 0.06, foot_top + 0.06], color=INK, lw=0.6 * k)
    page.text(left, foot_top, foot_text, ha="left", va="top", fontsize=fs, color="#333333", linespacing=1.35)

    # Targets: one row each.
    top = rule - 0.3
    # Rows shrink when a plan has many targets, keeping room for the towns' chart.
    row_h = min(0.48, (top - 0.28 - (foot_top + 0.6 + MIN_CHART_IN)) / max(len(results), 1))
    size = min(1.0, row_h / 0.48) ** 0.5  # type shrinks more gently than the rows
    bar_x, bar_w = 3.3, 2.45
    page.text(left, top + 0.08, "指标", fontsize=8.5, color=MUTED)
    page.text(bar_x, top + 0.08, "进度", fontsize=8.5, color=MUTED)
    page.text(bar_x + bar_w + 0.15, top + 0.08, "当前 / 目标", fontsize=8.5, color=MUTED)
    page.text(right, top + 0.08, "状态", fontsize=8.5, color=MUTED, ha="right")
    for i, r in enumerate(results):
        y = top - 0.28 - i * row_h
        if i % 2 == 0:
            page.add_patch(Rectangle((left - 0.08, y - 0.42 * row_h), right - left + 0.16, row_h, fc="#f6f6f6", ec="none"))
        page.text(left, y, r["title"], fontsize=10 * size, color=INK, va="center")
        colour = MET if r["met"] else MISSED
        page.add_patch(Rectangle((bar_x, y - 0.07), bar_w, 0.16, fc=TRACK, ec="none"))
        page.add_patch(Rectangle((bar_x, y - 0.07), bar_w * float(r["progress"]), 0.16, fc=colour, ec="none"))
        page.text(
            bar_x + bar_w + 0.15,
            y,
            f"{format_value(r['value'], r['unit'])} / {_target_text(r)}",
            fontsize=9.5 * size,
            color=INK,
            va="center",
        )
        page.text(right, y, "达成" if r["met"] else f"差 {format_value(r['gap'], r['unit'])}",
                  fontsize=9.5 * size, color=colour, ha="right", va="center")

    # Towns, worst first: stacked bars of the features behind each target.
    chart_top = top - 0.28 - len(results) * row_h - 0.15
    page.text(left, chart_top, "各镇（街道）待办事项（由多到少）", fontsize=11.5, color=INK, va="top")
    page.text(left, chart_top - 0.25, "每项指标下拖后腿的要素数：未销号及逾期问题、问题小微水体、未达Ⅲ类断面、不规范公示牌等",
              fontsize=7.5, color=MUTED, va="top")
    chart_bottom = foot_top + 0.6
    ax_h = max(chart_top - 0.55 - chart_bottom, 1.0)
    ax = fig.add_axes((1.45 / W, chart_bottom / H, (right - 1.45 - 2.2) / W, ax_h / H))
    names = [row["town"] for row in towns][::-1]
    start = [0] * len(names)
    used: list[tuple[str, str]] = []
    for n, r in enumerate(results):
        values = [towns_row["by_target"][r["id"]] for towns_row in towns][::-1]
        if not any(values):
            continue
        colour = TARGET_COLOURS[n % len(TARGET_COLOURS)]
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
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


__all__ = ["render_targets_pdf", "report_title", "source_lines", "write_targets_pdf"]
