"""The grid-incidents issue's "done when", end to end in two browsers: a grid worker reports
from the phone page, the dispatcher sees the case appear live on the desk and dispatches it
there, the unit handles it, the supervisor verifies it and the case is closed, and the KPIs
move. Steps that are the subject of other tests (filing, handling, verifying) go through the
API as the right roles; the two pages are the real ones."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import bearer
from tests.e2e.conftest import login

SPOT = (117.87430, 33.48310)  # in the county seat's grid, a spot no other test uses


@pytest.fixture()
def handler_of_hws(engine: sa.Engine, client: TestClient) -> Iterator[dict[str, str]]:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET department = 'HWS' "
                             "WHERE username = 'department_handler'"))
    yield bearer(client, "department_handler")


def kpis_around_now(client: TestClient) -> dict:
    """The KPI totals of the cases filed within a day of now."""
    now = datetime.now(UTC)
    answer = client.get("/api/kpi/incidents", params={
        "from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(days=1)).isoformat()})
    assert answer.status_code == 200, answer.text
    return answer.json()["total"]


def test_report_dispatch_handle_verify_close_and_the_kpis_move(
    browser, live_server: str, live_api: httpx.Client, client: TestClient,  # noqa: ANN001
    handler_of_hws: dict[str, str],
) -> None:
    before = kpis_around_now(client)
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", has_touch=True,
        geolocation={"longitude": SPOT[0], "latitude": SPOT[1], "accuracy": 8},
        permissions=["geolocation"]).new_page()
    desk = browser.new_context(viewport={"width": 1600, "height": 900},
                               locale="zh-CN").new_page()
    errors: list[str] = []
    for page in (phone, desk):
        page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        login(desk, live_server, "dispatcher")
        desk.goto(live_server)
        desk.get_by_test_id("desk-panel").wait_for(timeout=60_000)

        description = f"垃圾堆放 {uuid.uuid4().hex[:8]}"
        login(phone, live_server, "grid_worker")
        phone.goto(f"{live_server}/report")
        phone.wait_for_function("() => window.__report && window.__report.ready === true",
                                timeout=30_000)
        phone.get_by_test_id("location-text").filter(has_text="117.8743").wait_for(
            timeout=30_000)
        phone.get_by_test_id("kind-event").click()
        phone.get_by_test_id("major").select_option("01")
        phone.get_by_test_id("minor").select_option("E0101")
        phone.get_by_test_id("description").fill(description)
        phone.get_by_test_id("submit").click()
        phone.wait_for_function(
            "(d) => window.__report.outbox.drafts.some(x => x.case_no)", arg=description,
            timeout=30_000)
        case = next(c for c in client.get("/api/incidents", params={"limit": 500}).json()[
            "incidents"] if c["description"] == description)
        assert case["state"] == "reported" and case["reporter"] == "grid_worker"

        supervisor = bearer(client, "supervisor")
        # Through the live server, whose hub the desk listens to.
        assert live_api.post(f"/api/incidents/{case['id']}/actions/file",
                             headers=supervisor).status_code == 200
        item = desk.locator(f"[data-testid=desk-case][data-case-id='{case['id']}']")
        item.wait_for(timeout=30_000)  # pushed live on incidents.changes, no reload
        item.click()
        desk.get_by_test_id("desk-action-dispatch").click()
        desk.get_by_test_id("desk-form").wait_for()
        desk.get_by_test_id("desk-note").fill("请环卫所处理")
        desk.get_by_test_id("desk-submit").click()
        desk.wait_for_function(
            "(id) => fetch(`/api/incidents/${id}`).then(r => r.json())"
            ".then(c => c.state === 'dispatched')", arg=case["id"], timeout=30_000)

        for action, body in (("accept", {}), ("start", {}), ("handle", {"note": "已清运"})):
            done = client.post(f"/api/incidents/{case['id']}/actions/{action}", json=body,
                               headers=handler_of_hws)
            assert done.status_code == 200, done.text
        assert client.post(f"/api/incidents/{case['id']}/actions/send_to_verify",
                           headers=supervisor).status_code == 200
        closed = client.post(f"/api/incidents/{case['id']}/actions/confirm",
                             json={"note": "已核实"}, headers=bearer(client, "grid_worker"))
        assert closed.status_code == 200 and closed.json()["state"] == "closed"
        assert closed.json()["on_time"] is True
    finally:
        phone.context.close()
        desk.context.close()
    after = kpis_around_now(client)
    assert after["filed"] == before["filed"] + 1
    assert after["closed"] == before["closed"] + 1
    assert errors == []
