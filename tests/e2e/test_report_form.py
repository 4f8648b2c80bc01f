"""The report form as a grid worker uses it on a 390x844 phone (issue 15, items 13-16): the
submit button stays on screen however long the form gets; after 提交 the page says it waits
for the network, then confirms with the case number the server gave; a category is found by
typing its pinyin initials, and the worker's recent categories come back after a reload; in
English the selects say "Choose", not 请选择."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.e2e import test_report_page
from tests.e2e.conftest import login
from tests.e2e.test_report_page import SHOTS, cases_with, open_report, outside, photo_jpeg

phone = test_report_page.phone  # the same phone-sized page fixture


def in_viewport(page, testid: str) -> bool:  # noqa: ANN001
    """The element's whole box is inside the window and it is the element hit at its centre
    (not covered by the toast or anything else)."""
    return page.evaluate("""(id) => {
        const el = document.querySelector(`[data-testid="${id}"]`);
        const r = el.getBoundingClientRect();
        const inside = r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight
                       && r.right <= innerWidth;
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return inside && r.height > 0 && (hit === el || el.contains(hit));
    }""", testid)


def test_submit_stays_reachable_and_confirms_with_the_case_number(
    phone, live_server: str, client: TestClient  # noqa: ANN001
) -> None:
    page = phone
    login(page, live_server, "grid_worker")
    open_report(page, live_server)
    page.get_by_test_id("location-text").filter(has_text="117.88612").wait_for(timeout=30_000)

    # A long form: a category by pinyin initials, a long text, four photos.
    description = f"提交确认测试 submit confirmation {uuid.uuid4().hex[:8]}"
    page.get_by_test_id("category-search").fill("ljf")
    first = page.get_by_test_id("category-result").first
    assert first.get_attribute("data-code") == "C0302"  # 垃圾房 (la ji fang)
    first.click()
    assert page.get_by_test_id("minor").input_value() == "C0302"
    assert page.get_by_test_id("major").input_value() == "03"
    assert page.get_by_test_id("kind-component").get_attribute("aria-pressed") == "true"
    description += "\n" + "垃圾房门损坏，" * 30
    page.get_by_test_id("description").fill(description)
    page.get_by_test_id("photo-input").set_input_files(files=[
        {"name": f"IMG_{i}.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg()}
        for i in range(4)])
    page.get_by_test_id("thumb").nth(3).wait_for()
    assert page.evaluate("document.documentElement.scrollHeight") > 844 * 1.5  # a long page
    for y in (0, 400, 10_000):  # top, middle, bottom: the button is always on screen
        page.evaluate(f"window.scrollTo(0, {y})")
        assert in_viewport(page, "submit"), f"submit off screen at scroll {y}"
    page.evaluate("window.scrollTo(0, 300)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "report-sticky-submit.png"))

    # No network: the page says so, plainly, and keeps saying it.
    page.context.set_offline(True)
    page.get_by_test_id("submit").click()
    status = page.get_by_test_id("submit-status")
    status.filter(has_text="等待网络").wait_for()
    assert status.get_attribute("data-state") == "wait"
    assert in_viewport(page, "submit-status") and in_viewport(page, "submit")
    page.wait_for_timeout(4500)  # longer than a toast lives
    assert "等待网络" in status.inner_text()
    page.screenshot(path=str(SHOTS / "report-waiting-network.png"))
    assert cases_with(client, description) == []

    # The network returns: the status turns into the case number the server gave.
    page.context.set_offline(False)
    status.filter(has_text="已受理").wait_for(timeout=30_000)
    made = cases_with(client, description)
    assert len(made) == 1 and made[0]["category_code"] == "C0302"
    assert status.inner_text() == f"已受理，案件编号 {made[0]['case_no']}"
    assert status.get_attribute("data-state") == "ok"
    page.screenshot(path=str(SHOTS / "report-accepted.png"))

    # The category is now a recent one, still there after a reload; a tap picks it again.
    page.reload()
    page.wait_for_function("() => window.__report && window.__report.ready === true")
    recent = page.get_by_test_id("recent-category")
    recent.first.wait_for()
    assert recent.first.get_attribute("data-code") == "C0302"
    recent.first.click()
    assert page.get_by_test_id("minor").input_value() == "C0302"

    # English: the selects and the search say so in English, the choice is kept.
    page.get_by_test_id("lang").click()
    assert page.get_by_test_id("minor").input_value() == "C0302"
    page.get_by_test_id("kind-event").click()
    assert page.locator("[data-testid=major] option").first.inner_text() == "Choose"
    assert page.locator("[data-testid=minor] option").first.inner_text() == "Choose"
    assert "请选择" not in page.get_by_test_id("report-form").inner_text()
    assert "pinyin" in page.get_by_test_id("category-search").get_attribute("placeholder")
    page.get_by_test_id("category-search").fill("lamp")
    page.get_by_test_id("category-none").wait_for()
    page.get_by_test_id("category-search").fill("井盖")
    assert page.get_by_test_id("category-result").count() == 4
    page.screenshot(path=str(SHOTS / "report-search-en.png"))
    page.get_by_test_id("lang").click()  # back to Chinese for whoever uses this browser

    assert page.errors == []
    assert outside(page.requests, live_server) == []


def test_a_refused_report_says_so_beside_the_button(
    phone, live_server: str  # noqa: ANN001
) -> None:
    """A report the server refuses (here: a category retired since the phone cached the list)
    is not shown as 'sending' for ever: the status says the server refused it and why."""
    page = phone
    login(page, live_server, "grid_worker")
    open_report(page, live_server)
    page.get_by_test_id("location-text").filter(has_text="117.88612").wait_for(timeout=30_000)
    page.evaluate("""() => {
        const sel = document.querySelector('[data-testid=minor]');
        const o = document.createElement('option'); o.value = 'E9999'; o.textContent = 'gone';
        sel.disabled = false; sel.append(o); sel.value = 'E9999';
    }""")
    page.get_by_test_id("description").fill(f"退回测试 {uuid.uuid4().hex[:6]}")
    page.get_by_test_id("submit").click()
    status = page.get_by_test_id("submit-status")
    status.filter(has_text="服务器拒绝").wait_for(timeout=30_000)
    assert status.get_attribute("data-state") == "error"
    assert "E9999" in status.inner_text() or "category" in status.inner_text().lower()
    assert [e for e in page.errors if "422" not in e and "400" not in e] == []
