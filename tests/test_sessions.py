"""Signed-out sessions are kept in the registry: every app server on it, and each after a
restart, refuses a signed-out cookie; the rows expire, stay out of gpkg_contents and are
never copied."""

from __future__ import annotations

import sqlite3

import pyogrio
import pytest

from geo.copy import copy_registry
from geo.registry import Registry
from geo.users import add_user, revoke_session, session_revoked

SECRET = "one-key-for-every-app-server"


def make_app(name):
    from server import create_app

    return create_app({"REGISTRY": str(name), "TESTING": True, "SECRET_KEY": SECRET})


def sign_in(client, token: str) -> str:
    import re

    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    r = client.post("/login", data={"token": token, "csrf_token": csrf}, headers={"Accept": "text/html"})
    assert r.status_code in (302, 303), r.status_code
    return client.get("/auth/me").get_json()["csrf_token"]


def who(app, cookie: str):
    client = app.test_client()
    client.set_cookie("session", cookie)
    user = client.get("/auth/me").get_json()["user"]
    return None if user is None else user["name"]


@pytest.fixture(params=["gpkg", "postgis"])
def registry_name_both(request, demo_copy):
    if request.param == "gpkg":
        return str(demo_copy)
    return request.getfixturevalue("pg_demo_copy_uri")


def test_a_sign_out_on_one_app_server_ends_the_session_on_the_others_and_after_a_restart(registry_name_both):
    first, second = make_app(registry_name_both), make_app(registry_name_both)
    try:
        token = add_user(first.extensions["hehu_registry"], "u-sess", "editor", iterations=1000)
        client = first.test_client()
        csrf = sign_in(client, token)
        cookie = client.get_cookie("session").value
        assert who(second, cookie) == "u-sess"  # the second server knows the session too
        assert client.post("/logout", headers={"X-CSRF-Token": csrf, "Accept": "application/json"}).status_code == 200
        assert who(first, cookie) is None
        assert who(second, cookie) is None
        thief = second.test_client()
        thief.set_cookie("session", cookie)
        feature = {"type": "Feature", "properties": {"code": "S-X", "category": "乱堆", "found_on": "2021-05-01"},
                   "geometry": {"type": "Point", "coordinates": [119.57, 31.74]}}
        assert thief.post("/collections/violations/items", json=feature, headers={"X-CSRF-Token": csrf}).status_code == 401
    finally:
        first.extensions["hehu_registry"].close()
        second.extensions["hehu_registry"].close()
    restarted = make_app(registry_name_both)
    try:
        assert who(restarted, cookie) is None
    finally:
        restarted.extensions["hehu_registry"].close()


def test_revocations_expire_and_are_dropped(empty_registry):
    store = empty_registry.store
    store.revoke_session("old", "li", "2000-01-01T00:00:00.000000Z")
    assert not store.session_revoked("old")  # expired: its cookie is refused anyway
    revoke_session(empty_registry, "sid-1", "li", 3600)
    assert session_revoked(empty_registry, "sid-1") and not session_revoked(empty_registry, "sid-2")
    conn = sqlite3.connect(empty_registry.path)
    assert conn.execute("SELECT count(*) FROM hehu_sessions").fetchone()[0] == 1  # "old" dropped
    # The id itself is not in the file, only a hash of it.
    assert conn.execute("SELECT count(*) FROM hehu_sessions WHERE sid_hash = 'sid-1'").fetchone()[0] == 0
    conn.close()


def test_revocations_are_no_layer_and_are_never_copied(empty_registry, tmp_path):
    revoke_session(empty_registry, "sid-1", "li", 3600)
    assert "hehu_sessions" not in {name for name, _ in pyogrio.list_layers(empty_registry.path)}
    conn = sqlite3.connect(empty_registry.path)
    assert conn.execute("SELECT count(*) FROM gpkg_contents WHERE table_name = 'hehu_sessions'").fetchone()[0] == 0
    conn.close()
    empty_registry.close()
    copy_registry(empty_registry.path, tmp_path / "copy.gpkg")
    with Registry.open(tmp_path / "copy.gpkg") as copy:
        assert not session_revoked(copy, "sid-1")


def test_an_older_file_gets_the_sessions_table_on_open(demo_copy):
    conn = sqlite3.connect(demo_copy, isolation_level=None)
    conn.execute("DROP TABLE hehu_sessions")
    conn.close()
    with Registry.open(demo_copy) as reg:
        revoke_session(reg, "sid-1", "li", 60)
        assert session_revoked(reg, "sid-1")
