"""``hehu targets``: where each target of the year's work plan stands, from the registry.

    hehu targets                          # aligned table, in Chinese
    hehu targets --format json            # the JSON list (same as /targets?f=json)
    hehu targets --pdf targets.pdf        # the one-page A4 summary for officials
    hehu targets --pdf                    # ... as targets-<year>-<day>.pdf here
    hehu targets --plan 2021 --as-of 2021-12-31
"""

from __future__ import annotations

import argparse
import json
import sys

from cli.common import add_registry_argument, format_table, open_registry
from geo.targets import (
    available_plans,
    compute_targets,
    format_value,
    load_plan,
    parse_today,
    town_table,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "targets",
        help="the work plan's targets computed from the registry (table, JSON or PDF)",
        description=(
            "Compute every quantitative target of a year's river-chief work plan from the "
            "registry: current value, target, gap, per-town breakdown. The plan's numbers "
            "live in geo/plans/<year>.yaml."
        ),
    )
    add_registry_argument(p)
    p.add_argument(
        "--format",
        choices=["table", "json"],
        default=None,
        help="output on stdout: an aligned Chinese table (default) or the JSON list",
    )
    p.add_argument(
        "--pdf",
        nargs="?",
        const="",
        metavar="PATH",
        help="also write the one-page A4 PDF summary to PATH "
        "(without PATH: targets-<year>-<as-of day>.pdf in the current folder)",
    )
    p.add_argument(
        "--plan",
        default=None,
        metavar="YEAR|PATH",
        help=f"the plan: a year ({', '.join(map(str, available_plans()))}) or a plan YAML file "
        "(default: the latest year)",
    )
    p.add_argument(
        "--as-of",
        dest="as_of",
        default=None,
        metavar="YYYY-MM-DD",
        help="the day that decides what is overdue (default: today)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    today = parse_today(args.as_of)
    registry = open_registry(args)
    try:
        results = compute_targets(registry, plan, today=today)
        if args.pdf is not None:
            from geo.targets_report import write_targets_pdf

            out = args.pdf or f"targets-{plan.year}-{today.isoformat()}.pdf"
            path = write_targets_pdf(registry, out, plan=plan, today=today)
            print(f"hehu targets: wrote {path}", file=sys.stderr)
    finally:
        registry.close()
    fmt = args.format or ("table" if args.pdf is None else None)
    if fmt == "json":
        print(json.dumps(results, ensure_ascii=False, indent=2))
    elif fmt == "table":
        print(render_table(results, plan.title, today.isoformat()))
    return 0


def render_table(results: list[dict], title: str, as_of: str) -> str:
    """The targets, then the towns worst first, as aligned plain text."""
    rows = []
    for r in results:
        sign = {">=": "≥", "<=": "≤", "==": "="}[r["comparison"]]
        rows.append(
            [
                r["title"],
                format_value(r["value"], r["unit"]),
                sign + format_value(r["target"], r["unit"]),
                "—" if r["met"] else format_value(r["gap"], r["unit"]),
                f"{100 * r['progress']:.0f}%",
                "达成" if r["met"] else "未达成",
            ]
        )
    met = sum(r["met"] for r in results)
    out = [
        f"{title}（截至 {as_of}）：{len(results)} 项指标，达成 {met} 项",
        "",
        format_table(["指标", "当前", "目标", "差距", "进度", "状态"], rows),
    ]
    towns = town_table(results)
    if towns:
        ids = [r["id"] for r in results if any(t["by_target"][r["id"]] for t in towns)]
        short = {r["id"]: r["short"] for r in results}
        out += [
            "",
            "各镇（街道）待办事项，由多到少（每项指标下拖后腿的要素数）：",
            "",
            format_table(
                ["镇(街道)", "合计", *[short[i] for i in ids]],
                [[t["town"], t["outstanding"], *[t["by_target"][i] for i in ids]] for t in towns],
            ),
        ]
    return "\n".join(out)
