"""The GeoPackage registry: standard file, validated row-level writes, edit history."""

from __future__ import annotations

import multiprocessing
import sqlite3

import fiona
import pyogrio
import pytest
import shapely
from samples import BOWTIE, EMPTY, INSIDE, LINE, OUTSIDE, SQUARE, violation
from shapely.geometry import LineString, Point, box

from geo.errors import ConflictError, NotFoundError, RegistryFileError, ValidationError
from geo.registry import Registry, UnknownLayerError

# A rough box around Jintan, enough to exercise the outside-the-district check.
DISTRICT_BOX = box(119.30, 31.50, 119.80, 31.95)


@pytest.fixture
def reg(tmp_path):
    r = Registry.create(tmp_path / "t.gpkg", metadata={"title": "test"})
    r.add("district", {"code": "320413", "name": "金坛区"}, DISTRICT_BOX)
    r.add("towns", {"code": "320413100", "name": "金城镇"}, box(119.5, 31.7, 119.65, 31.8))
    yield r
    r.close()


def content(path) -> list[str]:
    """Every row of every table, as SQL: what "unchanged in content" compares."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


# -- the file is a normal GeoPackage ---------------------------------------------------


def test_every_layer_is_a_feature_table_in_epsg_4326_with_a_spatial_index(reg):
    layers = dict(pyogrio.list_layers(reg.path))
    for layer in reg.catalog:
        assert layer.id in layers
        info = pyogrio.read_info(reg.path, layer=layer.id)
        assert info["crs"] == "EPSG:4326"
        assert info["capabilities"]["fast_spatial_filter"], layer.id
    conn = sqlite3.connect(reg.path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    ext = {r[0] for r in conn.execute("SELECT table_name FROM gpkg_extensions WHERE extension_name='gpkg_rtree_index'")}
    assert ext == set(reg.catalog.ids)


def test_features_read_back_with_pyogrio_and_fiona_equal_the_registry(reg):
    fids = reg.add_many(
        "violations",
        [(violation(f"QSL-T-{i:04d}", category=c), Point(119.57 + i * 0.001, 31.74))
         for i, c in enumerate(["乱占", "乱采", "乱堆", "乱建"])],
    )
    reg.add("rivers", {"code": "HD-1", "name": "丹金溧漕河", "grade": "区级", "five_good": True}, LINE)
    ours = reg.read("violations")
    theirs = pyogrio.read_dataframe(reg.path, layer="violations", fid_as_index=True)
    assert list(theirs.index) == fids == list(ours.index)
    assert list(theirs["code"]) == list(ours["code"])
    assert list(theirs["category"]) == ["乱占", "乱采", "乱堆", "乱建"]
    assert all(theirs.geometry.geom_equals_exact(ours.geometry, tolerance=0))
    assert [str(d.date()) for d in theirs["found_on"]] == list(ours["found_on"])
    with fiona.open(reg.path, layer="rivers") as src:
        feats = list(src)
    assert len(feats) == 1
    assert feats[0]["properties"]["name"] == "丹金溧漕河"
    assert feats[0]["properties"]["five_good"] is True
    assert shapely.geometry.shape(feats[0]["geometry"]).equals(reg.read("rivers").geometry.iloc[0])


def test_gdal_bbox_filter_uses_the_index_we_maintain(reg):
    reg.add("violations", violation("A"), Point(119.57, 31.74))
    reg.add("violations", violation("B"), Point(119.40, 31.60))
    df = pyogrio.read_dataframe(reg.path, layer="violations", bbox=(119.5, 31.7, 119.6, 31.8))
    assert list(df["code"]) == ["A"]
    assert list(reg.read("violations", bbox=(119.5, 31.7, 119.6, 31.8))["code"]) == ["A"]


def test_a_feature_written_by_gdal_is_read_by_the_registry(reg):
    with fiona.open(reg.path, "a", layer="violations") as dst:
        props = dict.fromkeys(dst.schema["properties"])
        props.update({"code": "QGIS-1", "category": "乱建", "status": "已交办", "found_on": "2021-05-01"})
        dst.write({"geometry": {"type": "Point", "coordinates": (119.58, 31.75)}, "properties": props})
    got = reg.read("violations", where={"code": "QGIS-1"})
    assert len(got) == 1 and got.geometry.iloc[0].equals(Point(119.58, 31.75))
    assert reg.read("violations", bbox=(119.575, 31.745, 119.585, 31.755))["code"].tolist() == ["QGIS-1"]


# -- reading ---------------------------------------------------------------------------


def test_read_filters_by_bbox_and_attributes(reg):
    reg.add("violations", violation("A", status="整改中"), Point(119.57, 31.74))
    reg.add("violations", violation("B", status="已销号", closed_on="2021-06-01"), Point(119.571, 31.741))
    reg.add("violations", violation("C", status="整改中"), Point(119.40, 31.60))
    assert reg.read("violations", where={"status": "整改中"})["code"].tolist() == ["A", "C"]
    assert reg.read("violations", where={"status": ["整改中", "已销号"]}, bbox=(119.5, 31.7, 119.6, 31.8))["code"].tolist() == ["A", "B"]
    assert reg.read("violations", problems_only=True)["code"].tolist() == ["A", "C"]
    assert reg.count("violations") == 3
    assert reg.count("violations", where={"status": "整改中"}) == 2
    with pytest.raises(ValidationError, match="field colour"):
        reg.read("violations", where={"colour": "red"})


def test_get_unknown_feature_and_unknown_layer_say_so(reg):
    with pytest.raises(NotFoundError, match="no feature 999"):
        reg.get("violations", 999)
    with pytest.raises(UnknownLayerError, match="unknown layer 'violation'.*violations"):
        reg.read("violation")


# -- writing and history ------------------------------------------------------------------


def test_add_update_delete_round_trip_is_recorded_in_history(reg):
    fid = reg.add("violations", violation("QSL-1"), INSIDE, user="王河长")
    reg.update("violations", fid, {"status": "已交办", "unit": "金城镇人民政府", "deadline": "2021-05-01"}, user="李科员")
    moved = Point(119.571, 31.741)
    reg.update("violations", fid, geometry=moved, user="李科员")
    f = reg.get("violations", fid)
    assert f["properties"]["status"] == "已交办" and f["geometry"].equals(moved)
    reg.delete("violations", fid, user="admin")
    with pytest.raises(NotFoundError):
        reg.get("violations", fid)
    hist = reg.history("violations", fid)
    assert [h["op"] for h in hist] == ["add", "update", "update", "delete"]
    assert [h["user"] for h in hist] == ["王河长", "李科员", "李科员", "admin"]
    assert hist[0]["before"] is None and hist[0]["after"]["properties"]["code"] == "QSL-1"
    assert hist[1]["before"]["properties"]["status"] == "待交办"
    assert hist[1]["after"]["properties"]["status"] == "已交办"
    assert hist[2]["after"]["geometry"]["coordinates"] == [119.571, 31.741]
    assert hist[3]["after"] is None and hist[3]["before"]["properties"]["status"] == "已交办"
    assert all(h["at"].endswith("Z") for h in hist)


def test_single_lines_and_polygons_are_stored_as_multi(reg):
    fid = reg.add("micro_water_bodies", {"code": "W1", "name": "东塘", "kind": "塘", "town": "金城镇", "status": "正常"}, SQUARE)
    assert reg.get("micro_water_bodies", fid)["geometry"].geom_type == "MultiPolygon"


def test_stale_expected_version_is_a_conflict_and_writes_nothing(reg):
    fid = reg.add("violations", violation("QSL-1"), INSIDE)
    seen = reg.get("violations", fid)
    reg.update("violations", fid, {"status": "已交办"}, expected=seen)
    before = content(reg.path)
    with pytest.raises(ConflictError):
        reg.update("violations", fid, {"status": "整改中"}, expected=seen)
    with pytest.raises(ConflictError):
        reg.delete("violations", fid, expected=seen)
    assert content(reg.path) == before


BAD_WRITES = [
    ("wrong geometry type", "violations", violation(), LINE, "geometry", "LineString does not fit"),
    ("missing required field", "violations", {k: v for k, v in violation().items() if k != "category"}, INSIDE, "category", "required"),
    ("value outside its enum", "violations", violation(category="乱倒"), INSIDE, "category", "must be one of"),
    ("non-numeric number", "sewage_plants", {"code": "P", "name": "厂", "status": "运行", "capacity_m3d": "很多"}, INSIDE, "capacity_m3d", "expected a number"),
    ("bad date", "violations", violation(found_on="2021-02-30"), INSIDE, "found_on", "calendar date"),
    ("outside the district", "violations", violation(), OUTSIDE, "geometry", "outside Jintan"),
    ("swapped lon/lat", "violations", violation(), Point(31.74, 119.57), "geometry", "not longitude/latitude"),
    ("empty geometry", "violations", violation(), EMPTY, "geometry", "empty"),
    ("invalid polygon", "micro_water_bodies", {"code": "W", "name": "塘", "kind": "塘", "town": "金城镇", "status": "问题"}, BOWTIE, "geometry", "invalid geometry"),
    ("unknown field", "violations", violation(colour="red"), INSIDE, "colour", "unknown field"),
]


@pytest.mark.parametrize("case", BAD_WRITES, ids=[c[0] for c in BAD_WRITES])
def test_bad_write_names_layer_field_and_leaves_the_file_unchanged(reg, case):
    _, layer, props, geom, field, message = case
    before = content(reg.path)
    with pytest.raises(ValidationError) as err:
        reg.add(layer, props, geom)
    assert err.value.layer == layer and err.value.field == field
    assert message in str(err.value) and layer in str(err.value)
    assert content(reg.path) == before
    assert len(pyogrio.read_dataframe(reg.path, layer=layer)) == reg.count(layer)


def test_duplicate_code_is_refused_and_a_batch_is_all_or_nothing(reg):
    reg.add("violations", violation("DUP"), INSIDE)
    before = content(reg.path)
    with pytest.raises(ValidationError, match="already used"):
        reg.add("violations", violation("DUP"), INSIDE)
    with pytest.raises(ValidationError, match="row 3.*category"):
        reg.add_many("violations", [(violation("N1"), INSIDE), (violation("N2"), INSIDE), (violation("N3", category="x"), INSIDE)])
    with pytest.raises(ValidationError, match="row 2.*already used"):
        reg.add_many("violations", [(violation("N4"), INSIDE), (violation("N4"), INSIDE)])
    assert content(reg.path) == before


def test_unknown_layer_write_is_refused(reg):
    before = content(reg.path)
    with pytest.raises(UnknownLayerError, match="rivres"):
        reg.add("rivres", {"code": "x"}, LINE)
    assert content(reg.path) == before


def test_update_validates_like_add(reg):
    fid = reg.add("violations", violation("U"), INSIDE)
    before = content(reg.path)
    with pytest.raises(ValidationError, match="status"):
        reg.update("violations", fid, {"status": "完成"})
    with pytest.raises(ValidationError, match="outside"):
        reg.update("violations", fid, geometry=OUTSIDE)
    assert content(reg.path) == before


# -- opening -------------------------------------------------------------------------


def test_opening_a_file_that_is_not_a_geopackage_says_so(tmp_path):
    p = tmp_path / "notes.gpkg"
    p.write_text("河长制 notes, not a database", encoding="utf-8")
    with pytest.raises(RegistryFileError, match="not a GeoPackage"):
        Registry.open(p)
    with pytest.raises(RegistryFileError, match="no such registry"):
        Registry.open(tmp_path / "missing.gpkg")
    with pytest.raises(RegistryFileError, match="folder"):
        Registry.open(tmp_path)


def test_opening_a_plain_geopackage_names_the_missing_registry_tables(tmp_path):
    import geopandas as gpd

    p = tmp_path / "plain.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[INSIDE], crs=4326).to_file(p, layer="x")
    before = p.read_bytes()
    with pytest.raises(RegistryFileError, match="not a hehu registry.*hehu_meta"):
        Registry.open(p)
    assert p.read_bytes() == before


def test_create_refuses_to_overwrite(tmp_path):
    p = tmp_path / "r.gpkg"
    Registry.create(p).close()
    with pytest.raises(RegistryFileError, match="already exists"):
        Registry.create(p)


# -- concurrency -----------------------------------------------------------------------


def _writer(path: str, prefix: str, n: int) -> None:
    reg = Registry.open(path)
    for i in range(n):
        reg.add("violations", violation(f"{prefix}-{i:04d}"), Point(119.57 + i * 1e-5, 31.74), user=prefix)
    reg.close()


def test_two_processes_writing_at_once_lose_nothing(reg):
    reg.close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(reg.path), p, 200)) for p in ("A", "B")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    r = Registry.open(reg.path)
    assert r.count("violations") == 400
    assert len(r.read("violations")) == 400
    assert len(r.history("violations")) == 400
    assert {h["user"] for h in r.history("violations")} == {"A", "B"}
    assert len(pyogrio.read_dataframe(r.path, layer="violations")) == 400
    r.close()


def test_new_catalog_layers_are_added_when_an_older_file_is_opened(tmp_path):
    from layers import Catalog, load_catalog

    full = load_catalog()
    older = Catalog([x for x in full if x.id != "projects"])
    p = tmp_path / "old.gpkg"
    Registry.create(p, catalog=older).close()
    assert "projects" not in dict(pyogrio.list_layers(p))
    r = Registry.open(p)
    assert r.count("projects") == 0
    r.add("projects", {"code": "P1", "name": "河道整治"}, LineString([(119.55, 31.73), (119.56, 31.74)]))
    r.close()
    assert "projects" in dict(pyogrio.list_layers(p))


def test_version_is_shared_by_threads_and_moves_on_any_write(reg):
    import threading

    seen = []
    t = threading.Thread(target=lambda: seen.append(reg.version()))
    t.start()
    t.join()
    assert seen == [reg.version()]  # caches shared by server threads can key on it
    before = reg.version()
    other = Registry.open(reg.path)  # another connection, as another process would be
    other.add("violations", violation("V-OTHER"), INSIDE)
    other.close()
    assert reg.version() != before
