"""Fixtures for the transit tests: unique vehicle ids per test, removed afterwards from the
register, positions, latest state and alarms; fixes posted through the HTTP ingest; the app's
GTFS feeds."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.transit.gtfs_router import GtfsFeeds
from backend.vehicles.fleet import FleetLine, register_vehicles
from tests.conftest import TEST_INGEST_TOKEN
from tests.transit.lines import point_on

INGEST = {"Authorization": f"Bearer {TEST_INGEST_TOKEN}"}


@pytest.fixture()
def vid(engine: sa.Engine) -> Iterator[Callable[[str], str]]:
    """vid("a") -> an id unique to this test; everything stored under them goes afterwards."""
    prefix = f"transit-{uuid.uuid4().hex[:8]}-"
    yield lambda name: prefix + name
    with engine.begin() as conn:
        for table in ("vehicle_positions", "vehicle_latest", "vehicle_alarms", "vehicles"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE vehicle_id LIKE :p"),  # noqa: S608
                         {"p": prefix + "%"})


def register(engine: sa.Engine, vehicle_id: str, line_code: str | None,
             label: str | None = None) -> None:
    with engine.begin() as conn:
        register_vehicles(conn, [{"vehicle_id": vehicle_id, "label": label or vehicle_id,
                                  "plate": f"皖L{vehicle_id[-5:]}", "line_code": line_code}])


def fix_on(line: FleetLine, vehicle_id: str, s_m: float, time: datetime, *,
           inbound: bool = False, speed: float = 25.0, flags: int = 0,
           left_m: float = 0.0) -> dict:
    """An ingest record s_m along the line, heading along it (reversed when inbound)."""
    lon, lat, bearing = point_on(line.geometry.path, s_m, left_m)
    return {"vehicle_id": vehicle_id, "time": time.isoformat(), "lon": lon, "lat": lat,
            "speed_kmh": speed, "heading_deg": round((bearing + (180 if inbound else 0)) % 360),
            "alarm_flags": flags}


def post(client: TestClient, *records: dict) -> None:
    response = client.post("/api/ingest/positions", json={"positions": list(records)},
                           headers=INGEST)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(records), response.text


def fleet_line(client: TestClient, code: str | None = None) -> FleetLine:
    """A line of the test county by code, or the longest one."""
    fleet = client.app.state.resources.fleet
    lines = fleet.snapshot().lines.values()
    if code is not None:
        return next(line for line in lines if line.code == code)
    return max(lines, key=lambda line: line.geometry.path.length)


# The GTFS feeds (test_gtfs.py, test_gtfs_realtime.py) ----------------------------------

def read_zip(data: bytes) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: list(csv.DictReader(io.StringIO(zf.read(name).decode("utf-8"))))
                for name in zf.namelist()}


@pytest.fixture(scope="module")
def static_zip(client: TestClient) -> bytes:
    response = client.get("/gtfs/static.zip")
    assert response.status_code == 200, response.text
    return response.content


@pytest.fixture(scope="module")
def gtfs(static_zip: bytes) -> dict[str, list[dict[str, str]]]:
    return read_zip(static_zip)


@pytest.fixture()
def feeds(client: TestClient, static_zip: bytes) -> Iterator[GtfsFeeds]:
    """The app's feeds; clocks swapped by a test are put back afterwards."""
    made: GtfsFeeds = client.app.state.gtfs
    saved = (made.static.now, made.realtime.now, made.realtime.monotonic)
    yield made
    made.static.now, made.realtime.now, made.realtime.monotonic = saved
    made.realtime.invalidate()
