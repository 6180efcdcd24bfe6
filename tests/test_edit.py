"""The editing API: create, replace, patch, delete, ETags, lifecycle transitions, history."""

from __future__ import annotations

import io
import threading
from datetime import date

import pytest

from geo.lifecycle import LIFECYCLES, TransitionError, allowed_next, check_edit, plan_transition
from geo.users import add_user

POINT = {"type": "Point", "coordinates": [119.57, 31.74]}
MOVED = {"type": "Point", "coordinates": [119.571, 31.741]}


@pytest.fixture
def tokens(app):
    reg = app.extensions["hehu_registry"]
    return {role: add_user(reg, f"u-{role}", role, iterations=1000) for role in ("viewer", "field", "editor", "admin")}


def auth(token: str, etag: str | None = None) -> dict:
    h = {"Authorization": f"Bearer {token}"}
    if etag:
        h["If-Match"] = etag
    return h


def new_violation(code: str = "E-1", **props) -> dict:
    base = {"code": code, "category": "乱堆", "found_on": "2021-05-01", "town": "金城镇"}
    base.update(props)
    return {"type": "Feature", "properties": base, "geometry": POINT}


def snapshot(app) -> tuple:
    reg = app.extensions["hehu_registry"]
    return tuple(reg.count(layer.id) for layer in reg.layers), reg.store.last_change()


@pytest.fixture
def created(client, tokens):
    r = client.post("/collections/violations/items", json=new_violation(), headers=auth(tokens["editor"]))
    assert r.status_code == 201, r.get_json()
    return r.headers["Location"], r.headers["ETag"]


# -- create, replace, patch, delete --------------------------------------------------------------


def test_create_returns_201_location_etag_and_starts_the_lifecycle(client, tokens, app):
    r = client.post("/collections/violations/items", json=new_violation(), headers=auth(tokens["field"]))
    assert r.status_code == 201
    body = r.get_json()
    assert body["properties"]["status"] == "待交办"
    assert r.headers["Location"] == f"/collections/violations/items/{body['id']}"
    assert r.headers["ETag"]
    entry = app.extensions["hehu_registry"].history("violations", body["id"])[-1]
    assert entry["op"] == "add" and entry["user"] == "u-field"


def test_the_read_api_etag_is_the_one_writes_accept(client, created):
    loc, etag = created
    r = client.get(loc, headers={"Accept": "application/geo+json"})
    assert r.status_code == 200 and r.headers["ETag"] == etag


def test_put_replaces_and_clears_fields_left_out(client, tokens, created):
    loc, etag = created
    r = client.patch(loc, json={"properties": {"description": "first"}}, headers=auth(tokens["editor"], etag))
    assert r.status_code == 200
    body = new_violation(river="丹金溧漕河", status="待交办")
    body["geometry"] = MOVED
    r = client.put(loc, json=body, headers=auth(tokens["editor"], r.headers["ETag"]))
    assert r.status_code == 200, r.get_json()
    props = r.get_json()["properties"]
    assert props["river"] == "丹金溧漕河" and props["description"] is None
    assert r.get_json()["geometry"]["coordinates"] == MOVED["coordinates"]


def test_put_must_be_complete(client, tokens, created):
    loc, etag = created
    body = new_violation()
    del body["properties"]["category"]
    r = client.put(loc, json=body, headers=auth(tokens["editor"], etag))
    assert r.status_code == 400 and r.get_json()["field"] == "category"


def test_patch_moves_a_feature_and_history_shows_before_and_after(client, tokens, created):
    loc, etag = created
    r = client.patch(loc, json={"geometry": MOVED}, headers=auth(tokens["editor"], etag))
    assert r.status_code == 200 and r.headers["ETag"] != etag
    h = client.get(loc + "/history").get_json()
    last = h["history"][-1]
    assert last["op"] == "update" and last["user"] == "u-editor"
    assert last["changes"]["geometry"][0]["coordinates"] == POINT["coordinates"]
    assert last["changes"]["geometry"][1]["coordinates"] == MOVED["coordinates"]


