"""The OGC API's HTML pages in a real browser: maps drawn, no console errors, offline."""

from __future__ import annotations

import pytest
from browser_support import browser_page, serve

from server import create_app


@pytest.fixture(scope="module")
def base_url(demo_path):
    app = create_app({"REGISTRY": str(demo_path)})
    with serve(app) as url:
        yield url


def test_pages_draw_their_small_maps_offline_without_errors(base_url):
    with browser_page(width=1100, height=800) as (page, errors, blocked):
        page.goto(base_url + "/collections/violations/items?f=html&limit=20")
        page.wait_for_selector("#minimap[data-ready='1']", timeout=20000)
        assert page.locator("#minimap .leaflet-interactive").count() == 20
        page.wait_for_selector("#minimap[data-context='1']", timeout=20000)
        assert page.locator("table.items tbody tr").count() == 20
        page.locator("table.items tbody tr a").first.click()
        page.wait_for_selector("#minimap[data-ready='1']", timeout=20000)
        assert "/collections/violations/items/" in page.url
        assert page.locator("#minimap .leaflet-interactive").count() == 1
        page.goto(base_url + "/collections/rivers?f=html&lang=en")
        page.wait_for_selector("#minimap[data-ready='1']", timeout=20000)
        assert "Rivers" in page.locator("h1").inner_text()
        page.goto(base_url + "/?f=html")
        assert page.locator(".demo-note").inner_text() == "演示数据 / synthetic demo data"
        assert errors == []
        assert blocked == []
