"""The wall's soak, shortened for `make test`: the wall page (the console while /wall is not
built) runs for about a minute in headless Chromium as the wall's account while vehicles move
along the roads twice a second through the HTTP ingest and cases are reported every few
seconds. After a warm-up the DOM node count stays within a band, the JS heap (after a forced
GC) does not climb, and no request leaves the origin. The long version with growth per hour is
tests/perf/bench_wall_soak.py."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import TEST_INGEST_TOKEN, bearer, password_of
from tests.perf.wall_browser import (
    WALL_SIZE,
    CaseReporter,
    Feeder,
    Outside,
    Sampler,
    growth,
    login,
    movers,
    wall_path,
)

pytestmark = pytest.mark.e2e

RUN_S = 60.0
EVERY_S = 5.0
WARMUP_S = 20.0
HEAP_SLOPE_MB_H = 300.0  # generous: 5 MB of noise over 45 s reads as 400 MB/h


def test_the_wall_stays_bounded_and_offline(browser, live_server: str, client: TestClient,  # noqa: ANN001
                                            engine: sa.Engine) -> None:
    feeder = Feeder(live_server, TEST_INGEST_TOKEN, movers(engine, 150), prefix="SOAKT",
                    period_s=0.5)
    cases = CaseReporter(live_server, None, bearer(client, "supervisor"), period_s=4.0)
    context = browser.new_context(viewport=WALL_SIZE, device_scale_factor=1)
    try:
        login(context, live_server, "viewer", password_of("viewer"))
        page = context.new_page()
        outside = Outside(live_server)
        outside.watch(page)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(live_server + wall_path(live_server, None), wait_until="load")
        feeder.start()
        cases.start()
        sampler = Sampler(context, page)
        end = time.monotonic() + RUN_S
        while time.monotonic() < end:
            sampler.sample()
            time.sleep(EVERY_S)
        sampler.sample()
    finally:
        feeder.stop()
        cases.stop()
        context.close()
    assert feeder.sent > 150 * 20 and not feeder.errors, feeder.errors[:1]
    assert cases.made >= 5 and not cases.errors, cases.errors[:1]
    g = growth(sampler.samples, WARMUP_S)
    late = [s for s in sampler.samples if s.t >= WARMUP_S]
    assert len(late) >= 6
    # the DOM is a fixed layout with rolling lists: a band, not a climb
    band = g["nodes_max_after_warmup"] - g["nodes_min_after_warmup"]
    assert band <= 0.15 * g["nodes_max_after_warmup"] + 50, g
    assert g["heap_mb_per_h"] < HEAP_SLOPE_MB_H, g
    assert late[-1].heap < 1.5 * late[0].heap + 4 * 2**20, g
    assert outside.urls == []
    assert errors == []
