"""Questions about big layers go through the store's own index, with the same answers."""

from __future__ import annotations

import pytest

from geo.registry import Registry
from geo.spatial_index import RegistryIndexes


@pytest.fixture(scope="module")
def pair(demo_path):
    warm = Registry.open(demo_path)
    cold = Registry.open(demo_path)
    RegistryIndexes.of(cold).full_index_max = 50  # every feature layer counts as big here
    yield warm, cold
    warm.close()
    cold.close()


def _same(a, b):
    assert a[["layer", "fid"]].values.tolist() == b[["layer", "fid"]].values.tolist()
    assert a["distance_m"].tolist() == pytest.approx(b["distance_m"].tolist(), abs=1e-9)


@pytest.mark.parametrize("distance", [1, 50, 400, 3000])
def test_near_through_the_rtree_equals_the_whole_layer_index(pair, distance):
    warm, cold = pair
    for target in ("丹金溧漕河", "长荡湖"):
        _same(warm.near(target, distance, all_features=True), cold.near(target, distance, all_features=True))
    state = RegistryIndexes.of(cold)
    assert "violations" not in state.layers and state.candidate_builds > 0


def test_within_and_nearest_through_the_rtree(pair):
    warm, cold = pair
    _same(warm.within("儒林镇", layers="violations,micro_water_bodies"), cold.within("儒林镇", layers="violations,micro_water_bodies"))
    for k in (1, 5, 40):
        _same(warm.nearest((119.56, 31.72), "violations", k=k), cold.nearest((119.56, 31.72), "violations", k=k))


def test_a_write_is_seen_by_the_next_cold_question(demo_copy):
    from samples import violation
    from shapely.geometry import Point

    with Registry.open(demo_copy) as reg:
        RegistryIndexes.of(reg).full_index_max = 50
        before = len(reg.nearest((119.57, 31.74), "violations", k=1, max_distance_m=1))
        reg.add("violations", violation("QSL-COLD-1"), Point(119.57, 31.74))
        after = reg.nearest((119.57, 31.74), "violations", k=1, max_distance_m=1)
        assert before == 0 and after["code"].tolist() == ["QSL-COLD-1"]


def test_search_finds_features_of_a_big_layer_through_the_store(demo_path, monkeypatch):
    import geo.search as search

    with Registry.open(demo_path) as reg:
        code = reg.read("violations", limit=1)["code"].iloc[0]
        expected = search.search(reg, code.lower(), limit=3)
        monkeypatch.setattr(search, "INDEX_MAX_FEATURES", 50)
        reg.cache.clear()
        got = search.search(reg, code.lower(), limit=3)
        # the exact match comes first either way (a big layer offers no fuzzy suggestions)
        assert [(r["layer"], r["fid"], r["rank"]) for r in got] == [(r["layer"], r["fid"], r["rank"]) for r in expected[:1]]
        assert not (search.search_index(reg)["layer"] == "violations").any()