def test_delete_needs_the_etag_and_keeps_the_history(client, tokens, created, app):
    loc, etag = created
    assert client.delete(loc, headers=auth(tokens["editor"])).status_code == 428
    assert client.delete(loc, headers=auth(tokens["editor"], '"stale"')).status_code == 412
    assert client.delete(loc, headers=auth(tokens["editor"], etag)).status_code == 204
    assert client.get(loc).status_code == 404
    h = client.get(loc + "/history").get_json()
    assert [e["op"] for e in h["history"]] == ["add", "delete"] and h["exists"] is False


def test_history_of_an_unknown_feature_is_404(client):
    assert client.get("/collections/violations/items/999999/history").status_code == 404
    assert client.get("/collections/violations/items/abc/history").status_code == 400
    assert client.get("/collections/nolayer/items/1/history").status_code == 404


def test_write_to_unknown_layer_or_feature_is_404(client, tokens):
    h = auth(tokens["editor"], "*")
    assert client.post("/collections/nolayer/items", json=new_violation(), headers=h).status_code == 404
    assert client.patch("/collections/violations/items/999999", json={"properties": {}}, headers=h).status_code == 404
    assert client.delete("/collections/violations/items/x", headers=h).status_code == 404


@pytest.mark.parametrize(
    "body,field",
    [
        ([1, 2], "body"),
        ({"properties": {"code": "E-9"}, "geometry": POINT}, "category"),
        ({"properties": {"code": "E-9", "category": "乱堆", "found_on": "2021-01-01"}}, "geometry"),
        ({"properties": "x", "geometry": POINT}, "properties"),
        ({"properties": {"code": {"a": 1}}, "geometry": POINT}, "code"),
        ({"properties": {"code": "E-9", "category": "乱放", "found_on": "2021-01-01"}, "geometry": POINT}, "category"),
        ({"properties": {"code": "E-9", "category": "乱堆", "found_on": "2021-01-01"}, "geometry": {"type": "Point", "coordinates": [118.8, 32.06]}}, "geometry"),
        ({"properties": {"code": "E-9", "category": "乱堆", "found_on": "2021-01-01"}, "geometry": {"type": "Point"}}, "geometry"),
        ({"properties": {"code": "E-9", "category": "乱堆", "found_on": "2021-01-01", "x": 1}, "geometry": POINT}, "x"),
    ],
)
def test_bad_create_is_400_naming_the_field_and_writes_nothing(client, tokens, app, body, field):
    before = snapshot(app)
    r = client.post("/collections/violations/items", json=body, headers=auth(tokens["editor"]))
    assert r.status_code == 400, r.get_json()
    assert r.get_json().get("field") == field
    assert snapshot(app) == before


def test_invalid_json_body_is_400(client, tokens):
    r = client.post(
        "/collections/violations/items",
        data=b"{nope",
        headers={**auth(tokens["editor"]), "Content-Type": "application/json"},
    )
    assert r.status_code == 400


def test_duplicate_code_is_refused(client, tokens, created):
    r = client.post("/collections/violations/items", json=new_violation(), headers=auth(tokens["editor"]))
    assert r.status_code == 400 and r.get_json()["field"] == "code"


def test_field_role_creates_only_new_cases(client, tokens):
    r = client.post(
        "/collections/violations/items", json=new_violation(status="已销号"), headers=auth(tokens["field"])
    )
    assert r.status_code == 400 and r.get_json()["field"] == "status"


# -- optimistic concurrency ------------------------------------------------------------------------


def test_stale_etag_gets_412_with_the_current_feature(client, tokens, created):
    loc, etag = created
    r1 = client.patch(loc, json={"properties": {"note": "first"}}, headers=auth(tokens["editor"], etag))
    assert r1.status_code == 200
    r2 = client.patch(loc, json={"properties": {"note": "second"}}, headers=auth(tokens["editor"], etag))
    assert r2.status_code == 412
    body = r2.get_json()
    assert body["current"]["properties"]["note"] == "first"
    assert r2.headers["ETag"] == r1.headers["ETag"]


