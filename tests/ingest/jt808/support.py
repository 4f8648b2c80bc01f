"""Simulated terminals (the codec's encoders over real TCP) and a gateway on a free port whose
trust is the real fleet register in the test database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from backend.ingest.jt808 import messages as m
from backend.ingest.jt808.codec import Frame, FrameReader, Version, decode_frame
from backend.ingest.jt808.gateway import Jt808Gateway
from backend.ingest.position import Position
from backend.vehicles.fleet import register_vehicles
from backend.vehicles.terminals import FleetTerminals

T0 = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
PREFIX = "0137"  # every test terminal's phone starts so; its vehicle id is "jt-<phone>"


def vehicle_of(phone: str) -> str:
    return f"jt-{phone[-12:]}"


def plate_of(phone: str) -> str:
    return f"皖L{phone[-5:]}"


@contextmanager
def fleet(engine: sa.Engine, *phones: str, terminal_id: str | None = None) -> Iterator[None]:
    """Put terminals in the fleet register (plate 皖L<last 5 digits>), remove them after."""
    with engine.begin() as conn:
        register_vehicles(conn, [{"vehicle_id": vehicle_of(p), "label": "test", "line_code": None,
                                  "plate": plate_of(p), "terminal_phone": p,
                                  "terminal_id": terminal_id} for p in phones])
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM vehicles WHERE vehicle_id = ANY(:v)"),
                         {"v": [vehicle_of(p) for p in phones]})


class Terminal:
    def __init__(self, phone: str, version: Version = 2013) -> None:
        self.phone, self.version, self.serial = phone, version, 0
        self.frames = FrameReader()
        self.pending: list[Frame] = []
        self.code = ""

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

    async def register(self, reg: m.Register | None = None) -> m.RegisterResponse:
        reg = reg or m.Register(terminal_id="T000001", plate_color=1, plate=plate_of(self.phone))
        await self.send(m.encode_register(self.phone, self.next_serial(), reg,
                                          version=self.version))
        r = await self.recv()
        assert r.header.msg_id == m.REGISTER_RESPONSE and r.header.version == self.version
        reply = m.decode_register_response(r.body)
        assert reply.reply_serial == self.serial
        return reply

    async def authenticate(self, code: str) -> int:
        await self.send(m.encode_authenticate(self.phone, self.next_serial(),
                                              m.Authenticate(code), version=self.version))
        answer = await self.general()
        assert (answer.reply_serial, answer.reply_id) == (self.serial, m.AUTHENTICATE)
        return answer.result

    async def login(self) -> None:
        reply = await self.register()
        assert reply.result == 0 and reply.auth_code
        self.code = reply.auth_code
        assert await self.authenticate(reply.auth_code) == 0

    async def report(self, loc: m.Location) -> int:
        await self.send(m.encode_location(self.phone, self.next_serial(), loc,
                                          version=self.version))
        answer = await self.general()
        assert (answer.reply_serial, answer.reply_id) == (self.serial, m.LOCATION)
        return answer.result

    async def closed(self) -> bool:
        """True when the gateway has closed the connection (within 5 s)."""
        try:
            while await asyncio.wait_for(self.reader.read(4096), 5):
                pass
        except ConnectionError:
            pass
        return True

    async def close(self) -> None:
        self.writer.close()
        with suppress(ConnectionError):
            await self.writer.wait_closed()


def fix(i: int, **kw: object) -> m.Location:
    return m.Location(time=T0 + timedelta(seconds=i), lat=33.4 + i / 1000, lon=117.8,  # type: ignore[arg-type]
                      speed_kmh=30.0, **kw)


@dataclass
class Collected:
    """A sink that keeps what it is given and refuses the fixes `refuse` picks."""

    positions: list[Position] = field(default_factory=list)
    refuse: Callable[[Position], bool] = lambda _p: False

    async def __call__(self, positions: list[Position]) -> object:
        rejected = [(i, "refused") for i, p in enumerate(positions) if self.refuse(p)]
        self.positions += [p for i, p in enumerate(positions) if (i, "refused") not in rejected]
        return _Report(rejected)


@dataclass
class _Report:
    rejected: list[tuple[int, str]]


Body = Callable[[Jt808Gateway, Collected], Awaitable[None]]


def run(engine: sa.Engine, body: Body, sink: Collected | None = None, **kw: object) -> None:
    async def main() -> None:
        collected = sink or Collected()
        async with Jt808Gateway(port=0, sink=collected, trust=FleetTerminals(engine),  # type: ignore[arg-type]
                                **kw) as gw:
            await body(gw, collected)

    asyncio.run(main())
