"""OGC API – Features: every endpoint, parameter and rejection, against the demo registry."""

from __future__ import annotations

import gzip
import json
import re
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from samples import INSIDE, violation
from werkzeug.http import http_date

from geo.etag import feature_etag
from geo.registry import Registry
from layers import load_catalog
from server import create_app
from server.ogcapi import CRS84, DEFAULT_LIMIT, MAX_LIMIT

# The same answers from the GeoPackage and the PostGIS store.
pytestmark = pytest.mark.both_stores

CATALOG = load_catalog()
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


@pytest.fixture(scope="module")
def ro_app(demo_name):
    """An app on the shared demo registry, for tests that only read."""
    return create_app({"REGISTRY": demo_name, "TESTING": True})


@pytest.fixture(scope="module")
def ro(ro_app):
    return ro_app.test_client()


@pytest.fixture(scope="module")
def reg(demo_name):
    r = Registry.open(demo_name)
    yield r
    r.close()


def links(body, rel, type_=None):
    return [
        link
        for link in body["links"]
        if link["rel"] == rel and (type_ is None or link.get("type") == type_)
    ]


def fids(body):
    return [f["id"] for f in body["features"]]


def assert_bad(resp, parameter):
    assert resp.status_code == 400, resp.data
    assert resp.content_type.startswith("application/json")
    body = resp.get_json()
    assert body["parameter"] == parameter
    assert parameter in body["description"]
    assert "Traceback" not in resp.get_data(as_text=True)


# -- landing, conformance, api ------------------------------------------------------


def test_landing_links_to_every_part_of_the_service(ro):
    resp = ro.get("/")
    assert resp.status_code == 200
    assert resp.content_type == "application/json"
    body = resp.get_json()
    assert body["title"]
    assert links(body, "self", "application/json")
    assert links(body, "alternate", "text/html")
    desc = links(body, "service-desc")
    assert desc and desc[0]["type"] == OPENAPI and urlsplit(desc[0]["href"]).path == "/api"
    assert links(body, "service-doc", "text/html")
    assert urlsplit(links(body, "conformance")[0]["href"]).path == "/conformance"
    assert urlsplit(links(body, "data", "application/json")[0]["href"]).path == "/collections"
    assert urlsplit(links(body, "related", "text/html")[0]["href"]).path == "/map"
    assert 'href="http://localhost/map"' in ro.get("/?f=html").get_data(as_text=True)


def test_conformance_declares_core_geojson_html_and_openapi(ro):
    classes = ro.get("/conformance").get_json()["conformsTo"]
    for part in ("core", "geojson", "html", "oas30"):
        assert f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{part}" in classes


def test_openapi_document_describes_every_endpoint_and_parameter(ro):
    resp = ro.get("/api")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == OPENAPI
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.0")
    paths = doc["paths"]
    for path in ("/", "/conformance", "/api", "/collections", "/collections/{collectionId}",
                 "/collections/{collectionId}/items", "/collections/{collectionId}/items/{featureId}",
                 "/collections/{collectionId}/queryables", "/query/near", "/query/within",
                 "/query/nearest", "/query/intersects", "/export", "/print", "/targets", "/map"):
        assert path in paths, path
    item = paths["/collections/{collectionId}/items/{featureId}"]
    assert {"get", "put", "patch", "delete"} <= set(item)
    assert "post" in paths["/collections/{collectionId}/items"]
    limit = doc["components"]["parameters"]["limit"]["schema"]
    assert (limit["default"], limit["maximum"]) == (DEFAULT_LIMIT, MAX_LIMIT)
    for layer in CATALOG:
        ops = paths[f"/collections/{layer.id}/items"]
        names = {p.get("name") for p in ops["get"]["parameters"]}
        assert set(layer.field_names) <= names, layer.id
    status = next(p for p in paths["/collections/violations/items"]["get"]["parameters"] if p.get("name") == "status")
    assert status["schema"]["items"]["enum"] == list(CATALOG["violations"].field("status").enum)
    refs = {p["$ref"].rsplit("/", 1)[-1] for p in paths["/collections/violations/items"]["get"]["parameters"] if "$ref" in p}
    assert {"bbox", "bbox-crs", "limit", "offset", "datetime", "sortby", "properties", "fItems"} <= refs
    f_items = doc["components"]["parameters"]["fItems"]["schema"]["enum"]
    assert {"json", "html", "gpkg", "shp", "kml", "csv", "xlsx"} == set(f_items)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_openapi_document_is_valid_openapi_3_0(ro, lang):
    from openapi_spec_validator import validate

    doc = ro.get(f"/api?lang={lang}").get_json()
    validate(doc)  # raises with the path of the first error


def test_every_data_endpoint_of_the_app_is_in_the_openapi_document(ro, ro_app):
    import re

    paths = ro.get("/api").get_json()["paths"]
    prefixes = ("/collections", "/query", "/export", "/print", "/targets", "/search", "/map")
    checked = 0
    for rule in ro_app.url_map.iter_rules():
        if not rule.rule.startswith(prefixes) or rule.rule.startswith("/map/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?(layer_id|collection_id)>", "{collectionId}", rule.rule)
        path = re.sub(r"<(?:[^:>]+:)?(fid|feature_id)>", "{featureId}", path)
        path = re.sub(r"<(?:[^:>]+:)?aid>", "{attachmentId}", path)
        assert path in paths, rule.rule
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[path], (rule.rule, method)
        checked += 1
    assert checked >= 12
    near = {p["name"]: p for p in paths["/query/near"]["get"]["parameters"]}
    assert near["target"]["required"] and near["distance"]["required"]


