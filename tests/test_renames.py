"""A town or river renamed is carried into the features that name it, in the same
transaction and with history rows (geo/references.py ``renames``)."""

from __future__ import annotations

import pytest

from geo.check import check_registry
from geo.errors import ConflictError
from geo.etag import feature_etag
from geo.users import add_user


def town_fid(reg, name: str) -> int:
    return int(reg.read("towns", where={"name": name}).index[0])


def test_renaming_a_town_renames_it_in_every_feature_naming_it(registry):
    named = {lid: registry.count(lid, where={"town": "金城镇"})
             for lid in ("violations", "micro_water_bodies", "rivers", "sewage_plants")}
    assert all(named.values()), named
    fid = town_fid(registry, "金城镇")
    last = registry.last_change()
    registry.update("towns", fid, {"name": "金城新区"}, user="规划科")
    for lid, n in named.items():
        assert registry.count(lid, where={"town": "金城镇"}) == 0, lid
        assert registry.count(lid, where={"town": "金城新区"}) == n, lid
    rows = registry.store.history(since=last)
    assert rows[0]["layer"] == "towns" and rows[0]["after"]["properties"]["name"] == "金城新区"
    changed = rows[1:]
    assert len(changed) == sum(
        registry.count(layer.id, where={"town": "金城新区"}) for layer in registry.layers
        if layer.id != "towns" and layer.has_field("town")
    )
    assert all(r["op"] == "update" and r["user"] == "规划科" for r in changed)
    assert {(r["before"]["properties"]["town"], r["after"]["properties"]["town"]) for r in changed} == {("金城镇", "金城新区")}
    assert check_registry(registry) == []


def test_a_river_keeps_its_references_while_another_reach_holds_the_name(registry):
    reaches = registry.read("rivers", where={"name": "丹金溧漕河"})
    assert len(reaches) > 1
    before = registry.count("violations", where={"river": "丹金溧漕河"})
    assert before
    last = registry.last_change()
    registry.update("rivers", int(reaches.index[0]), {"name": "丹金溧漕河（城区段）"})
    assert registry.count("violations", where={"river": "丹金溧漕河"}) == before
    assert [r["layer"] for r in registry.store.history(since=last)] == ["rivers"]


def test_renaming_a_one_reach_river_renames_its_references(registry):
    rivers = registry.read("rivers")
    counts = rivers["name"].value_counts()
    named = registry.read("violations")["river"].value_counts()
    name = next(n for n in named.index if counts.get(n) == 1 and not rivers.loc[rivers["name"] == n, "aliases"].notna().any())
    fid = int(rivers.index[rivers["name"] == name][0])
    registry.update("rivers", fid, {"name": name + "新"})
    assert registry.count("violations", where={"river": name}) == 0
    assert registry.count("violations", where={"river": name + "新"}) == named[name]
    assert check_registry(registry, ["violations", "sections", "signboards", "cross_boundary_reaches"]) == []


def test_a_refused_rename_renames_nothing(registry):
    fid = town_fid(registry, "金城镇")
    stale = registry.get("towns", fid)
    registry.update("towns", fid, {"code": "JC-X"})
    with pytest.raises(ConflictError):
        registry.update("towns", fid, {"name": "金城新区"}, expected=stale)
    assert registry.count("violations", where={"town": "金城新区"}) == 0
    assert registry.count("towns", where={"name": "金城镇"}) == 1


def test_a_town_renamed_over_http_shows_in_its_violations_targets_and_history(app, client):
    reg = app.extensions["hehu_registry"]
    token = add_user(reg, "u-rename", "editor", iterations=1000)
    fid = town_fid(reg, "金城镇")
    old = reg.get("towns", fid)
    r = client.patch(f"/collections/towns/items/{fid}", json={"properties": {"name": "金城新区"}},
                     headers={"Authorization": f"Bearer {token}", "If-Match": feature_etag(old)})
    assert r.status_code == 200, r.get_json()
    page = client.get("/collections/violations/items?town=金城新区&limit=1000&f=json").get_json()
    assert page["numberMatched"] > 0
    assert client.get("/collections/violations/items?town=金城镇&f=json").get_json()["numberMatched"] == 0
    for path in ("/targets", "/targets.pdf"):
        assert client.get(path).status_code == 200, path
    targets = client.get("/targets?f=json").get_json()
    assert any("金城新区" in t["by_town"] for t in targets)
    assert not any("金城镇" in t["by_town"] for t in targets)
    assert check_registry(reg) == []
    vfid = page["features"][0]["id"]
    assert reg.history("towns", fid)[-1]["user"] == "u-rename"
    last = reg.history("violations", vfid)[-1]
    assert last["user"] == "u-rename" and last["after"]["properties"]["town"] == "金城新区"
