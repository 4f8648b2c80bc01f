"""The app with its SIP endpoint on an ephemeral port, real demo cameras borrowed as devices
and channels (their rows restored afterwards), and small helpers to wait on the database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from backend.ingest.gb28181 import digest
from backend.ingest.gb28181.listener import SipListener
from backend.settings import Settings
from backend.simulation.camera_devices import Channel, SimDevice
from tests.conftest import bearer

REALM_SECRET = "realm-secret-示意"
NVR = "34132400001180000901"      # a synthetic NVR (type 118) of the county
NVR_PASSWORD = "nvr-password"
SAVED = ("status", "parent_code", "name", "manufacturer", "model", "owner", "civil_code",
         "address", "ptz_type", "status_changed_at", "last_seen_at", "geom")


def sip_settings(settings: Settings, **overrides: Any) -> Settings:
    return settings.model_copy(update={"sip_enabled": True, "sip_port": 0,
                                       "sip_password": REALM_SECRET, **overrides})


@contextmanager
def sip_client(settings: Settings, **overrides: Any) -> Iterator[TestClient]:
    from backend.main import create_app

    app = create_app(sip_settings(settings, **overrides))
    with TestClient(app) as client:
        client.headers.update(bearer(client, "admin"))
        yield client


def listener_of(client: TestClient) -> SipListener:
    listener = client.app.state.cameras.listener  # type: ignore[attr-defined]
    assert listener is not None
    return listener


@dataclass
class Borrowed:
    """Demo cameras lent to a test: (code, lon, lat)."""

    cameras: list[tuple[str, float, float]]

    def channels(self) -> list[Channel]:
        return [Channel(code, f"通道{i}", lon, lat) for i, (code, lon, lat) in
                enumerate(self.cameras)]


@contextmanager
def borrow_cameras(engine: Engine, n: int, offset: int) -> Iterator[Borrowed]:
    with engine.begin() as conn:
        rows = conn.execute(sa.text(
            "SELECT code, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM cameras "
            "WHERE source NOT LIKE 'sip:%' ORDER BY code OFFSET :o LIMIT :n"),
            {"o": offset, "n": n}).all()
        codes = [r.code for r in rows]
        saved = conn.execute(sa.text(
            f"SELECT code, {', '.join(SAVED)} FROM cameras WHERE code = ANY(:c)"),
            {"c": codes}).mappings().all()
    assert len(rows) == n, "the demo county has too few cameras"
    try:
        yield Borrowed([(r.code, r.lon, r.lat) for r in rows])
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM camera_alarms WHERE source = 'sip'"))
            conn.execute(sa.text(
                "DELETE FROM camera_status_changes WHERE camera_id IN "
                "(SELECT id FROM cameras WHERE code = ANY(:c) OR source LIKE 'sip:%')"),
                {"c": codes})
            conn.execute(sa.text("DELETE FROM cameras WHERE source LIKE 'sip:%'"))
            conn.execute(sa.text("DELETE FROM camera_devices"))
            for row in saved:
                conn.execute(sa.text(
                    f"UPDATE cameras SET {', '.join(f'{c} = :{c}' for c in SAVED)} "
                    "WHERE code = :code"), dict(row))


def add_device(engine: Engine, code: str, password: str | None, keepalive_s: int = 60,
               realm: str = "3413240000") -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO camera_devices (code, name, ha1, keepalive_s) "
            "VALUES (:c, '示意 NVR', :h, :k)"),
            {"c": code, "h": digest.ha1(code, realm, password) if password else None,
             "k": keepalive_s})


def device(client: TestClient, code: str, password: str, **kw: Any) -> SimDevice:
    listener = listener_of(client)
    return SimDevice(code, server_id=listener.server_id, realm=listener.realm,
                     password=password, host="127.0.0.1", port=listener.port, **kw)


def camera_row(engine: Engine, code: str) -> sa.Row[Any]:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT status, name, parent_code, manufacturer, last_seen_at, "
            "ST_X(geom) AS lon, ST_Y(geom) AS lat FROM cameras WHERE code = :c"),
            {"c": code}).one()


def changes(engine: Engine, code: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(r.status, r.reason) for r in conn.execute(sa.text(
            "SELECT s.status, s.reason FROM camera_status_changes s JOIN cameras c "
            "ON c.id = s.camera_id WHERE c.code = :c ORDER BY s.id"), {"c": code})]


async def until(check: Callable[[], bool], timeout: float = 10.0) -> float:
    """Wait (without blocking the loop) until `check()`; the seconds it took."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)
    return time.monotonic() - start
