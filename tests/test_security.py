"""Hardening: redirects, rate limits that lock out nobody, sessions, limits, headers, logs."""

from __future__ import annotations

import re

import pytest

from geo.users import add_user, authenticate
from server import create_app

POINT = {"type": "Point", "coordinates": [119.57, 31.74]}


def make_app(path, **config):
    return create_app({"REGISTRY": str(path), "TESTING": True, **config})


def bearer(token: str, **extra) -> dict:
    return {"Authorization": f"Bearer {token}", **extra}


def violation(code: str = "S-1", **props) -> dict:
    p = {"code": code, "category": "乱堆", "status": "待交办", "found_on": "2021-05-01", **props}
    return {"type": "Feature", "properties": p, "geometry": POINT}


def csrf_of(client) -> str:
    page = client.get("/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))[1]


def login(client, token: str, next_: str = "/map"):
    csrf = csrf_of(client)
    return client.post("/login", query_string={"next": next_}, data={"token": token, "csrf_token": csrf},
                       headers={"Accept": "text/html"})


@pytest.fixture
def users(app):
    reg = app.extensions["hehu_registry"]
    return {role: add_user(reg, f"u-{role}", role, iterations=1000) for role in ("viewer", "field", "editor", "admin")}


# -- 11: open redirect ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    ["/\t/evil.example/phish", "/\n/evil.example/", "/\r/evil.example", "//evil.example", "/\\evil.example",
     "\\\\evil.example", "https://evil.example/", "http:evil.example", " //evil.example", "/\x00/evil.example",
     "javascript:alert(1)", "/\u0085/evil.example", "evil.example"],
)
def test_sign_in_never_redirects_off_site(client, users, target):
    r = login(client, users["viewer"], target)
    assert r.status_code == 302
    assert r.headers["Location"] == "/"


def test_sign_in_keeps_a_local_next_with_its_query(client, users):
    r = login(client, users["viewer"], "/map?lang=en")
    assert r.headers["Location"] == "/map?lang=en"


def test_the_login_page_with_a_hostile_next_is_not_a_500(client):
    for raw in ("/%0A/evil", "/%09/evil.example/phish", "%0d%0aSet-Cookie:x=1"):
        r = client.get("/login?next=" + raw)
        assert r.status_code == 200
        action = re.search(r'<form method="post" action="([^"]*)"', r.get_data(as_text=True))[1]
        assert "evil" not in action and "Set-Cookie" not in action


# -- 10: rate limits per name and per address; the right token always works ---------------------------


def test_bad_tokens_from_one_address_do_not_lock_out_the_admin(demo_copy):
    app = make_app(demo_copy, LOGIN_MAX_FAILURES=5, LOGIN_WINDOW_S=300)
    admin = add_user(app.extensions["hehu_registry"], "admin", "admin", iterations=1000)
    client = app.test_client()
    for _ in range(8):
        client.post("/collections/violations/items", json={}, headers=bearer("bad.token"))
    assert client.post("/collections/violations/items", json={}, headers=bearer("bad.token")).status_code == 429
    r = client.post("/collections/violations/items", json=violation(), headers=bearer(admin))
    assert r.status_code == 201
    assert login(client, admin).status_code == 302


