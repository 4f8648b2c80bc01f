"""What /metrics reads at scrape time from the app's resources, which keep plain counters
(ints and `collections.Counter`s) and never import prometheus_client:

- ingest: `PositionPipeline.stored` and `.rejects` by (source, ...) (http and jt808: parse
  errors counted through `count_rejects`, and the pipeline's outcomes) and, for mqtt, the
  feed's own ledger `MqttFeed.counters`; the pipeline's consumers: batches each failed on
  (`counters["failed:<name>"]`) and the time spent per stage (`.seconds`);
- the JT/T 808 gateway: `Jt808Gateway.stats` (GatewayStats); the GB/T 28181 SIP listener:
  `SipListener.stats` (SipStats) and its sink's `CameraStatus.counters`;
- the hub: `Hub.stats()`; the MQTT subscriber's connection counters;
- the tile cache: `TileCache` hits, misses, bytes; the database pools (main and tiles).

Each read copies a Counter with `dict(...)`, one C-level step under the GIL, so a feed
counting on another thread never breaks a scrape. Label values that come from input (reject
reasons) are capped per family: past `MAX_LABELS`, later ones are summed up as `other`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("cityops.metrics")

MAX_LABELS = 64
REJECTED = "rejected:"

# Counters kept by other parts of the app, exported as they are: (metric name, help, dotted
# path from app.state, label names). The object there is an int (no labels), or a Counter /
# {key: int} whose keys are a str (one label) or tuples (one label each). A missing path is
# skipped, so a line here never breaks a scrape; exporting a new counter is adding a line.
COUNTER_TABLE: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("cityops_http_rejected", "Requests refused at the HTTP edge (body limits, invalid input, "
     "control characters), by reason and route class or field kind", "edge.rejected",
     ("reason", "where")),
    ("cityops_login_refused", "Logins refused, by reason (wrong password, locked name or "
     "address, busy hashing gate, ...)", "resources.login_guard.refusals", ("reason",)),
    ("cityops_photo_decodes", "Photo uploads by decoding outcome (decoded, refused_pixels, "
     "refused_format, busy)", "photo_decoder.counts", ("outcome",)),
    ("cityops_audit_anchors", "Audit chain anchors by outcome (written, unchanged, failed, "
     "syslog_failed)", "audit_anchors.counts", ("outcome",)),
    ("cityops_audit_actor", "Audit rows whose actor the server set instead of the caller's, "
     "by outcome", "audit_anchors.actor_counts", ("outcome",)),
    ("cityops_traffic_probe_fixes", "GPS fixes through map matching by outcome (matched, "
     "unmatched:<reason> such as off_road or impossible_jump, break:<reason>, traversal:<reason>, "
     "evicted:<reason>)", "resources.traffic.probes.counters", ("outcome",)),
    ("cityops_camera_media_refused", "Play links and test stream files refused, by reason "
     "(malformed, bad_signature, expired, no_file)", "camera_media.refusals", ("reason",)),
    ("cityops_camera_alarm_webhook", "Camera alarms posted by analytics systems, by outcome "
     "(raised, repeat, unknown_camera, bad_kind)", "camera_alarm_counts", ("outcome",)),
    ("cityops_sip_registry", "What GB/T 28181 catalog items and alarms did to the registry "
     "(catalog_updated, catalog_added, catalog_refused_<part>, alarm_stored, alarm_repeat, ...)",
     "cameras.status.counters", ("outcome",)),
    ("cityops_traffic_service", "The traffic service's counts (buckets closed, accident "
     "reports and segments it could not place)", "resources.traffic.counters", ("outcome",)),
    ("cityops_dataset_arrivals_refused", "Data catalog arrivals refused, by path (upload, push, "
     "exchange) and reason (columns, encoding, rows, too_large, blocking, ...)",
     "resources.exchange_refusals", ("path", "reason")),
    ("cityops_camera_views", "Camera views the server computed, by status (ok, and the flagged "
     "inside_building, no_heading, empty), and failed refreshes", "cameras.view_counts",
     ("status",)),
]


def bounded(counts: Mapping[str, int], limit: int = MAX_LABELS) -> list[tuple[str, int]]:
    """The counts with at most `limit` keys: the first ones counted keep their own series, the
    later ones are summed as `other`. First come keeps each series stable from scrape to scrape
    (a rate() over it stays true) and a flood of new reasons cannot push out the known ones."""
    items = list(counts.items())  # a Counter keeps the order keys were first counted
    if len(items) <= limit:
        return items
    kept, rest = items[:limit - 1], items[limit - 1:]
    return [*kept, ("other", sum(n for _k, n in rest))]


def resolve(root: Any, path: str) -> Any:
    """`root.a.b` for path "a.b"; None when any step is missing."""
    obj = root
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _labelled(name: str, doc: str, label: str, counts: Mapping[str, int],
              kind: type = CounterMetricFamily) -> Metric:
    family = kind(name, doc, labels=[label])
    for key, n in bounded(counts):
        family.add_metric([key], n)
    return family


# Ingest -------------------------------------------------------------------------------------

def ingest_ledgers(pipeline: Any, mqtt: Any) -> dict[str, dict[str, int]]:
    """{source: {outcome: n}}, outcome accepted | duplicates | failed | rejected:<reason>, from
    the pipeline's `stored` and `rejects` (source, ...) counters. The MQTT feed's own ledger is
    complete (its parse errors and the pipeline's outcomes, plus records lost to a pipeline
    error), so it stands for mqtt: the pipeline's mqtt rows would count records twice."""
    ledgers: dict[str, dict[str, int]] = {}
    for attr, prefix in (("stored", ""), ("rejects", REJECTED)):
        for (source, outcome), n in dict(getattr(pipeline, attr, None) or {}).items():
            if source == "mqtt" and mqtt is not None:
                continue
            ledger = ledgers.setdefault(source, {})
            ledger[prefix + outcome] = ledger.get(prefix + outcome, 0) + n
    if mqtt is not None:
        counters = dict(mqtt.counters)
        ledgers["mqtt"] = {k: n for k, n in counters.items()
                           if k in ("accepted", "duplicates", "failed") or k.startswith(REJECTED)}
    return ledgers


