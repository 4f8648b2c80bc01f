"""The pure half of the traffic-peak scenario: every simulated taxi's and private car's fixes
over the county seat's roads, with ground truth, computed up front.

Given the scenario (backend.catalog.traffic_scenarios), the road network (already loaded by the
caller: backend.traffic.network) and the pilot segments as ordered directed segment keys, it
plans:
  - the fixes (noisy WGS-84 positions every fix_interval_s per vehicle) and, for each, the true
    directed segment key and true position;
  - every completed traversal of a segment (vehicle, entry and exit second);
  - the true space-mean speed per segment and five-minute bucket (total length over total time
    of the traversals exiting in the bucket, distinct vehicles): what the probe engine should
    publish; `window()` gives it for any window, as ProbeEngine.window does;
  - the typical speed per segment and time-of-week slot for the run's slots (the speed without
    the wave and the accident), to seed traffic_typical;
  - the accident: which taxi, where, when, and the case the 122 hotline files.
No I/O and no clock: the same scenario, network, pilots and start give the same plan. The
vehicles' motion does not depend on the fix interval or the noise (separate random streams),
so the matching benchmark can sample the same traffic at 10, 30 and 60 s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from backend.catalog.traffic_scenarios import TrafficScenario
from backend.ingest.jt808.alarm_bits import encode_alarms
from backend.ingest.position import Position
from backend.simulation.traffic_motion import (
    Graph,
    Log,
    SpeedsAt,
    Trips,
    crash_taxi,
    drive,
    pilot_keys,
    point_at,
    seat_bbox,
)
from backend.traffic.network import TO_WGS84, RoadNetwork, segment_key
from backend.traffic.speeds import SegmentSpeed
from backend.traffic.typical import slot_of

BUCKET_S = 300
STATUS_ACC_ON_FIXED = 0b11   # JT/T 808 status bits 0 (ACC on) and 1 (positioned)
PILOT_FOCUS = 3.0            # the wave's and the accident's pilots: 3x the trips of another
APPEAR_WITHIN_S = 60
# fleet key -> the register's vehicle_class; others "other". Private cars are probes: their
# positions feed the traffic speeds and are never shown one by one (backend/vehicles/fleet.py).
VEHICLE_CLASS = {"taxi": "taxi", "private": "probe"}


class PlanError(ValueError):
    """The scenario does not fit the network (a pilot code missing, no drivable road)."""


class TypicalRow(NamedTuple):
    segment: int
    slot: int          # 0..2015: five-minute slot of the week from Monday 00:00 local
    speed_kmh: float


@dataclass(frozen=True, slots=True)
class SimVehicle:
    vehicle_id: str
    fleet: str
    label: str
    vehicle_class: str
    operator: str | None
    speed_factor: float


@dataclass(frozen=True)
class Fixes:
    """Columns, one row per fix, ordered by time then vehicle."""

    vehicle: np.ndarray      # int: index into TrafficPlan.vehicles
    t_s: np.ndarray          # int: seconds after the plan's start
    lon: np.ndarray          # reported (with GPS error), WGS-84
    lat: np.ndarray
    true_lon: np.ndarray
    true_lat: np.ndarray
    speed_kmh: np.ndarray
    heading_deg: np.ndarray  # int 0..359
    alarm: np.ndarray        # int: JT/T 808 alarm DWORD
    segment: np.ndarray      # int: the true directed segment key

    def __len__(self) -> int:
        return len(self.t_s)


@dataclass(frozen=True)
class Traversals:
    """Completed passes over a segment (entered at its start node, left at its end node)."""

    vehicle: np.ndarray
    segment: np.ndarray
    entry_s: np.ndarray      # float seconds after the plan's start
    exit_s: np.ndarray
    length_m: np.ndarray

    def __len__(self) -> int:
        return len(self.exit_s)


@dataclass(frozen=True)
class AccidentTruth:
    vehicle_id: str
    segment: int
    lon: float
    lat: float
    at: datetime
    until: datetime
    reported_at: datetime
    category: str
    description: str
    reporter_name: str


@dataclass(frozen=True)
class TrafficPlan:
    scenario: TrafficScenario
    start: datetime
    fix_interval_s: int
    noise_m: float
    vehicles: tuple[SimVehicle, ...]
    fixes: Fixes
    traversals: Traversals
    truth: tuple[SegmentSpeed, ...]    # per segment and five-minute bucket, every vehicle
    typical: tuple[TypicalRow, ...]
    segments: np.ndarray               # every drivable directed segment key
    wave_segments: tuple[int, ...]     # in travel order
    accident_segments: tuple[int, ...]
    accident: AccidentTruth

    def time_of(self, t_s: float) -> datetime:
        return self.start + timedelta(seconds=float(t_s))

    def ticks(self, tick_s: float | None = None) -> list[tuple[float, int, int]]:
        """(end second, first fix, last fix + 1) of each tick: the fixes taken in
        [end - tick_s, end), one batch for the runner."""
        tick = tick_s or self.scenario.tick_s
        n = math.ceil((self.scenario.duration_s + 1) / tick)
        ends = np.arange(1, n + 1) * tick
        cuts = np.searchsorted(self.fixes.t_s, ends, side="left")
        lo = np.r_[0, cuts[:-1]]
        return [(float(e), int(a), int(b)) for e, a, b in zip(ends, lo, cuts, strict=True)]

    def records(self, lo: int = 0, hi: int | None = None) -> list[dict[str, Any]]:
        """Fixes lo..hi as POST /api/ingest/positions records."""
        f = self.fixes
        out = []
        for i in range(lo, len(f) if hi is None else hi):
            out.append({
                "vehicle_id": self.vehicles[f.vehicle[i]].vehicle_id,
                "time": self.time_of(f.t_s[i]).isoformat(),
                "lon": float(f.lon[i]), "lat": float(f.lat[i]),
                "speed_kmh": float(f.speed_kmh[i]), "heading_deg": float(f.heading_deg[i]),
                "alarm_flags": int(f.alarm[i]), "status_flags": STATUS_ACC_ON_FIXED})
        return out

    def positions(self, lo: int = 0, hi: int | None = None) -> list[Position]:
        """Fixes lo..hi as pipeline records (to feed a consumer such as the probe engine)."""
        return [Position(vehicle_id=r["vehicle_id"], time=datetime.fromisoformat(r["time"]),
                         lon=r["lon"], lat=r["lat"], speed_kmh=r["speed_kmh"],
                         heading_deg=r["heading_deg"], alarm_flags=r["alarm_flags"],
                         status_flags=r["status_flags"], source="http")
                for r in self.records(lo, hi)]

    def window(self, end: datetime, span: timedelta = timedelta(minutes=5), *,
               min_vehicles: int = 1) -> list[SegmentSpeed]:
        """True speeds of the traversals exiting in [end - span, end), per segment (the
        ground truth of ProbeEngine.window)."""
        hi = (end - self.start).total_seconds()
        lo = hi - span.total_seconds()
        tr = self.traversals
        keep = (tr.exit_s >= lo) & (tr.exit_s < hi)
        return [replace(s, start=end - span, end=end)
                for s in _space_mean(tr, keep, np.zeros(len(tr), dtype=np.int64), self.start,
                                     span.total_seconds())
                if s.vehicles >= min_vehicles]

    def truth_at(self, segment: int, bucket_start: datetime) -> SegmentSpeed | None:
        for s in self.truth:
            if s.segment == segment and s.start == bucket_start:
                return s
        return None


def _space_mean(tr: Traversals, keep: np.ndarray, bucket: np.ndarray, origin: datetime,
                span_s: float) -> list[SegmentSpeed]:
    """Space-mean speed per (segment, bucket) of the kept traversals; bucket b spans
    [origin + b * span_s, + span_s)."""
    idx = np.flatnonzero(keep)
    if not len(idx):
        return []
    order = idx[np.lexsort((tr.segment[idx], bucket[idx]))]
    key = np.column_stack([bucket[order], tr.segment[order]])
    cut = np.flatnonzero(np.any(key[1:] != key[:-1], axis=1)) + 1
    out = []
    for group in np.split(order, cut):
        b, seg = int(bucket[group[0]]), int(tr.segment[group[0]])
        start = origin + timedelta(seconds=b * span_s)
        metres = float(tr.length_m[group].sum())
        secs = float((tr.exit_s[group] - tr.entry_s[group]).sum())
        out.append(SegmentSpeed(segment=seg, start=start, end=start + timedelta(seconds=span_s),
                                speed_kmh=metres / secs * 3.6, vehicles=len(set(
                                    tr.vehicle[group].tolist())), traversals=len(group)))
    return out


def _edges_of(network: RoadNetwork, keys: Sequence[int], label: str) -> list[int]:
    rows = network.index_of
    out = []
    for key in keys:
        if key >> 1 not in rows:
            raise PlanError(f"{label}: segment {key} (road {key >> 1}) is not in the network")
        out.append(2 * rows[key >> 1] + (key & 1))
    return out


def plan_traffic(scenario: TrafficScenario, network: RoadNetwork,
                 pilot: Mapping[str, Sequence[int]], start: datetime, *,
                 fix_interval_s: int | None = None, noise_m: float | None = None
                 ) -> TrafficPlan:
    """The plan of `scenario` over `network` from `start` (UTC). `pilot` maps each pilot
    segment code to its directed segment keys in travel order. `fix_interval_s` and `noise_m`
    override the scenario's (the traffic itself stays the same)."""
    sc = scenario
    interval = int(fix_interval_s or sc.fix_interval_s)
    sigma = sc.noise_m if noise_m is None else float(noise_m)
    duration = int(round(sc.duration_s))
    streams = np.random.SeedSequence(sc.seed).spawn(5)
    r_net, r_fleet, r_trips, r_crash, r_noise = (np.random.default_rng(s) for s in streams)
    for key, code in (("wave.pilot", sc.wave.pilot), ("accident.pilot", sc.accident.pilot)):
        if not pilot.get(code):
            raise PlanError(f"{sc.name}/scenario.yaml: {key}: no pilot segment {code} on the "
                            "network's roads")
    # free-flow speed per directed edge: the class's, times the segment's own factor
    per_class = np.array([sc.speeds_kmh.get(c, np.nan) for c in network.road_class])
    spread = r_net.uniform(1 - sc.segment_spread, 1 + sc.segment_spread, 2 * len(network))
    free = np.repeat(per_class, 2) * spread
    graph = Graph(network, free)
    if not len(graph.nodes):
        raise PlanError(f"{sc.name}/scenario.yaml: speeds_kmh: no road of these classes in "
                        "the area")
    pilots = {code: _edges_of(network, keys, f"pilot {code}") for code, keys in pilot.items()}
    pilots = {c: e for c, e in pilots.items() if all(graph.drivable[e])}
    for key, code in (("wave.pilot", sc.wave.pilot), ("accident.pilot", sc.accident.pilot)):
        if code not in pilots:
            raise PlanError(f"{sc.name}/scenario.yaml: {key}: {code} is not on a driven road")
    wave_edges, crash_edges = pilots[sc.wave.pilot], pilots[sc.accident.pilot]
    speeds_at = _speed_model(sc, free, wave_edges, crash_edges)

    # the fleet
    vehicles: list[SimVehicle] = []
    via: list[float] = []
    for name, spec in sc.fleet.items():
        for n in range(1, spec.vehicles + 1):
            vehicles.append(SimVehicle(
                f"{spec.id_prefix}{n:04d}", name, f"{spec.label_zh}{n:04d}（示意）",
                VEHICLE_CLASS.get(name, "other"), spec.operator,
                float(r_fleet.uniform(1 - spec.speed_spread, 1 + spec.speed_spread))))
            via.append(spec.via_pilot)
    crash = int(r_crash.choice([i for i, v in enumerate(vehicles)
                                if v.fleet == sc.accident.fleet]))
    vehicles[crash] = replace(vehicles[crash], speed_factor=1.0)
    # vehicles set off over the first minute (whatever the fix interval, so that the traffic
    # is the same at every interval), each with its first fix as it sets off
    appear = r_fleet.integers(0, APPEAR_WITHIN_S, len(vehicles))
    origins = r_fleet.choice(graph.nodes, len(vehicles))
    codes = list(pilots)
    weight = np.array([PILOT_FOCUS if c in (sc.wave.pilot, sc.accident.pilot) else 1.0
                       for c in codes])
    others = np.array([i for i in range(len(vehicles)) if i != crash])
    trips = Trips(graph, r_trips, np.array(via)[others], [pilots[c] for c in codes], weight)
    log = Log()
    factors = np.array([v.speed_factor for v in vehicles])
    drive(graph, speeds_at, factors[others], appear[others], interval, duration, trips,
          origins[others], log)
    log.s_vehicle = others[np.array(log.s_vehicle, dtype=np.int64)].tolist()
    log.t_vehicle = others[np.array(log.t_vehicle, dtype=np.int64)].tolist()
    accident = crash_taxi(sc, graph, speeds_at, r_crash, crash, int(appear[crash]), interval,
                      duration, crash_edges, log)
    fixes = _fixes(network, graph, log, sigma, r_noise, sc, crash)
    segment_of_edge = np.array([segment_key(int(network.road_id[e >> 1]), not e & 1)
                                for e in range(2 * len(network))], dtype=np.int64)
    tr_edge = np.array(log.t_edge, dtype=np.int64)
    traversals = Traversals(
        vehicle=np.array(log.t_vehicle, dtype=np.int64), segment=segment_of_edge[tr_edge],
        entry_s=np.array(log.t_entry), exit_s=np.array(log.t_exit),
        length_m=graph.length[tr_edge])
    # five-minute buckets aligned on the clock (as the probe engine stores them)
    epoch0 = start.timestamp()
    first = math.floor(epoch0 / BUCKET_S) * BUCKET_S
    origin = datetime.fromtimestamp(first, UTC)
    bucket = ((epoch0 + traversals.exit_s - first) // BUCKET_S).astype(np.int64)
    truth = _space_mean(traversals, np.ones(len(traversals), bool), bucket, origin, BUCKET_S)
    drivable = np.flatnonzero(graph.drivable)
    typical = _typical(sc, start, free, drivable, segment_of_edge, first, duration)
    when = start + timedelta(seconds=round(sc.accident.at_s))
    return TrafficPlan(
        scenario=sc, start=start, fix_interval_s=interval, noise_m=sigma,
        vehicles=tuple(vehicles), fixes=fixes, traversals=traversals, truth=tuple(truth),
        typical=tuple(typical), segments=np.sort(segment_of_edge[drivable]),
        wave_segments=tuple(int(segment_of_edge[e]) for e in wave_edges),
        accident_segments=tuple(int(segment_of_edge[e]) for e in crash_edges),
        accident=AccidentTruth(
            vehicle_id=vehicles[crash].vehicle_id, segment=int(segment_of_edge[accident[0]]),
            lon=accident[1], lat=accident[2], at=when,
            until=when + timedelta(seconds=sc.accident.duration_s),
            reported_at=when + timedelta(seconds=sc.accident.case.delay_s),
            category=sc.accident.case.category, description=sc.accident.case.say,
            reporter_name=sc.accident.case.reporter_name))


def _speed_model(sc: TrafficScenario, free: np.ndarray, wave_edges: list[int],
                 crash_edges: list[int]) -> SpeedsAt:
    """km/h per directed edge at second t: free flow x the profile, then the wave (each road
    segment `lag_s` after the one downstream of it) and the accident (a step down to its
    speed for its duration)."""
    w, a = sc.wave, sc.accident
    crash_from, crash_to = round(a.at_s), round(a.at_s + a.duration_s)

    @lru_cache(maxsize=4)
    def speeds_at(t: int) -> np.ndarray:
        v = free * sc.profile_at(t)
        for i, e in enumerate(wave_edges):
            dt = t - (w.at_s + (len(wave_edges) - 1 - i) * w.lag_s)
            if dt <= 0 or dt >= w.span_s:
                continue
            share = (dt / w.ramp_s if dt < w.ramp_s else 1.0 if dt < w.ramp_s + w.hold_s
                     else 1.0 - (dt - w.ramp_s - w.hold_s) / w.recover_s)
            v[e] = v[e] * (1 - share) + min(w.speed_kmh, v[e]) * share
        if crash_from <= t < crash_to:
            v[crash_edges] = np.minimum(v[crash_edges], a.speed_kmh)
        return v

    return speeds_at


def _fixes(network: RoadNetwork, graph: Graph, log: Log, sigma: float,
           rng: np.random.Generator, sc: TrafficScenario, crash: int) -> Fixes:
    vehicle = np.array(log.s_vehicle, dtype=np.int64)
    t = np.array(log.s_t, dtype=np.int64)
    order = np.lexsort((vehicle, t))
    vehicle, t = vehicle[order], t[order]
    edge = np.array(log.s_edge, dtype=np.int64)[order]
    pos = np.array(log.s_pos)[order]
    kmh = np.array(log.s_kmh)[order]
    xy = point_at(graph, edge, pos)
    # heading from the line's direction a few metres either side (grid north: the meridian
    # convergence at the seat is about 0.5 degrees, below the field's 1-degree step)
    ahead = point_at(graph, edge, np.minimum(pos + 3.0, graph.length[edge]))
    behind = point_at(graph, edge, np.maximum(pos - 3.0, 0.0))
    d = ahead - behind
    heading = np.round(np.degrees(np.arctan2(d[:, 0], d[:, 1]))).astype(np.int64) % 360
    noise = rng.normal(0.0, 1.0, (len(t), 2)) * sigma
    r = np.hypot(noise[:, 0], noise[:, 1])
    cap = 3.0 * sigma   # GPS error clipped at 3 sigma: outliers are the matcher's other test
    noise *= np.where(r > cap, cap / np.maximum(r, 1e-9), 1.0)[:, None]
    lon, lat = TO_WGS84.transform(xy[:, 0] + noise[:, 0], xy[:, 1] + noise[:, 1])
    true_lon, true_lat = TO_WGS84.transform(xy[:, 0], xy[:, 1])
    a = sc.accident
    alarm_on = (vehicle == crash) & (t >= round(a.at_s)) & (t < round(a.at_s + a.duration_s))
    segment = 2 * network.road_id[edge >> 1] + (edge & 1)
    return Fixes(vehicle=vehicle, t_s=t, lon=np.round(lon, 7), lat=np.round(lat, 7),
                 true_lon=true_lon, true_lat=true_lat, speed_kmh=np.round(kmh, 1),
                 heading_deg=heading, alarm=np.where(alarm_on, encode_alarms([a.alarm]), 0),
                 segment=segment.astype(np.int64))


def _typical(sc: TrafficScenario, start: datetime, free: np.ndarray, drivable: np.ndarray,
             segment_of_edge: np.ndarray, first: int, duration: int) -> list[TypicalRow]:
    """The usual speed (no wave, no accident) of every driven segment in each five-minute slot
    the run covers: free flow x the profile in the middle of the bucket's part of the run."""
    out = []
    epoch0 = start.timestamp()
    b0 = first
    while b0 < epoch0 + duration:
        lo, hi = max(b0 - epoch0, 0.0), min(b0 + BUCKET_S - epoch0, float(duration))
        factor = sc.profile_at((lo + hi) / 2)
        slot = slot_of(datetime.fromtimestamp(b0, UTC))
        kmh = free[drivable] * factor
        out += [TypicalRow(int(s), slot, round(float(v), 2))
                for s, v in zip(segment_of_edge[drivable], kmh, strict=True)]
        b0 += BUCKET_S
    return out


__all__ = ["PlanError", "TrafficPlan", "pilot_keys", "plan_traffic", "seat_bbox"]
