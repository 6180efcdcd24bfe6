"""``hehu quality``: water-quality observations, GB 3838-2002 classes and the report.

    hehu quality import 月报.xlsx [--dry-run] [--update]
    hehu quality report --year 2021 [--section DM-01] [--format table|json|xlsx] [--out F] [--pdf OUT]
"""

from __future__ import annotations

import argparse
import json
import sys

from cli.common import add_registry_argument, format_table, open_registry
from geo.errors import HehuError
from geo.i18n import message


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "quality",
        help="water-quality observations: import lab sheets, the GB 3838-2002 report",
        description="Import lab sheets of water-quality results and report classes by GB 3838-2002.",
    )
    qsub = p.add_subparsers(dest="quality_command", metavar="ACTION", required=True)

    imp = qsub.add_parser(
        "import",
        help="import a CSV/XLSX lab sheet (long or wide shape), all or nothing",
        description=(
            "Import water-quality results. Long sheets: section, sampled_at, parameter, value[, unit] "
            "(or 断面编号, 采样时间, 指标, 数值, 单位); wide sheets: section, sampled_at and one column "
            "per parameter (TP, 总磷(mg/L)...). µg/L is converted; '<0.01' or '0.01L' counts as half "
            "the detection limit; a time without a zone is Beijing time. Every row is checked first."
        ),
    )
    add_registry_argument(imp)
    imp.add_argument("file", help="the CSV or XLSX sheet")
    imp.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    imp.add_argument("--update", action="store_true", help="replace samples already in the registry")
    imp.add_argument("--user", default="system", help="who is importing (edit history)")
    imp.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of messages")
    imp.set_defaults(func=run_import)

    rep = qsub.add_parser(
        "report",
        help="per section: annual class, monthly classes, means, main pollutants",
        description="The water-quality report of a year by GB 3838-2002 single-factor assessment.",
    )
    add_registry_argument(rep)
    rep.add_argument("--year", type=int, required=True, help="calendar year (Beijing time)")
    rep.add_argument("--section", default=None, metavar="CODE", help="one section (code or name)")
    rep.add_argument("--format", choices=("table", "json", "xlsx"), default="table")
    rep.add_argument("--out", default=None, metavar="PATH", help="the .xlsx to write (with --format xlsx)")
    rep.add_argument("--pdf", default=None, metavar="OUT", help="also write the one-page A4 report PDF")
    rep.add_argument("--lang", choices=("zh", "en"), default="zh", help="table headings")
    rep.set_defaults(func=run_report)


def run_import(args: argparse.Namespace) -> int:
    from geo.quality.importing import import_observations

    registry = open_registry(args)
    try:
        report = import_observations(
            registry, args.file, dry_run=args.dry_run, update=args.update, user=args.user, lang=args.lang
        )
    finally:
        registry.close()
    print(report.summary(args.lang))
    from geo.quality.limits import class_name

    for code, change in report.latest.items():
        print(message("quality.latest_changed", args.lang, code=code, old=class_name(change["from"]) or "—",
                      new=class_name(change["to"]), month=change["month"], day=change["measured_on"]))
    return 0


def run_report(args: argparse.Namespace) -> int:
    from geo.quality.report import quality_report, report_json

    registry = open_registry(args)
    try:
        rows = quality_report(registry, args.year, args.section, lang=args.lang)
        if args.format == "json":
            json.dump(report_json(rows), sys.stdout, ensure_ascii=False, indent=1)
            sys.stdout.write("\n")
        elif args.format == "xlsx":
            from geo.quality.sheet import write_report_xlsx

            if not args.out:
                raise HehuError(message("quality.xlsx_needs_out", args.lang), parameter="out")
            write_report_xlsx(rows, args.out, args.year)
            print(f"hehu quality: wrote {args.out}", file=sys.stderr)
        else:
            from geo.quality.sheet import table_rows

            heads, cells = table_rows(rows, args.lang)
            print(format_table(heads, cells))
        if args.pdf:
            from geo.quality.page import write_quality_pdf

            write_quality_pdf(registry, args.pdf, args.year, lang=args.lang)
            print(f"hehu quality: wrote {args.pdf}", file=sys.stderr)
    finally:
        registry.close()
    return 0
