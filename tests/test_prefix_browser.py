"""hehu mounted below a prefix (``/hehu``, as behind a reverse proxy): the map page and
its editing script use the URLs the server gives them, never a root path of their own."""

from __future__ import annotations

import json
import re
import shutil
from urllib.parse import parse_qs, urlparse

import pytest
from browser_support import chromium, offline_page, serve, wait_map_idle
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client
from werkzeug.wrappers import Response

from geo.users import add_user
from server import create_app

PREFIX = "/hehu"


def not_here(environ, start_response):
    """What lies outside the prefix: nothing (a request there is the bug)."""
    return Response("outside the prefix", status=404)(environ, start_response)


@pytest.fixture(scope="module")
def mounted(tmp_path_factory, demo_path):
    path = tmp_path_factory.mktemp("prefix") / "jintan.gpkg"
    shutil.copyfile(demo_path, path)
    app = create_app({"REGISTRY": str(path), "TESTING": True})
    reg = app.extensions["hehu_registry"]
    token = add_user(reg, "prefix-editor", "editor", iterations=1000)
    return DispatcherMiddleware(not_here, {PREFIX: app}), reg, token


def edit_config(html: str) -> dict:
    raw = re.search(r'<script type="application/json" id="hehu-edit-config">(.*?)</script>', html, re.S).group(1)
    return json.loads(raw)


def test_the_edit_configuration_names_urls_below_the_prefix(mounted):
    wsgi, _, _ = mounted
    html = Client(wsgi).get(PREFIX + "/map").get_data(as_text=True)
    urls = edit_config(html)["urls"]
    assert urls["items"] == PREFIX + "/collections/{id}/items"
    assert urls["item"] == PREFIX + "/collections/{id}/items/{fid}"
    assert urls["me"] == PREFIX + "/auth/me" and urls["logout"] == PREFIX + "/logout"
    login = urlparse(urls["login"])
    assert login.path == PREFIX + "/login" and parse_qs(login.query)["next"] == [PREFIX + "/map"]


def test_edit_strings_and_form_come_from_the_server_in_the_page_language(mounted):
    wsgi, _, _ = mounted
    zh = edit_config(Client(wsgi).get(PREFIX + "/map").get_data(as_text=True))
    en = edit_config(Client(wsgi).get(PREFIX + "/map?lang=en").get_data(as_text=True))
    assert zh["strings"]["add"] == "＋ 新增问题" and en["strings"]["add"] == "+ Add violation"
    assert {"violations", "micro_water_bodies"} <= set(zh["lifecycle_layers"])
    fields = {f["name"]: f for f in zh["add"][0]["fields"]}
    assert fields["found_on"]["title"] == "发现日期" and fields["found_on"]["type"] == "date"
    assert ["乱堆", "乱堆"] in fields["category"]["options"]
    en_fields = {f["name"]: f for f in en["add"][0]["fields"]}
    assert en_fields["found_on"]["title"] == "Found on"


def test_map_signs_in_and_adds_a_violation_below_the_prefix(mounted):
    wsgi, reg, token = mounted
    before = reg.count("violations")
    with serve(wsgi) as url, chromium() as browser, offline_page(browser) as (page, errors, blocked):
        requests = []
        page.on("request", lambda r: requests.append(urlparse(r.url).path))
        base = url + PREFIX
        page.goto(base + "/map")
        wait_map_idle(page)
        login = page.locator(".hehu-edit-login")
        login.wait_for()
        assert login.get_attribute("href").startswith(PREFIX + "/login?next=")
        login.click()
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/map")
        wait_map_idle(page)
        page.wait_for_selector(".hehu-edit-add")
        assert page.locator(".hehu-edit-logout").get_attribute("href") == PREFIX + "/logout"
        page.click(".hehu-edit-add")
        box = page.locator("#map").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        form = page.locator(".hehu-edit-form")
        form.wait_for()
        form.locator("[name=code]").fill("PREFIX-0001")
        page.wait_for_function("() => document.querySelector('.hehu-edit-form [name=town]').value !== ''")
        form.locator("button[type=submit]").click()
        page.locator("#edit-banner").wait_for()
        assert "PREFIX-0001" in page.locator("#edit-banner").inner_text()
        assert reg.count("violations") == before + 1
        outside = [p for p in requests if not p.startswith(PREFIX + "/")]
        assert outside == [] and errors == [] and blocked == []
