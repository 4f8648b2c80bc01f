"""The gateway over real TCP on 127.0.0.1 with simulated terminals (the codec's encoders)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from backend.ingest.jt808 import messages as m
from backend.ingest.jt808.codec import Frame, FrameReader, Version, decode_frame, encode_frame
from backend.ingest.jt808.gateway import HmacAuth, Jt808Gateway
from backend.vehicles.position import Position

T0 = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)


class Terminal:
    def __init__(self, phone: str, version: Version = 2013) -> None:
        self.phone, self.version, self.serial = phone, version, 0
        self.frames = FrameReader()
        self.pending: list[Frame] = []

    async def connect(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    async def send(self, wire: bytes) -> None:
        self.writer.write(wire)
        await self.writer.drain()

    async def recv(self) -> Frame:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(4096), 5)
            assert data, "gateway closed the connection"
            self.pending += [decode_frame(raw) for raw in self.frames.feed(data)]
        return self.pending.pop(0)

    async def general(self) -> m.GeneralResponse:
        f = await self.recv()
        assert f.header.msg_id == m.GENERAL_RESPONSE and f.header.phone == self.phone
        return m.decode_general_response(f.body)

    async def login(self) -> None:
        await self.send(m.encode_register(self.phone, self.next_serial(), m.Register(),
                                          version=self.version))
        r = await self.recv()
        assert r.header.msg_id == m.REGISTER_RESPONSE and r.header.version == self.version
        reply = m.decode_register_response(r.body)
        assert (reply.reply_serial, reply.result) == (self.serial, 0) and reply.auth_code
        await self.send(m.encode_authenticate(self.phone, self.next_serial(),
                                              m.Authenticate(reply.auth_code),
                                              version=self.version))
        assert await self.general() == m.GeneralResponse(self.serial, m.AUTHENTICATE, 0)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def fix(i: int, **kw: object) -> m.Location:
    return m.Location(time=T0 + timedelta(seconds=i), lat=33.4 + i / 1000, lon=117.8,  # type: ignore[arg-type]
                      speed_kmh=30.0, **kw)


def run(body: Callable[[Jt808Gateway, list[Position]], Awaitable[None]], **kw: object) -> None:
    async def main() -> None:
        received: list[Position] = []

        async def sink(positions: list[Position]) -> None:
            received.extend(positions)

        async with Jt808Gateway(port=0, sink=sink, auth=HmacAuth(b"test"), **kw) as gw:  # type: ignore[arg-type]
            await body(gw, received)

    asyncio.run(main())


def test_end_to_end_two_terminals() -> None:
    async def body(gw: Jt808Gateway, received: list[Position]) -> None:
        a, b = Terminal("013900000001"), Terminal("00000000013900000002", 2019)
        await a.connect(gw.port)
        await b.connect(gw.port)
        await a.login()
        await b.login()

        await a.send(m.encode_location(a.phone, a.next_serial(), fix(0, alarm=1)))
        assert await a.general() == m.GeneralResponse(a.serial, m.LOCATION, 0)

        # a malformed frame with a readable header: answered "bad message", counted
        bad = bytearray(m.encode_location(a.phone, a.next_serial(), fix(1)))
        bad[-2] ^= 0x55  # checksum
        await a.send(bytes(bad))
        assert await a.general() == m.GeneralResponse(a.serial, m.LOCATION, 2)

        # pure noise, then a backfill batch (late, out of order) in the same write
        late = [fix(-300), fix(-900), fix(-600)]
        await a.send(b"\x7e\x01\x02\x03\x7e" + m.encode_batch(a.phone, a.next_serial(), late))
        assert await a.general() == m.GeneralResponse(a.serial, m.BATCH, 0)

        # the other connection is unaffected
        await b.send(m.encode_location(b.phone, b.next_serial(), fix(2), version=2019))
        assert await b.general() == m.GeneralResponse(b.serial, m.LOCATION, 0)
        await b.send(m.encode_heartbeat(b.phone, b.next_serial(), version=2019))
        assert await b.general() == m.GeneralResponse(b.serial, m.HEARTBEAT, 0)

        await a.send(m.encode_location(a.phone, a.next_serial(), fix(3)))
        assert await a.general() == m.GeneralResponse(a.serial, m.LOCATION, 0)

        assert [(p.vehicle_id, p.time) for p in received] == [
            (a.phone, T0), *[(a.phone, loc.time) for loc in late],
            (b.phone, T0 + timedelta(seconds=2)), (a.phone, T0 + timedelta(seconds=3)),
        ]
        assert received[0].alarm_flags == 1 and received[0].source == "jt808"
        assert gw.stats.positions == 6
        assert gw.stats.rejected["bad_checksum"] == 1
        assert gw.stats.rejected["too_short"] == 1
        assert gw.stats.connections == 2 and gw.stats.open_connections == 2
        await a.close()
        await b.close()

    run(body)


def test_unauthenticated_and_wrong_code_rejected() -> None:
    async def body(gw: Jt808Gateway, received: list[Position]) -> None:
        t = Terminal("013900000003")
        await t.connect(gw.port)
        await t.send(m.encode_location(t.phone, t.next_serial(), fix(0)))
        assert await t.general() == m.GeneralResponse(t.serial, m.LOCATION, 1)
        await t.send(m.encode_authenticate(t.phone, t.next_serial(), m.Authenticate("guess")))
        assert await t.general() == m.GeneralResponse(t.serial, m.AUTHENTICATE, 1)
        await t.send(encode_frame(0x0900, t.phone, t.next_serial(), b"\x01"))
        assert await t.general() == m.GeneralResponse(t.serial, 0x0900, 3)
        await t.login()
        await t.send(m.encode_location(t.phone, t.next_serial(), fix(1)))
        assert await t.general() == m.GeneralResponse(t.serial, m.LOCATION, 0)
        assert len(received) == 1
        assert gw.stats.rejected["not_authenticated"] == 1
        assert gw.stats.rejected["auth_failed"] == 1
        await t.close()

    run(body)


def test_garbage_only_connection_closed_gateway_keeps_serving() -> None:
    async def body(gw: Jt808Gateway, received: list[Position]) -> None:
        noisy = Terminal("013900000004")
        await noisy.connect(gw.port)
        noisy.writer.write(b"\x00" * 20_000)
        assert await asyncio.wait_for(noisy.reader.read(), 5) == b""  # closed by the gateway
        assert gw.stats.closed["garbage"] == 1
        ok = Terminal("013900000005")
        await ok.connect(gw.port)
        await ok.login()
        await ok.close()

    run(body, max_garbage_bytes=1000)


def test_idle_connection_closed_heartbeat_keeps_alive() -> None:
    async def body(gw: Jt808Gateway, received: list[Position]) -> None:
        live, idle = Terminal("013900000006"), Terminal("013900000007")
        await live.connect(gw.port)
        await idle.connect(gw.port)
        for _ in range(4):
            await asyncio.sleep(0.1)
            await live.send(m.encode_heartbeat(live.phone, live.next_serial()))
            assert (await live.general()).result == 0
        assert await asyncio.wait_for(idle.reader.read(), 5) == b""
        assert gw.stats.closed["idle"] == 1 and gw.stats.open_connections == 1
        await live.close()

    run(body, idle_timeout=0.25)


def test_sink_failure_answered_fail() -> None:
    async def main() -> None:
        async def sink(positions: list[Position]) -> None:
            raise RuntimeError("database down")

        async with Jt808Gateway(port=0, sink=sink, require_auth=False) as gw:
            t = Terminal("013900000008")
            await t.connect(gw.port)
            await t.send(m.encode_location(t.phone, t.next_serial(), fix(0)))
            assert await t.general() == m.GeneralResponse(t.serial, m.LOCATION, 1)
            assert gw.stats.rejected["sink_error"] == 1 and gw.stats.positions == 0
            await t.close()

    asyncio.run(main())


def test_stop_closes_open_connections() -> None:
    async def main() -> None:
        async def sink(positions: list[Position]) -> None:
            return None

        gw = Jt808Gateway(port=0, sink=sink)
        await gw.start()
        t = Terminal("013900000009")
        await t.connect(gw.port)
        await t.send(m.encode_heartbeat(t.phone, t.next_serial()))
        assert (await t.general()).result == 0
        await asyncio.wait_for(gw.stop(), 5)
        assert await asyncio.wait_for(t.reader.read(), 5) == b""
        assert gw.stats.open_connections == 0 and gw.stats.closed["shutdown"] == 1

    asyncio.run(main())
