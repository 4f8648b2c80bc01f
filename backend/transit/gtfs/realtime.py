"""GTFS-Realtime VehiclePositions (GTFS-RT 2.0, FULL_DATASET) from the latest fix of every bus in
the fleet register, with ids that match the static feed.

Entity id and vehicle.id are the register's vehicle_id (stable across feeds); label and
license_plate come from the register; speed is in m/s (the fixes carry km/h); route_id is the
line's code, as in routes.txt; trip_id, start_date and start_time are set when the bus is matched
to a scheduled trip (`backend.transit.gtfs.matching` explains how); congestion_level is the
level of the segment the bus is on (the traffic service's, given as `congestion`: vehicle id ->
level 0..5). A bus whose last fix is older
than `stale_after_s` is left out. The feed is built at most once per `max_age_s` and the same
bytes are served in between, to any number of consumers (thread-safe).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from google.protobuf import json_format
from google.transit import gtfs_realtime_pb2 as rt

from backend.transit.gtfs.matching import Fix, Placement, Schedule
from backend.transit.gtfs.static import StaticGtfs, clock

MAX_FUTURE = timedelta(minutes=5)  # fixes from terminals whose clocks run ahead
# Traffic levels (0 unknown, 1 畅通 ... 5 严重拥堵) as GTFS-RT CongestionLevel.
CONGESTION = {
    1: rt.VehiclePosition.RUNNING_SMOOTHLY, 2: rt.VehiclePosition.RUNNING_SMOOTHLY,
    3: rt.VehiclePosition.STOP_AND_GO, 4: rt.VehiclePosition.CONGESTION,
    5: rt.VehiclePosition.SEVERE_CONGESTION,
}
CongestionOf = Callable[[str], int]

FIXES = sa.text("""
SELECT v.vehicle_id, v.label, v.plate, l.code, p.time, p.lon, p.lat, p.speed_kmh, p.heading_deg
FROM vehicle_latest p
JOIN vehicles v ON v.vehicle_id = p.vehicle_id
LEFT JOIN bus_lines l ON l.id = v.line_id
WHERE v.active AND v.vehicle_class = 'bus' AND p.time >= :since AND p.time <= :until
ORDER BY v.vehicle_id""")


@dataclass(frozen=True, slots=True)
class VehicleRow:
    vehicle_id: str
    label: str | None
    plate: str | None
    line_code: str | None
    time: datetime
    lon: float
    lat: float
    speed_kmh: float | None
    heading_deg: float | None


def load_vehicles(conn: sa.Connection, now: datetime, stale_after_s: float) -> list[VehicleRow]:
    since = now - timedelta(seconds=stale_after_s)
    return [VehicleRow(*r) for r in conn.execute(FIXES, {"since": since,
                                                         "until": now + MAX_FUTURE})]


def build_message(rows: list[VehicleRow], schedule: Schedule, now: datetime,
                  congestion: CongestionOf | None = None) -> rt.FeedMessage:
    """The FeedMessage (pure): one entity per bus."""
    routes = {r.route_id for r in schedule.feed.routes}
    fixes = [Fix(r.vehicle_id, r.line_code, r.time, r.lon, r.lat, r.heading_deg, r.speed_kmh)
             for r in rows if r.line_code in routes]
    placements, matches = schedule.match(fixes)
    message = rt.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.incrementality = rt.FeedHeader.FULL_DATASET
    message.header.timestamp = int(now.timestamp())
    for r in rows:
        entity = message.entity.add()
        entity.id = r.vehicle_id
        vp = entity.vehicle
        vp.vehicle.id = r.vehicle_id
        if r.label:
            vp.vehicle.label = r.label
        if r.plate:
            vp.vehicle.license_plate = r.plate
        vp.position.latitude = r.lat
        vp.position.longitude = r.lon
        if r.heading_deg is not None:
            vp.position.bearing = r.heading_deg
        if r.speed_kmh is not None:
            vp.position.speed = r.speed_kmh / 3.6  # GTFS-RT speed is in metres per second
        vp.timestamp = int(r.time.timestamp())
        level = congestion(r.vehicle_id) if congestion is not None else 0
        if level in CONGESTION:  # unknown stays UNKNOWN_CONGESTION_LEVEL (the default)
            vp.congestion_level = CONGESTION[level]
        if r.line_code not in routes:
            continue  # no line, or a line the static feed leaves out: no trip descriptor
        vp.trip.route_id = r.line_code
        placement = placements.get(r.vehicle_id)
        if placement is None:
            continue
        vp.trip.direction_id = placement.direction_id
        match = matches.get(r.vehicle_id)
        if match is None:
            continue
        vp.trip.trip_id = match.trip.trip_id
        vp.trip.start_date = match.service_day.strftime("%Y%m%d")
        vp.trip.start_time = clock(match.trip.start_s)
        vp.trip.schedule_relationship = rt.TripDescriptor.SCHEDULED
        _stop(vp, placement, r.speed_kmh)
    return message


def _stop(vp: rt.VehiclePosition, placement: Placement, speed_kmh: float | None) -> None:
    k, stopped = placement.stop_state(speed_kmh)
    vp.current_stop_sequence = k + 1  # stop_sequence in stop_times.txt counts from 1
    vp.stop_id = placement.pattern.stop_ids[k]
    vp.current_status = (rt.VehiclePosition.STOPPED_AT if stopped
                         else rt.VehiclePosition.IN_TRANSIT_TO)


@dataclass
class Snapshot:
    message: rt.FeedMessage
    payload: bytes  # the serialised FeedMessage
    _json: list[str] = field(default_factory=list, repr=False)

    def json(self) -> str:
        """The same feed as JSON for people (GTFS-RT field names, UTF-8)."""
        if not self._json:
            self._json.append(json_format.MessageToJson(
                self.message, preserving_proto_field_name=True, ensure_ascii=False))
        return self._json[0]


class RealtimeGtfs:
    """The served VehiclePositions feed, built at most once per `max_age_s`. `now` (wall time)
    and `monotonic` (the cache's age) are injectable, so tests need not sleep."""

    def __init__(self, engine: sa.Engine, static: StaticGtfs, *, max_age_s: float,
                 stale_after_s: float, now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 monotonic: Callable[[], float] = time.monotonic,
                 congestion: CongestionOf | None = None) -> None:
        self.engine = engine
        self.static = static
        self.max_age_s = max_age_s
        self.stale_after_s = stale_after_s
        self.now = now
        self.monotonic = monotonic
        self.congestion = congestion
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._built_at = float("-inf")
        self._schedule: tuple[str, Schedule] | None = None

    def _schedule_for(self) -> Schedule:
        built = self.static.current()
        if self._schedule is None or self._schedule[0] != built.etag:
            self._schedule = (built.etag, Schedule(built.feed))
        return self._schedule[1]

    def current(self) -> Snapshot:
        with self._lock:
            if self._snapshot is not None and \
                    self.monotonic() - self._built_at < self.max_age_s:
                return self._snapshot
            schedule = self._schedule_for()
            now = self.now()
            with self.engine.connect() as conn:
                rows = load_vehicles(conn, now, self.stale_after_s)
            message = build_message(rows, schedule, now, self.congestion)
            self._snapshot = Snapshot(message, message.SerializeToString())
            self._built_at = self.monotonic()
            return self._snapshot

    def invalidate(self) -> None:
        with self._lock:
            self._built_at = float("-inf")
