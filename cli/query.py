"""``hehu query near|within|nearest|intersects``: spatial questions from the command line.

    hehu query near --target 丹金溧漕河 --distance 50 [--layers violations,micro_water_bodies]
    hehu query within --area 儒林镇 --layers violations
    hehu query nearest --point 119.56,31.72 --layer sewage_plants -k 3
    hehu query intersects --geometry "LINESTRING (119.5 31.7, 119.6 31.75)" --layers rivers

``--format table`` (default) prints an aligned table in Chinese (``--lang en`` for
English); ``geojson`` prints a FeatureCollection to stdout for piping; ``csv`` prints
CSV with the geometry as WKT.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import sys

import shapely

from cli.common import add_registry_argument, format_table, open_registry
from geo import query
from geo.errors import QueryError

_HEADERS = {
    "zh": {"distance": "距离(米)", "layer": "图层", "code": "编号", "name": "名称", "status": "状态", "town": "所在镇"},
    "en": {"distance": "Distance (m)", "layer": "Layer", "code": "Code", "name": "Name", "status": "Status", "town": "Town"},
}


class _OneLineParser(argparse.ArgumentParser):
    """A question's parser whose usage errors are one line too (exit 2), like bad values."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("query", help="spatial questions: near, within, nearest, intersects (metres, EPSG:4549)")
    qsub = p.add_subparsers(dest="question", metavar="QUESTION", required=True, parser_class=_OneLineParser)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--where", metavar="CQL2", help="CQL2-text filter, e.g. \"status = '整改中'\"")
        q.add_argument("--bbox", metavar="MINLON,MINLAT,MAXLON,MAXLAT", help="keep features in this box")
        q.add_argument("--format", choices=("table", "geojson", "csv"), default="table")
        q.add_argument("--lang", choices=("zh", "en"), default="zh", help="table headings")
        add_registry_argument(q)

    near = qsub.add_parser("near", help="features within a distance of a river, lake or geometry")
    near.add_argument("--target", required=True, help="river/lake code, name or alias, or WKT/GeoJSON")
    near.add_argument("--distance", required=True, help="distance, in --units (default metres)")
    near.add_argument("--units", default="meters", help="meters (default), kilometers, feet, statute miles...")
    near.add_argument("--layers", help="comma-separated layer ids (default: the problem layers)")
    near.add_argument("--all", action="store_true", help="every feature, not only problems")
    common(near)
    near.set_defaults(func=_near)

    within = qsub.add_parser("within", help="features in a town, lake, river or polygon")
    within.add_argument("--area", required=True, help="town, river or lake name/code, or WKT/GeoJSON polygon")
    within.add_argument("--layers", help="comma-separated layer ids (default: the problem layers)")
    within.add_argument("--all", action="store_true", help="every feature, not only problems")
    common(within)
    within.set_defaults(func=_within)

    nearest = qsub.add_parser("nearest", help="the k features of a layer nearest to a point")
    nearest.add_argument("--point", required=True, metavar="LON,LAT", help="lon,lat (or WKT/GeoJSON)")
    nearest.add_argument("--layer", required=True, help="layer id, e.g. sewage_plants")
    nearest.add_argument("-k", default="1", help="how many (default 1)")
    nearest.add_argument("--max-distance", help="only features this close (metres, or --units)")
    nearest.add_argument("--units", default="meters")
    common(nearest)
    nearest.set_defaults(func=_nearest)

    inter = qsub.add_parser("intersects", help="features intersecting a geometry")
    inter.add_argument("--geometry", required=True, help="WKT or GeoJSON in lon/lat, or a river/lake name")
    inter.add_argument("--layers", help="comma-separated layer ids (default: the problem layers)")
    common(inter)
    inter.set_defaults(func=_intersects)


def _option_names(func):
    """Errors name the command-line options (``--where``), not the HTTP parameters (``filter``)."""

    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except QueryError as exc:
            message = exc.message
            for http, option in (("filter:", "--where:"), ("max_distance ", "--max-distance "),
                                 ("ask layers=", "ask --layers "), ("(area=", "(--area ")):
                message = message.replace(http, option)
            exc.message = message
            raise

    return wrapper


@_option_names
def _near(args: argparse.Namespace) -> int:
    with open_registry(args) as reg:
        gdf = query.near(
            reg, args.target, args.distance, args.layers, all_features=args.all, units=args.units,
            where=args.where, bbox=args.bbox,
        )
        return _print(reg, gdf, args)


@_option_names
def _within(args: argparse.Namespace) -> int:
    with open_registry(args) as reg:
        gdf = query.within(reg, args.area, args.layers, all_features=args.all, where=args.where, bbox=args.bbox)
        return _print(reg, gdf, args)


