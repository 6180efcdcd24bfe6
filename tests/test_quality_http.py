"""/quality, /quality.json, /quality.pdf, /quality/import, and the observations as an OGC
API collection (filter by section and datetime, downloads, history)."""

import io
import re
import subprocess

import pytest

from geo.quality.report import JSON_KEYS
from geo.users import add_user


@pytest.fixture
def tokens(app):
    reg = app.extensions["hehu_registry"]
    return {role: add_user(reg, f"u-{role}", role, iterations=1000) for role in ("field", "editor")}


def test_report_json_has_exactly_the_issue_shape(client):
    body = client.get("/quality.json?year=2021").get_json()
    assert len(body) == 11
    for row in body:
        assert tuple(row) == JSON_KEYS
        assert list(row["months"]) == [f"2021-{m:02d}" for m in range(1, 13)]
        assert all(isinstance(c, int) and 1 <= c <= 6 for c in row["months"].values())
        assert isinstance(row["annual_class"], int) and 1 <= row["annual_class"] <= 6
        assert set(row["means"]) <= {"pH", "DO", "CODMn", "COD", "BOD5", "NH3-N", "TP", "TN"}
        assert len(row["main_pollutants"]) <= 3
        assert isinstance(row["lake"], bool) and isinstance(row["counted"], bool)
    lake = next(r for r in body if r["name"] == "长荡湖心")
    assert lake["lake"] and not lake["counted"] and lake["main_pollutants"][0] == "TP"


def test_one_section_and_bad_parameters(client):
    one = client.get("/quality.json?year=2021&section=DM-07").get_json()
    assert [r["code"] for r in one] == ["DM-07"]
    r = client.get("/quality.json?year=20x1")
    assert r.status_code == 400 and r.get_json()["parameter"] == "year"
    r = client.get("/quality.json?year=2021&section=DM-99&lang=en")
    assert r.status_code == 404 and "DM-99" in r.get_json()["description"]


def test_a_year_without_observations_has_no_classes(client):
    body = client.get("/quality.json?year=2019").get_json()
    assert all(r["annual_class"] is None and set(r["months"].values()) == {None} for r in body)


def test_the_matrix_page_colours_cells_by_class_and_marks_the_target(client):
    html = client.get("/quality?year=2021").get_data(as_text=True)
    assert "2021年国省考断面水质月报" in html and "优Ⅲ率 80.0%" in html
    assert html.count('class="cls') == 11 * 12
    assert "missed" in html and "#ffe066" in html  # a Ⅳ cell, worse than its Ⅲ target
    en = client.get("/quality?year=2021&lang=en").get_data(as_text=True)
    assert "Water quality of the national and provincial sections, 2021" in en


