"""Probe vehicles (private cars lending their positions to the traffic speeds): stored, but
never listed, looked up, tracked, pushed or alarmed one by one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.ingest.jt808.alarm_bits import encode_alarms
from backend.vehicles.fleet import PROBE_CLASS, register_vehicles
from tests.conftest import TEST_INGEST_TOKEN, console, next_event

INGEST = {"Authorization": f"Bearer {TEST_INGEST_TOKEN}"}
PROBE, SHOWN = "probecar-1", "probecar-taxi"


@pytest.fixture()
def fleet(engine: sa.Engine) -> Iterator[None]:
    with engine.begin() as conn:
        register_vehicles(conn, [
            {"vehicle_id": PROBE, "label": "私家车（示意）", "vehicle_class": PROBE_CLASS,
             "line_code": None},
            {"vehicle_id": SHOWN, "label": "出租车（示意）", "vehicle_class": "taxi",
             "line_code": None}])
    yield
    with engine.begin() as conn:
        for table in ("vehicle_positions", "vehicle_latest", "vehicle_alarms", "vehicles"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE vehicle_id LIKE 'probecar-%'"))


def post(client: TestClient, vehicle_id: str, t: datetime) -> None:
    body = {"positions": [{"vehicle_id": vehicle_id, "time": t.isoformat(), "lon": 117.88,
                           "lat": 33.48, "speed_kmh": 20, "alarm_flags": encode_alarms(["sos"])}]}
    answer = client.post("/api/ingest/positions", json=body, headers=INGEST)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text


def test_a_probe_is_stored_but_never_shown_one_by_one(
    client: TestClient, engine: sa.Engine, fleet: None
) -> None:
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    with console(client, "vehicles.positions") as ws:
        post(client, PROBE, t)
        post(client, SHOWN, t)
        assert next_event(ws)["data"]["vehicle_id"] == SHOWN  # the probe's fix was not pushed
    with engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT vehicle_id FROM vehicle_positions WHERE vehicle_id LIKE 'probecar-%' "
            "ORDER BY 1")).scalars().all()
    assert stored == [PROBE, SHOWN]  # kept for the traffic speeds
    listed = {v["vehicle_id"] for v in client.get("/api/vehicles").json()["vehicles"]}
    assert SHOWN in listed and PROBE not in listed
    assert client.get(f"/api/vehicles/{PROBE}").status_code == 404
    window = {"from": (t - timedelta(minutes=5)).isoformat(),
              "to": (t + timedelta(minutes=5)).isoformat()}
    track = client.get(f"/api/vehicles/{PROBE}/track", params=window)
    assert track.status_code == 404
    alarmed = {a["vehicle_id"] for a in client.get(
        "/api/alarms", params={"status": "active"}).json()["alarms"]}
    assert SHOWN in alarmed and PROBE not in alarmed  # a private car's SOS bit is no one's alarm
