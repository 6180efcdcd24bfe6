"""Attachments over HTTP: upload from a phone, read back, list, delete, refuse bad files."""

from __future__ import annotations

import io

import pytest
from photos import jpeg, pixels, png

from geo.users import add_user

# The same requests against a GeoPackage and a PostGIS registry (tests/conftest.py).
pytestmark = pytest.mark.both_stores

LOC = "/collections/violations/items"


@pytest.fixture
def tokens(app):
    reg = app.extensions["hehu_registry"]
    return {role: add_user(reg, f"u-{role}", role, iterations=1000) for role in ("viewer", "field", "editor")}


def auth(token: str, etag: str | None = None) -> dict:
    h = {"Authorization": f"Bearer {token}"}
    if etag:
        h["If-Match"] = etag
    return h


@pytest.fixture
def case(app):
    """A violation being fixed (整改中): fid, geometry."""
    reg = app.extensions["hehu_registry"]
    gdf = reg.read("violations", where={"status": "整改中"})
    fid = int(gdf.index[0])
    return fid, gdf.geometry.loc[fid]


def stored(app) -> tuple:
    reg = app.extensions["hehu_registry"]
    return len(list(reg.store.iter_attachments())), reg.store.last_change()


def upload(client, token, fid, data, name="IMG_0001.jpg", kind="before", layer="violations"):
    return client.post(
        f"/collections/{layer}/items/{fid}/attachments",
        data={"file": (io.BytesIO(data), name), "kind": kind},
        headers=auth(token),
    )


