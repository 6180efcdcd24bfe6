"""Where the coordinates are: the CRS (stated, given, or refused with a hint), the
geometry type, validity, and the district, with a hint at the fix for features outside."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiLineString, MultiPolygon

from geo.crs import CRSError, normalize_crs, to_metric, transform_geometry
from geo.i18n import message
from geo.importer.readers import Source, short_error
from geo.importer.report import (
    ImportFileError,
    ImportOptions,
    ImportReport,
    Said,
    in_language,
    said,
)
from geo.registry import Registry
from layers import Layer

#: How a problem says which fix would put a feature inside the district.
FIX = "; it falls inside Jintan with"
FIX_ZH = "；改用以下方式即落在金坛区内："

# Jintan's neighbourhood in lon/lat, for telling "swapped" from "projected".
_REGION = (118.5, 30.5, 120.5, 32.5)



def _with_hint(key: str, hint: str | None, otherwise: str, **params: Any) -> dict[str, str]:
    """A problem's text in both languages, followed by the fix that would put the
    coordinates inside the district (``hint``, named by its CRS option), or ``otherwise``."""
    texts = {}
    for lang, name in (("en", "message"), ("zh", "message_zh")):
        if hint:
            tail = FIX + " " + hint if lang == "en" else FIX_ZH + in_language(hint, "zh")
        else:
            tail = message(otherwise, lang) if otherwise else ""
        texts[name] = message(key, lang, hint=tail, **params)
    return texts


def _fit_type(layer: Layer, geom):
    """The geometry in a form the layer holds, or None when it cannot fit."""
    gtype = geom.geom_type
    if layer.geometry == "Point":
        if gtype == "Point":
            return geom
        if gtype == "MultiPoint" and len(geom.geoms) == 1:
            return geom.geoms[0]
        return None
    if layer.geometry == "LineString":
        if gtype == "LineString":
            return MultiLineString([geom])
        if gtype == "MultiLineString":
            return geom
        return None
    if layer.geometry == "Polygon":
        if gtype == "Polygon":
            return MultiPolygon([geom])
        if gtype == "MultiPolygon":
            return geom
        return None
    if gtype in ("Point", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "MultiPoint"):
        return geom
    return None


def _keep_dimension(layer: Layer, geom):
    """After make_valid: keep the parts of the layer's dimension (drop stray lines/points)."""
    want = {"Point": 0, "LineString": 1, "Polygon": 2}.get(layer.geometry)
    if want is None or geom.geom_type not in ("GeometryCollection",):
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_dimensions(p) == want]
    if not parts:
        return geom
    if want == 2:
        polys = [q for p in parts for q in (p.geoms if p.geom_type == "MultiPolygon" else [p])]
        return MultiPolygon(polys)
    if want == 1:
        lines = [q for p in parts for q in (p.geoms if p.geom_type == "MultiLineString" else [p])]
        return MultiLineString(lines)
    return parts[0]


def _district_hint(layer: Layer, raw, src: str, metric) -> str | None:
    """Which fix (swapped x/y, another CRS) would put ``raw`` inside the district."""
    candidates: list[tuple[str, Any, str]] = [
        (Said.of("import.fix_swap"), shapely.transform(raw, lambda c: c[:, ::-1]), src),
    ]
    for other, key in (
        ("gcj02", "import.fix_gcj02"),
        ("bd09", "import.fix_bd09"),
        ("EPSG:4326", "import.fix_4326"),
        ("EPSG:4549", "import.fix_4549"),
        ("EPSG:4528", "import.fix_4528"),
    ):
        if other != src:
            candidates.append((Said.of(key), raw, other))
    for text, geom, crs in candidates:
        try:
            g = transform_geometry(geom, crs, "EPSG:4326")
            coords = shapely.get_coordinates(g)
            if not np.isfinite(coords).all() or (np.abs(coords[:, 0]) > 180).any() or (np.abs(coords[:, 1]) > 90).any():
                continue
            if shapely.covers(metric, to_metric(g)):
                return text
        except Exception:  # noqa: BLE001, S112 - a candidate that cannot convert is no hint
            continue
    return None


