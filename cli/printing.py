"""``hehu print``: a printable district map, vector PDF (or PNG), on A4, A3 or A1; or
one of the sheets of :mod:`cli.sheets` (``river``, ``case``, ``signboards``).

    hehu print --layers towns,rivers,violations --title 金坛区清四乱问题分布图 \\
               --paper A3 --orientation landscape --out 清四乱.pdf
    hehu print river 丹金溧漕河 --out 丹金溧漕河一河一档.pdf
    hehu print case QSL-2021-0024 QSL-2021-0263 --out 交办单.pdf
    hehu print signboards --river 丹金溧漕河 --base-url https://hehu.example.cn --out 公示牌.pdf
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.common import add_registry_argument, open_registry
from cli.lang import current, h


def register(sub: argparse._SubParsersAction) -> None:
    from geo.carto import MAX_DPI, PAPER_MM

    p = sub.add_parser(
        "print",
        help=h("print.help"),
        description=h("print.description"),
    )
    p.add_argument("sheet", nargs="?", choices=("river", "case", "signboards"),
                   help=h("print.sheet"))
    p.add_argument("names", nargs="*", metavar="NAME|CODE", help=h("print.names"))
    p.add_argument("--layers", metavar="ID[,ID…]", help=h("print.layers"))
    p.add_argument("--river", metavar="NAME", help=h("print.river"))
    p.add_argument("--base-url", metavar="URL",
                   help=h("print.base_url"))
    p.add_argument("--title", metavar="TEXT", help=h("print.title"))
    p.add_argument("--subtitle", metavar="TEXT", help=h("print.subtitle"))
    p.add_argument("--paper", default="A3", metavar="|".join(PAPER_MM), help=h("print.paper"))
    p.add_argument("--orientation", default="landscape", metavar="portrait|landscape", help=h("print.orientation"))
    p.add_argument("--out", type=Path, required=True, metavar="PATH.pdf|PATH.png", help=h("print.out"))
    p.add_argument("--dpi", metavar="N", help=h("print.dpi", max=MAX_DPI))
    p.add_argument("--town", metavar="NAME", help=h("print.town"))
    p.add_argument("--bbox", metavar="MINLON,MINLAT,MAXLON,MAXLAT", help=h("print.bbox"))
    p.add_argument("--near", metavar="TARGET:METRES", help=h("print.near"))
    p.add_argument("--where", action="append", metavar="FIELD=VALUE", help=h("print.where"))
    add_registry_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from geo.carto import render_map

    if args.sheet:
        from cli.sheets import run_sheet

        return run_sheet(args)
    if not args.layers or args.names:
        from geo.errors import QueryError

        raise QueryError(key="cli.print.what", parameter="layers")

    registry = open_registry(args)
    try:
        title = args.title or registry.metadata.get("title") or "河湖一张图"
        result = render_map(
            registry, args.layers, args.out, title=title, subtitle=args.subtitle, paper=args.paper,
            orientation=args.orientation, dpi=args.dpi, town=args.town, bbox=args.bbox,
            near=args.near, where=args.where,
        )
    finally:
        registry.close()
    print(report_line(result))
    return 0


def report_line(result) -> str:
    """What was printed, in the run's language (the line is geo.carto's, from geo/messages)."""
    return result.text(current())
