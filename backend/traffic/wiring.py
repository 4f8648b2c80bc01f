"""The traffic slice wires itself into the running app: the service (with the probe engine
when backend.traffic.probes is there), its place among the position consumers, and the cadence
task. main's lifespan calls `setup` once the hub and the position pipeline exist."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa

from backend.catalog.traffic_levels import load_traffic_levels
from backend.traffic.cadence import Cadence
from backend.traffic.network import TO_METRIC, load_network
from backend.traffic.probes import ProbeEngine
from backend.traffic.service import Probes, TrafficService

if TYPE_CHECKING:
    from backend.api.deps import Resources
    from backend.realtime.hub import Hub

log = logging.getLogger("cityops.traffic")


@dataclass
class TrafficRuntime:
    service: TrafficService
    cadence: Cadence
    task: asyncio.Task[None] | None

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def probe_engine(engine: sa.Engine) -> Probes | None:
    """The probe engine over the roads and the bus stops (dwell at stops is not speed)."""
    with engine.connect() as conn:
        network = load_network(conn)
        stops = conn.execute(sa.text("SELECT ST_X(geom), ST_Y(geom) FROM bus_stops")).all()
    if len(network) == 0:
        log.warning("traffic: the roads table is empty: no probe engine")
        return None
    stops_xy = None
    if stops:
        lon, lat = np.array(stops, dtype=float).T
        stops_xy = np.column_stack(TO_METRIC.transform(lon, lat))
    return ProbeEngine(network, stops_xy=stops_xy)


async def setup(resources: Resources, hub: Hub) -> TrafficRuntime:
    """Call in the lifespan after the hub has started, before the position pipeline is built
    (the service is one of its consumers)."""
    settings = resources.settings
    levels = load_traffic_levels(settings.traffic_levels)
    probes = await asyncio.to_thread(probe_engine, resources.engine)
    service = TrafficService(resources.engine, levels, tz=ZoneInfo(settings.traffic_timezone),
                             publish=hub.publish_nowait_threadsafe, probes=probes,
                             retention_days=settings.traffic_retention_days)
    report = await asyncio.to_thread(service.start)
    log.info("traffic: %d segments (%d in pilot segments)", report.segments, report.pilot)
    resources.traffic = service
    cadence = Cadence(service, publish_s=settings.traffic_publish_s,
                      delay_s=settings.traffic_bucket_delay_s)
    task = asyncio.create_task(cadence.run()) if settings.traffic_publish_s > 0 else None
    return TrafficRuntime(service, cadence, task)
