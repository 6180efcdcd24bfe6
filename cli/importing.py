"""``hehu import FILE --layer LAYER``: bring a file into the registry, all or nothing."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.common import add_registry_argument, open_registry
from cli.lang import current, h, t
from geo.stores import is_database_uri


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help=h("import.help"),
        description=h("import.description"),
    )
    p.add_argument("file", type=Path, help=h("import.file"))
    p.add_argument("--layer", required=True, help=h("import.layer"))
    p.add_argument("--crs", help=h("import.crs"))
    p.add_argument("--encoding", help=h("import.encoding"))
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="SRC=FIELD",
        help=h("import.map"),
    )
    p.add_argument("--update", action="store_true", help=h("import.update"))
    p.add_argument("--skip-invalid", action="store_true", help=h("import.skip_invalid"))
    p.add_argument("--rejects", type=Path, metavar="PATH", help=h("import.rejects"))
    p.add_argument("--dry-run", action="store_true", help=h("import.dry_run"))
    p.add_argument("--strict", action="store_true", help=h("import.strict"))
    p.add_argument("--source-layer", help=h("import.source_layer"))
    p.add_argument("--user", default="import", help=h("import.user"))
    p.add_argument("--json", action="store_true", help=h("import.json"))
    p.add_argument("--create", action="store_true", help=h("import.create"))
    add_registry_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from geo.importer import ImportFileError, ImportOptions, import_file, parse_mapping

    if args.rejects and not args.skip_invalid:
        raise ImportFileError(key="cli.import.rejects_needs_skip")
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
        print(report.text(current()))
    refused = bool(report.errors) and not report.written and not (args.dry_run and args.skip_invalid)
    if refused:
        print(t("error_line", command="hehu import", message=report.summary(current())), file=sys.stderr)
        return 2
    return 0

