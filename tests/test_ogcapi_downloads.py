"""Items as files: ``/collections/{id}/items?f=gpkg|shp|kml|csv|xlsx`` with every filter."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pyogrio
import pytest


def matched(client, query: str) -> list[str]:
    body = client.get(f"/collections/violations/items?{query}&limit=10000&f=json").get_json()
    assert body["numberMatched"] == len(body["features"])
    return sorted(f["properties"]["code"] for f in body["features"])


def save(resp, tmp_path: Path, suffix: str) -> Path:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    path = tmp_path / f"download{suffix}"
    path.write_bytes(resp.get_data())
    return path


def test_gpkg_download_holds_every_match_of_the_filters_not_one_page(client, tmp_path):
    expected = matched(client, "status=整改中,反弹")
    assert len(expected) > 0
    resp = client.get("/collections/violations/items?f=gpkg&status=整改中,反弹")
    assert resp.headers["X-Hehu-Count"] == str(len(expected))
    assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    df = pyogrio.read_dataframe(save(resp, tmp_path, ".gpkg"))
    assert sorted(df["code"]) == expected
    assert set(df["status"]) <= {"整改中", "反弹"}


def test_csv_download_applies_bbox_and_an_explicit_limit(client, tmp_path):
    bbox = "119.45,31.60,119.65,31.80"
    expected = matched(client, f"bbox={bbox}")
    resp = client.get(f"/collections/violations/items?f=csv&bbox={bbox}")
    path = save(resp, tmp_path, ".csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM, so Excel shows Chinese
    df = pd.read_csv(path, encoding="utf-8-sig")
    assert sorted(df["code"]) == expected
    limited = client.get(f"/collections/violations/items?f=csv&bbox={bbox}&limit=5&sortby=code")
    df5 = pd.read_csv(io.BytesIO(limited.get_data()), encoding="utf-8-sig")
    assert list(df5["code"]) == sorted(expected)[:5]


def test_cql2_filtered_shapefile_zip_and_kml_and_ledger(client, tmp_path):
    cql = "category = '乱建' AND status <> '已销号'"
    expected = matched(client, f"filter-lang=cql2-text&filter={cql}")
    resp = client.get("/collections/violations/items", query_string={"f": "shp", "filter": cql})
    with zipfile.ZipFile(io.BytesIO(save(resp, tmp_path, ".zip").read_bytes())) as z:
        assert any(n.endswith(".cpg") for n in z.namelist())
    df = pyogrio.read_dataframe(f"/vsizip/{tmp_path / 'download.zip'}")
    assert sorted(df["code"]) == expected
    kml = client.get("/collections/violations/items", query_string={"f": "kml", "filter": cql})
    assert kml.get_data(as_text=True).count("<Placemark") == len(expected)
    xlsx = client.get("/collections/violations/items", query_string={"f": "xlsx", "filter": cql})
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.get_data()))
    ws = wb.worksheets[0]
    assert ws.max_row - 1 == len(expected)
    assert "问题编号" in [c.value for c in ws[1]]


def test_properties_select_the_downloaded_fields(client, tmp_path):
    resp = client.get("/collections/sewage_plants/items?f=gpkg&properties=name,status")
    df = pyogrio.read_dataframe(save(resp, tmp_path, ".gpkg"))
    assert len(df) == client.get("/collections/sewage_plants/items?f=json").get_json()["numberMatched"]
    assert df["name"].notna().all() and df["capacity_m3d"].isna().all()


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("f=gpkg&bbox=1,2,3", "bbox"),
        ("f=csv&found_on=完成", "found_on"),
        ("f=kml&filter=status ==", "filter"),
        ("f=xlsx&sortby=colour", "sortby"),
        ("f=pdf", "f"),
    ],
)
def test_bad_download_parameters_are_400_and_leave_no_file(client, query, parameter):
    before = set(Path(tempfile.gettempdir()).glob("hehu-items-*"))
    resp = client.get(f"/collections/violations/items?{query}")
    assert resp.status_code == 400
    assert resp.get_json()["parameter"] == parameter
    assert set(Path(tempfile.gettempdir()).glob("hehu-items-*")) == before


def test_unknown_collection_download_is_404(client):
    assert client.get("/collections/nope/items?f=gpkg").status_code == 404


def test_pages_link_downloads_of_every_match_with_their_filters_not_their_paging(client):
    query = "status=整改中,反弹&limit=3&offset=3"
    expected = matched(client, "status=整改中,反弹")
    body = client.get(f"/collections/violations/items?{query}").get_json()
    enclosures = {link["href"].rsplit("f=", 1)[1]: link for link in body["links"] if link["rel"] == "enclosure"}
    assert set(enclosures) == {"gpkg", "shp", "kml", "csv", "xlsx"}
    assert enclosures["gpkg"]["type"] == "application/geopackage+sqlite3"
    href = enclosures["csv"]["href"]
    assert "limit=" not in href and "offset=" not in href
    resp = client.get(href)
    assert resp.status_code == 200 and resp.headers["X-Hehu-Count"] == str(len(expected))
    html = client.get(f"/collections/violations/items?{query}&f=html").get_data(as_text=True)
    assert "下载全部匹配要素" in html and 'f=xlsx" download>Excel</a>' in html
