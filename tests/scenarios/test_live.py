"""`cityops demo` keeps the demo alive: the server runs a scenario in a loop against its own
JT/T 808 gateway (settings.live_scenario)."""

from __future__ import annotations

import time

import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.settings import Settings


def live_rows(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(*) FROM vehicle_latest WHERE vehicle_id LIKE '0139%'")).scalar_one()


def test_the_server_runs_its_live_scenario(
    settings: Settings, county: dict, engine: sa.Engine, cleanup: None
) -> None:
    from backend.main import create_app

    app = create_app(settings.model_copy(update={
        "jt808_enabled": True, "jt808_port": 0, "live_scenario": "bus-morning-peak",
    }))
    with TestClient(app):
        deadline = time.monotonic() + 30
        while live_rows(engine) < 20 and time.monotonic() < deadline:
            time.sleep(0.2)  # the first tick connects every bus and sends one fix each
        moving = live_rows(engine)
    assert moving >= 20  # the scenario's buses (24) report within the first ticks
