"""Where the GPS feeds meet the pipeline: building it for the app, the in-process JT/T 808
gateway (with no broker configured, the gateway runs inside the server so that its events reach
this process's hub) and the MQTT subscriber."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from backend.ingest.position import Position
from backend.settings import Settings
from backend.vehicles.fleet import FleetDirectory
from backend.vehicles.service import IngestReport, PositionPipeline
from backend.vehicles.store import PositionStore

if TYPE_CHECKING:
    from backend.ingest.jt808 import Jt808Gateway
    from backend.ingest.mqtt import MqttFeed
    from backend.realtime.hub import Hub

log = logging.getLogger("cityops.vehicles")


def position_pipeline(
    settings: Settings, engine: Engine, hub: Hub, fleet: FleetDirectory
) -> PositionPipeline:
    def publish(channel: str, data: dict) -> None:
        try:
            # From the worker thread onto the hub's loop; nobody waits for the seq.
            hub.publish_nowait_threadsafe(channel, data)
        except RuntimeError:  # shutting down: the fix is stored, only the push is skipped
            log.debug("hub closed: %s event not pushed", channel)

    store = PositionStore(engine, partition_window_days=settings.positions_partition_window_days)
    return PositionPipeline(store, context_for=fleet.context_for, publish=publish)


async def start_jt808_gateway(
    settings: Settings, pipeline: PositionPipeline
) -> Jt808Gateway | None:
    if not settings.jt808_enabled:
        return None
    from backend.ingest.jt808 import Jt808Gateway
    from backend.vehicles.terminals import FleetTerminals

    async def sink(positions: list[Position]) -> IngestReport:
        report = await run_in_threadpool(pipeline.ingest, positions)
        if report.rejected:
            log.info("jt808: %d fixes rejected: %s", len(report.rejected), report.rejected[:5])
        return report

    # Terminals are trusted by the fleet register (backend.vehicles.terminals), not a secret.
    gateway = Jt808Gateway(settings.jt808_host, settings.jt808_port, sink=sink,
                           trust=FleetTerminals(pipeline.store.engine),
                           recheck_s=settings.jt808_recheck_s)
    await gateway.start()
    log.info("JT/T 808 gateway listening on %s:%d", settings.jt808_host, gateway.port)
    return gateway


async def start_mqtt_feed(settings: Settings, pipeline: PositionPipeline) -> MqttFeed | None:
    """The MQTT subscriber when settings.mqtt_url is set. Returns at once: a broker that is
    down is retried in the background."""
    if not settings.mqtt_url:
        return None
    from backend.ingest.mqtt import MqttFeed

    async def sink(positions: list[Position]) -> IngestReport:
        return await run_in_threadpool(pipeline.ingest, positions)

    feed = MqttFeed(settings.mqtt_url, settings.mqtt_topic, sink=sink,
                    client_id=settings.mqtt_client_id, rejects=pipeline.rejects)
    await feed.start()
    return feed
