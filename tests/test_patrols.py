"""Patrols: coverage against an independent shapely computation, duty against pandas,
track readers and cleaning."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString

from geo.patrols.clean import clean_track, jump_mask
from geo.patrols.coverage import reach_coverage
from geo.patrols.duty import duty_table, patrol_rate, required_patrols
from geo.patrols.settings import patrol_settings
from geo.patrols.tracks import Track, TrackError, read_tracks_bytes

REACHES = pd.DataFrame({"code": ["A", "B"], "name": ["甲河", "乙河"]})
REACH_A = LineString([(440000, 3510000), (441000, 3510300), (442000, 3510100), (443500, 3511000)])
REACH_B = LineString([(440000, 3512000), (440500, 3513000), (441500, 3513500)])


def _reference(reach, tracks, buffer_m):
    """Independent: the reach intersected with the union of the buffered tracks."""
    if not tracks:
        return 0.0
    zone = shapely.union_all([t.buffer(buffer_m) for t in tracks])
    return reach.intersection(zone).length


coords = st.tuples(st.floats(439500, 444000), st.floats(3509500, 3514000))
track_st = st.lists(coords, min_size=2, max_size=8).map(LineString).filter(lambda g: g.length > 1)


@settings(max_examples=40, deadline=None)
@given(tracks=st.lists(track_st, min_size=0, max_size=6), buffer_m=st.floats(5, 300))
def test_coverage_equals_reach_intersected_with_buffered_tracks_within_1m(tracks, buffer_m):
    result = reach_coverage(REACHES, np.array([REACH_A, REACH_B]), np.array(tracks, dtype=object),
                            buffer_m, metric=True)
    for r, reach in zip(result, [REACH_A, REACH_B], strict=True):
        expected = _reference(reach, tracks, buffer_m)
        assert abs(r.covered_m - expected) <= 1.0
        assert abs(r.length_m - reach.length) < 1e-6
        # Covered and uncovered stretches make up the whole reach.
        assert abs(r.uncovered.length + r.covered_m - reach.length) <= 1.0


def test_a_track_along_half_a_reach_covers_half_of_it_give_or_take_the_buffer_ends():
    reach = LineString([(440000, 3510000), (444000, 3510000)])
    track = LineString([(440000, 3510010), (442000, 3510010)])
    buffer_m = 50.0
    (r,) = reach_coverage(REACHES.iloc[:1], np.array([reach]), np.array([track]), buffer_m, metric=True)
    # The round cap at the track's end reaches sqrt(50² - 10²) ≈ 49 m further.
    assert 0.5 <= r.share <= 0.5 + buffer_m / reach.length
    assert r.uncovered.length == pytest.approx(reach.length - r.covered_m)


def test_coverage_of_lon_lat_reaches_is_measured_in_metres():
    from geo.crs import from_metric

    reach = from_metric(LineString([(440000, 3510000), (441000, 3510000)]))
    track = from_metric(LineString([(440000, 3510000), (440500, 3510000)]))
    (r,) = reach_coverage(REACHES.iloc[:1], np.array([reach]), np.array([track]), 10.0)
    assert r.length_m == pytest.approx(1000, abs=0.5)
    assert r.covered_m == pytest.approx(510, abs=0.5)  # 10 m beyond the track's end


def test_no_track_leaves_every_reach_uncovered():
    result = reach_coverage(REACHES, np.array([REACH_A, REACH_B]), np.array([], dtype=object), 50, metric=True)
    assert [r.covered_m for r in result] == [0, 0]
    assert result[0].uncovered.length == pytest.approx(REACH_A.length)
    assert result[0].to_json()["uncovered"]["type"] == "MultiLineString"


# -- duty ---------------------------------------------------------------------------------


def test_required_patrols_count_whole_periods():
    y0, y1 = date(2021, 1, 1), date(2021, 12, 31)
    assert required_patrols("week", y0, y1) == 52
    assert required_patrols("month", y0, y1) == 12
    assert required_patrols("quarter", y0, y1) == 4
    assert required_patrols("quarter", date(2021, 1, 15), date(2021, 6, 30)) == 1
    assert required_patrols("month", date(2021, 2, 1), date(2021, 2, 27)) == 0


@settings(max_examples=25, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 364), st.integers(0, 23), st.booleans()), max_size=120
    ),
    start=st.integers(0, 200),
    span=st.integers(0, 300),
)
def test_duty_and_patrol_rate_equal_a_plain_pandas_recount(data, start, span):
    cfg = patrol_settings()
    chiefs = pd.DataFrame({
        "name": ["甲", "乙", "丙", "丁", "戊", "己"],
        "level": ["村级", "村级", "镇级", "镇级", "区级", "区级"],
        "active": [True, True, True, True, True, False],
    })
    t0 = pd.Timestamp("2021-01-01T00:00:00Z")
    patrols = pd.DataFrame({
        "chief": [chiefs["name"][c] for c, _, _, _ in data],
        "started_at": [(t0 + pd.Timedelta(days=d, hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for _, d, h, _ in data],
        "valid": [v for *_, v in data],
    })
    s = date(2021, 1, 1) + pd.Timedelta(days=start)
    e = s + pd.Timedelta(days=span)
    got = duty_table(chiefs, patrols, s, e, cfg).set_index("chief")

    # Recount: Beijing-time dates, valid only, active chiefs only.
    local = pd.to_datetime(patrols["started_at"], utc=True).dt.tz_convert("Asia/Shanghai").dt.date
    ok = patrols[patrols["valid"] & (local >= s) & (local <= e)]
    active = chiefs[chiefs["active"]]
    assert sorted(got.index) == sorted(active["name"])
    for row in active.itertuples():
        req = required_patrols(cfg.duty[row.level][0], s, e)
        done = int((ok["chief"] == row.name).sum())
        assert got.loc[row.name, "required"] == req
        assert got.loc[row.name, "done"] == done
        assert got.loc[row.name, "met"] == (done >= req)
    rate = patrol_rate(got.reset_index()).set_index("level")
    for level, group in got.groupby("level"):
        assert rate.loc[level, "rate"] == pytest.approx(group["met"].mean())


# -- readers and cleaning -----------------------------------------------------------------


def test_gpx_1_0_and_1_1_with_several_tracks_and_segments():
    gpx = b"""<?xml version="1.0"?>
