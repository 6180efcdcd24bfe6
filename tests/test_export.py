"""Exports: every format read back equals what the registry holds; filters and queries
select the right features; bad input is refused and nothing half-written stays."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from test_export_support import fake_near, small_registry

import geo.export as gx
from geo.crs import to_metric, wgs84_to_gcj02
from geo.errors import HehuError
from geo.export import (
    ExportError,
    export,
    export_filename,
    select,
    shapefile_field_names,
    write_frames,
)
from geo.registry import Registry
from layers import load_catalog

CATALOG = load_catalog()
ALL = CATALOG.ids
FILLED = ["district", "towns", "lakes", "rivers", "micro_water_bodies", "black_odorous", "black_odorous_areas",
          "cross_boundary_reaches", "violations", "sections"]


@pytest.fixture
def small(tmp_path):
    reg = small_registry(tmp_path / "small.gpkg")
    yield reg
    reg.close()


# -- comparing what was written with what is stored ----------------------------------------


def norm(ftype: str, v):
    """One value as stored, whatever the reader made of it ('' and NaN are missing)."""
    if v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and math.isnan(v)) or v == "":
        return None
    if ftype == "bool":
        return str(v).strip().lower() in ("true", "1", "1.0", "是")
    if ftype == "date":
        return v.isoformat()[:10] if hasattr(v, "isoformat") else str(v)[:10]
    if ftype == "float":
        return round(float(v), 6)
    if ftype == "int":
        return int(float(v))
    return str(v)


def assert_same_features(layer_id, expected, got, *, names=None, geom=None, tol=1e-7):
    """Same count, same values (by code), geometries equal within ``tol``."""
    layer = CATALOG[layer_id]
    names = names or {}
    assert len(got) == len(expected), layer_id
    code = names.get(layer.id_field, layer.id_field)
    got = got.set_index(got[code].astype(str)).sort_index()
    exp = expected.set_index(expected[layer.id_field].astype(str)).sort_index()
    assert list(got.index) == list(exp.index)
    for f in layer.fields:
        col = names.get(f.name, f.name)
        assert col in got.columns, (layer_id, f.name)
        want = [norm(f.type, v) for v in exp[f.name].tolist()]
        have = [norm(f.type, v) for v in got[col].tolist()]
        assert have == want, (layer_id, f.name)
    if geom is not False:
        g_got = canonical(shapely.force_2d(np.asarray(geom if geom is not None else got.geometry.values)))
        g_exp = canonical(np.asarray(exp.geometry.values))
        assert shapely.equals_exact(g_got, g_exp, tolerance=tol).all(), layer_id


def canonical(geoms):
    """Normalised geometries, a one-part multi as its part (Shapefile and KML do not keep it)."""
    geoms = np.asarray(geoms, dtype=object)
    single = shapely.get_num_geometries(geoms) == 1
    parts = np.where(single & (shapely.get_type_id(geoms) >= 4), shapely.get_geometry(geoms, 0), geoms)
    return shapely.normalize(parts)


def stored(reg, layer_id):
    return reg.read(layer_id)


# -- formats -------------------------------------------------------------------------------


def test_geojson_round_trip_is_rfc7946(small, tmp_path):
    out = tmp_path / "all.geojson"
    res = export(small, FILLED, "geojson", out)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert "crs" not in doc and doc["type"] == "FeatureCollection"
    assert res.counts == {lid: small.count(lid) for lid in FILLED}
    for feat in doc["features"]:
        if feat["geometry"]["type"] in ("Polygon", "MultiPolygon"):
            geom = shapely.geometry.shape(feat["geometry"])
            for poly in getattr(geom, "geoms", [geom]):
                assert poly.exterior.is_ccw, "exterior rings must be counterclockwise"
                assert all(not r.is_ccw for r in poly.interiors), "holes must be clockwise"
    got = pyogrio.read_dataframe(out)
    for lid in FILLED:
        assert_same_features(lid, stored(small, lid), got[got["layer"] == lid])


def test_geojson_of_one_layer_has_no_layer_member(small, tmp_path):
    out = tmp_path / "v.geojson"
    export(small, "violations", "geojson", out)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert "layer" not in doc["features"][0]["properties"]
    assert "清四乱" not in out.name and any("引号" in f["properties"]["description"] for f in doc["features"])


def test_gpkg_round_trip_with_real_dates(small, tmp_path):
    out = tmp_path / "all.gpkg"
    export(small, FILLED, "gpkg", out)
    assert {row[0] for row in pyogrio.list_layers(out)} == set(FILLED)
    info = pyogrio.read_info(out, layer="violations")
    dtypes = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert dtypes["found_on"] == "datetime64[D]"
    for lid in FILLED:
        assert_same_features(lid, stored(small, lid), pyogrio.read_dataframe(out, layer=lid))


def _fieldmap(zf: zipfile.ZipFile) -> list[dict[str, str]]:
    text = zf.read("fieldmap.csv").decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_shapefile_zip_round_trip_through_the_field_map(small, tmp_path):
    out = tmp_path / "all.zip"
    export(small, FILLED, "shp", out)
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        rows = _fieldmap(zf)
        # One geometry type per layer (黑臭水体: the pond and the ditch are two layers),
        # so one shapefile per layer.
        stems = {r["file"][:-4] for r in rows}
        assert {"black_odorous", "black_odorous_areas"} <= stems
        for stem in stems:
            for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
                assert stem + ext in names
            assert zf.read(stem + ".cpg").decode().strip() == "UTF-8"
    for lid in FILLED:
        mapping = {r["field"]: r["shp_field"] for r in rows if r["layer"] == lid}
        assert all(len(v) <= 10 for v in mapping.values())
        files = sorted({r["file"] for r in rows if r["layer"] == lid})
        frames = [pyogrio.read_dataframe(f"/vsizip/{out}/{f}") for f in files]
        got = pd.concat(frames, ignore_index=True)
        assert_same_features(lid, stored(small, lid), got, names=mapping)


def test_catalog_field_names_map_to_unique_dbf_names():
    for layer in CATALOG:
        names = [f.name for f in layer.fields] + ["distance_m"]
        short = shapefile_field_names(names)
        assert len({v.lower() for v in short.values()}) == len(names), layer.id
        assert all(len(v) <= 10 for v in short.values())


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet="abcdefghij_", min_size=1, max_size=16), min_size=1, max_size=12, unique_by=str.lower))
def test_dbf_field_mapping_is_collision_free(names):
    short = shapefile_field_names(names)
    assert list(short) == names
    assert len({v.lower() for v in short.values()}) == len(names)
    assert all(len(v) <= 10 for v in short.values())
    assert all(short[n] == n for n in names if len(n) <= 10)


def test_kml_round_trip_with_chinese_names_and_category_styles(small, tmp_path):
    out = tmp_path / "all.kml"
    export(small, FILLED, "kml", out)
    text = out.read_text(encoding="utf-8")
    assert "<name>清四乱问题</name>" in text and "<name>丹金溧漕河</name>" in text
    # 乱占 is #e31a1c in the catalog: KML writes aabbggrr.
    assert "<color>ff1c1ae3</color>" in text
    layers = {row[0] for row in pyogrio.list_layers(out)}
    for lid in FILLED:
        assert CATALOG[lid].title_zh in layers
        got = pyogrio.read_dataframe(out, layer=CATALOG[lid].title_zh)
        # GDAL's LIBKML driver renames data fields that clash with KML's own name and
        # description by appending 2.
        names = {"name": "name2", "description": "description2"}
        assert_same_features(lid, stored(small, lid), got, names=names)
        assert (got["Name"] == got[names.get(CATALOG[lid].label_field, CATALOG[lid].label_field)]).all()


def kml_schema():
    """The OGC KML 2.2 XML schema, from the copy the pykml package ships (no network)."""
    from importlib.resources import files

    from lxml import etree

    return etree.XMLSchema(etree.parse(str(files("pykml") / "schemas" / "ogckml22.xsd")))


@pytest.mark.parametrize("layers", [FILLED, ["violations"]], ids=["every layer", "one layer"])
def test_kml_is_valid_against_the_ogc_kml_2_2_schema(small, tmp_path, layers):
    """Google Earth and 奥维 read sloppy KML, others do not: the file follows the schema,
    element order included (a Document's styles, then its Schemas, then its folders)."""
    from lxml import etree

    schema = kml_schema()
    out = tmp_path / "all.kml"
    export(small, layers, "kml", out)
    doc = etree.parse(str(out))
    assert schema.validate(doc), schema.error_log.last_error
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    styles = doc.xpath("/k:kml/k:Document/k:Style/@id", namespaces=ns)
    used = set(doc.xpath("//k:Placemark/k:styleUrl/text()", namespaces=ns))
    assert used and {u.lstrip("#") for u in used} <= set(styles)
    # Each violation category has its own catalog colour.
    assert len([s for s in styles if s.startswith("violations-")]) == small.read("violations")["category"].nunique()
    empty = tmp_path / "empty.kml"
    export(small, layers, "kml", empty, bbox="100,10,100.1,10.1")
    assert schema.validate(etree.parse(str(empty))), schema.error_log.last_error


def test_csv_of_points_has_bom_and_lon_lat(small, tmp_path):
    out = tmp_path / "v.csv"
    export(small, "violations", "csv", out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    got = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    geoms = shapely.points(got["lon"].astype(float), got["lat"].astype(float))
    assert_same_features("violations", stored(small, "violations"), got, geom=geoms)


def test_csv_of_several_layers_is_a_zip_with_wkt(small, tmp_path):
    out = tmp_path / "layers.zip"
    export(small, ["rivers", "micro_water_bodies", "violations"], "csv", out)
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["micro_water_bodies.csv", "rivers.csv", "violations.csv"]
        for lid in ("rivers", "micro_water_bodies"):
            raw = zf.read(f"{lid}.csv")
            assert raw.startswith(b"\xef\xbb\xbf")
            got = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", dtype=str, keep_default_na=False)
            assert_same_features(lid, stored(small, lid), got, geom=shapely.from_wkt(got["wkt"]))
    with pytest.raises(ExportError, match="zip"):
        export(small, ["rivers", "violations"], "csv", tmp_path / "layers.csv")


def test_xlsx_ledger_has_chinese_headers_real_dates_and_frozen_header(small, tmp_path):
    out = tmp_path / "台账.xlsx"
    export(small, ["violations", "micro_water_bodies"], "xlsx", out)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["清四乱问题", "小微水体"]
    ws = wb["清四乱问题"]
    assert ws.freeze_panes == "A2"
    layer = CATALOG["violations"]
    headers = [c.value for c in ws[1]]
    assert headers == [f.title_zh for f in layer.fields] + ["经度", "纬度"]
    assert 10 <= ws.column_dimensions["D"].width <= 50  # 问题描述: sized to its text
    found_col = headers.index("发现日期") + 1
    found = ws.cell(row=2, column=found_col)
    assert isinstance(found.value, dt.datetime) and found.is_date and found.number_format == "yyyy-mm-dd"
    assert ws.auto_filter.ref.startswith("A1:")  # the header row filters
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    got = pd.DataFrame(rows, columns=headers).rename(columns={f.title_zh: f.name for f in layer.fields})
    geoms = shapely.points(got["经度"].astype(float), got["纬度"].astype(float))
    assert_same_features("violations", stored(small, "violations"), got, geom=geoms)
    mwb = CATALOG["micro_water_bodies"]
    ws2 = wb["小微水体"]
    heads2 = [c.value for c in ws2[1]]
    got2 = pd.DataFrame(list(ws2.iter_rows(min_row=2, values_only=True)), columns=heads2)
    got2 = got2.rename(columns={f.title_zh: f.name for f in mwb.fields})
    assert_same_features("micro_water_bodies", stored(small, "micro_water_bodies"), got2, geom=False)
    assert set(got2["示范村" if "示范村" in got2 else "demo_village"]) == {"是", "否"}


def test_ledger_keeps_text_that_looks_like_a_formula_as_text(small, tmp_path):
    """A description typed as "=HYPERLINK(...)" is text in the ledger, never a formula Excel runs."""
    gdf = small.read("violations")
    first = gdf.index[0]
    gdf.loc[first, "description"] = '=HYPERLINK("http://example.org","点此")'
    gdf.loc[first, "unit"] = "=1+1"
    out = tmp_path / "v.xlsx"
    write_frames({"violations": gdf}, "xlsx", out)
    ws = openpyxl.load_workbook(out)["清四乱问题"]
    heads = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == gdf.loc[first, "code"])
    for name in ("description", "unit"):
        cell = row[heads.index(CATALOG["violations"].field(name).title_zh)]
        assert cell.data_type == "s" and cell.value == gdf.loc[first, name]


def test_projected_output_is_exact_to_a_millimetre(small, tmp_path):
    out = tmp_path / "m.gpkg"
    res = export(small, ["rivers", "violations"], "gpkg", out, crs="EPSG:4549")
    assert res.crs == "EPSG:4549"
    for lid in ("rivers", "violations"):
        got = pyogrio.read_dataframe(out, layer=lid)
        assert got.crs.to_epsg() == 4549
        exp = stored(small, lid).copy()
        exp = exp.set_geometry(to_metric(np.asarray(exp.geometry.values)))
        assert_same_features(lid, exp, got, tol=1e-3)


def test_projected_shapefile_and_csv_are_exact_to_a_millimetre_with_a_prj_arcgis_reads(small, tmp_path):
    shp = tmp_path / "m.zip"
    export(small, ["rivers", "violations"], "shp", shp, crs="EPSG:4549")
    with zipfile.ZipFile(shp) as zf:
        prj = zf.read("violations.prj").decode("ascii")
    # ESRI's WKT1 flavour, as ArcGIS writes it: the projection is named, the unit is metres.
    assert prj.startswith('PROJCS["CGCS2000_3_Degree_GK_CM_120E"') and 'UNIT["Meter",1.0]' in prj
    for lid in ("rivers", "violations"):
        got = pyogrio.read_dataframe(f"/vsizip/{shp}/{lid}.shp")
        assert got.crs.to_epsg() == 4549
        exp = stored(small, lid).copy()
        exp = exp.set_geometry(to_metric(np.asarray(exp.geometry.values)))
        assert_same_features(lid, exp, got, names=shapefile_field_names(CATALOG[lid].field_names), tol=1e-3)
    out = tmp_path / "m.csv"
    export(small, "violations", "csv", out, crs="EPSG:4549")
    got = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert "lon" not in got.columns
    exp = stored(small, "violations").copy()
    exp = exp.set_geometry(to_metric(np.asarray(exp.geometry.values)))
    geoms = shapely.points(got["x"].astype(float), got["y"].astype(float))
    assert_same_features("violations", exp, got, geom=geoms, tol=1e-3)


def test_gcj02_output_is_offset_for_amap(small, tmp_path):
    out = tmp_path / "v.geojson"
    export(small, "violations", "geojson", out, crs="gcj02")
    got = pyogrio.read_dataframe(out)
    exp = stored(small, "violations")
    x, y = wgs84_to_gcj02(shapely.get_x(exp.geometry.values), shapely.get_y(exp.geometry.values))
    exp = exp.set_geometry(shapely.points(x, y))
    assert_same_features("violations", exp, got, tol=1e-9)


@pytest.mark.parametrize("fmt", ["geojson", "kml"])
def test_lonlat_formats_refuse_a_projected_crs(small, tmp_path, fmt):
    with pytest.raises(ExportError, match="longitude/latitude"):
        export(small, "violations", fmt, tmp_path / f"x.{fmt}", crs="EPSG:4549")
    assert list(tmp_path.glob("x.*")) == []


# -- selecting ---------------------------------------------------------------------------


def codes(sel, lid="violations"):
    return sorted(sel.frames[lid]["code"])


def test_filters_by_town_property_and_bbox(small):
    assert len(codes(select(small, "violations", town="儒林镇"))) == 6
    assert codes(select(small, "violations", town="金城镇")) == ["QSL-E1"]
    assert codes(select(small, "towns", town="儒林镇"), "towns") == ["T1"]
    assert codes(select(small, "violations", where="status=整改中")) == ["QSL-000", "QSL-004", "QSL-E1"]
    either = select(small, "violations", where=["status:整改中", "status=反弹"], town="儒林镇")
    assert codes(either) == ["QSL-000", "QSL-003", "QSL-004"]
    assert codes(select(small, "violations", bbox="119.55,31.75,119.6,31.8")) == ["QSL-E1"]
    # A filter on a field some layers lack applies to the layers that have it.
    mixed = select(small, ["towns", "violations"], where="status=反弹")
    assert len(mixed.frames["towns"]) == 2 and codes(mixed) == ["QSL-003"]


def test_near_keeps_features_within_the_distance_inclusive(small, monkeypatch):
    monkeypatch.setattr(Registry, "near", fake_near)
    # Points at 0, 20, 49, 51, 120, 400 m; QSL-001 (20 m) is closed (已销号), not a problem.
    problems = select(small, "violations", near="丹金溧漕河:50")
    assert codes(problems) == ["QSL-000", "QSL-002"]
    everything = select(small, "violations", near=("丹金溧漕河", 50), problems=False)
    assert codes(everything) == ["QSL-000", "QSL-001", "QSL-002"]
    dist = everything.frames["violations"]["distance_m"].to_numpy()
    assert np.allclose(dist, [0, 20, 49], atol=0.05) and list(dist) == sorted(dist)
    assert everything.buffer is not None and everything.target_label == "丹金溧漕河"
    within = select(small, "violations", near="丹金溧漕河:50", where="status=待交办")
    assert codes(within) == ["QSL-002"]


def test_near_export_writes_distance_and_names_the_file(small, tmp_path, monkeypatch):
    monkeypatch.setattr(Registry, "near", fake_near)
    sel = select(small, "violations", near="丹金溧漕河:50")
    name = export_filename([CATALOG["violations"]], "geojson", sel.tags, date=dt.date(2021, 5, 1))
    assert name == "清四乱问题_丹金溧漕河50米内_问题_20210501.geojson"
    res = write_frames(sel.frames, "geojson", tmp_path / name)
    doc = json.loads((tmp_path / name).read_text(encoding="utf-8"))
    assert res.counts == {"violations": 2}
    assert {round(f["properties"]["distance_m"]) for f in doc["features"]} == {0, 49}


def test_write_frames_accepts_a_query_result(small, tmp_path, monkeypatch):
    monkeypatch.setattr(Registry, "near", fake_near)
    result = small.near("丹金溧漕河", 50, layers=["violations", "micro_water_bodies", "rivers"])
    res = write_frames(result, "gpkg", tmp_path / "q.gpkg")
    assert res.counts["violations"] == 3
    got = pyogrio.read_dataframe(tmp_path / "q.gpkg", layer="violations")
    assert "distance_m" in got.columns and "layer" not in got.columns


def test_demo_query_export_matches_the_query_engine(registry, tmp_path):
    expected = registry.near("丹金溧漕河", 50, layers="violations")
    res = export(registry, "violations", "geojson", tmp_path / "q.geojson", near="丹金溧漕河:50")
    assert res.counts["violations"] == len(expected) > 0
    doc = json.loads((tmp_path / "q.geojson").read_text(encoding="utf-8"))
    assert sorted(f["properties"]["code"] for f in doc["features"]) == sorted(expected["code"])
    assert all(f["properties"]["status"] != "已销号" for f in doc["features"])
    inside = export(registry, "violations", "csv", tmp_path / "r.csv", within="儒林镇")
    assert inside.counts["violations"] == len(registry.within("儒林镇", layers="violations"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"layers": "violationz"}, "unknown layer 'violationz'.*did you mean violations"),
        ({"layers": ""}, "no layers"),
        ({"fmt": "dxf"}, "unknown format 'dxf'"),
        ({"town": "不存在镇"}, "unknown town '不存在镇'"),
        ({"bbox": "119.6,31.6,119.4,31.8"}, "bbox"),
        ({"bbox": "1,2,3"}, "four numbers"),
        ({"where": "colour=red"}, "no layer among violations has a field 'colour'"),
        ({"where": "status=整改"}, "not a value of status; values: 待交办"),
        ({"where": "status"}, "FIELD=VALUE"),
        ({"near": "丹金溧漕河"}, "TARGET:METRES"),
        ({"near": "丹金溧漕河:-5"}, "distance must be"),
        ({"near": "丹金溧漕河:fifty"}, "not a number"),
        ({"crs": "EPSG:999999"}, "EPSG:999999"),
    ],
)
def test_bad_input_is_refused_with_a_clear_400(small, tmp_path, kwargs, match):
    args = {"layers": "violations", "fmt": "gpkg", **kwargs}
    with pytest.raises(HehuError, match=match) as err:
        export(small, args.pop("layers"), args.pop("fmt"), tmp_path / "x.gpkg", **args)
    assert err.value.status == 400
    assert list(tmp_path.glob("x*")) == []