def _projected_hint(xs: np.ndarray, ys: np.ndarray) -> Said:
    x, y = float(np.nanmedian(xs)), float(np.nanmedian(ys))
    lo_x, lo_y, hi_x, hi_y = _REGION
    if lo_x <= y <= hi_x and lo_y <= x <= hi_y:
        return Said.of("import_file.hint_swapped", x=f"{x:.4f}", y=f"{y:.4f}")
    if 40_000_000 < x < 41_000_000:
        return Said.of("import_file.hint_zone40", x=f"{x:.0f}")
    if 200_000 < x < 800_000 and 3_000_000 < y < 4_000_000:
        return Said.of("import_file.hint_gauss", x=f"{x:.0f}", y=f"{y:.0f}")
    return Said.of("import_file.hint_not_degrees", x=f"{x:.1f}", y=f"{y:.1f}")


def resolve_crs(src: Source, options: ImportOptions, report: ImportReport) -> str:
    """The CRS to read the coordinates in: ``--crs``, else the file's, else WGS84 when the
    numbers can be degrees; a file whose numbers cannot be is refused with a hint."""
    coords = shapely.get_coordinates(src.geoms[~shapely.is_missing(src.geoms)])
    coords = coords[np.isfinite(coords).all(axis=1)] if len(coords) else coords
    if options.crs:
        try:
            crs = normalize_crs(options.crs)
        except CRSError as exc:
            raise ImportFileError(str(exc)) from None
        if src.crs and src.crs != crs:
            report.notes.append(Said.of("import.note_crs_as_asked", declared=_crs_label(src.crs), crs=crs))
        projected_crs = crs.startswith("EPSG:") and _is_projected(crs)
        if len(coords) and projected_crs and (np.abs(coords) <= 180).all():
            raise ImportFileError(key="import_file.crs_projected_degrees", params={
                "crs": crs, "x": f"{coords[0, 0]:.5f}", "y": f"{coords[0, 1]:.5f}"})
        return crs
    if src.crs:
        try:
            return normalize_crs(src.crs)
        except CRSError:
            return src.crs  # a WKT pyproj understands but with no EPSG code
    not_degrees = (np.abs(coords[:, 0]) > 180) | (np.abs(coords[:, 1]) > 90) if len(coords) else np.zeros(0, bool)
    # Most coordinates not degrees: a projected file, refused. A few: those rows are
    # reported one by one (a swapped pair in a lon/lat table, say).
    if len(coords) and not_degrees.mean() > 0.5:
        hint = _projected_hint(coords[not_degrees, 0], coords[not_degrees, 1])
        raise ImportFileError(key="import_file.no_crs_not_degrees", params={
            "source": report.source, "hint_en": str(hint), "hint_zh": in_language(hint, "zh")})
    report.notes.append(Said.of("import.note_no_crs"))
    return "EPSG:4326"


def _crs_label(crs: str) -> str:
    return crs if len(crs) < 40 else crs[:37] + "..."


def _is_projected(crs: str) -> bool:
    from pyproj import CRS

    try:
        return CRS.from_user_input(crs).is_projected
    except Exception:  # noqa: BLE001
        return False


