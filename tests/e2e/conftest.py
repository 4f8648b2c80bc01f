"""A real Chromium (Debian's) driven by Python Playwright; nothing is downloaded."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-unsafe-swiftshader",
]


# Package scope: Playwright's sync API keeps an event loop running on the main thread while it
# is open, which would break later tests that call asyncio.run().
@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not shutil.which("chromium"):
        pytest.fail("Chromium is missing: make test installs Debian's chromium package")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        yield browser
        browser.close()


def login(page, base_url: str, username: str = "admin") -> None:  # noqa: ANN001
    """Log the page's browser context in as `username` (one of the session's test users):
    the login call sets the session cookie that the console's requests then carry."""
    from tests.conftest import password_of

    response = page.request.post(f"{base_url}/api/auth/login", data={
        "username": username, "password": password_of(username)})
    assert response.ok, response.text()
