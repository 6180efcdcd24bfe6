"""Access control: roles against every write endpoint, sessions, CSRF, rate limits, secrecy."""

from __future__ import annotations

import logging
import re
import shutil

import pytest

from cli.main import main as hehu
from geo.etag import feature_etag
from geo.registry import Registry
from geo.users import add_user, list_users, reset_token, set_active
from server import create_app

ROLES = ("viewer", "field", "editor", "admin")
POINT = {"type": "Point", "coordinates": [119.57, 31.74]}


def make_app(path, **config):
    return create_app({"REGISTRY": str(path), "TESTING": True, **config})


@pytest.fixture
def tokens(app):
    reg = app.extensions["hehu_registry"]
    return {role: add_user(reg, f"u-{role}", role, iterations=1000) for role in ROLES}


def bearer(token: str, **extra) -> dict:
    return {"Authorization": f"Bearer {token}", **extra}


def snapshot(app) -> tuple:
    reg = app.extensions["hehu_registry"]
    return tuple(reg.count(layer.id) for layer in reg.layers), reg.store.last_change()


def open_case(app) -> tuple[str, str]:
    """URL and ETag of a violation waiting to be assigned."""
    reg = app.extensions["hehu_registry"]
    fid = int(reg.read("violations", where={"status": "待交办"}, limit=1).index[0])
    return f"/collections/violations/items/{fid}", feature_etag(reg.get("violations", fid))


def violation_body(code="A-1") -> dict:
    props = {"code": code, "category": "乱堆", "status": "待交办", "found_on": "2021-05-01"}
    return {"type": "Feature", "properties": props, "geometry": POINT}


def plant_body() -> dict:
    props = {"code": "WS-T1", "name": "测试污水厂", "status": "规划"}
    return {"type": "Feature", "properties": props, "geometry": POINT}


def do_request(client, app, endpoint: str, headers: dict):
    loc, etag = open_case(app)
    h = {**headers, "If-Match": etag}
    if endpoint == "create violation":
        return client.post("/collections/violations/items", json=violation_body(), headers=h)
    if endpoint == "create other layer":
        return client.post("/collections/sewage_plants/items", json=plant_body(), headers=h)
    if endpoint == "patch":
        return client.patch(loc, json={"properties": {"note": "改"}}, headers=h)
    if endpoint == "put":
        current = client.get(loc, headers={"Accept": "application/geo+json"}).get_json()
        props = {k: v for k, v in current["properties"].items() if v is not None}
        return client.put(loc, json={"properties": {**props, "note": "改"}, "geometry": current["geometry"]}, headers=h)
    if endpoint == "delete":
        return client.delete(loc, headers=h)
    if endpoint == "transition":
        body = {"to": "已交办", "unit": "金城镇人民政府", "deadline": "2021-06-30"}
        return client.post(loc + "/transition", json=body, headers=h)
    if endpoint == "import":
        csv = "code,category,status,found_on,lon,lat\nIMP-A,乱堆,待交办,2021-05-01,119.57,31.74\n"
        from io import BytesIO

        data = {"file": (BytesIO(csv.encode()), "v.csv"), "layer": "violations"}
        return client.post("/import", data=data, headers=h, content_type="multipart/form-data")
    raise AssertionError(endpoint)


#: The lowest role each write endpoint needs.
NEEDS = {
    "create violation": "field",
    "create other layer": "editor",
    "patch": "editor",
    "put": "editor",
    "delete": "editor",
    "transition": "field",
    "import": "admin",
}


@pytest.mark.parametrize("who", ["anonymous", *ROLES])
@pytest.mark.parametrize("endpoint", list(NEEDS))
def test_each_role_against_each_write_endpoint(app, client, tokens, endpoint, who):
    headers = {} if who == "anonymous" else bearer(tokens[who])
    before = snapshot(app)
    r = do_request(client, app, endpoint, headers)
    if who == "anonymous":
        assert r.status_code == 401, r.get_json()
    elif ROLES.index(who) < ROLES.index(NEEDS[endpoint]):
        assert r.status_code == 403, r.get_json()
    else:
        assert r.status_code in (200, 201, 204), r.get_json()
        assert snapshot(app) != before
        return
    assert r.get_json()["code"] in ("unauthorized", "forbidden")
    assert snapshot(app) == before


def test_a_wrong_or_malformed_authorization_is_401_and_writes_nothing(app, client, tokens):
    before = snapshot(app)
    for header in ("Bearer nope", "Basic dXNlcjpwYXNz", "Bearer " + tokens["admin"] + "x", "Bearer"):
        r = client.post("/collections/violations/items", json=violation_body(), headers={"Authorization": header})
        assert r.status_code == 401
    assert snapshot(app) == before


