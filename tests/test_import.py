"""Import from every supported format and CRS: what lands, what is refused, and why.

Every input file is generated in ``tmp_path`` from the truth points below (see
``tests/data/README.md``); the tests compare what the registry holds afterwards with
that truth.
"""

from __future__ import annotations

import json
import shutil
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import Point, Polygon

from cli.main import main as hehu
from geo.crs import to_metric, transform_coords, transform_geometry, wgs84_to_bd09, wgs84_to_gcj02
from geo.importer import ImportFileError, ImportOptions, import_file
from geo.registry import Registry

# Two points well inside Jintan (WGS84 lon/lat), the truth every file is made from.
TRUTH = [(119.57, 31.74), (119.45, 31.65)]


def rows(prefix: str = "IMP") -> list[dict]:
    return [
        {"code": f"{prefix}-1", "category": "乱堆", "status": "待交办", "found_on": "2021-05-01", "town": "金城镇"},
        {"code": f"{prefix}-2", "category": "乱建", "status": "已交办", "found_on": "2021-05-02", "town": "直溪镇"},
    ]


def frame(crs: str = "EPSG:4326", prefix: str = "IMP") -> gpd.GeoDataFrame:
    """The truth as a GeoDataFrame in ``crs``."""
    pts = shapely.points(np.array(TRUTH))
    return gpd.GeoDataFrame(rows(prefix), geometry=transform_geometry(pts, "EPSG:4326", crs), crs=crs)


def stored(registry, codes=("IMP-1", "IMP-2")) -> gpd.GeoDataFrame:
    gdf = registry.read("violations", where={"code": list(codes)})
    return gdf.set_index("code").loc[list(codes)]


def assert_landed(registry, tol_m: float = 0.01, codes=("IMP-1", "IMP-2")) -> None:
    got = stored(registry, codes)
    truth = to_metric(shapely.points(np.array(TRUTH)))
    err = shapely.distance(to_metric(got.geometry.values), truth)
    assert (err <= tol_m).all(), err
    assert list(got["category"]) == ["乱堆", "乱建"]
    assert list(got["found_on"]) == ["2021-05-01", "2021-05-02"]


def snapshot(registry) -> tuple:
    """Everything an import could change: every layer's rows and the history length."""
    counts = tuple(registry.count(layer.id) for layer in registry.layers)
    return counts, registry.store.last_change()


def run(registry, path, layer="violations", **options):
    return import_file(registry, path, layer, ImportOptions(**options), user="tester")


# -- formats -------------------------------------------------------------------------------


def write_geojson(tmp_path: Path) -> Path:
    path = tmp_path / "v.geojson"
    frame().to_file(path, driver="GeoJSON")
    return path


def write_gpkg(tmp_path: Path) -> Path:
    path = tmp_path / "v.gpkg"
    pyogrio.write_dataframe(frame(), path, layer="violations")
    return path


def write_shp_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(frame(), folder / "v.shp", encoding="UTF-8")
    return folder


def write_shp_zip(tmp_path: Path) -> Path:
    folder = write_shp_folder(tmp_path)
    path = tmp_path / "v.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f"v/{f.name}")
    return path


def write_kml(tmp_path: Path) -> Path:
    path = tmp_path / "v.kml"
    pyogrio.write_dataframe(frame(), path, driver="LIBKML")
    return path


def write_kmz(tmp_path: Path) -> Path:
    kml = write_kml(tmp_path)
    path = tmp_path / "v.kmz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(kml, "doc.kml")
    return path


def table(xy=TRUTH, names=("lon", "lat")) -> pd.DataFrame:
    df = pd.DataFrame(rows())
    df[names[0]] = [p[0] for p in xy]
    df[names[1]] = [p[1] for p in xy]
    return df


def write_csv(tmp_path: Path) -> Path:
    path = tmp_path / "v.csv"
    table().to_csv(path, index=False)
    return path


def write_xlsx(tmp_path: Path) -> Path:
    path = tmp_path / "v.xlsx"
    table(names=("经度", "纬度")).to_excel(path, index=False)
    return path


WRITERS = {
    "geojson": write_geojson,
    "gpkg": write_gpkg,
    "shapefile-folder": write_shp_folder,
    "shapefile-zip": write_shp_zip,
    "kml": write_kml,
    "kmz": write_kmz,
    "csv": write_csv,
    "xlsx": write_xlsx,
}


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_every_format_imports_the_truth(registry, tmp_path, fmt):
    path = WRITERS[fmt](tmp_path)
    report = run(registry, path)
    assert report.ok and report.written, report.text()
    assert report.added == 2
    assert_landed(registry)
    history = registry.history("violations", report.fids[0])
    assert history[-1]["op"] == "add" and history[-1]["user"] == "tester"


