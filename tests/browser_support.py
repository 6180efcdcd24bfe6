"""Browser-test support for the map page: a live server and an offline headless Chromium.

Debian's ``/usr/bin/chromium`` is driven by Playwright (never ``playwright install``);
every request that does not go to the loopback server is aborted, so the tests (and the
screenshots and the map benchmark, which reuse this module) never touch the network.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from flask import Flask

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Run ``app`` on a free loopback port in a thread; yields its base URL.

    Uses waitress (what ``hehu serve`` runs) through ``tests.live_server`` when that
    module is there, else werkzeug's threaded server.
    """
    try:
        from live_server import live_server
    except ImportError:
        try:
            from live_server import live_server
        except ImportError:
            live_server = None
    if live_server is not None:
        with live_server(app) as url:
            yield url
        return
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def block_non_loopback(context) -> list[str]:
    """Abort every request to a host other than loopback; returns the blocked URLs."""
    blocked: list[str] = []

    def handle(route):
        url = route.request.url
        host = urlparse(url).hostname or ""
        if url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK:
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", handle)
    return blocked


def fontconfig_env(workdir: Path) -> dict[str, str]:
    """Environment giving Chromium the project's CJK font (from ``mplfonts``).

    Chinese labels must render the same on any machine, whatever fonts it has: the
    fontconfig file written here adds the font directory of the ``mplfonts`` package
    (Noto Sans CJK SC, the font printed maps use) to the system configuration.
    """
    from geo.fonts import source_font_path

    conf = workdir / "fonts.conf"
    system = "<include ignore_missing=\"yes\">/etc/fonts/fonts.conf</include>"
    conf.write_text(
        "<?xml version=\"1.0\"?><!DOCTYPE fontconfig SYSTEM \"fonts.dtd\"><fontconfig>"
        f"{system}<dir>{source_font_path().parent}</dir>"
        f"<cachedir>{workdir / 'fontcache'}</cachedir></fontconfig>",
        encoding="utf-8",
    )
    return {**os.environ, "FONTCONFIG_FILE": str(conf)}


@contextmanager
def chromium():
    """Headless Debian Chromium with the project's CJK font; yields a Playwright Browser."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="hehu-chromium-") as tmp, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=fontconfig_env(Path(tmp))
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def offline_page(browser, width: int = 1400, height: int = 900, locale: str = "zh-CN"):
    """A page in a fresh offline context; yields (page, console_errors, blocked_urls).

    Content-Security-Policy violations are console errors too: every page records them
    (``securitypolicyviolation``) and :func:`csp_violations` reads them back.
    """
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale=locale, device_scale_factor=1
    )
    context.add_init_script(CSP_LISTENER)
    try:
        blocked = block_non_loopback(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page, errors, blocked
    finally:
        context.close()


CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


def csp_violations(page) -> list[str]:
    """The Content-Security-Policy violations the current page has reported."""
    return page.evaluate("window.__cspViolations || []")


@contextmanager
def browser_page(width: int = 1400, height: int = 900, locale: str = "zh-CN"):
    """One offline page in its own browser; yields (page, console_errors, blocked_urls)."""
    with chromium() as browser, offline_page(browser, width, height, locale) as triple:
        yield triple


def wait_map_idle(page, timeout_ms: int = 30000) -> None:
    """Wait until the map is built and no layer, search or query request is pending."""
    page.wait_for_function(
        "() => window.hehuMap && window.hehuMap.map && window.hehuMap.pending() === 0"
        " && document.getElementById('map').dataset.loaded === '1'",
        timeout=timeout_ms,
    )
    # markercluster adds in chunks and Leaflet draws on animation frames: let both settle.
    page.wait_for_timeout(300)
