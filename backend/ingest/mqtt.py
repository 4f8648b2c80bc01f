"""GPS over MQTT: subscribe to a topic filter (QoS 1) and hand the positions to the pipeline.

A payload is one JSON position record or a JSON array of them, with the fields of the HTTP
batch records (`backend.ingest.records.PositionIn`); a record without `vehicle_id` takes the
topic's last level (`cityops/positions/<vehicle_id>`). Records are parsed by the same function
as the HTTP endpoint, batched (up to `max_batch` records or `max_delay` seconds, whichever comes
first) and handed to the sink, which runs the pipeline off the event loop.

Nothing a publisher sends can stop the subscriber: a bad payload or record is rejected, counted
(`counters["rejected:<reason>"]`) and logged on one line. A lost or refused connection is
retried with capped exponential backoff (logged once per outage) and the subscription renewed.

The session is MQTT 5 with clean start off and an expiry (`session_expiry_s`): fixes published
while the server restarts are queued by the broker and delivered on reconnect. Fixes are
acknowledged on receipt, so a batch still in memory when the process dies is lost; duplicates
(redelivery) are ignored by the store.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import orjson
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from backend.ingest.pipeline import IngestReport
from backend.ingest.position import Position
from backend.ingest.records import MAX_BATCH, parse_records

log = logging.getLogger(__name__)

Sink = Callable[[list[Position]], Awaitable[IngestReport]]


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> BrokerAddress:
        """`mqtt://[user[:pass]@]host[:port]` (1883), `mqtts://...` for TLS (8883)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise ValueError(f"Not an MQTT broker URL (mqtt://host:port or mqtts://...): {url!r}")
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )

    def __str__(self) -> str:  # for logs: never the password
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def topic_vehicle_id(topic: str, topic_filter: str) -> str | None:
    """The vehicle id a topic names: its last level, when the topic goes deeper than the
    filter's fixed part (`cityops/positions/#` matches `cityops/positions` itself, which names
    no vehicle). A shared subscription's `$share/<group>/` prefix is not part of the topic."""
    if topic_filter.startswith("$share/"):
        topic_filter = topic_filter.split("/", 2)[2] if topic_filter.count("/") >= 2 else ""
    fixed = 0
    for level in topic_filter.split("/"):
        if level in ("+", "#"):
            break
        fixed += 1
    levels = topic.split("/")
    if len(levels) <= fixed or not levels[-1]:
        return None
    return levels[-1]