@pytest.mark.parametrize("fmt", list(gx.FORMATS))
def test_empty_result_is_a_valid_empty_file(small, tmp_path, fmt):
    out = tmp_path / f"empty{gx.FORMATS[fmt][0]}"
    res = export(small, "violations", fmt, out, where="status=已销号", town="金城镇")
    assert res.empty and res.counts == {"violations": 0} and "empty" in res.message
    assert out.exists()
    if fmt == "geojson":
        assert json.loads(out.read_text(encoding="utf-8"))["features"] == []
    elif fmt == "gpkg":
        assert len(pyogrio.read_dataframe(out, layer="violations")) == 0
    elif fmt == "shp":
        assert len(pyogrio.read_dataframe(f"/vsizip/{out}/violations.shp")) == 0
    elif fmt == "kml":
        assert "<kml" in out.read_text(encoding="utf-8")
    elif fmt == "kmz":
        assert "<kml" in zipfile.ZipFile(out).read("doc.kml").decode("utf-8")
    elif fmt == "csv":
        assert pd.read_csv(out, encoding="utf-8-sig").empty
    elif fmt == "gpx":
        assert "<wpt" not in out.read_text(encoding="utf-8")
    else:
        assert openpyxl.load_workbook(out)["清四乱问题"].max_row == 1


