"""GPS feeds end to end in the real app: HTTP batches and a JT/T 808 terminal over TCP reach a
console subscribed on /ws, through validation, storage and the alarm rules."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.ingest.jt808 import codec
from backend.ingest.jt808 import messages as m
from backend.ingest.jt808.alarm_bits import encode_alarms
from backend.vehicles.fleet import register_vehicles
from tests.conftest import TEST_INGEST_TOKEN, console, next_event

SEAT_BBOX = [117.80, 33.40, 117.95, 33.55]
AUTH = {"Authorization": f"Bearer {TEST_INGEST_TOKEN}"}


@pytest.fixture()
def cleanup(engine: sa.Engine) -> Iterator[None]:
    yield
    with engine.begin() as conn:
        for table in ("vehicle_positions", "vehicle_latest", "vehicle_alarms"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE vehicle_id LIKE 'feed-%' "
                                 "OR vehicle_id LIKE '0138%'"))


def test_http_batch_reaches_the_console_and_storage(
    client: TestClient, engine: sa.Engine, cleanup: None
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    body = {"positions": [
        {"vehicle_id": "feed-1", "time": now.isoformat(), "lon": 117.88, "lat": 33.48,
         "speed_kmh": 25.5, "heading_deg": 90},
        {"vehicle_id": "feed-1", "time": "yesterday", "lon": 117.88, "lat": 33.48},
    ]}
    with console(client, "vehicles.positions", SEAT_BBOX) as ws:
        assert client.post("/api/ingest/positions", json=body).status_code == 401
        response = client.post("/api/ingest/positions", json=body, headers=AUTH)
        assert response.status_code == 200
        answer = response.json()
        assert answer["accepted"] == 1 and answer["rejected"][0]["index"] == 1
        event = next_event(ws)
    assert event["data"]["vehicle_id"] == "feed-1" and event["data"]["speed_kmh"] == 25.5
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT lon FROM vehicle_latest WHERE vehicle_id = 'feed-1'")).scalar_one() == 117.88


def test_a_batch_with_nothing_storable_is_a_400(client: TestClient) -> None:
    bad = {"positions": [{"vehicle_id": "feed-2", "time": "2026-11-24T08:00:00Z", "lon": 0,
                          "lat": 0}]}
    response = client.post("/api/ingest/positions", json=bad, headers=AUTH)
    assert response.status_code == 400 and response.json()["rejected"][0]["reason"] == "no_fix"
    assert client.post("/api/ingest/positions", json={"positions": "x"},
                       headers=AUTH).status_code == 400


def _exchange(sock: socket.socket, reader: codec.FrameReader, frame: bytes) -> codec.Frame:
    sock.sendall(frame)
    while True:
        frames = reader.feed(sock.recv(4096))
        if frames:
            return codec.decode_frame(frames[0])


@pytest.fixture()
def fleet_terminal(engine: sa.Engine) -> Iterator[str]:
    """A bus in the fleet register carrying terminal 013812345678 (plate 皖L00001)."""
    phone = "013812345678"
    with engine.begin() as conn:
        register_vehicles(conn, [{"vehicle_id": phone, "label": "feed test", "plate": "皖L00001",
                                  "line_code": None, "terminal_phone": phone}])
    yield phone
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM vehicles WHERE vehicle_id = :v"), {"v": phone})


def _login(sock: socket.socket, reader: codec.FrameReader, phone: str) -> None:
    reply = _exchange(sock, reader, m.encode_register(phone, 1, m.Register(plate="皖L00001")))
    code = m.decode_register_response(reply.body).auth_code
    ok = _exchange(sock, reader, m.encode_authenticate(phone, 2, m.Authenticate(code)))
    assert m.decode_general_response(ok.body).result == 0


def test_a_jt808_terminal_sos_reaches_the_console(
    gateway_client: TestClient, cleanup: None, fleet_terminal: str
) -> None:
    port = gateway_client.app.state.jt808.port
    phone = fleet_terminal
    with console(gateway_client, "vehicles.alarms") as alarms, \
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = codec.FrameReader()
        _login(sock, reader, phone)
        now = datetime.now(UTC).replace(microsecond=0)
        for serial, (seconds, alarm) in enumerate([(0, 0), (5, encode_alarms(["sos"]))], 3):
            loc = m.Location(time=now + timedelta(seconds=seconds), lat=33.48, lon=117.88,
                             status=0b11, speed_kmh=20.0, alarm=alarm)
            ack = _exchange(sock, reader, m.encode_location(phone, serial, loc))
            assert m.decode_general_response(ack.body).result == 0
        event = next_event(alarms)
    assert event["data"]["kind"] == "sos" and event["data"]["action"] == "raised"
    assert event["data"]["vehicle_id"] == phone


def test_a_spoofed_terminal_is_refused_and_nothing_is_stored_or_pushed(
    gateway_client: TestClient, engine: sa.Engine, cleanup: None, fleet_terminal: str
) -> None:
    """Issue 8's reproducer: an unknown phone registers and sends an SOS fix in Shanghai.
    The 0x8100 refuses it (2: no such vehicle) without a code, the fix is refused, nothing is
    stored, and the console's next event is the real bus's."""
    port = gateway_client.app.state.jt808.port
    spoof = "013899990000"
    now = datetime.now(UTC).replace(microsecond=0)
    shanghai = m.Location(time=now, lat=31.23, lon=121.47, status=0b11,
                          alarm=encode_alarms(["sos"]))
    with console(gateway_client, "vehicles.positions") as ws:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            reader = codec.FrameReader()
            reply = m.decode_register_response(_exchange(
                sock, reader, m.encode_register(spoof, 1, m.Register(plate="沪A12345"))).body)
            assert (reply.result, reply.auth_code) == (2, "")
            # The real bus's phone with a forged code gets nowhere either.
            bad = _exchange(sock, reader, m.encode_authenticate(
                fleet_terminal, 2, m.Authenticate("0123456789abcdef")))
            assert m.decode_general_response(bad.body).result == 1
            for serial, phone in ((3, spoof), (4, fleet_terminal)):
                ack = _exchange(sock, reader, m.encode_location(phone, serial, shanghai))
                assert m.decode_general_response(ack.body).result == 1
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            reader = codec.FrameReader()
            _login(sock, reader, fleet_terminal)
            loc = m.Location(time=now, lat=33.48, lon=117.88, status=0b11, speed_kmh=20.0)
            ack = _exchange(sock, reader, m.encode_location(fleet_terminal, 3, loc))
            assert m.decode_general_response(ack.body).result == 0
        event = next_event(ws)
    assert (event["data"]["vehicle_id"], event["data"]["lon"]) == (fleet_terminal, 117.88)
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM vehicle_positions WHERE vehicle_id = :s OR lon > 121"),
            {"s": spoof}).scalar_one() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM terminal_auth "
                                    "WHERE terminal_phone = '13899990000'")).scalar_one() == 0
    stats = gateway_client.app.state.jt808.stats
    assert stats.refused_registrations["unknown_vehicle"] >= 1
    assert stats.rejected["auth_failed"] >= 1 and stats.rejected["not_authenticated"] >= 2


def test_a_fix_the_pipeline_refuses_is_answered_as_an_error(
    gateway_client: TestClient, engine: sa.Engine, cleanup: None, fleet_terminal: str
) -> None:
    """A fix from the future (or 0,0) is refused by the pipeline: the terminal hears 2
    ("message error"), not 0, and a good fix in the same batch is still stored."""
    port = gateway_client.app.state.jt808.port
    now = datetime.now(UTC).replace(microsecond=0)
    good = m.Location(time=now, lat=33.48, lon=117.88, status=0b11)
    future = m.Location(time=now + timedelta(days=2), lat=33.48, lon=117.88, status=0b11)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = codec.FrameReader()
        _login(sock, reader, fleet_terminal)
        ack = _exchange(sock, reader, m.encode_location(fleet_terminal, 3, future))
        assert m.decode_general_response(ack.body) == m.GeneralResponse(3, m.LOCATION, 2)
        ack = _exchange(sock, reader, m.encode_batch(fleet_terminal, 4, [good, future]))
        assert m.decode_general_response(ack.body) == m.GeneralResponse(4, m.BATCH, 2)
    with engine.connect() as conn:
        times = conn.execute(sa.text("SELECT time FROM vehicle_positions WHERE vehicle_id = :v"),
                             {"v": fleet_terminal}).scalars().all()
    assert times == [now]
    app = gateway_client.app
    assert app.state.jt808.stats.rejected["fix_rejected"] == 2
    assert app.state.resources.positions.rejects[("jt808", "time_in_future")] >= 2
