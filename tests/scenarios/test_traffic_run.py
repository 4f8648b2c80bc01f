"""A short traffic-peak run end to end: the plan's fixes posted over HTTP to a real server
(uvicorn on loopback) through the ingest's validation and storage, the vehicles in the fleet
register, the accident case filed through the incidents service at its simulated time."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn

from backend.catalog.scenarios import SCENARIOS_DIR
from backend.catalog.traffic_scenarios import TrafficScenario, load_traffic_file
from backend.ingest.jt808.alarm_bits import encode_alarms
from backend.settings import Settings
from backend.simulation.traffic_run import TrafficRunError, plan_for, run_traffic
from tests.conftest import TEST_INGEST_TOKEN, free_port

SHIPPED = (SCENARIOS_DIR / "traffic-peak" / "scenario.yaml").read_text(encoding="utf-8")
SHORTER = {  # ten minutes, forty vehicles: the same file otherwise
    "duration_s: 3600": "duration_s: 600",
    "vehicles: 120": "vehicles: 15",
    "vehicles: 180": "vehicles: 25",
    "at_s: 600\n": "at_s: 60\n",
    "at_s: 1500": "at_s: 240",
    "duration_s: 1200": "duration_s: 240",
    "delay_s: 120": "delay_s: 30",
    "{at_s: 1200, factor: 0.8}": "{at_s: 200, factor: 0.8}",
    "{at_s: 2400, factor: 0.8}": "{at_s: 400, factor: 0.8}",
    "{at_s: 3600, factor: 0.95}": "{at_s: 600, factor: 0.95}",
}


@pytest.fixture()
def short(tmp_path: Path) -> TrafficScenario:
    text = SHIPPED
    for old, new in SHORTER.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    (tmp_path / "traffic-peak").mkdir()
    path = tmp_path / "traffic-peak" / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return load_traffic_file(path)


@pytest.fixture()
def cleanup(engine: sa.Engine) -> Iterator[None]:
    """Remove what the simulated taxis and cars stored."""
    yield
    with engine.begin() as conn:
        for table in ("vehicle_positions", "vehicle_latest", "vehicle_alarms", "vehicles"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE vehicle_id LIKE 'SXTAXI-%' "
                                 "OR vehicle_id LIKE 'SXCAR-%'"))
        # The 122 case stays open otherwise: the traffic tests would see its accident.
        conn.execute(sa.text("DELETE FROM incidents WHERE idempotency_key LIKE 'traffic-peak/%'"))


def test_a_short_run_stores_every_fix_and_files_the_accident(
        short: TrafficScenario, engine: sa.Engine, live_server: str, cleanup: None) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    plan = plan_for(engine, short, start)
    report = asyncio.run(run_traffic(short, engine=engine, base_url=live_server,
                                     token=TEST_INGEST_TOKEN, speed=300.0, plan=plan))
    assert not report.failures and not report.rejected, report.lines()
    assert report.vehicles == 40 and report.ticks == len(plan.ticks())
    assert report.fixes_sent == len(plan.fixes) == report.fixes_accepted
    ids = [v.vehicle_id for v in plan.vehicles]
    with engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT count(*), min(time), max(time), count(DISTINCT vehicle_id) "
            "FROM vehicle_positions WHERE vehicle_id = ANY(:ids)"), {"ids": ids}).one()
        assert stored[0] == len(plan.fixes) and stored[3] == 40
        assert stored[1] == plan.time_of(plan.fixes.t_s.min())
        assert stored[2] == plan.time_of(plan.fixes.t_s.max())
        # the crash taxi's fixes carry the JT/T 808 collision bit, as sent
        alarmed = conn.execute(sa.text(
            "SELECT DISTINCT vehicle_id, alarm_flags FROM vehicle_positions "
            "WHERE vehicle_id = ANY(:ids) AND alarm_flags <> 0"), {"ids": ids}).all()
        assert alarmed == [(plan.accident.vehicle_id, encode_alarms(["collision"]))]
        classes = dict(conn.execute(sa.text(
            "SELECT vehicle_class, count(*) FROM vehicles WHERE vehicle_id = ANY(:ids) "
            "GROUP BY 1"), {"ids": ids}).all())
        assert classes == {"taxi": 15, "probe": 25}
        case = conn.execute(sa.text(
            "SELECT case_no, category_code, department_code, source, urgency, reported_at, "
            "lon, lat FROM incidents WHERE idempotency_key = :k"),
            {"k": f"traffic-peak/{short.seed}/{start.isoformat()}/accident"}).one()
    assert case.case_no == report.case_no
    assert (case.category_code, case.department_code) == ("E0505", "JJDD")  # 交通事故, 交警
    assert (case.source, case.urgency) == ("hotline", "urgent")
    assert case.reported_at == plan.accident.reported_at
    assert (case.lon, case.lat) == pytest.approx((plan.accident.lon, plan.accident.lat))
    has_service = importlib.util.find_spec("backend.traffic.service") is not None
    assert report.typical_rows == (len(plan.typical) if has_service else 0)
    # a second run of the same plan: every fix a duplicate, the same case
    again = asyncio.run(run_traffic(short, engine=engine, base_url=live_server,
                                    token=TEST_INGEST_TOKEN, speed=1000.0, plan=plan))
    assert again.fixes_accepted == 0 and again.duplicates == len(plan.fixes)
    assert again.case_no == report.case_no


def test_a_wrong_ingest_token_stops_the_run_saying_what_to_set(
        short: TrafficScenario, engine: sa.Engine, live_server: str, cleanup: None) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    with pytest.raises(TrafficRunError, match="CITYOPS_INGEST_TOKEN"):
        asyncio.run(run_traffic(short, engine=engine, base_url=live_server, token="wrong",
                                speed=1000.0, start=start))


def test_the_demo_server_runs_the_traffic_scenario_against_its_own_ingest(
        settings: Settings, county: dict, users: dict, engine: sa.Engine,
        cleanup: None) -> None:
    from backend.main import create_app

    port = free_port()
    app = create_app(settings.model_copy(update={
        "live_traffic_scenario": "traffic-peak", "port": port}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 90  # plan (a few s on a busy machine), then a tick of 5 s
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                moving = conn.execute(sa.text(
                    "SELECT count(*) FROM vehicle_latest WHERE vehicle_id LIKE 'SXTAXI-%' "
                    "OR vehicle_id LIKE 'SXCAR-%'")).scalar_one()
            if moving >= 30:
                break
            time.sleep(0.5)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    # in real time: 300 vehicles set off over the first minute, each with a fix as it does
    assert moving >= 30