def check_geometries(
    registry: Registry,
    layer: Layer,
    raw: np.ndarray,
    crs: str,
    options: ImportOptions,
    problem,
    reported: set[int] = frozenset(),
):
    """Geometries in lon/lat, fitted to the layer, repaired or refused, inside the district."""
    n = len(raw)
    out = np.full(n, None, dtype=object)
    raw = np.asarray(raw, dtype=object)
    missing = shapely.is_missing(raw)
    empty = np.zeros(n, dtype=bool)
    empty[~missing] = shapely.is_empty(raw[~missing])
    for i in np.flatnonzero(missing):
        if i not in reported:  # a table row whose coordinates were already reported
            problem(i, "geometry", None, **said("import.no_geometry"))
    for i in np.flatnonzero(empty):
        problem(i, "geometry", None, **said("import.empty_geometry"))
    live = np.flatnonzero(~missing & ~empty)
    if not len(live):
        return out
    geoms = shapely.force_2d(raw[live])
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    finite = np.ones(len(live), dtype=bool)
    finite[np.unique(idx[~np.isfinite(coords).all(axis=1)])] = False
    for j in np.flatnonzero(~finite):
        problem(live[j], "geometry", None, **said("import.coordinates_not_finite"))
    live, geoms, raw_live = live[finite], geoms[finite], shapely.force_2d(raw[live][finite])
    try:
        if crs.startswith("EPSG:") or crs in ("gcj02", "bd09"):
            geoms = transform_geometry(geoms, crs, "EPSG:4326")
        else:
            from pyproj import Transformer

            tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
            geoms = shapely.transform(geoms, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
    except Exception as exc:  # noqa: BLE001 - pyproj raises several kinds
        raise ImportFileError(key="import_file.cannot_convert", params={"crs": crs, "reason": short_error(exc)}) from None
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    wrong = ~np.isfinite(coords).all(axis=1) | (np.abs(coords[:, 0]) > 180) | (np.abs(coords[:, 1]) > 90)
    bad_range = np.zeros(len(live), dtype=bool)
    bad_range[np.unique(idx[wrong])] = True
    metric = registry.district_metric(layer.id) if hasattr(registry, "district_metric") else None
    for j in np.flatnonzero(bad_range):
        hint = _district_hint(layer, raw_live[j], crs, metric) if metric is not None else None
        sample = shapely.get_coordinates(raw_live[j])[0]
        problem(
            live[j],
            "geometry",
            f"{sample[0]:.6f},{sample[1]:.6f}",
            **_with_hint("import.not_lonlat", hint, "", crs=crs),
        )
    keep = ~bad_range
    live, geoms, raw_live = live[keep], geoms[keep], raw_live[keep]
    # Validity: repair with make_valid and report, or refuse with --strict.
    valid = shapely.is_valid(geoms)
    for j in np.flatnonzero(~valid):
        reason = shapely.is_valid_reason(geoms[j])
        if options.strict:
            problem(live[j], "geometry", reason, **said("import.invalid_strict"))
            continue
        fixed = _keep_dimension(layer, shapely.make_valid(geoms[j]))
        problem(live[j], "geometry", reason, severity="warning", **said("import.invalid_repaired", kind=fixed.geom_type))
        geoms[j] = fixed
    if options.strict:
        live, geoms, raw_live = live[valid], geoms[valid], raw_live[valid]
    fitted = np.array([_fit_type(layer, g) for g in geoms], dtype=object)
    for j in np.flatnonzero(shapely.is_missing(fitted)):
        problem(
            live[j],
            "geometry",
            geoms[j].geom_type,
            **said("import.wrong_geometry_type", kind=geoms[j].geom_type, layer=layer.id, expected=layer.geometry),
        )
    ok = ~shapely.is_missing(fitted)
    live, geoms, raw_live = live[ok], fitted[ok], raw_live[ok]
    if metric is not None and len(geoms):
        shapely.prepare(metric)
        inside = shapely.covers(metric, to_metric(geoms))
        for j in np.flatnonzero(~inside):
            hint = _district_hint(layer, raw_live[j], crs, metric)
            sample = shapely.get_coordinates(geoms[j])[0]
            problem(
                live[j],
                "geometry",
                f"{sample[0]:.6f},{sample[1]:.6f}",
                **_with_hint("import.outside_district", hint, "import.check_crs"),
            )
    out[live] = geoms
    return out
