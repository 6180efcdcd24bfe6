"""The map page's server side: /map, /map/config.json (from the catalog) and /search."""

from __future__ import annotations

import gzip
import os
import re

import pytest
from samples import violation  # this folder's samples.py (pytest puts the folder on sys.path)
from shapely.geometry import LineString, Point, Polygon

from geo.errors import QueryError
from geo.search import search
from layers import load_catalog
from server import create_app
from server.map import parse_derived


@pytest.fixture(scope="module")
def demo_app(demo_path):
    """The app on the shared demo registry (these tests only read)."""
    return create_app({"REGISTRY": str(demo_path), "TESTING": True})


@pytest.fixture(scope="module")
def demo_client(demo_app):
    return demo_app.test_client()


@pytest.fixture
def small(empty_registry):
    """A registry with a river in two reaches, a lake with an alias, a town, violations."""
    reg = empty_registry
    reg.add("towns", {"code": "T1", "name": "儒林镇"},
            Polygon([(119.50, 31.60), (119.60, 31.60), (119.60, 31.70), (119.50, 31.70)]))
    reg.add("towns", {"code": "T2", "name": "金城镇"},
            Polygon([(119.50, 31.70), (119.60, 31.70), (119.60, 31.80), (119.50, 31.80)]))
    reg.add("rivers", {"code": "HD-1", "name": "丹金溧漕河", "grade": "区级", "reach": "北段"},
            LineString([(119.55, 31.70), (119.56, 31.75)]))
    reg.add("rivers", {"code": "HD-2", "name": "丹金溧漕河", "grade": "区级", "reach": "南段"},
            LineString([(119.56, 31.75), (119.58, 31.80)]))
    reg.add("rivers", {"code": "HD-3", "name": "新丹金河", "grade": "镇级"},
            LineString([(119.40, 31.60), (119.41, 31.61)]))
    reg.add("rivers", {"code": "HD-4", "name": "丹金河", "grade": "村级"},
            LineString([(119.42, 31.60), (119.43, 31.61)]))
    reg.add("lakes", {"code": "HP-1", "name": "长荡湖", "aliases": "洮湖;长塘湖"},
            Polygon([(119.50, 31.58), (119.58, 31.58), (119.58, 31.65), (119.50, 31.65)]))
    reg.add("violations", violation("QSL-2021-0001"), Point(119.57, 31.74))
    reg.add("violations", violation("QSL-2021-0002"), Point(119.571, 31.741))
    return reg


# -- search ranking -----------------------------------------------------------------------


def test_search_ranks_exact_before_prefix_before_contains(small):
    results = search(small, "丹金河")
    labels = [(r["label"], r["rank"]) for r in results]
    assert labels[0] == ("丹金河", "exact")
    assert ("新丹金河", "contains") in labels
    assert labels.index(("丹金河", "exact")) < labels.index(("新丹金河", "contains"))


def test_search_prefix_ranks_before_contains(small):
    ranks = [r["rank"] for r in search(small, "丹金")]
    assert ranks == sorted(ranks, key=["exact", "prefix", "contains", "fuzzy"].index)
    assert ranks[0] == "prefix"


def test_search_finds_a_misspelt_name_by_fuzzy_match(small):
    results = search(small, "丹金漕河")
    assert results and results[0]["label"] == "丹金溧漕河"
    assert results[0]["rank"] == "fuzzy"


def test_fuzzy_pool_stays_small_among_many_look_alike_codes_and_keeps_the_near_ones():
    import pandas as pd

    from geo.search import FUZZY_POOL, _fuzzy_pool

    codes = pd.Series([f"qsl-b-{i:06d}" for i in range(20_000)], dtype="string")
    pool = _fuzzy_pool(codes, "qsl-b-01234x")
    assert 0 < len(pool) <= FUZZY_POOL
    assert "qsl-b-012340" in pool
    names = pd.Series(["丹金溧漕河", "新孟河", "长荡湖"], dtype="string")
    assert _fuzzy_pool(names, "丹金漕河") == ["丹金溧漕河", "新孟河", "长荡湖"]


def test_search_finds_a_lake_by_its_alias(small):
    (hit,) = [r for r in search(small, "洮湖") if r["layer"] == "lakes"]
    assert hit["label"] == "长荡湖" and hit["match"] == "洮湖" and hit["rank"] == "exact"


def test_search_finds_a_violation_by_code_case_insensitively(small):
    hit = search(small, "qsl-2021-0002")[0]
    assert (hit["layer"], hit["label"], hit["rank"]) == ("violations", "QSL-2021-0002", "exact")
    assert hit["bbox"] == pytest.approx([119.571, 31.741, 119.571, 31.741])


