"""The map page in a real browser: headless Debian Chromium, offline, against a live server."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, quote, urljoin, urlparse
from urllib.request import urlopen

# browser_support is a module of this folder, which pytest puts on sys.path; not
# ``tests.browser_support``: an installed pygeoapi ships a top-level ``tests`` package.
import pytest
from browser_support import chromium, csp_violations, offline_page, serve, wait_map_idle

from geo.crs import gcj02_to_wgs84, wgs84_to_gcj02
from layers import load_catalog
from server import create_app

PROBLEM_LAYERS = ",".join(layer.id for layer in load_catalog().problem_layers)


def make_app(demo_path, **config):
    return create_app({"REGISTRY": str(demo_path), "TESTING": True, **config})


@pytest.fixture(scope="module")
def base_url(demo_path):
    with serve(make_app(demo_path)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page_errors(browser):
    with offline_page(browser) as triple:
        yield triple


@pytest.fixture
def page(page_errors):
    return page_errors[0]


def get_json(url: str) -> dict:
    with urlopen(url) as resp:  # noqa: S310 - loopback test server
        return json.loads(resp.read())


def open_map(page, base_url: str, query: str = "") -> None:
    page.goto(base_url + "/map" + query)
    wait_map_idle(page)


def drawn(page, layer_id: str) -> int:
    """SVG shapes drawn in a layer's pane."""
    return page.evaluate(f"document.querySelectorAll('.leaflet-hehu-{layer_id}-pane path').length")


def view_bounds(page) -> list[float]:
    return page.evaluate(
        "(() => { const b = hehuMap.map.getBounds();"
        " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()"
    )


def test_map_loads_offline_with_no_console_errors(page_errors, base_url):
    page, errors, blocked = page_errors
    open_map(page, base_url)
    assert errors == []
    assert blocked == []
    assert drawn(page, "district") >= 1 and drawn(page, "rivers") >= 1
    assert page.locator("#demo-badge").inner_text() == "演示数据（合成）"


def test_the_map_and_every_page_satisfy_the_content_security_policy(page_errors, base_url):
    page, errors, _ = page_errors
    open_map(page, base_url, "?layers=violations,rivers,micro_water_bodies")
    page.evaluate("hehuMap.map.setZoom(hehuMap.map.getZoom() + 1)")
    wait_map_idle(page)
    assert csp_violations(page) == []
    for path in ("/collections/violations/items?f=html", "/collections/violations/items/4?f=html",
                 "/collections/violations?f=html", "/targets", "/login", "/api?f=html", "/",
                 "/collections/violations/items/4/history?f=html"):
        resp = page.goto(base_url + path)
        assert "script-src 'self'" in resp.headers["content-security-policy"], path
        page.wait_for_load_state("networkidle")
        assert csp_violations(page) == [], path
    assert not [e for e in errors if "Content Security Policy" in e]


def test_layer_control_lists_every_catalog_layer_and_legend_only_visible_ones(page, base_url):
    open_map(page, base_url)
    titles = page.locator(".leaflet-control-layers-overlays .layer-title").all_inner_texts()
    catalog = load_catalog()
    # Chiefs (no geometry) and observations (on_map: false) are not map layers.
    assert titles == [layer.title_zh for layer in catalog if layer.on_map and not layer.geometry_optional]
    legend = page.eval_on_selector_all(".hehu-legend .legend-layer", "els => els.map(e => e.dataset.layer)")
    assert legend == [layer.id for layer in catalog if layer.on_map and not layer.geometry_optional and layer.default_visible]


def test_toggling_a_layer_changes_what_is_drawn_and_the_legend(page, base_url):
    open_map(page, base_url)
    before = drawn(page, "micro_water_bodies")
    assert before > 100
    page.locator(".layer-title[data-layer=micro_water_bodies]").click()
    wait_map_idle(page)
    assert drawn(page, "micro_water_bodies") == 0
    assert page.locator(".legend-layer[data-layer=micro_water_bodies]").count() == 0
    assert drawn(page, "signboards") == 0
    page.locator(".layer-title[data-layer=signboards]").click()
    wait_map_idle(page)
    assert drawn(page, "signboards") > 0
    assert page.locator(".legend-layer[data-layer=signboards]").count() == 1
    page.locator(".layer-title[data-layer=micro_water_bodies]").click()
    wait_map_idle(page)
    assert drawn(page, "micro_water_bodies") == before


