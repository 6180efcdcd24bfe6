"""``hehu export``: layers, filtered or queried, to GeoJSON, GeoPackage, Shapefile, KML,
CSV or an Excel ledger (台账).

    hehu export --layers violations --format geojson --near 丹金溧漕河:50 --out 近河问题.geojson
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.common import add_registry_argument, open_registry
from geo.export import FORMATS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export layers (filtered, or a query result) as geojson, gpkg, shp, kml, csv or xlsx",
        description=(
            "Write the features of one or more layers to a file for field teams and GIS tools. "
            "Filters combine (all must hold). --out is exactly the path written (for shp, a zip "
            "archive of the shapefiles and fieldmap.csv). An export that matches nothing writes a "
            "valid empty file and says so."
        ),
    )
    p.add_argument("--layers", required=True, metavar="ID[,ID…]", help="layer ids, comma-separated")
    p.add_argument("--format", required=True, metavar="FMT", help=" | ".join(FORMATS))
    p.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="the file to write (default: a name made of the layers, filters and date, in the current folder)",
    )
    add_registry_argument(p)
    p.add_argument("--town", metavar="NAME", help="features in this town (name or code)")
    p.add_argument("--bbox", metavar="MINLON,MINLAT,MAXLON,MAXLAT", help="features intersecting this box")
    p.add_argument(
        "--where",
        action="append",
        metavar="FIELD=VALUE",
        help="property filter, e.g. status=整改中; repeat a field for either value",
    )
    p.add_argument("--near", metavar="TARGET:METRES", help="features within METRES of a river or lake, e.g. 丹金溧漕河:50")
    p.add_argument("--within", metavar="AREA", help="features within a town (or lake), e.g. 儒林镇")
    p.add_argument(
        "--crs",
        metavar="CRS",
        help="output CRS: EPSG:4549 (gpkg, shp, csv, xlsx) or gcj02 for Amap users (default WGS84 lon/lat)",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--problems", dest="problems", action="store_true", default=None,
        help="only problems in layers with a problem rule (open violations...); the default with --near",
    )
    group.add_argument(
        "--all-features", dest="problems", action="store_false",
        help="every feature, problems or not (also with --near)",
    )
    p.add_argument(
        "--with-attachments", action="store_true",
        help="also write a zip of the features' photos and files next to --out (OUT_附件.zip), named by feature code",
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
        else:
            fmt = parse_format(args.format)
            crs = parse_crs(fmt, args.crs)
            sel = select(registry, args.layers, problems=args.problems, **filters)
            layers = parse_layers(registry.catalog, args.layers)
            out = Path(export_filename(layers, fmt, sel.tags, crs=crs))
            result = write_frames(sel.frames, fmt, out, crs, catalog=registry.catalog, description=sel.describe(),
                                  registry=registry)
        if getattr(args, "with_attachments", False):
            from geo.export_media import write_attachments_zip

            sel = select(registry, args.layers, problems=args.problems, **filters)
            media = result.path.with_name(result.path.name.split(".")[0] + "_附件.zip")
            n = write_attachments_zip(registry, sel.frames, media)
            result.message += f"; {n} attachment file(s) to {media}"
    finally:
        registry.close()
    print(result.message)
    return 0
