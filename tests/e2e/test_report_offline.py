"""The phone page from a cold start with no network (issue 15, item 17): opened once online,
then in a new page with the network off AND the server gone (so that nothing can come from
it, whatever the browser's offline emulation covers), the form is there, the map draws the
tiles it showed the first time, and a report is saved as a draft on the phone. The page is
installable: Chromium reports no installability errors for its web app manifest."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from backend.settings import Settings
from tests.conftest import password_of, serve_app
from tests.e2e.test_report_page import SHOTS, SPOT

DRAFTS = """() => new Promise((ok, fail) => {
    const open = indexedDB.open('cityops-report');
    open.onsuccess = () => {
      const get = open.result.transaction('drafts').objectStore('drafts').getAll();
      get.onsuccess = () => ok(get.result.map(d => ({state: d.state, text: d.body.description,
                                                     code: d.body.category_code})));
      get.onerror = () => fail(get.error);
    };
    open.onerror = () => fail(open.error);
})"""


@pytest.fixture()
def own_server(settings: Settings, county: dict[str, int], users: dict[str, str]
               ) -> Iterator[dict]:
    """A server of its own (its own origin, so its own service worker), that the test stops."""
    from backend.main import create_app

    box: dict = {}
    box["cm"] = serve_app(create_app(settings))
    box["base"] = box["cm"].__enter__()
    try:
        yield box
    finally:
        if box.get("cm"):
            box["cm"].__exit__(None, None, None)


def stop(box: dict) -> None:
    box.pop("cm").__exit__(None, None, None)
    with pytest.raises(httpx.TransportError):  # really gone
        httpx.get(f"{box['base']}/report.html", timeout=3)


def test_the_page_opens_cold_with_no_network_and_keeps_a_draft(
    browser, own_server: dict  # noqa: ANN001
) -> None:
    base = own_server["base"]
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", has_touch=True, is_mobile=True,
        device_scale_factor=2,
        geolocation={"longitude": SPOT[0], "latitude": SPOT[1], "accuracy": 8},
        permissions=["geolocation"])
    errors: list[str] = []
    context.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        # First visit, online: sign in on the page; the service worker installs.
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/report")
        page.get_by_test_id("login-username").fill("grid_worker")
        page.get_by_test_id("login-password").fill(password_of("grid_worker"))
        page.get_by_test_id("login-submit").click()
        page.get_by_test_id("report-form").wait_for()
        page.wait_for_function("() => window.__reportMap && window.__reportMap.loaded()",
                               timeout=30_000)
        page.get_by_test_id("location-text").filter(has_text="117.88612").wait_for(timeout=30_000)
        page.wait_for_function("() => window.__reportOffline && window.__reportOffline.ready",
                               timeout=30_000)
        assert page.evaluate("navigator.serviceWorker.controller !== null")
        scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
        assert scope == f"{base}/report"  # the console at / is not under it
        # Installable: a manifest Chromium accepts (name, icons, start_url, standalone).
        cdp = context.new_cdp_session(page)
        # (Playwright's contexts are incognito-like: Chromium never offers install there.)
        problems = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
        assert [p["errorId"] for p in problems if p["errorId"] != "in-incognito"] == []
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["errors"] == [], manifest["errors"]
        assert manifest["url"] == f"{base}/manifest.webmanifest"
        assert '"display": "standalone"' in manifest["data"]
        assert '"short_name": "网格上报"' in manifest["data"]
        # The map tiles of this first visit are in the worker's cache (handed over once).
        page.wait_for_function("""() => caches.open('report-map-v1').then(c => c.keys())
            .then(k => k.some(r => r.url.includes('/tiles/'))
                       && k.some(r => r.url.includes('/api/layers')))""", timeout=30_000)
        # The categories were seen online once; this test relies on nothing else.
        page.close()

        # The network goes, and the server with it. A new page opens cold.
        context.set_offline(True)
        stop(own_server)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/report")
        page.wait_for_function("() => window.__report && window.__report.ready === true",
                               timeout=30_000)
        page.get_by_test_id("report-form").wait_for()
        page.get_by_test_id("net").filter(has_text="离线").wait_for()
        page.wait_for_function("() => window.__reportMap && window.__reportMap.loaded()",
                               timeout=30_000)
        # The map drew what it cached: the county's layers, not an empty dark box.
        page.wait_for_function("() => window.__reportMap.getStyle().layers.length > 1",
                               timeout=30_000)
        page.wait_for_function("""() => new Promise(r => { const m = window.__reportMap;
            m.once('idle', () => r(m.queryRenderedFeatures().length > 0));
            m.triggerRepaint(); })""",
                               timeout=30_000)
        page.get_by_test_id("location-text").filter(has_text="117.88612").wait_for(timeout=30_000)

        description = f"冷启动离线 cold offline {uuid.uuid4().hex[:8]}"
        page.get_by_test_id("category-search").fill("暴露")
        page.get_by_test_id("category-result").first.click()
        page.get_by_test_id("description").fill(description)
        page.get_by_test_id("submit").click()
        page.get_by_test_id("submit-status").filter(has_text="等待网络").wait_for()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "report-offline-cold.png"))
        drafts = page.evaluate(DRAFTS)
        assert {"state": "queued", "text": description, "code": "E0101"} in drafts
    finally:
        context.close()
    # Offline, failed fetches of the API are expected (the page falls back to what it keeps).
    assert [e for e in errors if "Failed to load resource" not in e
            and "ERR_INTERNET_DISCONNECTED" not in e and "401" not in e] == []
