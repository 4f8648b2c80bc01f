"""The grid worker's phone page (/report) in headless Chromium: a report made offline is kept
in IndexedDB and reaches the server once when the network returns (even when the first
answer is lost on the way back); the login form, the language switch and 我的任务 on a 360 px
phone. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import uuid
from io import BytesIO
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.conftest import ROOT, bearer, password_of
from tests.e2e.conftest import login

SHOTS = ROOT / "var" / "screenshots"
# A spot in the county seat's grid that no other test reports at.
SPOT = (117.88612, 33.47518)
BOX = f"{SPOT[0] - 0.0005},{SPOT[1] - 0.0005},{SPOT[0] + 0.0005},{SPOT[1] + 0.0005}"
DRAFTS = "() => window.__report.outbox.drafts.map(d => ({state: d.state, error: d.error || null, " \
         "case_no: d.case_no || null, photos: d.photos.length, attempts: d.attempts}))"


def photo_jpeg() -> bytes:
    image = Image.new("RGB", (640, 480), (90, 140, 60))
    for x in range(0, 640, 40):  # something to see in the thumbnail
        image.paste((200, 200, 40), (x, 200, x + 20, 280))
    out = BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def cases_with(client: TestClient, description: str) -> list[dict]:
    """The cases with this description, as the admin sees them through the API."""
    page = client.get("/api/incidents", params={"bbox": BOX, "limit": 500})
    assert page.status_code == 200, page.text
    return [c for c in page.json()["incidents"] if c["description"] == description]


def outside(requests: list[str], base: str) -> list[str]:
    origin = urlparse(base).netloc
    return [u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
            and urlparse(u).netloc != origin]


@pytest.fixture()
def phone(browser, live_server: str):  # noqa: ANN001, ANN201
    """A phone-sized page that knows where it is (GPS allowed)."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", has_touch=True,
        geolocation={"longitude": SPOT[0], "latitude": SPOT[1], "accuracy": 8},
        permissions=["geolocation"])
    page = context.new_page()
    page.errors, page.requests = [], []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    yield page
    context.close()