def test_failures_against_a_name_from_many_addresses_are_limited_but_the_owner_gets_in(demo_copy):
    app = make_app(demo_copy, LOGIN_MAX_FAILURES=3)
    token = add_user(app.extensions["hehu_registry"], "wang", "editor", iterations=1000)
    name_part = token.split(".")[0]
    client = app.test_client()
    codes = [
        client.get("/auth/me", headers=bearer(f"{name_part}.guess{i}"), environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code
        for i in range(6)
    ]
    assert codes[:3] == [200, 200, 200]  # /auth/me answers "nobody" for a wrong token
    r = client.post("/collections/violations/items", json={}, headers=bearer(f"{name_part}.guess"),
                    environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 429  # a fresh address, but the name is under attack
    r = client.post("/collections/violations/items", json=violation(), headers=bearer(token),
                    environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 201


def test_a_wrong_token_for_an_unknown_name_costs_the_same_hashing(demo_copy, monkeypatch):
    import geo.users as users

    app = make_app(demo_copy)
    reg = app.extensions["hehu_registry"]
    real_name = add_user(reg, "li", "viewer").split(".")[0]
    calls = []
    real = users._hash
    monkeypatch.setattr(users, "_hash", lambda *a, **k: calls.append(a[2] if len(a) > 2 else k.get("iterations", users.PBKDF2_ITERATIONS)) or real(*a, **k))
    assert authenticate(reg, f"{real_name}.wrong") is None
    assert authenticate(reg, f"{users._encode_name('nobody')}.wrong") is None
    assert len(calls) == 2 and calls[0] == calls[1] == users.PBKDF2_ITERATIONS


# -- 15: sessions end on the server ---------------------------------------------------------------------


def test_a_saved_cookie_stops_working_after_sign_out(app, users):
    client = app.test_client()
    login(client, users["editor"])
    saved = client.get_cookie("session").value
    csrf = client.get("/auth/me").get_json()["csrf_token"]
    assert client.post("/logout", headers={"X-CSRF-Token": csrf, "Accept": "application/json"}).status_code == 200
    thief = app.test_client()
    thief.set_cookie("session", saved)
    assert thief.get("/auth/me").get_json()["user"] is None
    r = thief.post("/collections/violations/items", json=violation("S-9"), headers={"X-CSRF-Token": csrf})
    assert r.status_code == 401


# -- 15: field sizes, If-Match: *, import errors, the district outline, print rights -----------------


def test_text_longer_than_the_catalog_allows_is_refused_naming_the_field(app, users):
    client = app.test_client()
    big = violation("S-2", note="备" * 3_000_000)
    r = client.post("/collections/violations/items", json=big, headers=bearer(users["field"]))
    assert r.status_code == 400
    body = r.get_json()
    assert body["field"] == "note" and "2000" in body["description"]
    assert len(r.get_data()) < 2000  # the refusal does not echo the note back
    ok = client.post("/collections/violations/items", json=violation("S-3", note="备" * 2000), headers=bearer(users["field"]))
    assert ok.status_code == 201


def test_every_text_field_has_a_length_cap_from_the_catalog():
    from layers import DEFAULT_MAX_LENGTH, load_catalog

    for layer in load_catalog():
        for f in layer.fields:
            assert (f.max_length is not None) == (f.type == "str"), (layer.id, f.name)
    assert load_catalog()["towns"].field("name").max_length == DEFAULT_MAX_LENGTH


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "TRANSITION"])
def test_if_match_star_is_not_a_version_and_writes_nothing(app, users, method):
    reg = app.extensions["hehu_registry"]
    fid = int(reg.read("violations", where={"status": "待交办"}, limit=1).index[0])
    before = reg.get("violations", fid)
    url = f"/collections/violations/items/{fid}"
    h = bearer(users["admin"], **{"If-Match": "*"})
    client = app.test_client()
    if method == "TRANSITION":
        r = client.post(url + "/transition", json={"status": "已交办", "unit": "x"}, headers=h)
    elif method == "DELETE":
        r = client.delete(url, headers=h)
    else:
        body = violation(before["properties"]["code"], note="changed")
        r = client.open(url, method=method, json=body if method == "PUT" else {"properties": {"note": "changed"}}, headers=h)
    assert r.status_code == 428 and "ETag" in r.get_json()["description"]
    assert reg.get("violations", fid) == before


def test_import_errors_never_show_server_temporary_paths(app, users):
    import io
    import tempfile

    client = app.test_client()
    for name, data in [("a.gpkg", b"SQLite format 3\x00garbage"), ("a.geojson", b"{bad"), ("a.kml", b"<kml"),
                       ("a.shp", b"x"), ("a.zip", b"notzip")]:
        for accept in ("application/json", "text/html"):
            r = client.post("/import", data={"file": (io.BytesIO(data), name), "layer": "violations"},
                            headers=bearer(users["admin"], Accept=accept))
            text = r.get_data(as_text=True)
            assert r.status_code == 400, text[:200]
            assert tempfile.gettempdir() not in text and "hehu-upload" not in text, text[:300]


def test_the_last_district_outline_cannot_be_deleted(app, users):
    reg = app.extensions["hehu_registry"]
    fids = list(reg.read("district").index)
    client = app.test_client()
    from geo.etag import feature_etag

    for fid in fids[1:]:
        etag = feature_etag(reg.get("district", fid))
        assert client.delete(f"/collections/district/items/{fid}", headers=bearer(users["admin"], **{"If-Match": etag})).status_code == 204
    last = fids[0]
    etag = feature_etag(reg.get("district", last))
    r = client.delete(f"/collections/district/items/{last}", headers=bearer(users["admin"], **{"If-Match": etag}))
    assert r.status_code == 409 and r.get_json()["code"] == "last-district-outline"
    assert reg.district() is not None
    far = {"type": "Feature", "properties": {"code": "S-far", "category": "乱堆", "status": "待交办", "found_on": "2021-05-01"},
           "geometry": {"type": "Point", "coordinates": [116.4, 39.9]}}
    assert client.post("/collections/violations/items", json=far, headers=bearer(users["field"])).status_code == 400


def test_export_roles_cover_print(demo_copy):
    app = make_app(demo_copy, EXPORT_ROLES={"violations": "editor"})
    reg = app.extensions["hehu_registry"]
    viewer = add_user(reg, "v", "viewer", iterations=1000)
    client = app.test_client()
    assert client.get("/print?layers=violations&format=png&dpi=30").status_code == 401
    assert client.get("/print?layers=violations&format=png&dpi=30", headers=bearer(viewer)).status_code == 403


# -- 15: bodies are refused by their announced size -----------------------------------------------------


def test_a_body_announced_over_the_limit_is_413_before_it_is_read(demo_copy):
    app = make_app(demo_copy, MAX_CONTENT_LENGTH=1000)
    read = []

    class Body:
        def read(self, *a):  # the WSGI input: reading it at all is the failure
            read.append(a)
            return b""

        readline = read

    r = app.test_client().post("/collections/violations/items", content_type="application/json",
                               environ_overrides={"wsgi.input": Body(), "CONTENT_LENGTH": str(200 * 1024 * 1024)})
    assert r.status_code == 413 and not read


def test_waitress_refuses_a_200_mb_body_from_its_headers(demo_copy):
    import socket

    from live_server import live_server

    from server.security import waitress_options

    app = make_app(demo_copy)
    with live_server(app, **waitress_options(app)) as url:
        host, port = url.rsplit("/", 1)[-1].split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST /collections/violations/items HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 209715200\r\n\r\n" + b"{" * 65536)
            answer = sock.recv(200)
    assert answer.startswith(b"HTTP/1.1 413")


# -- 16: headers, hosts, logs ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/map", "/collections/violations/items?f=html", "/login", "/targets",
                                  "/collections/violations/items", "/nonexistent"])