def _records(payload: bytes) -> tuple[list[Any] | None, str | None]:
    """(records, None) or (None, reason) for a payload that holds no records at all."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None, "not_json"
    if isinstance(data, dict):
        return [data], None
    if not isinstance(data, list):
        return None, "not_a_record"
    if len(data) > MAX_BATCH:
        return None, "too_many_records"
    return data, None


class _RejectLog:
    """One INFO line per rejected message, at most `per_minute` lines a minute; the rest are
    summed up in the first line of the next minute (the counters keep everything)."""

    def __init__(self, per_minute: int = 30) -> None:
        self.per_minute = per_minute
        self._window = 0.0
        self._lines = 0
        self._suppressed = 0

    def __call__(self, fmt: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._window >= 60.0:
            if self._suppressed:
                log.info("mqtt: %d more rejects not logged in the last minute", self._suppressed)
            self._window, self._lines, self._suppressed = now, 0, 0
        if self._lines < self.per_minute:
            self._lines += 1
            log.info(fmt, *args)
        else:
            self._suppressed += 1


class MqttFeed:
    """The subscriber. `start()` returns at once (the broker may be down); `stop()` leaves
    the broker, stores what was already received and cancels the tasks.

    counters: messages, received (records), accepted, duplicates, rejected:<reason>, failed
    (records lost to a pipeline error), connections, disconnects. Every received record ends
    up in exactly one of accepted / duplicates / rejected:* / failed."""

    def __init__(
        self,
        url: str,
        topic: str,
        *,
        sink: Sink,
        client_id: str = "cityops-ingest",
        max_batch: int = 500,
        max_delay: float = 0.1,
        max_pending: int = 10_000,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        session_expiry_s: int = 3600,
        keepalive: int = 30,
        drain_timeout: float = 5.0,
        rejects: Counter[tuple[str, str]] | None = None,
    ) -> None:
        self.broker = BrokerAddress.from_url(url)
        self.topic = topic
        self.sink = sink
        self.client_id = client_id
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.session_expiry_s = session_expiry_s
        self.keepalive = keepalive
        self.drain_timeout = drain_timeout
        self.counters: Counter[str] = Counter()
        # The shared (source, reason) reject counts (the pipeline's): this feed adds the
        # messages and records refused before they became positions.
        self.rejects: Counter[tuple[str, str]] = Counter() if rejects is None else rejects
        self.subscribed = False  # True while connected with the subscription in place
        self._max_pending = max_pending
        self._queue: asyncio.Queue[Position] | None = None
        self._receiver: asyncio.Task[None] | None = None
        self._batcher: asyncio.Task[None] | None = None
        self._reject_log = _RejectLog()
        self._sink_failing = False

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._queue = asyncio.Queue(maxsize=self._max_pending)
        self._batcher = asyncio.create_task(self._batch_loop(), name="mqtt-batcher")
        self._receiver = asyncio.create_task(self._receive_loop(), name="mqtt-receiver")

    async def stop(self) -> None:
        if self._receiver is not None:
            self._receiver.cancel()
            await asyncio.gather(self._receiver, return_exceptions=True)
            self._receiver = None
        self.subscribed = False
        if self._batcher is not None:
            assert self._queue is not None
            try:  # what was received (and acknowledged) is stored before leaving
                await asyncio.wait_for(self._queue.join(), timeout=self.drain_timeout)
            except TimeoutError:
                log.warning("mqtt: %d positions not stored at shutdown", self._queue.qsize())
            self._batcher.cancel()
            await asyncio.gather(self._batcher, return_exceptions=True)
            self._batcher = None

    async def __aenter__(self) -> MqttFeed:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- the connection ----------------------------------------------------------------------

    def _client(self) -> aiomqtt.Client:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.session_expiry_s
        return aiomqtt.Client(
            self.broker.host,
            self.broker.port,
            username=self.broker.username,
            password=self.broker.password,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=properties,
            keepalive=self.keepalive,
            tls_context=ssl.create_default_context() if self.broker.tls else None,
        )

    async def _receive_loop(self) -> None:
        backoff = self.backoff_initial
        down_since: float | None = None
        while True:
            try:
                async with self._client() as client:
                    granted = await client.subscribe(self.topic, qos=1)
                    failed = [c for c in granted
                              if (c >= 0x80 if isinstance(c, int) else c.is_failure)]
                    if failed:
                        raise aiomqtt.MqttError(f"subscription to {self.topic!r} refused: "
                                                f"{failed[0]}")
                    self.counters["connections"] += 1
                    self.subscribed = True
                    if down_since is not None:
                        log.info("mqtt: reconnected to %s after %.1f s", self.broker,
                                 time.monotonic() - down_since)
                    else:
                        log.info("mqtt: subscribed to %r on %s", self.topic, self.broker)
                    down_since, backoff = None, self.backoff_initial
                    async for message in client.messages:
                        await self._on_message(str(message.topic), message.payload)
            except Exception as exc:  # MqttError, or anything else: never end the subscriber
                if self.subscribed:
                    self.counters["disconnects"] += 1
                self.subscribed = False
                if not isinstance(exc, aiomqtt.MqttError):
                    log.exception("mqtt: subscriber failed; reconnecting")
                if down_since is None:  # once per outage
                    down_since = time.monotonic()
                    log.warning("mqtt: broker %s unavailable (%s); retrying every <= %.0f s",
                                self.broker, exc, self.backoff_max)
            # Full jitter, so that many subscribers do not all come back in the same instant.
            await asyncio.sleep(random.uniform(backoff / 2, backoff))
            backoff = min(backoff * 2, self.backoff_max)

    # ---- messages ----------------------------------------------------------------------------

    def _reject(self, reason: str, n: int = 1, *, parsed: bool = False) -> None:
        self.counters[f"rejected:{reason}"] += n
        if not parsed:  # the pipeline counted its own rejects already
            self.rejects[("mqtt", reason)] += n

    async def _on_message(self, topic: str, payload: Any) -> None:
        self.counters["messages"] += 1
        try:
            positions = self._parse(topic, payload)
        except Exception:  # a bug, never the publisher's payload: count it, keep going
            self._reject("error")
            log.exception("mqtt: could not handle a message on %s", topic)
            return
        assert self._queue is not None
        for p in positions:
            await self._queue.put(p)  # waits while the pipeline is max_pending behind

    def _parse(self, topic: str, payload: Any) -> list[Position]:
        if isinstance(payload, str):
            payload = payload.encode()
        if not isinstance(payload, bytes | bytearray):
            payload = b""  # aiomqtt hands over bytes; anything else is no JSON
        records, reason = _records(bytes(payload))
        if records is None:
            self.counters["received"] += 1
            self._reject(reason or "not_a_record")
            self._reject_log("mqtt: rejected a message on %s: %s (%d bytes)", topic, reason,
                             len(payload))
            return []
        vehicle_id = topic_vehicle_id(topic, self.topic)
        if vehicle_id is not None:
            for record in records:
                if isinstance(record, dict) and "vehicle_id" not in record:
                    record["vehicle_id"] = vehicle_id
        positions, _indexes, rejected = parse_records(records, source="mqtt")
        self.counters["received"] += len(records)
        for r in rejected:
            self._reject(r.code)
        if rejected:
            self._reject_log("mqtt: rejected %d of %d records on %s: record %d: %s",
                             len(rejected), len(records), topic, rejected[0].index,
                             rejected[0].reason)
        return positions

    # ---- batches -----------------------------------------------------------------------------

    async def _batch_loop(self) -> None:
        assert self._queue is not None
        queue, loop = self._queue, asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            deadline = loop.time() + self.max_delay
            while len(batch) < self.max_batch:
                if not queue.empty():
                    batch.append(queue.get_nowait())
                    continue
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), left))
                except TimeoutError:
                    break
            try:
                await self._deliver(batch)
            finally:
                for _ in batch:
                    queue.task_done()

    async def _deliver(self, batch: list[Position]) -> None:
        try:
            report = await self.sink(batch)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.counters["failed"] += len(batch)
            if not self._sink_failing:  # once until it works again
                log.exception("mqtt: storing %d positions failed", len(batch))
            self._sink_failing = True
            return
        self._sink_failing = False
        self.counters["accepted"] += report.accepted
        self.counters["duplicates"] += report.duplicates
        for _index, reason in report.rejected:
            self._reject(reason, parsed=True)
        if report.rejected:
            index, reason = report.rejected[0]
            self._reject_log("mqtt: %d of %d positions rejected: %s: %s", len(report.rejected),
                             len(batch), batch[index].vehicle_id, reason)

