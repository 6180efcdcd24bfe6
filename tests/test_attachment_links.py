"""OGC API feature JSON carries enclosure links to the features' files, read for a
whole page in one store query; the links give the bytes back."""

from __future__ import annotations

import json

import pytest
from photos import jpeg, png

from geo import attachments


@pytest.fixture
def photographed(app):
    """Two 整改中 violations with files (JPEG before + PNG after, a JPEG before); their fids."""
    reg = app.extensions["hehu_registry"]
    a, b = (int(f) for f in reg.read("violations", where={"status": "整改中"}).index[:2])
    attachments.add(reg, "violations", a, jpeg(color="#a33"), "现场.jpg", "before", user="王")
    attachments.add(reg, "violations", a, png(), "整改.png", "after", user="王")
    attachments.add(reg, "violations", b, jpeg(), "远景.jpg", "before", user="王")
    return a, b


@pytest.fixture
def store_calls(app, monkeypatch):
    """Count the store's attachment reads made while serving."""
    store = app.extensions["hehu_registry"].store
    calls: dict[str, int] = {}
    for name in ("attachments_by_fid", "list_attachments", "get_attachment", "attachment_counts"):
        original = getattr(store, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            calls[_name] = calls.get(_name, 0) + 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(store, name, spy)
    return calls


def _links(feature: dict) -> list[dict]:
    return [link for link in feature.get("links", []) if link["rel"] == "enclosure"]


def test_items_link_each_file_and_the_links_give_the_bytes(client, photographed):
    a, b = photographed
    r = client.get("/collections/violations/items?status=整改中&limit=500")
    assert r.status_code == 200
    features = {f["id"]: f for f in json.loads(r.data)["features"]}
    links = _links(features[a])
    assert [(x["type"], x["title"]) for x in links] == [("image/jpeg", "before: 现场.jpg"), ("image/png", "after: 整改.png")]
    assert [x["title"] for x in _links(features[b])] == ["before: 远景.jpg"]
    assert all(not _links(f) for fid, f in features.items() if fid not in (a, b))
    for link in [*links, *_links(features[b])]:
        assert link["href"].startswith(f"http://localhost/collections/violations/items/{link['href'].split('/')[-3]}/")
        got = client.get(link["href"])
        assert got.status_code == 200 and got.mimetype == link["type"] and len(got.data) == link["length"]


def test_a_single_item_links_its_files_after_its_own_links(client, photographed):
    a, _ = photographed
    feature = json.loads(client.get(f"/collections/violations/items/{a}").data)
    rels = [x["rel"] for x in feature["links"]]
    assert "collection" in rels and rels[-2:] == ["enclosure", "enclosure"]
    assert client.get(feature["links"][-1]["href"]).mimetype == "image/png"
    bare = int(client.application.extensions["hehu_registry"].read("violations", where={"status": "整改中"}).index[5])
    assert not _links(json.loads(client.get(f"/collections/violations/items/{bare}").data))


@pytest.mark.parametrize("query", ["limit=1000", "bbox=119.0,31.0,120.0,32.5&limit=1000", "status=已销号&limit=10"])
def test_a_page_reads_its_files_in_one_store_call_whatever_its_size(client, photographed, store_calls, query):
    r = client.get(f"/collections/violations/items?{query}")
    assert r.status_code == 200 and json.loads(r.data)["numberReturned"] > 1
    assert store_calls == {"attachments_by_fid": 1}


def test_pages_of_a_layer_without_files_stay_plain_geojson(client, store_calls):
    doc = json.loads(client.get("/collections/rivers/items?limit=50").data)
    assert doc["features"] and not any("links" in f for f in doc["features"])
    assert store_calls == {"attachments_by_fid": 1}


def test_gdal_reads_a_page_with_links_as_plain_features(client, photographed, tmp_path):
    import pyogrio

    path = tmp_path / "page.geojson"
    path.write_bytes(client.get("/collections/violations/items?status=整改中&limit=500").data)
    frame = pyogrio.read_dataframe(path)
    assert len(frame) == json.loads(path.read_bytes())["numberReturned"] and "code" in frame.columns
    assert "links" not in frame.columns  # a Feature's links are not read as a property
