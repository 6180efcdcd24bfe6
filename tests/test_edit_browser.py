"""Editing from the map page in a real browser: sign in, add a violation by clicking the
map, advance its status from the popup, move it. Headless Debian Chromium, offline."""

from __future__ import annotations

import shutil
import time

import pytest

# A module of this folder, which pytest puts on sys.path (not ``tests.browser_support``:
# an installed pygeoapi ships a top-level ``tests`` package).
from browser_support import chromium, offline_page, serve, wait_map_idle

from geo.users import add_user
from server import create_app


@pytest.fixture(scope="module")
def site(tmp_path_factory, demo_path):
    path = tmp_path_factory.mktemp("editmap") / "jintan.gpkg"
    shutil.copyfile(demo_path, path)
    app = create_app({"REGISTRY": str(path), "TESTING": True})
    reg = app.extensions["hehu_registry"]
    tokens = {role: add_user(reg, f"map-{role}", role, iterations=1000) for role in ("viewer", "editor")}
    with serve(app) as url, chromium() as browser:
        yield url, browser, reg, tokens


@pytest.fixture
def page(site):
    url, browser, reg, tokens = site
    with offline_page(browser) as (page, errors, blocked):
        yield page, errors
        assert not blocked


# Open the popup of violation ``fid`` once the layer has drawn it (clustered or not).
OPEN_POPUP = """fid => {
  const g = hehuMap.layers.violations;
  const all = g.getLayers().flatMap(l => l.getLayers ? l.getLayers() : [l]);
  const m = all.find(l => l.feature && l.feature.id == fid);
  if (!m) { return false; }
  if (g.zoomToShowLayer) { g.zoomToShowLayer(m, () => m.openPopup()); }
  else { hehuMap.map.setView(m.getLatLng(), 16, {animate: false}); m.openPopup(); }
  return true;
}"""


def sign_in(page, url: str, token: str) -> None:
    page.goto(url + "/login?next=/map")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/map")
    wait_map_idle(page)
    page.wait_for_selector(".hehu-edit-control")


def open_case_popup(page, reg, status: str) -> int:
    """Open the popup of the first violation whose status is ``status``; its fid."""
    fid = int(reg.read("violations", where={"status": status}, limit=1).index[0])
    page.wait_for_function(OPEN_POPUP, arg=fid)
    return fid


