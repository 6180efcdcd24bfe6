"""Per-layer export rights (``EXPORT_ROLES``): every file download of a guarded layer needs
the role; a refusal is 401/403 JSON and writes nothing; unguarded layers stay open."""

from __future__ import annotations

import tempfile

import pytest

import geo.export as gx
from geo.users import add_user
from server import create_app

ROLES = ("viewer", "field", "editor", "admin")
SETTING = {"violations": "field", "sections": "editor"}

#: Every way to take a guarded layer away as a file, with one that takes only open layers.
DOWNLOADS = {
    "export": "/export?layers=violations&format=geojson",
    "export of several layers": "/export?layers=rivers,violations&format=csv",
    "items as gpkg": "/collections/violations/items?f=gpkg",
    "items as shp": "/collections/violations/items?f=shp",
    "items as kml": "/collections/violations/items?f=kml",
    "items as csv": "/collections/violations/items?f=csv",
    "items as xlsx": "/collections/violations/items?f=xlsx",
    "query near": "/query/near?target=丹金溧漕河&distance=50&layers=violations&download=1",
    "query within, default layers": "/query/within?area=儒林镇&download=1",
    "query nearest": "/query/nearest?lon=119.56&lat=31.72&layer=violations&download=1",
}


@pytest.fixture
def guarded(demo_copy):
    app = create_app({"REGISTRY": str(demo_copy), "TESTING": True, "EXPORT_ROLES": SETTING})
    reg = app.extensions["hehu_registry"]
    tokens = {role: add_user(reg, f"u-{role}", role, iterations=1000) for role in ROLES}
    return app, tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


#: Refusals speak the request's language; these assertions read the English text.
EN = {"Accept-Language": "en"}


@pytest.mark.parametrize("url", DOWNLOADS.values(), ids=DOWNLOADS.keys())
def test_a_guarded_layer_needs_sign_in_then_the_role(guarded, url, tmp_path, monkeypatch):
    app, tokens = guarded
    client = app.test_client()
    # The views write their files in the temporary folder: a private one shows what they left.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    written = []  # every file writer called, whatever the view
    for fmt, writer in list(gx._WRITERS.items()):
        monkeypatch.setitem(gx._WRITERS, fmt, lambda items, path, crs, w=writer: (written.append(path), w(items, path, crs))[1])
    resp = client.get(url, headers=EN)
    assert resp.status_code == 401 and resp.is_json
    body = resp.get_json()
    assert body["code"] == "unauthorized" and "violations" in body["layers"] and body["role"] == "field"
    assert "sign in" in body["description"]
    resp = client.get(url, headers={**bearer(tokens["viewer"]), **EN})
    assert resp.status_code == 403 and resp.get_json()["code"] == "forbidden"
    assert "u-viewer (viewer) may not export violations" in resp.get_json()["description"]
    assert "Content-Disposition" not in resp.headers
    assert list(scratch.iterdir()) == [] and written == []
    for role in ("field", "editor", "admin"):
        resp = client.get(url, headers=bearer(tokens[role]))
        assert resp.status_code == 200, (role, resp.get_data(as_text=True)[:200])
        assert resp.headers["Content-Disposition"].startswith("attachment")
        resp.close()
    assert bool(written) == (not url.startswith("/query"))  # a query download is its JSON body
    assert list(scratch.iterdir()) == []  # the granted downloads cleaned up after themselves too


def test_the_highest_role_among_the_layers_asked_decides(guarded):
    app, tokens = guarded
    client = app.test_client()
    url = "/export?layers=violations,sections&format=gpkg"
    resp = client.get(url, headers=bearer(tokens["field"]))
    assert resp.status_code == 403
    assert resp.get_json()["layers"] == ["sections"] and resp.get_json()["role"] == "editor"
    resp = client.get(url, headers=bearer(tokens["editor"]))
    assert resp.status_code == 200
    resp.close()


def test_unguarded_layers_and_reads_stay_open(guarded):
    app, _ = guarded
    client = app.test_client()
    for url in ("/export?layers=rivers&format=kml", "/collections/rivers/items?f=xlsx",
                "/query/near?target=丹金溧漕河&distance=50&layers=micro_water_bodies&download=1"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        resp.close()
    # Reading is not exporting: the JSON answers of a guarded layer are not affected.
    assert client.get("/collections/violations/items?f=json&limit=2").status_code == 200
    assert client.get("/query/near?target=丹金溧漕河&distance=50&layers=violations").status_code == 200


def test_a_bad_token_is_refused_even_for_an_open_layer(guarded):
    app, _ = guarded
    resp = app.test_client().get("/export?layers=violations&format=csv", headers=bearer("nobody.wrong"))
    assert resp.status_code == 401


def test_exports_are_open_by_default(client):
    resp = client.get("/collections/violations/items?f=csv")
    assert resp.status_code == 200
    resp.close()


@pytest.mark.parametrize(
    "setting, words",
    [
        ({"violationz": "field"}, "unknown layer 'violationz'"),
        ({"violations": "chief"}, "unknown role 'chief'; roles: viewer, field, editor, admin"),
        (["violations"], "must map layer ids to roles"),
    ],
)
def test_a_bad_setting_stops_the_server_from_starting(demo_copy, setting, words):
    with pytest.raises(ValueError, match=words):
        create_app({"REGISTRY": str(demo_copy), "TESTING": True, "EXPORT_ROLES": setting})


def test_cli_serve_refuses_a_bad_setting_in_one_line(demo_copy, tmp_path, capsys):
    from cli.main import main

    config = tmp_path / "hehu.yaml"
    config.write_text("EXPORT_ROLES:\n  violations: chief\n", encoding="utf-8")
    code = main(["serve", "--registry", str(demo_copy), "--config", str(config), "--port", "0", "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown role 'chief'" in err and err.count("\n") == 1
    code = main(["serve", "--registry", str(demo_copy), "--config", str(config), "--port", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "未知角色 'chief'" in err and err.count("\n") == 1
