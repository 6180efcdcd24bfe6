"""``hehu quality``: water-quality observations, GB 3838-2002 classes and the report.

    hehu quality import 月报.xlsx [--dry-run] [--update]
    hehu quality report --year 2021 [--section DM-01] [--format table|json|xlsx] [--out F] [--pdf OUT]
"""

from __future__ import annotations

import argparse
import json
import sys

from cli.common import add_registry_argument, format_table, open_registry
from cli.lang import h, t
from geo.errors import HehuError
from geo.i18n import message


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "quality",
        help=h("quality.help"),
        description=h("quality.description"),
    )
    qsub = p.add_subparsers(dest="quality_command", metavar="ACTION", required=True)

    imp = qsub.add_parser(
        "import",
        help=h("quality.import"),
        description=h("quality.import_description"),
    )
    add_registry_argument(imp)
    imp.add_argument("file", help=h("quality.file"))
    imp.add_argument("--dry-run", action="store_true", help=h("quality.dry_run"))
    imp.add_argument("--update", action="store_true", help=h("quality.update"))
    imp.add_argument("--user", default="system", help=h("quality.user"))
    imp.set_defaults(func=run_import)

    rep = qsub.add_parser(
        "report",
        help=h("quality.report"),
        description=h("quality.report_description"),
    )
    add_registry_argument(rep)
    rep.add_argument("--year", type=int, required=True, help=h("quality.year"))
    rep.add_argument("--section", default=None, metavar="CODE", help=h("quality.section"))
    rep.add_argument("--format", choices=("table", "json", "xlsx"), default="table", help=h("quality.format"))
    rep.add_argument("--out", default=None, metavar="PATH", help=h("quality.out"))
    rep.add_argument("--pdf", default=None, metavar="OUT", help=h("quality.pdf"))
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
                raise HehuError(key="quality.xlsx_needs_out", parameter="out")
            write_report_xlsx(rows, args.out, args.year)
            print(t("quality.wrote", path=args.out), file=sys.stderr)
        else:
            from geo.quality.sheet import table_rows

            heads, cells = table_rows(rows, args.lang)
            print(format_table(heads, cells))
        if args.pdf:
            from geo.quality.page import write_quality_pdf

            write_quality_pdf(registry, args.pdf, args.year, lang=args.lang)
            print(t("quality.wrote", path=args.pdf), file=sys.stderr)
    finally:
        registry.close()
    return 0
