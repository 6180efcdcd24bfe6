"""/query over HTTP: GeoJSON answers with the question attached, 400s for bad input."""

from __future__ import annotations

import json
from urllib.parse import quote, unquote

import pytest
import shapely
from shapely.geometry import shape

from geo.crs import to_metric
from geo.query import near
from geo.registry import Registry

# The same answers from the GeoPackage and the PostGIS store.
pytestmark = pytest.mark.both_stores


def test_near_answers_geojson_with_the_query(client, demo_copy):
    resp = client.get("/query/near?target=丹金溧漕河&distance=50&layers=violations,micro_water_bodies")
    assert resp.status_code == 200
    assert resp.mimetype == "application/geo+json"
    body = json.loads(resp.get_data(as_text=True), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == body["numberReturned"] == len(body["features"])
    q = body["query"]
    assert q["distance_m"] == 50
    assert q["layers"] == ["violations", "micro_water_bodies"]
    assert q["target"]["type"] == "Feature" and q["target"]["properties"]["label"] == "丹金溧漕河"
    assert to_metric(shape(q["buffer"])).contains(to_metric(shape(q["target"]["geometry"])))
    reg = Registry.open(demo_copy)
    try:
        want = near(reg, "丹金溧漕河", 50, layers=["violations", "micro_water_bodies"])
    finally:
        reg.close()
    got = [(f["properties"]["layer"], f["properties"]["fid"]) for f in body["features"]]
    assert got == list(zip(want["layer"], want["fid"].astype(int), strict=True))
    distances = [f["properties"]["distance_m"] for f in body["features"]]
    assert distances == sorted(distances) and all(d <= 50 for d in distances)
    first = body["features"][0]["properties"]
    assert {"code", "status", "layer", "fid", "distance_m"} <= set(first)


def test_units_kilometers_and_feet_mean_the_same_distance(client):
    metres = client.get("/query/near?target=丹金溧漕河&distance=150&layers=violations").get_json(force=True)
    km = client.get("/query/near?target=丹金溧漕河&distance=0.15&units=kilometers&layers=violations").get_json(force=True)
    feet = client.get(
        f"/query/near?target=丹金溧漕河&distance={150 / 0.3048!r}&units=feet&layers=violations"
    ).get_json(force=True)
    ids = [[f["id"] for f in b["features"]] for b in (metres, km, feet)]
    assert ids[0] == ids[1] == ids[2] and ids[0]
    assert km["query"]["distance_m"] == 150


def test_arcgis_style_distance_and_units(client):
    plain = client.get("/query/near?target=丹金溧漕河&distance=50&layers=violations").get_json(force=True)
    for units in ("meters", "Meters", "esriSRUnit_Meter", "esriMeters"):
        body = client.get(f"/query/near?target=丹金溧漕河&distance=50&units={units}&layers=violations").get_json(force=True)
        assert body["query"]["distance_m"] == 50
        assert [f["id"] for f in body["features"]] == [f["id"] for f in plain["features"]]
    km = client.get("/query/near?target=丹金溧漕河&distance=0.05&units=esriSRUnit_Kilometer&layers=violations")
    assert [f["id"] for f in km.get_json(force=True)["features"]] == [f["id"] for f in plain["features"]]


def test_the_items_dwithin_filter_agrees_with_query_near(client):
    point = "POINT(119.57 31.74)"
    items = client.get(f"/collections/violations/items?limit=1000&filter={quote(f'DWITHIN(geometry, {point}, 3, kilometers)')}")
    near_ = client.get(f"/query/near?target={quote(point)}&distance=3000&layers=violations&all=true")
    assert items.status_code == near_.status_code == 200
    got = {f["id"] if isinstance(f["id"], int) else int(str(f["id"]).rsplit(".", 1)[-1])
           for f in items.get_json(force=True)["features"]}
    want = {f["properties"]["fid"] for f in near_.get_json(force=True)["features"]}
    assert got == want and want


def test_the_items_filter_combines_s_intersects_comparisons_and_logic(client, app):
    box = "POLYGON((119.5 31.6, 119.65 31.6, 119.65 31.8, 119.5 31.8, 119.5 31.6))"
    text = f"S_INTERSECTS(geometry, {box}) AND NOT (status = '已销号' OR category IN ('乱建')) AND found_on >= DATE('2020-06-01')"
    resp = client.get(f"/collections/violations/items?limit=1000&filter={quote(text)}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    got = {int(str(f["id"]).rsplit(".", 1)[-1]) for f in resp.get_json(force=True)["features"]}
    every = app.extensions["hehu_registry"].read("violations")
    inside = shapely.intersects(to_metric(every.geometry.values), to_metric(shapely.from_wkt(box)))
    keep = inside & ~((every["status"] == "已销号") | (every["category"] == "乱建")).to_numpy()
    keep &= (every["found_on"].notna() & (every["found_on"].astype(str) >= "2020-06-01")).to_numpy()
    assert got == set(every.index[keep].tolist()) and got


def test_the_query_member_draws_the_target_and_its_buffer(client):
    body = client.get("/query/nearest?lon=119.56&lat=31.72&layer=sewage_plants&k=2&max_distance=5000").get_json(force=True)
    q = body["query"]
    assert shape(q["target"]["geometry"]).equals(shapely.Point(119.56, 31.72))
    assert q["distance_m"] == 5000 and q["layers"] == ["sewage_plants"]
    radius = to_metric(shape(q["buffer"])).minimum_rotated_rectangle.length / 8  # a circle of 5 km
    assert abs(radius - 5000) < 50
    within = client.get("/query/within?area=儒林镇&layers=violations").get_json(force=True)["query"]
    assert within["distance_m"] is None and within["buffer"] == within["target"]["geometry"]
    assert within["target"]["properties"]["features"][0][0] == "towns"


def test_lang_and_f_json_are_accepted(client):
    for extra in ("lang=en", "f=json", "f=geojson"):
        assert client.get(f"/query/within?area=儒林镇&layers=violations&{extra}").status_code == 200


def test_all_true_includes_closed_violations(client):
    some = client.get("/query/near?target=丹金溧漕河&distance=500&layers=violations").get_json(force=True)
    every = client.get("/query/near?target=丹金溧漕河&distance=500&layers=violations&all=true").get_json(force=True)
    assert every["numberMatched"] > some["numberMatched"]
    assert any(f["properties"]["status"] == "已销号" for f in every["features"])
    assert not any(f["properties"]["status"] == "已销号" for f in some["features"])


def test_filter_and_limit(client):
    resp = client.get("/query/near?target=丹金溧漕河&distance=500&layers=violations&filter=status%3D%27整改中%27&limit=2")
    body = resp.get_json(force=True)
    assert resp.status_code == 200
    assert body["numberReturned"] == min(2, body["numberMatched"])
    assert all(f["properties"]["status"] == "整改中" for f in body["features"])


def test_within_nearest_intersects(client):
    within = client.get("/query/within?area=儒林镇&layers=violations").get_json(force=True)
    assert within["numberMatched"] > 0 and within["query"]["target"]["properties"]["label"] == "儒林镇"
    nearest = client.get("/query/nearest?lon=119.56&lat=31.72&layer=sewage_plants&k=3").get_json(force=True)
    assert nearest["numberReturned"] == 3
    d = [f["properties"]["distance_m"] for f in nearest["features"]]
    assert d == sorted(d)
    line = "LINESTRING (119.5 31.6, 119.6 31.8)"
    inter = client.get(f"/query/intersects?geometry={quote(line)}&layers=rivers").get_json(force=True)
    assert inter["numberMatched"] > 0
    assert all(shapely.from_wkt(line).intersects(shape(f["geometry"])) for f in inter["features"])
    geojson = json.dumps({"type": "LineString", "coordinates": [[119.5, 31.6], [119.6, 31.8]]})
    same = client.get(f"/query/intersects?geometry={quote(geojson)}&layers=rivers").get_json(force=True)
    assert [f["id"] for f in same["features"]] == [f["id"] for f in inter["features"]]


def test_download_names_the_file_after_the_question(client):
    resp = client.get("/query/near?target=丹金溧漕河&distance=50&download=1")
    cd = resp.headers["Content-Disposition"]
    assert cd.startswith("attachment;")
    assert 'filename="hehu-near.geojson"' in cd
    encoded = cd.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "丹金溧漕河-50m以内.geojson"


@pytest.mark.parametrize(
    "url, words",
    [
        ("/query/near?target=丹金漕河&distance=50", "丹金溧漕河"),
        ("/query/near?target=丹金溧漕河&distance=-1", "greater than 0"),
        ("/query/near?target=丹金溧漕河&distance=0", "greater than 0"),
        ("/query/near?target=丹金溧漕河&distance=abc", "must be a number"),
        ("/query/near?target=丹金溧漕河&distance=60000", "50,000"),
        ("/query/near?target=丹金溧漕河&distance=nan", "finite"),
        ("/query/near?target=丹金溧漕河", "distance is required"),
        ("/query/near?distance=50", "target is required"),
        ("/query/near?target=丹金溧漕河&distance=50&units=degrees", "unknown unit"),
        ("/query/near?target=丹金溧漕河&distance=50&layers=nonsense", "known layers"),
        ("/query/near?target=POINT(119.5&distance=50", "malformed WKT"),
        ("/query/near?target=POINT(118.8 32.06)&distance=50", "outside the district"),
        ("/query/near?target=丹金溧漕河&distance=50&filter=status%3D", "position"),
        ("/query/near?target=丹金溧漕河&distance=50&filter-lang=cql2-json&filter=x", "cql2-text"),
        ("/query/near?target=丹金溧漕河&distance=50&all=maybe", "true or false"),
        ("/query/near?target=丹金溧漕河&distance=50&limit=-3", "limit"),
        ("/query/near?target=丹金溧漕河&distance=50&bbox=1,2", "bbox"),
        ("/query/within?area=火星镇&layers=violations", "not a code, name or alias"),
        ("/query/nearest?lon=abc&lat=31.7&layer=sewage_plants", "numbers"),
        ("/query/nearest?lon=119.56&lat=31.72&layer=sewage_plants&k=0", "k must be"),
        ("/query/nearest?lon=119.56&lat=31.72&layer=sewage_plants&k=many", "k must be"),
        ("/query/nearest?lon=119.56&lat=31.72", "layer is required"),
        ("/query/intersects?geometry=%7B%22type%22%3A", "malformed GeoJSON"),
        ("/query/near?target=丹金溧漕河&distance=inf", "finite"),
        ("/query/near?target=丹金溧漕河&distance=-Infinity", "finite"),
        ("/query/near?target=丹金溧漕河&distance=1e999", "finite"),
        ("/query/near?target=丹金溧漕河&distance=50.5&units=kilometers", "50,000"),
        ("/query/near?target=丹金溧漕河&distance=50&units=meteres", "did you mean met"),
        ("/query/near?target=丹金溧漕河&distance=50m", "must be a number"),
        ("/query/near?target=hd-0001&distance=50", "did you mean HD-0001"),
        ("/query/near?target=LINESTRING(119.57 31.74)&distance=50", "malformed WKT"),
        ("/query/near?target=POINT(nan 31.7)&distance=50", "finite"),
        ("/query/near?target=POINT(465000 3510000)&distance=50", "longitude/latitude"),
        ('/query/near?target={"type": "Point", "coordinates": [119.5]}&distance=50', "[lon, lat]"),
        ('/query/near?target={"type": "Feature", "geometry": null}&distance=50', "no geometry"),
        ("/query/near?target=丹金溧漕河&distance=50&filter=DWITHIN(geometry, POINT(nan 31), 5, meters)", "position 19"),
        ("/query/nearest?lon=nan&lat=31.72&layer=sewage_plants", "finite"),
        ("/query/nearest?lon=119.56&lat=31.72&layer=sewage_plants&max_distance=1e9", "50,000"),
        ("/query/nearest?lon=121.47&lat=31.23&layer=sewage_plants", "outside the district"),
        ("/query/nearest?lon=119.56&lat=31.72&layer=sewage_plant", "known layers"),
        ("/query/within?area=POLYGON((119.5 31.7, 119.6 31.7, 119.6 31.8))", "malformed WKT"),
        # a mistyped parameter name is not silently ignored (5 km would become 5 m)
        ("/query/near?target=丹金溧漕河&distance=5&unit=kilometers", "did you mean units?"),
        ("/query/nearest?lon=119.56&lat=31.72&layer=sewage_plants&layers=violations", "did you mean layer?"),
        ("/query/near?target=丹金溧漕河&distance=50&distance=60", "more than once"),
        ("/query/near?target=丹金溧漕河&distance=50&f=html", "geojson"),
    ],
)
def test_bad_requests_are_400_json(client, url, words):
    resp = client.get(url, headers={"Accept-Language": "en"})
    assert resp.status_code == 400, resp.get_data(as_text=True)
    body = resp.get_json()
    assert words in body["description"]
    assert "\n" not in body["description"]
    assert body["code"] == "bad-query"


def test_ambiguity_lists_candidates(client, app):
    reg = app.extensions["hehu_registry"]
    lake = reg.read("lakes").geometry.iloc[0]
    reg.add("lakes", {"code": "HP-T-9", "name": "通济河"}, lake.buffer(-0.02))
    resp = client.get("/query/near?target=通济河&distance=50")
    assert resp.status_code == 400
    layers = {c["layer"] for c in resp.get_json()["candidates"]}
    assert layers == {"rivers", "lakes"}
