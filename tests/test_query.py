"""near / within / intersects / nearest through the registry: semantics, freshness, errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import shapely
import shapely.affinity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import mapping

from geo.crs import from_metric, to_metric
from geo.errors import QueryError
from geo.query import near, nearest, resolve_target, to_meters, within
from geo.registry import Registry, problem_mask
from geo.spatial_index import RegistryIndexes

# The same answers from the GeoPackage and the PostGIS store.
pytestmark = pytest.mark.both_stores

INSIDE = shapely.Point(119.57, 31.74)  # 金城, well inside the district
OUTSIDE = shapely.Point(118.80, 32.06)  # Nanjing


def violation(code: str, **overrides) -> dict:
    """Properties of a valid, open violation."""
    return {"code": code, "category": "乱堆", "status": "待交办", "found_on": "2021-04-01", "source": "巡河",
            "town": "金城镇", **overrides}


def brute_near(reg: Registry, layer_id: str, target, distance_m: float, problems: bool = True) -> dict[int, float]:
    gdf = reg.read(layer_id)
    layer = reg.layer(layer_id)
    if problems and layer.problem is not None:
        gdf = gdf[problem_mask(layer, gdf)]
    d = shapely.distance(to_metric(np.asarray(gdf.geometry.values, dtype=object)), to_metric(target))
    return {int(f): float(v) for f, v in zip(gdf.index, d, strict=True) if v <= distance_m}


def as_dict(gdf, layer_id: str) -> dict[int, float]:
    sub = gdf[gdf["layer"] == layer_id]
    return dict(zip(sub["fid"].astype(int), sub["distance_m"].astype(float), strict=True))


def point_at(target, metres: float, reg: Registry) -> shapely.Point:
    """A lon/lat point ``metres`` east of the target's first vertex, in EPSG:4549."""
    first = shapely.Point(shapely.get_coordinates(to_metric(target))[0])
    return from_metric(shapely.Point(first.x + metres, first.y))


# -- semantics on the demo --------------------------------------------------------------------


@pytest.mark.parametrize("distance", [10, 50, 333.3])
def test_near_a_river_equals_brute_force_over_its_reaches(registry, distance):
    gdf = near(registry, "丹金溧漕河", distance, layers=["violations", "micro_water_bodies"])
    reaches = registry.read("rivers", where={"name": "丹金溧漕河"})
    assert len(reaches) > 1
    target = shapely.union_all(reaches.geometry.values)
    assert gdf.attrs["target"].equals(target)
    assert sorted(f for _, f in gdf.attrs["target_features"]) == sorted(reaches.index.tolist())
    for lid in ("violations", "micro_water_bodies"):
        want = brute_near(registry, lid, gdf.attrs["target"], distance)
        got = as_dict(gdf, lid)
        assert set(got) == set(want)
        assert all(abs(got[f] - want[f]) < 1e-6 for f in want)
    assert gdf["distance_m"].is_monotonic_increasing
    assert gdf.crs.to_epsg() == 4326
    assert {"fid", "layer", "distance_m", "code", "status"} <= set(gdf.columns)


def test_near_attrs_describe_the_question(registry):
    gdf = near(registry, "丹金溧漕河", 50)
    assert gdf.attrs["target_label"] == "丹金溧漕河"
    assert gdf.attrs["distance_m"] == 50
    assert gdf.attrs["layers"] == [layer.id for layer in registry.catalog.problem_layers]
    buffer_m = to_metric(gdf.attrs["buffer"])
    target_m = to_metric(gdf.attrs["target"])
    assert buffer_m.contains(target_m)
    assert abs(buffer_m.area - target_m.buffer(50).area) / buffer_m.area < 0.01


def test_near_by_default_returns_only_problems_and_all_features_returns_everything(registry):
    problems = near(registry, "丹金溧漕河", 300, layers="violations")
    everything = near(registry, "丹金溧漕河", 300, layers="violations", all_features=True)
    assert (problems["status"] != "已销号").all()
    assert (everything["status"] == "已销号").any()
    assert set(problems["fid"]) < set(everything["fid"])
    assert as_dict(everything, "violations") == pytest.approx(
        brute_near(registry, "violations", everything.attrs["target"], 300, problems=False)
    )