def test_openapi_as_html_lists_the_paths(ro):
    resp = ro.get("/api?f=html")
    assert resp.status_code == 200 and resp.content_type.startswith("text/html")
    assert "/query/near" in resp.get_data(as_text=True)


# -- collections ----------------------------------------------------------------------


def test_one_collection_per_catalog_layer_with_titles_extent_and_crs(ro, reg):
    body = ro.get("/collections").get_json()
    assert [c["id"] for c in body["collections"]] == CATALOG.ids
    for c in body["collections"]:
        layer = CATALOG[c["id"]]
        assert (c["title"], c["title_zh"], c["title_en"]) == (layer.title_zh, layer.title_zh, layer.title_en)
        assert c["itemType"] == "feature"
        assert c["crs"] == [CRS84]
        if reg.extent(layer.id) is None:  # a layer with no geometry (the chiefs) has no extent
            assert layer.geometry_optional and "spatial" not in c.get("extent", {})
        else:
            assert c["extent"]["spatial"]["bbox"][0] == pytest.approx(list(reg.extent(layer.id)))
        items = links(c, "items", "application/geo+json")
        assert urlsplit(items[0]["href"]).path == f"/collections/{layer.id}/items"


def test_temporal_extent_spans_the_dates_of_the_temporal_fields(ro, reg):
    c = ro.get("/collections/violations").get_json()
    frame = reg.read("violations")
    dates = pd.concat([frame[f].dropna() for f in CATALOG["violations"].temporal])
    start, end = c["extent"]["temporal"]["interval"][0]
    assert start[:10] == min(dates) and end[:10] == max(dates)
    assert "temporal" not in ro.get("/collections/towns").get_json()["extent"]


def test_collection_titles_follow_the_language(ro):
    assert ro.get("/collections/rivers?lang=en").get_json()["title"] == "Rivers"
    assert ro.get("/collections/rivers").get_json()["title"] == "河道"


def test_unknown_collection_is_404_json(ro):
    for url in ("/collections/nope", "/collections/nope/items", "/collections/nope/items/1",
                "/collections/nope/queryables"):
        resp = ro.get(url)
        assert resp.status_code == 404, url
        assert resp.content_type == "application/json"
        assert "nope" in resp.get_json()["description"]


def test_queryables_are_the_catalog_fields_with_types_and_enums(ro):
    resp = ro.get("/collections/sections/queryables")
    assert resp.status_code == 200
    assert resp.content_type == "application/schema+json"
    schema = resp.get_json()
    layer = CATALOG["sections"]
    assert set(schema["properties"]) == set(layer.field_names) | {"geometry"}
    assert schema["properties"]["level"]["enum"] == list(layer.field("level").enum)
    assert schema["properties"]["target_class"]["type"] == "integer"
    assert schema["properties"]["counted"]["type"] == "boolean"
    assert schema["properties"]["measured_on"] == {**schema["properties"]["measured_on"], "type": "string", "format": "date"}
    assert schema["properties"]["level"]["title"] == layer.field("level").title_zh


# -- items ----------------------------------------------------------------------------


def test_items_default_page_with_counts_timestamp_and_all_fields(ro, reg):
    resp = ro.get("/collections/micro_water_bodies/items")
    assert resp.status_code == 200
    assert resp.content_type == "application/geo+json"
    body = resp.get_json()
    total = reg.count("micro_water_bodies")
    assert body["numberMatched"] == total
    assert body["numberReturned"] == len(body["features"]) == min(DEFAULT_LIMIT, total)
    assert body["timeStamp"].endswith("Z")
    first = body["features"][0]
    assert isinstance(first["id"], int)
    assert list(first["properties"]) == CATALOG["micro_water_bodies"].field_names
    stored = reg.get("micro_water_bodies", first["id"])
    assert first["properties"] == {k: v for k, v in stored["properties"].items()}
    assert shapely.equals_exact(shapely.geometry.shape(first["geometry"]), stored["geometry"], 1e-12)


def test_paging_by_next_links_visits_every_feature_once(ro, reg):
    url = "/collections/micro_water_bodies/items?limit=300"
    seen, pages = [], 0
    while url:
        body = ro.get(url).get_json()
        pages += 1
        seen += fids(body)
        if pages > 1:
            assert links(body, "prev", "application/geo+json")
        nxt = links(body, "next", "application/geo+json")
        url = nxt[0]["href"].replace("http://localhost", "") if nxt else None
    assert pages == 3
    assert seen == sorted(reg.read("micro_water_bodies").index.tolist())


def test_offset_pages_and_prev_link(ro):
    body = ro.get("/collections/violations/items?limit=10&offset=20").get_json()
    assert body["numberReturned"] == 10
    prev = parse_qs(urlsplit(links(body, "prev")[0]["href"]).query)
    nxt = parse_qs(urlsplit(links(body, "next")[0]["href"]).query)
    assert (prev["offset"], nxt["offset"]) == (["10"], ["30"])
    full = fids(ro.get("/collections/violations/items?limit=40").get_json())
    assert fids(body) == full[20:30]


def test_bbox_returns_exactly_the_features_intersecting_it(ro, reg):
    box = (119.45, 31.65, 119.60, 31.78)
    body = ro.get("/collections/rivers/items?bbox=" + ",".join(map(str, box)) + "&limit=1000").get_json()
    frame = reg.read("rivers")
    expected = frame.index[shapely.intersects(frame.geometry.values, shapely.box(*box))].tolist()
    assert 0 < len(expected) < len(frame)
    assert sorted(fids(body)) == sorted(expected)
    assert body["numberMatched"] == len(expected)


