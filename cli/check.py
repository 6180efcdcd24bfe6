"""``hehu check``: name the rows that break the catalog's rules (exit 1 when any).

    hehu check --registry data/jintan.gpkg
    hehu check --layers violations --format json --lang en
"""

from __future__ import annotations

import argparse
import json

from cli.common import add_registry_argument, format_table, open_registry
from geo.check import check_registry
from geo.i18n import message


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="report rows that break the catalog's rules (written by other tools); exit 1 when any",
        description=(
            "Read every layer in chunks and report each row that breaks a rule of the layer "
            "catalog: empty required fields, values outside their list, repeated unique codes, "
            "malformed dates, missing or invalid geometries, geometries of another type than the layer's. Exit status 1 when any is found."
        ),
    )
    add_registry_argument(p)
    p.add_argument("--layers", help="comma-separated layer ids (default: every layer)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--lang", choices=["zh", "en"], default="zh", help="language of the messages")
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
            headers = ["图层", "fid", "字段", "值", "问题"] if args.lang == "zh" else ["layer", "fid", "field", "value", "problem"]
            print(format_table(headers, rows))
        key = "check.summary-bad" if findings else "check.summary-ok"
        print(message(key, args.lang, registry=name, count=len(findings), layers=checked))
    return 1 if findings else 0