def test_code_alias_and_name_resolve_as_expected(registry):
    by_name = resolve_target(registry, "丹金溧漕河")
    by_alias = resolve_target(registry, "丹金河")
    by_code = resolve_target(registry, "HD-0001")
    assert by_alias.geometry.equals(by_name.geometry)
    assert by_code.features == [("rivers", 1)]
    assert len(by_name.features) == 4
    # typed with a Chinese input method: full-width letters, digits, dash and colon
    assert resolve_target(registry, "ＨＤ－０００１").features == [("rivers", 1)]
    assert resolve_target(registry, "lakes：长荡湖").label == "长荡湖"


def test_a_lake_includes_its_water_surface(registry):
    lake = registry.read("lakes").geometry.iloc[0]
    inside = lake.representative_point()
    fid = registry.add("violations", violation("QSL-T-LAKE", town="儒林镇"), inside)
    gdf = near(registry, "长荡湖", 10, layers="violations")
    row = gdf[gdf["fid"] == fid]
    assert len(row) == 1 and row["distance_m"].iloc[0] == 0
    assert as_dict(gdf, "violations") == pytest.approx(brute_near(registry, "violations", lake, 10))


def test_a_feature_is_a_target_and_the_registry_methods_agree(registry):
    lake = registry.read("lakes").geometry.iloc[0]
    fid = registry.add("violations", violation("QSL-T-IN", town="儒林镇"), lake.representative_point())
    by_feature = within(registry, {"layer": "lakes", "fid": 1}, layers="violations")
    assert by_feature.attrs["target_label"] == "长荡湖" and fid in set(by_feature["fid"])
    assert by_feature["fid"].tolist() == registry.within("长荡湖", layers="violations")["fid"].tolist()
    # nearest to a plant: the other plants, by brute force, the plant itself left out
    plants = registry.read("sewage_plants")
    first = int(plants.index[0])
    d = shapely.distance(to_metric(np.asarray(plants.geometry.values, dtype=object)),
                         to_metric(plants.geometry.iloc[0]))
    order = [int(f) for f in plants.index[np.lexsort((plants.index.to_numpy(), d))] if f != first][:2]
    assert nearest(registry, {"layer": "sewage_plants", "fid": first}, "sewage_plants", k=2)["fid"].tolist() == order
    assert registry.nearest({"layer": "sewage_plants", "fid": first}, "sewage_plants", k=2)["fid"].tolist() == order
    assert registry.near("丹金溧漕河", 50)["fid"].tolist() == near(registry, "丹金溧漕河", 50)["fid"].tolist()
    with pytest.raises(QueryError, match="fid must be a whole number"):
        within(registry, {"layer": "lakes", "fid": "one"}, layers="violations")


def test_the_targets_own_features_are_not_in_the_answer(registry):
    gdf = near(registry, "丹金溧漕河", 200, layers="rivers")
    assert not set(gdf["fid"]) & {1, 2, 3, 4}
    assert len(gdf)  # other rivers meet it


def test_within_a_town_equals_brute_force_intersects(registry):
    gdf = within(registry, "儒林镇", layers=["violations", "rivers"], all_features=True)
    town = registry.read("towns", where={"name": "儒林镇"}).geometry.iloc[0]
    for lid in ("violations", "rivers"):
        all_ = registry.read(lid)
        hit = shapely.intersects(to_metric(np.asarray(all_.geometry.values, dtype=object)), to_metric(town))
        assert set(gdf[gdf["layer"] == lid]["fid"]) == set(all_.index[hit])
    assert gdf.attrs["target_label"] == "儒林镇"
    assert (gdf["distance_m"] == 0).all()


def test_within_a_town_returns_only_problems_unless_all(registry):
    from geo.registry import problem_mask

    every = within(registry, "儒林镇", all_features=True)
    problems = within(registry, "儒林镇")
    assert 0 < len(problems) < len(every)
    for lid, part in problems.groupby("layer"):
        layer = registry.catalog[lid]
        if layer.problem is not None:
            assert problem_mask(layer, part).all(), lid
    open_violations = every[(every["layer"] == "violations") & (every["status"] != "已销号")]
    assert set(problems[problems["layer"] == "violations"]["fid"]) == set(open_violations["fid"])


def test_within_a_geojson_polygon(registry):
    box = shapely.box(119.5, 31.6, 119.6, 31.7)
    gdf = within(registry, mapping(box), layers="violations", all_features=True)
    all_ = registry.read("violations")
    hit = shapely.intersects(to_metric(np.asarray(all_.geometry.values, dtype=object)), to_metric(box))
    assert set(gdf["fid"]) == set(all_.index[hit])


