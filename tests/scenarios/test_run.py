"""A short scenario run end to end: simulated JT/T 808 terminals over TCP to the gateway in the
real app, through validation, storage, the fleet register and the alarm rules, to stored
alarms and a console on /ws."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.catalog.scenarios import load_scenario_file
from backend.settings import Settings
from backend.simulation import run_scenario
from tests.conftest import console, next_event

SHORT = """
name: short-peak
title: {zh: 短时早高峰, en: Short peak}
duration_s: 120
tick_s: 5
fleet:
  1路: {buses: 2, spacing_m: 800, speed_kmh: 25}
  5路: {buses: 1, speed_kmh: 35}
events:
  - {at_s: 10, vehicle: "1路#1", do: sos, duration_s: 10}
  - {at_s: 20, vehicle: "1路#2", do: off_route, distance_m: 400, fixes: 3}
  - {at_s: 40, vehicle: "5路#1", do: overspeed, speed_kmh: 85, duration_s: 30}
  - {at_s: 60, vehicle: "1路#2", do: bunch, leader: "1路#1", gap_m: 40, duration_s: 20}
"""


def test_a_short_scenario_raises_its_alarms_in_order(
    gateway_client: TestClient, engine: sa.Engine, settings: Settings, tmp_path: Path,
    cleanup: None,
) -> None:
    (tmp_path / "short-peak").mkdir()
    path = tmp_path / "short-peak" / "scenario.yaml"
    path.write_text(SHORT, encoding="utf-8")
    scenario = load_scenario_file(path)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    with console(gateway_client, "vehicles.alarms") as ws:
        report = asyncio.run(run_scenario(
            scenario, engine=engine, host="127.0.0.1",
            port=gateway_client.app.state.jt808.port, speed=1000.0, start=start))
        seen = [(d["kind"], d["action"], d["vehicle_id"])
                for d in (next_event(ws)["data"] for _ in range(6))]
    sos_bus, overspeed_bus = report.phones["1路#1"], report.phones["5路#1"]
    detour_bus = report.phones["1路#2"]
    # Only this run's terminals: a fix of an earlier test's server (its last in-flight batch
    # can land after that test's cleanup) is not this scenario's.
    mine = list(report.phones.values())
    # The detour bus is on 1路 in the fleet register, so leaving it 400 m for 3 fixes counts.
    assert seen == [("sos", "raised", sos_bus), ("sos", "cleared", sos_bus),
                    ("off_route", "raised", detour_bus), ("off_route", "cleared", detour_bus),
                    ("overspeed", "raised", overspeed_bus),
                    ("overspeed", "cleared", overspeed_bus)]
    assert report.terminals == 3 and report.ticks == 25
    assert report.fixes_sent == 75 == report.fixes_acked and report.fixes_failed == 0
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text(
            "SELECT vehicle_id, count(*) FROM vehicle_positions WHERE vehicle_id = ANY(:v) "
            "GROUP BY vehicle_id"), {"v": mine}).all())
        first = conn.execute(sa.text(
            "SELECT min(time) FROM vehicle_positions WHERE vehicle_id = :v"),
            {"v": sos_bus}).scalar_one()
        alarms = conn.execute(sa.text(
            "SELECT kind, vehicle_id, status, cleared_by FROM vehicle_alarms "
            "WHERE vehicle_id = ANY(:v) ORDER BY raised_at"), {"v": mine}).all()
        line = conn.execute(sa.text(
            "SELECT l.code FROM vehicles v JOIN bus_lines l ON l.id = v.line_id "
            "WHERE v.vehicle_id = :v"), {"v": detour_bus}).scalar_one()
    assert rows == {phone: 25 for phone in report.phones.values()}
    assert first == start
    assert [tuple(a) for a in alarms] == [
        ("sos", sos_bus, "cleared", "rule"), ("off_route", detour_bus, "cleared", "rule"),
        ("overspeed", overspeed_bus, "cleared", "rule")]
    assert line == "1路"


def test_bus_morning_peak_runs_on_all_lines(
    gateway_client: TestClient, engine: sa.Engine, settings: Settings, cleanup: None,
) -> None:
    """The shipped scenario, cut to its first 4 simulated minutes: every line's buses connect
    and every fix is acknowledged; the SOS and the overspeed come in order."""
    from backend.catalog.scenarios import load_scenario

    full = load_scenario("bus-morning-peak")
    with engine.connect() as conn:
        codes = set(conn.execute(sa.text("SELECT code FROM bus_lines")).scalars())
    assert set(full.fleet) <= codes
    scenario = full.model_copy(update={"duration_s": 240.0})
    with console(gateway_client, "vehicles.alarms") as ws:
        report = asyncio.run(run_scenario(
            scenario, engine=engine, host="127.0.0.1",
            port=gateway_client.app.state.jt808.port, speed=1000.0))
        seen = [(d["kind"], d["action"]) for d in (next_event(ws)["data"] for _ in range(3))]
    buses = sum(f.buses for f in full.fleet.values())
    assert report.terminals == buses and report.ticks == 49
    assert report.fixes_acked == report.fixes_sent == buses * 49, report.failures
    assert seen == [("sos", "raised"), ("sos", "cleared"), ("overspeed", "raised")]
