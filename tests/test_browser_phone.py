"""The map on a phone (390×844) and a desktop (1440×900), in headless Debian Chromium.

Below 600 px: a search bar, the query button and one menu; layers and legend behind
toggles, closed by default; popups and query answers in a bottom sheet; locate me and
problems near me (the nearest-k query). Nothing may scroll sideways.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urljoin, urlparse

import pytest
from browser_support import chromium, offline_page, serve, wait_map_idle

from server import create_app

PHONE = (390, 844)
DESKTOP = (1440, 900)
# 儒林镇's seat, inside the district: where the field team stands in these tests.
HERE = {"latitude": 31.6452, "longitude": 119.6058}


@pytest.fixture(scope="module")
def base_url(demo_path):
    with serve(create_app({"REGISTRY": str(demo_path), "TESTING": True})) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def phone(browser, base_url):
    with offline_page(browser, *PHONE) as (page, errors, blocked):
        page.context.grant_permissions(["geolocation"])
        page.context.set_geolocation(HERE)
        page.goto(base_url + "/map")
        wait_map_idle(page)
        yield page
        assert errors == [] and blocked == []


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def is_bottom_sheet(page, selector: str) -> bool:
    b = box(page, selector)
    return b is not None and b["x"] <= 1 and abs(b["x"] + b["width"] - PHONE[0]) <= 1 and abs(b["y"] + b["height"] - PHONE[1]) <= 1


def test_phone_has_no_horizontal_scroll_and_shows_search_query_menu_locate(phone):
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    assert phone.evaluate("document.body.scrollWidth") <= PHONE[0]
    for selector in ("#search-input", "#query-toggle", "#menu-toggle", "#locate-button", "#near-me-button"):
        assert phone.locator(selector).is_visible(), selector
        b = box(phone, selector)
        assert b["x"] >= 0 and b["x"] + b["width"] <= PHONE[0], selector
    for selector in ("#print-button", "#lang-switch", ".app-title"):
        assert not phone.locator(selector).is_visible(), selector


def test_phone_layers_and_legend_are_closed_until_toggled_from_the_menu(phone):
    assert not phone.locator("#layer-control").is_visible()
    assert not phone.locator(".hehu-legend").is_visible()
    phone.locator("#menu-toggle").click()
    assert phone.locator("#menu").is_visible()
    phone.locator("#menu-layers").click()
    assert phone.locator("#layer-control").is_visible() and not phone.locator("#menu").is_visible()
    phone.locator(".layer-title[data-layer=signboards]").click()
    wait_map_idle(phone)
    assert phone.evaluate("document.querySelectorAll('.leaflet-hehu-signboards-pane path').length") > 0
    phone.locator("#menu-toggle").click()
    phone.locator("#menu-legend").click()
    assert phone.locator(".hehu-legend").is_visible()
    assert not phone.locator("#layer-control").is_visible()  # one panel at a time
    assert phone.locator(".legend-layer[data-layer=signboards]").count() == 1
    phone.mouse.click(200, 300)  # touching the map closes it
    assert not phone.locator("#layer-control").is_visible() and not phone.locator(".hehu-legend").is_visible()


def test_phone_search_zooms_to_the_picked_feature(phone):
    phone.locator("#search-input").fill("儒林污水处理厂")
    phone.locator("#search-results li[data-i='0']").wait_for()
    b = box(phone, "#search-results")
    assert b["x"] >= 0 and b["x"] + b["width"] <= PHONE[0]
    phone.locator("#search-input").press("Enter")
    phone.wait_for_function("document.querySelectorAll('.leaflet-hehu-highlight-pane path').length > 0")
    assert phone.evaluate("hehuMap.map.getZoom()") >= 13


def test_phone_popup_opens_as_a_bottom_sheet(phone):
    phone.evaluate(
        "(() => { let done = false; hehuMap.layers.sewage_plants.eachLayer(function visit(l) {"
        " if (done) return; if (l.eachLayer) { l.eachLayer(visit); return; }"
        " if (l.openPopup) { l.openPopup(); done = true; } }); })()"
    )
    phone.locator("#sheet .hehu-popup").wait_for()
    assert is_bottom_sheet(phone, "#sheet")
    assert "污水处理厂" in phone.locator("#sheet").inner_text()
    phone.locator("#sheet .leaflet-popup-close-button").click()
    assert not phone.locator("#sheet").is_visible()


def test_phone_query_answer_is_a_bottom_sheet_downloadable_as_kml_and_gcj02(phone):
    phone.locator("#query-toggle").click()
    assert is_bottom_sheet(phone, "#query-panel")
    phone.locator("#query-target").fill("丹金溧漕河")
    phone.locator("#query-run").click()
    phone.wait_for_function("document.getElementById('query-panel').dataset.state === 'done'")
    wait_map_idle(phone)
    assert is_bottom_sheet(phone, "#query-panel")
    assert not phone.locator("#query-form").is_visible()  # the answer takes the sheet
    assert phone.locator("#query-table tbody tr").count() > 0
    kml = phone.locator("#query-download-kml").get_attribute("href")
    assert parse_qs(urlparse(kml).query)["format"] == ["kml"] and parse_qs(urlparse(kml).query)["crs"] == ["gcj02"]
    got = phone.request.get(urljoin(phone.url, kml))
    assert got.status == 200 and b"<kml" in got.body()[:200]
    gcj = phone.request.get(urljoin(phone.url, phone.locator("#query-download-gcj").get_attribute("href")))
    assert got.status == 200 and gcj.json()["features"]
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    phone.locator("#query-close").click()
    assert not phone.locator("#query-panel").is_visible()


def test_locate_me_and_problems_near_me_list_the_nearest_open_violations(phone):
    phone.locator("#locate-button").click()
    phone.wait_for_function("document.querySelector('.hehu-here') !== null")
    center = phone.evaluate("(() => { const c = hehuMap.map.getCenter(); return [c.lng, c.lat]; })()")
    assert center == pytest.approx([HERE["longitude"], HERE["latitude"]], abs=1e-4)
    phone.locator("#near-me-button").click()
    phone.wait_for_function("document.getElementById('query-panel').dataset.state === 'done'")
    assert is_bottom_sheet(phone, "#query-panel")
    rows = phone.locator("#query-table tbody tr")
    assert rows.count() == 10
    distances = [float(t) for t in phone.locator("#query-table tbody td.num").all_inner_texts()]
    assert distances == sorted(distances)
    statuses = " ".join(phone.locator("#query-table tbody tr td:nth-child(3)").all_inner_texts())
    assert "已销号" not in statuses
    href = phone.locator("#query-download").get_attribute("href")
    assert urlparse(href).path.endswith("/query/nearest")


def test_desktop_keeps_its_toolbar_layer_list_and_legend(browser, base_url):
    with offline_page(browser, *DESKTOP) as (page, errors, _):
        page.goto(base_url + "/map")
        wait_map_idle(page)
        for selector in ("#print-button", "#lang-switch", "#targets-link", "#layer-control", ".hehu-legend", "#locate-button"):
            assert page.locator(selector).is_visible(), selector
        assert not page.locator("#menu-toggle").is_visible()
        page.locator("#query-toggle").click()
        b = box(page, "#query-panel")
        assert b["x"] < 100 and b["width"] < 500  # a side panel, not a sheet
        assert errors == []


def test_point_layers_have_their_catalog_shapes_and_rivers_are_named_from_zoom_12(browser, base_url):
    with offline_page(browser, *DESKTOP) as (page, errors, _):
        page.goto(base_url + "/map")
        wait_map_idle(page)
        assert page.locator(".hehu-river-label").count() == 0  # district zoom: no river names yet
        # Circles are SVG arcs; the plants' squares and the sections' triangles are not.
        arcs = page.evaluate(
            "(id) => Array.from(document.querySelectorAll('.leaflet-hehu-' + id + '-pane path'))"
            ".map(p => p.getAttribute('d')).filter(d => d && d.includes('a')).length",
            "sewage_plants",
        )
        plants = page.evaluate("document.querySelectorAll('.leaflet-hehu-sewage_plants-pane path').length")
        assert plants > 0 and arcs == 0
        assert page.locator(".legend-layer[data-layer=sections] svg path").count() >= 1
        page.evaluate("hehuMap.map.setView([31.70, 119.57], 13)")
        page.wait_for_timeout(400)
        wait_map_idle(page)
        page.wait_for_function("document.querySelectorAll('.hehu-river-label').length > 0")
        names = set(page.locator(".hehu-river-label").all_inner_texts())
        assert "丹金溧漕河" in names
        assert errors == []


def test_a_filtered_link_shows_that_layer_alone_zoomed_to_the_town_with_a_clear_banner(browser, base_url):
    with offline_page(browser, *DESKTOP) as (page, errors, _):
        page.goto(base_url + "/map?layer=violations&filter=" + quote("status:整改中,反弹") + "&filter=" + quote("town:儒林镇"))
        wait_map_idle(page)
        page.wait_for_function("hehuMap.map.getZoom() >= 12")
        banner = page.locator("#filter-banner")
        assert banner.is_visible() and "已筛选" in banner.inner_text() and "儒林镇" in banner.inner_text()
        assert page.evaluate("document.querySelectorAll('.leaflet-hehu-micro_water_bodies-pane path').length") == 0
        assert page.evaluate("document.querySelectorAll('.leaflet-hehu-sewage_plants-pane path').length") == 0
        towns = page.evaluate(
            "Array.from(document.querySelectorAll('.leaflet-hehu-violations-pane path')).length"
        )
        assert towns > 0
        banner.locator("a").click()
        page.wait_for_url(base_url + "/map")
        assert errors == []


def test_an_item_page_link_opens_the_map_at_the_feature(browser, base_url):
    with offline_page(browser, *DESKTOP) as (page, errors, _):
        page.goto(base_url + "/collections/sewage_plants/items/1?f=html")
        page.locator(".item-links a").first.click()
        wait_map_idle(page)
        page.wait_for_function("document.querySelectorAll('.leaflet-hehu-highlight-pane path').length > 0")
        assert page.evaluate("hehuMap.map.getZoom()") >= 14
        assert errors == []


def test_a_basemap_that_cannot_load_says_so(browser, base_url):
    with offline_page(browser, *DESKTOP) as (page, _errors, _):
        page.goto(base_url + "/map")
        wait_map_idle(page)
        page.locator(".leaflet-control-layers-base label", has_text="OpenStreetMap").click()
        page.locator("#basemap-error").wait_for()
        assert "离线，底图不可用" in page.locator("#basemap-error").inner_text()


def test_the_query_error_speaks_the_pages_language_not_the_browsers(browser, base_url):
    """A Chinese browser (zh-CN) on /map gets Chinese errors; on /map?lang=en, English."""
    with offline_page(browser, *DESKTOP, locale="zh-CN") as (page, errors, _):
        for query, words in (("", "须大于 0"), ("?lang=en", "greater than 0")):
            page.goto(base_url + "/map" + query)
            wait_map_idle(page)
            page.locator("#query-toggle").click()
            page.locator("#query-target").fill("丹金溧漕河")
            page.locator("#query-distance").fill("-5")
            page.locator("#query-run").click()
            page.wait_for_function("document.getElementById('query-panel').dataset.state === 'error'")
            assert words in page.locator("#query-error").inner_text()
