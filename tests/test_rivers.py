"""一河一档 pages and dossier, 交办单 case sheets, signboard sheets and their QR codes."""

from __future__ import annotations

import io
import subprocess

import pytest

from geo.casesheet import render_case_pdf
from geo.dossier import RiverNotFound, river_dossier
from geo.signboards import qr_png, render_signboards_pdf, signboard_sheets
from server import create_app

BASE = "https://hehu.example.cn"


def pdf_text(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text() for p in PdfReader(io.BytesIO(data)).pages]


def decode_qr(png: bytes) -> list[str]:
    import zxingcpp
    from PIL import Image

    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))]


@pytest.fixture(scope="module")
def ro_registry(demo_path):
    from geo.registry import Registry

    reg = Registry.open(demo_path)
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def ro(demo_path):
    return create_app({"REGISTRY": str(demo_path), "TESTING": True}).test_client()


# -- the dossier ----------------------------------------------------------------------


def test_open_problem_count_is_the_query_engines_answer_at_50_m(ro_registry):
    d = river_dossier(ro_registry, "丹金溧漕河")
    near = ro_registry.near("丹金溧漕河", 50)
    assert d.open_count == len(near) > 0
    assert sorted(p["code"] for p in d.open_problems) == sorted(near["code"])
    everything = ro_registry.near("丹金溧漕河", 50, layers=["violations"], all_features=True)
    closed = everything[everything["status"] == "已销号"]
    assert sorted(p["code"] for p in d.closed_problems if p["layer"] == "violations") == sorted(closed["code"])


def test_page_count_is_what_hehu_query_near_prints(ro, demo_path, capsys):
    import json

    from cli.main import main

    assert main(["query", "near", "--target", "丹金溧漕河", "--distance", "50", "--format", "geojson",
                 "--registry", str(demo_path)]) == 0
    cli_count = len(json.loads(capsys.readouterr().out)["features"])
    page = ro.get("/rivers/丹金溧漕河").get_data(as_text=True)
    assert f'id="open-count">{cli_count}<' in page


def test_any_reach_code_or_alias_opens_the_whole_river(ro_registry):
    whole = river_dossier(ro_registry, "丹金溧漕河")
    assert len(whole.reaches) == 4
    for key in ("HD-0003", "丹金河"):
        d = river_dossier(ro_registry, key)
        assert [r["code"] for r in d.reaches] == [r["code"] for r in whole.reaches]
        assert d.open_count == whole.open_count


def test_dossier_lists_reaches_chiefs_towns_length_sections_and_patrols(ro_registry):
    d = river_dossier(ro_registry, "丹金溧漕河")
    chiefs = ro_registry.read("chiefs")
    mine = chiefs[chiefs["reaches"].str.contains("HD-0001")]
    assert d.reaches[0]["chiefs"][0]["name"] == mine["name"].iloc[0]
    assert {"直溪镇", "金城镇", "儒林镇"} <= set(d.towns)
    assert d.length_m == pytest.approx(sum(r["length_m"] for r in d.reaches))
    assert 30_000 < d.length_m < 40_000  # EPSG:4549 metres, not degrees
    assert {s["code"] for s in d.sections} >= {"DM-01", "DM-02", "DM-03"}
    assert all(s["latest_class"] for s in d.sections)
    assert d.patrol_count > 0 and 0 < d.coverage_share <= 1
    assert len(d.signboards) == 16


def test_a_lake_has_a_dossier_too(ro_registry):
    d = river_dossier(ro_registry, "长荡湖")
    assert d.kind == "lakes" and d.area_km2 > 10 and d.length_m is None


def test_unknown_river_raises_with_suggestions(ro_registry):
    with pytest.raises(RiverNotFound) as info:
        river_dossier(ro_registry, "丹金河道")
    assert "丹金溧漕河" in info.value.details["suggestions"]


# -- HTTP -----------------------------------------------------------------------------


