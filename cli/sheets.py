"""``hehu print river|case|signboards``: the 一河一档 dossier, 交办单 and signboard sheets.

    hehu print river 丹金溧漕河 --out 丹金溧漕河.pdf
    hehu print case QSL-2021-0024 QSL-2021-0263 --out 交办单.pdf
    hehu print signboards --river 丹金溧漕河 --base-url https://hehu.example.cn --out 公示牌.pdf

Registered by :mod:`cli.printing` (``hehu print`` with a sheet name); errors are one
line and exit 2, and nothing is written unless the whole PDF was made.
"""

from __future__ import annotations

import argparse
import os

from cli.common import open_registry
from cli.lang import t
from geo.errors import QueryError

BASE_URL_ENV = "HEHU_PUBLIC_BASE_URL"


def run_sheet(args: argparse.Namespace) -> int:
    """Make the sheet ``args.sheet`` and write it to ``args.out``."""
    from geo.sheets import write_pdf

    if args.out.suffix.lower() != ".pdf":
        raise QueryError(key="cli.sheets.pdf_only", params={"out": args.out}, parameter="out")
    registry = open_registry(args)
    try:
        if args.sheet == "river":
            from geo.dossier import render_dossier_pdf, river_dossier

            if len(args.names) != 1:
                raise QueryError(key="cli.sheets.one_river", parameter="NAME")
            d = river_dossier(registry, args.names[0])
            data = render_dossier_pdf(registry, d)
            what = t("sheets.dossier", name=d.name, reaches=len(d.reaches), problems=d.open_count)
        elif args.sheet == "case":
            from geo.casesheet import render_case_pdf

            data = render_case_pdf(registry, args.names)
            what = t("sheets.cases", pages=len(dict.fromkeys(args.names)))
        else:
            from geo.signboards import render_signboards_pdf, signboard_sheets

            if args.names:
                raise QueryError(key="cli.sheets.no_names", parameter="river")
            base = args.base_url or os.environ.get(BASE_URL_ENV) or ""
            boards = signboard_sheets(registry, base, args.river)
            data = render_signboards_pdf(registry, boards)
            flagged = sum(b["needs_update"] for b in boards)
            what = t("sheets.boards", boards=len(boards), flagged=flagged)
    finally:
        registry.close()
    write_pdf(args.out, data)
    print(t("sheets.wrote", out=args.out, what=what))
    return 0