def test_search_zooms_to_the_picked_feature_and_highlights_it(page, base_url):
    open_map(page, base_url)
    start = view_bounds(page)
    hit = get_json(base_url + "/search?q=" + quote("儒林污水处理厂"))["results"][0]
    page.locator("#search-input").fill("儒林污水处理厂")
    page.locator("#search-results li[data-i='0']").wait_for()
    assert "儒林污水处理厂" in page.locator("#search-results li[data-i='0']").inner_text()
    page.locator("#search-input").press("Enter")
    page.wait_for_function("() => document.querySelectorAll('.leaflet-hehu-highlight-pane path').length > 0")
    wait_map_idle(page)
    west, south, east, north = view_bounds(page)
    minx, miny, maxx, maxy = hit["bbox"]
    assert west <= minx <= maxx <= east and south <= miny <= maxy <= north
    assert (east - west) < (start[2] - start[0]) / 4


def run_query(page, mode: str, target: str, distance: str | None = None) -> None:
    page.locator("#query-toggle").click()
    page.locator(f"input[name=mode][value={mode}]").check()
    page.locator("#query-target").fill(target)
    if distance is not None:
        page.locator("#query-distance").fill(distance)
    page.locator("#query-run").click()
    page.wait_for_function("() => ['done', 'error'].includes(document.getElementById('query-panel').dataset.state)")
    wait_map_idle(page)


def test_query_panel_near_shows_the_same_count_as_the_api(page, base_url):
    open_map(page, base_url)
    run_query(page, "near", "丹金溧漕河", "50")
    api = get_json(f"{base_url}/query/near?target={quote('丹金溧漕河')}&distance=50&layers={PROBLEM_LAYERS}")
    count = int(page.locator("#query-count").get_attribute("data-count"))
    assert count == api["numberMatched"] > 0
    assert page.locator("#query-table tbody tr").count() == len(api["features"])
    first = page.locator("#query-table tbody tr").first.locator("td").all_inner_texts()
    assert first[4] == f"{round(api['features'][0]['properties']['distance_m'], 1):.1f}"
    href = page.locator("#query-download").get_attribute("href")
    assert parse_qs(urlparse(href).query)["download"] == ["1"]
    # the link downloads exactly that result
    got = page.request.get(urljoin(page.url, href))
    assert got.status == 200 and "attachment" in got.headers.get("content-disposition", "")
    codes = sorted(f["properties"].get("code") for f in json.loads(got.body())["features"])
    assert codes == sorted(f["properties"].get("code") for f in api["features"]) and len(codes) == count
    assert page.evaluate("document.querySelectorAll('.leaflet-hehu-highlight-pane path').length") > count


def test_query_panel_within_a_town_shows_the_same_count_as_the_api(page, base_url):
    open_map(page, base_url)
    run_query(page, "within", "儒林镇")
    api = get_json(f"{base_url}/query/within?area={quote('儒林镇')}&layers={PROBLEM_LAYERS}")
    assert int(page.locator("#query-count").get_attribute("data-count")) == api["numberMatched"]


def test_query_panel_shows_the_api_error_for_bad_input(page, base_url):
    open_map(page, base_url)
    run_query(page, "near", "丹金溧漕河", "-5")
    with pytest.raises(Exception) as info:
        urlopen(f"{base_url}/query/near?target={quote('丹金溧漕河')}&distance=-5&layers={PROBLEM_LAYERS}")
    expected = json.loads(info.value.read())["description"]
    assert page.locator("#query-error").is_visible()
    assert page.locator("#query-error").inner_text() == expected


