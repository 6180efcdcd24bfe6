"""CQL2 filters pushed into the store give the same answers as the pandas reference."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import cql2
from geo.registry import Registry
from geo.stores.gpkg import GeoPackageStore
from geo.stores.sql_filter import SQLiteDialect, translate
from layers import load_catalog

FIELDS = {
    "status": st.sampled_from(["'待交办'", "'已销号'", "'整改中'", "'closed'", "'反弹'"]),
    "category": st.sampled_from(["'乱堆'", "'乱占'", "'乱建'"]),
    "found_on": st.sampled_from(["'2021-03-01'", "'2021-06-30'", "DATE('2021-05-01')", "'2020-12-31'"]),
    "closed_on": st.sampled_from(["'2021-06-01'", "DATE('2021-09-30')", "TIMESTAMP('2021-06-01T08:00:00Z')"]),
    "town": st.sampled_from(["'儒林镇'", "'金城镇'", "'直溪镇'"]),
    "fid": st.integers(0, 320).map(str),
}
OPS = st.sampled_from(["=", "<>", "<", "<=", ">", ">="])


@st.composite
def predicate(draw):
    field = draw(st.sampled_from(sorted(FIELDS)))
    kind = draw(st.sampled_from(["cmp", "cmp", "in", "null", "like", "between", "spatial"]))
    if kind == "cmp":
        return f"{field} {draw(OPS)} {draw(FIELDS[field])}"
    if kind == "in":
        values = draw(st.lists(FIELDS[field], min_size=1, max_size=3))
        return f"{field} {draw(st.sampled_from(['', 'NOT ']))}IN ({', '.join(values)})"
    if kind == "null":
        return f"{field} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"
    if kind == "like":
        pattern = draw(st.sampled_from(["'%镇'", "'儒%'", "'QSL-%-00_1'", "'%'", "'_'", "'%2021%'"]))
        return f"{draw(st.sampled_from(['town', 'code', 'found_on']))} LIKE {pattern}"
    if kind == "between":
        return "found_on BETWEEN '2021-03-01' AND '2021-08-31'"
    lon, lat = draw(st.floats(119.3, 119.8)), draw(st.floats(31.55, 31.9))
    dist = draw(st.sampled_from([50, 500, 2000]))
    return draw(st.sampled_from([
        f"DWITHIN(geometry, POINT({lon} {lat}), {dist}, meters)",
        f"S_INTERSECTS(geometry, BBOX({lon - 0.05}, {lat - 0.05}, {lon}, {lat}))",
    ]))


@st.composite
def filters(draw, depth=0):
    if depth >= 3 or draw(st.booleans()):
        return draw(predicate())
    a, b = draw(filters(depth + 1)), draw(filters(depth + 1))
    form = draw(st.sampled_from(["({a}) AND ({b})", "({a}) OR ({b})", "NOT ({a})", "{a} AND {b}"]))
    return form.format(a=a, b=b)


@pytest.fixture(scope="module")
def demo_store(demo_path):
    reg = Registry.open(demo_path)
    yield reg
    reg.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=filters())
def test_pushed_down_filters_equal_the_pandas_reference(demo_store, text):
    layer = demo_store.layer("violations")
    whole = demo_store.read("violations")
    expected = sorted(whole.index[cql2.evaluate(cql2.parse(text), whole, layer)].tolist())
    got = demo_store.read("violations", filter=text)
    assert sorted(got.index.tolist()) == expected
    assert demo_store.count("violations", filter=text) == len(expected)
    rows, matched = demo_store.read_rows("violations", filter=text, limit=7, offset=3)
    assert matched == len(expected) and [r[0] for r in rows] == expected[3:10]


def test_plain_comparisons_run_wholly_in_sql():
    layer = load_catalog()["violations"]
    tree = cql2.parse("status IN ('待交办', '反弹') AND (found_on >= DATE('2021-05-01') OR town LIKE '儒%')")
    translation = translate(tree, layer, SQLiteDialect())
    assert translation.residual is None and "GLOB" in translation.sql


def test_spatial_terms_narrow_by_the_rtree_and_stay_exact():
    layer = load_catalog()["violations"]
    tree = cql2.parse("status = '整改中' AND DWITHIN(geometry, POINT(119.5 31.7), 50, meters)")
    translation = translate(tree, layer, SQLiteDialect())
    assert translation.residual[0] == "dwithin"
    assert "rtree_violations_geom" in translation.sql


def test_the_gpkg_store_is_a_complete_store():
    assert not getattr(GeoPackageStore, "__abstractmethods__", set())