<gpx version="1.0" xmlns="http://www.topografix.com/GPX/1/0">
 <trk><name>one</name>
  <trkseg><trkpt lat="31.70" lon="119.50"><time>2021-03-01T08:00:00Z</time></trkpt>
          <trkpt lat="31.71" lon="119.50"><time>2021-03-01T08:10:00Z</time></trkpt></trkseg>
  <trkseg><trkpt lat="31.72" lon="119.50"><time>2021-03-01T08:20:00Z</time></trkpt>
          <trkpt lat="31.73" lon="119.50"><time>2021-03-01T16:30:00+08:00</time></trkpt></trkseg>
 </trk>
 <trk><name>two</name><trkseg><trkpt lat="31.7" lon="119.4"/><trkpt lat="31.71" lon="119.4"/></trkseg></trk>
</gpx>"""
    one, two = read_tracks_bytes(gpx, "a.gpx")
    assert one.name == "one" and len(one) == 4
    assert len(one.geometry().geoms) == 2
    assert one.duration_min == 30.0  # 16:30 Beijing time is 08:30 UTC
    assert two.times is None and two.duration_min is None


def test_xml_entities_are_not_resolved():
    gpx = b"""<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<gpx><trk><name>&x;</name><trkseg><trkpt lat="31.7" lon="119.5"/><trkpt lat="31.71" lon="119.5"/></trkseg></trk></gpx>"""
    (t,) = read_tracks_bytes(gpx, "x.gpx")
    assert "root" not in t.name


@pytest.mark.parametrize("data", [b"", b"   ", b"<gpx></gpx>"])
def test_empty_files_are_refused(data):
    with pytest.raises(TrackError, match="没有轨迹点"):
        read_tracks_bytes(data, "e.gpx")


def _track(x, y, secs):
    from geo.crs import from_metric

    ll = shapely.get_coordinates(from_metric(shapely.points(np.column_stack([x, y]))))
    times = np.datetime64("2021-03-01T00:00:00") + np.asarray(secs).astype("timedelta64[s]")
    return Track("t.gpx", "t", ll[:, 0], ll[:, 1], times, np.zeros(len(x), dtype=np.int64))


def test_gps_jumps_and_repeated_timestamps_are_dropped_and_reported():
    x = 440000 + np.arange(10) * 36.0
    y = np.full(10, 3510000.0)
    y[4] += 900  # a jump
    secs = np.arange(10) * 30
    secs[7] = secs[6]  # a repeated timestamp
    c = clean_track(_track(x, y, secs), max_speed_ms=15)
    assert c.dropped == {"jumps": 1, "duplicates": 1}
    assert len(c.track) == 8
    assert any("速度" in line for line in c.report("zh", 15))


def test_jump_mask_keeps_a_steady_walk_and_drops_spikes_at_the_ends():
    x = np.arange(8) * 30.0
    y = np.zeros(8)
    secs = np.arange(8) * 30.0
    assert jump_mask(x, y, secs, 10).all()
    y[0] = 2000
    assert list(np.flatnonzero(~jump_mask(x, y, secs, 10))) == [0]


def test_time_going_backwards_is_refused():
    x = 440000 + np.arange(4) * 30.0
    with pytest.raises(TrackError, match="时间倒退"):
        clean_track(_track(x, np.full(4, 3510000.0), [0, 30, 20, 60]))


# -- GPX export ---------------------------------------------------------------------------


def test_a_reach_exports_as_a_gpx_track_a_phone_can_follow(demo_path, tmp_path):
    import pyogrio

    from geo.export import export
    from geo.registry import Registry

    with Registry.open(demo_path) as reg:
        river = reg.read("rivers", where={"code": "HD-0005"}).iloc[0]
        res = export(reg, "rivers", "gpx", tmp_path / "r.gpx", where="code=HD-0005")
    assert res.counts == {"rivers": 1}
    got = pyogrio.read_dataframe(tmp_path / "r.gpx", layer="tracks")
    assert got["name"].tolist() == ["通济河"]
    assert shapely.equals_exact(got.geometry.values[0], river.geometry, tolerance=1e-8)


def test_exported_patrols_keep_their_times_and_read_back_as_the_same_tracks(demo_path, tmp_path):
    from geo.export import export
    from geo.registry import Registry

    with Registry.open(demo_path) as reg:
        chief = reg.read("patrols", limit=1).iloc[0]["chief"]
        patrols = reg.read("patrols", where={"chief": chief})
        export(reg, "patrols", "gpx", tmp_path / "p.gpx", where=f"chief={chief}")
    tracks = read_tracks_bytes((tmp_path / "p.gpx").read_bytes(), "p.gpx")
    assert [t.name for t in tracks] == patrols["code"].tolist()
    for t, (_, row) in zip(tracks, patrols.iterrows(), strict=True):
        assert t.duration_min == pytest.approx(row["duration_min"], abs=0.051)  # stored to 0.1 min
        from geo.patrols.importing import fix_instants

        assert [s + "Z" for s in np.datetime_as_string(t.times, unit="s")] == fix_instants(
            row["started_at"], row["fix_seconds"]
        )


# -- the datetime field type --------------------------------------------------------------


@pytest.mark.parametrize(
    "value,stored",
    [
        ("2021-03-01T08:00:00Z", "2021-03-01T08:00:00.000Z"),
        ("2021-03-01T16:00:00+08:00", "2021-03-01T08:00:00.000Z"),
        ("2021-03-01 16:00", "2021-03-01T08:00:00.000Z"),  # no zone: Beijing time
        ("2021-03-01T08:00:00.750Z", "2021-03-01T08:00:00.750Z"),
    ],
)
def test_datetime_fields_store_iso_utc_with_z(value, stored):
    from geo.validate import coerce_value
    from layers import load_catalog

    field = load_catalog()["patrols"].field("started_at")
    assert coerce_value(field, value, "patrols") == stored


@pytest.mark.parametrize("value", ["2021-02-30T08:00:00Z", "yesterday", "2021-03-01T25:00", 5])
def test_datetime_fields_refuse_what_is_not_an_instant(value):
    from geo.errors import ValidationError
    from geo.validate import coerce_value
    from layers import load_catalog

    field = load_catalog()["patrols"].field("started_at")
    with pytest.raises(ValidationError, match="started_at"):
        coerce_value(field, value, "patrols")


def test_a_chief_without_geometry_is_stored_and_served_with_null_geometry(registry):
    fid = registry.add("chiefs", {"code": "HZ-T1", "name": "测试河长", "level": "村级", "reaches": "HD-0005"}, None)
    assert registry.get("chiefs", fid)["geometry"] is None
    from geo.errors import ValidationError

    with pytest.raises(ValidationError, match="geometry"):
        registry.add("patrols", {"code": "X", "chief": "测试河长", "source": "GPX"}, None)