def test_two_editors_with_the_same_etag_exactly_one_wins(app, tokens, created):
    loc, etag = created
    start = threading.Barrier(2)
    results: dict[str, int] = {}

    def edit(who: str) -> None:
        client = app.test_client()
        start.wait()
        r = client.patch(loc, json={"properties": {"note": who}}, headers=auth(tokens["editor"], etag))
        results[who] = r.status_code

    threads = [threading.Thread(target=edit, args=(w,)) for w in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [200, 412]
    winner = next(w for w, s in results.items() if s == 200)
    reg = app.extensions["hehu_registry"]
    fid = int(loc.rsplit("/", 1)[1])
    assert reg.get("violations", fid)["properties"]["note"] == winner
    assert [e["op"] for e in reg.history("violations", fid)] == ["add", "update"]


def test_store_refuses_a_stale_write_even_when_the_etag_check_passed(app, created):
    """The If-Match check and the write are not atomic; the store's ``expected`` closes the gap."""
    from geo.errors import ConflictError

    reg = app.extensions["hehu_registry"]
    fid = int(created[0].rsplit("/", 1)[1])
    seen = reg.get("violations", fid)
    reg.update("violations", fid, {"note": "sneaked in"}, user="other")
    with pytest.raises(ConflictError):
        reg.update("violations", fid, {"note": "late"}, user="me", expected=seen)


# -- lifecycle ---------------------------------------------------------------------------------------

REQUIRED_VALUES = {
    "unit": "金城镇人民政府",
    "deadline": "2021-06-30",
    "closed_on": "2021-06-20",
    "note": "已清理",
}


def all_pairs():
    for layer_id, lc in LIFECYCLES.items():
        values = list(dict.fromkeys([*lc.steps, *(s.to for steps in lc.steps.values() for s in steps)]))
        for a in values:
            for b in values:
                if a != b:
                    yield layer_id, a, b


@pytest.mark.parametrize("layer_id,start,target", list(all_pairs()))
def test_every_transition_is_allowed_or_refused_as_the_lifecycle_says(layer_id, start, target):
    lc = LIFECYCLES[layer_id]
    step = next((s for s in lc.allowed(start) if s.to == target), None)
    given = {f: REQUIRED_VALUES[f] for f in (step.requires if step else ())}
    if step is None:
        with pytest.raises(TransitionError) as err:
            plan_transition(layer_id, {"status": start}, target, given)
        assert err.value.details["allowed"] == allowed_next(layer_id, start)
        return
    out = plan_transition(layer_id, {"status": start}, target, given, today=date(2021, 7, 1))
    assert out["status"] == target
    for f in step.requires:
        missing = {k: v for k, v in given.items() if k != f}
        with pytest.raises(TransitionError, match=f):
            plan_transition(layer_id, {"status": start}, target, missing)
    if target == "已整治":
        assert out["remediated_on"] == "2021-07-01"


def test_the_violation_lifecycle_is_the_documented_one():
    assert allowed_next("violations", "待交办") == ["已交办"]
    assert allowed_next("violations", "已交办") == ["整改中"]
    assert allowed_next("violations", "整改中") == ["已销号"]
    assert allowed_next("violations", "已销号") == ["反弹"]
    assert allowed_next("violations", "反弹") == ["已交办"]
    assert allowed_next("micro_water_bodies", "正常") == ["问题"]
    assert allowed_next("micro_water_bodies", "问题") == ["整治中"]
    assert allowed_next("micro_water_bodies", "整治中") == ["已整治"]
    assert allowed_next("micro_water_bodies", "已整治") == ["问题"]
    # Every status of the catalog's enum is in the lifecycle: none is a dead end by omission.
    from layers import load_catalog

    for layer_id, lc in LIFECYCLES.items():
        values = set(load_catalog()[layer_id].field(lc.field).enum)
        assert values == set(lc.steps), layer_id


def test_plain_edit_keeping_the_status_passes_and_a_jump_is_refused():
    assert check_edit("violations", {"status": "待交办"}, {"note": "x"}) == {"note": "x"}
    assert check_edit("violations", {"status": "待交办"}, {"status": "待交办"}) == {"status": "待交办"}
    with pytest.raises(TransitionError):
        check_edit("violations", {"status": "待交办"}, {"status": "已销号", **REQUIRED_VALUES})
    assert check_edit("rivers", {}, {"status": "x"}) == {"status": "x"}


def test_full_case_over_http_from_report_to_relapse_and_reassignment(client, tokens, created, app):
    loc, etag = created
    steps = [
        ("已交办", {"unit": "金城镇人民政府", "deadline": "2021-06-30"}),
        ("整改中", {}),
        ("已销号", {"closed_on": "2021-06-20", "note": "已清理"}),
        ("反弹", {}),
        ("已交办", {"unit": "金城镇人民政府", "deadline": "2021-09-30"}),
    ]
    for target, fields in steps:
        if target == "已销号":  # closing needs an "after" photo (CLOSE_REQUIRES_PHOTO)
            from photos import jpeg

            photo = {"file": (io.BytesIO(jpeg()), "after.jpg"), "kind": "after"}
            r = client.post(loc + "/attachments", data=photo, headers=auth(tokens["field"]))
            assert r.status_code == 201, r.get_json()
        r = client.post(loc + "/transition", json={"to": target, **fields}, headers=auth(tokens["field"], etag))
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["properties"]["status"] == target
        etag = r.headers["ETag"]
    history = [e for e in client.get(loc + "/history").get_json()["history"] if e["op"] != "attach"]
    assert [e["changes"].get("status", [None, None])[1] for e in history[1:]] == [s for s, _ in steps]
    assert all(e["user"] == "u-field" for e in history[1:])


def test_refused_transition_lists_the_allowed_ones_and_writes_nothing(client, tokens, created, app):
    loc, etag = created
    before = snapshot(app)
    r = client.post(loc + "/transition", json={"to": "已销号", **REQUIRED_VALUES}, headers=auth(tokens["field"], etag))
    assert r.status_code == 400
    assert r.get_json()["allowed"] == ["已交办"]
    r = client.post(loc + "/transition", json={"to": "已交办", "unit": "x"}, headers=auth(tokens["field"], etag))
    assert r.status_code == 400 and r.get_json()["missing"] == ["deadline"]
    r = client.post(loc + "/transition", json={"to": "已交办", "unit": "x", "deadline": "2021-06-30", "code": "X"}, headers=auth(tokens["field"], etag))
    assert r.status_code == 400 and r.get_json()["field"] == "code"
    r = client.post(loc + "/transition", json={}, headers=auth(tokens["field"], etag))
    assert r.status_code == 400
    assert snapshot(app) == before


def test_patch_jumping_the_lifecycle_is_refused(client, tokens, created, app):
    loc, etag = created
    before = snapshot(app)
    r = client.patch(
        loc, json={"properties": {"status": "已销号", **REQUIRED_VALUES}}, headers=auth(tokens["editor"], etag)
    )
    assert r.status_code == 400 and r.get_json()["allowed"] == ["已交办"]
    assert snapshot(app) == before
    r = client.patch(
        loc,
        json={"properties": {"status": "已交办", "unit": "x", "deadline": "2021-06-30"}},
        headers=auth(tokens["editor"], etag),
    )
    assert r.status_code == 200


def test_micro_water_body_remediation_sets_the_date(client, tokens, app):
    reg = app.extensions["hehu_registry"]
    fid = int(reg.read("micro_water_bodies", where={"status": "整治中"}, limit=1).index[0])
    loc = f"/collections/micro_water_bodies/items/{fid}"
    info = client.get(loc + "/transition")
    assert [a["to"] for a in info.get_json()["allowed"]] == ["已整治"]
    r = client.post(loc + "/transition", json={"to": "已整治"}, headers=auth(tokens["field"], info.headers["ETag"]))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["properties"]["remediated_on"] == date.today().isoformat()


def test_a_patrol_puts_a_normal_or_remediated_pond_back_into_the_problem_flow(client, tokens, app):
    reg = app.extensions["hehu_registry"]
    for start in ("正常", "已整治"):
        fid = int(reg.read("micro_water_bodies", where={"status": start}, limit=1).index[0])
        loc = f"/collections/micro_water_bodies/items/{fid}"
        info = client.get(loc + "/transition")
        assert [a["to"] for a in info.get_json()["allowed"]] == ["问题"]
        body = {"to": "问题"}
        r = client.post(loc + "/transition", json=body, headers=auth(tokens["field"], info.headers["ETag"]))
        assert r.status_code == 200, r.get_json()
        last = reg.history("micro_water_bodies", fid)[-1]
        assert last["user"] == "u-field" and last["before"]["properties"]["status"] == start


def test_layers_without_a_lifecycle_refuse_transitions(client, tokens):
    r = client.post("/collections/rivers/items/1/transition", json={"to": "x"}, headers=auth(tokens["admin"], "*"))
    assert r.status_code == 400
    assert client.get("/collections/rivers/items/1/transition").status_code == 400


def _form_csrf(client, url: str) -> str:
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(url, headers={"Accept": "text/html"}).get_data(as_text=True))[1]


