"""``hehu check``: name the rows that break the catalog's rules (exit 1 when any).

    hehu check --registry data/jintan.gpkg
    hehu check --layers violations --format json --lang en
"""

from __future__ import annotations

import argparse
import json

from cli.common import add_registry_argument, format_table, open_registry
from cli.lang import h, t
from geo.check import check_registry
from geo.i18n import message


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help=h("check.help"),
        description=h("check.description"),
    )
    add_registry_argument(p)
    p.add_argument("--layers", help=h("check.layers"))
    p.add_argument("--format", choices=["table", "json"], default="table", help=h("format_table_json"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_registry(args) as reg:
        layers = None
        if args.layers:
            layers = [s.strip() for s in args.layers.split(",") if s.strip()]
            for lid in layers:
                reg.layer(lid)  # an unknown layer is a one-line error
        findings = check_registry(reg, layers)
        name = reg.store.name
        checked = len(layers) if layers else len(reg.layers)
    if args.format == "json":
        print(json.dumps([f.to_dict(args.lang) for f in findings], ensure_ascii=False, indent=1))
    else:
        if findings:
            rows = [[f.layer, f.fid, f.field, "" if f.value is None else f.value, f.text(args.lang)] for f in findings]
            headers = [t("check.col_layer"), "fid", t("check.col_field"), t("check.col_value"), t("check.col_problem")]
            print(format_table(headers, rows))
        key = "check.summary-bad" if findings else "check.summary-ok"
        print(message(key, args.lang, registry=name, count=len(findings), layers=checked))
    return 1 if findings else 0
