"""The spatial index against brute force in EPSG:4549, and kept current write by write."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.crs import from_metric, to_metric
from geo.query import count_near, rows_intersecting, rows_near
from geo.spatial_index import PIECE_VERTICES, LayerIndex, split_lines

# A 4 km square of Jintan, in EPSG:4549 metres.
X0, Y0, SIZE = 465_000.0, 3_510_000.0, 4_000.0
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

coord = st.tuples(st.floats(0, SIZE), st.floats(0, SIZE)).map(lambda p: (X0 + p[0], Y0 + p[1]))


@st.composite
def metric_geometry(draw, kinds=("point", "line", "polygon")):
    kind = draw(st.sampled_from(kinds))
    if kind == "point":
        return shapely.Point(draw(coord))
    if kind == "line":
        pts = draw(st.lists(coord, min_size=2, max_size=40, unique=True))
        return shapely.LineString(pts)
    cx, cy = draw(coord)
    r = draw(st.floats(5, 600))
    n = draw(st.integers(3, 12))
    angles = np.sort(draw(st.lists(st.floats(0, 2 * np.pi), min_size=n, max_size=n, unique=True)))
    ring = [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in angles]
    poly = shapely.Polygon(ring)
    return poly if poly.is_valid and poly.area > 1 else shapely.Point(cx, cy)


def frame_of(metric_geoms, start_fid: int = 1) -> gpd.GeoDataFrame:
    """Features stored as they would be: lon/lat, indexed by fid."""
    fids = np.arange(start_fid, start_fid + len(metric_geoms), dtype=np.int64)
    return gpd.GeoDataFrame(
        {"code": [f"F{f}" for f in fids]},
        geometry=from_metric(np.array(metric_geoms, dtype=object)),
        index=pd.Index(fids, name="fid"),
        crs="EPSG:4326",
    )


def brute_near(frame: gpd.GeoDataFrame, target_m, distance_m: float) -> dict[int, float]:
    d = shapely.distance(to_metric(np.asarray(frame.geometry.values, dtype=object)), target_m)
    return {int(f): float(v) for f, v in zip(frame.index, d, strict=True) if v <= distance_m}


def index_near(index: LayerIndex, target_m, distance_m: float) -> dict[int, float]:
    rows, dist = rows_near(index, target_m, distance_m)
    return {int(f): float(v) for f, v in zip(index.fids_of(rows), dist, strict=True)}


def assert_same(got: dict[int, float], want: dict[int, float]) -> None:
    assert set(got) == set(want)
    for fid, d in want.items():
        assert abs(got[fid] - d) <= 1e-6, (fid, got[fid], d)


def on_circle(center: shapely.Point, radius: float, n: int) -> list[shapely.Point]:
    """Points exactly ``radius`` metres from ``center`` (before the lon/lat round trip)."""
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return [shapely.Point(center.x + radius * np.cos(t), center.y + radius * np.sin(t)) for t in a]


def test_split_lines_keeps_every_segment():
    line = shapely.LineString([(i, (i * 7) % 5) for i in range(30)])
    pieces, owner = split_lines(np.array([line, shapely.Point(0, 0)], dtype=object), 8)
    assert owner.tolist().count(1) == 1
    segments = {tuple(map(tuple, s)) for p in pieces[owner == 0] for s in zip(p.coords[:-1], p.coords[1:], strict=True)}
    assert segments == set(zip(line.coords[:-1], line.coords[1:], strict=True))
    assert max(len(p.coords) for p in pieces[owner == 0]) == 8


@SETTINGS
@given(
    features=st.lists(metric_geometry(), min_size=1, max_size=30),
    target=metric_geometry(),
    distance=st.floats(0.5, 3000),
)
def test_near_equals_brute_force(features, target, distance):
    frame = frame_of(features)
    index = LayerIndex("t", frame)
    assert_same(index_near(index, target, distance), brute_near(frame, target, distance))


@SETTINGS
@given(target=metric_geometry(), distance=st.floats(1, 2000), n=st.integers(3, 24))
def test_points_at_exactly_the_distance_follow_brute_force_and_the_limit_is_inclusive(target, distance, n):
    # Points built at exactly `distance` from the target's nearest vertex, stored in
    # lon/lat: after the round trip they sit within a nanometre of the limit, on either
    # side. The index must decide each exactly as brute force does.
    anchor = shapely.Point(shapely.get_coordinates(target)[0])
    features = on_circle(anchor, distance + shapely.distance(anchor, target), n) + on_circle(anchor, distance, n)
    frame = frame_of(features)
    index = LayerIndex("t", frame)
    assert_same(index_near(index, target, distance), brute_near(frame, target, distance))
    # Inclusive: asking for exactly a feature's measured distance includes it; asking
    # for the next float below excludes it.
    measured = shapely.distance(to_metric(np.asarray(frame.geometry.values, dtype=object)), target)
    i = int(np.argmax(measured))
    exact = float(measured[i])
    assert int(frame.index[i]) in index_near(index, target, exact)
    assert int(frame.index[i]) not in index_near(index, target, float(np.nextafter(exact, 0)))


@SETTINGS
@given(features=st.lists(metric_geometry(), min_size=1, max_size=30), area=metric_geometry(("polygon", "line")))
def test_intersects_equals_brute_force(features, area):
    frame = frame_of(features)
    index = LayerIndex("t", frame)
    got = set(index.fids_of(rows_intersecting(index, area)).tolist())
    metric = to_metric(np.asarray(frame.geometry.values, dtype=object))
    want = set(frame.index[shapely.intersects(metric, area)].tolist())
    assert got == want


@SETTINGS
@given(
    features=st.lists(metric_geometry(("point",)), min_size=1, max_size=40),
    targets=st.lists(metric_geometry(("line", "point")), min_size=1, max_size=6),
    distance=st.floats(1, 1500),
)
def test_counts_per_target_equal_brute_force(features, targets, distance):
    frame = frame_of(features)
    index = LayerIndex("t", frame)
    counts = count_near(index, targets, distance)
    assert counts.tolist() == [len(brute_near(frame, t, distance)) for t in targets]


def test_a_long_line_is_indexed_by_pieces_not_its_box():
    # A U-shaped river: its bounding box holds the point, its pieces do not come near it.
    river = shapely.LineString([(X0, Y0), (X0, Y0 + 3000), (X0 + 3000, Y0 + 3000), (X0 + 3000, Y0)])
    index = LayerIndex("rivers", frame_of([river]))
    assert len(index.base.pieces) == 1  # 4 vertices: one piece
    long_river = shapely.LineString([(X0 + i * 10.0, Y0 + (i % 2) * 5.0) for i in range(300)])
    index = LayerIndex("rivers", frame_of([long_river]))
    assert len(index.base.pieces) == int(np.ceil(299 / (PIECE_VERTICES - 1)))
    probe = shapely.Point(X0 + 1500, Y0 + 2000)
    q, rows, _ = index.pairs_dwithin(np.array([probe]), 50)
    assert len(rows) == 0


ops = st.lists(
    st.tuples(st.sampled_from(["add", "update", "delete"]), st.integers(0, 10_000), metric_geometry()),
    min_size=1,
    max_size=40,
)


@SETTINGS
@given(initial=st.lists(metric_geometry(), min_size=0, max_size=15), sequence=ops, target=metric_geometry(),
       distance=st.floats(1, 2500), batch=st.booleans())
def test_random_writes_then_queries_equal_a_fresh_rebuild(initial, sequence, target, distance, batch):
    frame = frame_of(initial)
    index = LayerIndex("t", frame, compact_min_rows=4)  # small: compaction happens too
    current = {int(f): g for f, g in zip(frame.index, initial, strict=True)}
    next_fid = len(initial) + 1
    pending_frames, pending_fids = [], []
    for op, pick, geom in sequence:
        if op == "add" or not current:
            fid, next_fid = next_fid, next_fid + 1
            current[fid] = geom
            change = frame_of([geom], fid)
        else:
            fid = sorted(current)[pick % len(current)]
            if op == "update":
                current[fid] = geom
                change = frame_of([geom], fid)
            else:
                del current[fid]
                change = frame_of([], fid)
        if batch:  # as a registry catching up with several writes at once
            pending_frames.append(change)
            pending_fids.append(fid)
        else:
            index.apply(change, [fid])
            index_near(index, target, distance)  # interleaved queries
    if batch and pending_fids:
        latest = pd.concat(pending_frames)
        latest = latest[~latest.index.duplicated(keep="last")]
        latest = latest[latest.index.isin(list(current))]
        index.apply(gpd.GeoDataFrame(latest, crs="EPSG:4326"), pending_fids)
    fids = sorted(current)
    fresh = LayerIndex("t", frame_of([current[f] for f in fids]).set_axis(pd.Index(fids, name="fid")))
    assert index.alive_count == len(current)
    assert_same(index_near(index, target, distance), index_near(fresh, target, distance))
    got = index.take(index.all_rows()).set_index("fid").sort_index()
    assert got.index.tolist() == fids


def test_inserts_are_queued_and_indexed_by_the_next_search():
    index = LayerIndex("t", frame_of([shapely.Point(X0, Y0)]))
    for i in range(50):
        index.apply(frame_of([shapely.Point(X0 + 10 * i, Y0)], 100 + i), [100 + i])
    assert index.rebuilds == 0
    assert index.delta_size == 50
    assert len(index_near(index, shapely.Point(X0, Y0), 1000)) == 51
