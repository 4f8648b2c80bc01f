"""Every message encoded and decoded again, in both header versions; alarms; Position."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.ingest.jt808 import messages as m
from backend.ingest.jt808.alarm_bits import BY_BIT, decode_alarms, encode_alarms
from backend.ingest.jt808.codec import Frame, FrameError, Version, decode_frame
from backend.ingest.jt808.convert import to_position

PHONES: dict[Version, str] = {2013: "013912345678", 2019: "00000000013912345678"}
T0 = datetime(2026, 5, 1, 23, 59, 58, tzinfo=UTC)  # 07:59:58 the next day in GMT+8
VERSIONS: list[Version] = [2013, 2019]


def one(wire: bytes) -> Frame:
    assert wire[0] == 0x7E and wire[-1] == 0x7E
    return decode_frame(wire[1:-1])


def loc(i: int = 0, **kw: object) -> m.Location:
    base: dict[str, object] = dict(time=T0 + timedelta(seconds=10 * i),
                                   lat=round(33.48 + i * 1e-4, 6), lon=117.88,
                                   speed_kmh=40.5, direction=181, altitude_m=25)
    base.update(kw)
    return m.Location(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", VERSIONS)
def test_register_round_trip(version: Version) -> None:
    reg = m.Register(34, 1322, "CITY", "BUS-TERM-1", "T000042", 1, "皖L12345")
    f = one(m.encode_register(PHONES[version], 1, reg, version=version))
    assert (f.header.msg_id, f.header.version, f.header.phone) == (0x0100, version, PHONES[version])
    assert m.decode_register(f.header, f.body) == reg


@pytest.mark.parametrize("version", VERSIONS)
def test_authenticate_round_trip(version: Version) -> None:
    auth = (m.Authenticate("abc123", "860000000000001", "v1.2") if version == 2019
            else m.Authenticate("abc123"))
    f = one(m.encode_authenticate(PHONES[version], 2, auth, version=version))
    assert f.header.msg_id == 0x0102 and f.header.serial == 2
    assert m.decode_authenticate(f.header, f.body) == auth


@pytest.mark.parametrize("version", VERSIONS)
def test_heartbeat_round_trip(version: Version) -> None:
    f = one(m.encode_heartbeat(PHONES[version], 3, version=version))
    assert (f.header.msg_id, f.body, f.header.serial) == (0x0002, b"", 3)


@pytest.mark.parametrize("version", VERSIONS)
def test_location_round_trip_with_items(version: Version) -> None:
    sent = loc(alarm=encode_alarms(["sos", "rollover"]), status=0b11, odometer_km=4321.7,
               fuel_l=55.5, tacho_speed_kmh=41.2, signal=23, satellites=9,
               extra={0x25: b"\x00\x00\x00\x01"})
    f = one(m.encode_location(PHONES[version], 4, sent, version=version))
    got = m.decode_location(f.body, f.header)
    assert got == sent


@pytest.mark.parametrize(("lat", "lon", "bits"), [(-33.5, 117.9, 0b0100), (33.5, -117.9, 0b1000),
                                                   (-33.5, -117.9, 0b1100), (33.5, 117.9, 0)])
def test_south_and_west_bits(lat: float, lon: float, bits: int) -> None:
    body = m.location_body(loc(lat=lat, lon=lon, status=0b0001))
    assert int.from_bytes(body[4:8], "big") == 0b0001 | bits
    assert int.from_bytes(body[8:12], "big") == 33_500_000  # magnitudes on the wire
    got = m.decode_location(body)
    assert (got.lat, got.lon) == (lat, lon)


@pytest.mark.parametrize("version", VERSIONS)
def test_batch_late_and_out_of_order(version: Version) -> None:
    # buffered in a tunnel: sent an hour late, not in time order
    points = [loc(3), loc(1), loc(2, alarm=1)]
    f = one(m.encode_batch(PHONES[version], 5, points, backfill=True, version=version))
    batch = m.decode_batch(f.header, f.body)
    assert batch.backfill is True
    assert batch.locations == points
    normal = one(m.encode_batch(PHONES[version], 6, points[:1], backfill=False, version=version))
    assert m.decode_batch(normal.header, normal.body).backfill is False


def test_batch_count_mismatch() -> None:
    f = one(m.encode_batch(PHONES[2013], 5, [loc(0), loc(1)]))
    body = b"\x00\x03" + f.body[2:]
    with pytest.raises(FrameError) as exc:
        m.decode_batch(f.header, body)
    assert exc.value.reason == "bad_count" and exc.value.header == f.header


def test_location_bad_bodies() -> None:
    body = m.location_body(loc())
    with pytest.raises(FrameError, match="bad_body"):
        m.decode_location(body[:27])
    with pytest.raises(FrameError, match="bad_item"):
        m.decode_location(body + b"\x01\x04\x00")
    bad_time = body[:22] + bytes.fromhex("261399000000")
    with pytest.raises(FrameError, match="bad_time"):
        m.decode_location(bad_time)
    with pytest.raises(FrameError, match="bad_bcd"):
        m.decode_location(body[:22] + bytes.fromhex("2a0101000000"))


@pytest.mark.parametrize("version", VERSIONS)
def test_downlink_round_trips(version: Version) -> None:
    g = one(m.encode_general_response(PHONES[version], 9, 4, 0x0200, 4, version=version))
    assert g.header.msg_id == 0x8001
    assert m.decode_general_response(g.body) == m.GeneralResponse(4, 0x0200, 4)
    r = one(m.encode_register_response(PHONES[version], 10, 1, 0, "code-xyz", version=version))
    assert m.decode_register_response(r.body) == m.RegisterResponse(1, 0, "code-xyz")
    refused = one(m.encode_register_response(PHONES[version], 11, 1, 3, "ignored",
                                                      version=version))
    assert m.decode_register_response(refused.body) == m.RegisterResponse(1, 3, "")


def test_alarm_bits() -> None:
    assert decode_alarms(0) == []
    assert decode_alarms(1) == ["sos"]
    assert decode_alarms(0b10) == ["terminal_overspeed"]
    assert decode_alarms((1 << 29) | (1 << 30) | 1) == ["sos", "collision", "rollover"]
    assert decode_alarms(1 << 15) == ["bit_15"]  # reserved bits are kept, not dropped
    assert decode_alarms(0xFFFFFFFF)[-1] == "illegal_door_open"
    assert BY_BIT[0].zh == "紧急报警" and BY_BIT[30].en == "Rollover"
    for flags in (1, 1 << 31, 0x60000003, 1 << 16):
        assert encode_alarms(decode_alarms(flags)) == flags


def test_to_position() -> None:
    received = datetime(2026, 5, 2, tzinfo=UTC)
    p = to_position(PHONES[2019], loc(satellites=11, odometer_km=10.5, alarm=1, status=3),
                    received)
    assert p.vehicle_id == "00000000013912345678" and p.source == "jt808"
    assert (p.time, p.lat, p.lon, p.speed_kmh, p.heading_deg, p.altitude_m) == (
        T0, 33.48, 117.88, 40.5, 181.0, 25.0)
    assert (p.alarm_flags, p.status_flags, p.received_at) == (1, 3, received)
    assert p.extras == {"satellites": 11, "odometer_km": 10.5}