def test_river_page_is_chinese_by_default_and_english_on_request(ro):
    zh = ro.get("/rivers/丹金溧漕河")
    assert zh.status_code == 200 and "一河一档" in zh.get_data(as_text=True)
    en = ro.get("/rivers/丹金溧漕河?lang=en")
    text = en.get_data(as_text=True)
    assert en.status_code == 200 and "Reaches and chiefs" in text
    assert "illegal piling" in text and "<td>乱堆</td>" not in text  # the catalog's English labels


def test_unknown_river_is_a_404_page_with_suggestions(ro):
    resp = ro.get("/rivers/丹金河道")
    assert resp.status_code == 404 and resp.mimetype == "text/html"
    assert 'href="/rivers/%E4%B8%B9%E9%87%91%E6%BA%A7%E6%BC%95%E6%B2%B3"' in resp.get_data(as_text=True)
    assert ro.get("/rivers/丹金河道.json").status_code == 404


@pytest.mark.parametrize("url", [
    "/rivers/丹金溧漕河?lang=fr", "/rivers/丹金溧漕河.pdf?lang=xx", "/rivers/丹金溧漕河?year=abc",
    "/rivers/丹金溧漕河?year=99999", "/collections/violations/items/18446744073709551616/case.pdf",
    "/collections/violations/items/-1/case.pdf", "/collections/violations/items/abc/case.pdf",
    "/collections/violations/items/999999/case.pdf", "/rivers/%00", "/rivers/" + "河" * 300,
    "/signboards.pdf?river=不存在的河",
])
def test_bad_input_is_a_4xx_never_a_5xx(ro, url):
    assert 400 <= ro.get(url).status_code < 500


