"""Which scheduled trip of the static feed a bus is running (pure: no database, no clock).

A fix is matched in three steps:
1. **On its line, in a direction.** The fix is projected onto its line (EPSG:4548 metres). More
   than OFF_LINE_M from it, or with no heading, the bus gets its route but no trip. Otherwise the
   heading is compared with the line's bearing at that point: within DIRECTION_TOLERANCE_DEG of
   it is direction 0 (along the line's geometry), of its reverse direction 1; across the line
   (a turn, a U-turn) is undecided, so no trip.
2. **Candidate trips.** The trips of that route and direction whose service runs on the fix's
   service day (the day in the agency's time zone, or the day before for times past 24:00) and
   whose run covers the fix's time, widened by EARLY_S before the first departure (a bus waiting
   at the terminus) and LATE_S after the last arrival (a late bus).
3. **Nearest by position, one bus per trip.** For each candidate, where the schedule puts that
   trip at the fix's time (interpolated between stop times) is compared with where the bus is
   along the line. Over all buses at once, the closest (bus, trip) pairs are taken first and
   each trip goes to one bus only, so two bunched buses are not both given the same trip; a
   bus farther than MAX_OFFSET_M from every remaining candidate gets its route without a trip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import shapely
from shapely.geometry import LineString

from backend.transit.gtfs.static import Feed, Pattern, Trip, metric

OFF_LINE_M = 150.0
DIRECTION_TOLERANCE_DEG = 75.0
EARLY_S = 10 * 60
LATE_S = 15 * 60
MAX_OFFSET_M = 2500.0
AT_STOP_M = 30.0          # a bus this close to a stop, and slow, is STOPPED_AT it
STOPPED_KMH = 5.0


@dataclass(frozen=True, slots=True)
class Fix:
    vehicle_id: str
    route_id: str
    time: datetime  # with its offset
    lon: float
    lat: float
    heading_deg: float | None
    speed_kmh: float | None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a bus is on its route: the direction it runs and how far it has come."""

    direction_id: int
    run_m: float    # from the first stop of that direction, in bus_line_stops.distance_m units
    pattern: Pattern

    def stop_state(self, speed_kmh: float | None) -> tuple[int, bool]:
        """(index of the stop, stopped at it?): the stop it stands at, or the next one."""
        runs = self.pattern.run_m
        k = int(np.argmin([abs(r - self.run_m) for r in runs]))
        slow = speed_kmh is None or speed_kmh <= STOPPED_KMH
        if abs(runs[k] - self.run_m) <= AT_STOP_M and slow:
            return k, True
        nxt = next((i for i, r in enumerate(runs) if r > self.run_m), len(runs) - 1)
        return nxt, False


@dataclass(frozen=True, slots=True)
class Match:
    trip: Trip
    service_day: date
    offset_m: float  # how far the bus is from where the schedule puts the trip


@dataclass(frozen=True)
class _RouteShape:
    path: LineString    # direction 0, EPSG:4548
    to_line_m: float    # metres along `path` -> bus_line_stops.distance_m units
    first_m: float      # distance_m of the first and the last stop
    last_m: float


def _bearing(dx: float, dy: float) -> float:
    return math.degrees(math.atan2(dx, dy)) % 360.0


def _angle(a: float, b: float) -> float:
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


class Schedule:
    """The static feed indexed for matching: route shapes in metres, trips by route and
    direction, each pattern's position-time profile."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.tz = feed.timezone
        self.shapes: dict[str, _RouteShape] = {}
        self.patterns: dict[tuple[str, int], Pattern] = {}
        self.trips: dict[tuple[str, int], list[Trip]] = {}
        self._profiles: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for p in feed.patterns:
            self.patterns[(p.route_id, p.direction_id)] = p
            times = np.array([t for a, d in zip(p.arrive_s, p.depart_s, strict=True)
                              for t in (a, d)], dtype=float)
            runs = np.repeat(np.array(p.run_m, dtype=float), 2)
            self._profiles[p.shape_id] = (times, runs)
        for r in feed.routes:
            path = LineString(metric(r.path))
            shapely.prepare(path)
            line_m = [p.line_m for p in feed.patterns if p.route_id == r.route_id][0]
            self.shapes[r.route_id] = _RouteShape(path, r.length_ref_m / path.length,
                                                  min(line_m), max(line_m))
        for t in feed.trips:
            self.trips.setdefault((t.pattern.route_id, t.pattern.direction_id), []).append(t)

    def place(self, fix: Fix) -> Placement | None:
        shape = self.shapes.get(fix.route_id)
        if shape is None or fix.heading_deg is None:
            return None
        x, y = metric([(fix.lon, fix.lat)])[0]
        point = shapely.Point(x, y)
        if shape.path.distance(point) > OFF_LINE_M:
            return None
        s = shape.path.project(point)
        a = shape.path.interpolate(max(s - 15.0, 0.0))
        b = shape.path.interpolate(min(s + 15.0, shape.path.length))
        if a.equals(b):
            return None
        along = _bearing(b.x - a.x, b.y - a.y)
        diff = _angle(fix.heading_deg, along)
        if diff <= DIRECTION_TOLERANCE_DEG:
            direction = 0
        elif diff >= 180.0 - DIRECTION_TOLERANCE_DEG:
            direction = 1
        else:
            return None
        line_m = s * shape.to_line_m
        pattern = self.patterns[(fix.route_id, direction)]
        run = line_m - shape.first_m if direction == 0 else shape.last_m - line_m
        return Placement(direction, min(max(run, 0.0), pattern.run_m[-1]), pattern)

    def scheduled_run_m(self, trip: Trip, at_s: float) -> float:
        """Where the schedule puts the trip `at_s` seconds past midnight of its service day."""
        times, runs = self._profiles[trip.pattern.shape_id]
        return float(np.interp(at_s - trip.start_s, times, runs))

    def candidates(self, fix: Fix, placement: Placement) -> list[Match]:
        local = fix.time.astimezone(self.tz)
        secs = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        out = []
        trips = self.trips.get((fix.route_id, placement.direction_id), [])
        for back in (0, 1):
            day = local.date() - timedelta(days=back)
            at = secs + 86400 * back
            services = self.feed.services_on(day)
            for t in trips:
                if t.service_id in services and t.start_s - EARLY_S <= at <= t.end_s + LATE_S:
                    offset = abs(self.scheduled_run_m(t, at) - placement.run_m)
                    if offset <= MAX_OFFSET_M:
                        out.append(Match(t, day, offset))
        return out

    def match(self, fixes: list[Fix]) -> tuple[dict[str, Placement], dict[str, Match]]:
        """Placements of the buses on their lines, and the trips matched to them."""
        placements: dict[str, Placement] = {}
        pairs: list[tuple[float, str, str, Match]] = []
        for fix in fixes:
            placement = self.place(fix)
            if placement is None:
                continue
            placements[fix.vehicle_id] = placement
            pairs += [(m.offset_m, fix.vehicle_id, m.trip.trip_id, m)
                      for m in self.candidates(fix, placement)]
        matches: dict[str, Match] = {}
        taken: set[tuple[str, date]] = set()
        for _, vehicle_id, trip_id, m in sorted(pairs, key=lambda p: p[:3]):
            if vehicle_id in matches or (trip_id, m.service_day) in taken:
                continue
            matches[vehicle_id] = m
            taken.add((trip_id, m.service_day))
        return placements, matches
