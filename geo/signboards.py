"""河长公示牌: the printable content of each signboard, with a QR code to its river page.

Jiangsu's boards (and the 2021 plan's 第18点) carry the river's name and reach, the
chiefs of every level with their posts, their duties and the management goal, and the
supervision telephones: 12314 (the Ministry of Water Resources' supervision line),
96082 and 12345 (the government service hotline). Boards across the province now also carry a QR code opening the river's
page; here it encodes :func:`geo.dossier.public_url` of the board's reach, so the
base address is a deployment setting (``PUBLIC_BASE_URL``, ``--base-url``).

A board is flagged 需更新 when the chief written on it is not one of the registry's
chiefs of its reach (the plan: 及时更新调整各级河湖长及公示牌).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from geo.crs import to_metric
from geo.errors import QueryError
from geo.i18n import message

if TYPE_CHECKING:
    from geo.registry import Registry

#: The numbers the issue asks for; 96082's owner is not named here (not confirmed).
PHONES = (("12314", "水利部监督举报"), ("96082", ""), ("12345", "政务服务热线"))
DUTIES = ("负责组织领导相应河湖的管理和保护工作，包括水资源保护、水域岸线管理、水污染防治、水环境治理等，"
          "牵头组织对侵占河道、围垦湖泊、超标排污、非法采砂、破坏航道、电毒炸鱼等突出问题依法进行清理整治。")
GOAL = "河畅、水清、岸绿、景美"
LEVEL_ORDER = {"区级": 0, "镇级": 1, "村级": 2}


def check_base_url(base_url: str | None, lang: str = "zh") -> str:
    """The public base URL, or a QueryError: it must be absolute http(s)."""
    from urllib.parse import urlparse

    value = (base_url or "").strip()
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or any(c.isspace() for c in value):
        raise QueryError(message("signboards.bad_base_url", lang, value=value), parameter="base_url")
    return value.rstrip("/")


def qr_code(url: str):
    """The segno QR code of ``url`` (error correction M: a weathered board still scans)."""
    import segno

    return segno.make(url, error="m", micro=False)


def qr_png(url: str, scale: int = 8) -> bytes:
    """The QR code of ``url`` as PNG bytes with its quiet zone."""
    import io

    buf = io.BytesIO()
    qr_code(url).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def assess_boards(registry: Registry, boards) -> list[dict[str, Any]]:
    """For each board (rows of ``signboards``): its reach (the nearest reach of its
    river), the registry's active chiefs of that reach by level, and ``needs_update``
    (the chief written on the board is not one of them)."""
    if boards.empty:
        return []
    rivers = registry.read("rivers", where={"name": sorted(set(boards["river"].dropna()))})
    chiefs = registry.read("chiefs") if "chiefs" in registry.catalog else None
    by_reach: dict[str, list[dict[str, Any]]] = {}
    if chiefs is not None:
        for rec in chiefs.drop(columns=chiefs.geometry.name).to_dict("records"):
            if rec.get("active") is False:
                continue
            for code in str(rec.get("reaches") or "").replace("；", ";").split(";"):
                if code.strip():
                    by_reach.setdefault(code.strip(), []).append(rec)
    # The board's reach: the nearest reach of the same river (a river has a handful).
    reach_m = to_metric(np.asarray(rivers.geometry.values, dtype=object)) if len(rivers) else np.array([], dtype=object)
    board_m = to_metric(np.asarray(boards.geometry.values, dtype=object))
    names = rivers["name"].to_numpy()
    out = []
    for i, rec in enumerate(boards.drop(columns=boards.geometry.name).to_dict("records")):
        same = np.flatnonzero(names == rec["river"])
        reach = None
        if same.size:
            j = same[int(np.argmin(shapely.distance(reach_m[same], board_m[i])))]
            reach = rivers.iloc[j]
        code = str(reach["code"]) if reach is not None else None
        held = sorted(by_reach.get(code, []), key=lambda c: (LEVEL_ORDER.get(c.get("level"), 9), c.get("code") or ""))
        chief_names = {c["name"] for c in held}
        out.append({
            "reach_code": code,
            "reach": (reach.get("reach") if reach is not None else None) or rec["river"],
            "chiefs": [{k: c.get(k) for k in ("name", "level", "post", "phone")} for c in held]
            or ([{"name": reach.get("chief"), "level": reach.get("grade"), "post": reach.get("chief_title"), "phone": None}]
                if reach is not None and reach.get("chief") else []),
            "needs_update": bool(chief_names) and rec.get("chief") not in chief_names,
        })
    return out


def signboard_sheets(registry: Registry, base_url: str, river: str | None = None, lang: str = "zh") -> list[dict[str, Any]]:
    """Each board's content: code, river, reach (the nearest reach of its river), the
    registry's chiefs of that reach by level, the chief on the board, needs_update, url."""
    from geo.dossier import find_water, public_url

    base = check_base_url(base_url, lang)
    boards = registry.read("signboards")
    if river:
        _, water = find_water(registry, river)
        boards = boards[boards["river"] == str(water["name"].iloc[0])]
    if boards.empty:
        raise QueryError(message("signboards.none", lang, river=river or "—"), parameter="river")
    out = []
    records = boards.drop(columns=boards.geometry.name).to_dict("records")
    for rec, status in zip(records, assess_boards(registry, boards), strict=True):
        out.append({
            "code": rec["code"], "river": rec["river"], **status,
            "board_chief": rec.get("chief"), "board_phone": rec.get("phone"),
            "url": public_url(base, status["reach_code"] or rec["river"]),
        })
    out.sort(key=lambda b: b["code"])
    return out


