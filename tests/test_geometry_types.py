"""One geometry type per layer: the split of projects and black-odorous waters into line
and area layers, the migration of registries made with the old mixed layers (GeoPackage
on open, PostGIS by ``hehu db upgrade``), and every write path refusing a misfit."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pyogrio
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from geo.check import check_registry
from geo.demo import demo_layers
from geo.errors import RegistryFileError, ValidationError
from geo.export import export
from geo.registry import Registry
from layers import Catalog, CatalogError, load_catalog
from layers.loader import _layer

CATALOG = load_catalog()
SPLIT = {"project_areas": "projects", "black_odorous_areas": "black_odorous"}
POND = Polygon([(119.43, 31.65), (119.432, 31.65), (119.432, 31.652), (119.43, 31.652)])
DITCH = LineString([(119.53, 31.72), (119.54, 31.73)])


def old_catalog() -> Catalog:
    """The catalog as it was before the split: projects and black_odorous take any geometry."""
    return Catalog([
        dataclasses.replace(layer, geometry="Geometry") if layer.id in SPLIT.values() else layer
        for layer in CATALOG if layer.id not in SPLIT
    ])


def fill_old(reg: Registry) -> dict:
    """The demo's projects (lines and the lake polygon) and black-odorous waters (ditches and
    one pond) written into the old mixed layers, with an edit to the moving features."""
    demo = demo_layers()
    reg.add_many("projects", [*demo["projects"], *demo["project_areas"]], user="demo")
    reg.add_many("black_odorous", [*demo["black_odorous"],
                                   ({"code": "HC-P1", "name": "黑臭塘", "town": "金城镇", "status": "黑臭"}, POND)],
                 user="demo")
    area = reg.find("projects", "GC-02")
    reg.update("projects", area["fid"], {"status": "完工"}, user="编辑甲")
    pond = reg.find("black_odorous", "HC-P1")
    reg.update("black_odorous", pond["fid"], {"status": "整治中"}, user="编辑乙")
    return {"projects": 5, "project_areas": 1, "black_odorous": 6, "black_odorous_areas": 1}


def assert_migrated(reg: Registry, counts: dict) -> None:
    for lid, n in counts.items():
        assert reg.count(lid) == n, lid
    area = reg.find("project_areas", "GC-02")
    assert area["properties"]["name"] == "长荡湖退圩还湖生态修复工程"
    assert area["properties"]["status"] == "完工" and area["geometry"].geom_type == "MultiPolygon"
    past = reg.history("project_areas", area["fid"])
    # Its whole past followed it: the first add, the edit, and the move.
    assert [(h["op"], h["user"]) for h in past] == [("add", "demo"), ("update", "编辑甲"), ("add", "hehu-migration")]
    pond = reg.find("black_odorous_areas", "HC-P1")
    assert pond["properties"]["status"] == "整治中"
    assert {h["user"] for h in reg.history("black_odorous_areas", pond["fid"])} == {"demo", "编辑乙", "hehu-migration"}
    assert set(reg.read("projects").geometry.geom_type) == {"MultiLineString"}
    assert set(reg.read("black_odorous").geometry.geom_type) == {"MultiLineString"}
    assert check_registry(reg) == []


# -- the catalog ------------------------------------------------------------------------------


def test_every_layer_declares_exactly_one_geometry_type():
    assert {layer.geometry for layer in CATALOG if not layer.geometry_optional} <= {"Point", "LineString", "Polygon"}
    for new, source in SPLIT.items():
        assert CATALOG[new].split_from == source
        assert CATALOG[new].field_names == CATALOG[source].field_names
        assert CATALOG[new].problem == CATALOG[source].problem


def test_the_catalog_refuses_a_layer_of_any_geometry():
    with pytest.raises(CatalogError, match="one type per layer"):
        _layer({"id": "mixed", "title_zh": "混合", "title_en": "Mixed", "geometry": "Geometry",
                "id_field": "code", "label_field": "code", "fields": [], "style": {"color": "#000"}})


def test_the_demo_holds_the_lake_restoration_as_an_area_work(demo_path):
    with Registry.open(demo_path) as reg:
        assert reg.find("project_areas", "GC-02")["geometry"].geom_type == "MultiPolygon"
        assert reg.count("projects") == 5


def test_gdal_reads_one_geometry_type_per_layer(demo_path):
    types = dict(pyogrio.list_layers(demo_path))
    expected = {"Point": "Point", "LineString": "MultiLineString", "Polygon": "MultiPolygon"}
    for layer in CATALOG:
        if layer.geometry_optional:
            continue
        assert types[layer.id] == expected[layer.geometry], layer.id
    frame = pyogrio.read_dataframe(demo_path, layer="project_areas")
    assert frame["name"].tolist() == ["长荡湖退圩还湖生态修复工程"]


@pytest.mark.parametrize("fmt", ["csv", "geojson"])
def test_csv_and_geojson_exports_keep_every_feature(demo_path, tmp_path, fmt):
    with Registry.open(demo_path) as reg:
        for lid in ("projects", "project_areas", "black_odorous"):
            out = tmp_path / f"{lid}.{fmt}"
            export(reg, lid, fmt, out)
            if fmt == "csv":
                frame = pyogrio.read_dataframe(out, encoding="utf-8-sig")
            else:
                frame = pyogrio.read_dataframe(out)
            assert sorted(frame["code"]) == sorted(reg.read(lid)["code"]), lid


# -- every write path refuses a misfit -----------------------------------------------------------


def test_the_registry_refuses_a_polygon_in_a_line_layer(registry):
    before = registry.count("projects")
    with pytest.raises(ValidationError) as err:
        registry.add("projects", {"code": "GC-X", "name": "片区工程"}, POND)
    assert err.value.field == "geometry" and err.value.layer == "projects"
    fid = registry.find("projects", "GC-01")["fid"]
    with pytest.raises(ValidationError):
        registry.update("projects", fid, geometry=POND)
    assert registry.count("projects") == before


def test_the_api_refuses_a_misfit_with_400(app, client):
    from geo.users import add_user

    token = add_user(app.extensions["hehu_registry"], "u-geom", "editor", iterations=1000)
    feature = {"type": "Feature", "properties": {"code": "GC-X", "name": "片区工程"},
               "geometry": shapely.geometry.mapping(POND)}
    r = client.post("/collections/projects/items", json=feature, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400 and "geometry" in json.dumps(r.get_json(), ensure_ascii=False)
    r = client.post("/collections/project_areas/items", json=feature, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201


def test_an_import_refuses_a_misfit_and_writes_nothing(registry, tmp_path):
    from geo.importer.run import import_file

    src = tmp_path / "works.geojson"
    src.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "GC-L", "name": "线工程"}, "geometry": shapely.geometry.mapping(DITCH)},
        {"type": "Feature", "properties": {"code": "GC-A", "name": "面工程"}, "geometry": shapely.geometry.mapping(POND)},
    ]}, ensure_ascii=False), encoding="utf-8")
    before = registry.count("projects")
    report = import_file(registry, src, "projects")
    assert any(p.field == "geometry" for p in report.problems)
    assert registry.count("projects") == before


@pytest.mark.filterwarnings("ignore:A geometry of type POLYGON is inserted")
def test_check_names_a_misfit_another_tool_wrote(demo_copy):
    import geopandas as gpd

    frame = gpd.GeoDataFrame({"code": ["GC-Q"], "name": ["QGIS 画的面"]}, geometry=[POND], crs="EPSG:4326")
    pyogrio.write_dataframe(frame, demo_copy, layer="projects", append=True)
    with Registry.open(demo_copy) as reg:
        found = [f for f in check_registry(reg, ["projects"]) if f.problem == "geometry-type"]
    assert [(f.layer, f.value) for f in found] == [("projects", "Polygon")]


# -- migrating registries made with the mixed layers ----------------------------------------------


def test_a_geopackage_with_mixed_layers_is_split_on_open(tmp_path):
    path = tmp_path / "old.gpkg"
    with Registry.create(path, catalog=old_catalog()) as old:
        counts = fill_old(old)
        last = old.last_change()
    assert dict(pyogrio.list_layers(path))["projects"] == "Unknown"
    with Registry.open(path) as reg:
        assert_migrated(reg, counts)
        # Caches following the history see the move: a delete in the old layer, an add in the new.
        moves = reg.store.changes_since(last)
        assert {lid for lid, _ in moves} == {"projects", "project_areas", "black_odorous", "black_odorous_areas"}
    types = dict(pyogrio.list_layers(path))
    assert types["projects"] == "MultiLineString" and types["project_areas"] == "MultiPolygon"
    assert types["black_odorous"] == "MultiLineString" and types["black_odorous_areas"] == "MultiPolygon"
    # Opening again changes nothing.
    with Registry.open(path) as reg:
        assert reg.last_change() == last + 4
        assert_migrated(reg, counts)


def test_the_geopackage_split_is_one_transaction(tmp_path, monkeypatch):
    import geo.stores.gpkg_schema as gpkg

    path = tmp_path / "old.gpkg"
    with Registry.create(path, catalog=old_catalog()) as old:
        fill_old(old)

    def boom(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(gpkg, "_settle_source", boom)
    with pytest.raises(RuntimeError):
        Registry.open(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM projects").fetchone()[0] == 6
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'project_areas'").fetchone()[0] == 0
    conn.close()


def test_a_misfit_stays_in_its_layer_and_check_names_it(tmp_path):
    path = tmp_path / "old.gpkg"
    with Registry.create(path, catalog=old_catalog()) as old:
        old.add("projects", {"code": "GC-P", "name": "泵站"}, Point(119.5, 31.7))
        old.add("projects", {"code": "GC-L", "name": "河道"}, DITCH)
    with Registry.open(path) as reg:
        assert reg.count("projects") == 2
        found = check_registry(reg, ["projects"])
    assert [(f.problem, f.value) for f in found] == [("geometry-type", "Point")]


def test_a_postgis_registry_with_mixed_layers_is_split_by_db_upgrade(pg_cluster):
    import pg

    from geo.stores.postgis import PostGISStore

    schema = pg.new_schema()
    uri = pg_cluster.uri(schema)
    try:
        with Registry.create(uri, catalog=old_catalog()) as old:
            counts = fill_old(old)
        with pytest.raises(RegistryFileError, match="hehu db upgrade"):
            Registry.open(uri)
        done = PostGISStore.upgrade(uri, CATALOG)
        assert "layer project_areas" in done and "geometry type of projects: LineString" in done
        with Registry.open(uri) as reg:
            assert_migrated(reg, counts)
            with pytest.raises(ValidationError):
                reg.add("projects", {"code": "GC-X", "name": "片区"}, POND)
        assert PostGISStore.upgrade(uri, CATALOG) == []
    finally:
        pg_cluster.drop_schema(schema)
