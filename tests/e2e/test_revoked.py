"""A console whose session is revoked on the server (here: an admin changes the user's roles)
goes back to the login screen with a message, told by the hub's close code 4410 alone."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from backend.auth.users import create_user
from tests.conftest import bearer
from tests.e2e.test_login import sign_in

pytestmark = pytest.mark.e2e

USER = "t-e2e-revoked"
PASSWORD = "violet-harbour-signal-5"


@pytest.fixture()
def watcher(engine: sa.Engine, users: dict[str, str]) -> Iterator[str]:
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM users WHERE username = :u"), {"u": USER})
        create_user(conn, USER, PASSWORD, ["viewer"], display_name="值班 revoked")
    yield USER
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM users WHERE username = :u"), {"u": USER})


def test_a_role_change_sends_the_console_back_to_the_login(
    browser, live_server: str, live_api: httpx.Client, watcher: str  # noqa: ANN001
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(live_server)
        page.get_by_test_id("login-form").wait_for(timeout=30_000)
        sign_in(page, USER, PASSWORD)
        page.wait_for_function("() => window.__ready === true", timeout=60_000)
        page.wait_for_selector("[data-testid=live-status][data-state=connected]",
                               timeout=20_000)
        changed = live_api.patch(f"/api/users/{USER}", json={"roles": ["traffic_police"]},
                                 headers=bearer(live_api, "admin"))
        assert changed.status_code == 200
        # Nothing on the page calls the API here: the socket's close (4410) brings the login.
        page.get_by_test_id("login-form").wait_for(timeout=5_000)
        assert "登录已失效" in page.get_by_test_id("login").inner_text()
    finally:
        context.close()