def test_gcj02_in_the_page_mirrors_geo_crs(page, base_url):
    open_map(page, base_url)
    points = [(119.30, 31.55), (119.57, 31.74), (119.75, 31.95), (116.404, 39.915), (2.35, 48.85)]
    shifted = page.evaluate("pts => pts.map(p => hehuGcj02.toGcj02(p[0], p[1]))", points)
    back = page.evaluate("pts => pts.map(p => hehuGcj02.toWgs84(p[0], p[1]))", shifted)
    for (lon, lat), (glon, glat), (blon, blat) in zip(points, shifted, back, strict=True):
        elon, elat = wgs84_to_gcj02(lon, lat)
        assert glon == pytest.approx(float(elon), abs=1e-9) and glat == pytest.approx(float(elat), abs=1e-9)
        wlon, wlat = gcj02_to_wgs84(glon, glat)
        assert blon == pytest.approx(float(wlon), abs=1e-8) and blat == pytest.approx(float(wlat), abs=1e-8)


def first_section_latlng(page) -> list[float]:
    return page.evaluate(
        "(() => { const g = hehuMap.layers.sections.getLayers()[0];"
        " const ll = g.getLayers()[0].getLatLng(); return [ll.lng, ll.lat]; })()"
    )


def test_amap_basemap_shifts_overlays_into_gcj02(page_errors, base_url):
    page, _, blocked = page_errors
    open_map(page, base_url)
    lon, lat = first_section_latlng(page)
    page.locator(".leaflet-control-layers-base label", has_text="高德地图").click()
    wait_map_idle(page)
    glon, glat = first_section_latlng(page)
    elon, elat = wgs84_to_gcj02(lon, lat)
    assert glon == pytest.approx(float(elon), abs=1e-9) and glat == pytest.approx(float(elat), abs=1e-9)
    assert any("autonavi.com" in u for u in blocked)  # tiles asked for, and kept offline
    page.locator(".leaflet-control-layers-base label", has_text="无底图").click()
    wait_map_idle(page)
    assert first_section_latlng(page) == pytest.approx([lon, lat], abs=1e-12)


def test_print_button_opens_print_with_visible_layers_and_view_bbox(page, base_url):
    open_map(page, base_url)
    page.evaluate("window.open = (url) => { window.__opened = url; }")
    page.locator("#print-button").click()
    url = urlparse(page.evaluate("window.__opened"))
    params = parse_qs(url.query)
    assert url.path == "/print"
    assert params["layers"] == [",".join(x.id for x in load_catalog() if x.on_map and x.default_visible)]
    bbox = [float(v) for v in params["bbox"][0].split(",")]
    assert bbox == pytest.approx(view_bounds(page), abs=1e-5)
    assert params["paper"] == ["A4"] and params["orientation"] == ["landscape"]
    assert params["title"][0]
    assert params["base"] == ["0"]  # towns and the district outline print only when visible
    # and the print feature answers that very URL with a PDF of the view
    printed = page.request.get(base_url + page.evaluate("window.__opened"), timeout=60000)
    assert printed.status == 200 and printed.headers["content-type"] == "application/pdf"
    assert printed.body()[:5] == b"%PDF-"
    extent = [float(v) for v in printed.headers["x-hehu-extent"].split(",")]
    # The frame holds the view trimmed to the district (a print is not filled with margins).
    d = get_json(base_url + "/collections/district/items?f=json")["features"][0]["geometry"]["coordinates"]
    xs = [p[0] for ring in _rings(d) for p in ring]
    ys = [p[1] for ring in _rings(d) for p in ring]
    want = [max(bbox[0], min(xs)), max(bbox[1], min(ys)), min(bbox[2], max(xs)), min(bbox[3], max(ys))]
    assert extent[0] <= want[0] + 1e-3 and extent[2] >= want[2] - 1e-3
    assert extent[1] <= want[1] + 1e-3 and extent[3] >= want[3] - 1e-3


def _rings(coords):
    """Every ring of GeoJSON Polygon or MultiPolygon coordinates."""
    return [ring for poly in coords for ring in poly] if isinstance(coords[0][0][0], list) else list(coords)


