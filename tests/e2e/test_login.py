"""The console's login screen in headless Chromium: shown without a session, the server's
message on a wrong password, the console after signing in (user in the header, no alarm
actions for a role that may not handle alarms), back to the login screen after signing out or
when the session ends."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.conftest import password_of

pytestmark = pytest.mark.e2e

USER = "supervisor"  # may watch live vehicles, may not acknowledge alarms


@pytest.fixture()
def page(browser, live_server: str, users: dict[str, str]):  # noqa: ANN001, ANN201
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.errors, page.requests, page.refused = [], [], []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("response", lambda r: r.status == 401 and page.refused.append(urlparse(r.url).path))
    yield page
    context.close()


def sign_in(page, username: str, password: str) -> None:  # noqa: ANN001
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


def test_sign_in_and_out(page, live_server: str) -> None:  # noqa: ANN001
    page.goto(live_server)
    form = page.get_by_test_id("login-form")
    form.wait_for(timeout=30_000)
    assert page.get_by_test_id("login").is_visible()
    assert page.evaluate("window.__ready") is False  # nothing loads before signing in

    sign_in(page, USER, "not-the-password")
    error = page.get_by_test_id("login-error")
    page.wait_for_function("() => document.querySelector('[data-testid=login-error]')"
                           ".textContent.length > 0", timeout=10_000)
    assert "登录失败" in error.inner_text()

    sign_in(page, USER, password_of(USER))
    page.wait_for_function("() => window.__ready === true", timeout=60_000)
    assert not page.get_by_test_id("login").is_visible()
    assert page.get_by_test_id("user-name").inner_text() == f"测试 {USER}"
    page.wait_for_selector("[data-testid=live-status][data-state=connected]", timeout=20_000)
    assert page.get_by_test_id("alarm-ack").count() == 0  # no alarms:handle for this role

    # English, then sign out: the login screen again.
    page.get_by_test_id("lang-toggle").click()
    assert page.get_by_test_id("logout").inner_text() == "Sign out"
    page.get_by_test_id("logout").click()
    form.wait_for(timeout=30_000)
    assert page.get_by_test_id("login-submit").inner_text() == "Sign in"

    # Only the refusal that belongs to the story: the wrong password. "Not signed in" at a cold
    # start (before and after signing out) is an expected answer, not a 401 logged as an error.
    assert sorted(page.refused) == ["/api/auth/login"]
    assert len(page.errors) == 1 and "status of 401" in page.errors[0], page.errors
    origin = urlparse(live_server).netloc
    assert all(urlparse(u).netloc == origin for u in page.requests
               if urlparse(u).scheme in ("http", "https", "ws", "wss"))


def test_an_ended_session_brings_the_login_back(page, live_server: str) -> None:  # noqa: ANN001
    page.goto(live_server)
    page.get_by_test_id("login-form").wait_for(timeout=30_000)
    sign_in(page, USER, password_of(USER))
    page.wait_for_function("() => window.__ready === true", timeout=60_000)

    # The session ends on the server (another tab signed out): the next API call is refused.
    page.request.post(f"{live_server}/api/auth/logout")
    page.evaluate("window.__alarms.load()")
    page.get_by_test_id("login-form").wait_for(timeout=10_000)
    assert "登录已失效" in page.get_by_test_id("login").inner_text()

    sign_in(page, USER, password_of(USER))
    page.get_by_test_id("login").wait_for(state="hidden", timeout=10_000)
    page.wait_for_selector("[data-testid=live-status][data-state=connected]", timeout=20_000)
    assert page.get_by_test_id("user-name").inner_text() == f"测试 {USER}"
