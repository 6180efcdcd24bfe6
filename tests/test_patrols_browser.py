"""Patrols on the map in a real browser: tracks by age, the coverage mode, chief popups."""

from __future__ import annotations

import json
from urllib.request import urlopen

import pytest
from browser_support import chromium, offline_page, serve, wait_map_idle

from server import create_app


@pytest.fixture(scope="module")
def base_url(demo_path):
    with serve(create_app({"REGISTRY": str(demo_path), "TESTING": True})) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def get_json(url: str) -> dict:
    with urlopen(url) as resp:  # noqa: S310 - loopback test server
        return json.loads(resp.read())


def test_tracks_are_drawn_by_age_with_the_latest_per_reach_and_invalid_ones_dashed(browser, base_url):
    with offline_page(browser) as (page, errors, _):
        page.goto(base_url + "/map")
        wait_map_idle(page)
        page.evaluate("hehuMap.layers.patrols.addTo(hehuMap.map)")
        wait_map_idle(page)
        classes = page.evaluate(
            "Array.from(document.querySelectorAll('.leaflet-hehu-patrols-pane path')).map(p => p.getAttribute('class'))"
        )
        for age in ("week", "month", "older"):
            assert any(f"hehu-patrol-{age}" in c for c in classes), age
        latest = [c for c in classes if "hehu-patrol-latest" in c]
        # One latest valid patrol per patrolled reach at most, never an invalid one.
        assert latest and not any("hehu-patrol-invalid" in c for c in latest)
        dashed = page.evaluate(
            "Array.from(document.querySelectorAll('.leaflet-hehu-patrols-pane path.hehu-patrol-invalid'))"
            ".map(p => p.getAttribute('stroke-dasharray'))"
        )
        assert dashed and all(dashed)
        legend = page.locator('.legend-layer[data-layer="patrols"]').inner_text()
        assert "近7天" in legend and "近30天" in legend and "更早" in legend and "最近一次有效巡河" in legend
        # The page asks for the tracks newest first and without their per-fix times.
        asked = page.evaluate("performance.getEntriesByType('resource').map(r => r.name)"
                              ".filter(n => n.includes('/collections/patrols/items?'))")
        assert asked and "sortby=-started_at" in asked[0] and "fix_seconds" not in asked[0]
        assert errors == []


def test_coverage_mode_draws_covered_and_uncovered_stretches_of_the_api(browser, base_url):
    config = get_json(base_url + "/map/config.json")["patrols"]
    api = get_json(f"{base_url}/patrols/coverage?from={config['from']}&to={config['to']}")
    with offline_page(browser) as (page, errors, _):
        page.goto(base_url + "/map")
        wait_map_idle(page)
        page.click("#coverage-toggle")
        page.wait_for_function("() => document.getElementById('map').dataset.coverage === 'loaded'")
        wait_map_idle(page)
        assert page.input_value("#coverage-from") == config["from"]
        covered = page.locator(".leaflet-hehu-coverage-pane path.hehu-covered").count()
        uncovered = page.locator(".leaflet-hehu-coverage-pane path.hehu-uncovered").count()
        assert covered == len(api["features"])
        assert uncovered == sum(1 for f in api["features"] if f["geometry"])
        summary = page.locator("#coverage-summary")
        total = sum(f["properties"]["covered_m"] for f in api["features"])
        assert float(summary.get_attribute("data-covered")) == pytest.approx(total)
        assert "40 个河段" in summary.inner_text()
        assert "未巡" in page.locator("#coverage-legend").inner_text()
        # A reach's popup in the mode says its share, as the API computed it.
        share = page.evaluate(
            "(() => { const l = hehuMap.layers.rivers.getLayers()[0].getLayers()[0]; l.openPopup();"
            " return l.feature.properties.code; })()"
        )
        expected = next(f["properties"]["share"] for f in api["features"] if f["id"] == share)
        shown = page.locator(".leaflet-popup .coverage-share").inner_text()
        assert shown == f"{round(expected * 100, 1):.1f}%"
        page.click("#coverage-close")
        assert page.locator(".leaflet-hehu-coverage-pane path").count() == 0
        assert errors == []


def test_a_reach_popup_lists_its_chiefs_their_reaches_and_last_patrols(browser, base_url):
    with offline_page(browser) as (page, errors, _):
        page.goto(base_url + "/map")
        wait_map_idle(page)
        code = page.evaluate(
            "(() => { const l = hehuMap.layers.rivers.getLayers()[0].getLayers()[0]; l.openPopup();"
            " return l.feature.properties.code; })()"
        )
        page.wait_for_function("() => document.querySelector('.hehu-chiefs[data-loaded=\"1\"]')")
        chiefs = get_json(f"{base_url}/patrols/chiefs?reach={code}")["chiefs"]
        box = page.locator(".leaflet-popup .hehu-chiefs")
        names = box.locator(".chief").evaluate_all("els => els.map(e => e.dataset.chief)")
        assert names == [c["name"] for c in chiefs] and names
        reaches = box.locator(".chief-reach").evaluate_all("els => els.map(e => e.dataset.code)")
        assert reaches == [r for c in chiefs for r in c["reaches"]] and code in reaches
        assert box.locator(".chief-patrols li").count() == sum(len(c["patrols"]) for c in chiefs)
        assert "履职" in box.inner_text()
        assert errors == []


def test_phone_opens_the_coverage_mode_from_the_menu(browser, base_url):
    with offline_page(browser, 390, 844) as (page, errors, _):
        page.goto(base_url + "/map")
        wait_map_idle(page)
        assert not page.locator("#coverage-toggle").is_visible()
        page.click("#menu-toggle")
        page.click("#menu-coverage")
        page.wait_for_function("() => document.getElementById('map').dataset.coverage === 'loaded'")
        box = page.locator("#coverage-panel").bounding_box()
        assert box["y"] + box["height"] <= 844 + 1 and box["width"] >= 380
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert errors == []
