"""一河一档 shows the photos of the problems near the water: before/after pairs with
thumbnails linking to the files, the count of problems closed with photo evidence, and a
page of the most recent pairs in the PDF dossier."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest
from photos import jpeg

from geo import attachments
from geo.dossier import PDF_PHOTO_PAIRS, render_dossier_pdf, river_dossier

RIVER = "丹金溧漕河"


def _figures(html: str) -> dict[int, str]:
    """fid -> the HTML of its photo card on the page."""
    return {int(m.group(1)): m.group(2) for m in re.finditer(
        r'<figure class="photo-case[^"]*"[^>]*data-fid="(\d+)">(.*?)</figure>', html, re.S)}


def test_the_dossier_holds_the_photos_of_its_problems_and_counts_closings_with_evidence(registry):
    d = river_dossier(registry, RIVER)
    layer = registry.layer("violations")
    expected, evidence = {}, 0
    for closed, rows in ((False, d.open_problems), (True, d.closed_problems)):
        for p in rows:  # brute force: one listing per problem
            records = registry.store.list_attachments(registry.layer(p["layer"]), int(p["fid"]))
            if records:
                expected[p["fid"]] = [r["id"] for r in records]
                evidence += closed and any(r["kind"] == "after" for r in records)
    assert expected and d.closed_with_evidence == evidence > 0
    got = {e["fid"]: [r["id"] for r in (*e["before"], *e["after"], *e["other"])] for e in d.photos}
    assert {k: sorted(v) for k, v in got.items()} == {k: sorted(v) for k, v in expected.items()}
    assert [e["latest"] for e in d.photos] == sorted((e["latest"] for e in d.photos), reverse=True)
    assert {e["layer"] for e in d.photos} == {layer.id}  # the demo's photos are on violations


def test_the_dossier_reads_the_files_in_one_store_call_per_problem_layer(registry, monkeypatch):
    calls = []
    for name in ("attachments_by_fid", "list_attachments", "get_attachment", "attachment_counts"):
        original = getattr(registry.store, name)
        monkeypatch.setattr(registry.store, name,
                            lambda *a, _n=name, _o=original, **k: (calls.append(_n), _o(*a, **k))[1])
    d = river_dossier(registry, RIVER)
    layers = {p["layer"] for p in (*d.open_problems, *d.closed_problems)}
    assert set(calls) == {"attachments_by_fid"} and len(calls) <= len(layers) * 2  # open and closed


def test_the_river_page_shows_a_new_photo_of_a_nearby_violation_with_working_links(app, client):
    reg = app.extensions["hehu_registry"]
    d = river_dossier(reg, RIVER)
    bare = next(p for p in d.open_problems if p["layer"] == "violations" and p["fid"] not in {e["fid"] for e in d.photos})
    rec = attachments.add(reg, "violations", bare["fid"], jpeg(color="#a33"), "河边堆物.jpg", "before", user="王")
    html = client.get(f"/rivers/{RIVER}").get_data(as_text=True)
    card = _figures(html)[bare["fid"]]
    assert bare["code"] in card and "整改前" in card and "暂无整改后照片" in card
    links = [unescape(h) for h in re.findall(r'<a class="photo" href="([^"]+)"><img src="([^"]+)"', card)[0]]
    full, thumb = client.get(links[0]), client.get(links[1])
    assert links[0] == f"/collections/violations/items/{bare['fid']}/attachments/{rec['id']}"
    assert full.status_code == 200 and full.mimetype == "image/jpeg" and full.data == reg.store.get_attachment(rec["id"])[1]
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    from PIL import Image

    assert max(Image.open(io.BytesIO(thumb.data)).size) <= attachments.THUMBNAIL_PX
    evidence = re.search(r'<span id="photo-evidence">([^<]*)</span>', html).group(1)
    assert f"其中 {d.closed_with_evidence} 个有整改后照片" in evidence
    assert 'style="' not in html and "<script" not in html  # the CSP: no inline style or script


def test_the_english_page_names_the_kinds_in_english(client):
    html = client.get(f"/rivers/{RIVER}?lang=en").get_data(as_text=True)
    assert "Photos of the problems" in html and "closed with an after photo" in html


def test_the_json_dossier_carries_the_photo_records(client):
    doc = client.get(f"/rivers/{RIVER}.json").get_json()
    assert doc["photos"] and doc["closed_with_evidence"] >= 1
    assert {"id", "kind", "name", "content_type"} <= set(doc["photos"][0]["before"][0])


def test_the_pdf_dossier_has_a_page_of_the_most_recent_before_and_after_pairs(registry):
    from pypdf import PdfReader

    d = river_dossier(registry, RIVER)
    reader = PdfReader(io.BytesIO(render_dossier_pdf(registry, d)))
    last = reader.pages[-1]
    text = last.extract_text()
    shown = d.photos[:PDF_PHOTO_PAIRS]
    assert "问题照片" in text and all(e["code"] in text for e in shown)
    images = sum(bool(e["before"]) + bool(e["after"]) for e in shown)
    assert len(last.images) == images >= 2


def test_a_water_without_photos_says_so_on_the_page_and_prints_no_photo_page(registry, client):
    d = river_dossier(registry, RIVER)
    for e in d.photos:  # files of deleted features stay; here they are removed one by one
        for r in (*e["before"], *e["after"], *e["other"]):
            attachments.delete(registry, e["layer"], e["fid"], r["id"], user="王")
    bare = river_dossier(registry, RIVER)
    assert bare.photos == [] and bare.closed_with_evidence == 0
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(render_dossier_pdf(registry, bare)))
    assert len(reader.pages) == 3 and "附近的问题还没有照片" in reader.pages[0].extract_text()


@pytest.mark.parametrize("kind", ["before", "after"])
def test_a_pdf_attachment_is_a_link_not_a_thumbnail(app, client, kind):
    reg = app.extensions["hehu_registry"]
    d = river_dossier(reg, RIVER)
    p = next(x for x in d.open_problems if x["layer"] == "violations")
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    rec = attachments.add(reg, "violations", p["fid"], pdf, "通知.pdf", kind, user="王")
    card = _figures(client.get(f"/rivers/{RIVER}").get_data(as_text=True))[p["fid"]]
    assert f'<a class="photo file" href="/collections/violations/items/{p["fid"]}/attachments/{rec["id"]}">' in card
