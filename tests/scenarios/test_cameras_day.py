"""The cameras-day scenario: its file is validated strictly, and a small compressed day runs
against the app's real SIP endpoint: devices from the registry register, one is silent long
enough to go offline and comes back, one tries a wrong password first, an NVR channel raises an
alarm; the demo server runs the shipped scenario in its background."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.catalog.camera_scenarios import load_cameras_day, load_cameras_day_file
from backend.catalog.scenarios import ScenarioError
from backend.settings import Settings
from backend.simulation.camera_day import run_cameras_day
from tests.ingest.gb28181.support import (
    REALM_SECRET,
    borrow_cameras,
    changes,
    listener_of,
    sip_client,
)

SMALL = """
kind: cameras-day
name: tiny
title: {zh: 测试, en: Test}
duration_s: 120
speed: 20
fleet: {ipc: 3, nvr: 1, nvr_channels: 2, keepalive_s: 1, tcp_every: 2}
events:
  - {at_s: 0, device: "ipc#1", do: outage, duration_s: 20}
  - {at_s: 20, device: "ipc#2", do: wrong_password}
  - {at_s: 40, device: "nvr#1", channel: 2, do: alarm, kind: crowd, description: 示意}
"""


def write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "tiny"
    folder.mkdir()
    path = folder / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_scenario_loads() -> None:
    sc = load_cameras_day("cameras-day")
    assert (sc.fleet.ipc, sc.fleet.nvr, sc.fleet.nvr_channels) == (30, 3, 8)
    assert {e.do for e in sc.events} == {"outage", "alarm", "wrong_password"}


@pytest.mark.parametrize(("change", "message"), [
    (("keepalive_s: 1", "keepalive: 1"), "fleet.keepalive: unknown key"),
    (('device: "ipc#2"', 'device: "ipc#9"'), "the fleet has 3 IPCs"),
    (("kind: crowd", "kind: fire"), "kind must be one of"),
    (("channel: 2", "channel: 5"), "an NVR has 2 channels"),
    (("duration_s: 20}", "}"), "an outage needs duration_s"),
])
def test_bad_files_are_refused_naming_the_key(tmp_path: Path, change: tuple[str, str],
                                              message: str) -> None:
    with pytest.raises(ScenarioError, match=message) as err:
        load_cameras_day_file(write(tmp_path, SMALL.replace(*change)))
    assert "tiny/scenario.yaml" in str(err.value)


def test_a_small_day_against_the_sip_endpoint(settings: Settings, county: dict,
                                              users: dict, engine: sa.Engine,
                                              tmp_path: Path) -> None:
    scenario = load_cameras_day_file(write(tmp_path, SMALL))
    with borrow_cameras(engine, 5, offset=0) as cams, sip_client(settings) as client:
        with engine.begin() as conn:  # from offline, so each register is a change
            conn.execute(sa.text("UPDATE cameras SET status = 'offline' WHERE code = ANY(:c)"),
                         {"c": [c for c, _, _ in cams.cameras]})
        listener = listener_of(client)
        failed = listener.stats.rejected["auth_failed"]
        started = time.monotonic()
        report = asyncio.run(run_cameras_day(
            scenario, engine=engine, host="127.0.0.1", port=listener.port,
            server_id=listener.server_id, realm=listener.realm, password=REALM_SECRET))
        took = time.monotonic() - started
        assert report.failures == []
        assert (report.devices, report.channels, report.outages, report.returns,
                report.alarms) == (4, 5, 1, 1, 1)
        assert report.registered == 5 and report.refused == 1  # ipc#2 twice, once refused
        assert listener.stats.rejected["auth_failed"] == failed + 1
        assert 6 <= took < 30  # 120 s at speed 20
        codes = [c for c, _, _ in cams.cameras]
        nvr_channels, ipcs = codes[:2], codes[2:]
        # ipc#1 silent for 5 keepalive intervals (the minimum): offline, then back; all
        # unregister at the end of the day
        assert changes(engine, ipcs[0]) == [("online", "register"), ("offline", "timeout"),
                                            ("online", "register"), ("offline", "unregister")]
        assert changes(engine, ipcs[1])[-1] == ("offline", "unregister")
        with engine.connect() as conn:
            alarm = conn.execute(sa.text(
                "SELECT c.code, a.kind FROM camera_alarms a JOIN cameras c "
                "ON c.id = a.camera_id WHERE a.source = 'sip'")).one()
            parents = conn.execute(sa.text(
                "SELECT DISTINCT parent_code FROM cameras WHERE code = ANY(:c)"),
                {"c": nvr_channels}).scalars().all()
        assert tuple(alarm) == (nvr_channels[1], "crowd")
        assert parents == ["34132400001180900001"]


def test_the_demo_server_runs_its_camera_scenario(settings: Settings, county: dict,
                                                  users: dict, engine: sa.Engine,
                                                  tmp_path: Path) -> None:
    """`cityops demo` sets live_camera_scenario: the server runs it against its own endpoint."""
    write(tmp_path, SMALL.replace("duration_s: 120", "duration_s: 3600"))
    with borrow_cameras(engine, 5, offset=0), sip_client(
            settings, live_camera_scenario="tiny", scenarios_dir=tmp_path) as client:
        listener = listener_of(client)
        deadline = time.monotonic() + 30
        while ((listener.stats.registrations < 4 or listener.stats.keepalives < 3)
               and time.monotonic() < deadline):
            time.sleep(0.2)
        assert listener.stats.registrations >= 4 and listener.stats.keepalives >= 3
        with engine.connect() as conn:
            online = conn.execute(sa.text(
                "SELECT count(*) FROM camera_devices WHERE online")).scalar_one()
        assert online >= 3  # ipc#1 may already be in its outage
