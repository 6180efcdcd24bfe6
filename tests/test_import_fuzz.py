"""Property tests: random and corrupted files never crash the importer nor half-write.

Whatever the file, ``import_file`` either returns a report or raises a HehuError (a
clear refusal); and the registry afterwards holds either everything the report says
was written, or exactly what it held before.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from geo.errors import HehuError
from geo.importer import ImportOptions, import_file
from geo.registry import Registry

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

EXTENSIONS = [".csv", ".geojson", ".json", ".gpkg", ".zip", ".kml", ".kmz", ".xlsx", ".shp", ".txt"]

GOOD_CSV = (
    "code,category,status,found_on,town,lon,lat\n"
    "F-1,乱堆,待交办,2021-05-01,金城镇,119.57,31.74\n"
    "F-2,乱建,已交办,2021-05-02,直溪镇,119.45,31.65\n"
    "F-3,乱占,整改中,2021-05-03,朱林镇,119.50,31.70\n"
)


@pytest.fixture(scope="module")
def reg(tmp_path_factory, demo_path):
    path = tmp_path_factory.mktemp("fuzz") / "jintan.gpkg"
    shutil.copyfile(demo_path, path)
    r = Registry.open(path)
    yield r
    r.close()


def state(reg) -> tuple:
    return tuple(reg.count(layer.id) for layer in reg.layers), reg.store.last_change()


def try_import(reg, content: bytes, suffix: str, **options) -> None:
    """Import ``content``; check the all-or-nothing property whatever happens."""
    before = state(reg)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        path.write_bytes(content)
        try:
            report = import_file(reg, path, "violations", ImportOptions(**options), user="fuzz")
        except HehuError:
            assert state(reg) == before
            return
    after = state(reg)
    if not report.written or report.dry_run:
        assert after == before
        return
    assert report.skip_invalid or not report.errors
    counts_before, counts_after = dict(enumerate(before[0])), dict(enumerate(after[0]))
    changed = {k: counts_after[k] - counts_before[k] for k in counts_before if counts_after[k] != counts_before[k]}
    assert sum(changed.values()) == report.added
    # Undo, so that later examples meet the same registry and codes stay free.
    for fid in report.fids:
        reg.delete("violations", fid, user="fuzz")


@SETTINGS
@given(content=st.binary(max_size=2000), suffix=st.sampled_from(EXTENSIONS))
def test_random_bytes_never_crash(reg, content, suffix):
    try_import(reg, content, suffix)


@SETTINGS
@given(
    cells=st.lists(
        st.tuples(st.integers(1, 3), st.integers(0, 6), st.text(max_size=12)), min_size=1, max_size=6
    ),
    encoding=st.sampled_from(["utf-8", "gb18030"]),
    options=st.fixed_dictionaries(
        {"skip_invalid": st.booleans(), "dry_run": st.booleans(), "update": st.booleans(), "strict": st.booleans()}
    ),
)
def test_corrupted_csv_cells_never_half_write(reg, cells, encoding, options):
    lines = [line.split(",") for line in GOOD_CSV.strip().split("\n")]
    for r, c, text in cells:
        lines[r][c] = text.replace(",", " ").replace("\n", " ").replace("\r", " ").replace('"', "")
    content = "\n".join(",".join(line) for line in lines).encode(encoding, errors="replace")
    try_import(reg, content, ".csv", rejects=Path(tempfile.gettempdir()) / "fuzz-rejects.csv", **options)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@SETTINGS
@given(
    where=st.sampled_from(["geometry", "coordinates", "type", "properties", "value", "feature", "crs"]),
    junk=json_values,
)
def test_corrupted_geojson_never_half_writes(reg, where, junk):
    features = [
        {
            "type": "Feature",
            "properties": {"code": f"G-{i}", "category": "乱堆", "status": "待交办", "found_on": "2021-05-01"},
            "geometry": {"type": "Point", "coordinates": [119.57 - i * 0.01, 31.74]},
        }
        for i in range(3)
    ]
    doc = {"type": "FeatureCollection", "features": features}
    if where == "geometry":
        features[1]["geometry"] = junk
    elif where == "coordinates":
        features[1]["geometry"]["coordinates"] = junk
    elif where == "type":
        features[1]["geometry"]["type"] = junk
    elif where == "properties":
        features[1]["properties"] = junk
    elif where == "value":
        features[1]["properties"]["category"] = junk
    elif where == "feature":
        features[1] = junk
    else:
        doc["crs"] = junk
    try_import(reg, json.dumps(doc, ensure_ascii=False).encode(), ".geojson")


def _valid_files() -> dict[str, bytes]:
    gdf = gpd.GeoDataFrame(
        [{"code": "B-1", "category": "乱堆", "status": "待交办", "found_on": "2021-05-01"}],
        geometry=[Point(119.57, 31.74)],
        crs=4326,
    )
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pyogrio.write_dataframe(gdf, tmp / "v.gpkg")
        out[".gpkg"] = (tmp / "v.gpkg").read_bytes()
        pyogrio.write_dataframe(gdf, tmp / "v.shp")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for f in tmp.glob("v.*"):
                if f.suffix != ".gpkg":
                    zf.write(f, f.name)
        out[".zip"] = buf.getvalue()
        pyogrio.write_dataframe(gdf, tmp / "v.kml", driver="LIBKML")
        out[".kml"] = (tmp / "v.kml").read_bytes()
        gdf.drop(columns="geometry").assign(lon=119.57, lat=31.74).to_excel(tmp / "v.xlsx", index=False)
        out[".xlsx"] = (tmp / "v.xlsx").read_bytes()
    return out


VALID = _valid_files()


@SETTINGS
@given(
    suffix=st.sampled_from(sorted(VALID)),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8),
    truncate=st.one_of(st.none(), st.floats(0.05, 1)),
)
def test_corrupted_binary_files_never_crash(reg, suffix, flips, truncate):
    data = bytearray(VALID[suffix])
    for pos, byte in flips:
        data[int(pos * len(data))] = byte
    if truncate is not None:
        data = data[: int(len(data) * truncate)]
    try_import(reg, bytes(data), suffix)


@SETTINGS
@given(
    names=st.lists(
        st.one_of(
            st.sampled_from(["../x.shp", "/abs.shp", "a/../../b.dbf", "ok/v.shp", "v.shx", "v.dbf", "C:\\x.shp"]),
            st.text(min_size=1, max_size=12),
        ),
        min_size=1,
        max_size=4,
        unique=True,
    ),
    payload=st.binary(max_size=300),
)
def test_random_zip_archives_never_escape_or_crash(reg, names, payload, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in names:
            try:
                zf.writestr(name, payload)
            except (ValueError, UnicodeEncodeError, IndexError):
                continue
    try_import(reg, buf.getvalue(), ".zip")
    assert not (Path(tempfile.gettempdir()).parent / "x.shp").exists()
