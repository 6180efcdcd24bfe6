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

from cli.common import CliParser, add_registry_argument, format_table, open_registry
from cli.lang import current, h, t
from geo import query
from geo.errors import QueryError

_HEADERS = ("distance", "layer", "code", "name", "status", "town")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("query", help=h("query.help"), description=h("query.help"))
    qsub = p.add_subparsers(dest="question", metavar="QUESTION", required=True, parser_class=CliParser)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--where", metavar="CQL2", help=h("query.where"))
        q.add_argument("--bbox", metavar="MINLON,MINLAT,MAXLON,MAXLAT", help=h("query.bbox"))
        q.add_argument("--format", choices=("table", "geojson", "csv"), default="table", help=h("query.format"))
        add_registry_argument(q)

    near = qsub.add_parser("near", help=h("query.near"), description=h("query.near"))
    near.add_argument("--target", required=True, help=h("query.target"))
    near.add_argument("--distance", required=True, help=h("query.distance"))
    near.add_argument("--units", default="meters", help=h("query.units"))
    near.add_argument("--layers", help=h("query.layers"))
    near.add_argument("--all", action="store_true", help=h("query.all"))
    common(near)
    near.set_defaults(func=_near)

    within = qsub.add_parser("within", help=h("query.within"), description=h("query.within"))
    within.add_argument("--area", required=True, help=h("query.area"))
    within.add_argument("--layers", help=h("query.layers"))
    within.add_argument("--all", action="store_true", help=h("query.all"))
    common(within)
    within.set_defaults(func=_within)

    nearest = qsub.add_parser("nearest", help=h("query.nearest"), description=h("query.nearest"))
    nearest.add_argument("--point", required=True, metavar="LON,LAT", help=h("query.point"))
    nearest.add_argument("--layer", required=True, help=h("query.layer"))
    nearest.add_argument("-k", default="1", help=h("query.k"))
    nearest.add_argument("--max-distance", help=h("query.max_distance"))
    nearest.add_argument("--units", default="meters", help=h("query.units"))
    common(nearest)
    nearest.set_defaults(func=_nearest)

    inter = qsub.add_parser("intersects", help=h("query.intersects"), description=h("query.intersects"))
    inter.add_argument("--geometry", required=True, help=h("query.geometry"))
    inter.add_argument("--layers", help=h("query.layers"))
    common(inter)
    inter.set_defaults(func=_intersects)


def _option_names(func):
    """Errors name the command-line options (``--where``), not the HTTP parameters (``filter``)."""

    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except QueryError as exc:
            exc.message = _options(exc.message)
            exc.cli_text = _options(exc.render(current()))
            raise

    return wrapper


def _options(text: str) -> str:
    for http, option in (("filter:", "--where:"), ("max_distance ", "--max-distance "),
                         ("ask layers=", "ask --layers "), ("(area=", "(--area "), ("（area=", "（--area ")):
        text = text.replace(http, option)
    return text


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
    sep = "、" if args.lang == "zh" else ", "
    titles = sep.join(reg.catalog[lid].title(args.lang) for lid in gdf.attrs.get("layers", []))
    d = gdf.attrs.get("distance_m")
    key = f"query.summary_{args.question}"
    if args.question == "near" and not args.all:
        key = "query.summary_near_problems"
    return t(key, count=len(gdf), titles=titles, label=label, distance=f"{d:g}" if d is not None else "")


def _table(reg, gdf, lang: str, *, distances: bool = True) -> str:
    """The result as aligned columns (Chinese counts two cells); distance first if asked."""
    heads = {k: t(f"query.col_{k}") for k in _HEADERS}
    has_status = "status" in gdf.columns
    has_town = "town" in gdf.columns
    headers = [heads["distance"], heads["layer"], heads["code"], heads["name"]]
    if has_status:
        headers.append(heads["status"])
    if has_town:
        headers.append(heads["town"])
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
