"""Bus-line operations, pure (no DB, no asyncio, no clock but the `now` passed in): where each
bus of a line is along it, which way it runs, its next stop and ETA, the headways between
consecutive buses and bunching with hysteresis.

Buses shuttle out and back along their line, so a line's service is a loop of twice its length:
a bus at `progress_m` along the line is at loop position `progress_m` outbound and
`2 L - progress_m` inbound. The leader of a bus is the next bus ahead on that loop, which keeps
a pair together when the leader turns at a terminus (no leaderless follower, no alarm that
flaps at every turn-round); such a pair is marked `across_terminus`.

Decisions:
- Direction: the fix's heading against the line's bearing at the bus's place (within
  `heading_margin_deg` of the bearing: outbound; of its reverse: inbound). A heading across the
  line (at a corner), missing, or from a bus slower than `min_heading_speed_kmh` (terminals
  repeat a stale heading when stopped) decides nothing; then the change in progress since the
  previous fix decides when it is at least `min_progress_m`, else the direction last inferred.
  Bearings are in the metric grid (EPSG:4548); its grid north is within 1 degree of true north
  in the county, far inside the margin.
- ETA: remaining distance along the line / the recent speed (the mean of the fix's and the
  previous fix's reported speeds), never slower than `eta_floor_kmh` (10 km/h): a bus stopped at
  a light or a stop reports 0 km/h, which says more about the last half minute than about the
  next minutes; 10 km/h is about a county-town bus's average speed in slow traffic with its
  dwell times, so the ETA of a stopped bus is finite and on the cautious side.
- A bus farther than `max_offset_m` from its line (a detour) has no direction or next stop and
  is left out of the headways, as is a bus whose last fix is older than `offline_after_s`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

import shapely

from backend.ingest.position import Position
from backend.vehicles.service import AlarmEvent, FleetLine, LineStop, make_event, project

Direction = Literal["outbound", "inbound"]
DirectionSource = Literal["heading", "progress", "previous"]
DIRECTIONS: tuple[Direction, Direction] = ("outbound", "inbound")
BUNCHING = "bunching"  # the alarm kind


@dataclass(frozen=True, slots=True)
class OperationsParams:
    offline_after_s: float = 120.0      # a last fix older than this: offline
    max_offset_m: float = 100.0         # farther from the line: not on it (a detour)
    eta_floor_kmh: float = 10.0         # slowest speed an ETA or a time headway assumes
    heading_margin_deg: float = 60.0    # heading this close to the bearing (or its reverse)
    min_heading_speed_kmh: float = 3.0  # slower: the reported heading is not trusted
    min_progress_m: float = 5.0         # smaller change in progress says nothing
    recent_s: float = 120.0             # a previous fix older than this is not "recent" speed
    at_stop_m: float = 10.0             # a stop this close ahead is where the bus is, not next
    bunching_gap_m: float = 150.0       # a follower closer than this to its leader is bunched,
    bunching_headway_s: float = 60.0    # ... or less than this many seconds behind it;
    clear_gap_m: float = 300.0          # it is clear again only beyond this gap
    clear_headway_s: float = 120.0      # ... and this time headway (hysteresis)


@dataclass(frozen=True, slots=True)
class NextStop:
    seq: int
    stop_id: int
    code: str
    name: str
    distance_m: float      # along the line in the direction of travel (through a turn-round)
    eta_s: float | None    # None when the bus is offline

    def as_dict(self) -> dict[str, object]:
        return {"seq": self.seq, "code": self.code, "name": self.name,
                "distance_m": round(self.distance_m, 1),
                "eta_s": None if self.eta_s is None else round(self.eta_s)}


@dataclass(frozen=True, slots=True)
class VehicleProgress:
    vehicle_id: str
    fix: Position
    age_s: float
    online: bool
    offset_m: float                 # distance from the line
    on_line: bool
    progress_m: float               # metres from the line's start, of its nearest point
    fraction: float                 # progress_m / line length
    direction: Direction | None
    direction_from: DirectionSource | None
    speed_kmh: float | None         # the recent speed (before the ETA floor)
    next_stop: NextStop | None
    loop_m: float | None            # place on the out-and-back loop (None: not in headways)

    def as_dict(self) -> dict[str, object]:
        return {
            "vehicle_id": self.vehicle_id, "time": self.fix.time.isoformat(),
            "lon": self.fix.lon, "lat": self.fix.lat, "speed_kmh": self.fix.speed_kmh,
            "heading_deg": self.fix.heading_deg, "online": self.online,
            "on_line": self.on_line, "offset_m": round(self.offset_m, 1),
            "progress_m": round(self.progress_m, 1), "fraction": round(self.fraction, 4),
            "direction": self.direction,
            "next_stop": None if self.next_stop is None else self.next_stop.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class Headway:
    leader: str
    follower: str
    direction: Direction          # the follower's
    leader_direction: Direction
    gap_m: float                  # along the line (through the turn-round when across_terminus)
    headway_s: float              # gap at the follower's recent speed (floored)
    across_terminus: bool         # the follower turns round before it reaches the leader

    def as_dict(self) -> dict[str, object]:
        return {"leader": self.leader, "follower": self.follower, "direction": self.direction,
                "leader_direction": self.leader_direction, "gap_m": round(self.gap_m, 1),
                "headway_s": round(self.headway_s), "across_terminus": self.across_terminus}


@dataclass(frozen=True, slots=True)
class LineOperations:
    line_id: int
    line_code: str
    length_m: float
    vehicles: tuple[VehicleProgress, ...]   # in the order given
    headways: tuple[Headway, ...]           # one per bus in service when at least two are

    def vehicle(self, vehicle_id: str) -> VehicleProgress | None:
        return next((v for v in self.vehicles if v.vehicle_id == vehicle_id), None)

    def headway_of(self, follower: str) -> Headway | None:
        return next((h for h in self.headways if h.follower == follower), None)

    def headways_in(self, direction: Direction) -> list[Headway]:
        """The pairs whose follower runs in `direction`, front of the line first."""
        by_id = {v.vehicle_id: v for v in self.vehicles}
        sign = -1.0 if direction == "outbound" else 1.0
        return sorted((h for h in self.headways if h.direction == direction),
                      key=lambda h: (sign * by_id[h.follower].progress_m, h.follower))


# Geometry ----------------------------------------------------------------------------------


def _bearing_deg(line: FleetLine, progress_m: float, half_window_m: float = 10.0) -> float:
    """The line's grid bearing (0 = north, clockwise) around `progress_m`, in the outbound
    direction."""
    path = line.geometry.path
    a = path.interpolate(max(progress_m - half_window_m, 0.0))
    b = path.interpolate(min(progress_m + half_window_m, path.length))
    return math.degrees(math.atan2(b.x - a.x, b.y - a.y)) % 360.0


def angle_between(a_deg: float, b_deg: float) -> float:
    """The smaller angle between two bearings, 0..180."""
    d = abs(a_deg - b_deg) % 360.0
    return 360.0 - d if d > 180.0 else d


def _locate(line: FleetLine, fix: Position) -> tuple[float, float]:
    """(progress_m, offset_m) of a fix: its nearest point on the line."""
    pt = shapely.Point(project(fix.lon, fix.lat))
    path = line.geometry.path
    return float(path.project(pt)), float(path.distance(pt))


# One vehicle -------------------------------------------------------------------------------


def infer_direction(
    line: FleetLine,
    fix: Position,
    progress_m: float,
    previous: tuple[Position, float] | None = None,
    last: Direction | None = None,
    params: OperationsParams = OperationsParams(),
) -> tuple[Direction | None, DirectionSource | None]:
    """Heading against the line's bearing, else the change in progress since `previous`
    ((fix, its progress_m)), else the direction `last` inferred."""
    p = params
    trusted = fix.heading_deg is not None and (
        fix.speed_kmh is None or fix.speed_kmh >= p.min_heading_speed_kmh)
    if trusted:
        assert fix.heading_deg is not None
        off = angle_between(fix.heading_deg, _bearing_deg(line, progress_m))
        if off <= p.heading_margin_deg:
            return "outbound", "heading"
        if off >= 180.0 - p.heading_margin_deg:
            return "inbound", "heading"
    if previous is not None and previous[0].time < fix.time:
        moved = progress_m - previous[1]
        if abs(moved) >= p.min_progress_m:
            return ("outbound" if moved > 0 else "inbound"), "progress"
    if last is not None:
        return last, "previous"
    return None, None


def recent_speed_kmh(fix: Position, previous: tuple[Position, float] | None,
                     progress_m: float, params: OperationsParams = OperationsParams()
                     ) -> float | None:
    """The mean of the reported speeds of the fix and of a recent previous fix; without
    reported speeds, the change in progress over the time between them."""
    recent = previous if previous is not None and 0 < (
        fix.time - previous[0].time).total_seconds() <= params.recent_s else None
    reported = [s for s in (fix.speed_kmh, recent[0].speed_kmh if recent else None)
                if s is not None]
    if reported:
        return sum(reported) / len(reported)
    if recent is not None:
        dt = (fix.time - recent[0].time).total_seconds()
        return abs(progress_m - recent[1]) / dt * 3.6
    return None


def next_stop(
    stops: tuple[LineStop, ...], length_m: float, progress_m: float, direction: Direction,
    at_stop_m: float = 10.0,
) -> tuple[LineStop, float] | None:
    """The first stop more than `at_stop_m` ahead in the direction of travel (a closer one is
    where the bus is now) and the distance to it. With none ahead (at or past the terminus) the
    bus turns round: the first stop on the way back, the distance running through the line's
    end."""
    if not stops:
        return None
    if direction == "outbound":
        ahead = [s for s in stops if s.distance_m > progress_m + at_stop_m]
        if ahead:
            return ahead[0], ahead[0].distance_m - progress_m
        back = [s for s in stops if s.distance_m < progress_m - at_stop_m] or [stops[0]]
        stop = back[-1]
        return stop, max(length_m - progress_m, 0.0) + max(length_m - stop.distance_m, 0.0)
    ahead = [s for s in stops if s.distance_m < progress_m - at_stop_m]
    if ahead:
        return ahead[-1], progress_m - ahead[-1].distance_m
    back = [s for s in stops if s.distance_m > progress_m + at_stop_m] or [stops[-1]]
    stop = back[0]
    return stop, max(progress_m, 0.0) + max(stop.distance_m, 0.0)


def vehicle_progress(
    line: FleetLine,
    fix: Position,
    previous: Position | None = None,
    *,
    now: datetime,
    last_direction: Direction | None = None,
    params: OperationsParams = OperationsParams(),
) -> VehicleProgress:
    p = params
    length = float(line.geometry.path.length)
    progress, offset = _locate(line, fix)
    prev = (previous, _locate(line, previous)[0]) if previous is not None else None
    age = (now - fix.time).total_seconds()
    online = age <= p.offline_after_s
    on_line = offset <= p.max_offset_m
    speed = recent_speed_kmh(fix, prev, progress, p)
    direction: Direction | None = None
    source: DirectionSource | None = None
    stop: NextStop | None = None
    loop: float | None = None
    if on_line:
        direction, source = infer_direction(line, fix, progress, prev, last_direction, p)
    if direction is not None:
        found = next_stop(line.stops, length, progress, direction, p.at_stop_m)
        if found is not None:
            s, dist = found
            eta = dist / (max(speed or 0.0, p.eta_floor_kmh) / 3.6) if online else None
            stop = NextStop(s.seq, s.stop_id, s.code, s.name, dist, eta)
        if online:
            loop = progress if direction == "outbound" else 2 * length - progress
    return VehicleProgress(
        vehicle_id=fix.vehicle_id, fix=fix, age_s=age, online=online, offset_m=offset,
        on_line=on_line, progress_m=progress, fraction=progress / length if length else 0.0,
        direction=direction, direction_from=source, speed_kmh=speed, next_stop=stop,
        loop_m=loop)


# A line ------------------------------------------------------------------------------------


def headways(vehicles: Iterable[VehicleProgress], length_m: float,
             params: OperationsParams = OperationsParams()) -> list[Headway]:
    """Each bus in service (online, on the line, direction known) behind the next one ahead
    on the out-and-back loop; none when fewer than two are in service."""
    running = sorted((v for v in vehicles if v.loop_m is not None),
                     key=lambda v: (v.loop_m, v.vehicle_id))
    if len(running) < 2:
        return []
    loop = 2 * length_m
    out = []
    for i, follower in enumerate(running):
        leader = running[(i + 1) % len(running)]
        assert follower.loop_m is not None and leader.loop_m is not None
        assert follower.direction is not None and leader.direction is not None
        wraps = i == len(running) - 1  # the front bus's leader is the rearmost, a loop on
        gap = leader.loop_m - follower.loop_m + (loop if wraps else 0.0)
        speed = max(follower.speed_kmh or 0.0, params.eta_floor_kmh) / 3.6
        turns = wraps or leader.direction != follower.direction
        out.append(Headway(leader.vehicle_id, follower.vehicle_id, follower.direction,
                           leader.direction, gap, gap / speed, turns))
    return out


def line_operations(
    line: FleetLine,
    fixes: Iterable[Position],
    previous: Mapping[str, Position] | None = None,
    *,
    now: datetime,
    directions: Mapping[str, Direction] | None = None,
    params: OperationsParams = OperationsParams(),
) -> LineOperations:
    """The operations of one line from the latest fix of each of its vehicles, optionally
    each vehicle's previous fix and the direction last inferred for it."""
    previous = previous or {}
    directions = directions or {}
    vehicles = tuple(
        vehicle_progress(line, f, previous.get(f.vehicle_id), now=now,
                         last_direction=directions.get(f.vehicle_id), params=params)
        for f in fixes)
    length = float(line.geometry.path.length)
    return LineOperations(line.id, line.code, length, vehicles,
                          tuple(headways(vehicles, length, params)))