def test_nearest_equals_brute_force_sorted(registry):
    point = shapely.Point(119.56, 31.72)
    gdf = nearest(registry, point, "sewage_plants", k=3)
    plants = registry.read("sewage_plants")
    d = shapely.distance(to_metric(np.asarray(plants.geometry.values, dtype=object)), to_metric(point))
    order = np.lexsort((plants.index.to_numpy(), d))[:3]
    assert gdf["fid"].tolist() == plants.index[order].tolist()
    assert gdf["distance_m"].to_numpy() == pytest.approx(d[order])


def test_nearest_with_max_distance_returns_only_close_features(registry):
    closest = nearest(registry, (119.56, 31.72), "sewage_plants", k=5)["distance_m"].to_numpy()
    limit = float(closest[1])  # exactly the second one's distance: inclusive
    gdf = nearest(registry, (119.56, 31.72), "sewage_plants", k=5, max_distance_m=limit)
    assert gdf["distance_m"].tolist() == closest[closest <= limit].tolist()
    assert len(gdf) >= 2
    below = float(closest[0]) * 0.99
    assert len(nearest(registry, (119.56, 31.72), "sewage_plants", k=5, max_distance_m=below)) == 0


def test_where_and_bbox_filters(registry):
    gdf = near(registry, "丹金溧漕河", 500, layers="violations", where={"status": "整改中"})
    assert len(gdf) and (gdf["status"] == "整改中").all()
    cql = near(registry, "丹金溧漕河", 500, layers="violations", where="status = '整改中'")
    assert cql["fid"].tolist() == gdf["fid"].tolist()
    box = (119.5, 31.5, 119.62, 31.75)
    boxed = near(registry, "丹金溧漕河", 500, layers="violations", bbox=box)
    assert len(boxed) and all(shapely.box(*box).intersects(g) for g in boxed.geometry)


# -- freshness ------------------------------------------------------------------------------------


def test_a_violation_added_through_the_registry_is_found_by_the_very_next_near(registry):
    before = near(registry, "丹金溧漕河", 50, layers="violations")
    reach = registry.read("rivers", where={"code": "HD-0003"}).geometry.iloc[0]
    fid = registry.add("violations", violation("QSL-T-NEW", town="金城镇"), point_at(reach, 20, registry))
    after = near(registry, "丹金溧漕河", 50, layers="violations")
    assert fid not in set(before["fid"]) and fid in set(after["fid"])
    state = RegistryIndexes.of(registry)
    assert state.applied >= 1
    builds = state.full_builds
    registry.update("violations", fid, {"status": "已销号"})
    assert fid not in set(near(registry, "丹金溧漕河", 50, layers="violations")["fid"])
    registry.update("violations", fid, {"status": "反弹"}, geometry=point_at(reach, 5000, registry))
    assert fid not in set(near(registry, "丹金溧漕河", 50, layers="violations")["fid"])
    registry.delete("violations", fid)
    assert fid not in set(near(registry, "丹金溧漕河", 5000, layers="violations")["fid"])
    assert state.full_builds == builds  # all of it incrementally


def test_a_write_from_another_connection_is_seen(registry, registry_name):
    near(registry, "丹金溧漕河", 50, layers="violations")  # build the indexes
    reach = registry.read("rivers", where={"code": "HD-0002"}).geometry.iloc[0]
    other = Registry.open(registry_name)
    try:
        fid = other.add("violations", violation("QSL-T-OTHER", town="西城街道"), point_at(reach, 10, other))
    finally:
        other.close()
    assert fid in set(near(registry, "丹金溧漕河", 50, layers="violations")["fid"])


def test_a_bulk_load_without_history_is_seen(registry):
    near(registry, "丹金溧漕河", 50, layers="violations")
    reach = registry.read("rivers", where={"code": "HD-0001"}).geometry.iloc[0]
    fids = registry.add_many(
        "violations", [(violation("QSL-T-BULK", town="直溪镇"), point_at(reach, 1, registry))], history=False
    )
    assert fids[0] in set(near(registry, "丹金溧漕河", 50, layers="violations")["fid"])


def test_queries_from_many_threads_agree(registry):
    want = near(registry, "丹金溧漕河", 100)["fid"].tolist()
    results, errors = [], []

    def ask():
        try:
            results.append(near(registry, "丹金溧漕河", 100)["fid"].tolist())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [want] * 6