def test_bbox_paging_counts_all_matches(ro, reg):
    box = "119.3,31.55,119.75,31.9"
    body = ro.get(f"/collections/violations/items?bbox={box}&limit=7&offset=7").get_json()
    assert body["numberMatched"] == reg.count("violations")
    assert body["numberReturned"] == 7
    assert fids(body) == reg.read("violations").index.tolist()[7:14]


def test_bbox_crs_epsg4326_takes_latitude_first(ro):
    lonlat = ro.get("/collections/violations/items?bbox=119.45,31.65,119.60,31.78&limit=1000").get_json()
    latlon = ro.get(
        "/collections/violations/items?bbox=31.65,119.45,31.78,119.60&limit=1000"
        "&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326"
    ).get_json()
    crs84 = ro.get(f"/collections/violations/items?bbox=119.45,31.65,119.60,31.78&limit=1000&bbox-crs={CRS84}").get_json()
    assert fids(lonlat) == fids(latlon) == fids(crs84)
    assert lonlat["numberReturned"] > 0


@pytest.mark.parametrize(
    "bbox",
    ["1,2,3", "a,b,c,d", "119.6,31.6,119.5,31.7", "119.5,31.7,119.6,31.6", "-200,0,10,10",
     "0,-95,10,10", "1,2,3,4,5", "nan,1,2,3", "", "119.5,31.6,,31.7", "inf,1,2,3"],
)
def test_malformed_bbox_is_400(ro, bbox):
    assert_bad(ro.get(f"/collections/violations/items?bbox={bbox}"), "bbox")


def test_unsupported_bbox_crs_is_400(ro):
    resp = ro.get("/collections/violations/items?bbox=1,2,3,4&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4549")
    assert_bad(resp, "bbox-crs")
    assert_bad(ro.get("/collections/violations/items?crs=EPSG:3857"), "crs")
    # checked even without a bbox: a client that sent it expects it to mean something
    assert_bad(ro.get("/collections/violations/items?bbox-crs=EPSG:3857"), "bbox-crs")


@pytest.mark.parametrize("limit", ["0", "-5", "ten", "1.5", ""])
def test_malformed_limit_is_400(ro, limit):
    assert_bad(ro.get(f"/collections/violations/items?limit={limit}"), "limit")


def test_limit_above_the_maximum_is_lowered_to_it(ro, reg):
    body = ro.get(f"/collections/micro_water_bodies/items?limit={MAX_LIMIT * 3}").get_json()
    assert body["numberReturned"] == reg.count("micro_water_bodies")
    assert not links(body, "next")


@pytest.mark.parametrize("offset", ["-1", "x", "2.5"])
def test_malformed_offset_is_400(ro, offset):
    assert_bad(ro.get(f"/collections/violations/items?offset={offset}"), "offset")


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/collections/violations/items?offset=9223372036854775808", "offset"),
        ("/collections/violations/items?offset=99999999999999999999999", "offset"),
        ("/collections/sections/items?target_class=99999999999999999999999", "target_class"),
        ("/collections/sections/items?latest_class=-9223372036854775809", "latest_class"),
    ],
)
def test_numbers_beyond_64_bits_are_400_naming_the_parameter(ro, url, parameter):
    assert_bad(ro.get(url), parameter)


def test_largest_offset_is_an_empty_page_and_a_huge_limit_the_maximum(ro, reg):
    body = ro.get("/collections/violations/items?offset=9223372036854775807").get_json()
    assert body["numberReturned"] == 0 and body["numberMatched"] == reg.count("violations")
    body = ro.get("/collections/violations/items?limit=99999999999999999999999&properties=code").get_json()
    assert body["numberReturned"] == min(MAX_LIMIT, reg.count("violations"))


def test_property_equality_filters(ro, reg):
    frame = reg.read("violations")
    town = frame["town"].dropna().iloc[0]
    expected = frame[(frame["status"] == "整改中") & (frame["town"] == town)].index.tolist()
    body = ro.get(f"/collections/violations/items?status=整改中&town={town}&limit=1000").get_json()
    assert fids(body) == expected
    assert body["numberMatched"] == len(expected)
    assert all(f["properties"]["status"] == "整改中" for f in body["features"])


def test_enum_filter_takes_several_values_and_english_labels(ro, reg):
    frame = reg.read("violations")
    expected = frame[frame["status"].isin(["待交办", "反弹"])].index.tolist()
    assert fids(ro.get("/collections/violations/items?status=待交办,反弹&limit=1000").get_json()) == expected
    assert fids(ro.get("/collections/violations/items?status=待交办&status=反弹&limit=1000").get_json()) == expected
    closed = frame[frame["status"] == "已销号"].index.tolist()
    assert fids(ro.get("/collections/violations/items?status=closed&limit=1000").get_json()) == closed


def test_typed_property_filters(ro, reg):
    frame = reg.read("sections")
    counted = frame[frame["counted"] == True].index.tolist()  # noqa: E712
    assert fids(ro.get("/collections/sections/items?counted=true").get_json()) == counted
    cls = int(frame["target_class"].dropna().iloc[0])
    expected = frame[frame["target_class"] == cls].index.tolist()
    assert fids(ro.get(f"/collections/sections/items?target_class={cls}").get_json()) == expected


