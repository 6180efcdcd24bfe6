"""``GET /export`` and ``hehu export``: downloads named for people, errors as JSON / exit 2."""

from __future__ import annotations

import io
import json
import re
import zipfile
from urllib.parse import unquote

import pyogrio
import pytest

from cli.main import main
from server.export import content_disposition


def filename_star(header: str) -> str:
    m = re.search(r"filename\*=UTF-8''([^;]+)", header)
    assert m, header
    return unquote(m.group(1))


def filename_ascii(header: str) -> str:
    m = re.search(r'filename="([^"]*)"', header)
    assert m, header
    return m.group(1)


def test_content_disposition_carries_a_chinese_name_with_an_ascii_fallback():
    header = content_disposition('清四乱问题 "丹金溧漕河"50米内.geojson', "violations_near50m.geojson")
    assert header.startswith("attachment; ")
    header.encode("latin-1")  # a valid header value
    assert filename_star(header) == '清四乱问题 "丹金溧漕河"50米内.geojson'
    assert filename_ascii(header) == "violations_near50m.geojson"
    # Without a fallback, the ASCII name is what survives, never a raw non-ASCII byte.
    bare = content_disposition("河道.kml")
    assert filename_ascii(bare) == "download.kml" and filename_star(bare) == "河道.kml"


def test_export_endpoint_downloads_the_query_result(client, app):
    reg = app.extensions["hehu_registry"]
    expected = reg.near("丹金溧漕河", 50, layers="violations")
    resp = client.get("/export", query_string={"layers": "violations", "format": "geojson", "near": "丹金溧漕河:50"})
    assert resp.status_code == 200
    assert resp.mimetype == "application/geo+json"
    cd = resp.headers["Content-Disposition"]
    assert filename_star(cd).startswith("清四乱问题_丹金溧漕河50米内") and filename_star(cd).endswith(".geojson")
    assert filename_ascii(cd).startswith("violations_near50m")
    doc = json.loads(resp.get_data())
    assert sorted(f["properties"]["code"] for f in doc["features"]) == sorted(expected["code"])
    assert resp.headers["X-Hehu-Count"] == str(len(expected))
    assert "/tmp" not in unquote(resp.headers["X-Hehu-Message"])
    resp.close()


def test_export_endpoint_filters_and_repeats_where(client, app):
    reg = app.extensions["hehu_registry"]
    want = reg.read("violations", where={"status": ["整改中", "反弹"]})
    want = want[want["town"] == "儒林镇"]
    resp = client.get(
        "/export?layers=violations&format=xlsx&town=儒林镇&where=status:整改中&where=status=反弹"
    )
    assert resp.status_code == 200
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(resp.get_data()))
    ws = wb["清四乱问题"]
    # The town filter is spatial; the demo's violations carry the town they lie in.
    assert ws.max_row - 1 == len(want)
    resp.close()


def test_export_endpoint_gives_a_zip_for_shapefiles_and_several_csv_layers(client):
    resp = client.get("/export?layers=rivers&format=shp&crs=EPSG:4549")
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    assert filename_star(resp.headers["Content-Disposition"]).endswith(".shp.zip")
    zf = zipfile.ZipFile(io.BytesIO(resp.get_data()))
    assert "rivers.shp" in zf.namelist() and "fieldmap.csv" in zf.namelist()
    assert "4549" in zf.read("rivers.prj").decode() or "Gauss" in zf.read("rivers.prj").decode()
    resp.close()
    resp = client.get("/export?layers=rivers,lakes&format=csv")
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    assert sorted(zipfile.ZipFile(io.BytesIO(resp.get_data())).namelist()) == ["lakes.csv", "rivers.csv"]
    resp.close()


def test_export_endpoint_says_when_the_result_is_empty(client):
    resp = client.get("/export?layers=violations&format=gpkg&bbox=119.30,31.40,119.3001,31.4001")
    assert resp.status_code == 200
    assert resp.headers["X-Hehu-Empty"] == "true" and resp.headers["X-Hehu-Count"] == "0"
    assert "empty" in unquote(resp.headers["X-Hehu-Message"])
    resp.close()


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("layers=nope&format=geojson", "layers"),
        ("layers=violations&format=dxf", "format"),
        ("layers=violations&format=geojson&bbox=1,2", "bbox"),
        ("layers=violations&format=geojson&town=火星镇", "town"),
        ("layers=violations&format=geojson&where=colour=red", "where"),
        ("layers=violations&format=geojson&near=丹金溧漕河", "near"),
        ("layers=violations&format=kml&crs=EPSG:4549", "crs"),
        ("layers=violations&format=geojson&problems=maybe", "problems"),
    ],
)
def test_export_endpoint_rejects_bad_parameters_with_400_json(client, query, parameter):
    resp = client.get("/export?" + query)
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["parameter"] == parameter and body["description"]


@pytest.mark.parametrize(
    "url, parameter, name",
    [
        ("/export?layers=violations&format=geojson&near=不存在的河:50", "near", "不存在的河"),
        ("/export?layers=violations&format=geojson&within=火星镇", "within", "火星镇"),
        ("/print?layers=violations&near=不存在的河:50", "near", "不存在的河"),
        ("/print?layers=violations&town=火星镇", "town", "火星镇"),
    ],
)
def test_an_unknown_target_is_a_400_naming_the_parameter_asked(client, url, parameter, name):
    resp = client.get(url)
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["parameter"] == parameter and name in body["description"]


