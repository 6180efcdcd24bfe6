"""``hehu copy SRC DST``: copy a whole registry between a GeoPackage and PostGIS."""

from __future__ import annotations

import argparse
import sys

from cli.lang import h, t
from geo.stores import display_name


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "copy",
        help=h("copy.help"),
    )
    p.add_argument("source", metavar="SRC", help=h("copy.store"))
    p.add_argument("target", metavar="DST", help=h("copy.store"))
    p.add_argument("--replace", action="store_true", help=h("copy.replace"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from geo.copy import copy_registry

    counts = copy_registry(args.source, args.target, replace=args.replace)
    other = ("history", "users", "attachments")
    features = sum(v for k, v in counts.items() if k not in other)
    print(
        t("copy.done", source=display_name(args.source), target=display_name(args.target), features=features,
          layers=sum(k not in other for k in counts), history=counts["history"], users=counts["users"],
          attachments=counts.get("attachments", 0)),
        file=sys.stderr,
    )
    return 0