def open_report(page, base: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/report")
    assert page.url.endswith("/report.html")
    page.wait_for_function("() => window.__report && window.__report.ready === true",
                           timeout=30_000)


def test_an_offline_draft_is_sent_once_when_the_network_returns(
    phone, live_server: str, client: TestClient  # noqa: ANN001
) -> None:
    page = phone
    login(page, live_server, "grid_worker")
    open_report(page, live_server)
    page.get_by_test_id("location-text").filter(has_text="117.88612").wait_for(timeout=30_000)
    page.wait_for_function("() => window.__reportMap && window.__reportMap.loaded()",
                           timeout=30_000)

    description = f"离线草稿测试 offline draft {uuid.uuid4().hex[:8]}"
    page.get_by_test_id("kind-event").click()
    page.get_by_test_id("major").select_option("01")
    page.get_by_test_id("minor").select_option("E0101")
    page.get_by_test_id("description").fill(description)
    page.get_by_test_id("urgency-urgent").click()
    page.get_by_test_id("photo-input").set_input_files(files=[
        {"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg()}])
    page.get_by_test_id("thumb").first.wait_for()
    page.wait_for_function("() => new Promise(r => { const m = window.__reportMap; "
                           "m.once('idle', () => r(true)); m.triggerRepaint(); })")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "report-page.png"))
    page.screenshot(path=str(SHOTS / "report-page-full.png"), full_page=True)

    # Offline: the draft is kept on the phone and nothing reaches the server.
    page.context.set_offline(True)
    page.get_by_test_id("net").filter(has_text="离线").wait_for()
    sent_before = len(page.requests)
    page.get_by_test_id("submit").click()
    page.get_by_test_id("queue-count").filter(has_text="1").wait_for()
    assert page.evaluate(DRAFTS) == [{"state": "queued", "error": None, "case_no": None,
                                      "photos": 1, "attempts": 0}]
    stored = page.evaluate("""() => new Promise((ok, fail) => {
        const open = indexedDB.open('cityops-report');
        open.onsuccess = () => {
          const get = open.result.transaction('drafts').objectStore('drafts').getAll();
          get.onsuccess = () => ok(get.result.map(d => ({key: d.id, blob: d.photos[0].blob.size,
                                                         type: d.photos[0].blob.type,
                                                         body: d.body})));
          get.onerror = () => fail(get.error);
        };
        open.onerror = () => fail(open.error);
    })""")
    assert len(stored) == 1 and stored[0]["blob"] > 1000 and stored[0]["type"] == "image/jpeg"
    assert stored[0]["body"]["description"] == description
    assert stored[0]["body"]["urgency"] == "urgent" and len(stored[0]["key"]) == 36
    assert not [u for u in page.requests[sent_before:] if "/api/" in u]
    assert cases_with(client, description) == []
    page.get_by_test_id("tab-queue").click()
    page.get_by_test_id("draft").first.wait_for()
    page.screenshot(path=str(SHOTS / "report-outbox-offline.png"))

    # Back online: the first answer is lost on the way back (the case is made, the phone does
    # not hear it); the draft stays queued, and the retry is answered with the same case.
    attempts: list[str] = []

    def lose_the_answer(route) -> None:  # noqa: ANN001
        attempts.append(route.request.headers.get("idempotency-key", ""))
        if len(attempts) == 1:
            route.fetch()  # the server makes the case...
            route.abort("connectionreset")  # ...and the answer never arrives
        else:
            route.continue_()

    page.route("**/api/incidents", lose_the_answer)
    page.context.set_offline(False)
    page.wait_for_function("() => window.__report.outbox.drafts[0].attempts === 1 && "
                           "window.__report.outbox.drafts[0].state === 'queued'", timeout=30_000)
    made = cases_with(client, description)
    assert len(made) == 1
    page.evaluate("() => window.__report.outbox.flush()")
    page.get_by_test_id("draft-case").wait_for(timeout=30_000)
    drafts = page.evaluate(DRAFTS)
    assert drafts == [{"state": "sent", "error": None, "case_no": made[0]["case_no"],
                       "photos": 0, "attempts": 2}]
    assert attempts == [stored[0]["key"]] * 2
    assert page.get_by_test_id("draft-case").inner_text() == made[0]["case_no"]
    assert page.get_by_test_id("queue-count").is_hidden()
    page.unroute("**/api/incidents")

    case = client.get(f"/api/incidents/{made[0]['id']}").json()
    assert case["reporter"] == "grid_worker" and case["urgency"] == "urgent"
    assert case["category_code"] == "E0101" and len(case["photos"]) == 1
    assert (case["lon"], case["lat"]) == pytest.approx(SPOT, abs=1e-6)
    got = client.get(f"/api/photos/{case['photos'][0]}")
    assert got.status_code == 200 and Image.open(BytesIO(got.content)).size == (640, 480)

    # A reload sends nothing again.
    page.reload()
    page.wait_for_function("() => window.__report && window.__report.ready === true")
    page.evaluate("() => window.__report.outbox.flush()")
    assert page.evaluate(DRAFTS)[0]["state"] == "sent"
    assert len(cases_with(client, description)) == 1

    # The one failure the page saw is the lost answer, on purpose.
    assert [e for e in page.errors if "ERR_CONNECTION_RESET" not in e] == []
    assert outside(page.requests, live_server) == []


def test_login_language_and_my_tasks_on_a_small_phone(
    browser, live_server: str, client: TestClient  # noqa: ANN001
) -> None:
    # A case dispatched to the test grid worker, waiting to be accepted.
    case = client.post("/api/incidents", json={
        "category_code": "E0101", "description": f"任务测试 task {uuid.uuid4().hex[:6]}",
        "lon": SPOT[0], "lat": SPOT[1]}).json()
    assert client.post(f"/api/incidents/{case['id']}/actions/file",
                       headers=bearer(client, "supervisor")).status_code == 200
    dispatched = client.post(f"/api/incidents/{case['id']}/actions/dispatch",
                             json={"assignee": "grid_worker"},
                             headers=bearer(client, "dispatcher"))
    assert dispatched.status_code == 200, dispatched.text

    context = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="zh-CN", has_touch=True,
        geolocation={"longitude": SPOT[0], "latitude": SPOT[1], "accuracy": 15},
        permissions=["geolocation"])
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    try:
        open_report(page, live_server)
        page.get_by_test_id("login").wait_for()
        page.get_by_test_id("login-username").fill("grid_worker")
        page.get_by_test_id("login-password").fill("wrong")
        page.get_by_test_id("login-submit").click()
        page.get_by_test_id("login-error").filter(has_text="登录失败").wait_for()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "report-login.png"))
        page.get_by_test_id("login-password").fill(password_of("grid_worker"))
        page.get_by_test_id("login-submit").click()
        page.get_by_test_id("report-form").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        # The GPS fix puts the pin; a tap on the map moves it there.
        where = page.get_by_test_id("location-text")
        where.filter(has_text="GPS").wait_for(timeout=30_000)
        page.get_by_test_id("map").click(position={"x": 60, "y": 60})
        where.filter(has_text="已手动调整").wait_for()
        assert "117.88612, 33.47518" not in where.inner_text()

        page.get_by_test_id("tab-tasks").click()
        card = page.locator(f"[data-testid=task][data-case='{case['case_no']}']")
        card.get_by_test_id("act-accept").click()
        card.get_by_test_id("act-start").wait_for(timeout=30_000)
        after = client.get(f"/api/incidents/{case['id']}").json()
        assert after["state"] == "accepted"
        assert after["timeline"][-1]["actor"] == "grid_worker"
        assert (after["timeline"][-1]["lon"], after["timeline"][-1]["lat"]) == \
            pytest.approx(SPOT, abs=1e-6)
        # Handling needs a note; the after photo goes with it.
        card.get_by_test_id("act-start").click()
        card.get_by_test_id("act-handle").click()
        card.get_by_test_id("action-note").fill("已清理完毕")
        card.get_by_test_id("action-photo").set_input_files(files=[
            {"name": "after.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg()}])
        page.screenshot(path=str(SHOTS / "report-tasks.png"))
        card.get_by_test_id("action-send").click()
        page.get_by_test_id("toast").filter(has_text=f"{case['case_no']} · 处置完毕").wait_for(
            timeout=30_000)
        handled = client.get(f"/api/incidents/{case['id']}").json()
        assert handled["state"] == "handled" and handled["timeline"][-1]["note"] == "已清理完毕"
        assert len(handled["timeline"][-1]["photos"]) == 1

        page.get_by_test_id("lang").click()
        assert page.get_by_test_id("tab-tasks").inner_text().startswith("My tasks")
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(SHOTS / "report-tasks-en.png"))
        page.get_by_test_id("lang").click()  # back to Chinese for whoever uses this browser
    finally:
        context.close()
    # The page asked who is signed in before anyone was (401), and a wrong password (401).
    assert [e for e in errors if "401" not in e] == []
    assert outside(requests, live_server) == []