def ingest_metrics(pipeline: Any, mqtt: Any) -> Iterator[Metric]:
    accepted = CounterMetricFamily("cityops_ingest_accepted", "GPS records stored, by source",
                                   labels=["source"])
    duplicates = CounterMetricFamily("cityops_ingest_duplicates", "GPS records already "
                                     "stored (resent), by source", labels=["source"])
    failed = CounterMetricFamily("cityops_ingest_failed", "GPS records lost to a pipeline "
                                 "error (not the sender's fault), by source", labels=["source"])
    rejected = CounterMetricFamily("cityops_ingest_rejected", "GPS records refused, by source "
                                   "and reason", labels=["source", "reason"])
    for source, ledger in sorted(ingest_ledgers(pipeline, mqtt).items()):
        accepted.add_metric([source], ledger.get("accepted", 0))
        duplicates.add_metric([source], ledger.get("duplicates", 0))
        failed.add_metric([source], ledger.get("failed", 0))
        reasons = {k[len(REJECTED):]: n for k, n in ledger.items() if k.startswith(REJECTED)}
        for reason, n in bounded(reasons):
            rejected.add_metric([source, reason], n)
    yield from (accepted, duplicates, failed, rejected)


def consumer_metrics(pipeline: Any) -> Iterator[Metric]:
    """Per consumer of the position pipeline (names are the assembly's, a bounded set)."""
    if pipeline is None:
        return
    counters, seconds = dict(pipeline.counters), dict(pipeline.seconds)
    failed = CounterMetricFamily("cityops_position_consumer_failures", "Batches a position "
                                 "consumer raised on (the fixes are stored all the same), by "
                                 "consumer", labels=["consumer"])
    spent = CounterMetricFamily("cityops_position_stage_seconds", "Time spent in each stage "
                                "of the position pipeline (storage, each consumer)",
                                labels=["stage"])
    for consumer in (*pipeline.consumers, *pipeline.after_commit):
        failed.add_metric([consumer.name], counters.get(f"failed:{consumer.name}", 0))
    for stage, s in seconds.items():
        spent.add_metric([stage], s)
    yield from (failed, spent)


def mqtt_metrics(mqtt: Any) -> Iterator[Metric]:
    if mqtt is None:
        return
    counters = dict(mqtt.counters)
    yield _gauge("cityops_mqtt_connected", "1 while subscribed to the broker",
                 1 if mqtt.subscribed else 0)
    yield _counter("cityops_mqtt_messages", "MQTT messages received", counters.get("messages", 0))
    yield _counter("cityops_mqtt_connections", "Successful connections to the broker",
                   counters.get("connections", 0))
    yield _counter("cityops_mqtt_disconnects", "Connections to the broker lost",
                   counters.get("disconnects", 0))


