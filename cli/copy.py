"""``hehu copy SRC DST``: copy a whole registry between a GeoPackage and PostGIS."""

from __future__ import annotations

import argparse
import sys

from geo.stores import display_name


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "copy",
        help="copy a whole registry (features with fids, history, users, metadata) between stores",
    )
    p.add_argument("source", metavar="SRC", help="a GeoPackage file or a postgresql:// URI")
    p.add_argument("target", metavar="DST", help="a GeoPackage file or a postgresql:// URI")
    p.add_argument("--replace", action="store_true", help="overwrite a target that already holds data")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from geo.copy import copy_registry

    counts = copy_registry(args.source, args.target, replace=args.replace)
    other = ("history", "users", "attachments")
    features = sum(v for k, v in counts.items() if k not in other)
    print(
        f"hehu copy: {display_name(args.source)} → {display_name(args.target)}: {features} features "
        f"in {sum(k not in other for k in counts)} layers, {counts['history']} history rows, {counts['users']} users, "
        f"{counts.get('attachments', 0)} attachments",
        file=sys.stderr,
    )
    return 0
