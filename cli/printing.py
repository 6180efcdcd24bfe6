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


def register(sub: argparse._SubParsersAction) -> None:
    from geo.carto import MAX_DPI, PAPER_MM

    p = sub.add_parser(
        "print",
        help="draw a printable map (PDF or PNG) of chosen layers, a town, a box or a query result",
        description=(
            "Draw the chosen layers over the district outline and town boundaries, with title, "
            "legend (exactly the layers drawn), scale bar, north arrow, date and data sources. "
            "With --near the buffer and matches are highlighted and the PDF gains pages listing "
            "the matches."
        ),
    )
    p.add_argument("sheet", nargs="?", choices=("river", "case", "signboards"),
                   help="print a sheet instead of a map: river NAME (一河一档), case CODE… (交办单), signboards")
    p.add_argument("names", nargs="*", metavar="NAME|CODE", help="the river (river) or violation codes (case)")
    p.add_argument("--layers", metavar="ID[,ID…]", help="layer ids, comma-separated (maps)")
    p.add_argument("--river", metavar="NAME", help="signboards: only this river's boards")
    p.add_argument("--base-url", metavar="URL",
                   help="signboards: public address the QR codes open (default: $HEHU_PUBLIC_BASE_URL)")
    p.add_argument("--title", metavar="TEXT", help="map title (default: the registry's title)")
    p.add_argument("--subtitle", metavar="TEXT")
    p.add_argument("--paper", default="A3", metavar="|".join(PAPER_MM), help="paper size (default A3)")
    p.add_argument("--orientation", default="landscape", metavar="portrait|landscape", help="(default landscape)")
    p.add_argument("--out", type=Path, required=True, metavar="PATH.pdf|PATH.png", help="the file to write")
    p.add_argument("--dpi", metavar="N", help=f"PNG resolution (default 200, at most {MAX_DPI})")
    p.add_argument("--town", metavar="NAME", help="map one town (the rest veiled)")
    p.add_argument("--bbox", metavar="MINLON,MINLAT,MAXLON,MAXLAT", help="map this box")
    p.add_argument("--near", metavar="TARGET:METRES", help="map the problems within METRES of a river or lake")
    p.add_argument("--where", action="append", metavar="FIELD=VALUE", help="property filter, repeatable")
    add_registry_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from geo.carto import render_map

    if args.sheet:
        from cli.sheets import run_sheet

        return run_sheet(args)
    if not args.layers or args.names:
        from geo.errors import QueryError

        raise QueryError("give --layers for a map, or one of: river NAME, case CODE…, signboards", parameter="layers")

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
    print(result.message)
    return 0