def test_import_form_in_the_browser_shows_the_report(client, tokens, app):
    import io

    csrf = _form_csrf(client, "/login")
    client.post("/login", data={"token": tokens["admin"], "csrf_token": csrf}, headers={"Accept": "text/html"})
    csrf = _form_csrf(client, "/import")
    csv = "问题编号,问题类别,状态,发现日期,经度,纬度\nW-1,乱堆,待交办,2021-05-01,119.57,31.74\nW-2,乱放,待交办,2021-05-01,119.45,31.65\n"
    html = {"Accept": "text/html"}
    data = {"file": (io.BytesIO(csv.encode()), "w.csv"), "layer": "violations", "csrf_token": csrf}
    r = client.post("/import", data=data, headers=html, content_type="multipart/form-data")
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "乱放" in page and "未写入" in page and "不是可选值" in page  # the report in the page's language
    data = {"file": (io.BytesIO(b"x,y\n1,2\n"), "w.dwg"), "layer": "violations", "csrf_token": csrf}
    r = client.post("/import?lang=en", data=data, headers=html, content_type="multipart/form-data")
    assert r.status_code == 400 and "unknown file type" in r.get_data(as_text=True)
    data = {"file": (io.BytesIO(csv.encode()), "w.csv"), "layer": "violations"}
    r = client.post("/import", data=data, headers=html, content_type="multipart/form-data")
    assert r.status_code == 403  # no CSRF token: refused before reading the file


