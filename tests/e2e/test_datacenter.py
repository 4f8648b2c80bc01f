"""The data center (datacenter.html, issue 12 part 8) in headless Chromium against the real
backend: a viewer browses the catalog, searches 人口, opens a dataset, is told that a request
needs a purpose, then requests it; the data bureau passes the request from its overview; the
provider department's steward approves it from the department page; the viewer sees it
approved with its grant. Screenshots at 1920x1080 and 390x844 go to var/screenshots for the
lead to look at. No console errors (but the two refusals the flow provokes); no request
leaves 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.auth.users import create_user
from tests.conftest import ROOT, bearer, password_of
from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "var" / "screenshots"
READY = "() => window.__dc && window.__dc.ready === true"
PROVIDER_STEWARD = "t-e2e-dc-provider"
PURPOSE = "核验低保对象户籍信息（端到端测试）"


def rendered(page, route: str) -> None:  # noqa: ANN001
    """Waits until the data center has rendered `route` (e.g. 'dataset/x')."""
    page.wait_for_function("(r) => window.__dc && window.__dc.ready && window.__dc.route === r",
                           arg=route, timeout=30_000)


def new_page(browser, base: str, username: str, size: tuple[int, int] = (1920, 1080),  # noqa: ANN001
             phone: bool = False):  # noqa: ANN201
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai", is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.errors, page.requests = [], []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.errors.append(
        f"{m.text} @ {m.location.get('url', '')}"))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    login(page, base, username)
    return page


def check_clean(page, base: str, allowed: tuple[str, ...] = ()) -> None:  # noqa: ANN001
    """No console errors (but Chromium's own lines for refusals the test provoked, whose URL
    contains one of `allowed`), and nothing requested outside the test server."""
    errors = [e for e in page.errors
              if not (e.startswith("Failed to load resource") and any(a in e for a in allowed))]
    assert errors == [], errors
    origin = urlparse(base).netloc
    outside = [u for u in page.requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
               and urlparse(u).netloc != origin]
    assert outside == [], f"requests left 127.0.0.1: {outside[:5]}"


def no_sideways_scroll(page) -> None:  # noqa: ANN001
    width = page.evaluate("document.documentElement.scrollWidth")
    view = page.evaluate("window.innerWidth")
    assert width <= view + 1, f"the page scrolls sideways: {width} > {view}"


@pytest.fixture(scope="module")
def target(live_api: httpx.Client, client: TestClient) -> dict:
    """A dataset the 人口 search finds whose requests go through both checks (有条件共享)."""
    # The page's first page of results: the same query as the page's (20 a page).
    found = live_api.get("/api/datasets", params={"q": "人口", "limit": 20, "offset": 0},
                         headers=bearer(client, "viewer"))
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["total"] > 0 and body["items"], "the catalog search finds nothing for 人口"
    conditional = [d for d in body["items"] if d["share_type"] == "conditional"]
    assert conditional, [d["name"] for d in body["items"]]
    return conditional[0]


@pytest.fixture(scope="module")
def provider_steward(engine: sa.Engine, target: dict, users: dict[str, str]) -> Iterator[str]:
    """A data steward of the dataset's department (the session's steward acts for CGJ)."""
    with engine.begin() as conn:
        create_user(conn, PROVIDER_STEWARD, password_of(PROVIDER_STEWARD), ["data_steward"],
                    display_name="数据管理员·提供部门", department=target["department_code"])
    yield PROVIDER_STEWARD
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM users WHERE username = :u"), {"u": PROVIDER_STEWARD})


def test_a_request_goes_from_the_catalog_through_the_bureau_to_the_provider(
    browser, live_server: str, live_api: httpx.Client, client: TestClient,  # noqa: ANN001
    target: dict, provider_steward: str,
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    # --- the viewer: catalog, search 人口, the dataset page, a request -----------------------
    page = new_page(browser, live_server, "viewer")
    page.goto(f"{live_server}/datacenter")
    assert page.url.endswith("/datacenter.html"), page.url
    rendered(page, "catalog/")
    page.get_by_test_id("departments").get_by_test_id("department-filter").nth(1).wait_for()
    departments = page.get_by_test_id("department-filter").count()
    assert departments >= 42, departments  # 全部 + 41 departments (+ the bureau)
    page.get_by_test_id("catalog-search").fill("人口")
    page.wait_for_function("() => document.querySelector('[data-testid=results]')"
                           "?.dataset.query === '人口'", timeout=15_000)
    results = page.get_by_test_id("dataset-result")
    assert results.count() > 0
    assert "人口" in page.get_by_test_id("results").inner_text()
    item = page.locator(f"[data-testid=dataset-result][data-dataset-id='{target['id']}']")
    item.wait_for()
    assert item.get_by_test_id("share-badge").inner_text() == "有条件共享"
    if target["synthetic"]:
        assert item.get_by_test_id("synthetic-tag").is_visible()
    page.screenshot(path=str(SHOTS / "datacenter-catalog-1920.png"))
    item.get_by_test_id("dataset-link").click()
    rendered(page, f"dataset/{target['id']}")
    assert page.get_by_test_id("dataset-name").inner_text() == target["name"]
    page.get_by_test_id("fields").wait_for()
    page.get_by_test_id("quality").wait_for()
    page.get_by_test_id("request-button").click()
    page.get_by_test_id("request-submit").click()  # no purpose: the server's 422, inline
    page.wait_for_function("() => document.querySelector('[data-testid=request-error]')"
                           "?.textContent.trim().length > 0", timeout=10_000)
    page.get_by_test_id("request-purpose").fill(PURPOSE)
    fields = page.get_by_test_id("request-field")
    if fields.count():
        fields.first.check()
    page.screenshot(path=str(SHOTS / "datacenter-request-form-1920.png"))
    page.get_by_test_id("request-submit").click()
    page.get_by_test_id("request-form").wait_for(state="detached", timeout=10_000)
    viewer_auth = bearer(client, "viewer")
    mine = live_api.get("/api/requests", params={"box": "mine"}, headers=viewer_auth).json()
    request = next(r for r in mine if r["dataset_id"] == target["id"] and r["purpose"] == PURPOSE)
    assert request["status"] == "bureau_review", request
    page.screenshot(path=str(SHOTS / "datacenter-dataset-1920.png"), full_page=True)
    check_clean(page, live_server, allowed=("/requests", "/rows"))
    page.context.close()

    # --- the data bureau passes it ---------------------------------------------------------
    page = new_page(browser, live_server, "data_bureau")
    page.goto(f"{live_server}/datacenter.html#bureau")
    rendered(page, "bureau/")
    assert page.get_by_test_id("ranking-table").locator("tbody tr").count() > 0
    card = page.locator(f"[data-testid=request-card][data-request-id='{request['id']}']")
    card.wait_for(timeout=15_000)
    page.screenshot(path=str(SHOTS / "datacenter-bureau-1920.png"), full_page=True)
    card.get_by_test_id("request-pass").click()
    page.wait_for_function(
        "(id) => { const c = document.querySelector(`[data-testid=request-card][data-request-id="
        "'${id}']`); return !c || c.dataset.status !== 'bureau_review'; }",
        arg=request["id"], timeout=15_000)
    after = live_api.get(f"/api/requests/{request['id']}", headers=bearer(client, "data_bureau"))
    assert after.status_code == 200 and after.json()["status"] == "provider_review", after.text
    check_clean(page, live_server)
    page.context.close()

    # --- the provider's steward approves it -------------------------------------------------
    page = new_page(browser, live_server, provider_steward)
    page.goto(f"{live_server}/datacenter.html#department")
    rendered(page, "department/")
    assert page.get_by_test_id("department-name").is_visible()
    card = page.get_by_test_id("answer-list").locator(
        f"[data-testid=request-card][data-request-id='{request['id']}']")
    card.wait_for(timeout=15_000)
    assert card.get_by_test_id("due").is_visible()  # the time limit of the answer
    page.screenshot(path=str(SHOTS / "datacenter-department-1920.png"), full_page=True)
    card.get_by_test_id("request-refuse").click()  # refusing needs a reason: nothing is sent
    assert card.locator(".dc-form-error").inner_text().strip()
    card.get_by_test_id("request-approve").click()
    page.wait_for_function(
        "(id) => { const c = document.querySelector(`[data-testid=answer-list] [data-testid="
        "request-card][data-request-id='${id}']`); return !c || c.dataset.status === 'approved'; }",
        arg=request["id"], timeout=15_000)
    answered = live_api.get(f"/api/requests/{request['id']}", headers=viewer_auth).json()
    assert answered["status"] == "approved" and answered["grant"], answered
    check_clean(page, live_server)
    page.context.close()

    # --- the viewer sees it approved, with its grant ------------------------------------------
    page = new_page(browser, live_server, "viewer")
    page.goto(f"{live_server}/datacenter.html#requests")
    rendered(page, "requests/")
    card = page.locator(f"[data-testid=request-card][data-request-id='{request['id']}']")
    card.wait_for()
    assert card.get_attribute("data-status") == "approved"
    assert "已批准" in card.inner_text()
    page.screenshot(path=str(SHOTS / "datacenter-my-requests-1920.png"), full_page=True)
    check_clean(page, live_server)
    page.context.close()


def test_the_steward_sees_their_department(browser, live_server: str) -> None:  # noqa: ANN001
    page = new_page(browser, live_server, "data_steward")
    page.goto(f"{live_server}/datacenter.html#department")
    rendered(page, "department/")
    assert page.locator("[data-testid=view-department]").get_attribute("data-department") == "CGJ"
    page.get_by_test_id("department-datasets").wait_for()
    assert page.get_by_test_id("tab-bureau").count() == 0  # the bureau's tab is the bureau's
    count = page.evaluate("window.__dc.rendered")
    page.get_by_test_id("lang-toggle").click()  # English second: the same page in English
    page.wait_for_function("(n) => window.__dc.rendered > n", arg=count, timeout=30_000)
    assert "Datasets" in page.get_by_test_id("department-datasets").inner_text()
    page.screenshot(path=str(SHOTS / "datacenter-department-en-1920.png"), full_page=True)
    page.get_by_test_id("lang-toggle").click()
    check_clean(page, live_server)
    page.context.close()


def test_a_phone_reads_the_catalog_and_a_dataset(
    browser, live_server: str, target: dict,  # noqa: ANN001
) -> None:
    page = new_page(browser, live_server, "viewer", size=(390, 844), phone=True)
    page.goto(f"{live_server}/datacenter.html#catalog")
    rendered(page, "catalog/")
    page.get_by_test_id("dataset-result").first.wait_for()
    no_sideways_scroll(page)
    page.screenshot(path=str(SHOTS / "datacenter-catalog-390.png"))
    page.goto(f"{live_server}/datacenter.html#dataset/{target['id']}")
    rendered(page, f"dataset/{target['id']}")
    page.get_by_test_id("fields").wait_for()
    no_sideways_scroll(page)  # the tables scroll inside their boxes
    page.screenshot(path=str(SHOTS / "datacenter-dataset-390.png"), full_page=True)
    check_clean(page, live_server, allowed=("/rows",))
    page.context.close()


def test_the_console_links_to_the_data_center(browser, live_server: str) -> None:  # noqa: ANN001
    page = new_page(browser, live_server, "data_steward", size=(1280, 800))
    page.goto(live_server)
    link = page.get_by_test_id("datacenter-link")
    link.wait_for(timeout=60_000)
    link.click()
    page.wait_for_url("**/datacenter.html", timeout=30_000)
    rendered(page, "catalog/")
    page.context.close()


LIVE_DATASET = "waste_facilities"  # 城管局's (the session steward's), content in the version store


def _content(client: TestClient, dataset_id: str) -> None:
    """A version of the demo's generated content of the dataset (示意, full size: 60 rows)."""
    from backend.simulation.dataset_content import generate_content

    generate_content(client.app.state.resources.engine, scale=1.0, only=[dataset_id])


