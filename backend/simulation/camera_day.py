"""Run a `cameras-day` scenario: the fleet of simulated GB/T 28181 devices (taken from the
camera registry) registers with a server's SIP endpoint, keeps alive, answers its Catalog
queries, and lives through the day's timeline of outages, returns and alarms, compressed by
`speed`. Outages last at least `keepalive_s * 5` real seconds, so the platform sees each one
(three missed keepalives and the watchdog's period).

Preparing the fleet writes to the registry (示意 demo data): the NVRs' `camera_devices` rows,
their channels' `parent_code`, and each device's keepalive interval."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import sqlalchemy as sa

from backend.catalog.camera_scenarios import CamerasDayScenario, Event
from backend.simulation.camera_devices import Channel, SimDevice

log = logging.getLogger("cityops.simulation")

WRONG_PASSWORD = "not-the-password"


@dataclass
class CameraDayReport:
    devices: int = 0
    channels: int = 0
    registered: int = 0
    refused: int = 0          # registers answered other than 200 (the wrong password: 401)
    outages: int = 0
    returns: int = 0
    alarms: int = 0
    failures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"cameras-day: {self.devices} devices ({self.channels} channels), "
                f"{self.registered} registers accepted, {self.refused} refused, "
                f"{self.outages} outages, {self.returns} returns, {self.alarms} alarms",
                *(f"  failed: {f}" for f in self.failures)]


@dataclass(frozen=True, slots=True)
class FleetPlan:
    ipcs: list[Channel]
    nvrs: list[tuple[str, list[Channel]]]   # NVR id, its channels


def plan_fleet(engine: sa.Engine, scenario: CamerasDayScenario, county: str) -> FleetPlan:
    """Take the devices from the registry and write what they need (NVR rows, parents,
    keepalive intervals). `county`: the 6-digit code the NVR ids are made from."""
    fleet = scenario.fleet
    wanted = fleet.nvr * fleet.nvr_channels + fleet.ipc
    with engine.begin() as conn:
        rows = conn.execute(sa.text(
            "SELECT code, name, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM cameras "
            "WHERE code LIKE :county || '%' AND substr(code, 11, 3) IN ('131', '132') "
            "ORDER BY code LIMIT :n"), {"county": county, "n": wanted}).all()
        if len(rows) < wanted:
            raise RuntimeError(f"the registry has {len(rows)} cameras of the county; the "
                               f"scenario needs {wanted}")
        channels = [Channel(r.code, r.name or r.code, r.lon, r.lat) for r in rows]
        nvrs = []
        for n in range(fleet.nvr):
            nvr_id = f"{county}0000118" + f"0{fleet.nvr_serial + n:06d}"[-7:]
            mine = channels[n * fleet.nvr_channels:(n + 1) * fleet.nvr_channels]
            nvrs.append((nvr_id, mine))
            conn.execute(sa.text("UPDATE cameras SET parent_code = :d WHERE code = ANY(:c)"),
                         {"d": nvr_id, "c": [c.code for c in mine]})
        ipcs = channels[fleet.nvr * fleet.nvr_channels:]
        devices = [d for d, _ in nvrs] + [c.code for c in ipcs]
        conn.execute(sa.text("""
INSERT INTO camera_devices (code, name, keepalive_s)
SELECT code, '示意 simulated device', :k FROM unnest(CAST(:codes AS text[])) AS code
ON CONFLICT (code) DO UPDATE SET keepalive_s = EXCLUDED.keepalive_s"""),
                     {"k": fleet.keepalive_s, "codes": devices})
    return FleetPlan(ipcs, nvrs)


async def run_cameras_day(scenario: CamerasDayScenario, *, engine: sa.Engine, host: str,
                          port: int, server_id: str, realm: str, password: str,
                          speed: float | None = None) -> CameraDayReport:
    speed = speed or scenario.speed
    fleet = await asyncio.to_thread(plan_fleet, engine, scenario, server_id[:6])
    report = CameraDayReport(channels=sum(len(c) for _, c in fleet.nvrs) + len(fleet.ipcs))
    keepalive = scenario.fleet.keepalive_s
    made: dict[str, SimDevice] = {}
    specs = ([(f"nvr#{n + 1}", nvr_id, chans) for n, (nvr_id, chans) in enumerate(fleet.nvrs)]
             + [(f"ipc#{n + 1}", c.code, [c]) for n, c in enumerate(fleet.ipcs)])
    for n, (ref, code, chans) in enumerate(specs):
        every = scenario.fleet.tcp_every
        made[ref] = SimDevice(code, server_id=server_id, realm=realm, password=password,
                              host=host, port=port, channels=chans, keepalive_s=keepalive,
                              transport="tcp" if every and n % every == every - 1 else "udp")
    report.devices = len(made)
    pending: set[asyncio.Task[None]] = set()
    try:
        for sim in made.values():
            await sim.open()
            await _register(sim, report)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for event in sorted(scenario.events, key=lambda e: e.at_s):
            await asyncio.sleep(max(0.0, start + event.at_s / speed - loop.time()))
            task = asyncio.create_task(_play(event, made[event.device], report, speed,
                                             keepalive))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.sleep(max(0.0, start + scenario.duration_s / speed - loop.time()))
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for sim in made.values():
            try:
                await sim.unregister()
            except TimeoutError:
                report.failures.append(f"{sim.device_id}: unregister unanswered")
    finally:
        for task in pending:
            task.cancel()
        for sim in made.values():
            await sim.close()
    return report


async def _register(sim: SimDevice, report: CameraDayReport) -> None:
    try:
        status = await sim.register()
    except (TimeoutError, OSError) as exc:
        report.failures.append(f"{sim.device_id}: register: {exc}")
        return
    if status == 200:
        report.registered += 1
        sim.start_keepalives()
    else:
        report.refused += 1
        report.failures.append(f"{sim.device_id}: register answered {status}")


async def _play(event: Event, sim: SimDevice, report: CameraDayReport, speed: float,
                keepalive_s: int) -> None:
    try:
        if event.do == "outage":
            sim.go_silent()
            report.outages += 1
            await asyncio.sleep(max((event.duration_s or 0) / speed, keepalive_s * 5.0))
            if await sim.come_back() == 200:
                report.returns += 1
        elif event.do == "wrong_password":
            right, sim.password = sim.password, WRONG_PASSWORD
            sim.stop_keepalives()
            if await sim.register() != 200:
                report.refused += 1  # expected: 401, counted by the platform
            sim.password = right
            await _register(sim, report)
        else:
            channel = (sim.channels[event.channel - 1].code if len(sim.channels) > 1
                       else sim.device_id)
            assert event.kind is not None
            if await sim.alarm(channel, event.kind, priority=event.priority,
                               description=event.description) == 200:
                report.alarms += 1
    except (TimeoutError, OSError) as exc:
        report.failures.append(f"{event.device} {event.do}: {exc}")
