"""Printed maps tell the truth about water and closed problems.

The README's A3 command (``--layers towns,rivers,violations``) must show 长荡湖 (its
polygon drawn, its name on the page), closed violations hollow as on the web map, and
the legend counting 未销号 and 已销号 apart; print-this-view at district zoom fills its
frame with the district rather than with the margins of the browser window.
"""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

import geo.carto as carto
from cli.main import main
from geo.carto import RESOLVED_STYLE, render_map
from layers import load_catalog


# Every request here only reads: one app on the demo for the whole module.
@pytest.fixture(scope="module")
def app(demo_app):
    return demo_app


@pytest.fixture(scope="module")
def client(demo_app):
    return demo_app.test_client()


def pdftotext(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def lake_fill_pixels(png) -> int:
    """Pixels of the lake's fill as printed (its catalog colour over white, opaque)."""
    style = load_catalog()["lakes"].style
    rgb = np.array(carto._over_white(style.fill_color, style.fill_opacity)[:3]) * 255
    img = np.asarray(Image.open(png).convert("RGB"), dtype=float)
    return int((np.abs(img - rgb).max(axis=2) <= 3).sum())


@pytest.fixture(scope="module")
def readme_a3(demo_path, tmp_path_factory):
    """The README's A3 command, run as the CLI runs it."""
    out = tmp_path_factory.mktemp("a3") / "清四乱.pdf"
    code = main(["print", "--registry", str(demo_path), "--layers", "towns,rivers,violations",
                 "--title", "金坛区清四乱问题分布图", "--paper", "A3", "--orientation", "landscape",
                 "--out", str(out)])
    assert code == 0
    return out


def test_readme_a3_names_the_lake_and_splits_the_legend_counts(readme_a3, demo_path):
    from geo.registry import Registry

    text = pdftotext(readme_a3)
    assert "长荡湖" in text
    reg = Registry.open(demo_path)
    try:
        v = reg.read("violations")
    finally:
        reg.close()
    closed = int((v["status"] == "已销号").sum())
    assert 0 < closed < len(v)
    assert f"清四乱问题（未销号 {len(v) - closed}，已销号 {closed}）" in text
    assert f"已销号（{closed}）" in text
    # The lake is context: drawn, but not a legend line of its own.
    assert "湖泊（" not in text
    # The credits line is Chinese: no English connecting words left.
    credits = text[text.index("数据来源"):]
    assert "via the PyPI package" not in credits and "converted to" not in credits


def test_readme_a3_draws_the_lake_polygon_over_the_town_lines(demo_registry, tmp_path):
    png = tmp_path / "a3.png"
    res = render_map(demo_registry, "towns,rivers,violations", png, title="金坛区清四乱问题分布图",
                     paper="A3", orientation="landscape", dpi=60)
    assert res.context == ["lakes"] and "lakes" not in res.legend_layers
    # 长荡湖 covers tens of km²: at 1:175,000 and 60 dpi thousands of pixels of its fill.
    assert lake_fill_pixels(png) > 3000
    assert "长荡湖" in res.labels


def test_closed_violations_are_drawn_hollow(demo_registry, tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    calls = []
    original = Axes.scatter

    def record(self, x, y, *args, **kwargs):
        calls.append((len(np.atleast_1d(x)), kwargs.get("facecolors"), kwargs.get("edgecolors")))
        return original(self, x, y, *args, **kwargs)

    monkeypatch.setattr(Axes, "scatter", record)
    reg = demo_registry
    closed = int((reg.read("violations")["status"] == "已销号").sum())
    render_map(reg, "violations", tmp_path / "m.pdf", title="清四乱", paper="A4")
    hollow = [c for c in calls if isinstance(c[1], str) and c[1] == "none"]
    assert len(hollow) == 1 and hollow[0][0] == closed
    grey = carto._rgba(RESOLVED_STYLE["color"])
    assert tuple(hollow[0][2]) == grey
    filled = sum(n for n, face, _ in calls if face is None)
    assert filled == len(reg.read("violations")) - closed


def test_print_this_view_at_district_zoom_fits_the_district_and_shows_the_lake(client, app):
    district = app.extensions["hehu_registry"].district().bounds
    # A browser window at district zoom: the district plus wide margins on every side.
    w, h = district[2] - district[0], district[3] - district[1]
    view = (district[0] - w, district[1] - 0.3 * h, district[2] + w, district[3] + 0.3 * h)
    resp = client.get("/print", query_string={
        "layers": "district,towns,rivers,violations", "bbox": ",".join(f"{v:.6f}" for v in view),
        "base": "0", "paper": "A4", "orientation": "landscape", "title": "当前视图",
    })
    assert resp.status_code == 200
    frame = [float(v) for v in resp.headers["X-Hehu-Extent"].split(",")]
    # The frame holds the district and is far smaller than the view asked for.
    assert frame[0] <= district[0] and frame[2] >= district[2] and frame[1] <= district[1] and frame[3] >= district[3]
    assert (frame[2] - frame[0]) < 0.6 * (view[2] - view[0])
    text = PdfReader(io.BytesIO(resp.get_data())).pages[0].extract_text()
    resp.close()
    assert "长荡湖" in text and "未销号" in text and "已销号" in text


def test_legend_groups_never_split_across_columns():
    E = carto.LegendEntry
    groups = [[E("a", "A", "header", "#000")] + [E("a", str(i), "point", "#000", str(i), 1) for i in range(4)],
              [E("b", "B", "header", "#000")] + [E("b", str(i), "point", "#000", str(i), 1) for i in range(3)]]
    slots = carto._legend_slots(groups, per_col=6)
    assert slots[:5] == [(0, i) for i in range(5)]
    assert slots[5:] == [(1, i) for i in range(4)]  # B moves whole to the next column
    assert carto._legend_slots(groups, per_col=3) is None



def test_the_cached_font_leaves_out_tables_matplotlib_never_reads():
    """Subsetting GSUB/GPOS/vmtx for every PDF was half of each print's time."""
    from fontTools.ttLib import TTFont

    from geo.fonts import UNUSED_TABLES, cjk_font_path

    font = TTFont(str(cjk_font_path()), lazy=True)
    assert not set(UNUSED_TABLES) & set(font.keys())
    assert {"glyf", "cmap", "hmtx"} <= set(font.keys())