def test_an_upload_reaches_a_subscriber_live(
    browser, live_server: str, live_api: httpx.Client, client: TestClient,  # noqa: ANN001
) -> None:
    """The steward uploads a new version of their department's dataset from the department
    page (its counts shown); a viewer subscribed on the dataset page is told live (data.updates:
    a toast) and the page's changes feed shows the new version."""
    steward = bearer(client, "data_steward")
    _content(client, LIVE_DATASET)
    csv = live_api.get(f"/api/datasets/{LIVE_DATASET}/download", params={"format": "csv"},
                       headers=steward)
    assert csv.status_code == 200, csv.text
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert len(lines) >= 3, f"{LIVE_DATASET} has no content"
    changed = ("\n".join(lines[:-1]) + "\n").encode()  # one row fewer: a real change

    viewer = new_page(browser, live_server, "viewer", size=(1280, 800))
    viewer.goto(f"{live_server}/datacenter.html#dataset/{LIVE_DATASET}")
    rendered(viewer, f"dataset/{LIVE_DATASET}")
    viewer.wait_for_function("() => window.__dc.live.currentState === 'connected'", timeout=20_000)
    toggle = viewer.get_by_test_id("subscribe-toggle")
    if toggle.get_attribute("aria-pressed") != "true":
        toggle.click()
        viewer.wait_for_function("() => document.querySelector('[data-testid=subscribe-toggle]')"
                                 "?.getAttribute('aria-pressed') === 'true'", timeout=10_000)
    before = live_api.get(f"/api/datasets/{LIVE_DATASET}/changes", headers=steward).json()

    page = new_page(browser, live_server, "data_steward", size=(1920, 1080))
    page.goto(f"{live_server}/datacenter.html#department")
    rendered(page, "department/")
    page.locator(f"[data-testid=upload-input][data-dataset-id='{LIVE_DATASET}']").set_input_files(
        files=[{"name": f"{LIVE_DATASET}.csv", "mimeType": "text/csv", "buffer": changed}])
    outcome = page.get_by_test_id("upload-outcome")
    outcome.wait_for(timeout=30_000)
    assert outcome.get_attribute("data-outcome") == "accepted", outcome.inner_text()
    page.screenshot(path=str(SHOTS / "datacenter-upload-1920.png"), full_page=True)
    check_clean(page, live_server)
    page.context.close()

    viewer.wait_for_function(
        "(id) => window.__dc.updates.some(u => u.dataset_id === id)", arg=LIVE_DATASET,
        timeout=20_000)
    viewer.get_by_test_id("toast").first.wait_for(timeout=10_000)
    after = live_api.get(f"/api/datasets/{LIVE_DATASET}/changes", headers=steward).json()
    assert after["last_seq"] > (before["last_seq"] or 0)
    viewer.wait_for_function(
        "(seq) => document.querySelector('[data-testid=changes-table] tbody tr td')"
        "?.textContent === String(seq)", arg=after["last_seq"], timeout=15_000)
    viewer.screenshot(path=str(SHOTS / "datacenter-live-1280.png"))
    check_clean(viewer, live_server, allowed=("/rows",))
    viewer.context.close()