def test_a_disabled_user_or_a_reissued_token_stops_working(app, client, tokens):
    reg = app.extensions["hehu_registry"]
    h = bearer(tokens["editor"])
    assert client.post("/collections/violations/items", json=violation_body("D-1"), headers=h).status_code == 201
    set_active(reg, "u-editor", False)
    assert client.post("/collections/violations/items", json=violation_body("D-2"), headers=h).status_code == 401
    set_active(reg, "u-editor", True)
    new = reset_token(reg, "u-editor")
    assert client.post("/collections/violations/items", json=violation_body("D-3"), headers=h).status_code == 401
    assert client.post("/collections/violations/items", json=violation_body("D-4"), headers=bearer(new)).status_code == 201


# -- browser sessions and CSRF ----------------------------------------------------------------------------


def login(client, token: str):
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))[1]
    return client.post(
        "/login?next=/map", data={"token": token, "csrf_token": csrf}, headers={"Accept": "text/html"}
    )


def test_sign_in_sets_a_safe_session_cookie_and_redirects(client, tokens):
    r = login(client, tokens["editor"])
    assert r.status_code == 302 and r.headers["Location"].endswith("/map")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert tokens["editor"] not in cookie
    me = client.get("/auth/me").get_json()
    assert me["user"]["name"] == "u-editor" and me["csrf_token"]


def test_cookie_is_secure_behind_https(demo_copy, tokens):
    app = make_app(demo_copy, SECURE_COOKIES=True)
    reg = app.extensions["hehu_registry"]
    token = add_user(reg, "s", "viewer", iterations=1000)
    r = login(app.test_client(), token)
    assert "Secure" in r.headers["Set-Cookie"]


def test_sign_in_needs_the_form_csrf_token(client, tokens):
    client.get("/login")
    r = client.post("/login", data={"token": tokens["editor"]}, headers={"Accept": "application/json"})
    assert r.status_code == 403
    assert client.get("/auth/me").get_json()["user"] is None


def test_next_parameter_cannot_send_the_browser_elsewhere(client, tokens):
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))[1]
    r = client.post(
        "/login?next=//evil.example/x", data={"token": tokens["viewer"], "csrf_token": csrf}, headers={"Accept": "text/html"}
    )
    assert r.headers["Location"] == "/"


