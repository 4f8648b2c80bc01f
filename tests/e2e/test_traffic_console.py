"""The traffic police console, end to end in headless Chromium against the real traffic API:
a traffic police officer signs in and lands on the traffic view; the seat's segments are drawn
with their levels and change live over `traffic.segments`; a congestion alert raised by the
service's rules arrives live over `traffic.alerts`, is acknowledged and then closed from the
page (checked over the API); acting on the closed alert is refused with the allowed actions;
the segment's day chart renders; the day replay draws a stored bucket's levels. Offline: no
request leaves 127.0.0.1. Screenshots (var/screenshots/traffic-*.png) at a desktop's, a 4K
wall's and a phone's size were looked at while developing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from backend.settings import Settings
from backend.traffic.speeds import SegmentSpeed
from tests.conftest import serve_app
from tests.e2e.console_page import SHOTS, WAIT_IDLE, not_blank, open_page, outside_requests

pytestmark = pytest.mark.e2e

FIVE = timedelta(minutes=5)
OFFICER = "traffic_police"
LEVELS_AT = """(segs) => window.__map.queryRenderedFeatures({layers: ['traffic-levels']})
    .filter(f => segs.includes(f.properties.segment))
    .map(f => ({segment: f.properties.segment, level: f.state.level ?? f.properties.level,
                pilot: f.properties.pilot_code}))"""


@pytest.fixture(scope="module")
def traffic_app(settings: Settings, county: dict[str, int], users: dict[str, str]
                ) -> Iterator[tuple[str, Any]]:
    """The app under uvicorn, its traffic service fed by the test (no cadence task: what the
    page shows is what the test pushed): (base URL, the app)."""
    from backend.main import create_app

    app = create_app(settings.model_copy(update={"traffic_publish_s": 0.0}))
    with serve_app(app) as base:
        yield base, app


@pytest.fixture(scope="module")
def pilot(engine: sa.Engine, traffic_app: tuple[str, Any]) -> dict[str, Any]:
    """The last pilot segment of the seat (other traffic tests use the first ones): its code
    and its directed segments."""
    with engine.connect() as conn:
        code, segs = conn.execute(sa.text(
            "SELECT pilot_code, array_agg(segment ORDER BY segment) FROM traffic_segments "
            "WHERE pilot_code IS NOT NULL GROUP BY pilot_code ORDER BY pilot_code DESC LIMIT 1"
        )).one()
    return {"code": code, "segments": list(segs)}


def bucket(start: datetime, segs: list[int], kmh: float, vehicles: int = 5) -> list[SegmentSpeed]:
    return [SegmentSpeed(s, start, start + FIVE, kmh, vehicles, vehicles) for s in segs]


def officer_page(browser: Any, base: str, size: tuple[int, int] = (1920, 1080), *,
                 phone: bool = False) -> Any:
    """The officer signed in, on `/` (no mode asked): the traffic view with its levels loaded."""
    page = open_page(browser, base, size, phone=phone, user=OFFICER)
    page.goto(base)
    page.wait_for_function("() => window.__ready === true", timeout=120_000)
    page.wait_for_function("() => window.__traffic?.loaded === true", timeout=60_000)
    return page


def test_officer_lands_on_the_traffic_view_and_handles_a_live_alert(
        browser: Any, traffic_app: tuple[str, Any], pilot: dict[str, Any], client: Any) -> None:
    base, app = traffic_app
    service = app.state.resources.traffic
    segs: list[int] = pilot["segments"]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    t0 = now - timedelta(minutes=now.minute % 5) - 3 * FIVE  # three closed buckets of today
    service.publish_live(now, bucket(t0, segs, 45.0))  # 畅通 before the page opens
    page = officer_page(browser, base)
    try:
        # Landed on the traffic view: its panel open, the header's switch pressed, the legend.
        assert page.get_by_test_id("traffic-panel").is_visible()
        assert page.get_by_test_id("traffic-toggle").get_attribute("aria-pressed") == "true"
        assert page.get_by_test_id("traffic-legend").is_visible()
        assert page.get_by_test_id("traffic-synthetic").inner_text() == "示意数据"
        page.wait_for_function(WAIT_IDLE, timeout=60_000)
        drawn = page.evaluate(LEVELS_AT, segs)
        assert {d["segment"] for d in drawn} == set(segs)  # fitted to the pilot segments
        assert {d["level"] for d in drawn} == {1}
        assert {d["pilot"] for d in drawn} == {pilot["code"]}

        # Levels change live: 10 km/h is 严重拥堵 on any class.
        service.publish_live(now, bucket(t0, segs, 10.0))
        page.wait_for_function("(segs) => segs.every(s => window.__traffic.levelOf(s) === 5)",
                               arg=segs, timeout=20_000)
        page.wait_for_function(WAIT_IDLE, timeout=60_000)
        assert {d["level"] for d in page.evaluate(LEVELS_AT, segs)} == {5}
        assert page.evaluate("window.__live.stats.events['traffic.segments']") >= 1

        # The rules raise a congestion alert after ten minutes at >= 中度拥堵: pushed live.
        raised = []
        for k in range(3):
            raised += service.close_bucket(t0 + k * FIVE, bucket(t0 + k * FIVE, segs, 10.0))
        alert = next(a for a in raised if a.kind == "congestion")
        item = page.locator(f"[data-testid=traffic-alert][data-alert-id='{alert.id}']")
        item.wait_for(timeout=20_000)
        assert item.get_attribute("data-status") == "active"
        assert item.locator("[data-testid=traffic-alert-cap]").get_attribute(
            "href").endswith(f"/api/traffic/alerts/{alert.id}.cap")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "traffic-1920x1080-alert.png"))

        # Clicking it flies to the segment and opens its day: speed line and usual line.
        item.locator(".traffic-alert-name").click()
        page.get_by_test_id("segment-panel").wait_for(timeout=10_000)
        page.wait_for_function("() => window.__segmentChart?.drawn", timeout=20_000)
        chart = page.evaluate("window.__segmentChart")
        assert chart["segment"] == alert.segment and chart["buckets"] == 288
        assert chart["speeds"] >= 3 and chart["typicals"] >= 3  # the stored and learned buckets
        assert page.get_by_test_id("segment-chart").locator("canvas").count() >= 1
        assert page.get_by_test_id("segment-level").inner_text() == "严重拥堵"
        page.wait_for_function(WAIT_IDLE, timeout=60_000)
        shot = page.screenshot(path=str(SHOTS / "traffic-1920x1080-segment.png"))
        assert not_blank(shot) > 5.0

        # Acknowledge, then close with a note: the page and the API agree.
        item.get_by_test_id("traffic-alert-ack").click()
        page.wait_for_selector(f"[data-alert-id='{alert.id}'][data-status=acknowledged]",
                               timeout=10_000)
        got = client.get(f"/api/traffic/alerts/{alert.id}").json()
        assert (got["status"], got["acknowledged_by"]) == ("acknowledged", OFFICER)
        item.get_by_test_id("traffic-alert-close").click()
        item.get_by_test_id("traffic-alert-note").fill("已疏导 e2e")
        item.get_by_test_id("traffic-alert-submit").click()
        item.wait_for(state="detached", timeout=10_000)
        got = client.get(f"/api/traffic/alerts/{alert.id}").json()
        assert (got["status"], got["closed_by"]) == ("closed", OFFICER)

        # Acting on the closed alert: 409, and the message the page shows names what is allowed.
        message = page.evaluate(f"window.__traffic.store.act({alert.id}, 'acknowledge', '')")
        assert "closed" in message and "allowed: none" in message

        # The day replay draws a stored bucket's levels, then gives the live ones back.
        page.get_by_test_id("segment-close").click()
        page.get_by_test_id("traffic-replay-toggle").click()
        page.wait_for_function("() => window.__trafficReplay?.state === 'ready'", timeout=20_000)
        assert page.evaluate("window.__trafficReplay.buckets") == 288
        page.evaluate(f"window.__traffic.replay.seek({int(t0.timestamp() * 1000)})")
        assert page.evaluate(f"window.__traffic.levelOf({segs[0]})") == 5
        page.evaluate(f"window.__traffic.replay.seek({int((t0 - 12 * FIVE).timestamp() * 1000)})")
        assert page.evaluate(f"window.__traffic.levelOf({segs[0]})") == 0  # no data then
        page.get_by_test_id("traffic-replay-toggle").click()
        assert page.evaluate(f"window.__traffic.levelOf({segs[0]})") == 5  # live again

        # Chromium logs the refused POST (the 409 asked for above) and nothing else.
        assert [e for e in page.errors if "409 (Conflict)" not in e] == []
        assert len(page.errors) == 1
        assert outside_requests(page, base) == []
    finally:
        page.context.close()


def test_commander_switches_the_congestion_overlay(browser: Any, traffic_app: tuple[str, Any],
                                                  pilot: dict[str, Any]) -> None:
    """The commander's console opens as before (no traffic panel) with the catalog's live
    layers 实时路况 and 交通告警 in the layer panel, off at first: the first switches the
    congestion overlay and its legend on and off again."""
    base, _app = traffic_app
    page = open_page(browser, base, (1920, 1080), user="commander")
    try:
        page.goto(base)
        page.wait_for_function("() => window.__ready === true", timeout=120_000)
        assert not page.get_by_test_id("traffic-panel").is_visible()
        assert page.get_by_test_id("traffic-toggle").is_visible()  # may read traffic
        assert page.locator("[data-testid=layer-item][data-layer-id=traffic_alerts]").count() == 1
        row = page.locator("[data-testid=layer-item][data-layer-id=traffic_congestion]")
        assert not row.locator("input").is_checked()  # off until the commander wants it
        assert not page.get_by_test_id("traffic-legend").is_visible()
        row.click()  # on
        page.wait_for_function("() => window.__traffic?.loaded === true", timeout=60_000)
        b = page.evaluate(f"window.__traffic.layer.boundsOf({pilot['segments']})")
        page.evaluate(f"window.__map.fitBounds([[{b[0]}, {b[1]}], [{b[2]}, {b[3]}]], "
                      "{padding: 200, animate: false})")
        page.wait_for_function(WAIT_IDLE, timeout=60_000)
        assert page.evaluate(LEVELS_AT, pilot["segments"])
        assert page.get_by_test_id("traffic-legend").is_visible()
        row.click()  # off again
        page.wait_for_function(WAIT_IDLE, timeout=60_000)
        assert page.evaluate(LEVELS_AT, pilot["segments"]) == []
        assert not page.get_by_test_id("traffic-legend").is_visible()
        assert page.errors == []
    finally:
        page.context.close()


@pytest.mark.parametrize(("name", "size", "phone"), [
    ("3840x2160", (3840, 2160), False),
    ("390x844", (390, 844), True),
])
def test_traffic_view_on_a_wall_and_a_phone(browser: Any, traffic_app: tuple[str, Any],
                                            pilot: dict[str, Any], name: str,
                                            size: tuple[int, int], phone: bool) -> None:
    """The officer's landing view on a 4K wall and a phone: the TPI, the panel and the levels
    are there and nothing overflows the header."""
    base, _app = traffic_app
    page = officer_page(browser, base, size, phone=phone)
    try:
        assert page.get_by_test_id("traffic-tpi-value").is_visible()
        assert page.get_by_test_id("traffic-panel").is_visible()
        header = page.evaluate("""() => { const h = document.getElementById('header');
            return [h.scrollWidth, h.clientWidth]; }""")
        assert header[0] <= header[1] + 1
        page.wait_for_function(WAIT_IDLE, timeout=240_000)
        assert page.evaluate(LEVELS_AT, pilot["segments"])
        SHOTS.mkdir(parents=True, exist_ok=True)
        assert not_blank(page.screenshot(path=str(SHOTS / f"traffic-{name}.png"))) > 5.0
        assert page.errors == []
    finally:
        page.context.close()