def test_mouse_position_shows_lon_lat_with_six_decimals(page, base_url):
    open_map(page, base_url)
    page.mouse.move(700, 450)
    page.mouse.move(705, 455)
    text = page.locator("#mouse-position").inner_text()
    assert re.search(r"经度 119\.\d{6}\s+纬度 31\.\d{6}", text), text


def test_popup_shows_chinese_field_titles_and_runs_extensions(page, base_url):
    open_map(page, base_url)
    page.evaluate(
        "hehuMap.addPopupExtension((layerId, feature, el) => {"
        " const s = document.createElement('span'); s.className = 'ext'; s.textContent = layerId + ':' + feature.id;"
        " el.appendChild(s); })"
    )
    page.evaluate("hehuMap.layers.sections.getLayers()[0].getLayers()[0].openPopup()")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert "断面名称" in text and "目标水质类别" in text and "达到目标类别" in text
    assert popup.locator(".ext").inner_text().startswith("sections:")


def test_map_in_english(page, base_url):
    open_map(page, base_url, "?lang=en")
    titles = page.locator(".leaflet-control-layers-overlays .layer-title").all_inner_texts()
    assert titles == [layer.title_en for layer in load_catalog() if layer.on_map and not layer.geometry_optional]
    assert page.locator("#print-button").inner_text() == "Print this view"


def item_requests(page) -> list[dict]:
    """Query parameters of every violations items request the page has made."""
    return page.evaluate(
        "performance.getEntriesByType('resource').map(r => r.name)"
        ".filter(n => n.includes('/collections/violations/items?'))"
    )


def test_capped_layer_says_zoom_in_loads_by_view_and_clusters(browser, demo_path):
    app = make_app(demo_path, MAP_MAX_FEATURES=100, MAP_CLUSTER_THRESHOLD=50)
    with serve(app) as url, offline_page(browser) as (page, errors, _):
        open_map(page, url)
        total = get_json(url + "/map/config.json")["layers"]
        violations = next(x for x in total if x["id"] == "violations")
        assert violations["cluster"] is True
        status = page.locator("#status").inner_text()
        assert f"清四乱问题：显示 100 / {violations['count']}，放大查看全部" in status
        assert page.locator(".marker-cluster").count() > 0
        (first,) = item_requests(page)
        params = parse_qs(urlparse(first).query)
        assert params["limit"] == ["100"] and params["f"] == ["json"]
        bbox = [float(v) for v in params["bbox"][0].split(",")]
        view = view_bounds(page)
        assert bbox[0] < view[0] < view[2] < bbox[2] and bbox[1] < view[1] < view[3] < bbox[3]
        # Zoomed in on one spot, the layer is read again for the smaller view, all of it.
        page.evaluate("hehuMap.map.setView([31.74, 119.57], 16, {animate: false})")
        page.wait_for_function("() => performance.getEntriesByType('resource').filter("
                               "r => r.name.includes('/collections/violations/items?')).length > 1")
        wait_map_idle(page)
        second = parse_qs(urlparse(item_requests(page)[-1]).query)
        small = [float(v) for v in second["bbox"][0].split(",")]
        assert (small[2] - small[0]) < (bbox[2] - bbox[0]) / 20
        assert not page.locator("#status").is_visible()
        assert errors == []


def test_reload_reads_a_layer_again(page, base_url):
    open_map(page, base_url)
    before = len(item_requests(page))
    page.evaluate("hehuMap.reload('violations')")
    wait_map_idle(page)
    assert len(item_requests(page)) == before + 1


def test_a_link_with_layer_and_filter_opens_that_layer_filtered(page, base_url):
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    open_map(page, base_url, "?layer=signboards&filter=compliant:false")
    item_urls = [u for u in requests if "/collections/signboards/items" in u]
    assert item_urls and all(parse_qs(urlparse(u).query)["compliant"] == ["false"] for u in item_urls)
    expected = get_json(base_url + "/collections/signboards/items?compliant=false&limit=1")["numberMatched"]
    total = get_json(base_url + "/collections/signboards/items?limit=1")["numberMatched"]
    assert 0 < expected < total
    assert drawn(page, "signboards") == expected