# The JT/T 808 gateway -----------------------------------------------------------------------

def gateway_metrics(gateway: Any) -> Iterator[Metric]:
    if gateway is None:
        return
    s = gateway.stats
    yield _gauge("cityops_jt808_connections_open", "JT/T 808 terminal connections open now",
                 s.open_connections)
    yield _counter("cityops_jt808_connections", "JT/T 808 connections accepted", s.connections)
    yield _counter("cityops_jt808_frames", "JT/T 808 frames read", s.frames)
    if (accepted := getattr(s, "accepted", None)) is not None:
        yield _counter("cityops_jt808_frames_accepted", "JT/T 808 frames handled with a "
                       "success answer", accepted)
    if (kinds := getattr(s, "messages", None)) is not None:
        yield _labelled("cityops_jt808_messages", "JT/T 808 frames decoded, by message kind",
                        "kind", dict(kinds))
    if (refused := getattr(s, "refused_registrations", None)) is not None:
        yield _labelled("cityops_jt808_registrations_refused", "JT/T 808 registrations "
                        "(0x0100) refused, by why", "reason", dict(refused))
    yield _counter("cityops_jt808_positions", "Fixes handed from JT/T 808 frames to the "
                   "position pipeline", s.positions)
    yield _labelled("cityops_jt808_frames_rejected", "JT/T 808 frames refused, by reason",
                    "reason", dict(s.rejected))
    yield _labelled("cityops_jt808_connections_closed", "JT/T 808 connections closed, by why",
                    "reason", dict(s.closed))


# The GB/T 28181 SIP listener -----------------------------------------------------------------

def sip_metrics(cameras: Any) -> Iterator[Metric]:
    listener = getattr(cameras, "listener", None)
    if listener is None:
        return
    s = listener.stats
    yield _gauge("cityops_sip_connections_open", "SIP TCP connections open now",
                 s.open_connections)
    yield _counter("cityops_sip_connections", "SIP TCP connections accepted", s.connections)
    yield _counter("cityops_sip_datagrams", "SIP UDP datagrams received", s.datagrams)
    yield _counter("cityops_sip_messages", "SIP messages read (UDP and TCP)", s.messages)
    yield _labelled("cityops_sip_requests", "SIP requests, by method", "method",
                    dict(s.requests))
    yield _labelled("cityops_sip_responses_sent", "SIP responses sent, by status", "status",
                    dict(s.responses_sent))
    for name, doc, value in (
            ("responses_received", "SIP responses received from devices", s.responses_received),
            ("challenges", "REGISTERs answered 401 with a fresh digest challenge", s.challenges),
            ("retransmissions", "UDP requests received again: answered again, not acted on",
             s.retransmissions),
            ("registrations", "Devices registered", s.registrations),
            ("unregistrations", "Devices unregistered (Expires: 0)", s.unregistrations),
            ("keepalives", "Keepalive MESSAGEs", s.keepalives),
            ("catalog_items", "Catalog items applied to the registry", s.catalog_items),
            ("alarms", "Alarm notifies stored", s.alarms)):
        yield _counter(f"cityops_sip_{name}", doc, value)
    yield _labelled("cityops_sip_rejected", "SIP messages refused or dropped, by reason "
                    "(auth_failed, unknown_device, bad_start_line, ...)", "reason",
                    dict(s.rejected))
    yield _labelled("cityops_sip_connections_closed", "SIP TCP connections closed, by why",
                    "reason", dict(s.closed))


# The hub ------------------------------------------------------------------------------------

HUB_COUNTERS = {
    "published": ("cityops_hub_events_published",
                  "Events delivered to this process's hub by the backplane"),
    "serialised": ("cityops_hub_events_serialised", "Events serialised to JSON by this process"),
    "sent": ("cityops_hub_frames_sent", "Frames sent to websocket clients"),
    "dropped": ("cityops_hub_events_dropped",
                "Events dropped from slow clients' bounded queues"),
    "coalesced": ("cityops_hub_events_coalesced", "Position events replaced by a newer one of "
                  "the same vehicle before they were sent"),
    "resyncs": ("cityops_hub_resyncs", "Resync frames queued for clients (events dropped, or "
                "history no longer kept): the client reloads the channel"),
    "revoked": ("cityops_hub_sockets_revoked", "Websockets closed because their session ended "
                "(logout, disabled user, changed role)"),
}
HUB_GAUGES = {
    "clients": ("cityops_hub_clients", "Websocket clients authenticated on the hub"),
    "queued": ("cityops_hub_queued", "Frames waiting in clients' queues"),
    "max_client_queue": ("cityops_hub_max_client_queue", "The longest client queue"),
}