def test_bad_property_filter_values_are_400(ro):
    # A well-formed value no feature holds is no error: an empty page (docs/security.md).
    empty = ro.get("/collections/violations/items?status=fixed-ish")
    assert empty.status_code == 200 and empty.get_json()["numberMatched"] == 0
    assert_bad(ro.get("/collections/sections/items?target_class=three"), "target_class")
    assert_bad(ro.get("/collections/sections/items?counted=maybe"), "counted")
    assert_bad(ro.get("/collections/violations/items?found_on=May"), "found_on")
    assert_bad(ro.get("/collections/violations/items?found_on=2021-02-30"), "found_on")


def test_unknown_query_parameter_is_400_naming_it(ro):
    resp = ro.get("/collections/violations/items?colour=red")
    assert_bad(resp, "colour")
    assert "status" in resp.get_json()["description"]  # lists what it takes


def test_datetime_instant_and_intervals_filter_the_first_temporal_field(ro, reg):
    frame = reg.read("violations")
    dates = frame["found_on"]
    day = dates.dropna().iloc[0]
    lo, hi = sorted(dates.dropna().unique())[len(dates.dropna().unique()) // 3], sorted(dates.dropna().unique())[-5]
    cases = {
        day: dates == day,
        f"{day}T10:30:00Z": dates == day,
        # the day written in the instant, whatever its offset (the registry's dates are local days)
        f"{day}T00:30:00%2B08:00": dates == day,
        f"{day}T23:30:00-05:00": dates == day,
        f"{lo}/{hi}": (dates >= lo) & (dates <= hi),
        f"../{hi}": dates <= hi,
        f"{lo}/..": dates >= lo,
        f"{lo}/": dates >= lo,
        # GDAL's OAPIF driver writes a date with a bare "T": found_on >= '2021-03-01'
        f"{lo}T/..": dates >= lo,
        f"{lo}T/{hi}T": (dates >= lo) & (dates <= hi),
    }
    for value, mask in cases.items():
        body = ro.get(f"/collections/violations/items?datetime={value}&limit=1000").get_json()
        expected = frame[mask.fillna(False)].index.tolist()
        assert fids(body) == expected, value
        assert body["numberMatched"] == len(expected)


@pytest.mark.parametrize(
    "value",
    ["yesterday", "2021-13-01", "2021-05-01/2021-04-01", "2021/05/01", "a/b/c", "..", "2021-05-01T25:00:00Z", "T", "2021-05T"],
)
def test_malformed_datetime_is_400(ro, value):
    assert_bad(ro.get(f"/collections/violations/items?datetime={value}"), "datetime")


def test_datetime_on_a_layer_without_dates_is_400(ro):
    assert_bad(ro.get("/collections/towns/items?datetime=2021-05-01"), "datetime")


def test_sortby_orders_by_fields_with_direction(ro, reg):
    frame = reg.read("violations").reset_index()
    expected = frame.sort_values(["found_on", "code"], ascending=[False, True], kind="stable")["fid"].tolist()
    body = ro.get("/collections/violations/items?sortby=-found_on,code&limit=1000").get_json()
    assert fids(body) == expected
    up = ro.get("/collections/violations/items?sortby=%2Bcode&limit=1000").get_json()
    assert fids(up) == frame.sort_values("code")["fid"].tolist()
    assert_bad(ro.get("/collections/violations/items?sortby=colour"), "sortby")
    assert_bad(ro.get("/collections/violations/items?sortby=-"), "sortby")


def test_properties_selects_fields(ro):
    body = ro.get("/collections/violations/items?properties=status,code&limit=3").get_json()
    assert all(list(f["properties"]) == ["status", "code"] for f in body["features"])
    one = ro.get("/collections/violations/items/1?properties=code").get_json()
    assert list(one["properties"]) == ["code"]
    assert_bad(ro.get("/collections/violations/items?properties=code,colour"), "properties")


def test_filters_combine_with_bbox_sort_and_paging(ro, reg):
    box = (119.40, 31.60, 119.70, 31.85)
    frame = reg.read("violations", bbox=box).reset_index()
    sel = frame[frame["status"].isin(["已销号"]) & (frame["found_on"] >= "2021-03-01")]
    expected = sel.sort_values(["code"], ascending=False)["fid"].tolist()
    url = ("/collections/violations/items?bbox=119.40,31.60,119.70,31.85&status=已销号"
           "&datetime=2021-03-01/..&sortby=-code&limit=5&offset=5")
    body = ro.get(url).get_json()
    assert body["numberMatched"] == len(expected)
    assert fids(body) == expected[5:10]


def test_format_by_parameter_and_accept_header(ro):
    assert ro.get("/collections?f=html").content_type.startswith("text/html")
    assert ro.get("/collections", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}).content_type.startswith("text/html")
    assert ro.get("/collections", headers={"Accept": "application/json"}).content_type == "application/json"
    items = ro.get("/collections/violations/items?limit=1", headers={"Accept": "application/geo+json"})
    assert items.content_type == "application/geo+json"
    assert ro.get("/collections/violations/items?limit=1", headers={"Accept": "*/*"}).content_type == "application/geo+json"
    assert_bad(ro.get("/collections?f=xml"), "f")


# -- one feature ----------------------------------------------------------------------


def test_feature_by_fid_with_etag_for_editing(ro, reg):
    resp = ro.get("/collections/violations/items/5")
    assert resp.status_code == 200
    assert resp.content_type == "application/geo+json"
    body = resp.get_json()
    stored = reg.get("violations", 5)
    assert body["id"] == 5 and body["properties"] == stored["properties"]
    assert resp.headers["ETag"] == f'"{feature_etag(stored)}"'
    assert links(body, "collection")


