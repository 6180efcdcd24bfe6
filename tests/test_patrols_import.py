"""Importing patrol tracks: every format and CRS, and every refusal writing nothing."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import shapely

from cli.main import main
from geo.crs import from_metric, to_metric, wgs84_to_bd09, wgs84_to_gcj02
from geo.patrols.importing import import_tracks
from geo.patrols.tracks import TrackError

T0 = np.datetime64("2021-05-10T01:00:00")


@pytest.fixture
def reach(registry):
    """A district river reach, its chief and a 3 km walk along it (lon/lat, 30 s fixes)."""
    rivers = registry.read("rivers")
    row = rivers[rivers["code"] == "HD-0005"].iloc[0]
    line = to_metric(row.geometry)
    pts = shapely.line_interpolate_point(line, np.linspace(500, 3500, 90))
    ll = shapely.get_coordinates(from_metric(pts))
    times = T0 + (np.arange(len(ll)) * 30).astype("timedelta64[s]")
    return {"code": row["code"], "chief": row["chief"], "lon": ll[:, 0], "lat": ll[:, 1], "times": times}


def gpx(lon, lat, times=None, version="1.1", tracks=1) -> bytes:
    ns = "http://www.topografix.com/GPX/1/1" if version == "1.1" else "http://www.topografix.com/GPX/1/0"
    pts = "".join(
        f'<trkpt lat="{y}" lon="{x}">' + (f"<time>{t}Z</time>" if times is not None else "") + "</trkpt>"
        for x, y, t in zip(lon, lat, times if times is not None else [None] * len(lon), strict=True)
    )
    trk = f"<trk><name>巡河</name><trkseg>{pts}</trkseg></trk>"
    return f'<?xml version="1.0" encoding="UTF-8"?><gpx version="{version}" xmlns="{ns}">{trk * tracks}</gpx>'.encode()


def kml_track(lon, lat, times) -> bytes:
    whens = "".join(f"<when>{t}Z</when>" for t in times)
    coords = "".join(f"<gx:coord>{x} {y} 10</gx:coord>" for x, y in zip(lon, lat, strict=True))
    return (
        '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2" '
        'xmlns:gx="http://www.google.com/kml/ext/2.2"><Document><Placemark><name>t</name>'
        f"<gx:Track>{whens}{coords}</gx:Track></Placemark></Document></kml>"
    ).encode()


def kml_line(lon, lat, begin, end) -> bytes:
    coords = " ".join(f"{x},{y},0" for x, y in zip(lon, lat, strict=True))
    return (
        '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark>'
        f"<name>l</name><TimeSpan><begin>{begin}Z</begin><end>{end}Z</end></TimeSpan>"
        f"<LineString><coordinates>{coords}</coordinates></LineString></Placemark></Document></kml>"
    ).encode()


def kmz(doc: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("doc.kml", doc)
    return buf.getvalue()


def table(lon, lat, times) -> pd.DataFrame:
    return pd.DataFrame({"lon": lon, "lat": lat, "time": [f"{t}Z" for t in times]})


def xlsx(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_excel(buf, index=False)
    return buf.getvalue()


def _count(registry) -> int:
    return registry.count("patrols")


@pytest.mark.parametrize("fmt", ["gpx10", "gpx11", "kml", "kmz", "kml_line", "csv", "xlsx"])
def test_each_format_imports_one_valid_patrol_on_the_right_reach(registry, reach, fmt):
    lon, lat, t = reach["lon"], reach["lat"], reach["times"]
    data, name = {
        "gpx10": (lambda: gpx(lon, lat, t, "1.0"), "a.gpx"),
        "gpx11": (lambda: gpx(lon, lat, t), "a.gpx"),
        "kml": (lambda: kml_track(lon, lat, t), "a.kml"),
        "kmz": (lambda: kmz(kml_track(lon, lat, t)), "a.kmz"),
        "kml_line": (lambda: kml_line(lon, lat, t[0], t[-1]), "a.kml"),
        "csv": (lambda: table(lon, lat, t).to_csv(index=False).encode(), "a.csv"),
        "xlsx": (lambda: xlsx(table(lon, lat, t)), "a.xlsx"),
    }[fmt]
    before = _count(registry)
    res = import_tracks(registry, [(name, data())], reach["chief"])
    assert _count(registry) == before + 1
    (props, _), = res.patrols
    assert props["reaches"] == reach["code"]
    assert props["valid"], props["invalid_reason"]
    assert props["started_at"] == "2021-05-10T01:00:00.000Z"
    assert props["duration_min"] == pytest.approx(44.5)
    assert props["length_m"] == pytest.approx(3000, rel=0.02)
    stored = registry.read("patrols", where={"code": props["code"]}).iloc[0]
    assert stored["started_at"] == "2021-05-10T01:00:00.000Z"
    if fmt != "kml_line":  # a LineString with a TimeSpan has no per-fix times
        assert stored["fix_seconds"].split()[:3] == ["0", "30", "60"]


def test_several_tracks_in_one_file_become_several_patrols(registry, reach):
    lon, lat, t = reach["lon"], reach["lat"], reach["times"]
    frame = pd.concat([table(lon, lat, t).assign(track="a"),
                       table(lon, lat, t + np.timedelta64(1, "D")).assign(track="b")])
    res = import_tracks(registry, [("two.csv", frame.to_csv(index=False).encode())], reach["chief"])
    assert len(res.patrols) == 2


@pytest.mark.parametrize("crs,forward", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_offset_datums_are_converted_back_to_wgs84(registry, reach, crs, forward):
    lon, lat = forward(reach["lon"], reach["lat"])
    res = import_tracks(registry, [("a.gpx", gpx(lon, lat, reach["times"]))], reach["chief"], crs=crs)
    (_, geom), = res.patrols
    got = shapely.get_coordinates(geom)
    assert np.abs(got[:, 0] - reach["lon"]).max() < 1e-7
    assert res.patrols[0][0]["valid"]


def test_gpx_without_timestamps_is_accepted_with_duration_unknown_and_invalid(registry, reach):
    res = import_tracks(registry, [("a.gpx", gpx(reach["lon"], reach["lat"]))], reach["chief"])
    (props, _), = res.patrols
    assert props["duration_min"] is None and props["started_at"] is None
    assert not props["valid"] and "时长未知" in props["invalid_reason"]


def test_dry_run_writes_nothing_and_reports_the_same(registry, reach):
    before = _count(registry)
    res = import_tracks(registry, [("a.gpx", gpx(reach["lon"], reach["lat"], reach["times"]))],
                        reach["chief"], dry_run=True)
    assert len(res.patrols) == 1 and not res.written
    assert _count(registry) == before


def _refused(registry, files, chief, match, **kw):
    before = _count(registry)
    history = len(registry.history("patrols")) if hasattr(registry, "history") else 0
    with pytest.raises(TrackError, match=match):
        import_tracks(registry, files, chief, **kw)
    assert _count(registry) == before
    assert len(registry.history("patrols")) == history


def test_empty_file_is_refused(registry, reach):
    _refused(registry, [("e.gpx", b"")], reach["chief"], "没有轨迹点")


def test_single_point_is_refused(registry, reach):
    data = gpx(reach["lon"][:1], reach["lat"][:1], reach["times"][:1])
    _refused(registry, [("p.gpx", data)], reach["chief"], "构不成轨迹")


def test_time_going_backwards_is_refused(registry, reach):
    t = reach["times"].copy()
    t[10] = t[2]
    _refused(registry, [("b.gpx", gpx(reach["lon"], reach["lat"], t))], reach["chief"], "时间倒退")


def test_unknown_chief_is_refused_with_suggestions(registry, reach):
    wrong = reach["chief"][:-1] + "某"
    _refused(registry, [("a.gpx", gpx(reach["lon"], reach["lat"], reach["times"]))], wrong,
             f"未知河湖长.*{reach['chief']}")


def test_track_outside_the_district_is_refused(registry, reach):
    data = gpx(reach["lon"] + 2.0, reach["lat"], reach["times"])
    _refused(registry, [("far.gpx", data)], reach["chief"], "完全在金坛区外")


def test_gcj02_given_as_wgs84_far_enough_out_gets_the_gcj02_hint(registry, reach):
    # A track near the district's edge recorded in GCJ-02 can fall outside when read as WGS84.
    lon, lat = wgs84_to_gcj02(reach["lon"], reach["lat"])
    from geo.patrols.clean import _outside_hint
    from geo.patrols.tracks import Track

    t = Track("g.gpx", "g", lon, lat, None, np.zeros(len(lon), dtype=np.int64))
    district = registry.district_metric("patrols")
    assert "gcj02" in _outside_hint(t, "wgs84", district.buffer(-600), "en")


def test_swapped_lon_lat_is_refused_with_the_hint(registry, reach):
    data = gpx(reach["lat"], reach["lon"], reach["times"])
    _refused(registry, [("s.gpx", data)], reach["chief"], "经纬度对调")


def test_the_same_track_twice_is_refused_as_a_duplicate(registry, reach):
    data = gpx(reach["lon"], reach["lat"], reach["times"])
    import_tracks(registry, [("a.gpx", data)], reach["chief"])
    _refused(registry, [("again.gpx", data)], reach["chief"], "重复导入")
    # ... and within one import too.
    t = reach["times"] + np.timedelta64(7, "D")
    data2 = gpx(reach["lon"], reach["lat"], t)
    _refused(registry, [("x.gpx", data2), ("y.gpx", data2)], reach["chief"], "重复导入")


def test_one_bad_file_refuses_the_whole_import(registry, reach):
    good = gpx(reach["lon"], reach["lat"], reach["times"])
    _refused(registry, [("good.gpx", good), ("bad.gpx", b"<gpx><trk>")], reach["chief"], "无法读取")


def test_cli_import_dry_run_then_import_then_duplicate(registry, reach, tmp_path, capsys):
    path = registry.path
    f = tmp_path / "walk.gpx"
    f.write_bytes(gpx(reach["lon"], reach["lat"], reach["times"]))
    before = _count(registry)
    args = ["patrols", "import", str(f), "--chief", reach["chief"], "--registry", str(path)]
    assert main([*args, "--dry-run", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["written"] is False and len(out["patrols"]) == 1
    assert _count(registry) == before
    assert main(args) == 0
    assert _count(registry) == before + 1
    assert main(args) == 2
    assert "重复导入" in capsys.readouterr().err


def test_cli_coverage_and_duty_json(registry, capsys):
    path = str(registry.path)
    assert main(["patrols", "coverage", "--from", "2021-01-01", "--to", "2021-12-31", "--format", "json",
                 "--river", "通济河", "--registry", path]) == 0
    cov = json.loads(capsys.readouterr().out)
    assert cov and set(cov[0]) == {"code", "name", "length_m", "covered_m", "share", "uncovered"}
    assert all(0 <= r["share"] <= 1 and r["name"] == "通济河" for r in cov)
    assert main(["patrols", "duty", "--from", "2021-01-01", "--to", "2021-12-31", "--format", "json",
                 "--registry", path]) == 0
    duty = json.loads(capsys.readouterr().out)
    assert set(duty[0]) == {"chief", "level", "required", "done", "met"}
    assert len(duty) == registry.count("chiefs")
    assert main(["patrols", "coverage", "--from", "2021-13-01", "--to", "2021-12-31", "--registry", path]) == 2
    assert "from" in capsys.readouterr().err


def test_a_registry_without_chiefs_derives_them_from_the_reach_labels(registry, capsys):
    path = str(registry.path)
    labels = set(registry.read("rivers")["chief"]) | set(registry.read("lakes")["chief"].dropna())
    for fid in registry.read("chiefs").index:
        registry.delete("chiefs", int(fid))
    from geo.patrols.importing import known_chiefs

    assert set(known_chiefs(registry)["name"]) == labels  # the fallback, nothing stored
    assert main(["patrols", "chiefs", "--derive", "--registry", path]) == 0
    assert registry.count("chiefs") == len(labels)
    assert main(["patrols", "chiefs", "--derive", "--registry", path]) == 2  # not twice
    assert "not empty" in capsys.readouterr().err


def test_an_unknown_source_is_refused_even_in_a_dry_run(registry, reach):
    from geo.errors import ValidationError

    data = gpx(reach["lon"], reach["lat"], reach["times"])
    with pytest.raises(ValidationError, match="source"):
        import_tracks(registry, [("a.gpx", data)], reach["chief"], source="卫星", dry_run=True)
    res = import_tracks(registry, [("a.gpx", data)], reach["chief"], source="drone", dry_run=True)
    assert res.patrols[0][0]["source"] == "无人机"  # the English label is accepted
