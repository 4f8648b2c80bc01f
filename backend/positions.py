"""The one place the position pipeline is assembled: which consumers, in which order, and the
feeds that are given it as their sink.

    storage          vehicles.store.PositionStore      (its commit acknowledges a batch)
    beside storage   vehicles.consumers.AlarmRules     (rules -> stored alarms -> pushes)
                     *extra                            (the traffic service: map matching)
    after commit     vehicles.consumers.PositionPushes (hub: each vehicle's newest fix)

A new consumer of positions is one more item of `extra` (main's lifespan passes them): an
object with `name: str` and `consume(positions) -> None`, called with the validated fixes of
each batch sorted by time, on the pipeline's consumer thread
(backend.ingest.pipeline.PositionConsumer)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import Engine

from backend.ingest import feeds
from backend.ingest.pipeline import PositionConsumer, PositionPipeline
from backend.settings import Settings
from backend.vehicles.consumers import AlarmRules, PositionPushes, Publisher
from backend.vehicles.fleet import FleetDirectory
from backend.vehicles.store import PositionStore

if TYPE_CHECKING:
    from backend.ingest.jt808 import Jt808Gateway
    from backend.ingest.mqtt import MqttFeed

log = logging.getLogger("cityops.positions")
# Storage waits on PostgreSQL while the consumers compute on another thread: each time a
# database answer arrives, the storing thread needs the GIL back, and CPython hands it over
# only every switch interval (5 ms by default). At 5 ms a batch's five round trips cost
# 25 ms of waiting and the overlap was slower than running one after the other (bench_ingest).
SWITCH_INTERVAL_S = float(os.environ.get("CITYOPS_SWITCH_INTERVAL_S", "0.0005"))


class ThreadsafeHub(Protocol):
    def publish_nowait_threadsafe(self, channel: str, data: dict[str, Any]) -> object: ...


def hub_publisher(hub: ThreadsafeHub) -> Publisher:
    """publish(channel, data) from a worker thread onto the hub's loop; nobody waits."""
    def publish(channel: str, data: dict[str, Any]) -> None:
        try:
            hub.publish_nowait_threadsafe(channel, data)
        except RuntimeError:  # shutting down: the fix is stored, only the push is skipped
            log.debug("hub closed: %s event not pushed", channel)

    return publish


def build_position_pipeline(
    settings: Settings,
    engine: Engine,
    hub: ThreadsafeHub,
    fleet: FleetDirectory,
    extra: Sequence[PositionConsumer] = (),
    *,
    overlap: bool = True,
) -> PositionPipeline:
    publish = hub_publisher(hub)
    if overlap:
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
    return PositionPipeline(
        PositionStore(engine, partition_window_days=settings.positions_partition_window_days),
        consumers=[AlarmRules(engine, context_for=fleet.context_for, prepare=fleet.prepared,
                              publish=publish), *extra],
        after_commit=[PositionPushes(publish, shown=fleet.shown)],
        overlap=overlap,
    )


async def start_gateway(settings: Settings, pipeline: PositionPipeline,
                        engine: Engine) -> Jt808Gateway | None:
    """The JT/T 808 gateway (when settings.jt808_enabled), its terminals trusted by the fleet
    register (backend.vehicles.terminals), not by a shared secret."""
    from backend.vehicles.terminals import FleetTerminals

    return await feeds.start_jt808_gateway(settings, pipeline, FleetTerminals(engine))


async def start_mqtt(settings: Settings, pipeline: PositionPipeline) -> MqttFeed | None:
    """The MQTT subscriber (when settings.mqtt_url is set)."""
    return await feeds.start_mqtt_feed(settings, pipeline)
