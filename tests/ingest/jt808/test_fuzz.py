"""Issue 8, defect 3: 125 of 137 fuzz connections were dropped by one exception. Random and
mutated frames (fixed seed, bounded count) over a real TCP connection: every frame is counted
once (accepted or rejected under one reason), every frame with a readable header is answered,
no frame raises inside the gateway (internal_error stays 0), and the link stays up."""

from __future__ import annotations

import random
import struct
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from backend.ingest.jt808 import messages as m
from backend.ingest.jt808.codec import (
    FrameError,
    checksum,
    decode_frame,
    encode_frame,
    escape,
    unescape,
)
from backend.ingest.jt808.gateway import Jt808Gateway
from backend.ingest.validate import reject_reason
from tests.ingest.jt808.support import Collected, Terminal, fleet

SEED = 808
FRAMES = 400
PHONE = "013700000031"
NOW = datetime.now(UTC).replace(microsecond=0)
KINDS = [m.LOCATION, m.BATCH, m.HEARTBEAT, m.AUTHENTICATE, m.REGISTER, m.TERMINAL_RESPONSE,
         0x0900, 0x0003]


def random_location(rng: random.Random) -> m.Location:
    if rng.random() < 0.5:  # a plausible fix, which the pipeline takes
        return m.Location(time=NOW - timedelta(seconds=rng.randrange(3600)),
                          lat=rng.uniform(33.3, 33.7), lon=rng.uniform(117.7, 118.1),
                          altitude_m=rng.randrange(100), speed_kmh=rng.randrange(800) / 10,
                          direction=rng.randrange(360), status=0b11)
    t = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(99 * 365 * 86400))
    return m.Location(
        time=t, lat=rng.uniform(-90, 90), lon=rng.uniform(-180, 180),
        alarm=rng.getrandbits(32), status=rng.getrandbits(32), altitude_m=rng.randrange(65536),
        speed_kmh=rng.randrange(65536) / 10, direction=rng.randrange(65536),
        odometer_km=rng.choice([None, rng.randrange(10**6) / 10]),
        satellites=rng.choice([None, rng.randrange(256)]),
        extra={rng.randrange(0x32, 0xFF): rng.randbytes(rng.randrange(8))
               for _ in range(rng.randrange(3))},
    )


def valid_frame(rng: random.Random, phone: str, serial: int) -> bytes:
    kind = rng.choice(KINDS)
    version = rng.choice([2013, 2013, 2019])
    if version == 2019:
        phone = phone.rjust(20, "0")
    if kind == m.LOCATION:
        return m.encode_location(phone, serial, random_location(rng), version=version)
    if kind == m.BATCH:
        locs = [random_location(rng) for _ in range(rng.randrange(1, 6))]
        return m.encode_batch(phone, serial, locs, backfill=rng.random() < 0.5, version=version)
    if kind == m.AUTHENTICATE:
        code = rng.choice([rng.randbytes(rng.randrange(40)), "鉴权码".encode("gbk"),
                           b"\xff\xfe\x00\x81"])
        return encode_frame(m.AUTHENTICATE, phone, serial, code, version=version)
    if kind == m.REGISTER:
        if rng.random() < 0.5:
            reg = m.Register(rng.randrange(65536), rng.randrange(65536), "厂商", "型号",
                             "T000001", rng.randrange(256), rng.choice(["皖L00031", "沪A·12345"]))
            return m.encode_register(phone, serial, reg, version=version)
        return encode_frame(m.REGISTER, phone, serial, rng.randbytes(rng.randrange(120)),
                            version=version)
    return encode_frame(kind, phone, serial, rng.randbytes(rng.randrange(30)), version=version)


def mutated(rng: random.Random, wire: bytes) -> bytes:
    """A valid frame bent: bytes flipped (checksum fixed or not), cut or padded, or noise."""
    payload = bytearray(unescape(wire[1:-1])[:-1])
    how = rng.random()
    if how < 0.45:
        for _ in range(rng.randrange(1, 5)):
            payload[rng.randrange(len(payload))] = rng.randrange(256)
    elif how < 0.65:
        cut = rng.randrange(len(payload))
        payload = payload[:cut] + bytearray(rng.randbytes(rng.randrange(40)))
    elif how < 0.8:
        payload[rng.randrange(len(payload))] ^= 1 << rng.randrange(8)
        return b"\x7e" + escape(bytes(payload) + b"\x00") + b"\x7e"  # checksum left wrong
    else:
        payload = bytearray(rng.randbytes(rng.randrange(1, 200)))
    return b"\x7e" + escape(bytes(payload) + bytes([checksum(payload)])) + b"\x7e"