@pytest.mark.parametrize("fid", ["999999", "abc", "0", "-1", "1.5"])
def test_unknown_feature_is_404_json(ro, fid):
    resp = ro.get(f"/collections/violations/items/{fid}")
    assert resp.status_code == 404
    assert resp.content_type == "application/json"


@pytest.mark.parametrize("url", ["/", "/collections", "/collections/violations/items", "/collections/violations/items/1"])
def test_unknown_language_is_400_naming_lang(ro, url):
    assert_bad(ro.get(f"{url}?lang=fr"), "lang")


def test_feature_rejects_unknown_parameters_and_other_crs_with_400(ro):
    assert_bad(ro.get("/collections/violations/items/1?status=整改中"), "status")
    assert_bad(ro.get("/collections/violations/items/1?crs=EPSG:4549"), "crs")
    assert_bad(ro.get("/collections/violations/items/1?properties=nope"), "properties")
    ok = ro.get(f"/collections/violations/items/1?f=json&lang=en&properties=code&crs={CRS84}")
    assert ok.status_code == 200 and list(ok.get_json()["properties"]) == ["code"]


# -- HTML -----------------------------------------------------------------------------


def test_html_pages_render_in_chinese_with_a_demo_note(ro):
    for url in ("/", "/conformance", "/collections", "/collections/violations",
                "/collections/violations/queryables", "/collections/violations/items", "/collections/violations/items/1"):
        resp = ro.get(url + ("&" if "?" in url else "?") + "f=html")
        assert resp.status_code == 200, url
        text = resp.get_data(as_text=True)
        assert "演示数据 / synthetic demo data" in text, url
        assert 'lang="zh-CN"' in text
        for lang in ("zh", "en"):
            page = ro.get(url + ("&" if "?" in url else "?") + f"f=html&lang={lang}").get_data(as_text=True)
            assert "built-in method" not in page and "bound method" not in page, (url, lang)
    items = ro.get("/collections/violations/items?f=html&limit=7").get_data(as_text=True)
    assert "清四乱问题" in items and "问题编号" in items and "整改期限" in items
    assert items.count("<tr><td><a href=") == 7
    assert 'id="minimap"' in items and "vendor/leaflet/leaflet.js" in items


def test_html_pages_list_at_most_html_max_limit_features(ro, monkeypatch):
    import server.ogcapi

    assert server.ogcapi.HTML_MAX_LIMIT == 1000
    monkeypatch.setattr(server.ogcapi, "HTML_MAX_LIMIT", 50)
    text = ro.get("/collections/micro_water_bodies/items?f=html&limit=5000").get_data(as_text=True)
    assert text.count("<tr><td><a href=") == 50
    assert 'rel="next"' in text and "offset=50" in text
    body = ro.get("/collections/micro_water_bodies/items?limit=5000").get_json()
    assert body["numberReturned"] == body["numberMatched"] > 50


def test_html_pages_in_english(ro):
    text = ro.get("/collections/violations/items?f=html&lang=en&limit=3").get_data(as_text=True)
    assert 'lang="en"' in text
    assert "Four-disorders violations" in text and "Deadline" in text and "Responsible unit" in text
    item = ro.get("/collections/violations/items/1?f=html&lang=en").get_data(as_text=True)
    assert "Found on" in item and 'id="minimap"' in item


def test_html_map_data_is_the_page_features(ro):
    text = ro.get("/collections/violations/items?f=html&limit=4").get_data(as_text=True)
    start = text.index('<script type="application/json" id="minimap-data">') + len('<script type="application/json" id="minimap-data">')
    data = json.loads(text[start : text.index("</script>", start)])
    body = ro.get("/collections/violations/items?limit=4").get_json()
    assert [f["id"] for f in data["features"]] == fids(body)


def test_static_leaflet_is_served(ro):
    assert ro.get("/static/vendor/leaflet/leaflet.js").status_code == 200
    assert ro.get("/static/ogcapi/minimap.js").status_code == 200


def test_html_pages_name_only_files_that_are_served_including_an_icon(ro):
    for url in ("/?f=html", "/collections/violations/items?f=html&limit=3", "/collections/rivers/items/3?f=html"):
        html = ro.get(url).get_data(as_text=True)
        assert re.search(r'<link rel="icon"[^>]+href="/static/', html), url
        for static in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
            assert ro.get(static).status_code == 200, static


# -- caching and compression -------------------------------------------------------------


