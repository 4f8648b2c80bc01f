"""Framing, escaping, checksum, headers and a reference frame written byte by byte."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.ingest.jt808 import codec
from backend.ingest.jt808 import messages as m
from backend.ingest.jt808.codec import FrameError, FrameReader, decode_frame, encode_frame

# 0x0200 from phone 013912345678, serial 7, built by hand from the 2013 text:
REFERENCE = bytes.fromhex(
    "7e"
    "0200" "0025" "013912345678" "0007"     # id, attrs (body length 37), BCD[6] phone, serial
    "00000001"                              # alarm: bit 0 SOS
    "00000003"                              # status: ACC on, positioned
    "01feda34"                              # lat 33479220 -> 33.479220
    "0706b4de"                              # lon 117880030 -> 117.880030
    "001e" "016d" "005a"                    # altitude 30 m, speed 365 -> 36.5 km/h, dir 90
    "260315083045"                          # 2026-03-15 08:30:45 GMT+8
    "0104" "00003039"                       # item 0x01 odometer 12345 -> 1234.5 km
    "3101" "0c"                             # item 0x31 satellites 12
    "3d"                                    # XOR of header and body
    "7e"
)


def test_reference_location_frame() -> None:
    [raw] = FrameReader().feed(REFERENCE)
    frame = decode_frame(raw)
    h = frame.header
    assert (h.msg_id, h.phone, h.serial, h.version, h.split) == (0x0200, "013912345678", 7, 2013,
                                                                 False)
    loc = m.decode_location(frame.body, h)
    assert loc.lat == pytest.approx(33.479220, abs=1e-9)
    assert loc.lon == pytest.approx(117.880030, abs=1e-9)
    assert loc.speed_kmh == pytest.approx(36.5)
    assert (loc.altitude_m, loc.direction, loc.alarm, loc.status) == (30, 90, 1, 3)
    assert loc.time == datetime(2026, 3, 15, 0, 30, 45, tzinfo=UTC)
    assert loc.odometer_km == pytest.approx(1234.5)
    assert loc.satellites == 12
    assert loc.fuel_l is None and loc.extra == {}
    # and our encoder produces exactly these bytes
    assert m.encode_location("013912345678", 7, loc) == REFERENCE


def test_escape_inside_body_and_round_trip() -> None:
    body = b"\x01\x7e\x02\x7d\x03\x7d\x02"
    wire = encode_frame(0x0900, "1", 0x7E7D, body)
    inner = wire[1:-1]
    assert b"\x7e" not in inner
    # serial 0x7E7D -> 7D02 7D01; body 01 7E 02 7D 03 7D 02 -> 01 7D02 02 7D01 03 7D01 02
    assert inner[10:] == bytes.fromhex("7d027d01" "017d02027d01037d0102") + inner[-1:]
    frame = decode_frame(inner)
    assert frame.body == body and frame.header.serial == 0x7E7D
    assert frame.header.phone == "000000000001"


def test_escape_unescape_are_inverse() -> None:
    data = bytes(range(256)) * 2
    assert codec.unescape(codec.escape(data)) == data


@pytest.mark.parametrize("bad", [b"\x01\x7d\x03", b"\x01\x7d", b"\x7d\x7d\x02"])
def test_bad_escape(bad: bytes) -> None:
    with pytest.raises(FrameError) as exc:
        codec.unescape(bad)
    assert exc.value.reason == "bad_escape"


def test_bad_checksum_detected_but_header_kept() -> None:
    inner = bytearray(REFERENCE[1:-1])
    inner[-1] ^= 0xFF
    with pytest.raises(FrameError) as exc:
        decode_frame(bytes(inner))
    assert exc.value.reason == "bad_checksum"
    assert exc.value.header is not None and exc.value.header.serial == 7


def test_flipped_body_byte_fails_checksum() -> None:
    inner = bytearray(REFERENCE[1:-1])
    inner[20] ^= 0x01
    with pytest.raises(FrameError, match="bad_checksum"):
        decode_frame(bytes(inner))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x02\x00\x00", "too_short"),
        (bytes.fromhex("0200 0005 013912345678 0007 00".replace(" ", "")), "bad_length"),
        (bytes.fromhex("0002 0000 01391234567a 0007 ff".replace(" ", "")), "bad_checksum"),
    ],
)
def test_decode_errors(raw: bytes, reason: str) -> None:
    if reason == "bad_checksum":  # fix the checksum so the BCD check is what fails
        raw = raw[:-1] + bytes([codec.checksum(raw[:-1])])
        reason = "bad_bcd"
    with pytest.raises(FrameError) as exc:
        decode_frame(raw)
    assert exc.value.reason == reason


def test_2019_header_round_trip() -> None:
    phone = "00000000013912345678"
    wire = encode_frame(0x0002, phone, 65535, b"", version=2019, protocol_version=1)
    # 7e, id, attrs with bit 14, version byte, BCD[10], serial, checksum, 7e
    assert wire[3:6] == bytes([0x40, 0x00, 0x01]) and len(wire) == 1 + 17 + 1 + 1
    h = decode_frame(wire[1:-1]).header
    assert (h.version, h.protocol_version, h.phone, h.serial) == (2019, 1, phone, 65535)


def test_split_flag_parsed_and_rejected_as_unsupported() -> None:
    payload = bytes.fromhex("0200" "2000" "013912345678" "0009" "0003" "0002")
    raw = codec.escape(payload + bytes([codec.checksum(payload)]))
    with pytest.raises(FrameError) as exc:
        decode_frame(raw)
    assert exc.value.reason == "unsupported_split" and exc.value.result == 3
    h = exc.value.header
    assert h is not None and (h.package_count, h.package_index, h.serial) == (3, 2, 9)


def test_reader_split_across_reads_and_many_per_read() -> None:
    a = m.encode_heartbeat("013900000001", 1)
    b = REFERENCE
    c = m.encode_heartbeat("013900000001", 2)
    stream = a + b + c
    for step in (1, 2, 3, 7, 64):
        reader, out = FrameReader(), []
        for i in range(0, len(stream), step):
            out += reader.feed(stream[i:i + step])
        assert [decode_frame(x).header.serial for x in out] == [1, 7, 2]
    assert len(FrameReader().feed(stream)) == 3


def test_reader_garbage_between_frames() -> None:
    hb = m.encode_heartbeat("013900000001", 1)
    reader = FrameReader()
    out = reader.feed(b"\x00\x11junk" + hb + b"noise\x7d" + REFERENCE + b"tail")
    assert reader.garbage_bytes == 6
    decoded = []
    for raw in out:
        try:
            decoded.append(decode_frame(raw).header.serial)
        except FrameError:
            decoded.append(None)
    # the noise between two frames is a rejected candidate; both real frames survive
    assert decoded == [1, None, 7]
    assert reader.buffered == 4  # "tail" waits for a delimiter


def test_reader_bounds_oversized_frames() -> None:
    reader = FrameReader(max_frame=100)
    out = reader.feed(b"\x7e" + b"\x01" * 5000)
    out += reader.feed(b"\x01" * 5000 + b"\x7e")
    assert out == [] and reader.oversized == 1 and reader.buffered == 0
    hb = m.encode_heartbeat("013900000001", 3)
    assert [decode_frame(x).header.serial for x in reader.feed(hb)] == [3]