def answerable(wire: bytes) -> int | None:
    """The serial the gateway must answer, or None when the frame has no trustworthy header
    (or is a terminal's own answer, which needs none)."""
    try:
        frame = decode_frame(wire[1:-1])
    except FrameError as exc:
        return exc.header.serial if exc.header is not None else None
    return None if frame.header.msg_id == m.TERMINAL_RESPONSE else frame.header.serial


def test_fuzzed_frames_are_counted_answered_and_never_drop_the_link(engine: sa.Engine) -> None:
    rng = random.Random(SEED)
    t = Terminal(PHONE)
    sink = Collected(refuse=lambda p: reject_reason(p, datetime.now(UTC)) is not None)

    async def body(gw: Jt808Gateway, _sink: Collected) -> None:
        await t.connect(gw.port)
        await t.login()
        sent = 2
        for i in range(FRAMES):
            serial = rng.randrange(60000)
            phone = PHONE if rng.random() < 0.9 else f"0139{rng.randrange(10**8):08d}"
            wire = valid_frame(rng, phone, serial)
            if rng.random() < 0.6:
                wire = mutated(rng, wire)
            must_answer = answerable(wire)
            ping = 60000 + i
            t.writer.write(wire + m.encode_heartbeat(PHONE, ping))
            await t.writer.drain()
            sent += 2
            replies = []
            while True:
                f = await t.recv()  # fails if the gateway closed the link
                if (f.header.msg_id == m.GENERAL_RESPONSE
                        and m.decode_general_response(f.body).reply_id == m.HEARTBEAT
                        and m.decode_general_response(f.body).reply_serial == ping):
                    break
                replies.append(f)
            assert len(replies) <= 1, (i, wire.hex())
            if must_answer is not None:
                assert replies, f"frame {i} was not answered: {wire.hex()}"
                (reply,) = replies
                reply_serial = struct.unpack_from(">H", reply.body, 0)[0]
                assert reply_serial == must_answer
            assert gw.stats.frames == sent, (i, wire.hex())
        s = gw.stats
        assert s.frames == s.accepted + sum(s.rejected.values())
        assert s.rejected["internal_error"] == 0, s.rejected
        assert s.closed == {} and s.open_connections == 1
        # The mix reached deep: every kind of refusal the fuzzer can provoke was seen.
        for reason in ("bad_checksum", "bad_length", "wrong_terminal", "auth_failed",
                       "register_refused", "unsupported_message", "fix_rejected"):
            assert s.rejected[reason] > 0, (reason, s.rejected)
        assert s.positions == len(sink.positions) > 0
        await t.close()

    with fleet(engine, PHONE):
        run_fuzz(engine, body, sink)


def test_random_byte_streams_never_take_the_gateway_down(engine: sa.Engine) -> None:
    rng = random.Random(SEED + 1)

    async def body(gw: Jt808Gateway, sink: Collected) -> None:
        for _ in range(20):
            noise = Terminal("013700000032")
            await noise.connect(gw.port)
            noise.writer.write(rng.randbytes(rng.randrange(1, 30_000)))
            await noise.writer.drain()
            await noise.close()
        ok = Terminal(PHONE)
        await ok.connect(gw.port)
        await ok.login()
        await ok.send(m.encode_heartbeat(PHONE, ok.next_serial()))
        assert (await ok.general()).result == 0
        s = gw.stats
        assert s.frames == s.accepted + sum(s.rejected.values())
        assert s.rejected["internal_error"] == 0 and "error" not in s.closed
        await ok.close()

    with fleet(engine, PHONE):
        run_fuzz(engine, body, Collected())


def run_fuzz(engine: sa.Engine, body: object, sink: Collected) -> None:
    from tests.ingest.jt808.support import run

    run(engine, body, sink, recheck_s=0, max_garbage_bytes=4096,  # type: ignore[arg-type]
        max_auth_attempts=FRAMES)
