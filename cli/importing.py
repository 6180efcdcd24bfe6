"""``hehu import FILE --layer LAYER``: bring a file into the registry, all or nothing."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.common import add_registry_argument, open_registry
from geo.stores import is_database_uri


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="import GeoJSON, GeoPackage, Shapefile, KML/KMZ, CSV or XLSX into a layer",
        description=(
            "Read a file, map its columns onto the layer's fields, check every row, and write "
            "them all in one transaction (or nothing). The report names every problem by row, "
            "field and value."
        ),
    )
    p.add_argument("file", type=Path, help="the file (a shapefile may be a .zip or a folder)")
    p.add_argument("--layer", required=True, help="the layer to import into, e.g. violations")
    p.add_argument("--crs", help="the coordinates' CRS when the file does not say: EPSG:4326, 4490, 4549, 4528, gcj02, bd09")
    p.add_argument("--encoding", help="text encoding of a shapefile without .cpg or a CSV (e.g. gbk)")
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="SRC=FIELD",
        help="map a source column to a field (name or 中文 title); repeatable",
    )
    p.add_argument("--update", action="store_true", help="update features whose code already exists")
    p.add_argument("--skip-invalid", action="store_true", help="import the valid rows; write the rejected ones to --rejects")
    p.add_argument("--rejects", type=Path, metavar="PATH", help="where --skip-invalid writes rejected rows (CSV)")
    p.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    p.add_argument("--strict", action="store_true", help="refuse invalid geometries instead of repairing them")
    p.add_argument("--source-layer", help="the layer (GeoPackage), sheet (XLSX) or shapefile to read")
    p.add_argument("--user", default="import", help="name recorded in the edit history (default: import)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--create", action="store_true", help="create an empty registry at --registry when none exists")
    add_registry_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from geo.importer import ImportFileError, ImportOptions, import_file, parse_mapping

    if args.rejects and not args.skip_invalid:
        raise ImportFileError("--rejects says where --skip-invalid writes the refused rows: give both")
    options = ImportOptions(
        crs=args.crs,
        encoding=args.encoding,
        mapping=parse_mapping(args.map),
        update=args.update,
        skip_invalid=args.skip_invalid,
        dry_run=args.dry_run,
        strict=args.strict,
        source_layer=args.source_layer,
        rejects=args.rejects,
    )
    if args.create and not is_database_uri(args.registry) and not Path(args.registry).exists():
        from geo.registry import Registry

        Registry.create(args.registry).close()
    registry = open_registry(args)
    try:
        report = import_file(registry, args.file, args.layer, options, user=args.user)
    finally:
        registry.close()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(report.text())
    refused = bool(report.errors) and not report.written and not (args.dry_run and args.skip_invalid)
    if refused:
        print(f"hehu import: error: {report.summary()}", file=sys.stderr)
        return 2
    return 0