def test_queries_while_another_connection_writes_end_equal_to_brute_force(registry, registry_name):
    reach = registry.read("rivers", where={"code": "HD-0004"}).geometry.iloc[0]
    errors: list[Exception] = []
    done = threading.Event()

    def write():
        other = Registry.open(registry_name)
        try:
            for i in range(15):
                other.add("violations", violation(f"QSL-T-W{i}", town="儒林镇"), point_at(reach, 3 * i, other))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            other.close()
            done.set()

    def read():
        try:
            while not done.is_set():
                near(registry, "丹金溧漕河", 50, layers="violations")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    got = near(registry, "丹金溧漕河", 50, layers="violations")
    want = brute_near(registry, "violations", got.attrs["target"], 50)
    assert as_dict(got, "violations") == pytest.approx(want)
    assert {f"QSL-T-W{i}" for i in range(15)} <= set(got["code"])


def test_random_registry_writes_stay_equal_to_brute_force(empty_registry):
    reg = empty_registry
    rng = np.random.default_rng(7)
    target = shapely.LineString([(119.55, 31.73), (119.56, 31.735), (119.57, 31.74)])
    live: list[int] = []
    for step in range(30):
        op = rng.choice(["add", "add", "update", "delete"]) if live else "add"
        p = shapely.Point(119.55 + rng.uniform(0, 0.02), 31.73 + rng.uniform(0, 0.01))
        if op == "add":
            live.append(reg.add("violations", violation(f"QSL-R-{step}"), p))
        elif op == "update":
            reg.update("violations", int(rng.choice(live)), geometry=p)
        else:
            fid = int(rng.choice(live))
            reg.delete("violations", fid)
            live.remove(fid)
        got = as_dict(near(reg, target, 300, layers="violations"), "violations")
        assert got == pytest.approx(brute_near(reg, "violations", target, 300))
    assert RegistryIndexes.of(reg).full_builds == 1


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["丹金溧漕", "丹金漕河"])
def test_an_unknown_name_suggests_the_closest(registry, typed):
    with pytest.raises(QueryError) as err:
        near(registry, typed, 50)
    assert err.value.status == 400
    assert err.value.details["suggestions"][0] == "丹金溧漕河"
    assert "丹金溧漕河" in err.value.message


def test_two_different_features_with_one_name_are_ambiguous(registry):
    lake = registry.read("lakes").geometry.iloc[0]
    registry.add("lakes", {"code": "HP-T-1", "name": "通济河"}, lake.buffer(-0.02))
    with pytest.raises(QueryError) as err:
        near(registry, "通济河", 50)
    candidates = err.value.details["candidates"]
    assert {c["layer"] for c in candidates} == {"rivers", "lakes"}
    assert {"code", "layer", "town"} <= set(candidates[0])
    assert "HP-T-1" in err.value.message
    assert len(near(registry, "lakes:通济河", 50)) >= 0  # the layer prefix settles it


def test_an_alias_shared_by_two_rivers_is_ambiguous_and_their_codes_settle_it(registry):
    reach = registry.read("rivers", where={"code": "HD-0001"}).iloc[0]
    props = {k: reach[k] for k in ("reach", "grade", "town", "chief", "chief_title", "scope_m")}
    registry.add("rivers", {**props, "code": "HD-9001", "name": "新丹金河", "aliases": "丹金河"},
                 shapely.affinity.translate(reach.geometry, 0.01, 0))
    with pytest.raises(QueryError) as err:
        near(registry, "丹金河", 50)
    names = {c["name"] for c in err.value.details["candidates"]}
    assert names == {"丹金溧漕河", "新丹金河"}
    assert "HD-9001" in err.value.message and "HD-0001" in err.value.message
    assert resolve_target(registry, "HD-9001").features == [("rivers", registry.read("rivers", where={"code": "HD-9001"}).index[0])]
    assert len(resolve_target(registry, "丹金溧漕河").features) == 4  # the name is still one river


@pytest.mark.parametrize("distance", [0, -5, "abc", float("nan"), float("inf"), 50_001, True, None])
def test_bad_distances_are_refused(registry, distance):
    with pytest.raises(QueryError):
        near(registry, "丹金溧漕河", distance)


