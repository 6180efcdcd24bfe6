"""CQL2-text: parsing, evaluation with three-valued logic, and DWITHIN in metres."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.cql2 import filter_mask, parse
from geo.crs import from_metric, to_metric
from geo.errors import QueryError

CENTER_M = shapely.Point(465_000.0, 3_510_000.0)


@pytest.fixture
def violations() -> gpd.GeoDataFrame:
    """Five violations: the n-th lies n*100 m east of CENTER_M."""
    pts = [shapely.Point(CENTER_M.x + 100 * i, CENTER_M.y) for i in range(5)]
    return gpd.GeoDataFrame(
        {
            "code": pd.array(["A-1", "A-2", "B-1", "B_2", "C%1"], dtype=object),
            "category": pd.array(["乱占", "乱采", "乱堆", "乱建", "乱占"], dtype=object),
            "status": pd.array(["待交办", "已销号", "整改中", None, "反弹"], dtype=object),
            "source": pd.array(["12345", "巡河", "12345", None, "无人机"], dtype=object),
            "found_on": pd.array(["2020-05-01", "2021-01-01", "2021-03-15", "2021-06-30", None], dtype=object),
        },
        geometry=from_metric(np.array(pts, dtype=object)),
        index=pd.Index([1, 2, 3, 4, 5], name="fid"),
        crs="EPSG:4326",
    )


def rows(gdf, text: str) -> list[int]:
    return gdf.index[filter_mask(gdf, "violations", text)].tolist()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("status = '待交办'", [1]),
        ("status <> '已销号'", [1, 3, 5]),  # the missing status is unknown, not selected
        ("status != '已销号' OR status IS NULL", [1, 3, 4, 5]),
        ("category IN ('乱占', '乱建')", [1, 4, 5]),
        ("category NOT IN ('乱占', '乱建')", [2, 3]),
        ("code LIKE 'A-%'", [1, 2]),
        ("code LIKE 'B\\_%'", [4]),
        ("code LIKE '_-1'", [1, 3]),
        ("code NOT LIKE 'A%'", [3, 4, 5]),
        ("code LIKE 'C\\%1'", [5]),
        ("status IS NULL", [4]),
        ("status IS NOT NULL", [1, 2, 3, 5]),
        ("found_on >= DATE('2021-01-01')", [2, 3, 4]),
        ("found_on < TIMESTAMP('2021-01-01T00:00:00Z')", [1]),
        ("found_on BETWEEN '2021-01-01' AND '2021-03-31'", [2, 3]),
        ("found_on NOT BETWEEN '2021-01-01' AND '2021-03-31'", [1, 4]),
        ("source = 12345", [1, 3]),
        ("NOT (status = '待交办' OR status = '整改中')", [2, 5]),
        ("(category = '乱占' AND status = '反弹') OR code = 'A-2'", [2, 5]),
        ("fid <= 2", [1, 2]),
        ("\"status\" = '整改中'", [3]),
        ("STATUS = '整改中'", [3]),
        ("'整改中' = status", [3]),
        ("TRUE", [1, 2, 3, 4, 5]),
    ],
)
def test_comparisons_and_logic(violations, text, expected):
    assert rows(violations, text) == expected


def test_spatial_predicates_in_lon_lat(violations):
    box = from_metric(shapely.box(CENTER_M.x - 10, CENTER_M.y - 10, CENTER_M.x + 150, CENTER_M.y + 10))
    assert rows(violations, f"S_INTERSECTS(geometry, {box.wkt})") == [1, 2]
    minx, miny, maxx, maxy = box.bounds
    assert rows(violations, f"S_INTERSECTS(geometry, BBOX({minx}, {miny}, {maxx}, {maxy}))") == [1, 2]
    assert rows(violations, f"S_DISJOINT(geometry, {box.wkt})") == [3, 4, 5]
    assert rows(violations, f"S_WITHIN(geometry, {box.wkt}) AND status = '已销号'") == [2]


@pytest.mark.parametrize(
    "distance, units, expected",
    [
        ("200.001", "meters", [1, 2, 3]),
        ("199.999", "meters", [1, 2]),
        ("0.200001", "kilometers", [1, 2, 3]),
        ("0.199999", "kilometers", [1, 2]),
        ("656.2", "feet", [1, 2, 3]),  # 200.01 m
        ("656", "feet", [1, 2]),  # 199.95 m
        ("0.2", "statute miles", [1, 2, 3, 4]),  # 321.9 m
        ("0.1", "nautical miles", [1, 2]),  # 185.2 m
        ("0.1", "'nautical miles'", [1, 2]),
    ],
)
def test_dwithin_measures_in_metres_whatever_the_unit(violations, distance, units, expected):
    point = shapely.to_wkt(from_metric(CENTER_M), rounding_precision=-1)
    assert rows(violations, f"DWITHIN(geometry, {point}, {distance}, {units})") == expected


@settings(max_examples=30, deadline=None)
@given(d=st.floats(1, 2000), x=st.floats(-1500, 1500), y=st.floats(-1500, 1500))
def test_dwithin_equals_brute_force_in_epsg_4549(d, x, y):
    pts = [shapely.Point(CENTER_M.x + dx, CENTER_M.y + dy) for dx in (-900, 0, 450) for dy in (-700, 0, 333)]
    gdf = gpd.GeoDataFrame(
        {"code": [f"P{i}" for i in range(len(pts))]}, geometry=from_metric(np.array(pts, dtype=object)), crs="EPSG:4326"
    )
    probe = from_metric(shapely.Point(CENTER_M.x + x, CENTER_M.y + y))
    mask = filter_mask(gdf, "violations", f"DWITHIN(geometry, {shapely.to_wkt(probe, rounding_precision=-1)}, {d!r}, meters)")
    brute = shapely.distance(to_metric(np.asarray(gdf.geometry.values, dtype=object)), to_metric(probe)) <= d
    assert mask.tolist() == brute.tolist()


@pytest.mark.parametrize(
    "text, position, words",
    [
        ("status =", 9, "expected a property or a value"),
        ("colour = 'red'", 1, "unknown property 'colour'"),
        ("status = '待交办' AND", 19, "expected a property or a value"),
        ("status = '待交办' status", 16, "unexpected"),
        ("S_INTERSECTS(geometry, POINT(119.5 31.7)", 41, "expected ')'"),
        ("S_INTERSECTS(geometry, POLYGON((1 2, 3)))", 24, "malformed WKT"),
        ("DWITHIN(geometry, POINT(119.5 31.7), 50, parsecs)", 42, "unknown unit"),
        ("DWITHIN(geometry, POINT(119.5 31.7), -5, meters)", 38, "greater than 0"),
        ("DWITHIN(geometry, POINT(119.5 31.7), 50)", 40, "units"),
        ("status IN ()", 12, "expected a property or a value"),
        ("found_on > DATE('yesterday')", 17, "not a valid date"),
        ("status # 1", 8, "unexpected character"),
        ("", 1, "empty"),
        ("status NOT = 1", 12, "expected LIKE, IN or BETWEEN"),
        ("status = 'open", 10, "unexpected character"),
        ("DWITHIN(geometry, LINESTRING(119.5 31.7), 50, meters)", 19, "malformed WKT"),
        ("DWITHIN(geometry, POINT(NaN 31.7), 50, meters)", 19, "finite"),
        ("S_INTERSECTS(geometry, POINT(inf 31.7))", 24, "finite"),
        ("DWITHIN(geometry, POINT(465000 3510000), 50, meters)", 19, "longitude/latitude"),
        ("S_WITHIN(geometry, POLYGON((119.56 31.73, 119.561 31.731, 119.561 31.73, 119.56 31.731, 119.56 31.73)))",
         20, "invalid geometry: Self-intersection"),
        ("S_WITHIN(geometry, BBOX(119.6, 31.7, 119.5, 31.8))", 20, "minx <= maxx"),
        # a date field compared with something that is no date (ISO text would compare as text)
        ("found_on > 5", 10, "expected a date"),
        ("found_on BETWEEN '2021-01-01' AND 'later'", 10, "expected a date"),
    ],
)
def test_malformed_filters_name_the_position(violations, text, position, words):
    with pytest.raises(QueryError) as err:
        filter_mask(violations, "violations", text)
    assert err.value.status == 400
    assert "\n" not in err.value.message  # GEOS ends some messages with a newline
    assert err.value.details["position"] == position, err.value.message
    assert words in err.value.message
    assert f"position {position}" in err.value.message


def test_unknown_properties_are_reported_even_on_an_empty_frame(violations):
    with pytest.raises(QueryError, match="unknown property"):
        filter_mask(violations.iloc[:0], "violations", "colour = 1")
    assert filter_mask(violations.iloc[:0], "violations", "status = '反弹'").tolist() == []


def test_parse_builds_a_tree():
    assert parse("a = 1 AND NOT b IS NULL")[0] == "and"
    with pytest.raises(QueryError):
        parse(42)