def wait_for(page, check, timeout_s: float = 15.0):
    """Poll ``check`` while letting Playwright run: its request routing (which keeps the
    page offline) happens on this thread, so a plain sleep would stall the page."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        page.wait_for_timeout(200)
    raise AssertionError("condition not met in time")


def test_signed_out_visitors_see_a_sign_in_link_and_no_edit_buttons(site, page):
    url, *_ = site
    pg, errors = page
    pg.goto(url + "/map")
    wait_map_idle(pg)
    pg.wait_for_selector(".hehu-edit-login")
    assert pg.locator(".hehu-edit-add").count() == 0
    assert not errors


def test_editor_adds_a_violation_by_clicking_the_map_and_advances_it(site, page):
    url, _, reg, tokens = site
    pg, errors = page
    sign_in(pg, url, tokens["editor"])
    assert "map-editor" in pg.inner_text(".hehu-edit-control")
    pg.click(".hehu-edit-add")
    box = pg.locator("#map").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    clicked = pg.evaluate(
        f"(() => {{ const ll = hehuMap.map.containerPointToLatLng([{box['width'] / 2}, {box['height'] / 2}]);"
        " return [ll.lng, ll.lat]; })()"
    )
    pg.mouse.click(x, y)
    form = pg.locator(".hehu-edit-form")
    form.wait_for()
    form.locator("[name=code]").fill("MAP-0001")
    form.locator("[name=category]").select_option("乱堆")
    # The town is the one the point lies in, the river one of the nearest: not typed.
    pg.wait_for_function("document.querySelector('.hehu-edit-form [name=town]').value !== ''")
    assert form.locator("[name=town]").get_attribute("readonly") is not None
    town = reg.within(f"POINT({clicked[0]} {clicked[1]})", layers="towns", all_features=True)["name"].tolist()
    assert form.locator("[name=town]").input_value() in town
    pg.wait_for_function("document.querySelectorAll('.hehu-edit-form [name=river] option').length > 1")
    river = form.locator("[name=river]").input_value()
    form.locator("button[type=submit]").click()
    feature = wait_for(pg, lambda: _find(reg, "MAP-0001"))
    assert feature["properties"]["status"] == "待交办"
    assert feature["properties"]["town"] in town and feature["properties"]["river"] == river
    pg.locator("#edit-banner").wait_for()
    assert "已保存" in pg.locator("#edit-banner").inner_text()
    assert abs(feature["geometry"].x - clicked[0]) < 1e-5 and abs(feature["geometry"].y - clicked[1]) < 1e-5
    assert reg.history("violations", feature["fid"])[-1]["user"] == "map-editor"

    # Advance it from its popup: 待交办 -> 已交办 needs a unit and a deadline.
    fid = feature["fid"]
    pg.wait_for_function(OPEN_POPUP, arg=fid)
    moves = pg.locator(".hehu-edit-moves button")
    moves.first.wait_for()
    assert moves.first.get_attribute("title") == "已交办"
    moves.first.click()
    pg.locator(".hehu-edit-moves [name=unit]").fill("金城镇人民政府")
    pg.locator(".hehu-edit-moves [name=deadline]").fill("2021-06-30")
    pg.locator(".hehu-edit-moves button[type=submit]").click()
    wait_for(pg, lambda: reg.get("violations", fid)["properties"]["status"] == "已交办")
    assert reg.get("violations", fid)["properties"]["unit"] == "金城镇人民政府"
    assert not [e for e in errors if "favicon" not in e]


def test_viewer_sees_history_but_no_edit_buttons(site, page):
    url, _, reg, tokens = site
    pg, errors = page
    sign_in(pg, url, tokens["viewer"])
    assert pg.locator(".hehu-edit-add").count() == 0
    fid = int(reg.read("violations", limit=1).index[0])
    pg.wait_for_function(OPEN_POPUP, arg=fid)
    pg.locator(".hehu-edit-actions button").first.wait_for()
    assert pg.locator(".hehu-edit-moves button").count() == 0
    labels = pg.locator(".hehu-edit-actions button").all_inner_texts()
    assert labels == ["修改记录"]
    pg.locator(".hehu-edit-actions button").click()
    pg.locator(".hehu-edit-history li").first.wait_for()
    assert "system" in pg.inner_text(".hehu-edit-history") or "demo" in pg.inner_text(".hehu-edit-history")


def test_signed_out_visitors_read_the_history_in_the_popup(site, page):
    url, _, reg, _ = site
    pg, errors = page
    fid = int(reg.read("violations", where={"status": "整改中"}, limit=1).index[0])
    reg.update("violations", fid, {"note": "回头看复查"}, None, user="wang")
    pg.goto(url + "/map")
    wait_map_idle(pg)
    pg.wait_for_function(OPEN_POPUP, arg=fid)
    history = pg.locator(".hehu-edit-actions button")
    history.first.wait_for()
    assert history.all_inner_texts() == ["修改记录"]  # a read: no edit buttons, but the history
    history.click()
    pg.locator(".hehu-edit-history li").first.wait_for()
    text = pg.inner_text(".hehu-edit-history")
    assert "wang" in text and "备注：— → 回头看复查" in text  # the field's 中文 title, not "note"
    link = pg.locator(".hehu-edit-history a.all")
    n = len(reg.history("violations", fid))
    assert link.inner_text() == f"全部 {n} 条记录 ↗"
    with pg.expect_popup() as popup:
        link.click()
    full = popup.value
    full.wait_for_load_state()
    assert "回头看复查" in full.inner_text("table") and full.locator("tr").count() == n + 1
    full.close()
    assert not errors


def test_the_popup_stays_open_while_a_transition_form_is_filled_in(site, page):
    url, _, reg, tokens = site
    pg, errors = page
    sign_in(pg, url, tokens["editor"])
    open_case_popup(pg, reg, "待交办")
    pg.locator(".hehu-edit-actions button", has_text="修改记录").click()
    pg.locator(".hehu-edit-history li").first.wait_for()
    # The clicked button is replaced by its form: the map must not take that click for
    # its own and close the popup.
    pg.locator(".hehu-edit-moves button").first.click()
    pg.wait_for_timeout(500)
    unit = pg.locator(".leaflet-popup .hehu-edit-moves [name=unit]")
    assert unit.count() == 1 and unit.is_visible()
    # The grown popup is panned clear of the toolbar at the top of the map.
    top = pg.locator(".leaflet-popup").bounding_box()["y"]
    bar = pg.locator(".leaflet-top.leaflet-left").bounding_box()
    assert top >= pg.locator("#map").bounding_box()["y"] + 60, (top, bar)
    assert not errors


def test_a_stale_popup_is_refused_with_the_conflict_message_and_overwrites_nothing(site, page):
    url, _, reg, tokens = site
    pg, errors = page
    sign_in(pg, url, tokens["editor"])
    fid = open_case_popup(pg, reg, "已交办")
    start = pg.locator(".hehu-edit-moves button", has_text="开始整改")
    start.wait_for()
    # Another editor closes the loop meanwhile: the popup's ETag is now stale.
    reg.update("violations", fid, {"note": "另一位编辑的修改"}, None, user="someone-else")
    start.click()
    wait_for(pg, lambda: "已被他人修改" in pg.inner_text(".leaflet-popup .hehu-edit-moves"))
    got = reg.get("violations", fid)["properties"]
    assert got["status"] == "已交办" and got["note"] == "另一位编辑的修改"
    assert reg.history("violations", fid)[-1]["user"] == "someone-else"


def test_a_refused_new_violation_shows_why_in_its_form(site, page):
    url, _, reg, tokens = site
    pg, errors = page
    sign_in(pg, url, tokens["editor"])
    before = reg.count("violations")
    pg.click(".hehu-edit-add")
    box = pg.locator("#map").bounding_box()
    pg.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    form = pg.locator(".hehu-edit-form")
    form.wait_for()
    taken = str(reg.read("violations")["code"].iloc[0])
    form.locator("[name=code]").fill(taken)  # a code already used: refused (a blank one is generated)
    form.locator("button[type=submit]").click()
    error = form.locator(".hehu-edit-error")
    wait_for(pg, lambda: error.inner_text().strip())
    assert taken in error.inner_text() and error.is_visible()
    assert reg.count("violations") == before


def _find(reg, code):
    hits = reg.read("violations", where={"code": code})
    return None if hits.empty else reg.get("violations", int(hits.index[0]))


def test_editor_moves_a_point_from_its_popup(site, page):
    url, _, reg, tokens = site
    pg, errors = page
    sign_in(pg, url, tokens["editor"])
    fid = open_case_popup(pg, reg, "整改中")
    before = reg.get("violations", fid)["geometry"]
    move = pg.locator(".hehu-edit-actions button", has_text="移动")
    move.wait_for()
    move.click()
    pg.wait_for_function("() => hehuMap.map.getContainer().style.cursor === 'crosshair'")
    box = pg.locator("#map").bounding_box()
    px, py = box["width"] / 2 + 40, box["height"] / 2 + 30
    target = pg.evaluate(f"(() => {{ const ll = hehuMap.map.containerPointToLatLng([{px}, {py}]); return [ll.lng, ll.lat]; }})()")
    pg.mouse.click(box["x"] + px, box["y"] + py)
    after = wait_for(pg, lambda: (g := reg.get("violations", fid)["geometry"]) != before and g)
    assert abs(after.x - target[0]) < 1e-5 and abs(after.y - target[1]) < 1e-5
    last = reg.history("violations", fid)[-1]
    assert last["user"] == "map-editor" and last["op"] == "update"
    assert not [e for e in errors if "favicon" not in e]
