"""GDAL's OAPIF driver against a running server gives the GeoPackage's answers.

GDAL turns ``-where`` into request parameters by what the server advertises: with
``filter-lang`` offering ``cql-text`` in the OpenAPI document it sends a CQL filter
(dates as ``'2021-06-01T'``), without it a comparison on *any* date field becomes
``datetime=``, which the server applies to the collection's one temporal property: the
wrong field, silently. Each ``-where`` here runs against the server and against the
GeoPackage file itself, and the features must be the same.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from live_server import live_server

from geo.registry import Registry
from layers import load_catalog
from server import create_app

# In a child process: pyogrio holds the GIL while GDAL waits on HTTP (see
# tests/test_ogcapi_clients.py).
GDAL_WHERES = r"""
import json, sys
import pyogrio
url, gpkg, cases = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
out = []
for layer, where in cases:
    row = {"layer": layer, "where": where}
    for key, source in (("oapif", url), ("gpkg", gpkg)):
        try:
            df = pyogrio.read_dataframe(source, layer=layer, where=where, fid_as_index=True, read_geometry=False)
            row[key] = sorted(int(i) for i in df.index)
        except Exception as exc:
            row[key] = "error: " + str(exc)[:300]
    out.append(row)
one = pyogrio.read_dataframe(url, layer="violations", fids=[4], fid_as_index=True)
out.append({"fid": [int(i) for i in one.index], "code": one["code"].tolist()})
print(json.dumps(out))
"""


def _cases(reg: Registry) -> list[tuple[str, str]]:
    cases = []
    for layer in load_catalog():
        for f in layer.fields:
            if f.type != "date":
                continue
            values = reg.read(layer.id)[f.name].dropna().astype(str).sort_values()
            if values.empty:
                continue
            mid = values.iloc[len(values) // 2][:10]
            for op in (">", ">=", "<", "<=", "="):
                cases.append((layer.id, f"{f.name} {op} '{mid}'"))
            cases.append((layer.id, f"{f.name} BETWEEN '{values.iloc[0][:10]}' AND '{mid}'"))
            cases.append((layer.id, f"{f.name} IS NULL"))
    cases += [
        ("violations", "status = '已关闭'"),  # no such status: nothing, not a 400
        ("violations", "status = '已销号' AND closed_on >= '2021-06-01'"),
        ("violations", "closed_on > '2021-06-01' OR deadline < '2021-04-01'"),
    ]
    return cases


@pytest.fixture(scope="module")
def answers(demo_path):
    reg = Registry.open(demo_path)
    try:
        cases = _cases(reg)
    finally:
        reg.close()
    app = create_app({"REGISTRY": str(demo_path)})
    with live_server(app, threads=4) as base_url:
        proc = subprocess.run(
            [sys.executable, "-c", GDAL_WHERES, f"OAPIF:{base_url}/", str(demo_path), json.dumps(cases)],
            capture_output=True, text=True, timeout=600,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_gdal_where_on_every_date_field_gives_the_geopackage_answer(answers):
    rows = [r for r in answers if "where" in r]
    assert len(rows) > 30
    wrong = [(r["layer"], r["where"], r["oapif"] if isinstance(r["oapif"], str) else len(r["oapif"]),
              r["gpkg"] if isinstance(r["gpkg"], str) else len(r["gpkg"]))
             for r in rows if r["oapif"] != r["gpkg"]]
    assert not wrong, wrong
    # the comparisons select something and not everything, so they test something
    assert any(0 < len(r["gpkg"]) for r in rows if "closed_on >" in r["where"])


def test_gdal_fetches_one_feature_by_fid(answers):
    last = answers[-1]
    assert last["fid"] == [4] and last["code"]


def test_collection_items_link_has_no_query_to_extend(client):
    links = client.get("/collections/violations?f=json").get_json()["links"]
    items = [lk for lk in links if lk["rel"] == "items" and lk["type"] == "application/geo+json"]
    assert len(items) == 1 and "?" not in items[0]["href"]
    assert client.get(items[0]["href"] + "/4").status_code == 200
    item_links = client.get("/collections/violations/items/4?lang=en").get_json()["links"]
    assert all("?" not in lk["href"] for lk in item_links if lk["rel"] == "items")


@pytest.mark.parametrize("lang", ["cql-text", "cql2-text"])
def test_filter_lang_cql_text_is_understood_as_cql2_text(client, lang):
    r = client.get("/collections/violations/items", query_string={"filter": "closed_on >= '2021-06-01T'", "filter-lang": lang})
    assert r.status_code == 200
    got = {f["properties"]["closed_on"] for f in r.get_json()["features"]}
    assert got and min(got) >= "2021-06-01"


@pytest.mark.parametrize(
    "query",
    [{"status": "已关闭"}, {"filter": "status = '已关闭'"}, {"filter": "status IN ('已关闭', '不存在')"}],
)
def test_a_value_no_feature_holds_gives_an_empty_page_not_a_400(client, query):
    r = client.get("/collections/violations/items", query_string=query)
    assert r.status_code == 200 and r.get_json()["features"] == [] and r.get_json()["numberMatched"] == 0


@pytest.mark.parametrize(
    "query,parameter",
    [({"found_on": "2021-13-45"}, "found_on"), ({"filter": "found_on > 'yesterday'"}, "filter"),
     ({"filter": "status = "}, "filter"), ({"filter": "found_on > '2021-06-01T10:30:00Z'"}, "filter"),
     ({"filter-lang": "ecql"}, "filter-lang")],
)
def test_malformed_filters_stay_400_naming_the_parameter(client, query, parameter):
    r = client.get("/collections/violations/items", query_string=query)
    assert r.status_code == 400 and r.get_json()["parameter"] == parameter


def test_openapi_offers_cql_text_for_gdal(client):
    api = client.get("/api?f=json").get_json()
    params = api["paths"]["/collections/violations/items"]["get"]["parameters"]
    resolved = [api["components"]["parameters"][p["$ref"].split("/")[-1]] if "$ref" in p else p for p in params]
    lang = next(p for p in resolved if p.get("name") == "filter-lang")
    assert "cql-text" in lang["schema"]["enum"]
