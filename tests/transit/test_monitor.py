"""The bunching monitor against the real database and hub: bunching raised on the follower,
held, cleared past the hysteresis, picked up again after a restart; and end to end, a scenario
whose two buses bunch, run through the JT/T 808 gateway at 1000x, then one tick.

The fixes are an hour old and each tick is given its `now`, so the monitor that the session's
app runs on its own timer sees these buses as offline and leaves them alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.catalog.scenarios import load_scenario_file
from backend.settings import Settings
from backend.simulation import run_scenario
from backend.transit.monitor import BunchingMonitor
from tests.conftest import bearer, console, next_event
from tests.transit.conftest import fix_on, fleet_line, post, register


def stored(engine: sa.Engine, vehicle_id: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT kind, status, cleared_by, details->>'leader' FROM vehicle_alarms "
            "WHERE vehicle_id = :v ORDER BY id"), {"v": vehicle_id})]


def test_monitor_raises_holds_clears_and_survives_a_restart(
    client: TestClient, engine: sa.Engine, vid: Callable[[str], str]
) -> None:
    line = fleet_line(client)
    fleet = client.app.state.resources.fleet
    a, b = vid("lead"), vid("follow")
    register(engine, a, line.code)
    register(engine, b, line.code)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def at(t_s: float, lead_m: float, follow_m: float) -> datetime:
        when = t0 + timedelta(seconds=t_s)
        post(client, fix_on(line, a, lead_m, when), fix_on(line, b, follow_m, when))
        return when + timedelta(seconds=2)  # the tick's "now"

    pushed: list[tuple[str, dict[str, Any]]] = []
    monitor = BunchingMonitor(engine, fleet, publish=lambda ch, d: pushed.append((ch, d)),
                              interval_s=0)
    now = at(0, 1000, 900)  # 100 m
    (event, alarm), = monitor.tick(now)
    assert (event.kind, event.action, event.vehicle_id) == ("bunching", "raised", b)
    assert alarm.status == "active" and alarm.details["leader"] == a
    assert [(ch, d["action"], d["kind"], d["vehicle_id"], d["id"]) for ch, d in pushed] == [
        ("vehicles.alarms", "raised", "bunching", b, alarm.id)]
    assert monitor.tick(now) == []  # nothing new

    assert monitor.tick(at(5, 1035, 435)) == []  # 600 m, 86 s at 25 km/h: held
    assert b in monitor.flagged
    assert stored(engine, b) == [("bunching", "active", None, a)]

    (event, alarm), = monitor.tick(at(10, 2000, 1000))  # 1 km, 144 s: clear
    assert (event.action, alarm.status, alarm.cleared_by) == ("cleared", "cleared", "rule")
    assert pushed[-1][1]["action"] == "cleared" and b not in monitor.flagged

    monitor.tick(at(15, 2100, 2040))  # raised again, then the server "restarts"
    restarted = BunchingMonitor(engine, fleet, interval_s=0)
    assert restarted.tick(at(20, 2150, 2090)) == []  # still bunched: found open, not doubled
    (event, alarm), = restarted.tick(at(25, 2400, 1200))
    assert (event.action, alarm.vehicle_id) == ("cleared", b)
    assert [s[1] for s in stored(engine, b)] == ["cleared", "cleared"]
    assert [s[0] for s in stored(engine, a)] == []  # the leader is never flagged


def test_a_flagged_bus_that_leaves_its_line_is_cleared(
    client: TestClient, engine: sa.Engine, vid: Callable[[str], str]
) -> None:
    line = fleet_line(client)
    a, b = vid("lead"), vid("follow")
    register(engine, a, line.code)
    register(engine, b, line.code)
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    post(client, fix_on(line, a, 600, when), fix_on(line, b, 560, when))
    monitor = BunchingMonitor(engine, client.app.state.resources.fleet, interval_s=0)
    assert [e.action for e, _ in monitor.tick(when)] == ["raised"]
    register(engine, b, None)  # taken off the line in the register
    (event, _), = monitor.tick(when + timedelta(seconds=5))
    assert (event.action, event.details["reason"]) == ("cleared", "not_measured")


# End to end ---------------------------------------------------------------------------------

SCENARIO = """
name: short-bunch
title: {{zh: 串车, en: Bunching}}
duration_s: 60
tick_s: 5
fleet:
  {line}: {{buses: 2, spacing_m: 800, speed_kmh: 25}}
events:
  - {{at_s: 20, vehicle: "{line}#2", do: bunch, leader: "{line}#1", gap_m: 40, duration_s: 30}}
"""


@pytest.fixture()
def quiet_gateway_client(settings: Settings, county: dict, users: dict
                         ) -> Iterator[TestClient]:
    """The app with its JT/T 808 gateway and the monitor's timer off (the test ticks it)."""
    from backend.main import create_app

    app = create_app(settings.model_copy(update={
        "jt808_enabled": True, "jt808_port": 0, "transit_monitor_interval_s": 0}))
    with TestClient(app) as c:
        c.headers.update(bearer(c, "admin"))
        yield c


@pytest.fixture()
def scenario_cleanup(engine: sa.Engine) -> Iterator[None]:
    yield
    with engine.begin() as conn:
        for table in ("vehicle_positions", "vehicle_latest", "vehicle_alarms", "vehicles"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE vehicle_id LIKE '0139%'"))  # noqa: S608


def test_a_scenarios_bunching_buses_raise_a_bunching_alarm(
    quiet_gateway_client: TestClient, engine: sa.Engine, settings: Settings, tmp_path: Path,
    scenario_cleanup: None,
) -> None:
    client = quiet_gateway_client
    code = fleet_line(client).code  # the longest line: the pair stays on it the whole run
    (tmp_path / "short-bunch").mkdir()
    path = tmp_path / "short-bunch" / "scenario.yaml"
    path.write_text(SCENARIO.format(line=code), encoding="utf-8")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    report = asyncio.run(run_scenario(
        load_scenario_file(path), engine=engine, host="127.0.0.1",
        port=client.app.state.jt808.port, speed=1000.0, start=start))
    assert report.fixes_acked == report.fixes_sent == 26
    leader, follower = report.phones[f"{code}#1"], report.phones[f"{code}#2"]
    monitor = client.app.state.transit_monitor
    with console(client, "vehicles.alarms") as ws:
        changed = monitor.tick(start + timedelta(seconds=62))
        pushed = next_event(ws)["data"]
    assert [(e.kind, e.action, e.vehicle_id) for e, _ in changed] == [
        ("bunching", "raised", follower)]
    assert (pushed["kind"], pushed["action"], pushed["vehicle_id"]) == (
        "bunching", "raised", follower)
    assert pushed["details"]["leader"] == leader
    assert pushed["details"]["gap_m"] == pytest.approx(40, abs=2)
    assert stored(engine, follower) == [("bunching", "active", None, leader)]