def test_the_pdf_is_one_a4_landscape_page(client, tmp_path):
    r = client.get("/quality.pdf?year=2021")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    path = tmp_path / "q.pdf"
    path.write_bytes(r.data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Pages:\s+1\n", info) and re.search(r"Page size:\s+841.89 x 595.276 pts \(A4\)", info)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "水质月报" in text and "长荡湖心" in text


def test_import_needs_an_editor(client, tokens):
    sheet = "section,sampled_at,parameter,value,unit\nDM-01,2022-02-01 09:00,TP,0.1,mg/L\n"
    data = {"file": (io.BytesIO(sheet.encode()), "s.csv")}
    assert client.post("/quality/import", data=data).status_code == 401
    data = {"file": (io.BytesIO(sheet.encode()), "s.csv")}
    r = client.post("/quality/import", data=data, headers={"Authorization": f"Bearer {tokens['field']}"})
    assert r.status_code == 403


def test_an_editor_imports_and_a_bad_sheet_is_a_400_writing_nothing(client, tokens, app):
    h = {"Authorization": f"Bearer {tokens['editor']}"}
    reg = app.extensions["hehu_registry"]
    n = reg.count("observations")
    bad = "section,sampled_at,parameter,value,unit\nDM-01,2022-02-01 09:00,TP,0.1,mg/L\nDM-01,2022-02-01 09:00,DO,-3,mg/L\n"
    r = client.post("/quality/import?lang=en", data={"file": (io.BytesIO(bad.encode()), "s.csv")}, headers=h)
    assert r.status_code == 400
    body = r.get_json()
    assert body["row"] == 3 and body["column"] == "value" and "negative" in body["description"]
    assert reg.count("observations") == n
    r = client.post("/quality/import?lang=en", data={}, headers=h)
    assert r.status_code == 400 and "form field 'file'" in r.get_json()["description"]
    good = bad.replace("-3", "8")
    r = client.post("/quality/import", data={"file": (io.BytesIO(good.encode()), "s.csv"), "dry_run": "1"}, headers=h)
    assert r.status_code == 200 and r.get_json()["dry_run"] and reg.count("observations") == n
    r = client.post("/quality/import", data={"file": (io.BytesIO(good.encode()), "s.csv")}, headers=h)
    assert r.status_code == 200 and r.get_json()["added"] == 2
    assert reg.count("observations") == n + 2
    assert reg.history("observations")[-1]["user"] == "u-editor"


def test_observations_are_an_ogc_collection_filtered_by_section_and_datetime(client):
    r = client.get("/collections/observations/items?section=DM-03&datetime=2021-03-01/2021-03-31&limit=1000")
    assert r.status_code == 200
    feats = r.get_json()["features"]
    assert len(feats) == 8  # one manual sample, eight parameters
    assert {f["properties"]["parameter"] for f in feats} == {"pH", "DO", "CODMn", "COD", "BOD5", "NH3-N", "TP", "TN"}
    assert all(f["properties"]["sampled_at"].startswith("2021-03") and f["properties"]["sampled_at"].endswith("Z") for f in feats)
    day = feats[0]["properties"]["sampled_at"][:10]
    one_day = client.get(f"/collections/observations/items?section=DM-03&datetime={day}").get_json()["features"]
    assert len(one_day) == 8
    q = client.get("/collections/observations/queryables").get_json()
    assert q["properties"]["sampled_at"]["format"] == "date-time"


def test_observations_download_like_any_layer(client):
    r = client.get("/collections/observations/items?section=DM-02&f=csv")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert text.count("\n") >= 96 and "2021-" in text
    r = client.get("/export?layers=observations&format=xlsx")
    assert r.status_code == 200 and r.data[:2] == b"PK"


def test_the_map_does_not_list_the_observations(client):
    ids = [x["id"] for x in client.get("/map/config.json").get_json()["layers"]]
    assert "observations" not in ids and "sections" in ids


def test_the_upload_form_sends_a_browser_to_sign_in_and_shows_editors_the_form(client, tokens):
    r = client.get("/quality/import", headers={"Accept": "text/html"})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = client.get("/quality/import?lang=en", headers={"Authorization": f"Bearer {tokens['editor']}"})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'name="file"' in html and 'name="dry_run"' in html and "half the detection limit" in html
    assert client.get("/quality/import", headers={"Authorization": f"Bearer {tokens['field']}"}).status_code == 403


def test_a_sections_popup_chart_is_an_svg_of_its_monthly_means(client):
    r = client.get("/quality/chart/DM-00.svg?year=2021")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml" and r.data.lstrip().startswith(b"<?xml")
    assert client.get("/quality/chart/DM-99.svg").status_code == 404
    html = client.get("/map").get_data(as_text=True)
    assert "map/quality.js" in html


def test_cli_report_formats_and_their_one_line_errors(demo_copy, tmp_path, capsys):
    import json

    from cli.main import main

    reg = ["--registry", str(demo_copy)]
    assert main(["quality", "report", "--year", "2021", *reg]) == 0
    out = capsys.readouterr().out
    assert "长荡湖心" in out and "劣Ⅴ" not in out.splitlines()[0]
    assert main(["quality", "report", "--year", "2021", "--section", "DM-09", "--format", "json", *reg]) == 0
    assert [r["code"] for r in json.loads(capsys.readouterr().out)] == ["DM-09"]
    xlsx, pdf = tmp_path / "r.xlsx", tmp_path / "r.pdf"
    assert main(["quality", "report", "--year", "2021", "--format", "xlsx", "--out", str(xlsx), "--pdf", str(pdf), *reg,
                 "--lang", "en"]) == 0
    assert xlsx.read_bytes()[:2] == b"PK" and pdf.read_bytes()[:4] == b"%PDF"
    assert "wrote" in capsys.readouterr().err
    import openpyxl

    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == ["水质月报", "年均值"] and wb["水质月报"].max_row == 13
    for argv, what in [
        (["--format", "xlsx"], "--out"),
        (["--pdf", str(tmp_path / "r.png")], ".pdf"),
        (["--section", "DM-99"], "DM-99"),
    ]:
        assert main(["quality", "report", "--year", "2021", *argv, *reg]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and what in err
    assert not (tmp_path / "r.png").exists()
