"""Starting the position feeds that listen on their own (the JT/T 808 gateway, the MQTT
subscriber), each given a `PositionSink`. The assembly (backend.positions) passes the pipeline
and, for JT/T 808, who trusts terminals (the fleet register). With no broker configured, the
gateway runs inside the server so that its events reach this process's hub."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from backend.ingest.pipeline import IngestReport, PositionPipeline, PositionSink
from backend.ingest.position import Position
from backend.settings import Settings

if TYPE_CHECKING:
    from backend.ingest.jt808 import Jt808Gateway, TerminalTrust
    from backend.ingest.mqtt import MqttFeed

log = logging.getLogger("cityops.ingest")


async def start_jt808_gateway(
    settings: Settings, sink: PositionSink, trust: TerminalTrust
) -> Jt808Gateway | None:
    if not settings.jt808_enabled:
        return None
    from backend.ingest.jt808 import Jt808Gateway

    async def ingest(positions: list[Position]) -> IngestReport:
        # The pipeline blocks on PostgreSQL: off the event loop (Starlette's thread pool).
        report = await run_in_threadpool(sink.ingest, positions)
        if report.rejected:
            log.info("jt808: %d fixes rejected: %s", len(report.rejected), report.rejected[:5])
        return report

    gateway = Jt808Gateway(settings.jt808_host, settings.jt808_port, sink=ingest, trust=trust,
                           recheck_s=settings.jt808_recheck_s)
    await gateway.start()
    log.info("JT/T 808 gateway listening on %s:%d", settings.jt808_host, gateway.port)
    return gateway


async def start_mqtt_feed(settings: Settings, pipeline: PositionPipeline) -> MqttFeed | None:
    """The MQTT subscriber when settings.mqtt_url is set. Returns at once: a broker that is
    down is retried in the background. Its parse errors are counted in the pipeline's
    `rejects` beside the pipeline's own."""
    if not settings.mqtt_url:
        return None
    from backend.ingest.mqtt import MqttFeed

    async def ingest(positions: list[Position]) -> IngestReport:
        return await run_in_threadpool(pipeline.ingest, positions)

    feed = MqttFeed(settings.mqtt_url, settings.mqtt_topic, sink=ingest,
                    client_id=settings.mqtt_client_id, rejects=pipeline.rejects)
    await feed.start()
    return feed
