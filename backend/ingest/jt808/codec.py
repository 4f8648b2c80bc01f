"""JT/T 808 framing: stream splitting, escaping, checksum and the 2013/2019 message header.

Pure code, no asyncio, so the gateway, the tests and the scenario runner's simulated terminals
share one implementation. Message bodies live in ``messages.py``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

FLAG = 0x7E
ESC = 0x7D
Version = Literal[2013, 2019]

# Largest legal frame: body length is 10 bits (1023) + a 2019 split header (21) + checksum,
# and escaping can at most double it. Anything longer is not a frame.
MAX_BODY = 0x3FF
MAX_FRAME_ESCAPED = 2 * (MAX_BODY + 21 + 1)

_ATTR_SPLIT = 1 << 13
_ATTR_V2019 = 1 << 14


class FrameError(ValueError):
    """Any decode failure. ``reason`` is short and machine-friendly (used as a stats key);
    ``header`` is set when the header was structurally consistent, so the platform can still
    answer with 0x8001; ``result`` is the 0x8001 result to send (2 bad message, 3 unsupported)."""

    def __init__(self, reason: str, header: Header | None = None, result: int = 2) -> None:
        super().__init__(reason)
        self.reason = reason
        self.header = header
        self.result = result


@dataclass(frozen=True, slots=True)
class Header:
    msg_id: int
    phone: str                   # BCD digits as sent: 12 (2013) or 20 (2019), leading zeros kept
    serial: int
    version: Version = 2013
    protocol_version: int = 1    # the 2019 header's version byte; meaningless for 2013
    encryption: int = 0          # bits 10-12 of the attributes; 0 = plain
    package_count: int | None = None  # set only on split messages
    package_index: int | None = None

    @property
    def split(self) -> bool:
        return self.package_count is not None


@dataclass(frozen=True, slots=True)
class Frame:
    header: Header
    body: bytes


class FrameReader:
    """Feed it bytes as they arrive; it returns the escaped contents between 0x7E delimiters.

    Every 0x7E both ends the current candidate and starts the next, so after garbage or a lost
    byte the reader resynchronises at the next delimiter without losing a following frame.
    Bytes before the first delimiter are garbage. A candidate longer than ``max_frame`` is
    dropped (counted in ``oversized``) and its bytes are not kept, so memory stays bounded.
    """

    def __init__(self, max_frame: int = MAX_FRAME_ESCAPED) -> None:
        self.max_frame = max_frame
        self.garbage_bytes = 0
        self.oversized = 0
        self._buf = bytearray()
        self._started = False
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        start = 0
        while True:
            i = data.find(FLAG, start)
            seg = data[start:] if i < 0 else data[start:i]
            if not self._started:
                self.garbage_bytes += len(seg)
            elif not self._skipping:
                if len(self._buf) + len(seg) > self.max_frame:
                    self._buf.clear()
                    self._skipping = True
                    self.oversized += 1
                else:
                    self._buf += seg
            if i < 0:
                return out
            if self._buf:
                out.append(bytes(self._buf))
            self._buf.clear()
            self._started = True
            self._skipping = False
            start = i + 1

    @property
    def buffered(self) -> int:
        return len(self._buf)


def escape(data: bytes) -> bytes:
    return data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")


def unescape(data: bytes) -> bytes:
    if ESC not in data:
        return data
    # Every 0x7D must lead a pair (0x01 or 0x02); anything else is a broken stream.
    pairs = data.count(b"\x7d\x01") + data.count(b"\x7d\x02")
    if data.count(ESC) != pairs:
        raise FrameError("bad_escape")
    return data.replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")


def checksum(data: bytes) -> int:
    x = 0
    for b in data:
        x ^= b
    return x


def bcd_decode(data: bytes) -> str:
    digits = data.hex()
    if not digits.isdigit():
        raise FrameError("bad_bcd")
    return digits


def bcd_encode(digits: str, size: int) -> bytes:
    if not digits.isdigit() or len(digits) > 2 * size:
        raise ValueError(f"cannot encode {digits!r} as BCD[{size}]")
    return bytes.fromhex(digits.rjust(2 * size, "0"))


def _parse_header(data: bytes) -> tuple[Header, int, int]:
    """Returns (header, body offset, declared body length); data excludes the checksum."""
    if len(data) < 12:
        raise FrameError("too_short")
    msg_id, attrs = struct.unpack_from(">HH", data, 0)
    if attrs & _ATTR_V2019:
        if len(data) < 17:
            raise FrameError("too_short")
        version: Version = 2019
        proto = data[4]
        phone = bcd_decode(data[5:15])
        (serial,) = struct.unpack_from(">H", data, 15)
        off = 17
    else:
        version, proto = 2013, 1
        phone = bcd_decode(data[4:10])
        (serial,) = struct.unpack_from(">H", data, 10)
        off = 12
    count = index = None
    if attrs & _ATTR_SPLIT:
        if len(data) < off + 4:
            raise FrameError("too_short")
        count, index = struct.unpack_from(">HH", data, off)
        off += 4
    header = Header(msg_id, phone, serial, version, proto, (attrs >> 10) & 0x7, count, index)
    return header, off, attrs & MAX_BODY


def decode_frame(content: bytes) -> Frame:
    """Decode one frame's escaped content (the bytes between two 0x7E)."""
    data = unescape(content)
    if len(data) < 13:
        raise FrameError("too_short")
    payload, check = data[:-1], data[-1]
    try:
        header, off, length = _parse_header(payload)
    except FrameError:
        if checksum(payload) != check:
            raise FrameError("bad_checksum") from None
        raise
    if len(payload) - off != length:
        # An inconsistent length means we cannot trust the header enough to answer it.
        raise FrameError("bad_length")
    if checksum(payload) != check:
        raise FrameError("bad_checksum", header)
    if header.split:
        raise FrameError("unsupported_split", header, result=3)
    if header.encryption:
        raise FrameError("unsupported_encryption", header, result=3)
    return Frame(header, payload[off:])


def encode_frame(
    msg_id: int,
    phone: str,
    serial: int,
    body: bytes = b"",
    *,
    version: Version = 2013,
    protocol_version: int = 1,
) -> bytes:
    """A complete frame with delimiters: header + body, checksum, escaped."""
    if len(body) > MAX_BODY:
        raise ValueError(f"body of {len(body)} bytes needs splitting, which is not supported")
    attrs = len(body)
    if version == 2019:
        attrs |= _ATTR_V2019
        head = struct.pack(">HHB", msg_id, attrs, protocol_version) + bcd_encode(phone, 10)
    else:
        head = struct.pack(">HH", msg_id, attrs) + bcd_encode(phone, 6)
    payload = head + struct.pack(">H", serial & 0xFFFF) + body
    return b"\x7e" + escape(payload + bytes([checksum(payload)])) + b"\x7e"