def test_river_pdf_has_extractable_chinese_text(ro):
    resp = ro.get("/rivers/HD-0001.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = "".join(pdf_text(resp.data))
    assert "丹金溧漕河" in text and "河段与河湖长" in text and "谢琴" in text


def test_case_pdf_of_a_violation_and_its_export_rights(demo_path, ro, ro_registry):
    fid = int(ro_registry.read("violations", limit=1).index[0])
    resp = ro.get(f"/collections/violations/items/{fid}/case.pdf")
    assert resp.status_code == 200
    code = ro_registry.get("violations", fid)["properties"]["code"]
    assert code in pdf_text(resp.data)[0]
    guarded = create_app({"REGISTRY": str(demo_path), "TESTING": True, "EXPORT_ROLES": {"violations": "editor"}})
    assert guarded.test_client().get(f"/collections/violations/items/{fid}/case.pdf").status_code == 401


# -- 交办单 -------------------------------------------------------------------------------


def test_case_sheets_of_two_codes_are_two_pages_with_their_codes(ro_registry):
    v = ro_registry.read("violations")
    codes = [v[v["status"] != "已销号"]["code"].iloc[0], v[v["status"] == "已销号"]["code"].iloc[0]]
    pages = pdf_text(render_case_pdf(ro_registry, codes))
    assert len(pages) == 2
    for code, text in zip(codes, pages, strict=True):
        assert code in text and "交办单" in text and "GCJ-02" in text and "签字" in text
    assert "销号日期" in pages[1]


def test_case_sheet_of_an_unknown_code_names_it(ro_registry):
    from geo.errors import NotFoundError

    with pytest.raises(NotFoundError, match="NOPE-1"):
        render_case_pdf(ro_registry, ["QSL-2021-0024", "NOPE-1"])


# -- signboards ---------------------------------------------------------------------------


def test_signboard_qr_decodes_to_its_river_page(ro_registry, ro, tmp_path):
    boards = signboard_sheets(ro_registry, BASE, "丹金溧漕河")
    url = boards[0]["url"]
    assert url == f"{BASE}/rivers/HD-0001"
    assert decode_qr(qr_png(url)) == [url]
    # The printed sheet: rendered as a phone camera would see it, the QR still decodes.
    pdf = tmp_path / "boards.pdf"
    pdf.write_bytes(render_signboards_pdf(ro_registry, boards[:1]))
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")], check=True)
    png = next(tmp_path.glob("p*.png")).read_bytes()
    assert url in decode_qr(png)
    # ... and the URL opens that river's page.
    page = ro.get(url.removeprefix(BASE))
    assert page.status_code == 200 and "丹金溧漕河" in page.get_data(as_text=True)


def test_a_board_whose_chief_left_is_flagged_needs_update(registry):
    board = registry.read("signboards", where={"code": "GSP-0001"})
    registry.update("signboards", int(board.index[0]), {"chief": "张三"})
    boards = {b["code"]: b for b in signboard_sheets(registry, BASE, "丹金溧漕河")}
    assert boards["GSP-0001"]["needs_update"] and not boards["GSP-0002"]["needs_update"]
    text = pdf_text(render_signboards_pdf(registry, [boards["GSP-0001"]]))[0]
    assert "需更新" in text and "12314" in text and "96082" in text and "12345" in text
    assert "丹金溧漕河" in text and "区级河长" in text
    # The river's page says the same.
    flagged = {b["code"] for b in river_dossier(registry, "丹金溧漕河").signboards if b["needs_update"]}
    assert flagged == {"GSP-0001"}


def test_a_board_naming_the_chief_of_another_reach_needs_update(registry):
    board = registry.read("signboards", where={"code": "GSP-0001"})  # on HD-0001 (谢琴)
    registry.update("signboards", int(board.index[0]), {"chief": "范亮"})  # HD-0003's chief
    boards = {b["code"]: b for b in signboard_sheets(registry, BASE, "丹金溧漕河")}
    assert boards["GSP-0001"]["needs_update"] and boards["GSP-0001"]["reach_code"] == "HD-0001"


def test_signboards_need_an_absolute_http_base_url(ro_registry):
    from geo.errors import QueryError

    for bad in ("", "hehu.example.cn", "javascript:alert(1)", "http://"):
        with pytest.raises(QueryError, match="PUBLIC_BASE_URL"):
            signboard_sheets(ro_registry, bad)


def test_signboards_pdf_over_http_uses_the_public_base_url(demo_path):
    app = create_app({"REGISTRY": str(demo_path), "TESTING": True, "PUBLIC_BASE_URL": "https://h.example.cn/"})
    resp = app.test_client().get("/signboards.pdf?river=HD-0002")
    assert resp.status_code == 200
    assert "https://h.example.cn/rivers/HD-0001" in pdf_text(resp.data)[0]  # the first board, on HD-0001


# -- CLI --------------------------------------------------------------------------------------


def test_cli_prints_river_case_and_signboards(demo_path, tmp_path, capsys):
    from cli.main import main

    reg = ["--registry", str(demo_path)]
    assert main(["print", "river", "丹金溧漕河", "--out", str(tmp_path / "r.pdf"), *reg]) == 0
    assert "丹金溧漕河" in "".join(pdf_text((tmp_path / "r.pdf").read_bytes()))
    assert main(["print", "case", "QSL-2021-0024", "QSL-2021-0263", "--out", str(tmp_path / "c.pdf"), *reg]) == 0
    assert len(pdf_text((tmp_path / "c.pdf").read_bytes())) == 2
    assert main(["print", "signboards", "--river", "丹金溧漕河", "--base-url", BASE, "--out",
                 str(tmp_path / "s.pdf"), *reg]) == 0
    assert len(pdf_text((tmp_path / "s.pdf").read_bytes())) == 16


@pytest.mark.parametrize("argv", [
    ["print", "case", "NOPE", "--out", "x.pdf"],
    ["print", "river", "丹金河道", "--out", "x.pdf"],
    ["print", "river", "丹金溧漕河", "--out", "x.png"],
    ["print", "signboards", "--out", "x.pdf"],
    ["print", "--out", "x.pdf"],
])
def test_cli_refusals_are_one_line_exit_2_and_write_nothing(demo_path, tmp_path, monkeypatch, capsys, argv):
    from cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HEHU_PUBLIC_BASE_URL", raising=False)
    assert main([*argv, "--registry", str(demo_path), "--lang", "en"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hehu print: error:") and "\n" not in err
    assert not list(tmp_path.glob("x.*"))
