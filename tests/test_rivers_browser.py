"""The 一河一档 page in a real browser: headless Debian Chromium, offline, live server."""

from __future__ import annotations

import pytest
from browser_support import chromium, csp_violations, offline_page, serve

from geo.registry import Registry
from server import create_app


@pytest.fixture(scope="module")
def base_url(demo_path):
    with serve(create_app({"REGISTRY": str(demo_path), "TESTING": True})) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.mark.parametrize("size", [(1440, 900), (390, 844)])
def test_river_page_shows_reaches_chiefs_and_the_query_engines_problem_count(browser, base_url, demo_path, size):
    with Registry.open(demo_path) as reg:
        expected = len(reg.near("丹金溧漕河", 50))
        reaches = reg.read("rivers", where={"name": "丹金溧漕河"})
        chiefs = reg.read("chiefs")
    with offline_page(browser, *size) as (page, errors, blocked):
        page.goto(base_url + "/rivers/丹金溧漕河")
        page.wait_for_function("() => document.getElementById('river-map').complete"
                               " && document.getElementById('river-map').naturalWidth > 0")
        assert page.locator("#river-name").inner_text().startswith("丹金溧漕河")
        rows = page.locator("#reaches tr.reach")
        assert rows.count() == len(reaches) == 4
        assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.code)")) == sorted(reaches["code"])
        shown = set(page.locator("#reaches .chief").all_inner_texts())
        held = chiefs[chiefs["reaches"].str.split(";").map(lambda xs: bool(set(xs) & set(reaches["code"])))]
        assert set(held["name"]) <= shown
        assert int(page.locator("#open-count").inner_text()) == expected > 0
        assert page.locator("#open-problems tr.problem").count() == expected
        if size[0] < 500:  # on a phone the page does not scroll sideways
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert not errors and not blocked and not csp_violations(page)


def test_pdf_link_serves_the_dossier(browser, base_url):
    with offline_page(browser) as (page, errors, _):
        page.goto(base_url + "/rivers/丹金溧漕河")
        href = page.locator("#pdf-link").get_attribute("href")
        resp = page.request.get(base_url + href)
        assert resp.status == 200 and resp.headers["content-type"] == "application/pdf"
        assert not errors


def test_unknown_river_page_offers_suggestions_that_lead_to_the_river(browser, base_url):
    with offline_page(browser) as (page, errors, _):
        resp = page.goto(base_url + "/rivers/丹金河道")
        assert resp.status == 404
        page.locator("#suggestions a", has_text="丹金溧漕河").first.click()
        page.wait_for_selector("#river-name")
        assert page.locator("#river-name").inner_text().startswith("丹金溧漕河")


def test_map_popups_and_search_results_link_to_dossiers_and_case_sheets(browser, base_url):
    from browser_support import wait_map_idle

    with offline_page(browser) as (page, errors, _):
        page.goto(base_url + "/map")
        wait_map_idle(page)
        page.evaluate("hehuMap.layers.rivers.getLayers()[0].getLayers()[0].openPopup()")
        link = page.locator(".leaflet-popup-content a.hehu-dossier")
        link.wait_for()
        href = link.get_attribute("href")
        assert href.startswith("/rivers/HD-")
        assert page.request.get(base_url + href).status == 200
        page.evaluate("hehuMap.map.closePopup(); hehuMap.layers.violations.eachLayer(l => {"
                      " if (!window.__opened && l.getLayers) { const f = l.getLayers()[0]; if (f) { f.openPopup(); window.__opened = 1; } }"
                      " else if (!window.__opened && l.openPopup) { l.openPopup(); window.__opened = 1; } })")
        case = page.locator(".leaflet-popup-content a.hehu-case")
        case.wait_for()
        resp = page.request.get(base_url + case.get_attribute("href"))
        assert resp.status == 200 and resp.headers["content-type"] == "application/pdf"
        page.locator("#search-input").fill("丹金溧漕河")
        result = page.locator("#search-results a.dossier").first
        result.wait_for()
        assert result.get_attribute("href").startswith("/rivers/HD-000")
        assert not errors


def test_river_page_photos_load_and_open_the_full_file(browser, base_url, demo_path):
    from geo.dossier import river_dossier

    with Registry.open(demo_path) as reg:
        d = river_dossier(reg, "丹金溧漕河")
    cards = [e for e in d.photos if e["before"] and e["after"]]
    assert cards
    with offline_page(browser) as (page, errors, blocked):
        page.goto(base_url + "/rivers/丹金溧漕河#photos")
        page.wait_for_function("() => { const imgs = [...document.querySelectorAll('.photo-case img')];"
                               " return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0); }")
        assert page.locator(".photo-case").count() == len(d.photos)
        card = page.locator(f'.photo-case[data-fid="{cards[0]["fid"]}"]')
        assert card.locator(".photo-side.before img").count() == 1 and card.locator(".photo-side.after img").count() == 1
        href = card.locator(".photo-side.after a.photo").get_attribute("href")
        resp = page.request.get(base_url + href)
        assert resp.status == 200 and resp.headers["content-type"] == "image/jpeg"
        assert not errors and not blocked and not csp_violations(page)
