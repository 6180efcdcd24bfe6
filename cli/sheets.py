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
from geo.errors import QueryError

BASE_URL_ENV = "HEHU_PUBLIC_BASE_URL"


def run_sheet(args: argparse.Namespace) -> int:
    """Make the sheet ``args.sheet`` and write it to ``args.out``."""
    from geo.sheets import write_pdf

    if args.out.suffix.lower() != ".pdf":
        raise QueryError(f"--out {args.out}: sheets are PDF, give a name ending in .pdf", parameter="out")
    registry = open_registry(args)
    try:
        if args.sheet == "river":
            from geo.dossier import render_dossier_pdf, river_dossier

            if len(args.names) != 1:
                raise QueryError("hehu print river takes one river or lake (code, name or alias)", parameter="NAME")
            d = river_dossier(registry, args.names[0])
            data, what = render_dossier_pdf(registry, d), f"{d.name} 一河一档: {len(d.reaches)} reaches, {d.open_count} open problems"
        elif args.sheet == "case":
            from geo.casesheet import render_case_pdf

            data = render_case_pdf(registry, args.names)
            what = f"交办单: {len(dict.fromkeys(args.names))} pages"
        else:
            from geo.signboards import render_signboards_pdf, signboard_sheets

            if args.names:
                raise QueryError("hehu print signboards takes no names; use --river NAME", parameter="river")
            base = args.base_url or os.environ.get(BASE_URL_ENV) or ""
            boards = signboard_sheets(registry, base, args.river)
            data = render_signboards_pdf(registry, boards)
            flagged = sum(b["needs_update"] for b in boards)
            what = f"公示牌: {len(boards)} boards, {flagged} flagged 需更新"
    finally:
        registry.close()
    write_pdf(args.out, data)
    print(f"wrote {args.out} ({what})")
    return 0
