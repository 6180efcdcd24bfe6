"""一河一档: everything the registry knows about one river or lake, as one dossier.

A river is looked up by a reach code, its name or an alias; a river recorded as
several reaches is shown whole (every reach with its chief), whichever reach was
named. A lake by its code, name or alias. What lies "near" it is the query engine's
answer (:func:`geo.query.near`, EPSG:4549, inclusive), so the dossier's open-problem
count is exactly ``hehu query near --target NAME --distance 50``:

- problems within :data:`PROBLEM_DISTANCE_M` (open by the catalog's problem rule, and
  closed ones), micro water bodies, projects and water-quality sections at that
  distance, sewage plants within :data:`PLANT_DISTANCE_M` (the catalog has no outfall
  layer yet, so the page says so);
- towns crossed (features of ``towns`` at 0 m), the length of every reach in EPSG:4549;
- chiefs from the ``chiefs`` layer (whose ``reaches`` list the reach codes) beside
  the reaches' own ``chief`` label; signboards whose ``river`` is this river, each
  flagged 需更新 when its chief is not one of the registry's chiefs of the river;
- sections' latest class from their observations (latest month with samples), else
  the stored ``latest_class``;
- patrols whose ``reaches`` name a reach: the last ones, and the share of the river
  covered by valid tracks in a year (:mod:`geo.patrols.coverage`, 50 m).

Framework-free: :mod:`server.rivers` renders it as a page, :func:`render_dossier_pdf`
as a PDF, and :func:`render_river_map` draws its map (PNG for the page, vector in the
PDF). Photos: the files of the problems near the water (:mod:`geo.attachments`, one store
query per problem layer), as before/after pairs per problem, most recent first, with the
count of closed problems whose closing has an ``after`` photo as evidence.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from geo.crs import to_metric
from geo.errors import NotFoundError, QueryError
from geo.features import json_value as _clean
from geo.i18n import message
from geo.query import resolve_target
from geo.registry import problem_mask

if TYPE_CHECKING:
    from geo.registry import Registry

PROBLEM_DISTANCE_M = 50.0
PLANT_DISTANCE_M = 1000.0
LAST_PATROLS = 8
#: Before/after pairs printed in the PDF dossier (the most recent; the page shows all).
PDF_PHOTO_PAIRS = 4
#: Layers looked at within PROBLEM_DISTANCE_M with every feature (open and closed).
NEAR_LAYERS = ("violations", "micro_water_bodies", "black_odorous", "black_odorous_areas", "projects",
               "project_areas", "sections")
#: Works along the river (lines) and over an area (polygons): one list on the page.
PROJECT_LAYERS = ("projects", "project_areas")


class RiverNotFound(NotFoundError):
    """No river or lake has this code, name or alias; carries the closest names."""

    code = "unknown-river"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    cols = [c for c in frame.columns if c != getattr(frame, "_geometry_column_name", None) and c != "geometry"]
    return [{k: _clean(v) for k, v in rec.items()} for rec in pd.DataFrame(frame[cols]).to_dict("records")]


def _split(value: Any) -> list[str]:
    if _blank(value):
        return []
    return [p.strip() for p in str(value).replace("；", ";").split(";") if p.strip()]


@dataclass
class Dossier:
    """One river's (or lake's) file: plain data a page, a PDF and JSON all read."""

    key: str
    kind: str  # "rivers" or "lakes"
    name: str
    target: str  # what geo.query resolves to exactly this water ("rivers:NAME")
    reaches: list[dict[str, Any]]
    geometry: Any  # lon/lat, all reaches
    length_m: float | None
    area_km2: float | None
    towns: list[str]
    chiefs: list[dict[str, Any]]
    open_problems: list[dict[str, Any]]
    closed_problems: list[dict[str, Any]]
    micro_water_bodies: list[dict[str, Any]]
    plants: list[dict[str, Any]]
    sections: list[dict[str, Any]]
    projects: list[dict[str, Any]]
    signboards: list[dict[str, Any]]
    patrols: list[dict[str, Any]]
    patrol_count: int
    coverage_year: int | None
    coverage_share: float | None
    is_demo: bool = False
    #: One entry per problem with files, most recent first: its code, layer, fid,
    #: status, closed or not, and its ``before`` / ``after`` / ``other`` records.
    photos: list[dict[str, Any]] = field(default_factory=list)
    #: Closed problems with at least one ``after`` photo (closed with evidence).
    closed_with_evidence: int = 0

    @property
    def open_count(self) -> int:
        return len(self.open_problems)

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "geometry"}
        out["open_count"] = self.open_count
        out["geometry"] = shapely.geometry.mapping(self.geometry)
        return out


# -- finding the water ------------------------------------------------------------------


def _matches(frame: pd.DataFrame, key: str) -> pd.Series:
    aliases = frame["aliases"] if "aliases" in frame.columns else pd.Series([None] * len(frame), index=frame.index)
    alias_hit = aliases.map(lambda v: key in _split(v))
    return (frame["code"] == key) | (frame["name"] == key) | alias_hit.astype(bool)


def find_water(registry: Registry, key: str) -> tuple[str, pd.DataFrame]:
    """(layer id, its features) of the river or lake called ``key``: every reach of a
    river whose reach code, name or alias is ``key``. RiverNotFound with suggestions."""
    key = str(key or "").strip()
    if not key or len(key) > 200:
        raise RiverNotFound(
            message("rivers.unknown", "en", value=key[:200], suggestions="—"),
            key="rivers.unknown",
            params={"value": key[:200], "suggestions": "—"},
            target=key[:200],
            suggestions=[],
        )
    rivers = registry.read("rivers")
    hit = rivers[_matches(rivers, key)]
    if not hit.empty:
        names = set(hit["name"])
        return "rivers", rivers[rivers["name"].isin(names)].sort_values("code")
    lakes = registry.read("lakes")
    hit = lakes[_matches(lakes, key)]
    if not hit.empty:
        return "lakes", hit
    suggestions = suggest(registry, key)
    raise RiverNotFound(
        message("rivers.unknown", "en", value=key, suggestions="、".join(suggestions) or "—"),
        key="rivers.unknown",
        params={"value": key, "suggestions": "、".join(suggestions) or "—"},
        target=key,
        suggestions=suggestions,
    )


def suggest(registry: Registry, key: str) -> list[str]:
    """The closest river and lake names and codes (the query engine's suggestions)."""
    try:
        resolve_target(registry, key, layers=("rivers", "lakes"))
    except QueryError as exc:
        return list(exc.details.get("suggestions") or [])
    return []


# -- the dossier ------------------------------------------------------------------------


def _latest_classes(registry: Registry, codes: list[str]) -> dict[str, tuple[int | None, str | None]]:
    """Per section with observations: (class, "YYYY-MM") of its latest month; sections
    without observations (or a catalog without the layer) keep their stored class."""
    if not codes or "observations" not in registry.catalog:
        return {}
    from geo.quality.importing import latest_month_classes

    return {c: (v[0], v[1]) for c, v in latest_month_classes(registry, codes).items()}


def _patrols(registry: Registry, codes: list[str], kind: str, reaches: pd.DataFrame, year: int | None):
    """(last patrols, count, coverage year, coverage share) of the water's reaches."""
    if "patrols" not in registry.catalog:
        return [], 0, None, None
    patrols = registry.read("patrols")
    if patrols.empty:
        return [], 0, None, None
    codes_set = set(codes)
    mine = patrols[patrols["reaches"].map(lambda v: bool(codes_set & set(_split(v))))]
    if mine.empty:
        return [], 0, None, None
    from geo.patrols.duty import local_dates

    days = local_dates(mine["started_at"])
    mine = mine.assign(day=days).sort_values("started_at", ascending=False)
    last = [
        {"code": r["code"], "chief": _clean(r["chief"]), "day": str(r["day"]) if not _blank(r["day"]) else None,
         "length_m": _clean(r["length_m"]), "duration_min": _clean(r["duration_min"]), "valid": _clean(r["valid"]),
         "source": _clean(r["source"])}
        for _, r in mine.head(LAST_PATROLS).iterrows()
    ]
    years = sorted({d.year for d in days.dropna()})
    if year is None:
        this = date.today().year
        year = this if this in years else (years[-1] if years else this)
    share = None
    if kind == "rivers":
        from geo.patrols.coverage import reach_coverage

        in_year = mine[(mine["valid"] == True) & mine["day"].map(lambda d: not _blank(d) and d.year == year)]  # noqa: E712
        cov = reach_coverage(reaches, reaches.geometry.values, np.asarray(in_year.geometry.values, dtype=object))
        total = sum(c.length_m for c in cov)
        share = sum(c.covered_m for c in cov) / total if total else None
    return last, len(mine), year, share


def problem_photos(registry: Registry, open_rows: list[dict[str, Any]],
                   closed_rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """(photo entries, closed problems with an ``after`` photo) of the problems listed:
    one :func:`geo.attachments.records_of` call per problem layer, never one per problem.
    Entries are most recent first (by the latest photo's time taken, else upload time)."""
    from geo.attachments import records_of

    entries, evidence = [], 0
    for closed, rows in ((False, open_rows), (True, closed_rows)):
        for layer_id in dict.fromkeys(r["layer"] for r in rows):
            mine = [r for r in rows if r["layer"] == layer_id]
            found = records_of(registry, layer_id, [r["fid"] for r in mine])
            for r in mine:
                records = found.get(int(r["fid"]))
                if not records:
                    continue
                by_kind = {k: [x for x in records if x["kind"] == k] for k in ("before", "after", "other")}
                evidence += bool(closed and by_kind["after"])
                entries.append({
                    "layer": layer_id, "fid": int(r["fid"]), "code": r.get("code"), "label": r.get("label"),
                    "layer_title": r.get("layer_title"), "status": r.get("status"), "closed": closed,
                    "closed_on": r.get("closed_on"), "category": r.get("category") or r.get("kind"),
                    "latest": max((x.get("taken_at") or x.get("created_at") or "") for x in records),
                    **by_kind,
                })
    entries.sort(key=lambda e: e["latest"], reverse=True)
    return entries, evidence


def river_dossier(registry: Registry, key: str, *, year: int | None = None) -> Dossier:
    """The dossier of the river or lake ``key`` (reach code, name or alias).

    For example (on the demo registry)::

        river_dossier(reg, "丹金溧漕河").open_count
        # → 37
    """
    kind, water = find_water(registry, key)
    name = str(water["name"].iloc[0])
    target = f"{kind}:{name}" if kind == "rivers" else f"lakes:{water['code'].iloc[0]}"
    codes = [str(c) for c in water["code"]]
    metric = to_metric(np.asarray(water.geometry.values, dtype=object))
    geometry = shapely.union_all(np.asarray(water.geometry.values, dtype=object))

    reaches = []
    for (_, r), m in zip(water.iterrows(), metric, strict=True):
        rec = {k: _clean(r.get(k)) for k in ("code", "name", "reach", "grade", "town", "chief", "chief_title", "aliases")}
        rec["length_m"] = float(m.length) if kind == "rivers" else None
        reaches.append(rec)

    # Registry chiefs of these waters, in level order, each with the reaches they hold.
    chiefs_frame = registry.read("chiefs") if "chiefs" in registry.catalog else pd.DataFrame()
    chiefs = []
    if not chiefs_frame.empty:
        order = {"区级": 0, "镇级": 1, "村级": 2}
        for rec in _records(chiefs_frame):
            held = [c for c in _split(rec.get("reaches")) if c in codes]
            if held and rec.get("active") is not False:
                chiefs.append({**rec, "held": held})
        chiefs.sort(key=lambda c: (order.get(c.get("level"), 9), c["held"][0], c.get("code") or ""))
    by_reach: dict[str, list[dict[str, Any]]] = {}
    for c in chiefs:
        for code in c["held"]:
            by_reach.setdefault(code, []).append(c)
    for rec in reaches:
        rec["chiefs"] = by_reach.get(rec["code"], [])

    near = registry.near(target, PROBLEM_DISTANCE_M, layers=[lid for lid in NEAR_LAYERS if lid in registry.catalog],
                         all_features=True)
    open_rows, closed_rows = [], []
    for layer in registry.catalog.problem_layers:
        part = near[near["layer"] == layer.id]
        if part.empty:
            continue
        mask = problem_mask(layer, part).to_numpy(dtype=bool)
        for flag, rows in ((True, open_rows), (False, closed_rows)):
            sub = part[mask == flag]
            centres = shapely.centroid(np.asarray(sub.geometry.values, dtype=object))
            lons, lats = shapely.get_x(centres).tolist(), shapely.get_y(centres).tolist()
            rows += [{**rec, "layer": layer.id, "layer_title": layer.title_zh, "lon": x, "lat": y,
                      "label": rec.get(layer.label_field)}
                     for rec, x, y in zip(_records(sub), lons, lats, strict=True)]
    # A micro water body with a problem is an open problem too; listed once more with the rest.
    mwb = near[near["layer"] == "micro_water_bodies"]
    projects = near[near["layer"].isin(PROJECT_LAYERS)]
    sections_near = near[near["layer"] == "sections"]

    sections = registry.read("sections", where={"river": name}) if "sections" in registry.catalog else pd.DataFrame()
    sec_records = {r["code"]: r for r in _records(sections)} if not sections.empty else {}
    for r in _records(sections_near):
        sec_records.setdefault(r["code"], r)
    latest = _latest_classes(registry, list(sec_records))
    for code, rec in sec_records.items():
        cls, month = latest.get(code, (rec.get("latest_class"), rec.get("measured_on")))
        rec["latest_class"], rec["latest_month"] = _clean(cls), month
        rec["meets_target"] = (rec["latest_class"] <= rec["target_class"]
                               if rec.get("latest_class") and rec.get("target_class") else None)

    plants = []
    if "sewage_plants" in registry.catalog:
        pl = registry.near(target, PLANT_DISTANCE_M, layers=["sewage_plants"], all_features=True)
        plants = _records(pl)

    towns_near = registry.intersects(geometry, layers=["towns"]) if "towns" in registry.catalog else None
    towns = [str(t) for t in towns_near["name"]] if towns_near is not None and not towns_near.empty else []

    boards = registry.read("signboards", where={"river": name}) if "signboards" in registry.catalog else pd.DataFrame()
    signboards = []
    if not boards.empty:
        from geo.signboards import assess_boards

        geoms = np.asarray(boards.geometry.values, dtype=object)
        for rec, x, y, status in zip(_records(boards), shapely.get_x(geoms).tolist(), shapely.get_y(geoms).tolist(),
                                     assess_boards(registry, boards), strict=True):
            signboards.append({**rec, "lon": x, "lat": y, "reach_code": status["reach_code"],
                               "needs_update": status["needs_update"]})
        signboards.sort(key=lambda r: r["code"])

    last, count, cov_year, share = _patrols(registry, codes, kind, water, year)
    photos, evidence = problem_photos(registry, open_rows, closed_rows)
    return Dossier(
        key=key, kind=kind, name=name, target=target, reaches=reaches, geometry=geometry,
        length_m=float(sum(g.length for g in metric)) if kind == "rivers" else None,
        area_km2=(float(sum(g.area for g in metric)) / 1e6) if kind == "lakes" else None,
        towns=towns, chiefs=chiefs, open_problems=open_rows, closed_problems=closed_rows,
        micro_water_bodies=_records(mwb), plants=plants, sections=list(sec_records.values()),
        projects=_records(projects), signboards=signboards, patrols=last, patrol_count=count,
        coverage_year=cov_year, coverage_share=share, is_demo=registry.is_demo,
        photos=photos, closed_with_evidence=evidence,
    )


def public_url(base_url: str, dossier_or_name: Any) -> str:
    """The public address of a river page: ``{base}/rivers/{reach code}`` (codes are
    ASCII, so the QR code stays small; every reach code opens the whole river)."""
    from urllib.parse import quote

    code = dossier_or_name.reaches[0]["code"] if isinstance(dossier_or_name, Dossier) else str(dossier_or_name)
    return f"{base_url.rstrip('/')}/rivers/{quote(code, safe='')}"


# -- the map ----------------------------------------------------------------------------

REACH_COLOURS = ("#08519c", "#e6550d", "#31a354", "#8c510a", "#d6616b", "#3182bd", "#8c6d31", "#637939")


def draw_river_map(ax, registry: Registry, d: Dossier, *, labels: bool = True, k: float = 1.0) -> None:
    """Draw the water's reaches (one colour each, labelled with their chief), the towns
    around, open (red) and closed (grey) problems and signboards on ``ax``, in EPSG:4549."""
    reaches_m = to_metric(np.asarray([shapely.geometry.shape(shapely.geometry.mapping(d.geometry))], dtype=object))[0]
    minx, miny, maxx, maxy = reaches_m.bounds
    pad = max(maxx - minx, maxy - miny) * 0.08 + 300
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    # Equal metres both ways: the view grows to the axes' shape instead of shrinking them.
    bb = ax.get_position()
    fw, fh = ax.figure.get_size_inches()
    ratio = (bb.height * fh) / (bb.width * fw)
    cx, cy, w, h = (minx + maxx) / 2, (miny + maxy) / 2, maxx - minx, maxy - miny
    w, h = max(w, h / ratio), max(h, w * ratio)
    minx, maxx, miny, maxy = cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal")
    ax.set_facecolor("#fbfaf7")
    ax.set_xticks([])
    ax.set_yticks([])
    box_ll = None
    if "towns" in registry.catalog:
        from geo.crs import from_metric

        box_ll = from_metric(shapely.box(minx, miny, maxx, maxy)).bounds
        towns = registry.read("towns", bbox=box_ll)
        for geom, nm in zip(to_metric(np.asarray(towns.geometry.values, dtype=object)), towns["name"], strict=True):
            for poly in shapely.get_parts(geom):
                x, y = poly.exterior.xy
                ax.fill(x, y, fc="#f4f1ea", ec="#b0a58f", lw=0.6 * k, zorder=1)
            c = geom.representative_point()
            if minx < c.x < maxx and miny < c.y < maxy:
                ax.text(c.x, c.y, nm, fontsize=7 * k, color="#8a7f6a", ha="center", va="center", zorder=2)
    kind_lake = d.kind == "lakes"
    for i, (rec, geom) in enumerate(zip(d.reaches, _reach_geoms(registry, d), strict=True)):
        colour = REACH_COLOURS[i % len(REACH_COLOURS)]
        g = to_metric(geom)
        for part in shapely.get_parts(g):
            if kind_lake:
                x, y = part.exterior.xy
                ax.fill(x, y, fc="#a6cee3", ec=colour, lw=1.2 * k, zorder=3)
            else:
                x, y = part.xy
                ax.plot(x, y, color=colour, lw=3.2 * k, solid_capstyle="round", zorder=4)
        if labels:
            names = "、".join(c["name"] for c in rec["chiefs"]) or rec.get("chief") or ""
            text = f"{rec.get('reach') or rec['code']}\n河长：{names}" if names else (rec.get("reach") or rec["code"])
            p = shapely.line_interpolate_point(g, 0.5, normalized=True) if not kind_lake else g.representative_point()
            ax.text(p.x, p.y, text, fontsize=7.5 * k, color=colour, ha="left", va="bottom", zorder=8,
                    bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": colour, "lw": 0.6, "alpha": 0.9})
    for rows, colour, size in ((d.closed_problems, "#999999", 14), (d.open_problems, "#e31a1c", 20)):
        if rows:
            pts = to_metric(shapely.points([r["lon"] for r in rows], [r["lat"] for r in rows]))
            ax.scatter(shapely.get_x(pts), shapely.get_y(pts), s=size * k, c=colour, edgecolors="white",
                       linewidths=0.4, zorder=6)
    if d.signboards:
        pts = to_metric(shapely.points([r["lon"] for r in d.signboards], [r["lat"] for r in d.signboards]))
        ax.scatter(shapely.get_x(pts), shapely.get_y(pts), s=22 * k, marker="s", c="#756bb1", edgecolors="white",
                   linewidths=0.4, zorder=7)


def _reach_geoms(registry: Registry, d: Dossier) -> list[Any]:
    layer = d.kind
    frame = registry.read(layer, where={"code": [r["code"] for r in d.reaches]})
    by_code = dict(zip(frame["code"], frame.geometry.values, strict=True))
    return [by_code[r["code"]] for r in d.reaches]


def render_river_map(registry: Registry, d: Dossier, fmt: str = "png", width_px: int = 900, height_px: int = 640) -> bytes:
    """The dossier's map as PNG (for the page) or SVG bytes."""
    from matplotlib.figure import Figure

    from geo.fonts import use_cjk_font

    use_cjk_font()
    dpi = 100
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    draw_river_map(registry=registry, ax=ax, d=d)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    return buf.getvalue()


# -- the printed dossier ------------------------------------------------------------------


def _km(m: float | None) -> str:
    return "—" if m is None else f"{m / 1000:.2f} km"


def render_dossier_pdf(registry: Registry, d: Dossier) -> bytes:
    """The dossier as an A4 PDF: a first page with the map, reaches and chiefs, then the
    lists (problems, sections, projects, signboards, patrols), and a page of the most
    recent before/after photo pairs when the problems have photos."""
    from geo.sheets import Sheet, pdf_bytes

    title = f"{d.name} 一河一档"
    facts = [f"编码：{'、'.join(r['code'] for r in d.reaches)}"]
    if d.length_m is not None:
        facts.append(f"长度：{_km(d.length_m)}（EPSG:4549）")
    if d.area_km2 is not None:
        facts.append(f"面积：{d.area_km2:.2f} km²")
    s = Sheet(title, "　".join(facts), demo=d.is_demo)
    s.line(f"流经：{'、'.join(d.towns) or '—'}", size=9)
    map_h = 105.0
    ax = s.axes_mm(s.left, s.y - map_h, s.right - s.left, map_h)
    draw_river_map(ax, registry, d, k=0.85)
    s.y -= map_h + 4
    s.line(f"问题（{PROBLEM_DISTANCE_M:.0f} 米内）：未销号 {d.open_count} 个，已销号 {len(d.closed_problems)} 个。"
           "图例：红点 未销号问题，灰点 已销号问题，紫色方块 河长公示牌。", size=8)
    s.heading("河段与河湖长")
    rows = []
    for r in d.reaches:
        chiefs = r["chiefs"] or [{"name": r.get("chief"), "level": r.get("grade"), "post": r.get("chief_title"), "phone": None}]
        for c in chiefs:
            rows.append([r["code"], r.get("reach") or "—", r.get("grade") or "", _km(r.get("length_m")), c.get("name") or "—",
                         c.get("level") or "", c.get("post") or "", c.get("phone") or ""])
    s.table(["编码", "河段", "等级", "长度", "河湖长", "级别", "职务", "电话"], rows, [14, 16, 8, 11, 10, 8, 18, 16])
    s.heading("照片")
    s.line(message("rivers.photos_evidence", "zh", closed=len(d.closed_problems), evidence=d.closed_with_evidence), size=8)
    if not d.photos:
        s.line(message("rivers.photos_none", "zh"), color="#666666")
    s.footer(registry, f"网页版：/rivers/{d.reaches[0]['code']}")
    sheets = [s]

    s = Sheet(title, f"{'、'.join(d.towns)}", demo=d.is_demo)
    s.heading(f"未销号问题（{PROBLEM_DISTANCE_M:.0f} 米内，{d.open_count} 个）")
    s.table(["编号", "图层", "类别", "状态", "所在镇", "发现日期", "整改期限", "距离(米)"],
            [[p.get("code"), p["layer_title"], p.get("category") or p.get("kind") or "", p.get("status"), p.get("town") or "",
              p.get("found_on") or "", p.get("deadline") or "", f"{p['distance_m']:.1f}"] for p in d.open_problems],
            [16, 12, 8, 9, 10, 12, 12, 9], max_rows=30)
    if d.open_count > 30:
        s.line(f"……另有 {d.open_count - 30} 个，见网页版。", color="#666666")
    s.heading(f"已销号问题（{len(d.closed_problems)} 个）")
    s.line("、".join(f"{p.get('code')}（{p.get('closed_on') or p.get('status')}）" for p in d.closed_problems[:60]) or "—", size=7.5)
    s.heading("国省考断面（最新水质类别由监测数据计算）")
    s.table(["编号", "名称", "级别", "目标类别", "最新类别", "月份", "达标"],
            [[x["code"], x.get("name"), x.get("level"), x.get("target_class"), x.get("latest_class") or "—",
              x.get("latest_month") or "", {True: "达标", False: "未达标"}.get(x.get("meets_target"), "—")]
             for x in d.sections], [12, 24, 8, 10, 10, 12, 10])
    sheets.append(s)

    s = Sheet(title, None, demo=d.is_demo)
    s.heading("水系工程")
    s.table(["编号", "名称", "类型", "状态", "所在镇"],
            [[p.get("code"), p.get("name"), p.get("kind"), p.get("status"), p.get("town")] for p in d.projects] or [["—"] * 5],
            [12, 40, 12, 10, 12])
    s.heading(f"小微水体（{PROBLEM_DISTANCE_M:.0f} 米内）与入河排口")
    s.line("、".join(f"{m.get('name')}（{m.get('status')}）" for m in d.micro_water_bodies) or "小微水体：无", size=8)
    s.line(message("rivers.no_outfalls", "zh") + "：" + ("、".join(p.get("name") or "" for p in d.plants) or "无"), size=8)
    s.heading(f"河长公示牌（{len(d.signboards)} 块）")
    s.table(["编号", "河长", "监督电话", "符合规范", "检查日期", "需更新"],
            [[b["code"], b.get("chief"), b.get("phone"), {True: "是", False: "否"}.get(b.get("compliant"), ""),
              b.get("checked_on"), "需更新" if b["needs_update"] else ""] for b in d.signboards] or [["—"] * 6],
            [12, 10, 16, 9, 12, 9], max_rows=20)
    cov = f"{d.coverage_share:.1%}" if d.coverage_share is not None else "—"
    s.heading(f"巡河（共 {d.patrol_count} 次；{d.coverage_year or ''} 年有效轨迹覆盖 {cov}）")
    s.table(["编号", "河湖长", "日期", "长度(米)", "时长(分)", "来源", "有效"],
            [[p["code"], p["chief"], p["day"], p["length_m"], p["duration_min"], p["source"],
              {True: "是", False: "否"}.get(p["valid"], "")] for p in d.patrols] or [["—"] * 7],
            [16, 10, 12, 10, 10, 12, 7])
    s.footer(registry)
    sheets.append(s)
    if d.photos:
        sheets.append(_photo_sheet(registry, d, title))
    return pdf_bytes(sheets, title)


def _photo_sheet(registry: Registry, d: Dossier, title: str):
    """A page of the most recent before/after pairs (:data:`PDF_PHOTO_PAIRS`), one row
    per problem: its code and status, then its first before and first after photo."""
    from geo.sheets import Sheet

    shown = d.photos[:PDF_PHOTO_PAIRS]
    s = Sheet(title, message("rivers.photos_pdf_more", "zh", shown=len(shown), total=len(d.photos)), demo=d.is_demo)
    s.heading(message("rivers.photos_title", "zh"))
    s.line(message("rivers.photos_evidence", "zh", closed=len(d.closed_problems), evidence=d.closed_with_evidence), size=8)
    gap, row_h = 6.0, 46.0
    w = (s.right - s.left - gap) / 2
    for e in shown:
        status = "　".join(str(x) for x in (e.get("layer_title"), e.get("category"), e.get("status"),
                                            e.get("closed_on") and f"销号 {e['closed_on']}") if x)
        s.line(f"{e.get('code') or e.get('label')}　{status}", size=9)
        top = s.y
        for i, kind in enumerate(("before", "after")):
            _photo_box(s, registry, e, kind, s.left + i * (w + gap), top, w, row_h)
        s.y = top - row_h - 6
    s.footer(registry, f"网页版：/rivers/{d.reaches[0]['code']}#photos")
    return s


def _photo_box(s, registry: Registry, entry: dict[str, Any], kind: str, x: float, top: float, w: float, h: float) -> None:
    """The entry's first ``kind`` photo in a w×h mm box under ``top`` (a note when none)."""
    from matplotlib.patches import Rectangle
    from PIL import Image

    from geo.attachments import file_of, kind_label

    label = kind_label(kind, "zh")
    s.page.text(x, top, label, fontsize=8, va="top", color="#555555")
    photos = [r for r in entry[kind] if r["content_type"].startswith("image/")]
    found = file_of(registry, photos[0]["id"]) if photos else None
    if found is None or found[1] is None:
        s.page.add_patch(Rectangle((x, top - h), w, h - 5, fc="#f7f7f7", ec="#bbbbbb", lw=0.5))
        s.page.text(x + w / 2, top - h / 2, message("rivers.photo_missing", "zh", kind=label), fontsize=8,
                    ha="center", va="center", color="#999999")
        return
    with Image.open(io.BytesIO(found[1])) as img:
        img = img.convert("RGB")
        img.thumbnail((900, 900))  # enough for print at this size, and a small PDF
        ax = s.axes_mm(x, top - h, w, h - 5)
        # "none": the PDF embeds the photo's own pixels instead of a copy resampled to the figure's dpi.
        ax.imshow(img, aspect="equal", interpolation="none")
        ax.set_axis_off()
    taken = (photos[0].get("taken_at") or "")[:16].replace("T", " ")
    if taken:
        s.page.text(x, top - h - 0.5, f"拍摄 {taken}", fontsize=6.5, va="top", color="#777777")