def test_cli_export_writes_exactly_the_out_path(demo_path, tmp_path, capsys):
    out = tmp_path / "近河问题.zip"
    code = main(["export", "--registry", str(demo_path), "--layers", "violations,micro_water_bodies",
                 "--format", "shp", "--near", "丹金溧漕河:50", "--out", str(out)])
    assert code == 0
    assert list(tmp_path.iterdir()) == [out]
    message = capsys.readouterr().out
    assert "violations" in message and str(out) in message
    got = pyogrio.read_dataframe(f"/vsizip/{out}/violations.shp")
    assert len(got) > 0 and (got["distance_m"] <= 50).all()


def test_cli_export_reports_an_empty_result(demo_path, tmp_path, capsys):
    out = tmp_path / "e.geojson"
    code = main(["export", "--registry", str(demo_path), "--layers", "violations", "--format", "geojson",
                 "--bbox", "119.30,31.40,119.3001,31.4001", "--out", str(out)])
    assert code == 0 and json.loads(out.read_text(encoding="utf-8"))["features"] == []
    assert "empty" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--layers", "violationz", "--format", "geojson"], "unknown layer 'violationz'"),
        (["--layers", "violations", "--format", "dwg"], "unknown format 'dwg'"),
        (["--layers", "violations", "--format", "geojson", "--town", "火星镇"], "unknown town"),
        (["--layers", "violations", "--format", "geojson", "--near", "不存在的河:50"], "不存在的河"),
        (["--layers", "violations", "--format", "geojson", "--bbox", "a,b,c,d"], "bbox"),
    ],
)
def test_cli_export_bad_input_is_one_line_and_exit_2(demo_path, tmp_path, capsys, extra, words):
    out = tmp_path / "x.out"
    code = main(["export", "--registry", str(demo_path), "--out", str(out), *extra, "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 2 and words in err and err.count("\n") == 1
    assert not out.exists()


_OUT_CASES = [
    ("folder given", "is a folder"),
    ("parent is a file", "is not a folder"),
    ("missing folder", "does not exist"),
    ("unwritable folder", "cannot write in folder"),
]


@pytest.mark.parametrize(
    "command, case, words",
    [("export", "bad crs", "unknown CRS 'EPSG:999999'"), ("export", "projected kml", "kml is longitude/latitude")]
    + [(command, *c) for command in ("export", "print") for c in _OUT_CASES],
)
def test_cli_a_wrong_out_or_crs_is_one_line_exit_2_and_writes_nothing(
    demo_path, tmp_path, capsys, monkeypatch, command, case, words
):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "note.txt").write_text("a file, not a folder")
    suffix = {"export": ".kml" if case == "projected kml" else ".gpkg", "print": ".pdf"}[command]
    out = {"folder given": folder, "parent is a file": folder / "note.txt" / f"x{suffix}",
           "missing folder": folder / "no" / f"x{suffix}"}.get(case, folder / f"x{suffix}")
    extra = []
    if case == "bad crs":
        extra = ["--crs", "EPSG:999999"]
    elif case == "projected kml":
        extra = ["--crs", "EPSG:4549"]
    elif case == "unwritable folder":
        import tempfile

        def read_only(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        # Tests run as root, for whom no folder is read-only: the refusal is simulated.
        monkeypatch.setattr(tempfile, "mkstemp", read_only)
    if command == "print":
        args = ["print", "--layers", "violations", "--title", "图", "--paper", "A4"]
    else:
        args = ["export", "--layers", "violations", "--format", suffix[1:], *extra]
    code = main([*args, "--registry", str(demo_path), "--out", str(out), "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 2 and words in err and err.count("\n") == 1, err
    assert sorted(p.name for p in folder.iterdir()) == ["note.txt"]


@pytest.mark.parametrize(
    "extra, zh, en",
    [
        (["--layers", "violationz", "--format", "geojson"], "未知图层 'violationz'（您要找的是否是 violations？）",
         "unknown layer 'violationz' (did you mean violations?)"),
        (["--layers", "violations", "--format", "dwg"], "未知格式 'dwg'；可选格式：", "unknown format 'dwg'; formats:"),
        (["--layers", "violations", "--format", "geojson", "--near", "丹金溧漕河"], "near 须为 目标:米数",
         "near must be TARGET:METRES"),
        (["--layers", "violations", "--format", "geojson", "--where", "colour=red"], "都没有字段 'colour'",
         "has a field 'colour'"),
        (["--layers", "violations", "--format", "kml", "--crs", "EPSG:4549"], "按规范只用经纬度",
         "is longitude/latitude by specification"),
    ],
)
def test_cli_export_errors_speak_the_runs_language(demo_path, tmp_path, capsys, extra, zh, en):
    out = tmp_path / "x.out"
    for lang, words in (("zh", zh), ("en", en)):
        code = main(["export", "--registry", str(demo_path), "--out", str(out), *extra, "--lang", lang])
        err = capsys.readouterr().err
        assert code == 2 and words in err and err.count("\n") == 1, err
    assert not out.exists()


def test_export_errors_over_http_speak_the_pages_language(client):
    resp = client.get("/export?layers=violations&format=dwg")
    assert resp.status_code == 400 and "未知格式 'dwg'" in resp.get_json()["description"]
    resp = client.get("/export?layers=violations&format=dwg&lang=en")
    assert resp.status_code == 400 and "unknown format 'dwg'" in resp.get_json()["description"]
