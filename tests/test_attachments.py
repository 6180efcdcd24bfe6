"""Attachments in the registry: checks, cleaning, the GeoPackage Related Tables
Extension as GDAL sees it, copies, the closing rule and the history."""

from __future__ import annotations

import io
import sqlite3
import warnings

import pytest
from photos import jpeg, pixels, png
from PIL import Image

from geo import attachments
from geo.attachments import (
    AttachmentError,
    AttachmentTooLarge,
    UnsupportedAttachment,
    prepare,
    sniff,
    strip_jpeg,
)
from geo.errors import NotFoundError
from geo.lifecycle import TransitionError
from geo.registry import Registry


@pytest.fixture
def case(registry):
    gdf = registry.read("violations", where={"status": "整改中"})
    fid = int(gdf.index[0])
    return fid, gdf.geometry.loc[fid]


def test_types_are_read_from_the_content_not_the_name():
    assert sniff(jpeg()[:16]) == "jpeg" and sniff(png()[:16]) == "png"
    assert sniff(b"%PDF-1.7") == "pdf" and sniff(b"\x00\x00\x00\x18ftypheic") == "heic"
    assert sniff(b"PK\x03\x04") is None and sniff(b"<svg") is None and sniff(b"GIF89a") is None


def test_jpeg_metadata_is_cut_without_touching_the_pixels():
    photo = jpeg(lon=119.5, lat=31.7)
    clean = strip_jpeg(photo + b"trailing junk after EOI")
    assert pixels(clean) == pixels(photo)
    assert b"Exif" not in clean and b"SN-123456" not in clean and clean.endswith(b"\xff\xd9")
    assert Image.open(io.BytesIO(clean)).getexif() == {}


@pytest.mark.parametrize("progressive", [False, True])
def test_every_scan_is_kept_the_colour_profile_too_and_appended_images_dropped(progressive):
    buf = io.BytesIO()
    Image.open(io.BytesIO(jpeg())).save(buf, "JPEG", quality=85, progressive=progressive, icc_profile=b"test-icc")
    mpo = buf.getvalue() + b"\xff\xd8\xff\xe1 a second image with its own EXIF \xff\xd9"
    clean = strip_jpeg(mpo)
    assert pixels(clean) == pixels(buf.getvalue())
    assert b"ICC_PROFILE" in clean and b"second image" not in clean


def test_exif_time_and_wgs84_position_are_kept_in_the_record():
    p = prepare(jpeg(lon=119.56789, lat=31.74321, taken="2021:07:01 08:00:05"), "现场.JPG", "after")
    assert p.record["taken_at"] == "2021-07-01T08:00:05"
    assert p.record["lon"] == pytest.approx(119.56789, abs=1e-6) and p.record["lat"] == pytest.approx(31.74321, abs=1e-6)
    assert p.record["name"] == "现场.jpg" and p.record["kind"] == "after" and len(p.record["sha256"]) == 64
    assert max(Image.open(io.BytesIO(p.thumbnail)).size) == 320
    none = prepare(jpeg(taken=None), "a.jpg")
    assert none.record["taken_at"] is None and none.record["lon"] is None and none.record["kind"] == "other"


def test_heic_becomes_a_jpeg():
    pillow_heif = pytest.importorskip("pillow_heif")
    buf = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (120, 80), "#258")).save(buf, quality=60)
    p = prepare(buf.getvalue(), "IMG_0001.HEIC", "before")
    assert p.record["content_type"] == "image/jpeg" and p.record["name"] == "IMG_0001.jpg"
    assert Image.open(io.BytesIO(p.data)).size == (120, 80)


@pytest.mark.parametrize(
    "data, name, error",
    [
        (b"\xff\xd8\xff\xe0" + b"\x00" * 300, "fake.jpg", AttachmentError),
        (b"PK\x03\x04" + b"\x00" * 30, "x.jpg", UnsupportedAttachment),
        (b"<?xml version='1.0'?><svg onload='alert(1)'/>", "x.jpg", UnsupportedAttachment),
        (b"\x00" * 100, "x.jpg", UnsupportedAttachment),
        (b"x" * 2048, "big.jpg", AttachmentTooLarge),
    ],
)
def test_bad_files_are_refused(data, name, error):
    with pytest.raises(error) as exc:
        prepare(data, name, max_bytes=1024)
    assert exc.value.render("zh") and exc.value.render("en") != exc.value.render("zh")


def test_a_path_in_the_name_is_refused_and_odd_characters_dropped():
    for bad in ("../a.jpg", "/etc/passwd", "a\\b.jpg", "C:x.jpg"):
        with pytest.raises(AttachmentError, match="path"):
            prepare(jpeg(), bad)
    assert prepare(jpeg(), "a b<c>.jpeg").record["name"] == "abc.jpg"


def test_registry_add_list_get_delete_with_distance(registry, case):
    fid, point = case
    rec = attachments.add(registry, "violations", fid, jpeg(lon=point.x, lat=point.y + 0.0009), "p.jpg", "before", user="王")
    assert 95 < rec["distance_m"] < 105  # 0.0009° of latitude ≈ 100 m
    assert attachments.listing(registry, "violations", fid)[0]["distance_m"] == rec["distance_m"]
    meta, data = attachments.get(registry, "violations", fid, rec["id"])
    assert meta["uploader"] == "王" and data[:2] == b"\xff\xd8"
    with pytest.raises(NotFoundError):
        attachments.get(registry, "violations", fid + 1, rec["id"])  # another feature's id
    with pytest.raises(NotFoundError):
        attachments.add(registry, "violations", 10**7, jpeg(), "p.jpg", user="王")
    attachments.delete(registry, "violations", fid, rec["id"], user="王")
    assert attachments.listing(registry, "violations", fid) == []