@pytest.mark.parametrize("fmt", list(gx.FORMATS))
def test_a_failing_export_leaves_nothing_half_written(small, tmp_path, monkeypatch, fmt):
    real = gx._WRITERS[fmt]

    def broken(items, path, crs):
        real(items, path, crs)  # the file is complete here...
        raise RuntimeError("disk full")  # ...and then something fails

    monkeypatch.setitem(gx._WRITERS, fmt, broken)
    folder = tmp_path / "exports"
    folder.mkdir()
    out = folder / f"out{gx.FORMATS[fmt][0]}"
    with pytest.raises(RuntimeError):
        export(small, "violations", fmt, out)
    assert list(folder.iterdir()) == []
    # An earlier file at the target survives a failed overwrite untouched.
    out.write_bytes(b"earlier")
    with pytest.raises(RuntimeError):
        export(small, "violations", fmt, out)
    assert out.read_bytes() == b"earlier"
    assert list(folder.iterdir()) == [out]


def test_file_names_are_safe_and_meaningful():
    layers = [CATALOG["violations"]]
    name = export_filename(layers, "shp", [('儒林镇/东:"x"', "town")], date=dt.date(2021, 1, 2))
    assert name == "清四乱问题_儒林镇_东_x_20210102.shp.zip"
    ascii_name = export_filename(layers, "xlsx", [("儒林镇", "town")], crs="EPSG:4549",
                                 date=dt.date(2021, 1, 2), ascii_only=True)
    assert ascii_name == "violations_town_EPSG4549_20210102.xlsx"
    many = export_filename([CATALOG[i] for i in ALL], "csv", date=dt.date(2021, 1, 2))
    assert many == f"{len(ALL)}个图层_20210102.zip"


