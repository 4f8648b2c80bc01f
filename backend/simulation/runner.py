"""Run a scenario through the real ingest path: one simulated JT/T 808 terminal per bus, each
on its own TCP connection to the gateway (register -> 0x8100 -> authenticate -> 0x0200 fixes).

All terminals advance in lockstep, one tick at a time, and every fix waits for its 0x8001
before the next tick: the gateway answers after the pipeline has stored and pushed the fix,
so alarms reach the hub in simulated-time order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from shapely import LineString, wkb

from backend.catalog.scenarios import Scenario
from backend.ingest.jt808 import codec
from backend.ingest.jt808 import messages as m
from backend.simulation.plan import Bus, Fix, buses_of, plan, to_metric
from backend.vehicles.fleet import register_vehicles

STATUS_ACC_ON_FIXED = 0b11
REPLY_TIMEOUT_S = 30.0  # a loaded machine can hold a reply for seconds; a late one is skipped


class ScenarioRunError(RuntimeError):
    """The scenario cannot run (a line is missing, the gateway refused a terminal)."""


@dataclass
class RunReport:
    scenario: str
    start: datetime
    terminals: int = 0
    ticks: int = 0
    fixes_sent: int = 0
    fixes_acked: int = 0
    fixes_failed: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    phones: dict[str, str] = field(default_factory=dict)  # "<line>#<n>" -> phone
    wall_s: float = 0.0


def register_fleet(engine: sa.Engine, buses: list[Bus]) -> None:
    """Put the scenario's buses in the fleet register, each on its line (as an operator's
    fleet system would), so that line-bound rules and line operations know them."""
    with engine.begin() as conn:
        register_vehicles(conn, [
            {"vehicle_id": b.phone, "label": b.ref, "plate": b.plate, "line_code": b.line,
             "operator": "泗县公交", "terminal_phone": b.phone, "terminal_id": b.terminal_id}
            for b in buses])


def load_lines(engine: sa.Engine, codes: list[str]) -> dict[str, LineString]:
    """The lines' geometries (EPSG:4326 in bus_lines) in the simulation's metric CRS."""
    query = sa.text("SELECT code, ST_AsBinary(geom) FROM bus_lines WHERE code = ANY(:codes)")
    with engine.connect() as conn:
        rows = conn.execute(query, {"codes": codes}).all()
    lines = {code: to_metric(wkb.loads(bytes(raw))) for code, raw in rows}
    missing = [c for c in codes if c not in lines]
    if missing:
        raise ScenarioRunError(f"bus lines not in the database: {', '.join(missing)}")
    return lines


class Terminal:
    """One simulated JT/T 808 terminal on its own TCP connection."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.serial = 0
        self.frames = codec.FrameReader()
        self._pending: list[bytes] = []  # frames read but not yet looked at
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def _next_serial(self) -> int:
        self.serial = (self.serial + 1) & 0xFFFF
        return self.serial

    async def _exchange(self, frame: bytes) -> codec.Frame:
        """Send a frame (its serial is self.serial) and return the platform's answer to it:
        0x8001 and 0x8100 both start with the serial they answer, so a late answer to an
        earlier frame (one that timed out) is skipped instead of taken for this one's."""
        assert self.reader is not None and self.writer is not None
        self.writer.write(frame)
        await self.writer.drain()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REPLY_TIMEOUT_S
        while True:
            while self._pending:
                reply = codec.decode_frame(self._pending.pop(0))
                if reply.body[:2] == self.serial.to_bytes(2, "big"):
                    return reply
            data = await asyncio.wait_for(self.reader.read(4096),
                                          max(deadline - loop.time(), 0))
            if not data:
                raise ConnectionError("the gateway closed the connection")
            self._pending += self.frames.feed(data)

    async def connect(self, host: str, port: int, codes: dict[str, str]) -> None:
        """Authenticate with the code kept from an earlier run, as a real terminal keeps it;
        register (0x0100) for a new code only when there is none or it no longer works."""
        phone = self.bus.phone
        self.reader, self.writer = await asyncio.open_connection(host, port)
        if phone in codes and await self._authenticate(codes[phone]):
            return
        reg = m.Register(manufacturer="CITYO", model="SIM", terminal_id=self.bus.terminal_id,
                         plate_color=1, plate=self.bus.plate)
        reply = m.decode_register_response(
            (await self._exchange(m.encode_register(phone, self._next_serial(), reg))).body)
        if reply.result != m.RESULT_OK or not reply.auth_code:
            raise ScenarioRunError(f"{self.bus.ref}: registration refused ({reply.result})")
        codes[phone] = reply.auth_code
        if not await self._authenticate(reply.auth_code):
            raise ScenarioRunError(f"{self.bus.ref}: authentication refused")

    async def _authenticate(self, code: str) -> bool:
        ack = await self._exchange(
            m.encode_authenticate(self.bus.phone, self._next_serial(), m.Authenticate(code)))
        return m.decode_general_response(ack.body).result == m.RESULT_OK

    async def send(self, fix: Fix) -> int:
        """Send one 0x0200 and return the 0x8001 result (0 = ok)."""
        loc = m.Location(time=fix.time, lat=fix.lat, lon=fix.lon, alarm=fix.alarm,
                         status=STATUS_ACC_ON_FIXED, speed_kmh=fix.speed_kmh,
                         direction=fix.heading_deg)
        reply = await self._exchange(m.encode_location(self.bus.phone, self._next_serial(), loc))
        return m.decode_general_response(reply.body).result

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()