def test_distance_units():
    assert to_meters("0.05", "kilometers") == 50
    assert to_meters(100, "feet") == pytest.approx(30.48)
    assert to_meters(1, "statute miles") == pytest.approx(1609.344)
    assert to_meters(1, "nautical miles") == 1852
    with pytest.raises(QueryError, match="unknown unit"):
        to_meters(1, "degrees")
    with pytest.raises(QueryError, match="50,000"):
        to_meters(51, "kilometers")
    # ArcGIS spellings, and a close unit for a typo
    assert to_meters(50, "esriSRUnit_Meter") == to_meters(50, "esriMeters") == 50
    assert to_meters(2, "esriSRUnit_Kilometer") == 2000
    assert to_meters(1, "esriSRUnit_NauticalMile") == 1852
    with pytest.raises(QueryError, match="did you mean kilomet"):
        to_meters(1, "kilomters")
    with pytest.raises(QueryError) as err:
        to_meters(1, "degrees")
    assert "did you mean" not in err.value.message


@pytest.mark.parametrize(
    "target, message",
    [
        ("POINT (119.5 31.7", "malformed WKT"),
        ('{"type": "Point", "coordinates": [119.5]}', "malformed GeoJSON"),
        ('{"type": "Point", ', "malformed GeoJSON"),
        ("POINT (500000 3500000)", "longitude/latitude"),
        ("POLYGON ((119.56 31.73, 119.561 31.731, 119.561 31.73, 119.56 31.731, 119.56 31.73))", "invalid geometry"),
        ("POINT EMPTY", "empty"),
        (OUTSIDE.wkt, "outside the district"),
    ],
)
def test_bad_geometries_are_refused(registry, target, message):
    with pytest.raises(QueryError, match=message):
        near(registry, target, 50)


def test_unknown_layer_lists_the_known_ones(registry):
    with pytest.raises(QueryError, match="known layers: .*violations") as err:
        near(registry, "丹金溧漕河", 50, layers="violations,rubbish")
    assert err.value.status == 400


def test_a_bad_filter_is_refused_even_when_nothing_is_near(registry):
    with pytest.raises(QueryError, match="unknown property 'colour'"):
        near(registry, "丹金溧漕河", 0.001, layers="violations", where="colour = 'red'")
    with pytest.raises(QueryError, match="position"):
        within(registry, "POINT (119.57 31.74)", layers="violations", where="status =")


def test_a_filter_property_some_layers_lack_names_the_layers_that_have_it(registry):
    with pytest.raises(QueryError) as err:
        near(registry, "丹金溧漕河", 500, where="category = '乱堆'")  # the default problem layers
    assert "is not a field of micro_water_bodies, black_odorous" in err.value.message
    assert "layers=violations" in err.value.message
    shared = near(registry, "丹金溧漕河", 500, where="status = '整改中'")  # a field all of them have
    assert len(shared) and (shared["status"] == "整改中").all()


def test_other_bad_parameters(registry):
    with pytest.raises(QueryError, match="k must be"):
        nearest(registry, INSIDE, "sewage_plants", k=0)
    with pytest.raises(QueryError, match="bbox"):
        near(registry, "丹金溧漕河", 50, bbox="1,2,3")
    with pytest.raises(QueryError, match="unknown field"):
        near(registry, "丹金溧漕河", 50, where={"colour": "red"})
    with pytest.raises(QueryError, match="outside the district"):
        nearest(registry, OUTSIDE, "sewage_plants")
    with pytest.raises(QueryError, match="not a code, name or alias in towns"):
        within(registry, "不存在镇", layers="violations")
    with pytest.raises(QueryError, match="儒林镇 is a town, and towns are areas for within"):
        near(registry, "儒林镇", 50)


# -- properties through the registry ---------------------------------------------------------------

_X0, _Y0 = 465_000.0, 3_510_000.0
_metric_xy = st.tuples(st.floats(0, 3000), st.floats(0, 3000)).map(lambda p: (_X0 + p[0], _Y0 + p[1]))


def _any_geometry_catalog():
    """The catalog with a ``projects`` layer taking any geometry (as it did before one type
    per layer), so one layer holds the random points, lines and polygons below."""
    import dataclasses

    from layers import Catalog, load_catalog

    return Catalog([dataclasses.replace(x, geometry="Geometry") if x.id == "projects" else x
                    for x in load_catalog() if x.split_from != "projects"])


