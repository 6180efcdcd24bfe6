"""Item reading without a request (geo.items): the same pages the OGC API serves."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from geo.item_params import ParameterError
from geo.items import Page, parse_items, read_items, registry_state, temporal_extent


def args(**kw) -> MultiDict:
    return MultiDict({k.replace("_", "-"): v for k, v in kw.items()})


def test_a_page_says_where_it_sits_among_the_matches(registry):
    total = registry.count("violations")
    page = read_items(registry, registry.layer("violations"), args(limit="10", offset="5"))
    assert isinstance(page, Page) and page.rows is not None and page.frame is None
    assert (page.matched, page.returned, page.offset, page.limit) == (total, 10, 5, 10)
    assert (page.next_offset, page.prev_offset) == (15, 0)
    last = read_items(registry, registry.layer("violations"), args(limit="10", offset=str(total - 3)))
    assert last.returned == 3 and last.next_offset is None


def test_filters_sorting_and_datetime_go_to_the_store(registry):
    layer = registry.layer("violations")
    page = read_items(registry, layer, args(status="整改中", sortby="-found_on", limit="1000"))
    expected = registry.read("violations", where={"status": "整改中"})
    assert page.matched == len(expected) == page.returned
    days = [row[2 + layer.field_names.index("found_on")] for row in page.rows]
    assert days == sorted(days, reverse=True)
    spring = read_items(registry, layer, args(datetime="2021-03-01/2021-05-31", limit="1000"))
    found = spring.rows
    position = 2 + layer.field_names.index(layer.temporal[0])
    assert found and all("2021-03-01" <= str(r[position])[:10] <= "2021-05-31" for r in found)


def test_a_download_holds_every_match_unless_a_limit_is_given(registry):
    layer = registry.layer("violations")
    every = read_items(registry, layer, args(), want="frame")
    assert every.frame is not None and every.returned == every.matched == registry.count("violations")
    some = read_items(registry, layer, args(limit="7"), want="frame")
    assert some.returned == 7 and some.matched == every.matched


def test_an_html_page_is_capped(registry):
    query = parse_items(args(limit="5000"), registry.layer("violations"), want="rows", page_max=1000)
    assert query.limit == 1000


@pytest.mark.parametrize(
    ("given", "parameter"),
    [({"limit": "0"}, "limit"), ({"bbox": "1,2"}, "bbox"), ({"nope": "1"}, "nope"),
     ({"filter_lang": "sql"}, "filter-lang"), ({"filter": " "}, "filter"), ({"crs": "EPSG:3857"}, "crs")],
)
def test_bad_parameters_are_errors_naming_them_in_both_languages(registry, given, parameter):
    with pytest.raises(ParameterError) as info:
        read_items(registry, registry.layer("violations"), args(**given))
    err = info.value
    assert err.details["parameter"] == parameter
    assert err.render("en").startswith(f"parameter {parameter}: ")
    assert err.render("zh").startswith(f"参数 {parameter}：")


def test_the_state_token_changes_with_a_write(registry):
    before = registry_state(registry, "violations")
    fid = int(registry.read("violations", limit=1).index[0])
    registry.update("violations", fid, {"note": "复查"})
    after = registry_state(registry, "violations")
    assert after.token != before.token and "violations" in after.layers
    assert after.modified is not None


def test_temporal_extent_is_kept_per_state(registry):
    layer = registry.layer("violations")
    cache: dict = {}
    span = temporal_extent(registry, layer, cache, "t1")
    assert span is not None and span[0] <= span[1] and cache[("violations", "t1")] == span
    assert temporal_extent(registry, registry.layer("towns")) is None