async def run_scenario(
    scenario: Scenario,
    *,
    engine: sa.Engine,
    host: str,
    port: int,
    speed: float = 1.0,
    start: datetime | None = None,
    codes: dict[str, str] | None = None,
) -> RunReport:
    """Run `scenario` against the JT/T 808 gateway at host:port. Simulated time starts at
    `start` (default: now, UTC, or now - duration_s when speed > 1 so no fix is ever
    in the future) and advances tick_s per step; the wall clock waits
    tick_s / speed between steps. The scenario's buses are put in the fleet register with
    their terminals; `codes` (phone -> auth code) carries the terminals' codes from one run
    to the next, so a looping demo registers each terminal once."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    if start is None:
        start = default_start(scenario, speed)
    lines = await asyncio.to_thread(load_lines, engine, list(scenario.fleet))
    fixes = plan(scenario, lines, start)
    buses = buses_of(scenario)
    await asyncio.to_thread(register_fleet, engine, buses)
    report = RunReport(scenario=scenario.name, start=start,
                       phones={b.ref: b.phone for b in buses})
    terminals = [Terminal(b) for b in buses]
    began = time.monotonic()
    try:
        codes = {} if codes is None else codes
        await asyncio.gather(*(t.connect(host, port, codes) for t in terminals))
        report.terminals = len(terminals)
        steps = len(next(iter(fixes.values())))
        pace = scenario.tick_s / speed
        for k in range(steps):
            delay = began + k * pace - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            step = [(t, fixes[t.bus.phone][k]) for t in terminals]
            results = await asyncio.gather(*(t.send(fix) for t, fix in step),
                                           return_exceptions=True)
            report.ticks += 1
            for result in results:
                report.fixes_sent += 1
                if result == m.RESULT_OK:
                    report.fixes_acked += 1
                else:
                    report.fixes_failed += 1
                    why = (type(result).__name__ if isinstance(result, BaseException)
                           else f"result_{result}")
                    report.failures[why] += 1
    finally:
        await asyncio.gather(*(t.close() for t in terminals))
        report.wall_s = round(time.monotonic() - began, 3)
    return report


def default_start(scenario: Scenario, speed: float) -> datetime:
    """A start that keeps every fix in the past when the run is faster than real time."""
    now = datetime.now(UTC).replace(microsecond=0)
    if speed <= 1.0:
        return now
    return now - timedelta(seconds=scenario.duration_s)
