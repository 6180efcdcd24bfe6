"""``hehu patrols``: import chiefs' GPS tracks, reach coverage, and every chief's duty.

    hehu patrols import track.gpx more.kml --chief 谢琴 [--crs gcj02] [--dry-run]
    hehu patrols coverage --from 2021-10-01 --to 2021-12-31 [--river 通济河] [--buffer 50]
    hehu patrols duty --from 2021-01-01 --to 2021-12-31 [--format json]
    hehu patrols chiefs [--derive]     # who duty is counted for; fill an empty chiefs layer
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cli.common import add_registry_argument, format_table, open_registry
from cli.lang import h, t
from geo.patrols.clean import TRACK_CRS
from geo.patrols.tracks import TrackError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "patrols",
        help=h("patrols.help"),
        description=h("patrols.description"),
    )
    psub = p.add_subparsers(dest="patrols_command", metavar="ACTION", required=True)

    imp = psub.add_parser("import", help=h("patrols.import"), description=h("patrols.import"))
    add_registry_argument(imp)
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE", help=h("patrols.files"))
    imp.add_argument("--chief", required=True, metavar="NAME", help=h("patrols.chief"))
    imp.add_argument("--crs", choices=TRACK_CRS, default="wgs84",
                     help=h("patrols.crs"))
    imp.add_argument("--source", default=None, metavar="SOURCE",
                     help=h("patrols.source"))
    imp.add_argument("--dry-run", action="store_true", help=h("patrols.dry_run"))
    imp.add_argument("--format", choices=["table", "json"], default="table", help=h("format_table_json"))
    imp.set_defaults(func=run_import)

    cov = psub.add_parser("coverage", help=h("patrols.coverage"), description=h("patrols.coverage"))
    add_registry_argument(cov)
    cov.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD", help=h("patrols.from"))
    cov.add_argument("--to", dest="end", required=True, metavar="YYYY-MM-DD", help=h("patrols.to"))
    cov.add_argument("--river", default=None, metavar="NAME|CODE", help=h("patrols.river"))
    cov.add_argument("--buffer", default=None, metavar="METRES", help=h("patrols.buffer"))
    cov.add_argument("--format", choices=["table", "json"], default="table", help=h("format_table_json"))
    cov.set_defaults(func=run_coverage)

    ch = psub.add_parser("chiefs", help=h("patrols.chiefs"), description=h("patrols.chiefs"))
    add_registry_argument(ch)
    ch.add_argument("--derive", action="store_true",
                    help=h("patrols.derive"))
    ch.set_defaults(func=run_chiefs)

    duty = psub.add_parser("duty", help=h("patrols.duty"), description=h("patrols.duty"))
    add_registry_argument(duty)
    duty.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD", help=h("patrols.from"))
    duty.add_argument("--to", dest="end", required=True, metavar="YYYY-MM-DD", help=h("patrols.to"))
    duty.add_argument("--format", choices=["table", "json"], default="table", help=h("format_table_json"))
    duty.set_defaults(func=run_duty)


def run_import(args: argparse.Namespace) -> int:
    from geo.patrols.importing import import_tracks

    files = []
    for path in args.files:
        try:
            files.append((path.name, path.read_bytes()))
        except OSError as exc:
            raise TrackError(key="cli.patrols.unreadable", params={"path": path, "reason": exc.strerror}) from None
    registry = open_registry(args)
    try:
        result = import_tracks(registry, files, args.chief, crs=args.crs, source=args.source,
                               dry_run=args.dry_run, user="cli")
    finally:
        registry.close()
    if args.format == "json":
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=1))
        return 0
    rows = [
        [p["code"], p["reaches"] or "", p["started_at"] or "", p["duration_min"] if p["duration_min"] is not None else "",
         p["length_m"], t("yes") if p["valid"] else t("no"), p["invalid_reason"] or ""]
        for p, _ in result.patrols
    ]
    print(format_table(t("patrols.import_cols").split("|"), rows))
    for line in result.report:
        print(line)
    print(t("patrols.would_import" if args.dry_run else "patrols.imported", count=len(result.patrols)))
    return 0


def run_coverage(args: argparse.Namespace) -> int:
    from geo.patrols.report import coverage_report

    registry = open_registry(args)
    try:
        result = coverage_report(registry, args.start, args.end, river=args.river, buffer_m=args.buffer)
    finally:
        registry.close()
    if args.format == "json":
        print(json.dumps([r.to_json() for r in result], ensure_ascii=False))
        return 0
    rows = [[r.code, r.name, f"{r.length_m:.0f}", f"{r.covered_m:.0f}", f"{100 * r.share:.1f}%"] for r in result]
    print(format_table(t("patrols.coverage_cols").split("|"), rows))
    return 0


def run_chiefs(args: argparse.Namespace) -> int:
    from geo.patrols.importing import derive_chiefs, known_chiefs

    registry = open_registry(args)
    try:
        if args.derive:
            n = derive_chiefs(registry, user="cli")
            print(t("patrols.derived", count=n))
        chiefs = known_chiefs(registry)
        stored = registry.count("chiefs") > 0
    finally:
        registry.close()
    rows = [[r.get("name"), r.get("level"), r.get("post") or "", r.get("town") or "", r.get("reaches") or ""]
            for r in chiefs.to_dict("records")]
    print(format_table(t("patrols.chiefs_cols").split("|"), rows))
    if not stored:
        print(t("patrols.not_stored"))
    return 0


def run_duty(args: argparse.Namespace) -> int:
    from geo.patrols.report import duty_report

    registry = open_registry(args)
    try:
        table, rate = duty_report(registry, args.start, args.end)
    finally:
        registry.close()
    if args.format == "json":
        out = [
            {"chief": r.chief, "level": r.level, "required": int(r.required), "done": int(r.done), "met": bool(r.met)}
            for r in table.itertuples()
        ]
        print(json.dumps(out, ensure_ascii=False))
        return 0
    rows = [[r.chief, r.level, r.required, r.done, t("yes") if r.met else t("no")] for r in table.itertuples()]
    print(format_table(t("patrols.duty_cols").split("|"), rows))
    print()
    rrows = [[r.level, int(r.chiefs), int(r.met), f"{100 * r.rate:.1f}%"] for r in rate.itertuples()]
    print(format_table(t("patrols.rate_cols").split("|"), rrows))
    return 0
