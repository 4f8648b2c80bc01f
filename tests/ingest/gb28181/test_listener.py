"""The GB/T 28181 endpoint in the running app against simulated devices over real UDP and TCP
sockets, the real database and the real hub: register (401 then 200), a wrong digest (401,
counted), keepalives, offline after three missed keepalives (stored and pushed), back online,
the catalog answer updating the registry, alarms stored and pushed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from backend.realtime.messages import CAMERA_ALARMS, CAMERA_STATUS
from backend.settings import Settings
from backend.simulation.camera_devices import Channel
from tests.conftest import console, next_event
from tests.ingest.gb28181.support import (
    NVR,
    NVR_PASSWORD,
    REALM_SECRET,
    add_device,
    borrow_cameras,
    camera_row,
    changes,
    device,
    listener_of,
    sip_client,
    until,
)


@pytest.fixture(scope="module")
def sip(settings: Settings, county: dict[str, int], users: dict[str, str]
        ) -> Iterator[TestClient]:
    with sip_client(settings) as client:
        yield client


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_an_ipc_registers_with_the_realm_secret(sip: TestClient, engine: Engine,
                                                transport: str) -> None:
    stats = listener_of(sip).stats
    before = (stats.challenges, stats.registrations)
    with borrow_cameras(engine, 1, offset=0 if transport == "udp" else 1) as cams:
        code = cams.cameras[0][0]
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE cameras SET status = 'offline' WHERE code = :c"),
                         {"c": code})

        async def run() -> None:
            sim = device(sip, code, REALM_SECRET, transport=transport,
                         channels=[Channel(code, "自注册 IPC", None, None)])
            async with sim:
                assert await sim.register() == 200
                await until(lambda: sim.sent.get("catalog", 0) == 1)  # asked, answered
                assert await sim.keepalive() == 200

        asyncio.run(run())
        assert (stats.challenges, stats.registrations) == (before[0] + 1, before[1] + 1)
        row = camera_row(engine, code)
        assert row.status == "online" and row.name == "自注册 IPC"
        assert row.manufacturer == "cityops-sim" and row.last_seen_at is not None
        assert changes(engine, code) == [("online", "register")]
        with engine.connect() as conn:
            dev = conn.execute(sa.text("SELECT * FROM camera_devices WHERE code = :c"),
                               {"c": code}).one()
        assert dev.online and dev.transport == transport and dev.ha1 is None
        assert dev.last_keepalive_at is not None and dev.expires_at > dev.registered_at


def test_a_wrong_digest_gets_401_and_is_counted(sip: TestClient, engine: Engine) -> None:
    stats = listener_of(sip).stats
    failed = stats.rejected["auth_failed"]
    with borrow_cameras(engine, 0, offset=0):
        add_device(engine, NVR, NVR_PASSWORD)

        async def run() -> tuple[int, int]:
            async with device(sip, NVR, REALM_SECRET) as wrong:  # not this device's password
                first = await wrong.register()
                wrong.password = NVR_PASSWORD
                return first, await wrong.register()

        assert asyncio.run(run()) == (401, 200)
        assert stats.rejected["auth_failed"] == failed + 1
        metrics = sip.get("/metrics").text
        assert f'cityops_sip_rejected_total{{reason="auth_failed"}} {failed + 1}.0' in metrics


def test_silence_makes_a_device_offline_and_keepalives_bring_it_back(
        sip: TestClient, engine: Engine) -> None:
    with borrow_cameras(engine, 2, offset=2) as cams:
        add_device(engine, NVR, NVR_PASSWORD, keepalive_s=1)
        codes = [c for c, _, _ in cams.cameras]
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE cameras SET parent_code = :d, status = 'offline' "
                                 "WHERE code = ANY(:c)"), {"d": NVR, "c": codes})
        timings: dict[str, float] = {}

        async def run() -> None:
            sim = device(sip, NVR, NVR_PASSWORD, transport="tcp", keepalive_s=0.5,
                         channels=cams.channels())
            async with sim:
                assert await sim.register() == 200
                sim.start_keepalives()
                await asyncio.sleep(4.0)  # four intervals with keepalives: still online
                assert [camera_row(engine, c).status for c in codes] == ["online"] * 2
                sim.go_silent()
                timings["offline"] = await until(
                    lambda: camera_row(engine, codes[0]).status == "offline", timeout=8)
                assert await sim.come_back() == 200

        with console(sip, CAMERA_STATUS) as ws:
            asyncio.run(run())
            seen = [next_event(ws)["data"] for _ in range(6)]
        # three missed 1 s keepalives: offline after 3 s, within the watchdog's 1 s period
        assert 2.5 <= timings["offline"] <= 6.0, timings
        for code in codes:
            assert changes(engine, code) == [("online", "register"), ("offline", "timeout"),
                                             ("online", "register")]
            mine = [(e["status"], e["previous"], e["reason"]) for e in seen if e["code"] == code]
            assert mine == [("online", "offline", "register"), ("offline", "online", "timeout"),
                            ("online", "offline", "register")]
        assert all(isinstance(e["lon"], float) and e["time"] for e in seen)


def test_the_catalog_answer_updates_the_registry(sip: TestClient, engine: Engine) -> None:
    status = sip.app.state.cameras.status  # type: ignore[attr-defined]
    with borrow_cameras(engine, 2, offset=4) as cams:
        add_device(engine, NVR, NVR_PASSWORD)
        (a, lon_a, lat_a), (b, lon_b, lat_b) = cams.cameras
        new = "34132400001320900001"  # a channel the registry does not hold yet
        channels = [Channel(a, "东关大街与汴河路交叉口（天网）", lon_a + 0.0001, lat_a),
                    Channel(b, "南门路口", lon_b, lat_b, status="OFF"),
                    Channel(new, "新增通道", 117.92, 33.49),
                    Channel("34132400009990000001", "编码错误", 117.9, 33.4),   # type 999
                    Channel("11010500001320000001", "外县通道", 116.4, 39.9)]  # Beijing

        async def run() -> None:
            async with device(sip, NVR, NVR_PASSWORD, channels=channels, chunk=2) as sim:
                assert await sim.register() == 200
                await until(lambda: sim.sent.get("catalog", 0) == 3)  # 5 items, 2 a MESSAGE

        asyncio.run(run())
        row_a, row_b = camera_row(engine, a), camera_row(engine, b)
        assert row_a.name == "东关大街与汴河路交叉口（天网）" and row_a.parent_code == NVR
        assert row_a.lon == pytest.approx(lon_a + 0.0001) and row_a.status == "online"
        assert row_b.status == "offline" and changes(engine, b)[-1] == ("offline", "catalog")
        added = camera_row(engine, new)
        assert (added.name, added.parent_code, added.lon) == ("新增通道", NVR, 117.92)
        assert status.counters["catalog_added"] >= 1
        assert status.counters["catalog_refused_type"] >= 1
        assert status.counters["catalog_refused_centre_code"] >= 1


def test_an_alarm_is_stored_once_and_pushed(sip: TestClient, engine: Engine) -> None:
    with borrow_cameras(engine, 1, offset=6) as cams:
        add_device(engine, NVR, NVR_PASSWORD)
        code = cams.cameras[0][0]
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE cameras SET parent_code = :d WHERE code = :c"),
                         {"d": NVR, "c": code})
        from datetime import UTC, datetime

        at = datetime.now(UTC).replace(microsecond=0)

        async def run() -> None:
            async with device(sip, NVR, NVR_PASSWORD) as sim:
                assert await sim.register() == 200
                for _ in range(2):  # the same alarm twice: stored once
                    assert await sim.alarm(code, "intrusion", time=at, priority=1,
                                           description="区域入侵 示意") == 200
                assert await sim.alarm("34132400001320000999", "crowd", time=at) == 200

        with console(sip, CAMERA_ALARMS) as ws:
            asyncio.run(run())
            event = next_event(ws)["data"]
        assert event["action"] == "raised" and event["alarm"]["camera"] == code
        assert (event["alarm"]["kind"], event["alarm"]["priority"]) == ("intrusion", 1)
        assert event["alarm"]["source"] == "sip" and event["lon"] == cams.cameras[0][1]
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT kind, description, time FROM camera_alarms WHERE source = 'sip'")).all()
        assert [(r.kind, r.description, r.time) for r in rows] == [
            ("intrusion", "区域入侵 示意", at)]
