"""GCJ-02/BD-09 conversions against published reference values, and the metric CRS."""

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from geo import crs

# Reference values published with the widely used coordtransform library
# (wandergis/coordtransform, test/app.js), for the point (116.404, 39.915).
REF = (116.404, 39.915)


def test_wgs84_to_gcj02_matches_published_reference():
    lon, lat = crs.wgs84_to_gcj02(*REF)
    assert lon == pytest.approx(116.41024449916938, abs=1e-9)
    assert lat == pytest.approx(39.91640428150164, abs=1e-9)


def test_gcj02_to_bd09_and_back_match_published_reference():
    lon, lat = crs.gcj02_to_bd09(*REF)
    assert (lon, lat) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-9)
    lon, lat = crs.bd09_to_gcj02(*REF)
    # Baidu's published inverse is approximate; ours refines it to an exact inverse.
    assert (lon, lat) == pytest.approx((116.39762729119315, 39.90865673957631), abs=5e-6)
    assert np.allclose(crs.gcj02_to_bd09(lon, lat), REF, atol=1e-9)


def test_gcj02_to_wgs84_is_close_to_the_one_step_reference_and_exactly_inverts():
    lon, lat = crs.gcj02_to_wgs84(*REF)
    # The published one-step inverse is approximate (metres); ours iterates to exact.
    assert (lon, lat) == pytest.approx((116.39775550083061, 39.91359571849836), abs=5e-5)
    back = crs.wgs84_to_gcj02(lon, lat)
    assert np.allclose(back, REF, atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=119.2, max_value=119.9),
    st.floats(min_value=31.4, max_value=32.0),
)
def test_round_trip_over_jintan_is_below_a_millionth_of_a_degree(lon, lat):
    g = crs.wgs84_to_gcj02(lon, lat)
    w = crs.gcj02_to_wgs84(*g)
    assert abs(w[0] - lon) < 1e-6 and abs(w[1] - lat) < 1e-6
    b = crs.wgs84_to_bd09(lon, lat)
    w2 = crs.bd09_to_wgs84(*b)
    assert abs(w2[0] - lon) < 1e-6 and abs(w2[1] - lat) < 1e-6


def test_offset_over_jintan_is_a_few_hundred_metres():
    p = Point(119.57, 31.74)
    g = crs.transform_geometry(p, "EPSG:4326", "gcj02")
    d = crs.to_metric(p).distance(crs.to_metric(g))
    assert 200 < d < 800


def test_outside_china_has_no_offset():
    lon, lat = crs.wgs84_to_gcj02(2.35, 48.85)
    assert (float(lon), float(lat)) == (2.35, 48.85)


def test_metric_crs_measures_metres():
    a = crs.to_metric(Point(119.5, 31.7))
    b = crs.to_metric(Point(119.5, 31.7 + 1 / 111.0))
    assert a.distance(b) == pytest.approx(1000, rel=0.01)


def test_zoned_4528_differs_from_4549_by_the_zone_prefix():
    x, y = crs.transform_coords([119.5], [31.7], "EPSG:4326", "EPSG:4528")
    x2, y2 = crs.transform_coords([119.5], [31.7], "EPSG:4326", "EPSG:4549")
    assert x[0] - x2[0] == pytest.approx(40_000_000, abs=1e-3)
    assert y[0] == pytest.approx(y2[0], abs=1e-3)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("gcj02", "gcj02"),
        ("GCJ-02", "gcj02"),
        ("BD09", "bd09"),
        ("4549", "EPSG:4549"),
        ("EPSG:4528", "EPSG:4528"),
        ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", "EPSG:4326"),
        (None, "EPSG:4326"),
    ],
)
def test_normalize_crs_accepts_the_names_people_use(name, expected):
    assert crs.normalize_crs(name) == expected


@pytest.mark.parametrize("name", ["EPSG:999999", "mars-2", "not a crs"])
def test_normalize_crs_refuses_unknown_names(name):
    with pytest.raises(crs.CRSError):
        crs.normalize_crs(name)


def test_transform_geometry_is_vectorised_over_arrays():
    pts = shapely.points(np.array([[119.5, 31.7], [119.6, 31.8]]))
    out = crs.transform_geometry(pts, "EPSG:4326", "gcj02")
    back = crs.transform_geometry(out, "gcj02", "EPSG:4326")
    assert np.allclose(shapely.get_coordinates(back), shapely.get_coordinates(pts), atol=1e-9)


def test_looks_projected():
    assert crs.looks_projected([40_500_000], [3_500_000])
    assert not crs.looks_projected([119.5], [31.7])