def test_out_path_is_exactly_the_file_written(small, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    out = folder / "河道.shp"
    res = export(small, "rivers", "shp", out)
    assert res.path == out and zipfile.is_zipfile(out)
    assert list(folder.iterdir()) == [out]
    with pytest.raises(ExportError, match="does not exist"):
        export(small, "rivers", "geojson", tmp_path / "no" / "x.geojson")


def test_shapefile_cuts_long_text_at_a_character_and_says_so(small, tmp_path):
    long = "河坡堆放建筑垃圾" * 20  # 160 characters, 480 bytes in UTF-8
    gdf = small.read("violations")
    gdf.loc[gdf.index[0], "description"] = long
    res = write_frames({"violations": gdf}, "shp", tmp_path / "v.zip")
    assert "254 bytes" in res.message and res.notes
    got = pyogrio.read_dataframe(f"/vsizip/{tmp_path / 'v.zip'}/violations.shp")
    cut = got.set_index("code").loc[gdf["code"].iloc[0], "descriptio"]
    assert long.startswith(cut) and len(cut.encode("utf-8")) <= 254 and len(cut) == 84


_TEXT = st.text(
    alphabet=st.characters(categories=["Lu", "Ll", "Lo", "Nd", "Po", "Ps", "Pe", "Sm"]), max_size=60
)
_RECORDS = st.lists(
    st.fixed_dictionaries({
        "category": st.sampled_from(CATALOG["violations"].field("category").enum),
        "status": st.sampled_from(CATALOG["violations"].field("status").enum),
        "description": st.none() | _TEXT,
        "town": st.none() | _TEXT,
        "found_on": st.dates(dt.date(1990, 1, 1), dt.date(2040, 12, 31)),
        "deadline": st.none() | st.dates(dt.date(1990, 1, 1), dt.date(2040, 12, 31)),
        "lon": st.floats(119.3, 119.8),
        "lat": st.floats(31.5, 31.9),
    }),
    max_size=8,
)


@settings(max_examples=25, deadline=None)
@given(records=_RECORDS)
def test_export_then_read_is_identity_for_every_format(records, tmp_path_factory):
    import geopandas as gpd

    folder = tmp_path_factory.mktemp("prop")
    fields = CATALOG["violations"].field_names
    rows = [
        {**{k: v for k, v in r.items() if k not in ("lon", "lat")}, "code": f"QSL-{i:04d}",
         "found_on": r["found_on"].isoformat(),
         "deadline": r["deadline"].isoformat() if r["deadline"] else None}
        for i, r in enumerate(records)
    ]
    gdf = gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=fields),
        geometry=shapely.points([r["lon"] for r in records], [r["lat"] for r in records]) if records else [],
        crs="EPSG:4326",
    )
    for fmt in gx.FORMATS:
        out = folder / f"v{gx.FORMATS[fmt][0]}"
        write_frames({"violations": gdf}, fmt, out)
        if fmt == "geojson":
            if not len(gdf):
                assert json.loads(out.read_text(encoding="utf-8"))["features"] == []
                continue
            got, names, geom = pyogrio.read_dataframe(out), {}, None
        elif fmt == "gpkg":
            got, names, geom = pyogrio.read_dataframe(out, layer="violations"), {}, None
        elif fmt == "shp":
            got = pyogrio.read_dataframe(f"/vsizip/{out}/violations.shp")
            names, geom = shapefile_field_names(CATALOG["violations"].field_names), None
        elif fmt == "kml":
            if not len(gdf):
                continue
            got = pyogrio.read_dataframe(out, layer="清四乱问题")
            names, geom = {"description": "description2"}, None
        elif fmt == "kmz":  # the KML inside, as the kml branch reads it
            if not len(gdf):
                continue
            got = pyogrio.read_dataframe(f"/vsizip/{out}/doc.kml", layer="清四乱问题")
            names, geom = {"description": "description2"}, None
        elif fmt == "csv":
            got = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
            names, geom = {}, shapely.points(got["lon"].astype(float), got["lat"].astype(float))
            # CSV is for spreadsheets: formula-like text comes back with the leading ' that
            # makes it inert (geo.export.spreadsheet_text), and only there.
            assert_same_features("violations", gx.spreadsheet_frame(gdf), got, names=names,
                                 geom=geom if len(gdf) else False)
            continue
        elif fmt == "gpx":  # waypoints carry a name and a description, not every field
            continue
        else:
            ws = openpyxl.load_workbook(out)["清四乱问题"]
            heads = [c.value for c in ws[1]]
            got = pd.DataFrame(list(ws.iter_rows(min_row=2, values_only=True)), columns=heads)
            got = got.rename(columns={f.title_zh: f.name for f in CATALOG["violations"].fields})
            names, geom = {}, shapely.points(got["经度"].astype(float), got["纬度"].astype(float))
        assert_same_features("violations", gdf, got, names=names, geom=geom if len(gdf) else False)


