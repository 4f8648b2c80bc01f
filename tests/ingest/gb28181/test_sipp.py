"""SIPp (Debian's sip-tester), an independent SIP implementation, registers with the endpoint
using digest over UDP and TCP, and fails with a wrong password (401, counted)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from backend.settings import Settings
from tests.ingest.gb28181.support import (
    NVR,
    NVR_PASSWORD,
    add_device,
    borrow_cameras,
    listener_of,
    sip_client,
)

SCENARIO = Path(__file__).resolve().parents[2] / "data" / "sipp" / "register.xml"
SIPP = shutil.which("sipp")
pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp missing: make system installs it")


@pytest.fixture(scope="module")
def sip(settings: Settings, county: dict[str, int], users: dict[str, str]
        ) -> Iterator[TestClient]:
    with sip_client(settings) as client:
        yield client


def sipp(port: int, transport: str, password: str) -> subprocess.CompletedProcess[str]:
    assert SIPP is not None
    return subprocess.run(
        [SIPP, f"127.0.0.1:{port}", "-sf", str(SCENARIO), "-m", "1", "-s", NVR, "-au", NVR,
         "-ap", password, "-i", "127.0.0.1", "-t", "u1" if transport == "udp" else "t1",
         "-timeout", "10s", "-timeout_error", "-nostdin", "-trace_err",
         "-error_file", "/dev/null", "-trace_screen", "-screen_file", "/dev/null"],
        capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sipp_registers_with_digest(sip: TestClient, engine: Engine, transport: str) -> None:
    listener = listener_of(sip)
    with borrow_cameras(engine, 0, offset=0):
        add_device(engine, NVR, NVR_PASSWORD)
        registrations, failed = listener.stats.registrations, listener.stats.rejected[
            "auth_failed"]
        done = sipp(listener.port, transport, NVR_PASSWORD)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert listener.stats.registrations == registrations + 1
        with engine.connect() as conn:
            row = conn.execute(sa.text(
                "SELECT online, transport FROM camera_devices WHERE code = :c"),
                {"c": NVR}).one()
        assert tuple(row) == (True, transport)
        wrong = sipp(listener.port, transport, "wrong-password")
        assert wrong.returncode != 0  # got 401 where the scenario expects 200
        assert listener.stats.rejected["auth_failed"] == failed + 1
