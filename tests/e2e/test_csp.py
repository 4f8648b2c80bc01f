"""The console and the phone page under the strict Content-Security-Policy (backend.api.headers):
they load, draw the map and report no policy violation (no inline script or style, MapLibre's
blob: workers and data: images allowed)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login

# Collected before any page script runs; init scripts are not subject to the page's policy.
WATCH = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
         "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")


@pytest.mark.e2e
@pytest.mark.parametrize(("path", "user", "ready"), [
    ("/", "admin", "() => window.__ready === true"),
    ("/report", "grid_worker", "() => document.querySelector('#report-app').children.length > 0"),
])
def test_pages_work_under_the_strict_policy(browser, live_server: str, path: str, user: str,
                                            ready: str) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(WATCH)
    login(page, live_server, user)
    response = page.goto(live_server + path)
    assert response is not None and "script-src 'self'" in response.headers[
        "content-security-policy"]
    page.wait_for_function(ready, timeout=60_000)
    page.wait_for_timeout(1500)  # the map's workers and images
    assert page.evaluate("window.__csp") == []
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()