@_option_names
def _nearest(args: argparse.Namespace) -> int:
    with open_registry(args) as reg:
        gdf = query.nearest(
            reg, args.point, args.layer, k=args.k, max_distance_m=args.max_distance, units=args.units,
            where=args.where, bbox=args.bbox,
        )
        return _print(reg, gdf, args)


@_option_names
def _intersects(args: argparse.Namespace) -> int:
    with open_registry(args) as reg:
        gdf = query.intersects(reg, args.geometry, args.layers, where=args.where, bbox=args.bbox)
        return _print(reg, gdf, args)


def _print(reg, gdf, args: argparse.Namespace) -> int:
    out = sys.stdout
    if args.format == "geojson":
        json.dump(query.result_to_geojson(reg, gdf), out, ensure_ascii=False)
        out.write("\n")
        return 0
    if args.format == "csv":
        _write_csv(reg, gdf, out)
        return 0
    out.write(_summary(reg, gdf, args) + "\n")
    if len(gdf):
        distances = args.question in ("near", "nearest")  # within/intersects: every distance is 0
        out.write(_table(reg, gdf, args.lang, distances=distances) + "\n")
    return 0


def _summary(reg, gdf, args: argparse.Namespace) -> str:
    label = gdf.attrs.get("target_label", "")
    titles = "、".join(reg.catalog[lid].title(args.lang) for lid in gdf.attrs.get("layers", []))
    d = gdf.attrs.get("distance_m")
    n = len(gdf)
    if args.lang == "en":
        if args.question == "near":
            return f"{n} feature(s) of {titles} within {d:g} m of {label}"
        if args.question == "nearest":
            return f"{n} feature(s) of {titles} nearest to {label}"
        if args.question == "intersects":
            return f"{n} feature(s) of {titles} intersecting {label}"
        return f"{n} feature(s) of {titles} in {label}"
    if args.question == "near":
        kind = "处问题" if not args.all else "个要素"
        return f"{label} {d:g} 米范围内（{titles}）：{n} {kind}"
    if args.question == "nearest":
        return f"距 {label} 最近的{titles}：{n} 个"
    if args.question == "intersects":
        return f"与{label}相交（{titles}）：{n} 个要素"
    return f"{label} 范围内（{titles}）：{n} 个要素"


def _table(reg, gdf, lang: str, *, distances: bool = True) -> str:
    """The result as aligned columns (Chinese counts two cells); distance first if asked."""
    h = _HEADERS[lang]
    has_status = "status" in gdf.columns
    has_town = "town" in gdf.columns
    headers = [h["distance"], h["layer"], h["code"], h["name"]]
    if has_status:
        headers.append(h["status"])
    if has_town:
        headers.append(h["town"])
    rows = []
    for rec in gdf.to_dict("records"):
        layer = reg.catalog[rec["layer"]]
        code = rec.get(layer.id_field)
        name = rec.get(layer.label_field) if layer.label_field != layer.id_field else ""
        row = [f"{rec['distance_m']:.1f}", layer.title(lang), _cell(code), _cell(name)]
        if has_status:
            row.append(_cell(rec.get("status")))
        if has_town:
            row.append(_cell(rec.get("town")))
        rows.append(row)
    if all(r[3] == "" for r in rows):  # layers labelled by their code (violations)
        headers.pop(3)
        rows = [r[:3] + r[4:] for r in rows]
    if not distances:
        headers, rows = headers[1:], [r[1:] for r in rows]
    return format_table(headers, rows)


def _cell(value) -> str:
    from geo.export import spreadsheet_text

    if value is None:
        return ""
    if isinstance(value, float) and value != value:
        return ""
    return spreadsheet_text(str(value)) if isinstance(value, str) else str(value)


def _write_csv(reg, gdf, out) -> None:
    fields: list[str] = []
    for lid in gdf.attrs.get("layers", []):
        for f in reg.catalog[lid].field_names:
            if f not in fields:
                fields.append(f)
    writer = csv.writer(out, lineterminator="\r\n")  # CRLF: a bare CR in a field is quoted
    writer.writerow(["layer", "fid", "distance_m", *fields, "wkt"])
    for rec in gdf.to_dict("records"):
        geom = rec.get("geometry")
        writer.writerow(
            [rec["layer"], rec["fid"], f"{rec['distance_m']:.3f}", *(_cell(rec.get(f)) for f in fields),
             "" if geom is None else shapely.to_wkt(geom, rounding_precision=7)]
        )
