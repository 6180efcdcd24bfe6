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
    from geo.export import (
        export,
        export_filename,
        parse_crs,
        parse_format,
        parse_layers,
        select,
        write_frames,
    )

    registry = open_registry(args)
    try:
        filters = dict(town=args.town, bbox=args.bbox, where=args.where, near=args.near, within=args.within)
        if args.out is not None:
            result = export(registry, args.layers, args.format, args.out, crs=args.crs, problems=args.problems, **filters)
            description = ""
        else:
            fmt = parse_format(args.format)
            crs = parse_crs(fmt, args.crs)
            sel = select(registry, args.layers, problems=args.problems, **filters)
            layers = parse_layers(registry.catalog, args.layers)
            out = Path(export_filename(layers, fmt, sel.tags, crs=crs))
            description = sel.describe()
            result = write_frames(sel.frames, fmt, out, crs, catalog=registry.catalog, description=description,
                                  registry=registry)
        line = report_line(result, registry.catalog, description)
        if args.with_attachments:
            from geo.export_media import write_attachments_zip

            sel = select(registry, args.layers, problems=args.problems, **filters)
            media = result.path.with_name(result.path.name.split(".")[0] + "_附件.zip")
            n = write_attachments_zip(registry, sel.frames, media)
            line += t("export.attachments", n=n, path=media)
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
