"""Search: the exact river first, with every town it crosses; features that only name
it (its signboards) come after, grouped per layer with a label saying what they are."""

from __future__ import annotations

from geo.search import search


def test_an_exact_river_comes_first_with_the_towns_it_crosses(registry):
    results = search(registry, "丹金溧漕河", limit=12)
    first = results[0]
    assert first["layer"] == "rivers" and first["label"] == "丹金溧漕河"
    reaches = registry.read("rivers", where={"name": "丹金溧漕河"})
    towns = [t for t in dict.fromkeys(reaches.sort_index()["town"].tolist()) if t]
    assert len(towns) > 1 and first["towns"] == towns and first["town"] == "、".join(towns)


def test_signboards_naming_the_river_are_one_grouped_result(registry):
    results = search(registry, "丹金溧漕河", limit=12)
    boards = [r for r in results if r["layer"] == "signboards"]
    assert len(boards) == 1
    group = boards[0]
    n = int((registry.read("signboards")["river"] == "丹金溧漕河").sum())
    assert group["related"] and group["count"] == n == len(group["fids"])
    assert group["label"] == f"丹金溧漕河 · 河长公示牌（{n}）"
    assert not any(r["label"].startswith("GSP-") for r in results)
    # ...and after the river itself
    assert results.index(group) > 0
    en = [r for r in search(registry, "丹金溧漕河", limit=12, lang="en") if r["layer"] == "signboards"][0]
    assert en["label"].endswith(f"({n})")