def test_a_phone_photo_round_trips_with_exif_position_time_and_thumbnail(client, tokens, case):
    fid, point = case
    photo = jpeg(lon=point.x + 0.0003, lat=point.y, taken="2021:06:12 09:15:00")
    r = upload(client, tokens["field"], fid, photo, kind="整改前")
    assert r.status_code == 201, r.get_json()
    rec = r.get_json()
    assert rec["kind"] == "before" and rec["kind_label"] == "整改前" and rec["uploader"] == "u-field"
    assert rec["taken_at"] == "2021-06-12T09:15:00"
    assert rec["lon"] == pytest.approx(point.x + 0.0003, abs=1e-6) and rec["lat"] == pytest.approx(point.y, abs=1e-6)
    # 0.0003° of longitude at 31.7°N is about 28 m, measured in EPSG:4549
    assert 25 < rec["distance_m"] < 32
    assert r.headers["Location"].endswith(f"/attachments/{rec['id']}")
    links = {link["rel"]: link["href"] for link in rec["links"]}
    body = client.get(links["enclosure"])
    assert body.status_code == 200 and body.mimetype == "image/jpeg"
    # the documented cleaning: metadata segments cut, pixels exactly the camera's
    assert pixels(body.data) == pixels(photo) and b"SN-123456" not in body.data and b"TestPhone" not in body.data
    assert "immutable" in body.headers["Cache-Control"] and body.headers["ETag"]
    again = client.get(links["enclosure"], headers={"If-None-Match": body.headers["ETag"]})
    assert again.status_code == 304
    thumb = client.get(links["preview"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    from PIL import Image

    assert max(Image.open(io.BytesIO(thumb.data)).size) == 320
    listed = client.get(f"{LOC}/{fid}/attachments").get_json()["attachments"]
    assert [a["id"] for a in listed] == [rec["id"]] and listed[0]["distance_m"] == rec["distance_m"]
    assert client.get(links["self"]).get_json()["sha256"] == rec["sha256"]


def test_a_turned_photo_is_stored_upright_and_a_png_keeps_its_pixels(client, tokens, case):
    fid, _ = case
    r = upload(client, tokens["field"], fid, jpeg(size=(200, 100), orientation=6), name="turned.jpg")
    from PIL import Image

    body = client.get(f"{LOC}/{fid}/attachments/{r.get_json()['id']}")
    assert Image.open(io.BytesIO(body.data)).size == (100, 200)
    original = png()
    r = upload(client, tokens["field"], fid, original, name="plan.png", kind="other")
    assert r.status_code == 201 and r.get_json()["content_type"] == "image/png"
    back = client.get(f"{LOC}/{fid}/attachments/{r.get_json()['id']}").data
    assert Image.open(io.BytesIO(back)).tobytes() == Image.open(io.BytesIO(original)).tobytes()


def test_a_pdf_is_accepted_as_it_is(client, tokens, case):
    fid, _ = case
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    r = upload(client, tokens["field"], fid, pdf, name="交办单.pdf", kind="other")
    assert r.status_code == 201, r.get_json()
    rec = r.get_json()
    assert rec["name"] == "交办单.pdf" and "preview" not in {link["rel"] for link in rec["links"]}
    got = client.get(f"{LOC}/{fid}/attachments/{rec['id']}")
    assert got.data == pdf and "sandbox" in got.headers["Content-Security-Policy"]
    assert "filename*=UTF-8''%E4%BA%A4" in got.headers["Content-Disposition"]


@pytest.mark.parametrize(
    "data, name, status, words",
    [
        (b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 40, "fake.jpg", 400, "JPEG"),
        (b"PK\x03\x04" + b"\x00" * 200, "photo.jpg", 415, "ZIP"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "photo.jpg", 415, "SVG"),
        (b"%PDF-1.4 truncated", "a.pdf", 400, "%EOF"),
        (b"", "empty.jpg", 400, "empty"),
        (None, "../../etc/passwd.jpg", 400, "path"),
        (None, "C:\\Users\\me\\x.jpg", 400, "path"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message_and_nothing_stored(client, tokens, case, app, data, name, status, words):
    fid, _ = case
    before = stored(app)
    r = upload(client, tokens["field"], fid, jpeg() if data is None else data, name=name)
    assert r.status_code == status, r.get_json()
    assert words in r.get_json()["description"] or words in client.post(
        f"{LOC}/{fid}/attachments?lang=en", data={"file": (io.BytesIO(jpeg() if data is None else data), name)},
        headers=auth(tokens["field"]),
    ).get_json()["description"]
    assert stored(app) == before


def test_a_too_big_upload_is_refused_before_it_is_stored(app, client, tokens, case):
    fid, _ = case
    app.config["ATTACHMENT_MAX_BYTES"] = 50_000
    before = stored(app)
    big = jpeg(size=(2000, 1500))
    assert len(big) > 50_000
    r = upload(client, tokens["field"], fid, big)
    assert r.status_code == 413 and "ATTACHMENT_MAX_BYTES" in r.get_json()["description"]
    # the declared length alone is enough: the body is not read (200 MB: over every limit;
    # 1 MB: under the request limit, over the attachment limit)
    for declared in (200 * 1024 * 1024, 1024 * 1024):
        r = client.post(f"{LOC}/{fid}/attachments", data=b"x" * 10, headers={**auth(tokens["field"]),
                        "Content-Type": "multipart/form-data; boundary=x"},
                        environ_overrides={"CONTENT_LENGTH": str(declared)})
        assert r.status_code == 413
    assert stored(app) == before


def test_unknown_feature_kind_and_missing_file_are_4xx(client, tokens, case, app):
    fid, _ = case
    before = stored(app)
    assert upload(client, tokens["field"], 999999, jpeg()).status_code == 404
    assert upload(client, tokens["field"], "abc", jpeg()).status_code == 400
    assert upload(client, tokens["field"], fid, jpeg(), kind="during").status_code == 400
    r = client.post(f"{LOC}/{fid}/attachments", data={"kind": "before"}, headers=auth(tokens["field"]))
    assert r.status_code == 400 and "file" in r.get_json()["description"]
    assert client.get(f"{LOC}/999999/attachments").status_code == 404
    assert client.get(f"{LOC}/{fid}/attachments/424242").status_code == 404
    assert client.get(f"{LOC}/{fid}/attachments/1?size=huge").status_code == 400
    assert client.get("/collections/nope/items/1/attachments").status_code == 404
    assert stored(app) == before


def test_roles_upload_from_field_and_delete_from_editor_with_history(client, tokens, case, app):
    fid, _ = case
    assert upload(client, tokens["viewer"], fid, jpeg()).status_code == 403
    assert client.post(f"{LOC}/{fid}/attachments", data={"file": (io.BytesIO(jpeg()), "a.jpg")}).status_code == 401
    aid = upload(client, tokens["field"], fid, jpeg(), kind="after").get_json()["id"]
    assert client.delete(f"{LOC}/{fid}/attachments/{aid}", headers=auth(tokens["field"])).status_code == 403
    assert client.delete(f"{LOC}/{fid}/attachments/{aid}", headers=auth(tokens["editor"])).status_code == 204
    assert client.get(f"{LOC}/{fid}/attachments/{aid}").status_code == 404
    history = client.get(f"{LOC}/{fid}/history").get_json()["history"]
    assert [e["op"] for e in history[-2:]] == ["attach", "detach"]
    assert history[-1]["changes"]["attachment"][0].startswith("整改后 · IMG_0001.jpg")
    page = client.get(f"{LOC}/{fid}/history?f=html").get_data(as_text=True)
    assert "添加附件" in page and "删除附件" in page and "整改后 · IMG_0001.jpg" in page


def test_closing_needs_an_after_photo_unless_the_setting_is_off(app, client, tokens, case):
    fid, _ = case
    item = client.get(f"{LOC}/{fid}")
    close = {"to": "已销号", "closed_on": "2021-06-30", "note": "已清理"}
    r = client.post(f"{LOC}/{fid}/transition", json=close, headers=auth(tokens["field"], item.headers["ETag"]))
    assert r.status_code == 400 and "整改后" in r.get_json()["description"]
    en = client.post(f"{LOC}/{fid}/transition?lang=en", json=close, headers=auth(tokens["field"], item.headers["ETag"]))
    assert "'after'" in en.get_json()["description"] and "CLOSE_REQUIRES_PHOTO" in en.get_json()["description"]
    # a PATCH that slips the status in is held to the same rule
    r = client.patch(f"{LOC}/{fid}", json={"properties": {"status": "已销号", "closed_on": "2021-06-30", "note": "x"}},
                     headers=auth(tokens["editor"], item.headers["ETag"]))
    assert r.status_code == 400
    # a before photo is not evidence of the fix
    upload(client, tokens["field"], fid, jpeg(), kind="before")
    r = client.post(f"{LOC}/{fid}/transition", json=close, headers=auth(tokens["field"], item.headers["ETag"]))
    assert r.status_code == 400
    assert upload(client, tokens["field"], fid, jpeg(), kind="after").status_code == 201
    r = client.post(f"{LOC}/{fid}/transition", json=close, headers=auth(tokens["field"], item.headers["ETag"]))
    assert r.status_code == 200 and r.get_json()["properties"]["status"] == "已销号"


def test_with_the_setting_off_a_case_closes_without_a_photo(app, client, tokens, case):
    fid, _ = case
    app.config["CLOSE_REQUIRES_PHOTO"] = False
    etag = client.get(f"{LOC}/{fid}").headers["ETag"]
    close = {"to": "已销号", "closed_on": "2021-06-30", "note": "已清理"}
    assert client.post(f"{LOC}/{fid}/transition", json=close, headers=auth(tokens["field"], etag)).status_code == 200
