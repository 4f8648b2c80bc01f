"""JT/T 808 message bodies: uplink 0x0100, 0x0102, 0x0002, 0x0200, 0x0704 and downlink 0x8001,
0x8100. Decoders take a header (for the 2013/2019 layout) and raise ``FrameError``; encoders
return complete frames so simulated terminals and the gateway can write them as they are."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from .codec import FrameError, Header, Version, bcd_decode, bcd_encode, encode_frame

TERMINAL_RESPONSE = 0x0001
REGISTER = 0x0100
AUTHENTICATE = 0x0102
HEARTBEAT = 0x0002
LOCATION = 0x0200
BATCH = 0x0704
GENERAL_RESPONSE = 0x8001
REGISTER_RESPONSE = 0x8100

RESULT_OK, RESULT_FAIL, RESULT_BAD_MESSAGE, RESULT_UNSUPPORTED, RESULT_ALARM_ACK = range(5)

STATUS_SOUTH = 1 << 2
STATUS_WEST = 1 << 3
CHINA_TZ = timezone(timedelta(hours=8))  # terminals send local time, GMT+8
_LOCATION_BASE = struct.Struct(">IIIIHHH")  # alarm, status, lat, lon, altitude, speed, direction
_BASE_LEN = _LOCATION_BASE.size + 6  # + BCD[6] time = 28
# Register field widths (manufacturer, model, terminal id): the 2019 text widened all three.
_REGISTER_WIDTHS = {2013: (5, 20, 7), 2019: (11, 30, 30)}


@dataclass(frozen=True, slots=True)
class Register:
    province: int = 0
    city: int = 0
    manufacturer: str = ""
    model: str = ""
    terminal_id: str = ""
    plate_color: int = 0
    plate: str = ""


@dataclass(frozen=True, slots=True)
class Authenticate:
    code: str
    imei: str = ""              # 2019 only
    software_version: str = ""  # 2019 only


@dataclass(frozen=True, slots=True)
class Location:
    time: datetime               # UTC, converted from the terminal's GMT+8
    lat: float                   # signed: the south/west status bits are applied
    lon: float
    alarm: int = 0
    status: int = 0
    altitude_m: int = 0
    speed_kmh: float = 0.0
    direction: int = 0
    odometer_km: float | None = None      # item 0x01, 0.1 km
    fuel_l: float | None = None           # item 0x02, 0.1 L
    tacho_speed_kmh: float | None = None  # item 0x03, 0.1 km/h
    signal: int | None = None             # item 0x30
    satellites: int | None = None         # item 0x31
    extra: dict[int, bytes] = field(default_factory=dict)  # other items, raw


@dataclass(frozen=True, slots=True)
class Batch:
    backfill: bool               # type 1: blind-area backfill, 0: normal batch
    locations: list[Location]


@dataclass(frozen=True, slots=True)
class GeneralResponse:
    reply_serial: int
    reply_id: int
    result: int


@dataclass(frozen=True, slots=True)
class RegisterResponse:
    reply_serial: int
    result: int
    auth_code: str


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\x00").decode("gbk", errors="replace")


def _fixed(text: str, size: int) -> bytes:
    return text.encode("gbk")[:size].ljust(size, b"\x00")


# ---- uplink decoders -------------------------------------------------------------------------

def decode_register(header: Header, body: bytes) -> Register:
    man, model, tid = _REGISTER_WIDTHS[header.version]
    fixed = 4 + man + model + tid + 1
    if len(body) < fixed:
        raise FrameError("bad_body", header)
    province, city = struct.unpack_from(">HH", body, 0)
    o = 4
    fields = []
    for size in (man, model, tid):
        fields.append(_text(body[o:o + size]))
        o += size
    return Register(province, city, *fields, plate_color=body[o], plate=_text(body[o + 1:]))


def decode_authenticate(header: Header, body: bytes) -> Authenticate:
    if header.version == 2013:
        return Authenticate(_text(body))
    if not body or len(body) < 1 + body[0] + 35:
        raise FrameError("bad_body", header)
    n = body[0]
    return Authenticate(
        _text(body[1:1 + n]), _text(body[1 + n:16 + n]), _text(body[16 + n:36 + n])
    )


def _bcd_time(raw: bytes, header: Header | None) -> datetime:
    d = bcd_decode(raw)
    try:
        local = datetime(2000 + int(d[0:2]), int(d[2:4]), int(d[4:6]), int(d[6:8]),
                         int(d[8:10]), int(d[10:12]), tzinfo=CHINA_TZ)
    except ValueError:
        raise FrameError("bad_time", header) from None
    return local.astimezone(UTC)


def decode_location(body: bytes, header: Header | None = None) -> Location:
    if len(body) < _BASE_LEN:
        raise FrameError("bad_body", header)
    alarm, status, lat, lon, alt, speed, direction = _LOCATION_BASE.unpack_from(body, 0)
    try:
        time = _bcd_time(body[22:28], header)
    except FrameError as exc:
        raise FrameError(exc.reason, header) from None
    items: dict[int, bytes] = {}
    o = _BASE_LEN
    while o < len(body):
        if o + 2 > len(body) or o + 2 + body[o + 1] > len(body):
            raise FrameError("bad_item", header)
        items[body[o]] = body[o + 2:o + 2 + body[o + 1]]
        o += 2 + body[o + 1]
    known = {k: int.from_bytes(items.pop(k), "big") for k in (1, 2, 3, 0x30, 0x31) if k in items}
    return Location(
        time=time,
        lat=-lat / 1e6 if status & STATUS_SOUTH else lat / 1e6,
        lon=-lon / 1e6 if status & STATUS_WEST else lon / 1e6,
        alarm=alarm,
        status=status,
        altitude_m=alt,
        speed_kmh=speed / 10,
        direction=direction,
        odometer_km=known[1] / 10 if 1 in known else None,
        fuel_l=known[2] / 10 if 2 in known else None,
        tacho_speed_kmh=known[3] / 10 if 3 in known else None,
        signal=known.get(0x30),
        satellites=known.get(0x31),
        extra=items,
    )


def decode_batch(header: Header, body: bytes) -> Batch:
    if len(body) < 3:
        raise FrameError("bad_body", header)
    count, kind = struct.unpack_from(">HB", body, 0)
    o, locations = 3, []
    while o < len(body):
        if o + 2 > len(body):
            raise FrameError("bad_body", header)
        (n,) = struct.unpack_from(">H", body, o)
        if o + 2 + n > len(body):
            raise FrameError("bad_body", header)
        locations.append(decode_location(body[o + 2:o + 2 + n], header))
        o += 2 + n
    if len(locations) != count:
        raise FrameError("bad_count", header)
    return Batch(kind == 1, locations)


# ---- downlink decoders (for terminals and tests) --------------------------------------------

def decode_general_response(body: bytes) -> GeneralResponse:
    if len(body) != 5:
        raise FrameError("bad_body")
    return GeneralResponse(*struct.unpack(">HHB", body))


def decode_register_response(body: bytes) -> RegisterResponse:
    if len(body) < 3:
        raise FrameError("bad_body")
    serial, result = struct.unpack_from(">HB", body, 0)
    return RegisterResponse(serial, result, _text(body[3:]))


# ---- body encoders ---------------------------------------------------------------------------

def location_body(loc: Location) -> bytes:
    status = loc.status & ~(STATUS_SOUTH | STATUS_WEST)
    status |= (STATUS_SOUTH if loc.lat < 0 else 0) | (STATUS_WEST if loc.lon < 0 else 0)
    local = loc.time.astimezone(CHINA_TZ)
    out = bytearray(_LOCATION_BASE.pack(
        loc.alarm, status, round(abs(loc.lat) * 1e6), round(abs(loc.lon) * 1e6),
        loc.altitude_m, round(loc.speed_kmh * 10), loc.direction,
    ))
    out += bcd_encode(local.strftime("%y%m%d%H%M%S"), 6)
    items = [(1, loc.odometer_km, 10, 4), (2, loc.fuel_l, 10, 2), (3, loc.tacho_speed_kmh, 10, 2),
             (0x30, loc.signal, 1, 1), (0x31, loc.satellites, 1, 1)]
    for item_id, value, scale, size in items:
        if value is not None:
            out += bytes([item_id, size]) + round(value * scale).to_bytes(size, "big")
    for item_id, raw in loc.extra.items():
        out += bytes([item_id, len(raw)]) + raw
    return bytes(out)


# ---- frame encoders: uplink (simulated terminals) --------------------------------------------

def encode_register(phone: str, serial: int, reg: Register, *, version: Version = 2013) -> bytes:
    man, model, tid = _REGISTER_WIDTHS[version]
    body = (struct.pack(">HH", reg.province, reg.city) + _fixed(reg.manufacturer, man)
            + _fixed(reg.model, model) + _fixed(reg.terminal_id, tid)
            + bytes([reg.plate_color]) + reg.plate.encode("gbk"))
    return encode_frame(REGISTER, phone, serial, body, version=version)


def encode_authenticate(
    phone: str, serial: int, auth: Authenticate, *, version: Version = 2013
) -> bytes:
    code = auth.code.encode("gbk")
    if version == 2019:
        body = bytes([len(code)]) + code + _fixed(auth.imei, 15) + _fixed(auth.software_version, 20)
    else:
        body = code
    return encode_frame(AUTHENTICATE, phone, serial, body, version=version)


def encode_heartbeat(phone: str, serial: int, *, version: Version = 2013) -> bytes:
    return encode_frame(HEARTBEAT, phone, serial, b"", version=version)


def encode_location(phone: str, serial: int, loc: Location, *, version: Version = 2013) -> bytes:
    return encode_frame(LOCATION, phone, serial, location_body(loc), version=version)


def encode_batch(
    phone: str, serial: int, locs: list[Location], *, backfill: bool = True,
    version: Version = 2013,
) -> bytes:
    body = bytearray(struct.pack(">HB", len(locs), 1 if backfill else 0))
    for loc in locs:
        raw = location_body(loc)
        body += struct.pack(">H", len(raw)) + raw
    return encode_frame(BATCH, phone, serial, bytes(body), version=version)


# ---- frame encoders: downlink (platform) -----------------------------------------------------

def encode_general_response(
    phone: str, serial: int, reply_serial: int, reply_id: int, result: int,
    *, version: Version = 2013,
) -> bytes:
    body = struct.pack(">HHB", reply_serial, reply_id, result)
    return encode_frame(GENERAL_RESPONSE, phone, serial, body, version=version)


def encode_register_response(
    phone: str, serial: int, reply_serial: int, result: int, auth_code: str = "",
    *, version: Version = 2013,
) -> bytes:
    # The auth code is only sent on success (result 0), as the standard says.
    code = auth_code.encode("gbk") if result == RESULT_OK else b""
    body = struct.pack(">HB", reply_serial, result) + code
    return encode_frame(REGISTER_RESPONSE, phone, serial, body, version=version)
