"""Photos in the map popup, in a real browser: a field user uploads an after photo from
the popup (the file input a phone opens as its camera) and sees it beside the before
photo; no CSP violation. Headless Debian Chromium, offline."""

from __future__ import annotations

import shutil

import pytest
from browser_support import chromium, csp_violations, offline_page, serve, wait_map_idle
from photos import jpeg

from geo import attachments
from geo.users import add_user
from server import create_app

OPEN_POPUP = """fid => {
  const g = hehuMap.layers.violations;
  const all = g.getLayers().flatMap(l => l.getLayers ? l.getLayers() : [l]);
  const m = all.find(l => l.feature && l.feature.id == fid);
  if (!m) { return false; }
  if (g.zoomToShowLayer) { g.zoomToShowLayer(m, () => m.openPopup()); }
  else { hehuMap.map.setView(m.getLatLng(), 16, {animate: false}); m.openPopup(); }
  return true;
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory, demo_path):
    path = tmp_path_factory.mktemp("attmap") / "jintan.gpkg"
    shutil.copyfile(demo_path, path)
    app = create_app({"REGISTRY": str(path), "TESTING": True})
    reg = app.extensions["hehu_registry"]
    token = add_user(reg, "map-field", "field", iterations=1000)
    with serve(app) as url, chromium() as browser:
        yield url, browser, reg, token


def test_a_field_user_uploads_an_after_photo_from_the_popup(site, tmp_path):
    url, browser, reg, token = site
    fid = int(reg.read("violations", where={"status": "整改中"}, limit=1).index[0])
    attachments.add(reg, "violations", fid, jpeg(color="#a33"), "before.jpg", "before", user="王")
    photo = tmp_path / "after.jpg"
    photo.write_bytes(jpeg(color="#3a3"))
    closed = int(reg.read("violations", where={"status": "已销号"}, limit=1).index[0])  # the demo drew its photos
    with offline_page(browser) as (page, errors, blocked):
        # Signed out: the photos are shown, no upload form.
        page.goto(url + "/map")
        wait_map_idle(page)
        page.wait_for_function(OPEN_POPUP, arg=closed)
        page.wait_for_function("() => document.querySelectorAll('.hehu-att-pair .hehu-att-col img').length === 2")
        assert page.locator(".hehu-att-upload").count() == 0
        page.keyboard.press("Escape")
        page.goto(url + "/login?next=/map")
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.wait_for_url(url + "/map")
        wait_map_idle(page)
        page.wait_for_selector(".hehu-edit-control")
        page.wait_for_function(OPEN_POPUP, arg=fid)
        page.wait_for_selector(".hehu-att-col img")
        file_input = page.locator(".hehu-att-upload input[type=file]")
        assert file_input.get_attribute("accept") == "image/*" and file_input.get_attribute("capture") is not None
        file_input.set_input_files(str(photo))
        page.select_option(".hehu-att-upload select", "after")
        page.click(".hehu-att-upload button")
        page.wait_for_function("() => document.querySelectorAll('.hehu-att-pair .hehu-att-col').length === 2")
        heads = page.locator(".hehu-att-pair .hehu-att-col > b").all_inner_texts()
        assert heads == ["整改前", "整改后"]
        page.wait_for_function(
            "() => [...document.querySelectorAll('.hehu-att-col img')].every(i => i.complete && i.naturalWidth > 0)"
        )
        assert not csp_violations(page) and not errors and not blocked
    kinds = [a["kind"] for a in reg.store.list_attachments(reg.layer("violations"), fid)]
    assert kinds == ["before", "after"]