@pytest.mark.parametrize("value", [2**70, -(2**63) - 1, 10**400])
@pytest.mark.parametrize("layer_id,field", [("sections", "target_class"), ("sewage_plants", "capacity_m3d")])
def test_numbers_beyond_what_the_store_holds_are_400(client, tokens, app, layer_id, field, value):
    from geo.etag import feature_etag

    before = snapshot(app)
    etag = feature_etag(app.extensions["hehu_registry"].get(layer_id, 1))
    r = client.patch(
        f"/collections/{layer_id}/items/1", json={"properties": {field: value}}, headers=auth(tokens["editor"], etag)
    )
    if field == "capacity_m3d" and value < 10**300:
        assert r.status_code == 200  # a float column holds it (rounded)
        return
    assert r.status_code == 400 and r.get_json()["field"] == field
    assert snapshot(app) == before


# -- uploads: unsafe files are refused by the name the user gave them ----------------------------


def _upload(client, token, name: str, content: bytes, **form):
    import io

    data = {"file": (io.BytesIO(content), name), "layer": "violations", **form}
    return client.post("/import?lang=en", data=data, headers=auth(token), content_type="multipart/form-data")


def test_a_zip_bomb_upload_is_refused_naming_the_uploaded_file(client, tokens, app):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("v.shp", b"\0" * (20 * 1024 * 1024))
    before = snapshot(app)
    r = _upload(client, tokens["admin"], "测量成果.zip", buf.getvalue())
    assert r.status_code == 400 and r.get_json()["code"] == "bad-import-file"
    description = r.get_json()["description"]
    assert description.startswith("测量成果.zip:") and "zip bomb" in description
    assert snapshot(app) == before


@pytest.mark.parametrize("member", ["../../evil.csv", "/tmp/evil.csv", "a/../../evil.csv"])
def test_a_path_traversal_upload_is_refused_and_nothing_escapes(client, tokens, app, tmp_path, member):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(member, "code,lon,lat\nX-1,119.57,31.74\n")
    before = snapshot(app)
    r = _upload(client, tokens["admin"], "../../upload/点位.zip", buf.getvalue())
    assert r.status_code == 400 and "unsafe path" in r.get_json()["description"]
    assert r.get_json()["description"].startswith("点位.zip:")
    assert snapshot(app) == before