def test_search_returns_a_river_in_reaches_once_with_the_union_bbox(small):
    hits = [r for r in search(small, "丹金溧漕河") if r["label"] == "丹金溧漕河"]
    assert len(hits) == 1
    assert len(hits[0]["fids"]) == 2
    assert hits[0]["bbox"] == pytest.approx([119.55, 31.70, 119.58, 31.80])


def test_search_sees_a_feature_added_after_the_index_was_built(small):
    assert "QSL-2021-0003" not in [r["label"] for r in search(small, "QSL-2021-0003")]
    small.add("violations", violation("QSL-2021-0003"), Point(119.572, 31.742))
    assert search(small, "QSL-2021-0003")[0]["rank"] == "exact"


def test_search_layers_restricts_the_results(small):
    assert {r["layer"] for r in search(small, "丹金", layers=["towns"])} == set()
    assert {r["layer"] for r in search(small, "儒林", layers=["towns"])} == {"towns"}


def test_search_respects_the_limit(small):
    assert len(search(small, "QSL", limit=1)) == 1


@pytest.mark.parametrize(
    "kwargs, parameter",
    [
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 101}, "q"),
        ({"q": "丹金", "limit": 0}, "limit"),
        ({"q": "丹金", "limit": 51}, "limit"),
        ({"q": "丹金", "layers": ["nope"]}, "layers"),
    ],
)
def test_search_rejects_bad_input_naming_the_parameter(small, kwargs, parameter):
    q = kwargs.pop("q")
    with pytest.raises(QueryError) as info:
        search(small, q, **kwargs)
    assert info.value.details["parameter"] == parameter
    assert parameter in info.value.message


# -- /search over HTTP ----------------------------------------------------------------------


def test_search_endpoint_finds_the_demo_river_with_a_bbox_inside_the_district(demo_client):
    body = demo_client.get("/search?q=丹金溧漕河").get_json()
    first = body["results"][0]
    assert (first["label"], first["layer"], first["rank"]) == ("丹金溧漕河", "rivers", "exact")
    minx, miny, maxx, maxy = first["bbox"]
    assert 119.2 < minx < maxx < 119.8 and 31.5 < miny < maxy < 32.0
    assert body["numberReturned"] == len(body["results"])


@pytest.mark.parametrize(
    "query, parameter",
    [("", "q"), ("?q=", "q"), ("?q=a&limit=x", "limit"), ("?q=a&limit=99", "limit"),
     ("?q=a&layers=towns,nope", "layers"), ("?q=a&lang=fr", "lang"), ("?q=a&town=x", "town")],
)
def test_search_endpoint_answers_bad_input_with_400_naming_the_parameter(demo_client, query, parameter):
    resp = demo_client.get("/search" + query)
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["parameter"] == parameter and parameter in body["description"]


# -- /map/config.json -----------------------------------------------------------------------


def test_config_has_every_map_layer_of_the_catalog_in_order_with_titles(demo_client):
    config = demo_client.get("/map/config.json").get_json()
    catalog = load_catalog()
    # Chiefs (no geometry) and observations (on_map: false) are not map layers.
    assert [layer["id"] for layer in config["layers"]] == [x.id for x in catalog if x.on_map and not x.geometry_optional]
    assert "observations" in catalog.ids and not catalog["observations"].on_map
    for entry in config["layers"]:
        layer = catalog[entry["id"]]
        assert entry["title"] == layer.title_zh
        assert entry["default_visible"] == layer.default_visible
        assert entry["style"]["color"] == layer.style.color
        assert entry["style"]["values"] == layer.style.values


def test_config_labels_popup_fields_with_catalog_titles(demo_client):
    config = demo_client.get("/map/config.json").get_json()
    violations = next(x for x in config["layers"] if x["id"] == "violations")
    layer = load_catalog()["violations"]
    assert violations["popup"][: len(layer.popup)] == list(layer.popup)
    for name in layer.popup:
        assert violations["fields"][name]["title"] == layer.field(name).title_zh


def test_config_in_english_uses_english_titles_and_enum_labels(demo_client):
    config = demo_client.get("/map/config.json?lang=en").get_json()
    violations = next(x for x in config["layers"] if x["id"] == "violations")
    assert violations["title"] == "Four-disorders violations"
    assert {i["label"] for i in violations["legend"]} == {
        "illegal occupation", "illegal mining", "illegal piling", "illegal building"
    }
    assert violations["fields"]["status"]["enum_labels"]["已销号"] == "closed"
    assert config["strings"]["print"] == "Print this view"