def test_cookie_authenticated_writes_need_the_csrf_header(app, client, tokens):
    login(client, tokens["editor"])
    loc, etag = open_case(app)
    before = snapshot(app)
    r = client.patch(loc, json={"properties": {"note": "x"}}, headers={"If-Match": etag})
    assert r.status_code == 403 and "CSRF" in r.get_json()["description"]
    r = client.patch(loc, json={"properties": {"note": "x"}}, headers={"If-Match": etag, "X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    assert snapshot(app) == before
    csrf = client.get("/auth/me").get_json()["csrf_token"]
    r = client.patch(loc, json={"properties": {"note": "x"}}, headers={"If-Match": etag, "X-CSRF-Token": csrf})
    assert r.status_code == 200


def test_sign_out_ends_the_session(app, client, tokens):
    login(client, tokens["editor"])
    csrf = client.get("/auth/me").get_json()["csrf_token"]
    assert client.post("/logout", headers={"X-CSRF-Token": csrf, "Accept": "application/json"}).status_code == 200
    assert client.get("/auth/me").get_json()["user"] is None
    loc, etag = open_case(app)
    r = client.patch(loc, json={"properties": {"note": "x"}}, headers={"If-Match": etag, "X-CSRF-Token": csrf})
    assert r.status_code == 401


def test_disabling_a_user_ends_their_session(app, client, tokens):
    login(client, tokens["editor"])
    set_active(app.extensions["hehu_registry"], "u-editor", False)
    assert client.get("/auth/me").get_json()["user"] is None


# -- rate limiting ---------------------------------------------------------------------------------


def test_failed_sign_ins_are_rate_limited_per_app(demo_copy):
    app = make_app(demo_copy, LOGIN_MAX_FAILURES=3, LOGIN_WINDOW_S=600)
    token = add_user(app.extensions["hehu_registry"], "r", "editor", iterations=1000)
    client = app.test_client()
    for _ in range(3):
        r = client.post("/collections/violations/items", json=violation_body(), headers=bearer("bad.token"))
        assert r.status_code in (401, 429)
    r = client.post("/collections/violations/items", json=violation_body(), headers=bearer("bad.token"))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    r = login(client, "bad.token")
    assert r.status_code == 429
    # The right token is never refused because of the wrong ones.
    r = client.post("/collections/violations/items", json=violation_body(), headers=bearer(token))
    assert r.status_code == 201
    # Another app instance keeps its own count.
    other = make_app(demo_copy, LOGIN_MAX_FAILURES=3)
    r = other.test_client().post("/collections/violations/items", json=violation_body(), headers=bearer("bad.token"))
    assert r.status_code == 401


def test_rate_limit_counts_per_client_address(demo_copy):
    app = make_app(demo_copy, LOGIN_MAX_FAILURES=2)
    client = app.test_client()
    for _ in range(2):
        client.get("/auth/me")
        client.post("/collections/violations/items", json={}, headers=bearer("x.y"), environ_base={"REMOTE_ADDR": "10.0.0.9"})
    blocked = client.post("/collections/violations/items", json={}, headers=bearer("x.z"), environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert blocked.status_code == 429
    other = client.post("/collections/violations/items", json={}, headers=bearer("x.z"), environ_base={"REMOTE_ADDR": "10.0.0.10"})
    assert other.status_code == 401


# -- reads behind sign-in --------------------------------------------------------------------------------


def test_reads_are_open_by_default(client):
    assert client.get("/collections/violations/items/1/history").status_code == 200


def test_read_requires_login_setting(demo_copy):
    app = make_app(demo_copy, READ_REQUIRES_LOGIN=True)
    token = add_user(app.extensions["hehu_registry"], "v", "viewer", iterations=1000)
    client = app.test_client()
    r = client.get("/collections/violations/items/1/history")
    assert r.status_code == 401 and r.is_json
    r = client.get("/collections", headers={"Accept": "application/json"})
    assert r.status_code == 401
    r = client.get("/map", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 302 and "/login?next=" in r.headers["Location"]
    assert client.get("/login").status_code == 200
    assert client.get("/static/vendor/leaflet/leaflet.js").status_code == 200
    assert client.get("/nowhere").status_code == 401
    r = client.get("/collections/violations/items/1/history", headers=bearer(token))
    assert r.status_code == 200
    login(client, token)
    assert client.get("/collections/violations/items/1/history").status_code == 200


# -- secrets ---------------------------------------------------------------------------------------------


def test_a_token_never_appears_in_logs(demo_copy, caplog):
    caplog.set_level(logging.DEBUG)
    app = make_app(demo_copy)
    reg = app.extensions["hehu_registry"]
    token = add_user(reg, "secret-keeper", "admin", iterations=1000)
    client = app.test_client()
    client.post("/collections/violations/items", json=violation_body("L-1"), headers=bearer(token))
    client.post("/collections/violations/items", json=violation_body("L-2"), headers=bearer(token + "x"))
    login(client, token)
    login(client, token[:-2])
    client.get("/auth/me")
    secret = token.split(".", 1)[1]
    assert caplog.records  # something was logged, so the check means something
    assert token not in caplog.text and secret not in caplog.text


def test_only_a_salted_hash_is_stored(demo_copy):
    reg = Registry.open(demo_copy)
    tokens = [add_user(reg, f"h{i}", "editor") for i in range(2)]
    users = {u.name: u for u in list_users(reg)}
    assert set(users) >= {"h0", "h1"}
    rows = reg.store.conn.execute("SELECT token_salt, token_hash FROM hehu_users WHERE name IN ('h0','h1')").fetchall()
    assert rows[0][0] != rows[1][0] and rows[0][1] != rows[1][1]
    reg.close()
    blob = b"".join(p.read_bytes() for p in demo_copy.parent.glob(demo_copy.name + "*"))
    for token in tokens:
        secret = token.split(".", 1)[1]
        assert token.encode() not in blob and secret.encode() not in blob


def test_cli_user_add_prints_the_token_once_list_and_disable(demo_copy, capsys):
    assert hehu(["user", "add", "张三", "--role", "field", "--registry", str(demo_copy)]) == 0
    out = capsys.readouterr().out
    token = out.strip().splitlines()[-1]
    assert out.count(token) == 1
    assert hehu(["user", "list", "--registry", str(demo_copy)]) == 0
    listing = capsys.readouterr().out
    assert "张三" in listing and "field" in listing and token not in listing
    assert hehu(["user", "add", "张三", "--role", "field", "--registry", str(demo_copy)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert hehu(["user", "disable", "张三", "--registry", str(demo_copy)]) == 0
    assert hehu(["user", "disable", "nobody", "--registry", str(demo_copy)]) == 2
    capsys.readouterr()
    app = make_app(demo_copy)
    r = app.test_client().post("/collections/violations/items", json=violation_body(), headers=bearer(token))
    assert r.status_code == 401


def test_bad_user_names_and_roles_are_refused(demo_copy, capsys):
    assert hehu(["user", "add", "a b", "--role", "field", "--registry", str(demo_copy)]) == 2
    with pytest.raises(SystemExit):
        hehu(["user", "add", "ok", "--role", "boss", "--registry", str(demo_copy)])


def test_import_page_is_for_admins(app, client, tokens):
    r = client.get("/import", headers={"Accept": "text/html"})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert client.get("/import", headers=bearer(tokens["editor"])).status_code == 403
    login(client, tokens["admin"])
    page = client.get("/import", headers={"Accept": "text/html"})
    assert page.status_code == 200 and 'name="csrf_token"' in page.get_data(as_text=True)


def test_session_copy_is_independent_of_demo(demo_copy, tmp_path):
    # The fixture file is a plain copy: a second app on another copy sees no users.
    other = tmp_path / "other.gpkg"
    shutil.copyfile(demo_copy, other)
    app = make_app(other)
    assert list_users(app.extensions["hehu_registry"]) == []
