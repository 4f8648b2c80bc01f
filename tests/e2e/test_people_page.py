"""The data center's 人口库 tab in headless Chromium against the real backend: the population
officer picks a purpose (searching is refused until then), searches a resident by citizen ID,
sees the masked result, opens the full record with its purpose, and finds their own look in
"谁查看过此人". A screenshot goes to var/screenshots for the lead to look at."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.conftest import ROOT
from tests.e2e.test_datacenter import check_clean, new_page, rendered
from tests.people import population as pop

pytestmark = pytest.mark.e2e
SHOTS = ROOT / "var" / "screenshots"


def test_officer_searches_opens_the_record_and_sees_the_access_log(
        browser, live_server: str, engine: Engine,  # noqa: ANN001
        population: pop.SamplePopulation) -> None:
    with engine.connect() as conn:
        someone = conn.execute(sa.text("""
SELECT id, citizen_id, name FROM persons WHERE grid_code = :g AND status = 'resident'
ORDER BY id LIMIT 1"""), {"g": population.cells[8]}).one()
    page = new_page(browser, live_server, "population_officer")
    page.goto(f"{live_server}/datacenter.html#people")
    rendered(page, "people/")
    go = page.get_by_test_id("people-go")
    page.get_by_test_id("people-q").fill(someone.citizen_id)
    assert go.is_disabled()   # no purpose yet: the hint says why
    page.get_by_test_id("people-purpose").select_option("social_assistance")
    go.click()
    result = page.get_by_test_id("people-result").first
    result.wait_for(timeout=15_000)
    table = page.get_by_test_id("people-results").inner_text()
    assert someone.citizen_id not in table and someone.citizen_id[-4:] in table
    result.click()
    record = page.get_by_test_id("people-record")
    record.wait_for(timeout=15_000)
    assert someone.citizen_id in record.inner_text() and someone.name in record.inner_text()
    assert "社会救助" in page.get_by_test_id("people-record-purpose").inner_text()
    log = page.get_by_test_id("people-access-table").inner_text()
    assert "population_officer" in log and "社会救助" in log
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "people-record-1920.png"), full_page=True)
    check_clean(page, live_server)