def render_signboards_pdf(registry: Registry, boards: list[dict[str, Any]]) -> bytes:
    """One A4 sheet per board: the board's face as printed, the QR code, and a red
    需更新 stamp when its chief is out of date."""
    from matplotlib.patches import Rectangle

    from geo.sheets import Sheet, pdf_bytes

    sheets = []
    for b in boards:
        s = Sheet("河长公示牌", f"编号：{b['code']}　二维码：{b['url']}", demo=registry.is_demo)
        top, left, right = s.y, s.left, s.right
        s.page.add_patch(Rectangle((left, 40), right - left, top - 40, fc="white", ec="#08519c", lw=2.2))
        s.page.add_patch(Rectangle((left, top - 24), right - left, 24, fc="#08519c", ec="#08519c"))
        s.page.text((left + right) / 2, top - 12, f"{b['river']}　河长公示牌", ha="center", va="center", fontsize=22,
                    color="white")
        s.y = top - 32
        s.left, s.right = left + 6, right - 6  # the board's inner margin
        s.line(f"河道名称：{b['river']}", size=13)
        s.line(f"河　　段：{b['reach']}（{b['reach_code'] or '—'}）", size=13)
        s.y -= 2
        for c in b["chiefs"]:
            s.line(f"{c.get('level') or ''}河长：{c.get('name') or '—'}　{c.get('post') or ''}", size=13)
        if b["board_chief"] and b["needs_update"]:
            s.line(f"（牌面现为：{b['board_chief']}）", size=10, color="#c0392b")
        s.y -= 2
        s.line(f"河长职责：{DUTIES}", size=9.5)
        s.line(f"管护目标：{GOAL}", size=11)
        s.y -= 2
        s.line("监督电话：" + "　".join(f"{n}（{what}）" if what else n for n, what in PHONES), size=11)
        if b["board_phone"]:
            s.line(f"河长办电话：{b['board_phone']}", size=11)
        qr = qr_code(b["url"])
        matrix = np.pad(np.asarray(qr.matrix, dtype=np.uint8), 4)
        size_mm = 55.0
        ax = s.axes_mm((left + right) / 2 - size_mm / 2, 52, size_mm, size_mm)
        ax.imshow(1 - matrix, cmap="gray", interpolation="nearest", vmin=0, vmax=1)
        ax.axis("off")
        s.page.text((left + right) / 2, 48, "扫码查看一河一档", ha="center", va="top", fontsize=10, color="#08519c")
        if b["needs_update"]:
            s.page.text(right - 8, top - 34, "需更新", ha="right", va="top", fontsize=24, color="#c0392b", rotation=12,
                        bbox={"boxstyle": "round,pad=0.3", "fc": "none", "ec": "#c0392b", "lw": 2})
        s.left, s.right = left, right
        s.footer(registry, "版式参照江苏省河长公示牌：河道名称、河段、各级河长及职务、职责、管护目标、监督电话")
        sheets.append(s)
    return pdf_bytes(sheets, "河长公示牌")
