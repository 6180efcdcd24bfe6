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
from geo.patrols.clean import TRACK_CRS
from geo.patrols.tracks import TrackError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "patrols",
        help="patrol tracks (巡河): import GPX/KML/CSV/XLSX, reach coverage, chiefs' duty",
        description="River chiefs' patrols: import tracks, measure reach coverage, count duty.",
    )
    psub = p.add_subparsers(dest="patrols_command", metavar="ACTION", required=True)

    imp = psub.add_parser("import", help="import track files (GPX, KML, KMZ, CSV, XLSX) for one chief")
    add_registry_argument(imp)
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    imp.add_argument("--chief", required=True, metavar="NAME", help="the chief who walked the tracks")
    imp.add_argument("--crs", choices=TRACK_CRS, default="wgs84",
                     help="coordinates as recorded: wgs84 (GPS), gcj02 (Amap/Tencent apps), bd09 (Baidu)")
    imp.add_argument("--source", default=None, metavar="SOURCE",
                     help="河长通APP, GPX, 无人机, 视频 or 其他 (default: GPX for .gpx files, else 河长通APP)")
    imp.add_argument("--dry-run", action="store_true", help="read, clean and judge, but write nothing")
    imp.add_argument("--format", choices=["table", "json"], default="table")
    imp.set_defaults(func=run_import)

    cov = psub.add_parser("coverage", help="per reach: length within --buffer m of a valid track in the period")
    add_registry_argument(cov)
    cov.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD")
    cov.add_argument("--to", dest="end", required=True, metavar="YYYY-MM-DD")
    cov.add_argument("--river", default=None, metavar="NAME|CODE")
    cov.add_argument("--buffer", default=None, metavar="METRES", help="metres either side of a track (default 50)")
    cov.add_argument("--format", choices=["table", "json"], default="table")
    cov.set_defaults(func=run_coverage)

    ch = psub.add_parser("chiefs", help="list the chiefs duty is counted for; --derive fills an empty chiefs layer")
    add_registry_argument(ch)
    ch.add_argument("--derive", action="store_true",
                    help="write chiefs derived from the rivers' and lakes' chief labels into an empty chiefs layer")
    ch.set_defaults(func=run_chiefs)

    duty = psub.add_parser("duty", help="per chief: patrols required by level, valid patrols done, met")
    add_registry_argument(duty)
    duty.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD")
    duty.add_argument("--to", dest="end", required=True, metavar="YYYY-MM-DD")
    duty.add_argument("--format", choices=["table", "json"], default="table")
    duty.set_defaults(func=run_duty)


def run_import(args: argparse.Namespace) -> int:
    from geo.patrols.importing import import_tracks

    files = []
    for path in args.files:
        try:
            files.append((path.name, path.read_bytes()))
        except OSError as exc:
            raise TrackError(f"{path}: cannot be read ({exc.strerror})") from None
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
         p["length_m"], "是" if p["valid"] else "否", p["invalid_reason"] or ""]
        for p, _ in result.patrols
    ]
    print(format_table(["编号", "河湖", "开始(UTC)", "时长(分)", "里程(米)", "有效", "原因"], rows))
    for line in result.report:
        print(line)
    verb = "would import" if args.dry_run else "imported"
    print(f"hehu patrols: {verb} {len(result.patrols)} patrol(s)")
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
    print(format_table(["编码", "河道", "长度(米)", "已巡(米)", "覆盖率"], rows))
    return 0


def run_chiefs(args: argparse.Namespace) -> int:
    from geo.patrols.importing import derive_chiefs, known_chiefs

    registry = open_registry(args)
    try:
        if args.derive:
            n = derive_chiefs(registry, user="cli")
            print(f"hehu patrols: wrote {n} chiefs derived from the reaches' chief labels")
        chiefs = known_chiefs(registry)
        stored = registry.count("chiefs") > 0
    finally:
        registry.close()
    rows = [[r.get("name"), r.get("level"), r.get("post") or "", r.get("town") or "", r.get("reaches") or ""]
            for r in chiefs.to_dict("records")]
    print(format_table(["河湖长", "级别", "职务", "镇", "负责河湖"], rows))
    if not stored:
        print("(derived from the reaches' chief labels; `--derive` stores them in the chiefs layer)")
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
    rows = [[r.chief, r.level, r.required, r.done, "是" if r.met else "否"] for r in table.itertuples()]
    print(format_table(["河湖长", "级别", "应巡", "有效巡河", "达标"], rows))
    print()
    rrows = [[r.level, int(r.chiefs), int(r.met), f"{100 * r.rate:.1f}%"] for r in rate.itertuples()]
    print(format_table(["级别", "河湖长", "达标", "巡河率"], rrows))
    return 0