def test_every_answer_carries_the_protective_headers(client, path):
    r = client.get(path)
    h = r.headers
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["X-Frame-Options"] == "SAMEORIGIN"
    csp = h["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'self'" in csp and "object-src 'none'" in csp
    assert "*.tianditu.gov.cn" in csp and "*.is.autonavi.com" in csp  # the configured basemaps' tiles


def test_pages_have_no_inline_script(client):
    for path in ("/map", "/collections/violations/items?f=html", "/collections/violations?f=html", "/login",
                 "/targets", "/", "/api?f=html", "/collections/violations/items/1?f=html"):
        html = client.get(path).get_data(as_text=True)
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"\son[a-z]+\s*=", html), path


def test_trusted_hosts_refuse_a_forged_host_instead_of_linking_to_it(demo_copy):
    app = make_app(demo_copy, TRUSTED_HOSTS=["hehu.jintan.example", "localhost"])
    client = app.test_client()
    r = client.get("/collections", headers={"Host": "evil.example"})
    assert r.status_code == 400
    ok = client.get("/collections", headers={"Host": "hehu.jintan.example"})
    assert ok.status_code == 200 and "http://hehu.jintan.example/collections" in ok.get_data(as_text=True)


def test_access_log_has_one_line_per_request_and_no_secret(demo_copy, tmp_path, users):
    log_path = tmp_path / "access.log"
    app = make_app(demo_copy, ACCESS_LOG=str(log_path))
    token = add_user(app.extensions["hehu_registry"], "logged", "editor", iterations=1000)
    client = app.test_client()
    client.get("/login?next=/map&token=secret-basemap-key")
    client.post("/collections/violations/items", json=violation("L-1"), headers=bearer(token))
    client.post("/collections/violations/items", json={}, headers=bearer(token + "x"))
    text = log_path.read_text(encoding="utf-8")
    assert token.split(".")[1] not in text and "secret-basemap-key" not in text
    assert '"GET /login?next=/map&token=***" 200' in text
    assert " logged " in text and '"POST /collections/violations/items" 201' in text
    assert '"POST /collections/violations/items" 401' in text