@st.composite
def _project_geometry(draw):
    """A random point, line or polygon (metric), held by one any-geometry layer."""
    kind = draw(st.sampled_from(["point", "line", "polygon"]))
    if kind == "point":
        return shapely.Point(draw(_metric_xy))
    if kind == "line":
        return shapely.LineString(draw(st.lists(_metric_xy, min_size=2, max_size=12, unique=True)))
    x, y = draw(_metric_xy)
    w, h = draw(st.floats(5, 400)), draw(st.floats(5, 400))
    return shapely.box(x, y, x + w, y + h)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    geoms=st.lists(_project_geometry(), min_size=1, max_size=15),
    probe=_project_geometry(),
    k=st.integers(1, 6),
    distance=st.floats(1, 2500),
)
def test_near_within_nearest_through_the_registry_equal_brute_force(tmp_path_factory, geoms, probe, k, distance):
    path = tmp_path_factory.mktemp("prop") / "r.gpkg"
    reg = Registry.create(path, catalog=_any_geometry_catalog())
    try:
        lonlat = from_metric(np.array(geoms, dtype=object))
        reg.add_many("projects", [({"code": f"GC-{i}", "name": f"工程{i}"}, g) for i, g in enumerate(lonlat)])
        stored = reg.read("projects")
        metric = to_metric(np.asarray(stored.geometry.values, dtype=object))
        target = from_metric(probe)
        d = shapely.distance(metric, to_metric(target))
        fids = stored.index.to_numpy()

        got = near(reg, target, distance, layers="projects")
        assert dict(zip(got["fid"], got["distance_m"], strict=True)) == pytest.approx(
            {int(f): float(v) for f, v in zip(fids, d, strict=True) if v <= distance}
        )
        inside = within(reg, target, layers="projects")
        assert set(inside["fid"]) == set(fids[shapely.intersects(metric, to_metric(target))].tolist())
        closest = nearest(reg, target, "projects", k=k)
        order = np.lexsort((fids, d))[:k]
        assert closest["fid"].tolist() == fids[order].tolist()
        capped = nearest(reg, target, "projects", k=k, max_distance_m=distance)
        assert capped["fid"].tolist() == [f for f in fids[order].tolist() if d[fids.tolist().index(f)] <= distance]
    finally:
        reg.close()


_write = st.tuples(st.sampled_from(["add", "update", "delete"]), st.integers(0, 1000), _project_geometry())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    initial=st.lists(_project_geometry(), min_size=0, max_size=8),
    writes=st.lists(_write, min_size=1, max_size=12),
    probe=_project_geometry(),
    distance=st.floats(1, 2500),
)
def test_registry_answers_after_random_writes_equal_a_fresh_rebuild(tmp_path_factory, initial, writes, probe, distance):
    # Writes go through the registry one by one, each followed by a question (so the
    # indexes are kept current incrementally); then a second connection, whose indexes
    # are built from scratch, must give the same answers.
    path = tmp_path_factory.mktemp("rebuild") / "r.gpkg"
    reg_catalog = _any_geometry_catalog()
    reg = Registry.create(path, catalog=reg_catalog)
    fresh = None
    try:
        target = from_metric(probe)
        live = reg.add_many("projects", [({"code": f"GC-{i}", "name": f"工程{i}"}, from_metric(g))
                                         for i, g in enumerate(initial)]) if initial else []
        near(reg, target, distance, layers="projects")  # the indexes exist before the writes
        for step, (op, pick, geom) in enumerate(writes):
            if op == "add" or not live:
                live.append(reg.add("projects", {"code": f"GC-W{step}", "name": f"新工程{step}"}, from_metric(geom)))
            elif op == "update":
                reg.update("projects", live[pick % len(live)], geometry=from_metric(geom))
            else:
                reg.delete("projects", live.pop(pick % len(live)))
            near(reg, target, distance, layers="projects")
        assert RegistryIndexes.of(reg).full_builds == 1  # every write applied incrementally

        fresh = Registry.open(path, catalog=reg_catalog)

        def answers(r: Registry):
            return (
                as_dict(near(r, target, distance, layers="projects"), "projects"),
                sorted(within(r, target, layers="projects")["fid"].tolist()),
                nearest(r, target, "projects", k=3)["fid"].tolist() if live else [],
            )

        got, want = answers(reg), answers(fresh)
        assert got[0] == pytest.approx(want[0]) and got[1:] == want[1:]
        assert RegistryIndexes.of(fresh).full_builds == 1
    finally:
        reg.close()
        if fresh is not None:
            fresh.close()