# -- hardening: formula injection, surveyors' axes ------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","点此")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_no_tabular_export_hands_a_spreadsheet_a_formula(small, tmp_path, fmt):
    gdf = small.read("violations")
    for i, text in enumerate(FORMULAS):
        gdf.loc[gdf.index[i], "description"] = text
    gdf.loc[gdf.index[0], "unit"] = "=1+1"
    out = tmp_path / f"v.{fmt}"
    write_frames({"violations": gdf}, fmt, out)
    if fmt == "csv":
        with open(out, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
        cells = [v for row in rows for v in row]
        assert not [v for v in cells if v.startswith(gx.FORMULA_START)]
        assert {"'" + f for f in FORMULAS} <= set(cells)
    else:
        ws = openpyxl.load_workbook(out)["清四乱问题"]
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith(gx.FORMULA_START):
                    assert cell.data_type == "s", cell.value


def test_csv_of_several_layers_and_the_query_csv_are_neutralised_too(small, tmp_path):
    gdf = small.read("violations")
    gdf.loc[gdf.index[0], "description"] = "=1+1"
    out = tmp_path / "v.zip"
    write_frames({"violations": gdf, "rivers": small.read("rivers")}, "csv", out)
    with zipfile.ZipFile(out) as zf:
        text = zf.read("violations.csv").decode("utf-8-sig")
    assert ",=1+1" not in text and ",'=1+1" in text


def test_projected_ledger_names_easting_and_northing_as_surveyors_read_them(small, tmp_path):
    out = tmp_path / "m.xlsx"
    export(small, ["violations", "rivers"], "xlsx", out, crs="EPSG:4549")
    wb = openpyxl.load_workbook(out)
    heads = [c.value for c in wb["清四乱问题"][1]]
    assert heads[-2:] == ["东坐标Y(米)", "北坐标X(米)"]
    assert [c.value for c in wb["河道"][1]][-2:] == ["代表点东坐标Y(米)", "代表点北坐标X(米)"]
    east, north = next(wb["清四乱问题"].iter_rows(min_row=2, values_only=True))[-2:]
    assert 3.0e5 < east < 5.5e5 and 3.4e6 < north < 3.6e6  # CGCS2000 / 3° GK CM 120°E, no zone prefix
