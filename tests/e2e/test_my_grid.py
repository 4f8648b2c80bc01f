"""我的网格 on the phone page (issue 13 part 8), at 390x844 in Chromium: the grid worker's cells,
a cell's households and a household's members with masked IDs and names; a visit recorded
online; a visit recorded offline kept as a draft and sent once when the network is back."""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.conftest import password_of
from tests.e2e.test_report_page import SHOTS
from tests.people.population import SamplePopulation

CHANGE_DRAFTS = """() => new Promise((ok, fail) => {
    const open = indexedDB.open('cityops-report');
    open.onsuccess = () => {
      const get = open.result.transaction('drafts').objectStore('drafts').getAll();
      get.onsuccess = () => ok(get.result.filter(d => d.change)
                                 .map(d => ({id: d.id, state: d.state, change_id: d.change_id})));
      get.onerror = () => fail(get.error);
    };
    open.onerror = () => fail(open.error);
})"""


@pytest.fixture(scope="module")
def worker_cells(population: SamplePopulation) -> list[str]:
    """The test grid worker's cells: the first three of the session's test population."""
    return population.cells[:3]


def visits_of(engine: Engine, client_ids: list[str]) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT client_id::text, status FROM population_changes WHERE client_id::text = "
            "ANY(:c)"), {"c": client_ids})]


def test_my_grid_lists_masked_households_and_sends_an_offline_visit_once(
    browser, live_server: str, worker_cells: list[str], engine: Engine  # noqa: ANN001
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                  has_touch=True, is_mobile=True)
    errors: list[str] = []
    context.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{live_server}/report")
        page.get_by_test_id("login-username").fill("grid_worker")
        page.get_by_test_id("login-password").fill(password_of("grid_worker"))
        page.get_by_test_id("login-submit").click()
        page.get_by_test_id("tab-grid").click()
        cells = page.get_by_test_id("grid-cell")
        cells.first.wait_for()
        assert cells.count() == len(worker_cells) == 3  # the worker's three cells, no more
        assert page.get_by_test_id("tab-grid").inner_text().strip() == "我的网格"
        page.locator(f'[data-testid="grid-cell"][data-grid="{worker_cells[0]}"]').click()
        households = page.get_by_test_id("household")
        households.first.wait_for()
        assert households.count() >= 5
        assert "****" in households.first.inner_text()  # the address stops at the building
        households.first.click()
        members = page.get_by_test_id("member")
        members.first.wait_for()
        for i in range(members.count()):
            cid = members.nth(i).get_by_test_id("member-id").inner_text()
            assert re.fullmatch(r"\d{6}\*{8}[0-9X*]{4}", cid), cid
            assert members.nth(i).get_by_test_id("member-name").inner_text().endswith("*")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "report-my-grid-household.png"))

        # A visit, online: sent at once, listed as recorded.
        page.get_by_test_id("household-visit").click()
        page.get_by_test_id("ch-note").fill("入户走访 online")
        page.get_by_test_id("change-submit").click()
        page.locator('[data-testid="my-change"][data-status="recorded"]').first.wait_for()
        page.wait_for_function(f"() => ({CHANGE_DRAFTS})().then(d => d.length === 1 "
                               "&& d[0].state === 'sent')")

        # A visit, offline: kept on the phone, then sent once when the network is back.
        context.set_offline(True)
        page.get_by_test_id("net").filter(has_text="离线").wait_for()
        page.get_by_test_id("household-visit").click()
        page.get_by_test_id("ch-note").fill("入户走访 offline")
        page.get_by_test_id("change-submit").click()
        page.locator('[data-testid="change-draft"][data-state="queued"]').wait_for()
        drafts = page.evaluate(CHANGE_DRAFTS)
        offline = [d["id"] for d in drafts if d["state"] == "queued"]
        assert len(offline) == 1
        assert visits_of(engine, offline) == []  # nothing reached the server
        page.screenshot(path=str(SHOTS / "report-my-grid-offline-draft.png"))
        context.set_offline(False)
        # Back online, the outbox sends the draft: wait for the server's row (the drafts'
        # states alone could be read before the send).
        deadline = time.monotonic() + 30
        while not visits_of(engine, offline) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert visits_of(engine, offline) == [(offline[0], "recorded")]
        # Sending again (as a second phone tab or a retry would) is answered with the same row.
        again = page.evaluate("""([id, grid]) => fetch('/api/people/changes', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, credentials: 'same-origin',
            body: JSON.stringify({client_id: id, kind: 'visit', grid_code: grid})})
            .then(r => r.status)""", [offline[0], worker_cells[0]])
        assert again == 200
        assert visits_of(engine, offline) == [(offline[0], "recorded")]
        page.locator('[data-testid="my-change"]').nth(1).wait_for()
    finally:
        context.close()
    assert [e for e in errors if "Failed to load resource" not in e
            and "ERR_INTERNET_DISCONNECTED" not in e] == []