def hub_metrics(hub: Any) -> Iterator[Metric]:
    if hub is None:
        return
    stats = hub.stats()
    for key, (name, doc) in HUB_GAUGES.items():
        yield _gauge(name, doc, stats.get(key, 0))
    for key, (name, doc) in HUB_COUNTERS.items():
        yield _counter(name, doc, stats.get(key, 0))


# Tiles and the database ---------------------------------------------------------------------

def tile_metrics(tiles: Any) -> Iterator[Metric]:
    cache = getattr(tiles, "cache", None)
    if cache is None:
        return
    yield _counter("cityops_tile_cache_hits", "Tiles answered from the cache", cache.hits)
    yield _counter("cityops_tile_cache_misses", "Tiles not in the cache (rendered)",
                   cache.misses)
    yield _gauge("cityops_tile_cache_bytes", "Bytes held by the tile cache", cache.nbytes)
    yield _gauge("cityops_tile_cache_max_bytes", "The tile cache's size limit", cache.max_bytes)
    yield _gauge("cityops_tile_cache_entries", "Tiles held by the cache", len(cache))


POOL_GAUGES = {
    "size": ("cityops_db_pool_size", "Connections the pool keeps (its size setting)"),
    "checkedout": ("cityops_db_pool_checked_out", "Connections in use now"),
    "checkedin": ("cityops_db_pool_idle", "Connections open and idle in the pool"),
    "overflow": ("cityops_db_pool_overflow", "Connections beyond the pool size (negative: "
                 "not yet opened up to the size)"),
}


def pool_metrics(engines: Mapping[str, Any]) -> Iterator[Metric]:
    families = {key: GaugeMetricFamily(name, doc, labels=["pool"])
                for key, (name, doc) in POOL_GAUGES.items()}
    for pool_name, engine in sorted(engines.items()):
        pool = engine.pool
        for key, family in families.items():
            method = getattr(pool, key, None)  # QueuePool; a NullPool has none of these
            if method is not None:
                family.add_metric([pool_name], method())
    yield from families.values()


def table_metrics(state: Any, table: Iterable[tuple[str, str, str, tuple[str, ...]]]
                  ) -> Iterator[Metric]:
    for name, doc, path, labels in table:
        found = resolve(state, path)
        if found is None:
            continue
        if not labels:
            yield _counter(name, doc, found)
            continue
        # Tuple keys joined for the cap, split again for the labels.
        counts = {"\x1f".join(map(str, k if isinstance(k, tuple) else (k,))): n
                  for k, n in dict(found).items()}
        family = CounterMetricFamily(name, doc, labels=list(labels))
        for key, n in bounded(counts):
            parts = key.split("\x1f") if key != "other" else ["other"]
            family.add_metric((parts + ["other"] * len(labels))[:len(labels)], n)
        yield family


class AppCollector(Collector):
    """Reads one app's resources on each scrape (nothing before the lifespan has run)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def describe(self) -> list[Metric]:
        return []  # names depend on what runs (gateway, MQTT); not checked at registration

    def collect(self) -> Iterator[Metric]:
        state = self.app.state
        resources = getattr(state, "resources", None)
        mqtt = getattr(state, "mqtt", None)
        parts = (
            lambda: ingest_metrics(getattr(resources, "positions", None), mqtt),
            lambda: consumer_metrics(getattr(resources, "positions", None)),
            lambda: mqtt_metrics(mqtt),
            lambda: gateway_metrics(getattr(state, "jt808", None)),
            lambda: sip_metrics(getattr(state, "cameras", None)),
            lambda: hub_metrics(getattr(state, "hub", None)),
            lambda: tile_metrics(getattr(resources, "tiles", None)),
            lambda: pool_metrics(getattr(state, "engines", None) or {}),
            lambda: table_metrics(state, COUNTER_TABLE),
        )
        for part in parts:
            try:
                yield from list(part())
            except Exception:  # one broken source must not hide the others
                log.exception("metrics: a collector failed")