# Bunching ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bunched:
    """A follower flagged as bunched behind its leader (the hysteresis state)."""

    follower: str
    leader: str
    line_id: int
    direction: Direction | None
    since: datetime
    gap_m: float
    headway_s: float
    position: Position   # the follower's last fix seen (for a clear when it is gone)


BunchingState = Mapping[str, Bunched]   # follower vehicle_id -> flag


def is_bunched(h: Headway, params: OperationsParams = OperationsParams()) -> bool:
    return h.gap_m < params.bunching_gap_m or h.headway_s < params.bunching_headway_s


def is_clear(h: Headway, params: OperationsParams = OperationsParams()) -> bool:
    return h.gap_m > params.clear_gap_m and h.headway_s > params.clear_headway_s


def step_bunching(
    state: BunchingState, ops: LineOperations, params: OperationsParams = OperationsParams()
) -> tuple[dict[str, Bunched], list[AlarmEvent]]:
    """Raise `bunching` on a follower closer to its leader than the bunching thresholds, clear
    it beyond the clear thresholds, hold it in between. A flagged follower that is no longer
    measured (offline, off the line, moved to another line, the last bus left) is cleared:
    its gap is unknown. Flags of other lines pass through unchanged."""
    out = {k: b for k, b in state.items() if b.line_id != ops.line_id}
    events: list[AlarmEvent] = []
    pairs = {h.follower: h for h in ops.headways}
    fixes = {v.vehicle_id: v.fix for v in ops.vehicles}

    def details(h: Headway) -> dict[str, object]:
        return {"leader": h.leader, "gap_m": round(h.gap_m, 1), "headway_s": round(h.headway_s),
                "direction": h.direction, "line_id": ops.line_id, "line_code": ops.line_code}

    for follower, b in state.items():
        if b.line_id != ops.line_id:
            continue
        h = pairs.get(follower)
        if h is None:
            last = fixes.get(follower, b.position)
            if last.time < b.position.time:
                last = b.position
            events.append(make_event(
                BUNCHING, "cleared", last, "warning", b.since, leader=b.leader,
                reason="not_measured", line_id=ops.line_id, line_code=ops.line_code))
        elif is_clear(h, params):
            events.append(make_event(BUNCHING, "cleared", fixes[follower], "warning", b.since,
                                     **details(h)))
        else:
            out[follower] = replace(b, leader=h.leader, direction=h.direction, gap_m=h.gap_m,
                                    headway_s=h.headway_s, position=fixes[follower])
    for follower, h in pairs.items():
        if follower in state and state[follower].line_id == ops.line_id:
            continue
        if is_bunched(h, params):
            fix = fixes[follower]
            out[follower] = Bunched(follower, h.leader, ops.line_id, h.direction, fix.time,
                                    h.gap_m, h.headway_s, fix)
            events.append(make_event(BUNCHING, "raised", fix, "warning", fix.time,
                                     **details(h)))
    return out, events


def bunched_pairs(state: BunchingState, line_id: int) -> list[Bunched]:
    return sorted((b for b in state.values() if b.line_id == line_id), key=lambda b: b.follower)