def test_xlsx_numbers_and_dates_from_excel_are_coerced(registry, tmp_path):
    df = table()
    df["code"] = [20210001, 20210002]  # Excel keeps codes as numbers
    df["found_on"] = pd.to_datetime(df["found_on"])
    path = tmp_path / "n.xlsx"
    df.to_excel(path, index=False)
    report = run(registry, path)
    assert report.written, report.text()
    got = stored(registry, ("20210001", "20210002"))
    assert list(got["found_on"]) == ["2021-05-01", "2021-05-02"]


# -- CRS -------------------------------------------------------------------------------------


@pytest.mark.parametrize("epsg", ["EPSG:4326", "EPSG:4490", "EPSG:4549", "EPSG:4528"])
def test_a_file_that_states_its_crs_is_converted(registry, tmp_path, epsg):
    path = tmp_path / "v.gpkg"
    pyogrio.write_dataframe(frame(epsg), path)
    report = run(registry, path)
    assert report.written and report.crs == epsg, report.text()
    assert_landed(registry, tol_m=0.01 if epsg != "EPSG:4490" else 1.0)


def test_epsg_4528_shapefile_with_zone_prefixed_x(registry, tmp_path):
    gdf = frame("EPSG:4528")
    assert (gdf.geometry.x > 40_000_000).all()  # the zone prefix is really there
    pyogrio.write_dataframe(gdf, tmp_path / "v.shp")
    report = run(registry, tmp_path / "v.shp")
    assert report.written and report.crs == "EPSG:4528", report.text()
    assert_landed(registry)


@pytest.mark.parametrize("crs", ["EPSG:4549", "EPSG:4528", "EPSG:4490"])
def test_a_table_with_crs_option_is_converted(registry, tmp_path, crs):
    x, y = transform_coords([p[0] for p in TRUTH], [p[1] for p in TRUTH], "EPSG:4326", crs)
    path = tmp_path / "v.csv"
    table(list(zip(x, y, strict=True)), names=("x", "y")).to_csv(path, index=False)
    report = run(registry, path, crs=crs)
    assert report.written, report.text()
    assert_landed(registry, tol_m=1.0)