def test_a_body_over_the_limit_is_413_stating_the_limit(demo_copy, tokens):
    from server import create_app

    app = create_app({"REGISTRY": str(demo_copy), "TESTING": True, "MAX_CONTENT_LENGTH": 200 * 1024})
    reg = app.extensions["hehu_registry"]
    before = tuple(reg.count(layer.id) for layer in reg.layers), reg.store.last_change()
    r = app.test_client().post(
        "/collections/violations/items?lang=en",
        data=b"{" + b" " * (300 * 1024) + b"}",
        content_type="application/json",
        headers=auth(tokens["editor"]),
    )
    assert r.status_code == 413 and "200 KB limit" in r.get_json()["description"]
    assert r.get_json()["limit_bytes"] == 200 * 1024
    assert (tuple(reg.count(layer.id) for layer in reg.layers), reg.store.last_change()) == before


def test_the_import_page_report_names_fields_by_their_chinese_title(client, tokens, app):
    import io

    csrf = _form_csrf(client, "/login")
    client.post("/login", data={"token": tokens["admin"], "csrf_token": csrf}, headers={"Accept": "text/html"})
    csrf = _form_csrf(client, "/import")
    csv = "问题编号,问题类别,状态,发现日期,经度,纬度\nT-1,乱放,待交办,2021-05-01,119.57,31.74\n"
    data = {"file": (io.BytesIO(csv.encode()), "t.csv"), "layer": "violations", "csrf_token": csrf, "dry_run": "1"}
    r = client.post("/import", data=data, headers={"Accept": "text/html"}, content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "<td>问题类别 (category)</td>" in page and "1 行" in page


@pytest.mark.parametrize(
    "content_crs,status",
    [
        ("<http://www.opengis.net/def/crs/OGC/1.3/CRS84>", 201),
        ("<http://www.opengis.net/def/crs/EPSG/0/4549>", 400),
        ("<http://www.opengis.net/def/crs/EPSG/0/4326>", 400),  # latitude first: would be misread
        ("nonsense", 400),
    ],
)
def test_content_crs_other_than_crs84_is_refused_not_misread(client, tokens, app, content_crs, status):
    before = snapshot(app)
    headers = {**auth(tokens["editor"]), "Content-Crs": content_crs}
    r = client.post("/collections/violations/items", json=new_violation("CRS-1"), headers=headers)
    assert r.status_code == status, r.get_json()
    if status == 400:
        assert r.get_json()["field"] == "Content-Crs" and "CRS84" in r.get_json()["description"]
        assert snapshot(app) == before


def test_an_oversized_upload_from_the_form_shows_the_limit_on_the_page(demo_copy, tokens):
    import io

    from server import create_app

    app = create_app({"REGISTRY": str(demo_copy), "TESTING": True, "MAX_CONTENT_LENGTH": 4096})
    client = app.test_client()
    csrf = _form_csrf(client, "/login")
    client.post("/login", data={"token": tokens["admin"], "csrf_token": csrf}, headers={"Accept": "text/html"})
    csrf = _form_csrf(client, "/import")
    data = {"file": (io.BytesIO(b"x" * 10_000), "big.csv"), "layer": "violations", "csrf_token": csrf}
    r = client.post("/import?lang=en", data=data, headers={"Accept": "text/html"}, content_type="multipart/form-data")
    assert r.status_code == 413 and r.mimetype == "text/html"
    assert "4 KB limit" in r.get_data(as_text=True) and "<form" in r.get_data(as_text=True)


def test_history_as_a_page_lists_changes_newest_first_by_field_title(client, tokens, created, app):
    loc, etag = created
    r = client.patch(loc, json={"properties": {"note": "回头看复查"}}, headers=auth(tokens["editor"], etag))
    assert r.status_code == 200
    page = client.get(loc + "/history", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "备注：— → 回头看复查" in text and "u-editor" in text and "E-1" in text
    assert text.index("修改") < text.index("新增")  # newest first
    english = client.get(loc + "/history?f=html&lang=en").get_data(as_text=True)
    assert "<td>changed</td>" in english and "Note: — → 回头看复查" in english
    assert client.get(loc + "/history?f=json", headers={"Accept": "text/html"}).is_json
    bad = client.get(loc + "/history?f=xml")
    assert bad.status_code == 400 and bad.get_json()["field"] == "f"
    etag = client.get(loc, headers={"Accept": "application/geo+json"}).headers["ETag"]
    assert client.delete(loc, headers=auth(tokens["editor"], etag)).status_code == 204
    gone = client.get(loc + "/history?f=html").get_data(as_text=True)
    assert "已删除" in gone and "E-1" in gone
