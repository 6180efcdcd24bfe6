"""``hehu export``: layers, filtered or queried, to GeoJSON, GeoPackage, Shapefile, KML,
CSV or an Excel ledger (台账).

    hehu export --layers violations --format geojson --near 丹金溧漕河:50 --out 近河问题.geojson
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.common import add_registry_argument, open_registry
from cli.lang import current, h, t
from geo.export import FORMATS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help=h("export.help"),
        description=h("export.description"),
    )
    p.add_argument("--layers", required=True, metavar="ID[,ID…]", help=h("export.layers"))
    p.add_argument("--format", required=True, metavar="FMT", help=h("export.format", formats=" | ".join(FORMATS)))
    p.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help=h("export.out"),
    )
    add_registry_argument(p)
    p.add_argument("--town", metavar="NAME", help=h("export.town"))
    p.add_argument("--bbox", metavar="MINLON,MINLAT,MAXLON,MAXLAT", help=h("export.bbox"))
    p.add_argument(
        "--where",
        action="append",
        metavar="FIELD=VALUE",
        help=h("export.where"),
    )
    p.add_argument("--near", metavar="TARGET:METRES", help=h("export.near"))
    p.add_argument("--within", metavar="AREA", help=h("export.within"))
    p.add_argument(
        "--crs",
        metavar="CRS",
        help=h("export.crs"),
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--problems", dest="problems", action="store_true", default=None,
        help=h("export.problems"),
    )
    group.add_argument(
        "--all-features", dest="problems", action="store_false",
        help=h("export.all_features"),
    )
    p.add_argument(
        "--with-attachments", action="store_true",
        help=h("export.with_attachments"),
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from geo.export import ExportRequest, export_request

    registry = open_registry(args)
    try:
        result = export_request(registry, ExportRequest(
            args.layers, args.format, args.out, town=args.town, bbox=args.bbox, where=args.where,
            near=args.near, within=args.within, crs=args.crs, problems=args.problems,
            with_attachments=args.with_attachments,
        ))
        # A file named by the person says what it holds; one named from the selection
        # gets the selection in words on the report line.
        line = report_line(result, registry.catalog, result.description if args.out is None else "")
        if result.attachments is not None:
            line += t("export.attachments", n=result.attachment_count, path=result.attachments)
        print(line)
    finally:
        registry.close()
    return 0


def report_line(result, catalog, description: str) -> str:
    """What was written, in the run's language (geo.export's own line is English, and
    says an empty export in both languages already)."""
    if current() == "en" or result.empty:
        return result.message
    per = "，".join(f"{catalog[lid].title('zh')}({lid}) {n}" for lid, n in result.counts.items())
    what = f"（{description}）" if description else ""
    line = t("export.wrote", total=result.total, per=per, what=what, out=result.path, fmt=result.format,
             crs=result.crs)
    return line + "".join(t("export.note", note=n) for n in result.notes)