@pytest.mark.parametrize("crs,forward", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_offset_csv_lands_within_a_metre_of_its_wgs84_truth(registry, tmp_path, crs, forward):
    lon, lat = forward(np.array([p[0] for p in TRUTH]), np.array([p[1] for p in TRUTH]))
    offset = to_metric(Point(lon[0], lat[0])).distance(to_metric(Point(TRUTH[0])))
    assert offset > 100  # the offset is real, so landing within 1 m means it was removed
    path = tmp_path / f"{crs}.csv"
    table(list(zip(lon, lat, strict=True)), names=("经度", "纬度")).to_csv(path, index=False)
    report = run(registry, path, crs=crs)
    assert report.written, report.text()
    assert_landed(registry, tol_m=1.0)


def test_geojson_from_amap_with_crs_option(registry, tmp_path):
    gdf = frame()
    lon, lat = wgs84_to_gcj02(gdf.geometry.x.values, gdf.geometry.y.values)
    gdf.geometry = shapely.points(lon, lat)
    gdf.to_file(tmp_path / "amap.geojson", driver="GeoJSON")
    report = run(registry, tmp_path / "amap.geojson", crs="gcj02")
    assert report.written, report.text()
    assert_landed(registry, tol_m=1.0)


def test_projected_numbers_without_a_crs_are_refused_with_a_hint(registry, tmp_path):
    x, y = transform_coords([p[0] for p in TRUTH], [p[1] for p in TRUTH], "EPSG:4326", "EPSG:4528")
    path = tmp_path / "survey.csv"
    table(list(zip(x, y, strict=True)), names=("x", "y")).to_csv(path, index=False)
    before = snapshot(registry)
    with pytest.raises(ImportFileError, match="EPSG:4528"):
        run(registry, path)
    x, y = transform_coords([p[0] for p in TRUTH], [p[1] for p in TRUTH], "EPSG:4326", "EPSG:4549")
    table(list(zip(x, y, strict=True)), names=("x", "y")).to_csv(path, index=False)
    with pytest.raises(ImportFileError, match="EPSG:4549"):
        run(registry, path)
    assert snapshot(registry) == before


def test_swapped_xy_without_a_crs_is_refused_with_the_swap_hint(registry, tmp_path):
    path = tmp_path / "swapped.csv"
    table([(lat, lon) for lon, lat in TRUTH], names=("x", "y")).to_csv(path, index=False)
    before = snapshot(registry)
    with pytest.raises(ImportFileError, match="swap"):
        run(registry, path)
    assert snapshot(registry) == before


def test_swapped_xy_declared_as_wgs84_names_the_rows_and_the_swap(registry, tmp_path):
    path = tmp_path / "swapped.csv"
    table([(lat, lon) for lon, lat in TRUTH], names=("lon", "lat")).to_csv(path, index=False)
    before = snapshot(registry)
    report = run(registry, path, crs="EPSG:4326")
    assert not report.written
    geo_problems = [p for p in report.errors if p.field == "geometry"]
    assert [p.row for p in geo_problems] == [2, 3]
    assert all("swapping x and y" in p.message for p in geo_problems)
    assert report.hints == ["2 row(s) outside the district fall inside with swapping x and y (longitude/latitude columns reversed?)"]
    assert snapshot(registry) == before


def test_degrees_with_a_projected_crs_option_are_refused(registry, tmp_path):
    with pytest.raises(ImportFileError, match="degrees"):
        run(registry, write_csv(tmp_path), crs="EPSG:4549")


def test_unknown_crs_option_is_refused(registry, tmp_path):
    with pytest.raises(ImportFileError, match="unknown CRS"):
        run(registry, write_csv(tmp_path), crs="EPSG:999999")


def test_outside_point_is_refused_with_the_gcj02_hint_when_that_puts_it_inside(registry, tmp_path):
    # A WGS84 point just outside the outline whose GCJ-02 reading lands inside.
    district = registry.district()
    metric = registry.district_metric("violations")
    found = None
    for lon in np.arange(119.30, 119.75, 0.002):
        for lat in (31.56, 31.57, 31.58, 31.87, 31.88, 31.89):
            p = Point(lon, lat)
            if shapely.covers(metric, to_metric(p)):
                continue
            as_gcj = transform_geometry(p, "gcj02", "EPSG:4326")
            if shapely.covers(metric, to_metric(as_gcj)) and district.distance(p) < 0.05:
                found = (lon, lat)
                break
        if found:
            break
    assert found, "no point near the outline where the GCJ-02 reading falls inside"
    path = tmp_path / "amap.csv"
    table([found, TRUTH[1]]).to_csv(path, index=False)
    report = run(registry, path)
    assert not report.written
    [p] = [p for p in report.errors if p.field == "geometry"]
    assert p.row == 2 and "gcj02" in p.message


# -- encodings ---------------------------------------------------------------------------------


def write_gbk_shapefile(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    gdf = frame()
    gdf["description"] = ["河道管理范围内堆放建筑垃圾", "违建厂房"]
    path = folder / "gbk.shp"
    with warnings.catch_warnings():  # DBF cuts "description" to "descriptio", as in real files
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(gdf, path, encoding="GBK")
    for cpg in folder.glob("*.cpg"):
        cpg.unlink()
    dbf = folder / "gbk.dbf"
    data = bytearray(dbf.read_bytes())
    data[29] = 0  # no language driver either: nothing in the file says GBK
    dbf.write_bytes(bytes(data))
    return path


def test_gbk_shapefile_without_cpg_is_detected(registry, tmp_path):
    path = write_gbk_shapefile(tmp_path / "gbk")
    assert not list(path.parent.glob("*.cpg"))
    with pytest.raises(UnicodeDecodeError):
        (path.parent / "gbk.dbf").read_bytes().decode("utf-8")
    report = run(registry, path.parent)
    assert report.written, report.text()
    assert report.encoding == "GB18030"
    assert list(stored(registry)["description"]) == ["河道管理范围内堆放建筑垃圾", "违建厂房"]
    assert list(stored(registry)["town"]) == ["金城镇", "直溪镇"]


def test_encoding_option_overrides_detection(registry, tmp_path):
    path = write_gbk_shapefile(tmp_path / "gbk")
    report = run(registry, path, encoding="GBK")
    assert report.written and report.encoding == "GBK"
    assert list(stored(registry)["description"]) == ["河道管理范围内堆放建筑垃圾", "违建厂房"]


@pytest.mark.parametrize("target", ["folder", "csv"])
def test_an_unknown_encoding_option_is_refused(registry, tmp_path, target):
    path = write_gbk_shapefile(tmp_path / "gbk").parent if target == "folder" else write_csv(tmp_path)
    with pytest.raises(ImportFileError, match="unknown text encoding 'gbkk'"):
        run(registry, path, encoding="gbkk")


def test_cpg_is_honoured(registry, tmp_path):
    path = write_gbk_shapefile(tmp_path / "gbk")
    (path.parent / "gbk.cpg").write_text("GBK")
    report = run(registry, path)
    assert report.written and report.encoding == "GBK"
    assert list(stored(registry)["town"]) == ["金城镇", "直溪镇"]


def test_gbk_csv_is_detected(registry, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(table().to_csv(index=False).encode("gbk"))
    report = run(registry, path)
    assert report.written and report.encoding == "GB18030"
    assert list(stored(registry)["town"]) == ["金城镇", "直溪镇"]


# -- fields ------------------------------------------------------------------------------------


def test_columns_map_by_chinese_title_english_title_and_explicit_map(registry, tmp_path):
    df = table()
    df = df.rename(columns={"code": "问题编号", "category": "Category", "status": "状态", "found_on": "日期"})
    df["category"] = None
    df = df.drop(columns="category")
    df["Category"] = ["illegal piling", "乱建"]  # English enum label and Chinese value
    path = tmp_path / "titles.csv"
    df.to_csv(path, index=False)
    report = run(registry, path, mapping={"日期": "发现日期"})
    assert report.written, report.text()
    assert report.mapping == {"问题编号": "code", "Category": "category", "状态": "status", "日期": "found_on", "town": "town"} or (
        report.mapping["日期"] == "found_on" and report.mapping["问题编号"] == "code"
    )
    assert_landed(registry)


def test_unknown_map_target_and_missing_source_column_are_refused(registry, tmp_path):
    path = write_csv(tmp_path)
    with pytest.raises(ImportFileError, match="no field 'nonsense'"):
        run(registry, path, mapping={"town": "nonsense"})
    with pytest.raises(ImportFileError, match="no column '不存在'"):
        run(registry, path, mapping={"不存在": "town"})


def test_report_names_row_field_and_value_of_every_problem(registry, tmp_path):
    df = table().astype(object)
    df.loc[0, "category"] = "乱放"
    df.loc[1, "found_on"] = "2021-02-30"
    df.loc[1, "lon"] = "east"
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    report = run(registry, path)
    got = {(p.row, p.field, p.value) for p in report.errors}
    assert got == {(2, "category", "乱放"), (3, "found_on", "2021-02-30"), (3, "geometry", "east,31.65")}
    assert "row 2, field category, value '乱放'" in report.text()


# -- geometry ----------------------------------------------------------------------------------


def mwb(code: str, geom) -> dict:
    return {"code": code, "name": f"{code}塘", "kind": "塘", "town": "金城镇", "status": "问题", "geometry": geom}


def bowtie(x: float = 119.57, y: float = 31.74) -> Polygon:
    return Polygon([(x, y), (x + 0.001, y + 0.001), (x + 0.001, y), (x, y + 0.001)])


def test_self_intersecting_polygon_is_repaired_and_reported(registry, tmp_path):
    gdf = gpd.GeoDataFrame([mwb("IMP-P1", bowtie())], crs=4326)
    gdf.to_file(tmp_path / "p.geojson", driver="GeoJSON")
    report = run(registry, tmp_path / "p.geojson", layer="micro_water_bodies")
    assert report.written, report.text()
    [w] = report.warnings
    assert w.row == 1 and w.field == "geometry" and "Self-intersection" in str(w.value)
    got = registry.find("micro_water_bodies", "IMP-P1")["geometry"]
    assert got.is_valid and got.geom_type == "MultiPolygon"
    assert got.area == pytest.approx(bowtie().buffer(0).area + bowtie().reverse().buffer(0).area, rel=0.6)


def test_strict_refuses_an_invalid_polygon(registry, tmp_path):
    gdf = gpd.GeoDataFrame([mwb("IMP-P1", bowtie())], crs=4326)
    gdf.to_file(tmp_path / "p.geojson", driver="GeoJSON")
    before = snapshot(registry)
    report = run(registry, tmp_path / "p.geojson", layer="micro_water_bodies", strict=True)
    assert not report.written and report.errors[0].field == "geometry"
    assert snapshot(registry) == before


def test_empty_missing_and_wrong_type_geometries_are_refused(registry, tmp_path):
    path = tmp_path / "g.csv"
    df = pd.DataFrame(rows() + [{**rows()[0], "code": "IMP-3"}])
    df["wkt"] = [
        "POINT EMPTY",
        "LINESTRING (119.57 31.74, 119.58 31.75)",
        None,
    ]
    df.to_csv(path, index=False)
    report = run(registry, path)
    msgs = {p.row: p.message for p in report.errors}
    assert "empty" in msgs[2] and "does not fit" in msgs[3] and "WKT" in msgs[4]
    assert not report.written


def test_polygon_and_multipolygon_are_both_accepted(registry, tmp_path):
    square = Polygon([(119.57, 31.74), (119.571, 31.74), (119.571, 31.741), (119.57, 31.741)])
    multi = shapely.MultiPolygon([shapely.affinity.translate(square, 0.01)])
    gdf = gpd.GeoDataFrame([mwb("IMP-P1", square), mwb("IMP-P2", multi)], crs=4326)
    gdf.to_file(tmp_path / "p.gpkg")
    report = run(registry, tmp_path / "p.gpkg", layer="micro_water_bodies")
    assert report.written and report.added == 2


# -- all or nothing, skip, dry run, duplicates -----------------------------------------------------


def test_one_bad_row_writes_nothing(registry, tmp_path):
    df = pd.concat([table(), table()], ignore_index=True)
    df["code"] = ["AON-1", "AON-2", "AON-3", "AON-4"]
    df.loc[2, "status"] = "办完了"
    path = tmp_path / "aon.csv"
    df.to_csv(path, index=False)
    before = snapshot(registry)
    report = run(registry, path)
    assert not report.written and report.rejected == [4]
    assert snapshot(registry) == before
    assert registry.read("violations", where={"code": ["AON-1", "AON-2", "AON-4"]}).empty


def test_skip_invalid_imports_the_rest_and_writes_the_rejects(registry, tmp_path):
    df = table()
    df.loc[1, "category"] = "乱放"
    path = tmp_path / "skip.csv"
    df.to_csv(path, index=False)
    rejects = tmp_path / "out" / "rejects.csv"
    report = run(registry, path, skip_invalid=True, rejects=rejects)
    assert report.written and report.added == 1 and report.rejected == [3]
    back = pd.read_csv(rejects, dtype=str, encoding="utf-8-sig")
    assert list(back["code"]) == ["IMP-2"] and "category" in back.loc[0, "problems"]
    assert list(back["row"]) == ["3"]
    assert len(registry.read("violations", where={"code": ["IMP-1", "IMP-2"]})) == 1


def test_dry_run_writes_nothing(registry, tmp_path):
    before = snapshot(registry)
    report = run(registry, write_csv(tmp_path), dry_run=True)
    assert report.ok and not report.written and report.added == 2
    assert snapshot(registry) == before


def test_duplicate_codes_in_the_file_are_refused(registry, tmp_path):
    df = table()
    df["code"] = ["DUP-1", "DUP-1"]
    path = tmp_path / "dup.csv"
    df.to_csv(path, index=False)
    report = run(registry, path)
    [p] = report.errors
    assert (p.row, p.field, p.value) == (3, "code", "DUP-1") and "row 2" in p.message


def test_existing_codes_are_refused_unless_update(registry, tmp_path):
    existing = registry.read("violations", limit=1).iloc[0]
    df = table()
    df.loc[0, "code"] = existing["code"]
    df.loc[0, "town"] = "新的镇"
    path = tmp_path / "upd.csv"
    df.to_csv(path, index=False)
    before = snapshot(registry)
    report = run(registry, path)
    assert not report.written and "--update" in report.errors[0].message
    assert snapshot(registry) == before
    report = run(registry, path, update=True)
    assert report.written and report.added == 1 and report.updated == 1, report.text()
    got = registry.find("violations", existing["code"])
    assert got["properties"]["town"] == "新的镇"
    assert got["properties"]["unit"] == existing["unit"]  # fields not in the file stay
    assert registry.history("violations", got["fid"])[-1]["user"] == "tester"


def test_update_leaves_empty_cells_alone_and_new_rows_need_required_fields(registry, tmp_path):
    existing = registry.read("violations", limit=1).iloc[0]
    df = pd.DataFrame(
        [
            {"code": existing["code"], "town": "", "note": "回头看", "lon": 119.57, "lat": 31.74},
            {"code": "NEW-1", "town": "金城镇", "note": "", "lon": 119.45, "lat": 31.65},
        ]
    )
    path = tmp_path / "upd.csv"
    df.to_csv(path, index=False)
    report = run(registry, path, update=True)
    assert not report.written
    assert {(p.row, p.field) for p in report.errors} == {(3, "category"), (3, "status"), (3, "found_on")}
    report = run(registry, path, update=True, skip_invalid=True, rejects=tmp_path / "r.csv")
    assert report.updated == 1
    got = registry.find("violations", existing["code"])["properties"]
    assert got["town"] == existing["town"] and got["note"] == "回头看"


# -- unsafe and unreadable files -------------------------------------------------------------------


def test_zip_bomb_is_refused_before_extraction(registry, tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("v.shp", b"\0" * (20 * 1024 * 1024))
    with pytest.raises(ImportFileError, match="zip bomb"):
        run(registry, path)


def test_zip_over_the_total_size_is_refused(registry, tmp_path, monkeypatch):
    import geo.importer.zips as importer

    monkeypatch.setattr(importer, "MAX_UNZIPPED_BYTES", 1000)
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("v.csv", "x" * 2000)
    with pytest.raises(ImportFileError, match="limit"):
        run(registry, path)


@pytest.mark.parametrize("name", ["../evil.shp", "/etc/evil.shp", "a/../../evil.shp", "C:/evil.shp", "..\\evil.shp"])
def test_path_traversal_in_a_zip_is_refused(registry, tmp_path, name):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(name, b"x")
    with pytest.raises(ImportFileError, match="unsafe path"):
        run(registry, path)
    assert not (tmp_path.parent / "evil.shp").exists()


def test_symlink_in_a_zip_is_refused(registry, tmp_path):
    path = tmp_path / "link.zip"
    info = zipfile.ZipInfo("v.shp")
    info.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ImportFileError, match="symbolic link"):
        run(registry, path)


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("x.geojson", b"{not json", "cannot be read"),
        ("x.gpkg", b"hello", "not a GeoPackage"),
        ("x.zip", b"PK\x03\x04broken", "zip"),
        ("x.kmz", b"nope", "zip"),
        ("x.xlsx", b"nope", "zip"),
        ("x.csv", "名称,备注\n甲,乙\n".encode(), "no coordinate columns"),
        ("x.dwg", b"AC1027", "unknown file type"),
        ("x.csv", b"\xff\xfe\x00\xd8broken", "UTF-8 nor GBK"),
    ],
)
def test_unreadable_files_are_refused_with_a_clear_error(registry, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=message):
        run(registry, path)


def test_gpkg_with_several_layers_needs_source_layer(registry, tmp_path):
    path = tmp_path / "multi.gpkg"
    pyogrio.write_dataframe(frame(), path, layer="a")
    pyogrio.write_dataframe(frame(prefix="B"), path, layer="b", append=False)
    with pytest.raises(ImportFileError, match="--source-layer"):
        run(registry, path)
    report = run(registry, path, source_layer="b")
    assert report.written and report.added == 2


# -- the command -----------------------------------------------------------------------------------


def test_cli_imports_and_prints_the_report(demo_copy, tmp_path, capsys):
    path = write_csv(tmp_path)
    assert hehu(["import", str(path), "--layer", "violations", "--registry", str(demo_copy), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "added 2" in out


def test_cli_refusal_exits_2_with_one_line_and_writes_nothing(demo_copy, tmp_path, capsys):
    df = table()
    df.loc[0, "category"] = "乱放"
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    size = demo_copy.stat().st_size
    assert hehu(["import", str(path), "--layer", "violations", "--registry", str(demo_copy), "--lang", "en"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing written" in err[0]
    assert demo_copy.stat().st_size == size
    assert hehu(["import", str(tmp_path / "none.csv"), "--layer", "violations", "--registry", str(demo_copy),
                 "--lang", "en"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert hehu(["import", str(path), "--layer", "nolayer", "--registry", str(demo_copy), "--lang", "en"]) == 2
    assert "unknown layer" in capsys.readouterr().err


def test_cli_rejects_without_skip_invalid_is_refused(demo_copy, tmp_path, capsys):
    path = write_csv(tmp_path)
    args = ["import", str(path), "--layer", "violations", "--registry", str(demo_copy)]
    assert hehu([*args, "--rejects", str(tmp_path / "r.csv")]) == 2
    assert "--skip-invalid" in capsys.readouterr().err
    with Registry.open(demo_copy) as reg:
        assert reg.read("violations", where={"code": ["IMP-1", "IMP-2"]}).empty


def test_cli_json_report(demo_copy, tmp_path, capsys):
    path = write_csv(tmp_path)
    code = hehu(["import", str(path), "--layer", "violations", "--registry", str(demo_copy), "--json", "--dry-run"])
    assert code == 0
    body = json.loads(capsys.readouterr().out)
    assert body["dry_run"] and body["added"] == 2 and not body["written"]


def test_generated_files_leave_no_temporary_extraction_behind(registry, tmp_path, monkeypatch):
    import tempfile

    work = tmp_path / "tmp"
    work.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(work))
    run(registry, write_shp_zip(tmp_path))
    assert list(work.iterdir()) == []
    shutil.rmtree(work)


def test_unwritable_rejects_path_refuses_before_writing(registry, tmp_path):
    df = table()
    df.loc[1, "category"] = "乱放"
    path = tmp_path / "skip.csv"
    df.to_csv(path, index=False)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    before = snapshot(registry)
    with pytest.raises(ImportFileError, match="cannot write the rejected rows"):
        run(registry, path, skip_invalid=True, rejects=blocker / "rejects.csv")
    assert snapshot(registry) == before


# -- export then import is the identity ---------------------------------------------------------

ROUND_TRIP_FORMATS = ["geojson", "gpkg", "shp", "kml", "csv"]


@pytest.mark.parametrize("fmt", ROUND_TRIP_FORMATS)
@pytest.mark.parametrize("layer_id", ["violations", "micro_water_bodies", "rivers"])
def test_export_then_import_gives_back_the_same_features(registry, tmp_path, fmt, layer_id):
    from geo.export import export

    out = export(registry, layer_id, fmt, tmp_path / f"{layer_id}.{fmt}").path
    dst = Registry.create(tmp_path / "copy.gpkg")
    dst.add_many("district", registry.read("district"))
    report = import_file(dst, out, layer_id, ImportOptions())
    assert report.written and not report.errors, report.text()
    a = registry.read(layer_id).set_index("code").sort_index()
    b = dst.read(layer_id).set_index("code").sort_index()
    props = [c for c in a.columns if c != "geometry"]
    pd.testing.assert_frame_equal(
        a[props].astype(object).where(a[props].notna(), None),
        b[props].astype(object).where(b[props].notna(), None),
    )
    # KML and CSV (WKT) keep about 9 decimals of a degree: well under a millimetre.
    assert max(shapely.hausdorff_distance(a.geometry.values, b.geometry.values)) < 1e-8
    dst.close()


def test_cli_creates_a_registry_when_asked(tmp_path, capsys):
    target = tmp_path / "new.gpkg"
    path = write_csv(tmp_path)
    assert hehu(["import", str(path), "--layer", "violations", "--registry", str(target)]) == 2
    assert "no such registry file" in capsys.readouterr().err and not target.exists()
    assert hehu(["import", str(path), "--layer", "violations", "--registry", str(target), "--create"]) == 0
    with Registry.open(target) as reg:
        assert reg.count("violations") == 2


def test_one_swapped_row_in_a_lonlat_table_is_reported_on_its_own(registry, tmp_path):
    df = table([TRUTH[0], (TRUTH[1][1], TRUTH[1][0])])
    path = tmp_path / "one.csv"
    df.to_csv(path, index=False)
    report = run(registry, path)
    assert not report.written
    [p] = report.errors
    assert p.row == 3 and p.field == "geometry" and "swapping x and y" in p.message


# -- further pins: dry run on disk, line layers, numbers, the district tolerance ----------------


def registry_bytes(path: Path) -> dict[str, bytes]:
    """The registry file and any SQLite sidecar (-wal, -shm, -journal), byte for byte."""
    return {p.name: p.read_bytes() for p in sorted(path.parent.glob(path.name + "*"))}


@pytest.mark.parametrize("extra", [[], ["--skip-invalid"], ["--update"]])
def test_cli_dry_run_leaves_the_registry_file_byte_for_byte_unchanged(demo_copy, tmp_path, capsys, extra):
    df = table()
    df.loc[1, "category"] = "乱放"  # one bad row: --skip-invalid would write a rejects file
    path = tmp_path / "dry.csv"
    df.to_csv(path, index=False)
    before = registry_bytes(demo_copy)
    hehu(["import", str(path), "--layer", "violations", "--registry", str(demo_copy), "--dry-run", *extra, "--lang", "en"])
    out = capsys.readouterr().out
    assert "dry run, nothing written" in out and "row 3, field category, value '乱放'" in out
    assert registry_bytes(demo_copy) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != demo_copy.name) == ["dry.csv"]


def test_a_linestring_fits_a_multilinestring_layer(registry, tmp_path):
    line = shapely.LineString([(119.50, 31.70), (119.51, 31.705), (119.52, 31.70)])
    multi = shapely.MultiLineString([shapely.affinity.translate(line, 0.0, 0.02)])
    props = {"grade": "村级", "town": "金城镇"}
    gdf = gpd.GeoDataFrame(
        [{"code": "IMP-L1", "name": "试验河", **props}, {"code": "IMP-L2", "name": "试验沟", **props}],
        geometry=[line, multi],
        crs=4326,
    )
    gdf.to_file(tmp_path / "l.geojson", driver="GeoJSON")
    report = run(registry, tmp_path / "l.geojson", layer="rivers")
    assert report.written and report.added == 2, report.text()
    got = registry.find("rivers", "IMP-L1")["geometry"]
    assert got.geom_type == "MultiLineString" and got.equals(shapely.MultiLineString([line]))


def test_bad_numbers_and_booleans_are_reported_with_row_field_and_value(registry, tmp_path):
    df = pd.DataFrame(
        [
            {"编号": "WS-I1", "名称": "甲厂", "状态": "运行", "设计规模(吨/日)": "三万", "已完成提标": "是"},
            {"编号": "WS-I2", "名称": "乙厂", "状态": "运行", "设计规模(吨/日)": "30000", "已完成提标": "也许"},
            {"编号": "WS-I3", "名称": "丙厂", "状态": "运行", "设计规模(吨/日)": "2.5e4", "已完成提标": "否"},
        ]
    )
    df["lon"], df["lat"] = 119.57, 31.74
    path = tmp_path / "plants.csv"
    df.to_csv(path, index=False)
    before = snapshot(registry)
    report = run(registry, path, layer="sewage_plants")
    assert {(p.row, p.field, p.value) for p in report.errors} == {(2, "capacity_m3d", "三万"), (3, "upgraded", "也许")}
    assert not report.written and snapshot(registry) == before
    report = run(registry, path, layer="sewage_plants", skip_invalid=True, rejects=tmp_path / "r.csv")
    assert registry.find("sewage_plants", "WS-I3")["properties"]["capacity_m3d"] == 25000.0


def outside_the_outline(registry, metres: float) -> tuple[float, float]:
    """A lon/lat point ``metres`` west of the district outline's westernmost point."""
    outline = to_metric(registry.district())
    west = shapely.get_coordinates(outline)
    x, y = west[np.argmin(west[:, 0])]
    p = transform_geometry(Point(x - metres, y), "EPSG:4549", "EPSG:4326")
    assert to_metric(p).distance(outline) == pytest.approx(metres, abs=1.0)
    return p.x, p.y


def test_a_point_just_outside_the_outline_is_within_the_tolerance_and_a_far_one_is_refused(registry, tmp_path):
    from geo.validate import DISTRICT_TOLERANCE_M

    near = outside_the_outline(registry, DISTRICT_TOLERANCE_M / 5)
    far = outside_the_outline(registry, DISTRICT_TOLERANCE_M * 4)
    path = tmp_path / "edge.csv"
    table([near, far]).to_csv(path, index=False)
    report = run(registry, path)
    [p] = report.errors
    assert (p.row, p.field) == (3, "geometry") and "outside Jintan" in p.message
    report = run(registry, path, skip_invalid=True, rejects=tmp_path / "r.csv")
    assert report.added == 1 and registry.find("violations", "IMP-1")


def test_geojson_problems_are_numbered_by_feature(registry, tmp_path):
    gdf = frame()
    gdf.loc[1, "status"] = "办完了"
    gdf.to_file(tmp_path / "f.geojson", driver="GeoJSON")
    report = run(registry, tmp_path / "f.geojson")
    [p] = report.errors
    assert (p.row, p.field, p.value) == (2, "status", "办完了") and report.row_label == "feature"
    assert "feature 2, field status, value '办完了'" in report.text()


@pytest.mark.parametrize(
    "name,crs", [("urn:ogc:def:crs:EPSG::4549", "EPSG:4549"), ("urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326")]
)
def test_a_geojson_crs_member_is_honoured(registry, tmp_path, name, crs):
    gdf = frame(crs)
    features = json.loads(gdf.to_json(drop_id=True))["features"]
    path = tmp_path / "crs.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": name}},
                                "features": features}))
    report = run(registry, path)
    assert report.written and report.crs == crs, report.text()
    assert_landed(registry)
