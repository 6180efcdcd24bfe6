"""交办单: one A4 assignment sheet per 清四乱 violation, several codes in one PDF.

Each sheet gives the code, category, status, where it is (town, river, coordinates in
CGCS2000 lon/lat, which hehu stores, and in GCJ-02 for the phone maps field teams
navigate with: Amap and Tencent take GCJ-02, see :mod:`geo.crs`), a map snippet of
the 1.2 km around it, the assigned unit and deadline, the closing fields when it is
closed, and signature lines. The before photo (and the after photo of a closed case)
come from the case's attachments; a box says 暂无照片 when there is none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from geo.crs import from_metric, to_metric, wgs84_to_gcj02
from geo.errors import NotFoundError, QueryError
from geo.i18n import message

if TYPE_CHECKING:
    from geo.registry import Registry

MAX_CODES = 200
SNIPPET_HALF_M = 600.0


def find_violations(registry: Registry, codes: Sequence[str], lang: str = "zh") -> list[dict[str, Any]]:
    """The violations with these codes, in the order given (duplicates once); the first
    unknown code is a NotFoundError naming it, before anything is drawn."""
    wanted = list(dict.fromkeys(str(c).strip() for c in codes if str(c).strip()))
    if not wanted:
        raise QueryError(message("case.none", lang), parameter="code")
    if len(wanted) > MAX_CODES:
        raise QueryError(message("case.too_many", lang, limit=MAX_CODES, count=len(wanted)), parameter="code")
    frame = registry.read("violations", where={"code": wanted})
    by_code = {str(c): i for i, c in enumerate(frame["code"])}
    out = []
    for code in wanted:
        if code not in by_code:
            raise NotFoundError(message("case.unknown", lang, value=code), layer="violations", value=code)
        i = by_code[code]
        props = {k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
                 for k, v in frame.drop(columns=frame.geometry.name).iloc[i].to_dict().items()}
        out.append({"fid": int(frame.index[i]), "properties": props, "geometry": frame.geometry.iloc[i]})
    return out


def _snippet(ax, registry: Registry, point) -> None:
    """The 1.2 km around ``point``: towns, rivers and lakes, other violations, the point."""
    p = to_metric(point)
    minx, miny, maxx, maxy = p.x - SNIPPET_HALF_M, p.y - SNIPPET_HALF_M, p.x + SNIPPET_HALF_M, p.y + SNIPPET_HALF_M
    box = from_metric(shapely.box(minx, miny, maxx, maxy)).bounds
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#fbfaf7")
    for lid, fc, ec, lw in (("towns", "#f4f1ea", "#b0a58f", 0.6), ("lakes", "#a6cee3", "#2b8cbe", 0.8),
                            ("rivers", "none", "#1f78b4", 2.6)):
        if lid not in registry.catalog:
            continue
        frame = registry.read(lid, bbox=box)
        for geom, name in zip(to_metric(np.asarray(frame.geometry.values, dtype=object)), frame["name"], strict=True):
            for part in shapely.get_parts(geom):
                if part.geom_type == "Polygon":
                    x, y = part.exterior.xy
                    ax.fill(x, y, fc=fc, ec=ec, lw=lw, zorder=1 if lid == "towns" else 2)
                else:
                    x, y = part.xy
                    ax.plot(x, y, color=ec, lw=lw, zorder=3)
            if lid == "rivers":
                q = shapely.line_interpolate_point(geom, geom.project(p))
                ax.text(q.x + 40, q.y + 40, name, fontsize=7, color="#08519c", zorder=5, clip_on=True)
    others = registry.read("violations", bbox=box)
    if len(others):
        om = to_metric(np.asarray(others.geometry.values, dtype=object))
        ax.scatter(shapely.get_x(om), shapely.get_y(om), s=10, c="#999999", zorder=4)
    ax.scatter([p.x], [p.y], s=90, marker="*", c="#e31a1c", edgecolors="white", linewidths=0.6, zorder=6)
    ax.plot([maxx - 260, maxx - 60], [miny + 50, miny + 50], color="#222222", lw=1.5, zorder=7)
    ax.text(maxx - 160, miny + 70, "200 m", fontsize=6.5, ha="center", zorder=7)


def _photo_box(s, registry: Registry, layer, fid: int, kind: str, x: float, top: float, w: float, h: float) -> None:
    """The first ``kind`` photo of the case in a box (``暂无照片`` when there is none)."""
    import io

    from matplotlib.patches import Rectangle

    label = {"before": "整改前照片", "after": "整改后照片"}[kind]
    s.page.text(x, top, label, fontsize=9, va="top", color="#555555")
    from geo.attachments import file_of, records_of

    photos = [r for r in records_of(registry, layer.id, [int(fid)]).get(int(fid), [])
              if r["kind"] == kind and r["content_type"].startswith("image/")]
    found = file_of(registry, photos[0]["id"]) if photos else None
    if found is None or found[1] is None:
        s.page.add_patch(Rectangle((x, top - h), w, h - 6, fc="#f7f7f7", ec="#bbbbbb", lw=0.5))
        s.page.text(x + w / 2, top - h / 2, "暂无照片", fontsize=9, ha="center", va="center", color="#999999")
        return
    from PIL import Image

    with Image.open(io.BytesIO(found[1])) as img:
        img = img.convert("RGB")
        img.thumbnail((1000, 1000))  # enough for print at this size, and a small PDF
        ax = s.axes_mm(x, top - h, w, h - 6)
        ax.imshow(img, aspect="equal")
        ax.set_axis_off()
    taken = (photos[0].get("taken_at") or "")[:16].replace("T", " ")
    if taken:
        s.page.text(x, top - h - 0.5, f"拍摄 {taken}", fontsize=7, va="top", color="#777777")


def render_case_pdf(registry: Registry, codes: Sequence[str], lang: str = "zh") -> bytes:
    """The 交办单 of ``codes`` as one PDF, one A4 page each."""
    from geo.sheets import Sheet, pdf_bytes

    layer = registry.layer("violations")
    found = find_violations(registry, codes, lang)
    sheets = []
    for v in found:
        p, g = v["properties"], v["geometry"]
        s = Sheet("河湖“清四乱”问题交办单", f"编号：{p.get('code')}　状态：{p.get('status')}", demo=registry.is_demo)
        glon, glat = wgs84_to_gcj02(np.array([g.x]), np.array([g.y]))
        rows = [
            ("问题编号", p.get("code")), ("问题类别", p.get("category")), ("问题来源", p.get("source")),
            ("发现日期", p.get("found_on")), ("所在镇（街道）", p.get("town")), ("所在河湖", p.get("river")),
            ("坐标（CGCS2000）", f"经度 {g.x:.6f}，纬度 {g.y:.6f}"),
            ("坐标（GCJ-02，手机导航）", f"{float(glon[0]):.6f},{float(glat[0]):.6f}"),
            ("问题描述", p.get("description") or "—"),
        ]
        for label, value in rows:
            s.page.text(s.left, s.y, label, fontsize=9, va="top", color="#555555")
            s.line(str(value if value is not None else "—"), size=9.5, indent=44)
        snip_h = 70.0
        ax = s.axes_mm(s.left, s.y - snip_h, 95, snip_h)
        _snippet(ax, registry, g)
        # The photos (attachments): before, and after once closed, side by side.
        half = (s.right - s.left - 100) / 2
        kinds = ("before", "after") if p.get("status") == "已销号" else ("before",)
        for i, kind in enumerate(kinds):
            width = half - 2 if len(kinds) == 2 else s.right - s.left - 100
            _photo_box(s, registry, layer, v["fid"], kind, s.left + 100 + i * half, s.y, width, snip_h)
        s.y -= snip_h + 5
        s.heading("交办")
        for label, value in (("责任单位", p.get("unit")), ("整改期限", p.get("deadline"))):
            s.page.text(s.left, s.y, label, fontsize=9, va="top", color="#555555")
            s.line(str(value or "—"), size=9.5, indent=44)
        s.heading("整改销号")
        closed = p.get("status") == "已销号"
        for label, value in (("销号日期", p.get("closed_on") if closed else "（未销号）"), ("备注", p.get("note"))):
            s.page.text(s.left, s.y, label, fontsize=9, va="top", color="#555555")
            s.line(str(value or "—"), size=9.5, indent=44)
        s.y -= 6
        for label in ("交办人（签字）：", "责任单位负责人（签字）：", "销号核查人（签字）："):
            s.page.text(s.left, s.y, label, fontsize=10, va="top")
            s.page.plot([s.left + 48, s.left + 110], [s.y - 5, s.y - 5], color="#222222", lw=0.5)
            s.page.text(s.left + 118, s.y, "日期：", fontsize=10, va="top")
            s.page.plot([s.left + 130, s.right], [s.y - 5, s.y - 5], color="#222222", lw=0.5)
            s.y -= 11
        s.footer(registry, f"{layer.title_zh} {p.get('code')}")
        sheets.append(s)
    return pdf_bytes(sheets, "交办单 " + "、".join(v["properties"]["code"] for v in found[:5]))