def test_config_draws_closed_violations_hollow(demo_client):
    config = demo_client.get("/map/config.json").get_json()
    violations = next(x for x in config["layers"] if x["id"] == "violations")
    assert violations["problem"] == {"field": "status", "values": None, "not_in": ["已销号"]}
    assert violations["resolved_style"]["fill_opacity"] == 0
    assert violations["resolved_label"].startswith("已销号")


def test_config_carries_the_sections_meets_target_expression(demo_client):
    config = demo_client.get("/map/config.json").get_json()
    sections = next(x for x in config["layers"] if x["id"] == "sections")
    assert sections["derived"] == [{
        "name": "meets_target", "left": {"field": "latest_class"}, "op": "<=",
        "right": {"field": "target_class"},
    }]
    assert "meets_target" in sections["popup"]
    assert {i["value"] for i in sections["legend"]} == {"True", "False"}


def test_parse_derived_reads_numbers_and_rejects_other_expressions():
    assert parse_derived("big", "capacity_m3d > 10000")["right"] == {"value": 10000.0}
    with pytest.raises(ValueError, match="derived field 'x'"):
        parse_derived("x", "a + b")


def test_config_lists_problem_layers_and_query_targets(demo_client):
    config = demo_client.get("/map/config.json").get_json()
    assert config["problem_layers"] == [layer.id for layer in load_catalog().problem_layers]
    assert set(config["query_targets"]["near"]) == {"rivers", "lakes"}
    assert config["query_targets"]["within"] == ["towns"]


def test_config_does_not_inline_features(demo_client):
    resp = demo_client.get("/map/config.json")
    assert b'"coordinates"' not in resp.data and b'"features"' not in resp.data
    assert len(resp.data) < 40_000


def test_config_marks_synthetic_demo_data_and_gives_credits(demo_client):
    config = demo_client.get("/map/config.json").get_json()
    assert config["synthetic"] is True
    assert config["credits"] and all(isinstance(c, str) and c for c in config["credits"])


def test_config_leaves_out_tianditu_without_a_key(demo_client):
    ids = [b["id"] for b in demo_client.get("/map/config.json").get_json()["basemaps"]]
    assert "tianditu" not in ids and {"osm", "amap"} <= set(ids)


def test_config_offers_tianditu_with_the_configured_key(demo_path):
    from server import DEFAULTS

    basemaps = {k: dict(v) for k, v in DEFAULTS["BASEMAPS"].items()}
    basemaps["tianditu"]["key"] = "abc123"
    app = create_app({"REGISTRY": str(demo_path), "TESTING": True, "BASEMAPS": basemaps})
    config = app.test_client().get("/map/config.json").get_json()
    tianditu = next(b for b in config["basemaps"] if b["id"] == "tianditu")
    assert tianditu["url"].endswith("tk=abc123") and "{key}" not in tianditu["url"]
    amap = next(b for b in config["basemaps"] if b["id"] == "amap")
    assert amap["crs"] == "gcj02"


def test_config_clusters_only_large_point_layers(demo_path, tmp_path):
    app = create_app({"REGISTRY": str(demo_path), "TESTING": True})
    config = app.test_client().get("/map/config.json").get_json()
    clustered = {x["id"] for x in config["layers"] if x["cluster"]}
    counts = {x["id"]: x["count"] for x in config["layers"]}
    assert all(config_layer["geometry"] == "Point" for config_layer in config["layers"]
               if config_layer["id"] in clustered)
    assert all(counts[i] > 1000 for i in clustered)


# -- /map ---------------------------------------------------------------------------------


def test_map_page_is_chinese_and_loads_only_local_scripts(demo_client):
    resp = demo_client.get("/map")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert '<html lang="zh-CN">' in html and "打印当前视图" in html and "下载 GeoJSON" in html
    assert ">清除</button>" in html and "built-in method" not in html
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and not [u for u in urls if u.startswith(("http:", "https:", "//"))]
    assert [u for u in urls if u.startswith("/static/vendor/leaflet/leaflet.js?v=")]
    assert "/map/config.json?lang=zh" in html