def test_unchanged_resources_answer_304(ro):
    for url in ("/", "/collections", "/collections/violations", "/collections/violations/items?limit=5",
                "/collections/violations/items/3", "/collections/violations/queryables", "/api"):
        first = ro.get(url)
        tag = first.headers["ETag"]
        assert first.headers.get("Last-Modified"), url
        again = ro.get(url, headers={"If-None-Match": tag})
        assert again.status_code == 304, url
        assert again.data == b""
        assert again.headers["ETag"] == tag
        assert ro.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_if_modified_since_answers_304_unless_if_none_match_says_otherwise(ro):
    url = "/collections/violations/items?limit=5"
    later = http_date(datetime.now(timezone.utc) + timedelta(days=1))
    resp = ro.get(url, headers={"If-Modified-Since": later})
    assert resp.status_code == 304 and resp.data == b"" and resp.headers["Cache-Control"] == "no-cache"
    assert ro.get(url, headers={"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}).status_code == 200
    # If-None-Match decides when both are sent
    assert ro.get(url, headers={"If-Modified-Since": later, "If-None-Match": '"other"'}).status_code == 200
    assert ro.get(url, headers={"If-Modified-Since": "not a date"}).status_code == 200


def test_last_modified_is_never_304_across_a_write_in_the_same_second(client, app):
    url = "/collections/violations/items?limit=5&sortby=-fid"
    seen = client.get(url).headers["Last-Modified"]
    reg = app.extensions["hehu_registry"]
    fid = reg.add("violations", violation("QSL-T-9002"), INSIDE)
    resp = client.get(url, headers={"If-Modified-Since": seen})
    assert resp.status_code == 200 and resp.get_json()["features"][0]["id"] == fid
    time.sleep(1.05)  # once the second of the write is over, its Last-Modified matches
    seen = client.get(url).headers["Last-Modified"]
    assert client.get(url, headers={"If-Modified-Since": seen}).status_code == 304


def test_reads_are_open_to_other_origins_without_credentials(ro):
    for url in ("/", "/collections/violations/items?limit=2", "/collections/violations/items?limit=0"):
        resp = ro.get(url, headers={"Origin": "https://gis.example.org"})
        assert resp.headers["Access-Control-Allow-Origin"] == "*", url
        assert "ETag" in resp.headers["Access-Control-Expose-Headers"]
        assert "Access-Control-Allow-Credentials" not in resp.headers
    # a read sending If-None-Match is preflighted; a write on the same URL is not allowed
    pre = {"Origin": "https://gis.example.org", "Access-Control-Request-Headers": "if-none-match"}
    read = ro.options("/collections/violations/items/1", headers={**pre, "Access-Control-Request-Method": "GET"})
    assert read.headers["Access-Control-Allow-Origin"] == "*"
    assert "If-None-Match" in read.headers["Access-Control-Allow-Headers"]
    write = ro.options("/collections/violations/items/1", headers={**pre, "Access-Control-Request-Method": "PUT"})
    assert "Access-Control-Allow-Origin" not in write.headers


def test_an_upgrade_of_the_code_or_catalog_changes_tags_and_last_modified(ro, reg, monkeypatch):
    from server import ogcapi

    urls = ("/collections/violations/items?limit=5", "/collections/violations/items/1?f=html", "/api")
    before = {url: ro.get(url).headers for url in urls}
    upgraded = datetime.now(timezone.utc) - timedelta(seconds=5)
    monkeypatch.setattr(ogcapi, "_code_state", lambda: ("upgraded", upgraded))
    for url in urls:
        resp = ro.get(url, headers={"If-None-Match": before[url]["ETag"]})
        assert resp.status_code == 200, url
        assert resp.last_modified >= upgraded.replace(microsecond=0), url
    # the JSON feature keeps the tag the editing API checks in If-Match
    assert ro.get("/collections/violations/items/1").headers["ETag"] == f'"{feature_etag(reg.get("violations", 1))}"'


def test_content_language_says_which_language_was_chosen(ro):
    assert ro.get("/collections").headers["Content-Language"] == "zh-CN"
    assert ro.get("/collections?lang=en").headers["Content-Language"] == "en"
    assert ro.get("/collections", headers={"Accept-Language": "en-GB,en;q=0.8"}).headers["Content-Language"] == "en"
    assert ro.get("/collections?f=html", headers={"Accept-Language": "zh-CN"}).headers["Content-Language"] == "zh-CN"


def test_etag_depends_on_format_and_language(ro):
    tags = {
        ro.get("/collections/violations?f=json").headers["ETag"],
        ro.get("/collections/violations?f=html").headers["ETag"],
        ro.get("/collections/violations?f=html&lang=en").headers["ETag"],
    }
    assert len(tags) == 3


def test_a_write_changes_the_etag(client, app):
    url = "/collections/violations/items?limit=5&sortby=-fid"
    tag = client.get(url).headers["ETag"]
    item_tag = client.get("/collections/violations/items/1").headers["ETag"]
    reg = app.extensions["hehu_registry"]
    fid = reg.add("violations", violation("QSL-T-9001"), INSIDE)
    resp = client.get(url, headers={"If-None-Match": tag})
    assert resp.status_code == 200
    assert resp.get_json()["features"][0]["id"] == fid
    reg.update("violations", 1, {"status": "已销号", "closed_on": "2021-06-01"})
    assert client.get("/collections/violations/items/1", headers={"If-None-Match": item_tag}).status_code == 200


def test_large_responses_are_gzipped_for_clients_that_accept_it(ro):
    url = "/collections/violations/items?limit=50"
    plain = ro.get(url)
    assert "Content-Encoding" not in plain.headers
    packed = ro.get(url, headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert len(packed.data) < len(plain.data)
    a, b = json.loads(gzip.decompress(packed.data)), plain.get_json()
    assert a["features"] == b["features"]
    small = ro.get("/collections/violations/items/1?properties=code", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers


# -- never a 500 -------------------------------------------------------------------------

_names = st.sampled_from(["bbox", "limit", "offset", "datetime", "sortby", "properties", "status",
                          "found_on", "bbox-crs", "f", "zz", "crs", "filter-lang", "filter"])
_values = st.one_of(
    st.text(max_size=20),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=6).map(lambda v: ",".join(map(str, v))),
    st.sampled_from(["2021-05-01", "../..", "-1", "0", "+code", "已销号", "10001", "99999999999999999999"]),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(_names, _values, max_size=4))
def test_any_query_string_gets_200_or_a_400_json_never_500(ro, params):
    resp = ro.get("/collections/violations/items", query_string=params)
    assert resp.status_code in (200, 400), (params, resp.data)
    body = resp.get_json() if resp.status_code == 400 else json.loads(resp.data)
    if resp.status_code == 400:
        assert body["parameter"] in params


# -- store fast path ---------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    x=st.floats(119.28, 119.76),
    y=st.floats(31.55, 31.90),
    w=st.floats(0.0, 0.3),
    h=st.floats(0.0, 0.3),
    limit=st.integers(1, 400),
    offset=st.integers(0, 300),
    desc=st.booleans(),
)
def test_read_rows_pages_match_read(demo_path, x, y, w, h, limit, offset, desc):
    reg = Registry.open(demo_path)
    try:
        box = (x, y, x + w, y + h)
        order = [("status", not desc), ("fid", True)]
        whole = reg.read("violations", bbox=box, order_by=order)
        rows, matched = reg.read_rows("violations", bbox=box, order_by=order, limit=limit, offset=offset)
        assert matched == len(whole)
        assert [r[0] for r in rows] == whole.index.tolist()[offset : offset + limit]
        # fid order on a bbox: counted from the R-tree, edge features tested exactly
        plain = reg.read("violations", bbox=box)
        rows, matched = reg.read_rows("violations", bbox=box, limit=limit, offset=offset)
        assert matched == len(plain)
        assert [r[0] for r in rows] == plain.index.tolist()[offset : offset + limit]
        rows, _ = reg.read_rows("violations", bbox=box, order_by=[("fid", False)], limit=limit, offset=offset)
        assert [r[0] for r in rows] == plain.index.tolist()[::-1][offset : offset + limit]
        lines = reg.read("rivers", bbox=box)
        rows, matched = reg.read_rows("rivers", bbox=box, limit=limit)
        assert (matched, [r[0] for r in rows]) == (len(lines), lines.index.tolist()[:limit])
        rows2, matched2 = reg.read_rows("violations", where={"status": "已销号"}, limit=limit, offset=offset)
        closed = reg.read("violations", where={"status": "已销号"})
        assert matched2 == len(closed)
        assert [r[0] for r in rows2] == closed.index.tolist()[offset : offset + limit]
    finally:
        reg.close()


# -- CQL2 filter (OGC API – Features Part 3) ------------------------------------------


def test_cql2_text_filter_selects_like_the_equality_filters(ro, reg):
    frame = reg.read("violations")
    town = frame["town"].dropna().iloc[0]
    expected = frame[(frame["status"] == "整改中") & (frame["town"] == town)].index.tolist()
    body = ro.get(
        "/collections/violations/items",
        query_string={"filter": f"status = '整改中' AND town = '{town}'", "filter-lang": "cql2-text", "limit": 1000},
    ).get_json()
    assert fids(body) == expected
    assert body["numberMatched"] == len(expected)
    later = frame[frame["found_on"] > "2021-06-30"].index.tolist()
    body = ro.get("/collections/violations/items",
                  query_string={"filter": "found_on > DATE('2021-06-30')", "limit": 1000}).get_json()
    assert fids(body) == later


def test_cql2_filter_combines_with_bbox_and_paging(ro, reg):
    box = (119.40, 31.60, 119.70, 31.85)
    frame = reg.read("violations", bbox=box)
    expected = frame[frame["category"] == "乱堆"].index.tolist()
    body = ro.get("/collections/violations/items", query_string={
        "filter": "category = '乱堆'", "bbox": ",".join(map(str, box)), "limit": 3, "offset": 1}).get_json()
    assert body["numberMatched"] == len(expected)
    assert fids(body) == expected[1:4]


def test_bad_cql2_filters_are_400(ro):
    assert_bad(ro.get("/collections/violations/items", query_string={"filter": "status = "}), "filter")
    assert_bad(ro.get("/collections/violations/items", query_string={"filter": "colour = 'red'"}), "filter")
    assert_bad(ro.get("/collections/violations/items", query_string={"filter": "  "}), "filter")
    assert_bad(ro.get("/collections/violations/items",
                      query_string={"filter": "status = '整改中'", "filter-lang": "cql2-json"}), "filter-lang")
    assert_bad(ro.get("/collections/violations/items",
                      query_string={"filter": "status = '整改中'", "filter-crs": "EPSG:3857"}), "filter-crs")


def test_conformance_declares_the_filter_classes(ro):
    classes = ro.get("/conformance").get_json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in classes
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text" in classes
    api = ro.get("/api").get_json()
    assert "filter" in api["components"]["parameters"]


def test_bbox_edges_are_exact_despite_the_float32_rtree(ro, reg):
    frame = reg.read("violations").iloc[:25]
    for fid, point in zip(frame.index, frame.geometry, strict=True):
        x, y = point.x, point.y
        touching = ro.get(f"/collections/violations/items?bbox={x!r},{y!r},{x + 0.01!r},{y + 0.01!r}&limit=10000").get_json()
        assert fid in fids(touching)
        # 1e-9 degrees (0.1 mm) short of the point: inside the rounded R-tree box, outside the bbox
        short = ro.get(f"/collections/violations/items?bbox={x - 0.01!r},{y - 0.01!r},{x - 1e-9!r},{y + 0.01!r}&limit=10000").get_json()
        assert fid not in fids(short)
        assert short["numberMatched"] == len(short["features"])


def test_an_empty_registry_serves_empty_collections(empty_registry):
    app = create_app({"REGISTRY_OBJECT": empty_registry, "TESTING": True})
    c = app.test_client()
    info = c.get("/collections/violations").get_json()
    assert "spatial" not in info["extent"] and "temporal" not in info["extent"]
    for url in ("/collections/violations/items", "/collections/violations/items?bbox=119,31,120,32",
                "/collections/violations/items?datetime=2021-01-01/..", "/collections/violations/items?f=html"):
        resp = c.get(url)
        assert resp.status_code == 200, url
    body = c.get("/collections/violations/items").get_json()
    assert (body["numberMatched"], body["numberReturned"], body["features"]) == (0, 0, [])
    assert not links(body, "next")
    assert "演示数据" not in c.get("/collections?f=html").get_data(as_text=True)


def test_live_server_stops_when_the_block_ends(ro_app):
    import threading
    import urllib.error
    import urllib.request

    from live_server import live_server

    before = threading.active_count()
    with live_server(ro_app) as base:
        with urllib.request.urlopen(base + "/conformance", timeout=10) as resp:
            assert resp.status == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(base + "/conformance", timeout=2)
    assert threading.active_count() <= before


# -- big layers from memory (geo.feature_pages) ----------------------------------------


def _memory_app(path, minimum):
    return create_app({"REGISTRY": str(path), "TESTING": True, "OGCAPI_SNAPSHOT_MIN_FEATURES": minimum})


def test_bbox_pages_from_memory_equal_the_database_answers(demo_path, monkeypatch):
    from geo.feature_pages import LayerSnapshot

    memory = _memory_app(demo_path, 1)
    database = _memory_app(demo_path, 0).test_client()
    client = memory.test_client()
    urls = [
        "/collections/violations/items?bbox=119.40,31.60,119.70,31.85&limit=17&offset=5",
        "/collections/violations/items?bbox=119.40,31.60,119.70,31.85&limit=10000",
        "/collections/violations/items?bbox=119.45,31.65,119.60,31.78&sortby=-id&limit=9",
        "/collections/rivers/items?bbox=119.45,31.65,119.60,31.78",
        "/collections/micro_water_bodies/items?bbox=119.5,31.7,119.6,31.8&limit=50&offset=50",
        "/collections/violations/items?bbox=0,0,1,1",
    ]
    for url in urls:  # the first sight of each layer starts a build and reads the database
        client.get(url)
    memory.extensions["hehu_ogcapi_snapshots"].wait()
    served = []
    original = LayerSnapshot.page
    monkeypatch.setattr(LayerSnapshot, "page", lambda self, *a, **k: served.append(1) or original(self, *a, **k))
    for url in urls:
        a, b = client.get(url).get_json(), database.get(url).get_json()
        a.pop("timeStamp"), b.pop("timeStamp")
        assert a == b, url
    assert len(served) == len(urls)


def test_a_write_is_seen_at_once_though_the_snapshot_is_older(demo_copy):
    app = _memory_app(demo_copy, 1)
    client = app.test_client()
    url = "/collections/violations/items?bbox=119.56,31.73,119.58,31.75&limit=10000"
    client.get(url)
    app.extensions["hehu_ogcapi_snapshots"].wait()
    before = fids(client.get(url).get_json())
    fid = app.extensions["hehu_registry"].add("violations", violation("QSL-T-9002"), INSIDE)
    after = client.get(url).get_json()
    assert fids(after) == sorted(before + [fid])
    app.extensions["hehu_ogcapi_snapshots"].wait()
    assert fids(client.get(url).get_json()) == sorted(before + [fid])


def test_small_layers_and_filtered_pages_are_not_held_in_memory(demo_path):
    app = _memory_app(demo_path, 10_000)
    client = app.test_client()
    client.get("/collections/violations/items?bbox=119.40,31.60,119.70,31.85")
    cache = app.extensions["hehu_ogcapi_snapshots"]
    cache.wait()
    assert cache._snapshots == {}
    app = _memory_app(demo_path, 1)
    client = app.test_client()
    client.get("/collections/violations/items?bbox=119.40,31.60,119.70,31.85&status=已销号")
    client.get("/collections/violations/items?bbox=119.40,31.60,119.70,31.85&properties=code")
    assert "hehu_ogcapi_snapshots" not in app.extensions


def test_snapshot_built_in_chunks_holds_every_feature_in_fid_order(reg):
    from geo.feature_pages import LayerSnapshot

    layer = reg.layer("violations")
    snap = LayerSnapshot.build(reg, layer, "t", chunk=37)
    frame = reg.read("violations")
    assert snap.fids.tolist() == frame.index.tolist()
    texts, matched = snap.page((119.2, 31.5, 119.8, 31.9), limit=5, offset=3)
    assert matched == len(frame)
    assert [json.loads(t)["id"] for t in texts] == frame.index.tolist()[3:8]
    texts, _ = snap.page((119.2, 31.5, 119.8, 31.9), descending=True, limit=2)
    assert [json.loads(t)["id"] for t in texts] == frame.index.tolist()[::-1][:2]


def test_a_write_to_another_layer_keeps_the_snapshot(demo_copy):
    app = _memory_app(demo_copy, 1)
    client = app.test_client()
    url = "/collections/violations/items?bbox=119.3,31.5,119.8,31.9&limit=5"
    client.get(url)
    cache = app.extensions["hehu_ogcapi_snapshots"]
    cache.wait()
    snap = cache._snapshots["violations"]
    reg = app.extensions["hehu_registry"]
    sign = reg.read("signboards").index[0]
    reg.update("signboards", int(sign), {"compliant": False})
    client.get(url)
    cache.wait()
    assert cache._snapshots["violations"] is snap
    reg.update("violations", 1, {"note": "复查"})
    assert client.get("/collections/violations/items?bbox=119.3,31.5,119.8,31.9&limit=1").get_json()["features"][0]["properties"]["note"] == "复查"
    cache.wait()
    assert cache._snapshots["violations"] is not snap
