"""Exports carry the attachments: KMZ with photos in the balloons, a ledger with
thumbnails, GeoJSON links over HTTP, and a zip of files named by feature code."""

from __future__ import annotations

import io
import warnings
import zipfile

import pytest
from photos import jpeg, png

from geo import attachments
from geo.export import export


@pytest.fixture
def photographed(registry):
    """Two violations with photos: one before+after, one before only; returns their codes."""
    gdf = registry.read("violations", where={"status": "整改中"})
    (a, b) = [int(f) for f in gdf.index[:2]]
    attachments.add(registry, "violations", a, jpeg(color="#a33"), "现场.jpg", "before", user="王")
    attachments.add(registry, "violations", a, jpeg(color="#3a3"), "整改.jpg", "after", user="王")
    attachments.add(registry, "violations", b, png(), "草图.png", "before", user="王")
    return {fid: registry.get("violations", fid)["properties"]["code"] for fid in (a, b)}


def test_kmz_lists_the_features_and_holds_the_photos_shown_in_the_balloons(registry, photographed, tmp_path):
    import pyogrio

    out = tmp_path / "问题.kmz"
    result = export(registry, "violations", "kmz", out, where="status=整改中")
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        doc = zf.read("doc.kml").decode("utf-8")
        assert names[0] == "doc.kml"
        photos = [n for n in names if n.startswith("files/")]
        assert len(photos) == 3 and all(zf.read(n)[:4] in (b"\xff\xd8\xff\xe0", b"\x89PNG") for n in photos)
    code = photographed[min(photographed)]
    assert f"files/violations/{code}_整改前_1.jpg" in names and f"files/violations/{code}_整改后_1.jpg" in names
    assert f'&lt;img src="files/violations/{code}_整改后_1.jpg"' in doc
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gdf = pyogrio.read_dataframe(f"/vsizip/{out}/doc.kml")
    assert len(gdf) == result.counts["violations"] == registry.count("violations", where={"status": "整改中"})


def test_the_ledger_has_a_thumbnail_column(registry, photographed, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "台账.xlsx"
    export(registry, "violations", "xlsx", out, where="status=整改中")  # the demo's own photos are on other cases
    ws = load_workbook(out)["清四乱问题"]
    heads = [c.value for c in ws[1]]
    assert heads[-1] == "照片"
    assert len(ws._images) == 2
    code_col = heads.index(registry.layer("violations").field("code").title_zh) + 1
    rows = {ws.cell(row=r, column=code_col).value: r for r in range(2, ws.max_row + 1)}
    anchors = {img.anchor._from.row + 1 for img in ws._images}  # 0-based rows in the drawing
    assert anchors == {rows[code] for code in photographed.values()}
    assert {img.anchor._from.col + 1 for img in ws._images} == {len(heads)}


def test_geojson_over_http_links_each_photo(client, app, tmp_path):
    reg = app.extensions["hehu_registry"]
    fid = int(reg.read("violations", where={"status": "整改中"}).index[0])
    rec = attachments.add(reg, "violations", fid, jpeg(), "p.jpg", "before", user="王")
    r = client.get("/export?layers=violations&format=geojson&where=status=整改中")
    assert r.status_code == 200
    import json

    doc = json.loads(r.data)
    linked = [f for f in doc["features"] if f.get("links")]
    assert [f["id"] for f in linked] == [f"violations.{fid}"]
    href = linked[0]["links"][0]["href"]
    assert href == f"http://localhost/collections/violations/items/{fid}/attachments/{rec['id']}"
    assert client.get(href).data[:2] == b"\xff\xd8"
    assert client.get("/export?layers=violations&format=kmz").status_code == 200


def test_hehu_export_with_attachments_writes_files_named_by_code(registry, registry_name, photographed, tmp_path, capsys):
    from cli.main import main

    registry.close()
    out = tmp_path / "问题.geojson"
    assert main(["export", "--registry", registry_name, "--layers", "violations", "--format", "geojson",
                 "--out", str(out), "--where", "status=整改中", "--with-attachments", "--lang", "en"]) == 0
    media = tmp_path / "问题_附件.zip"
    with zipfile.ZipFile(media) as zf:
        names = sorted(zf.namelist())
        a, b = (photographed[k] for k in sorted(photographed))
        assert names == sorted([f"{a}_整改前_1.jpg", f"{a}_整改后_1.jpg", f"{b}_整改前_1.png"])
        from PIL import Image

        assert Image.open(io.BytesIO(zf.read(f"{a}_整改后_1.jpg"))).size == (640, 480)
    assert "3 attachment file(s)" in capsys.readouterr().out


def test_a_kmz_without_photos_is_still_a_kmz(registry, tmp_path):
    out = tmp_path / "rivers.kmz"
    export(registry, "rivers", "kmz", out)
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ["doc.kml"]