def test_map_page_in_english(demo_client):
    html = demo_client.get("/map?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html and "Print this view" in html
    assert "/map/config.json?lang=en" in html


def test_map_page_includes_edit_js_only_when_it_exists(demo_path, tmp_path):
    app = create_app({"REGISTRY": str(demo_path), "TESTING": True})
    app.static_folder = str(tmp_path)
    assert "map/edit.js" not in app.test_client().get("/map").get_data(as_text=True)
    (tmp_path / "map").mkdir()
    (tmp_path / "map" / "edit.js").write_text("// editing\n", encoding="utf-8")
    html = app.test_client().get("/map").get_data(as_text=True)
    assert re.search(r'<script src="/static/map/edit\.js\?v=\w+" defer></script>', html)


def test_every_map_static_file_the_page_names_is_served(demo_client):
    html = demo_client.get("/map").get_data(as_text=True)
    for url in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        if url.endswith("edit.js"):
            continue
        assert demo_client.get(url).status_code == 200, url


def test_static_files_are_versioned_cached_for_long_and_gzipped(demo_client):
    html = demo_client.get("/map").get_data(as_text=True)
    script = re.search(r'src="(/static/vendor/leaflet/leaflet\.js\?v=\w+)"', html).group(1)
    plain = demo_client.get(script)
    packed = demo_client.get(script, headers={"Accept-Encoding": "gzip, deflate"})
    assert "immutable" in packed.headers["Cache-Control"] and "max-age=31536000" in packed.headers["Cache-Control"]
    assert packed.headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in packed.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 2
    # the gzipped bytes are another representation: weak tag, still answered 304
    assert packed.headers["ETag"].startswith("W/")
    again = demo_client.get(script, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304
    # an unversioned URL is revalidated
    assert demo_client.get("/static/map/map.js").headers["Cache-Control"] == "no-cache"


def test_an_edited_static_file_gets_a_new_url_and_its_new_bytes(demo_path, tmp_path):
    app = create_app({"REGISTRY": str(demo_path), "TESTING": True})
    app.static_folder = str(tmp_path)
    (tmp_path / "map").mkdir()
    script = tmp_path / "map" / "edit.js"
    script.write_text("// one\n" * 400, encoding="utf-8")
    client = app.test_client()
    first = re.search(r'src="(/static/map/edit\.js\?v=\w+)"', client.get("/map").get_data(as_text=True)).group(1)
    assert gzip.decompress(client.get(first, headers={"Accept-Encoding": "gzip"}).data) == script.read_bytes()
    script.write_text("// two, longer\n" * 400, encoding="utf-8")
    second = re.search(r'src="(/static/map/edit\.js\?v=\w+)"', client.get("/map").get_data(as_text=True)).group(1)
    assert second != first
    assert gzip.decompress(client.get(second, headers={"Accept-Encoding": "gzip"}).data) == script.read_bytes()


def test_small_and_binary_static_files_are_sent_as_they_are(demo_client):
    small = demo_client.get("/static/vendor/leaflet.markercluster/MarkerCluster.css", headers={"Accept-Encoding": "gzip"})
    assert small.status_code == 200 and "Content-Encoding" not in small.headers
    png = [n for n in os.listdir(os.path.join(demo_client.application.static_folder, "vendor", "leaflet", "images"))
           if n.endswith(".png")][0]
    image = demo_client.get(f"/static/vendor/leaflet/images/{png}", headers={"Accept-Encoding": "gzip"})
    assert image.status_code == 200 and "Content-Encoding" not in image.headers


@pytest.mark.parametrize("url", ["/map", "/map/config.json?lang=zh", "/search?q=%E4%B8%B9%E9%87%91"])
def test_page_config_and_search_answer_304_when_unchanged_and_go_gzipped(demo_client, url):
    first = demo_client.get(url, headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and first.headers["Content-Encoding"] == "gzip"
    assert first.headers["Cache-Control"] == "no-cache" and "Accept-Encoding" in first.headers["Vary"]
    again = demo_client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_config_etag_changes_when_a_layer_count_changes(client, app):
    tag = client.get("/map/config.json").headers["ETag"]
    app.extensions["hehu_registry"].add("violations", violation("QSL-T-7001"), Point(119.55, 31.70))
    resp = client.get("/map/config.json", headers={"If-None-Match": tag})
    assert resp.status_code == 200 and resp.headers["ETag"] != tag


def test_page_and_config_urls_stay_below_the_prefix_the_app_is_mounted_at(demo_client):
    mounted = {"SCRIPT_NAME": "/hehu"}
    urls = demo_client.get("/map/config.json", environ_overrides=mounted).get_json()["urls"]
    assert urls and all(url.startswith("/hehu/") for url in urls.values()), urls
    html = demo_client.get("/map", environ_overrides=mounted).get_data(as_text=True)
    assert re.findall(r'(?:src|href)="(/[^"]*)"', html)
    assert all(u.startswith("/hehu/") for u in re.findall(r'(?:src|href)="(/[^"]*)"', html))
    assert 'data-config="/hehu/map/config.json' in html


@pytest.mark.parametrize(("query", "parameter"), [("?lang=fr", "lang"), ("?layers=towns", "layers")])
def test_config_answers_bad_input_with_400_naming_the_parameter(demo_client, query, parameter):
    resp = demo_client.get(f"/map/config.json{query}")
    assert resp.status_code == 400 and resp.get_json()["parameter"] == parameter
