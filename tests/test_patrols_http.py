"""/patrols over HTTP: import by the field role, coverage as GeoJSON, duty as JSON."""

from __future__ import annotations

import io

import numpy as np
import pytest
import shapely

from geo.crs import from_metric, to_metric
from geo.users import add_user
from tests.test_patrols_import import gpx


@pytest.fixture
def tokens(app):
    reg = app.extensions["hehu_registry"]
    return {role: add_user(reg, f"u-{role}", role, iterations=1000) for role in ("viewer", "field")}


@pytest.fixture
def walk(app):
    reg = app.extensions["hehu_registry"]
    rivers = reg.read("rivers")
    row = rivers[rivers["code"] == "HD-0005"].iloc[0]
    pts = shapely.line_interpolate_point(to_metric(row.geometry), np.linspace(500, 3500, 90))
    ll = shapely.get_coordinates(from_metric(pts))
    times = np.datetime64("2021-05-10T01:00:00") + (np.arange(len(ll)) * 30).astype("timedelta64[s]")
    return row["chief"], gpx(ll[:, 0], ll[:, 1], times)


def _post(client, token, chief, data, **form):
    body = {"chief": chief, "file": (io.BytesIO(data), "walk.gpx"), **form}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/patrols/import", data=body, headers=headers, content_type="multipart/form-data")


def test_field_role_imports_and_the_track_is_an_ogc_feature(client, tokens, walk, app):
    chief, data = walk
    reg = app.extensions["hehu_registry"]
    before = reg.count("patrols")
    r = _post(client, tokens["field"], chief, data, dry_run="1")
    assert r.status_code == 200 and r.get_json()["written"] is False
    assert reg.count("patrols") == before
    r = _post(client, tokens["field"], chief, data)
    assert r.status_code == 201, r.get_json()
    fid = r.get_json()["fids"][0]
    item = client.get(f"/collections/patrols/items/{fid}").get_json()
    assert item["properties"]["chief"] == chief and item["geometry"]["type"] == "MultiLineString"
    again = _post(client, tokens["field"], chief, data)
    assert again.status_code == 400 and "重复导入" in again.get_json()["description"]
    assert reg.count("patrols") == before + 1


def test_import_needs_the_field_role(client, tokens, walk, app):
    chief, data = walk
    reg = app.extensions["hehu_registry"]
    before = reg.count("patrols")
    assert _post(client, None, chief, data).status_code == 401
    assert _post(client, tokens["viewer"], chief, data).status_code == 403
    assert reg.count("patrols") == before


@pytest.mark.parametrize(
    "form,status",
    [({"chief": "无此人"}, 400), ({"crs": "utm"}, 400), ({"chief": ""}, 400)],
)
def test_bad_imports_are_400_and_write_nothing(client, tokens, walk, app, form, status):
    chief, data = walk
    reg = app.extensions["hehu_registry"]
    before = reg.count("patrols")
    r = _post(client, tokens["field"], form.pop("chief", chief), data, **form)
    assert r.status_code == status
    assert reg.count("patrols") == before


def test_coverage_is_geojson_with_one_feature_per_reach(client):
    r = client.get("/patrols/coverage?from=2021-10-01&to=2021-12-31&river=通济河")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    body = r.get_json()
    assert body["features"] and all(f["properties"]["name"] == "通济河" for f in body["features"])
    f = body["features"][0]
    assert set(f["properties"]) == {"code", "name", "length_m", "covered_m", "share"}
    assert f["geometry"]["type"] == "MultiLineString"


def test_duty_lists_every_chief_and_the_rate_per_level(client, app):
    body = client.get("/patrols/duty?from=2021-01-01&to=2021-12-31").get_json()
    reg = app.extensions["hehu_registry"]
    assert len(body["chiefs"]) == reg.count("chiefs")
    assert {r["level"] for r in body["rate"]} == {"区级", "镇级", "村级"}


@pytest.mark.parametrize(
    "url,param",
    [
        ("/patrols/coverage?from=2021-01-01", "to"),
        ("/patrols/coverage?from=2021-02-30&to=2021-03-01", "from"),
        ("/patrols/coverage?from=2021-03-01&to=2021-01-01", "from"),
        ("/patrols/coverage?from=2021-01-01&to=2021-03-01&buffer=-5", "buffer"),
        ("/patrols/coverage?from=2021-01-01&to=2021-03-01&river=无名河", "river"),
        ("/patrols/coverage?from=2021-01-01&to=2021-03-01&rivr=x", "rivr"),
        ("/patrols/duty?from=2021-01-01&to=x", "to"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(client, url, param):
    r = client.get(url)
    assert r.status_code == 400
    assert r.get_json()["parameter"] == param


def test_chiefs_endpoint_gives_a_reachs_chiefs_with_patrols_and_duty(client):
    body = client.get("/patrols/chiefs?reach=HD-0034").get_json()
    assert body["numberReturned"] == len(body["chiefs"]) >= 1
    chief = body["chiefs"][0]
    assert "HD-0034" in chief["reaches"] and chief["level"] in ("区级", "镇级", "村级")
    dates = [p["started_at"] for p in chief["patrols"]]
    assert dates == sorted(dates, reverse=True) and len(dates) <= 5
    assert set(chief["duty"]) == {"from", "to", "required", "done", "met"}
    one = client.get(f"/patrols/chiefs?chief={chief['name']}&from=2021-01-01&to=2021-12-31&last=2").get_json()
    assert [c["name"] for c in one["chiefs"]] == [chief["name"]]
    assert len(one["chiefs"][0]["patrols"]) <= 2 and one["chiefs"][0]["duty"]["from"] == "2021-01-01"


@pytest.mark.parametrize("query, parameter", [
    ("", "reach"), ("reach=HD-0034&last=0", "last"), ("reach=HD-0034&last=x", "last"),
    ("reach=HD-0034&from=2021-13-01&to=2021-12-31", "from"), ("reach=HD-0034&bogus=1", "bogus"),
])
def test_chiefs_endpoint_refuses_bad_parameters_naming_them(client, query, parameter):
    resp = client.get("/patrols/chiefs?" + query)
    assert resp.status_code == 400 and resp.get_json()["parameter"] == parameter
