"""The store contract: the same behaviour from every store behind geo/stores/base.py.

Each test runs against every store kind in ``STORE_KINDS`` through the ``store_reg``
fixture (a fresh registry with a few violations), so a new store joins by adding its
kind to the fixture.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from samples import INSIDE, violation
from shapely.geometry import Point

from geo.errors import ConflictError, NotFoundError, ValidationError
from geo.registry import Registry

STORE_KINDS = ["gpkg", "postgis"]

POINTS = [Point(119.50 + 0.01 * i, 31.70 + 0.005 * i) for i in range(6)]


def _make(kind: str, tmp_path, request) -> Registry:
    if kind == "gpkg":
        return Registry.create(tmp_path / "contract.gpkg")
    if kind == "postgis":
        # A schema of its own in the session's throwaway cluster (tests/pg.py).
        import pg

        cluster = request.getfixturevalue("pg_cluster")
        schema = pg.new_schema()
        request.addfinalizer(lambda: cluster.drop_schema(schema))
        return Registry.create(cluster.uri(schema))
    raise AssertionError(kind)  # pragma: no cover


@pytest.fixture(params=STORE_KINDS)
def store_reg(request, tmp_path):
    """A registry on each store, holding six violations QSL-C-0..5 along a diagonal."""
    reg = _make(request.param, tmp_path, request)
    statuses = ["待交办", "已交办", "整改中", "已销号", "反弹", "已销号"]
    rows = [
        (
            violation(
                f"QSL-C-{i}",
                status=statuses[i],
                found_on=f"2021-0{i + 1}-15",
                description=None if i == 2 else f"第{i}处 堆放",
            ),
            p,
        )
        for i, p in enumerate(POINTS)
    ]
    reg.add_many("violations", rows, user="测试")
    yield reg
    reg.close()


def codes(gdf) -> list[str]:
    return sorted(gdf["code"].tolist())


def test_read_returns_every_feature_indexed_by_fid(store_reg):
    gdf = store_reg.read("violations")
    assert codes(gdf) == [f"QSL-C-{i}" for i in range(6)]
    assert gdf.index.name == "fid" and gdf.crs.to_epsg() == 4326


def test_bbox_keeps_exactly_the_features_intersecting_it(store_reg):
    box = (119.505, 31.70, 119.525, 31.72)
    gdf = store_reg.read("violations", bbox=box)
    truth = [f"QSL-C-{i}" for i, p in enumerate(POINTS) if shapely.intersects(p, shapely.box(*box))]
    assert codes(gdf) == truth
    assert store_reg.count("violations", bbox=box) == len(truth)


def test_where_equality_and_lists(store_reg):
    assert codes(store_reg.read("violations", where={"status": "已销号"})) == ["QSL-C-3", "QSL-C-5"]
    assert store_reg.count("violations", where={"status": ["待交办", "反弹"]}) == 2
    assert store_reg.count("violations", where={"status": []}) == 0


def test_cql2_filter_is_answered_with_and_without_pushdown(store_reg):
    text = "status <> '已销号' AND found_on >= '2021-02-01' AND description LIKE '%堆放'"
    assert codes(store_reg.read("violations", filter=text)) == ["QSL-C-1", "QSL-C-4"]
    assert store_reg.count("violations", filter=text) == 2
    # DWITHIN stays a residual in SQLite (R-tree prefilter + exact test in metres)
    near = "DWITHIN(geometry, POINT(119.5 31.7), 100, meters) OR code = 'QSL-C-5'"
    assert codes(store_reg.read("violations", filter=near)) == ["QSL-C-0", "QSL-C-5"]


def test_problems_only_is_the_catalog_rule(store_reg):
    assert codes(store_reg.read("violations", problems_only=True)) == ["QSL-C-0", "QSL-C-1", "QSL-C-2", "QSL-C-4"]
    assert store_reg.count("violations", problems_only=True) == 4


def test_order_limit_offset_and_read_rows_agree(store_reg):
    gdf = store_reg.read("violations", order_by=[("found_on", False)], limit=2, offset=1)
    assert gdf["code"].tolist() == ["QSL-C-4", "QSL-C-3"]
    rows, matched = store_reg.read_rows("violations", order_by=[("found_on", False)], limit=2, offset=1)
    assert matched == 6 and [r[0] for r in rows] == gdf.index.tolist()
    layer = store_reg.layer("violations")
    assert rows[0][2 + layer.field_names.index("code")] == "QSL-C-4"


def test_iter_frames_streams_every_match_in_chunks(store_reg):
    chunks = list(store_reg.iter_frames("violations", filter="status <> '已销号'", chunk_size=2))
    assert all(len(c) <= 2 for c in chunks)
    assert sorted(c for chunk in chunks for c in chunk["code"]) == ["QSL-C-0", "QSL-C-1", "QSL-C-2", "QSL-C-4"]


def test_candidates_come_from_the_spatial_index(store_reg):
    gdf = store_reg.read("violations")
    fid_of = dict(zip(gdf["code"], gdf.index, strict=True))
    boxes = np.array([[119.499, 31.699, 119.501, 31.701], [119.539, 31.719, 119.541, 31.721]])
    found = set(store_reg.candidates("violations", boxes).tolist())
    assert {fid_of["QSL-C-0"], fid_of["QSL-C-4"]} <= found
    assert fid_of["QSL-C-2"] not in found


def test_extents(store_reg):
    minx, miny, maxx, maxy = store_reg.extent("violations")
    assert minx == pytest.approx(119.50) and maxx == pytest.approx(119.55)
    assert store_reg.temporal_extent("violations", "found_on") == ("2021-01-15", "2021-06-15")
    assert store_reg.temporal_extent("violations", "closed_on") is None
    assert store_reg.extent("projects") is None


def test_writes_move_the_stamps_and_are_in_the_history(store_reg):
    stamps, last = store_reg.stamps()
    fid = store_reg.add("violations", violation("QSL-C-9"), INSIDE, user="王")
    stamps2, last2 = store_reg.stamps()
    assert last2 > last and stamps2["violations"] != stamps["violations"]
    assert stamps2["rivers"] == stamps["rivers"]
    assert store_reg.changes_since(last) == [("violations", fid)]
    store_reg.update("violations", fid, {"status": "已交办", "unit": "城管", "deadline": "2021-08-01"}, user="李")
    history = store_reg.history("violations", fid)
    assert [h["op"] for h in history] == ["add", "update"] and history[1]["user"] == "李"
    assert store_reg.store.history("violations", fid, newest_first=True)[0]["op"] == "update"
    assert store_reg.last_change("violations") == history[-1]["id"]
    store_reg.delete("violations", fid, user="李")
    with pytest.raises(NotFoundError):
        store_reg.get("violations", fid)


def test_a_stale_edit_is_refused_and_writes_nothing(store_reg):
    fid = int(store_reg.read("violations", where={"code": "QSL-C-0"}).index[0])
    seen = store_reg.get("violations", fid)
    store_reg.update("violations", fid, {"description": "别人改了"})
    with pytest.raises(ConflictError):
        store_reg.update("violations", fid, {"description": "我改的"}, expected=seen)
    assert store_reg.get("violations", fid)["properties"]["description"] == "别人改了"


def test_add_and_update_is_all_or_nothing(store_reg):
    layer = store_reg.layer("violations")
    fid = int(store_reg.read("violations", where={"code": "QSL-C-0"}).index[0])
    before = store_reg.count("violations")
    with pytest.raises(ValidationError):
        store_reg.store.add_and_update(
            layer,
            [(violation("QSL-C-NEW"), INSIDE), (violation("QSL-C-1"), INSIDE)],  # the second repeats a code
            [(fid, {"description": "不应写入"}, None)],
            user="导入",
        )
    assert store_reg.count("violations") == before
    assert store_reg.get("violations", fid)["properties"]["description"] != "不应写入"


def test_users_live_in_the_store(store_reg):
    store = store_reg.store
    record = {"name": "王", "role": "editor", "token_salt": "s", "token_hash": "h", "created_at": "2021-01-01T00:00:00Z", "active": True}
    store.add_user(record)
    assert store.get_user("王") == record
    with pytest.raises(ValidationError):
        store.add_user(record)
    assert store.update_user("王", active=False) and store.get_user("王")["active"] is False
    assert store.update_user("nobody", active=False) is False
    assert [u["name"] for u in store.list_users()] == ["王"]


def test_metadata_merges(store_reg):
    store_reg.store.set_metadata({"title": "测试", "extra": [1, 2]})
    meta = store_reg.metadata
    assert meta["title"] == "测试" and meta["extra"] == [1, 2] and meta["demo"] is False


def test_snapshot_reads_one_state(store_reg):
    with store_reg.snapshot():
        first = store_reg.stamps()
        assert store_reg.stamps() == first


def test_update_cascade_carries_a_value_into_other_features_in_one_transaction(store_reg):
    store = store_reg.store
    layer = store_reg.layer("violations")
    fid = int(store_reg.read("violations", where={"code": "QSL-C-0"}).index[0])
    last = store_reg.last_change()
    after = store.update_cascade(layer, fid, {"description": "改名"}, None, user="规划科",
                                 cascades=[(layer, "town", "金城镇", "金城新区")])
    assert after["properties"]["description"] == "改名"
    assert store_reg.count("violations", where={"town": "金城新区"}) == 6
    rows = store.history(since=last)
    assert len(rows) == 1 + 6 and {r["op"] for r in rows} == {"update"} and {r["user"] for r in rows} == {"规划科"}
    assert rows[-1]["before"]["properties"]["town"] == "金城镇" and rows[-1]["after"]["properties"]["town"] == "金城新区"
    # A refused update (a stale read) carries nothing.
    stale = store_reg.get("violations", fid)
    store_reg.update("violations", fid, {"description": "又改"})
    with pytest.raises(ConflictError):
        store.update_cascade(layer, fid, {"description": "不应写入"}, None, user="x", expected=stale,
                             cascades=[(layer, "town", "金城新区", "不应写入镇")])
    assert store_reg.count("violations", where={"town": "金城新区"}) == 6


def test_signed_out_sessions_live_in_the_store_until_they_expire(store_reg):
    store = store_reg.store
    assert not store.session_revoked("h-1")
    store.revoke_session("h-1", "王", "2999-01-01T00:00:00.000000Z")
    store.revoke_session("h-1", "王", "2999-01-01T00:00:00.000000Z")  # twice is once
    store.revoke_session("h-old", "王", "2000-01-01T00:00:00.000000Z")
    assert store.session_revoked("h-1") and not store.session_revoked("h-old") and not store.session_revoked("h-2")
def _attach(reg, fid, kind="before", data=b"\xff\xd8photo", name="p.jpg"):
    record = {"kind": kind, "name": name, "content_type": "image/jpeg", "size": len(data),
              "sha256": "0" * 64, "taken_at": "2021-05-01T10:00:00", "lon": 119.5, "lat": 31.7, "uploader": "测试"}
    return reg.store.add_attachment(reg.layer("violations"), fid, record, data, b"thumb", user="测试")


def test_attachments_are_stored_listed_counted_and_in_the_history(store_reg):
    layer = store_reg.layer("violations")
    fid = int(store_reg.read("violations", where={"code": "QSL-C-2"}).index[0])
    rec = _attach(store_reg, fid)
    _attach(store_reg, fid, kind="after", data=b"\xff\xd8fixed")
    assert rec["id"] > 0 and rec["layer"] == "violations" and rec["fid"] == fid and rec["created_at"]
    listed = store_reg.store.list_attachments(layer, fid)
    assert [a["kind"] for a in listed] == ["before", "after"] and listed[0]["lon"] == 119.5
    got, data = store_reg.store.get_attachment(rec["id"])
    assert data == b"\xff\xd8photo" and got == listed[0]
    assert store_reg.store.get_attachment(rec["id"], thumbnail=True)[1] == b"thumb"
    assert store_reg.store.attachment_counts(layer, [fid]) == {fid: {"before": 1, "after": 1}}
    ops = [h["op"] for h in store_reg.history("violations", fid)]
    assert ops[-2:] == ["attach", "attach"]
    store_reg.store.delete_attachment(rec["id"], user="测试")
    assert store_reg.store.get_attachment(rec["id"]) is None
    last = store_reg.history("violations", fid)[-1]
    assert last["op"] == "detach" and last["before"]["attachment"]["id"] == rec["id"]
    assert [r["id"] for r, _, _ in store_reg.store.iter_attachments()] == [rec["id"] + 1]


def test_an_attachment_on_a_missing_feature_stores_nothing(store_reg):
    before = store_reg.last_change()
    with pytest.raises(NotFoundError):
        _attach(store_reg, 99999)
    assert store_reg.last_change() == before and list(store_reg.store.iter_attachments()) == []
    with pytest.raises(NotFoundError):
        store_reg.store.delete_attachment(12345, user="测试")


def test_a_copy_carries_the_attachments(store_reg, tmp_path, request):
    from geo.copy import copy_registry

    fid = int(store_reg.read("violations").index[0])
    rec = _attach(store_reg, fid, data=b"\xff\xd8" + bytes(range(256)) * 10)
    target = tmp_path / "copied.gpkg"
    counts = copy_registry(store_reg.store.name if not hasattr(store_reg.store, "_uri") else store_reg.store._uri, target)
    assert counts["attachments"] == 1
    copied = Registry.open(target)
    try:
        got, data = copied.store.get_attachment(rec["id"])
        assert data == b"\xff\xd8" + bytes(range(256)) * 10 and got["fid"] == fid
        assert copied.store.list_attachments(copied.layer("violations"), fid)[0]["id"] == rec["id"]
        if "postgis" in request.node.name:
            return
        # and on to PostGIS when the cluster is there (the other direction)
        import pg

        cluster = request.getfixturevalue("pg_cluster")
        schema = pg.new_schema()
        request.addfinalizer(lambda: cluster.drop_schema(schema))
        assert copy_registry(target, cluster.uri(schema))["attachments"] == 1
        back = Registry.open(cluster.uri(schema))
        try:
            assert back.store.get_attachment(rec["id"])[1] == data
            assert _attach(back, fid)["id"] == rec["id"] + 1  # the id sequence moved on
        finally:
            back.close()
    finally:
        copied.close()


def test_attachments_of_many_features_come_back_in_one_call(store_reg):
    layer = store_reg.layer("violations")
    fids = [int(f) for f in store_reg.read("violations").index[:3]]
    first = _attach(store_reg, fids[0])
    second = _attach(store_reg, fids[0], kind="after", data=b"\xff\xd8fixed")
    third = _attach(store_reg, fids[2], kind="other")
    got = store_reg.store.attachments_by_fid(layer, [*fids, 99999])
    assert list(got) == [fids[0], fids[2]]  # features without files are absent
    assert [r["id"] for r in got[fids[0]]] == [first["id"], second["id"]]
    assert got[fids[2]] == [third] and got[fids[0]][0] == store_reg.store.list_attachments(layer, fids[0])[0]
    assert store_reg.store.attachments_by_fid(layer, []) == {}