def test_security_log_keeps_sign_ins_refusals_and_sign_outs(demo_copy, tmp_path):
    log_path = tmp_path / "security.log"
    app = make_app(demo_copy, SECURITY_LOG=str(log_path))
    reg = app.extensions["hehu_registry"]
    editor = add_user(reg, "zhao", "editor", iterations=1000)
    viewer = add_user(reg, "qian", "viewer", iterations=1000)
    client = app.test_client()
    login(client, editor)
    csrf = client.get("/auth/me").get_json()["csrf_token"]
    client.post("/logout", headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
    client.post("/collections/violations/items", json=violation("L-2"), headers=bearer(viewer))
    client.get("/auth/me", headers=bearer(editor[:-2] + "xx"))
    client.post("/logout", headers={"X-CSRF-Token": "forged", "Accept": "application/json"})
    text = log_path.read_text(encoding="utf-8")
    assert "missing or wrong CSRF token" in text
    assert "user zhao (editor) signed in" in text and "user zhao signed out" in text
    assert "refused POST /collections/violations/items to qian (viewer)" in text
    assert "refused Bearer token" in text and "'zhao'" in text
    assert editor.split(".")[1] not in text


# -- 9: heavy work is bounded; cheap reads keep being answered ------------------------------------------


def test_heavy_requests_past_the_limit_get_429_while_cheap_reads_are_answered(demo_copy, monkeypatch):
    import threading
    import urllib.error
    import urllib.request

    from live_server import live_server

    import server.printing as printing

    entered, release = threading.Event(), threading.Event()

    def slow_render(reg, layers, out, **kw):
        entered.set()
        release.wait(30)
        from pathlib import Path

        from geo.carto import PrintResult

        Path(out).write_bytes(b"%PDF-1.4 slow")
        return PrintResult(Path(out), "pdf", 1, "A4", "landscape", (1.0, 1.0), 1, [], [])

    monkeypatch.setattr(printing, "render_map", slow_render)
    app = make_app(demo_copy, HEAVY_LIMITS={"print": 1}, HEAVY_RETRY_AFTER_S=7)
    results: dict[str, int] = {}

    def get(url: str, key: str) -> None:
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                results[key] = resp.status
        except urllib.error.HTTPError as exc:
            results[key] = exc.code
            results[key + "-retry"] = int(exc.headers.get("Retry-After") or 0)

    with live_server(app, threads=4) as base:
        first = threading.Thread(target=get, args=(base + "/print?layers=violations", "first"))
        first.start()
        assert entered.wait(20)
        get(base + "/print?layers=violations", "second")
        get(base + "/collections/violations/items?limit=5", "read")
        get(base + "/collections/violations/items/1", "item")
        release.set()
        first.join(30)
        get(base + "/print?layers=violations", "after")
    assert results["second"] == 429 and results["second-retry"] == 7
    assert results["read"] == 200 and results["item"] == 200
    assert results["first"] == 200 and results["after"] == 200


def test_permission_changes_from_the_cli_go_to_the_security_log(demo_copy, tmp_path, capsys):
    from cli.main import main as hehu

    log_path = tmp_path / "security.log"
    assert hehu(["user", "add", "sun", "--role", "editor", "--registry", str(demo_copy), "--security-log", str(log_path)]) == 0
    assert hehu(["user", "disable", "sun", "--registry", str(demo_copy), "--security-log", str(log_path)]) == 0
    assert hehu(["user", "reset-token", "sun", "--registry", str(demo_copy), "--security-log", str(log_path)]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    text = log_path.read_text(encoding="utf-8")
    assert "user sun added with role editor" in text and "user sun disabled" in text and "token of user sun re-issued" in text
    assert token.split(".")[1] not in text


# -- 14: data that breaks pages -----------------------------------------------------------------------


def test_renaming_a_town_breaks_no_page(app, users):
    from geo.etag import feature_etag

    reg = app.extensions["hehu_registry"]
    old = reg.get("towns", 1)
    client = app.test_client()
    r = client.patch("/collections/towns/items/1", json={"properties": {"name": "新改名镇"}},
                     headers=bearer(users["editor"], **{"If-Match": feature_etag(old)}))
    assert r.status_code == 200
    for path in ("/targets", "/targets?f=json", "/targets.pdf", "/map", "/map/config.json", "/search?q=新改名镇",
                 "/collections/towns/items?name=新改名镇", "/export?layers=violations&town=新改名镇&format=csv"):
        assert client.get(path).status_code == 200, path
    targets = client.get("/targets?f=json").get_json()
    assert any("新改名镇" in t["by_town"] for t in targets)
    assert not any(old["properties"]["name"] in t["by_town"] for t in targets)


def test_a_non_ascii_csrf_token_is_a_403_not_a_500(client, users):
    client.get("/login")
    r = client.post("/login", data={"token": users["viewer"], "csrf_token": "令牌"}, headers={"Accept": "application/json"})
    assert r.status_code == 403
    r = client.post("/logout", headers={"X-CSRF-Token": "ü", "Accept": "application/json"})
    assert r.status_code in (400, 403)
