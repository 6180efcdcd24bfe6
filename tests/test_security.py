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
