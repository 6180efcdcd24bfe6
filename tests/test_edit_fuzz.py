"""Property tests: random requests to the write API never give a 500 nor a partial write."""

from __future__ import annotations

import io
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.etag import feature_etag
from geo.users import add_user
from server import create_app

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-(2**70), 2**70)
    | st.integers(-(10**400), 10**400)
    | st.text(max_size=10)
    | st.sampled_from(["乱堆", "待交办", "已交办", "已销号", "2021-05-01", "Point", "Feature"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=10,
)

field_names = st.sampled_from(
    ["code", "category", "status", "found_on", "unit", "deadline", "closed_on", "note", "town", "x", "",
     "target_class", "capacity_m3d", "counted", "remediated_on"]
)

geometries = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["Point", "LineString", "Polygon", "MultiPoint", "Nonsense"]),
            "coordinates": st.one_of(
                st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=3),
                st.tuples(st.floats(119.2, 119.9), st.floats(31.5, 31.95)).map(list),
                json_values,
            ),
        }
    ),
)

bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "type": st.just("Feature"),
            "properties": st.one_of(st.dictionaries(field_names, json_values, max_size=6), json_values),
            "geometry": geometries,
        }
    ),
    st.dictionaries(st.sampled_from(["to", "status", "unit", "deadline", "closed_on", "note", "code"]), json_values),
)


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_path):
    path = tmp_path_factory.mktemp("editfuzz") / "jintan.gpkg"
    shutil.copyfile(demo_path, path)
    app = create_app({"REGISTRY": str(path), "TESTING": True})
    reg = app.extensions["hehu_registry"]
    token = add_user(reg, "fuzzer", "admin", iterations=1000)
    return app, token


def state(reg) -> tuple:
    return tuple(reg.count(layer.id) for layer in reg.layers), reg.store.last_change()


@SETTINGS
@given(
    method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "TRANSITION"]),
    layer=st.sampled_from(
        ["violations"] * 5 + ["micro_water_bodies", "sections", "sewage_plants", "rivers", "nolayer", "%E4%B8%AD"]
    ),
    fid=st.one_of(
        st.integers(1, 300).map(str),
        st.integers(1, 300).map(str),
        st.integers(-5, 100_000).map(str),
        st.text(alphabet="abc0-9.%", min_size=1, max_size=5),
    ),
    body=bodies,
    if_match=st.sampled_from(["current", "*", "stale", None, "garbage"]),
    raw=st.one_of(st.none(), st.binary(max_size=40)),
)
def test_random_writes_never_500_and_refusals_write_nothing(server, method, layer, fid, body, if_match, raw):
    app, token = server
    reg = app.extensions["hehu_registry"]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        current = reg.get(layer, fid)
        etag = feature_etag(current)
    except Exception:  # noqa: BLE001 - unknown layer or feature: any tag will do
        etag = "x"
    tags = {"current": f'"{etag}"', "*": "*", "stale": '"0000"', "garbage": "\x7f\x00bad", None: None}
    if tags[if_match] is not None:
        headers["If-Match"] = tags[if_match]
    url = f"/collections/{layer}/items" if method == "POST" else f"/collections/{layer}/items/{fid}"
    kwargs = {"headers": headers}
    if raw is not None:
        kwargs.update(data=raw, content_type="application/json")
    else:
        kwargs["json"] = body
    before = state(reg)
    if method == "TRANSITION":
        r = client.post(url + "/transition", **kwargs)
    else:
        r = client.open(url, method=method, **kwargs)
    assert r.status_code < 500, (r.status_code, r.get_data(as_text=True))
    if r.status_code >= 400:
        assert r.is_json and r.get_json()["description"]
        assert state(reg) == before
    else:
        assert state(reg)[1] == before[1] + 1  # exactly one change, recorded once


@SETTINGS
@given(
    authorization=st.one_of(st.none(), st.text(max_size=30), st.just("Bearer "), st.text(max_size=20).map(lambda t: "Bearer " + t)),
    csrf=st.one_of(st.none(), st.text(max_size=20)),
    path=st.sampled_from(["/collections/violations/items", "/import", "/login", "/logout"]),
)
def test_random_credentials_never_500_and_never_write(server, authorization, csrf, path):
    app, _ = server
    reg = app.extensions["hehu_registry"]
    client = app.test_client()
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization.replace("\n", " ").replace("\r", " ")
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf.replace("\n", " ").replace("\r", " ")
    before = state(reg)
    try:
        r = client.post(path, json={"type": "Feature"}, headers=headers)
    except ValueError:  # header values werkzeug itself refuses to send
        return
    assert r.status_code < 500
    assert r.status_code in (400, 401, 403, 429) or path in ("/login", "/logout")
    assert state(reg) == before


@SETTINGS
@given(content=st.binary(max_size=1500), name=st.text(max_size=20), layer=st.sampled_from(["violations", "towns", "x", ""]))
def test_random_uploads_never_500(server, content, name, layer):
    app, token = server
    reg = app.extensions["hehu_registry"]
    client = app.test_client()
    before = state(reg)
    data = {"file": (io.BytesIO(content), name or "f"), "layer": layer, "dry_run": "1"}
    r = client.post("/import", data=data, headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data")
    assert r.status_code < 500, r.get_data(as_text=True)
    assert state(reg) == before


def test_upload_over_the_limit_is_413_and_writes_nothing(demo_copy):
    app = create_app({"REGISTRY": str(demo_copy), "TESTING": True, "MAX_CONTENT_LENGTH": 1000})
    reg = app.extensions["hehu_registry"]
    token = add_user(reg, "big", "admin", iterations=1000)
    before = state(reg)
    data = {"file": (io.BytesIO(b"x" * 5000), "v.csv"), "layer": "violations"}
    r = app.test_client().post(
        "/import?lang=en", data=data, headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data"
    )
    assert r.status_code == 413 and "limit" in r.get_json()["description"]
    assert state(reg) == before


def test_upload_imports_and_reports(demo_copy):
    app = create_app({"REGISTRY": str(demo_copy), "TESTING": True})
    reg = app.extensions["hehu_registry"]
    token = add_user(reg, "adm", "admin", iterations=1000)
    csv = "问题编号,问题类别,状态,发现日期,经度,纬度\nU-1,乱堆,待交办,2021-05-01,119.57,31.74\nU-2,乱放,待交办,2021-05-01,119.45,31.65\n"
    h = {"Authorization": f"Bearer {token}"}
    data = {"file": (io.BytesIO(csv.encode()), "巡河.csv"), "layer": "violations"}
    r = app.test_client().post("/import", data=data, headers=h, content_type="multipart/form-data")
    assert r.status_code == 400
    body = r.get_json()
    assert body["written"] is False and body["problems"][0]["row"] == 3 and body["problems"][0]["field"] == "category"
    assert body["source"] == "巡河.csv"
    data = {"file": (io.BytesIO(csv.encode()), "巡河.csv"), "layer": "violations", "skip_invalid": "on"}
    r = app.test_client().post("/import", data=data, headers=h, content_type="multipart/form-data")
    assert r.status_code == 200 and r.get_json()["added"] == 1
    assert "U-2" in r.get_json()["rejects_csv"] and r.get_json()["rejects_path"] is None
    assert reg.find("violations", "U-1")["properties"]["category"] == "乱堆"
    assert reg.history("violations", reg.find("violations", "U-1")["fid"])[-1]["user"] == "adm"
