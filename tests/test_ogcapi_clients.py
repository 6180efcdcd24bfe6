"""Real clients against a running server: GDAL's OGC API driver, and concurrent readers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request

import pandas as pd
import pytest
import shapely
from live_server import live_server

from geo.registry import Registry
from layers import load_catalog
from server import create_app

# GDAL is driven from a child process: pyogrio holds the GIL while GDAL waits on HTTP,
# which would starve a server running in a thread of this process.
GDAL_READER = r"""
import json, sys
import pyogrio
url = sys.argv[1]
out = {"layers": pyogrio.list_layers(url)[:, 0].tolist(), "data": {}}
for name in out["layers"]:
    df = pyogrio.read_dataframe(url, layer=name, fid_as_index=True)
    out["data"][name] = {
        "fids": [int(i) for i in df.index],
        "columns": [c for c in df.columns if c != "geometry"],
        "records": json.loads(df.drop(columns="geometry").to_json(orient="records", date_format="iso")),
        "wkt": df.geometry.to_wkt(rounding_precision=-1).tolist(),
    }
box = (119.45, 31.65, 119.60, 31.78)
df = pyogrio.read_dataframe(url, layer="violations", bbox=box, fid_as_index=True)
out["violations_in_box"] = sorted(int(i) for i in df.index)
# An attribute filter GDAL hands to the server: datetime=2021-03-01T/.. and status=...
df = pyogrio.read_dataframe(url, layer="violations", where=sys.argv[2], fid_as_index=True)
out["violations_where"] = sorted(int(i) for i in df.index)
print(json.dumps(out))
"""


GDAL_WHERE = "found_on >= '2021-03-01' AND status = '整改中'"


@pytest.fixture(scope="module")
def server(demo_path):
    app = create_app({"REGISTRY": str(demo_path)})
    with live_server(app, threads=4) as base_url:
        yield base_url


def _norm(value, ftype):
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if ftype == "date":
        return str(value)[:10]
    if ftype == "datetime":  # an instant, however GDAL spells it
        return pd.Timestamp(value).tz_convert("UTC").isoformat()
    if ftype == "bool":
        return bool(value)
    if ftype == "int":
        return int(value)
    if ftype == "float":
        return round(float(value), 9)
    return str(value)


def test_gdal_reads_every_collection_with_the_right_count_and_attributes(server, demo_path):
    proc = subprocess.run(
        [sys.executable, "-c", GDAL_READER, f"OAPIF:{server}/", GDAL_WHERE],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout)
    catalog = load_catalog()
    assert got["layers"] == catalog.ids
    reg = Registry.open(demo_path)
    try:
        for layer in catalog:
            expected = reg.read(layer.id)
            data = got["data"][layer.id]
            assert len(data["fids"]) == len(expected), layer.id
            assert data["fids"] == expected.index.tolist(), layer.id
            assert set(data["columns"]) == set(layer.field_names), layer.id
            for fid, record in zip(data["fids"], data["records"], strict=True):
                row = expected.loc[fid]
                for f in layer.fields:
                    assert _norm(record[f.name], f.type) == _norm(row[f.name], f.type), (layer.id, fid, f.name)
            geoms = shapely.from_wkt(data["wkt"])
            same = shapely.equals_exact(
                shapely.normalize(geoms), shapely.normalize(expected.geometry.values), tolerance=1e-9
            ) | shapely.equals(geoms, expected.geometry.values)
            # A layer without geometry (the chiefs): GDAL sees no geometry either.
            same |= shapely.is_missing(geoms) & shapely.is_missing(expected.geometry.values)
            assert same.all(), layer.id
        # GDAL's spatial filter arrives as bbox=; it answers exactly what the registry does
        in_box = reg.read("violations", bbox=(119.45, 31.65, 119.60, 31.78)).index.tolist()
        assert 0 < len(in_box) < reg.count("violations")
        assert got["violations_in_box"] == in_box
        frame = reg.read("violations")
        where = frame[(frame["found_on"] >= "2021-03-01") & (frame["status"] == "整改中")].index.tolist()
        assert 0 < len(where) < len(frame)
        assert got["violations_where"] == where
    finally:
        reg.close()


def test_concurrent_readers_get_no_errors_and_consistent_answers(server):
    urls = [
        "/collections/violations/items?bbox=119.45,31.65,119.60,31.78&limit=50",
        "/collections/micro_water_bodies/items?limit=100&offset=200",
        "/collections/violations/items?status=整改中&sortby=-found_on",
        "/collections/rivers/items/3",
        "/collections",
        "/collections/violations/items?datetime=2021-03-01/..&limit=20",
    ]
    urls = [server + u.replace("整改中", "%E6%95%B4%E6%94%B9%E4%B8%AD") for u in urls]
    reference = {}
    for url in urls:
        with urllib.request.urlopen(url, timeout=30) as resp:
            body = json.loads(resp.read())
        reference[url] = _stable(body)
    errors: list[str] = []
    done = []

    def client(k: int) -> None:
        for i in range(50):
            url = urls[(i + k) % len(urls)]
            try:
                with urllib.request.urlopen(url, timeout=30) as resp:
                    body = json.loads(resp.read())
                if resp.status != 200 or _stable(body) != reference[url]:
                    errors.append(f"{url}: different answer")
                done.append(1)
            except Exception as exc:  # any failure is what this test looks for
                errors.append(f"{url}: {exc!r}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(done) == 200


def _stable(body: dict) -> str:
    """The body without its time stamp."""
    body = dict(body)
    body.pop("timeStamp", None)
    return json.dumps(body, sort_keys=True)
