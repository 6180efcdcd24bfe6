"""``hehu targets``: where each target of the year's work plan stands, from the registry.

    hehu targets                          # aligned table, in Chinese
    hehu targets --format json            # the JSON list (same as /targets?f=json)
    hehu targets --pdf targets.pdf        # the one-page A4 summary for officials
    hehu targets --pdf                    # ... as targets-<year>-<day>.pdf here
    hehu targets --plan 2021 --as-of 2021-12-31

The defaults are the /targets page's: the latest plan, judged today, or at the end of
its year when that year is over (a 2021 plan read in 2026 is not "overdue 1800 days");
the language is the command line's (``--lang``, ``HEHU_LANG``, the locale).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from cli.common import add_registry_argument, format_table, open_registry
from cli.lang import current, h, t
from geo.targets import (
    Plan,
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
        help=h("targets.help"),
        description=h("targets.description"),
    )
    add_registry_argument(p)
    p.add_argument(
        "--format",
        choices=["table", "json"],
        default=None,
        help=h("targets.format"),
    )
    p.add_argument(
        "--pdf",
        nargs="?",
        const="",
        metavar="PATH",
        help=h("targets.pdf"),
    )
    p.add_argument(
        "--plan",
        default=None,
        metavar="YEAR|PATH",
        help=h("targets.plan", years=", ".join(map(str, available_plans()))),
    )
    p.add_argument(
        "--as-of",
        dest="as_of",
        default=None,
        metavar="YYYY-MM-DD",
        help=h("targets.as_of"),
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    today = parse_today(args.as_of) if args.as_of else default_as_of(plan)
    registry = open_registry(args)
    try:
        results = compute_targets(registry, plan, today=today)
        if args.pdf is not None:
            from geo.targets_report import write_targets_pdf

            out = args.pdf or f"targets-{plan.year}-{today.isoformat()}.pdf"
            path = write_targets_pdf(registry, out, plan=plan, today=today)
            print(t("targets.wrote", path=path), file=sys.stderr)
    finally:
        registry.close()
    fmt = args.format or ("table" if args.pdf is None else None)
    if fmt == "json":
        print(json.dumps(results, ensure_ascii=False, indent=2))
    elif fmt == "table":
        print(render_table(results, plan.title if current() == "zh" else plan.title_en, today.isoformat()))
    return 0


def default_as_of(plan: Plan, today: date | None = None) -> date:
    """The day a plan is judged on when none is given: today, clipped to the plan's
    year (the rule of ``server/targets.py``'s ``_plan_and_day``, so that the command
    and the page show the same numbers)."""
    today = today or date.today()
    return min(today, date(int(plan.year), 12, 31))


def render_table(results: list[dict], title: str, as_of: str) -> str:
    """The targets, then the towns worst first, as aligned plain text (the run's language)."""
    zh = current() == "zh"
    rows = []
    for r in results:
        sign = {">=": "≥", "<=": "≤", "==": "="}[r["comparison"]]
        rows.append(
            [
                r["title"] if zh else r.get("title_en") or r["title"],
                format_value(r["value"], r["unit"]),
                sign + format_value(r["target"], r["unit"]),
                "—" if r["met"] else format_value(r["gap"], r["unit"]),
                f"{100 * r['progress']:.0f}%",
                t("targets.met") if r["met"] else t("targets.not_met"),
            ]
        )
    met = sum(r["met"] for r in results)
    out = [
        t("targets.head", title=title, as_of=as_of, count=len(results), met=met),
        "",
        format_table(t("targets.cols").split("|"), rows),
    ]
    towns = town_table(results)
    if towns:
        ids = [r["id"] for r in results if any(t["by_target"][r["id"]] for t in towns)]
        short = {r["id"]: r["short"] if zh else r["id"] for r in results}
        out += [
            "",
            t("targets.towns_head"),
            "",
            format_table(
                [t("targets.col_town"), t("targets.col_total"), *[short[i] for i in ids]],
                [[t["town"], t["outstanding"], *[t["by_target"][i] for i in ids]] for t in towns],
            ),
        ]
    return "\n".join(out)