def test_closing_rule(registry, case):
    fid, _ = case
    with pytest.raises(TransitionError, match="after"):
        attachments.check_close_evidence(registry, "violations", fid, "已销号")
    attachments.check_close_evidence(registry, "violations", fid, "已销号", required=False)
    attachments.check_close_evidence(registry, "violations", fid, "反弹")
    attachments.add(registry, "violations", fid, jpeg(), "after.jpg", "整改后", user="王")
    attachments.check_close_evidence(registry, "violations", fid, "已销号")


def test_gdal_reads_the_related_media_table_without_warnings(registry, case, registry_name):
    import pyogrio

    fid, _ = case
    rec = attachments.add(registry, "violations", fid, jpeg(), "p.jpg", "before", user="王")
    registry.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        names = [row[0] for row in pyogrio.list_layers(registry_name)]
        media = pyogrio.read_dataframe(registry_name, layer="hehu_attachments")
        mapping = pyogrio.read_dataframe(registry_name, layer="hehu_attachments_violations")
    assert "hehu_attachments" in names and "violations" in names
    assert media["data"].iloc[-1][:2] == b"\xff\xd8" and media["content_type"].iloc[-1] == "image/jpeg"
    assert [fid, rec["id"]] in mapping[["base_id", "related_id"]].values.tolist()
    with sqlite3.connect(registry_name) as conn:
        rel = conn.execute(
            "SELECT base_table_name, base_primary_column, related_table_name, related_primary_column, relation_name "
            "FROM gpkgext_relations WHERE mapping_table_name = 'hehu_attachments_violations'"
        ).fetchone()
        ext = {r[0] for r in conn.execute("SELECT table_name FROM gpkg_extensions WHERE extension_name = 'gpkg_related_tables'")}
    assert rel == ("violations", "fid", "hehu_attachments", "id", "media")
    assert {"gpkgext_relations", "hehu_attachments_violations"} <= ext


def test_an_old_registry_gains_the_media_tables_on_open(tmp_path):
    path = tmp_path / "old.gpkg"
    Registry.create(path).close()
    with sqlite3.connect(path) as conn:  # as a registry made before attachments
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'hehu_attachments%'").fetchall():
            conn.execute(f'DROP TABLE "{name}"')
        conn.execute("DROP TABLE gpkgext_relations")
        conn.execute("DELETE FROM gpkg_contents WHERE table_name LIKE 'hehu_attachments%'")
        conn.execute("DELETE FROM gpkg_extensions WHERE extension_name = 'gpkg_related_tables'")
    reg = Registry.open(path)
    try:
        assert reg.store.attachment_counts(reg.layer("violations")) == {}
    finally:
        reg.close()


def test_hehu_copy_keeps_the_attachments(registry, case, registry_name, tmp_path, capsys):
    from cli.main import main

    fid, _ = case
    rec = attachments.add(registry, "violations", fid, jpeg(lon=119.6, lat=31.7), "p.jpg", "after", user="王")
    registry.close()
    target = tmp_path / "copy.gpkg"
    assert main(["copy", registry_name, str(target)]) == 0
    copied = Registry.open(target)
    try:
        meta, data = attachments.get(copied, "violations", fid, rec["id"])
        assert meta["sha256"] == rec["sha256"] and meta["lon"] == rec["lon"]
        assert copied.store.get_attachment(rec["id"], thumbnail=True)[1][:2] == b"\xff\xd8"
        assert [h["op"] for h in copied.history("violations", fid)][-1] == "attach"
    finally:
        copied.close()


def test_the_demo_has_drawn_before_and_after_photos_near_their_cases(registry):
    layer = registry.layer("violations")
    counts = registry.store.attachment_counts(layer)
    closed = registry.read("violations", fids=list(counts))
    assert counts and set(closed["status"]) <= {"已销号", "已交办"}
    for fid in closed.index[closed["status"] == "已销号"]:
        assert counts[fid] == {"before": 1, "after": 1}
        records = attachments.listing(registry, "violations", int(fid))
        assert all(r["distance_m"] is not None and r["distance_m"] < 30 for r in records)
        assert records[1]["taken_at"][:10] == str(closed.at[fid, "closed_on"])[:10]


def test_the_case_sheet_prints_the_before_and_after_photos(registry):
    from pypdf import PdfReader

    from geo.casesheet import render_case_pdf

    layer = registry.layer("violations")
    with_photos = registry.read("violations", fids=list(registry.store.attachment_counts(layer)))
    closed = with_photos[with_photos["status"] == "已销号"]["code"].iloc[0]
    bare = registry.read("violations", where={"status": "整改中"})["code"].iloc[0]
    reader = PdfReader(io.BytesIO(render_case_pdf(registry, [closed, bare])))
    text = [page.extract_text() for page in reader.pages]
    assert "整改前照片" in text[0] and "整改后照片" in text[0] and "暂无照片" not in text[0]
    assert len(reader.pages[0].images) >= 2  # the map snippet aside, two photos
    assert "暂无照片" in text[1]
