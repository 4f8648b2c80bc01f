"""The probe engine: every position is a probe. Positions are map-matched per vehicle as they
arrive (backend.traffic.matching); between consecutive matched fixes the path's node crossings
are interpolated in time, and each directed segment crossed from end to end is a traversal whose
speed is its length over (exit - entry - dwell). Time a bus stands within `stop_radius_m` of a
stop is dwell, taken out of that segment's traversal time. `window()` aggregates the traversals
exiting in a time window into space-mean speeds, published only with enough distinct vehicles.

Bounded: per-vehicle state is a fixed number of numbers (vehicles idle for `idle` are dropped,
at most `max_vehicles`), traversals are kept for `keep` (and at most `max_traversals`).
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from scipy.spatial import cKDTree

from backend.ingest.position import Position
from backend.traffic.matching import Commits, MapMatcher, MatchParams
from backend.traffic.network import TO_METRIC, RoadNetwork
from backend.traffic.speeds import SegmentSpeed
from backend.traffic.ubodt import PathTable

MIN_TRAVERSAL_S = 0.5     # shorter crossings are interpolation artefacts, not speeds
MAX_TRAVERSAL_KMH = 200.0
STOPPED_KMH = 5.0         # a reported speed below this at a stop is standing there


class ProbeEngine:
    """Thread-safe position consumer producing segment speeds (see the module doc)."""

    name = "traffic-probes"

    def __init__(self, network: RoadNetwork, *, stops_xy: np.ndarray | None = None,
                 params: MatchParams | None = None, table: PathTable | None = None,
                 stop_radius_m: float = 30.0, keep: timedelta = timedelta(minutes=20),
                 idle: timedelta = timedelta(minutes=10), max_vehicles: int = 50_000,
                 max_traversals: int = 1_000_000) -> None:
        self.matcher = MapMatcher(network, params, table=table)
        self.counters: Counter[str] = self.matcher.counters
        self.net = network
        self.table = self.matcher.table
        edges = np.arange(2 * len(network))
        self.seg_of_edge = 2 * np.asarray(network.road_id, dtype=np.int64)[edges >> 1] + (edges & 1)
        self._len = self.table.edge_len.tolist()
        self._seg = self.seg_of_edge.tolist()
        self._stops = (cKDTree(np.asarray(stops_xy, dtype=float).reshape(-1, 2))
                       if stops_xy is not None and len(stops_xy) else None)
        self.stop_radius_m = stop_radius_m
        self.keep_s, self.idle_s = keep.total_seconds(), idle.total_seconds()
        self.max_vehicles, self.max_traversals = max_vehicles, max_traversals
        self._lock = threading.Lock()
        self._slot: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._free: list[int] = []
        self._seen: list[float] = []
        # Per slot: the edge the vehicle is on, when it entered it (NaN: mid-edge) and the
        # dwell accumulated on it.
        self._cur: list[int] = []
        self._entry: list[float] = []
        self._dwell: list[float] = []
        self._stopped: list[bool] = []   # the last committed fix stood at a stop
        self._speed: list[float] = []    # its reported speed
        # (exit time, segment, length m, seconds moving, slot) in arrival order
        self._trav: deque[tuple[float, int, float, float, str]] = deque()
        self._now = float("-inf")
        self._next_sweep = float("-inf")

    # ---- the consumer ------------------------------------------------------------------------
    def consume(self, positions: Sequence[Position]) -> None:
        if not positions:
            return
        with self._lock:
            self._consume(positions)

    def _consume(self, positions: Sequence[Position]) -> None:
        nan = float("nan")
        # One pass over the records (five generator passes cost ~10 us a fix).
        cols = np.array([(p.lon, p.lat, p.time.timestamp(),
                          nan if p.heading_deg is None else p.heading_deg,
                          nan if p.speed_kmh is None else p.speed_kmh) for p in positions],
                        dtype=float).reshape(-1, 5).T.copy()  # contiguous columns
        lon, lat, t, head, speed = cols
        good = (np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
                & np.isfinite(t))
        if not good.all():
            self.counters["unmatched:invalid"] += int((~good).sum())
        idx = np.flatnonzero(good)
        slot = np.fromiter((self._slot_of(positions[i].vehicle_id, t[i]) for i in idx),
                           np.int64, len(idx))
        x, y = TO_METRIC.transform(lon[idx], lat[idx])
        commits = self.matcher.match(slot, t[idx], np.asarray(x), np.asarray(y), head[idx],
                                     speed[idx])
        self._traverse(commits)
        self._now = max(self._now, float(t[idx].max()) if len(idx) else self._now)
        if self._now >= self._next_sweep:
            self._sweep()

    def _slot_of(self, vehicle_id: str, t: float) -> int:
        s = self._slot.get(vehicle_id)
        if s is None:
            if len(self._slot) >= self.max_vehicles:
                self._evict([min(self._slot.values(), key=lambda k: self._seen[k])])
                self.counters["evicted:capacity"] += 1
            if self._free:
                s = self._free.pop()
            else:
                s = len(self._ids)
                self._ids.append(None)
                self._seen.append(t)
                self._cur.append(-1)
                self._entry.append(np.nan)
                self._dwell.append(0.0)
                self._stopped.append(False)
                self._speed.append(np.nan)
            self._slot[vehicle_id] = s
            self._ids[s] = vehicle_id
        self._seen[s] = max(self._seen[s], t)
        return s

    # ---- bounded state -----------------------------------------------------------------------
    def _sweep(self) -> None:
        self._next_sweep = self._now + 60.0
        idle = [s for s in self._slot.values() if self._seen[s] < self._now - self.idle_s]
        if idle:
            self.counters["evicted:idle"] += len(idle)
            self._evict(idle)
        horizon = self._now - self.keep_s
        while self._trav and (self._trav[0][0] < horizon
                              or len(self._trav) > self.max_traversals):
            self._trav.popleft()

    def _evict(self, slots: list[int]) -> None:
        # The last fix is committed so its traversal state closes, then the slot is reused.
        self._traverse(self.matcher.flush(np.asarray(slots, dtype=np.int64)))
        for s in slots:
            vid = self._ids[s]
            if vid is not None:
                del self._slot[vid]
            self._ids[s] = None
            self._cur[s], self._entry[s], self._dwell[s] = -1, np.nan, 0.0
            self._stopped[s], self._speed[s] = False, np.nan
            self.matcher.reset(s)
            self._free.append(s)

    @property
    def vehicles(self) -> int:
        return len(self._slot)

    @property
    def traversals(self) -> int:
        return len(self._trav)

    # ---- traversals from matched fixes ---------------------------------------------------------
    def _at_stop(self, c: Commits) -> np.ndarray:
        if self._stops is None or not len(c):
            return np.zeros(len(c), dtype=bool)
        d, _ = self._stops.query(np.column_stack([c.x, c.y]),
                                 distance_upper_bound=self.stop_radius_m)
        slow = ~(c.speed >= STOPPED_KMH)  # unknown speed near a stop counts as standing
        return np.isfinite(d) & slow

    def _traverse(self, c: Commits) -> None:
        if not len(c):
            return
        tb = self.table
        stop = self._at_stop(c).tolist()
        link = c.link
        e0, e1 = c.prev_edge, c.edge
        same = link & (e0 == e1) & (c.offset >= c.prev_offset - self.matcher.p.back_tol_m)
        via = link & ~same
        inner: list[list[int]] = [[] for _ in range(len(c))]
        if via.any():
            w = np.flatnonzero(via)
            for i, p in zip(w.tolist(), tb.paths(tb.edge_to[e0[w]], tb.edge_from[e1[w]]),
                            strict=True):
                inner[i] = p
        cols = (c.slot.tolist(), c.t.tolist(), e1.tolist(), c.offset.tolist(), link.tolist(),
                c.prev_t.tolist(), e0.tolist(), c.prev_offset.tolist(), same.tolist(),
                c.speed.tolist())
        L, seg, trav = self._len, self._seg, self._trav
        for k, (s, t, e, off, lk, pt, pe, poff, sm, v) in enumerate(zip(*cols, strict=True)):
            at_a, at_b, v_a = self._stopped[s], stop[k], self._speed[s]
            self._stopped[s], self._speed[s] = at_b, v
            if not lk or self._cur[s] != pe:
                self._cur[s], self._entry[s], self._dwell[s] = e, np.nan, 0.0
                if lk:
                    self.counters["traversal:restart"] += 1
                continue
            if sm:
                path, dist = [e], max(off - poff, 0.0)
            else:
                mid = inner[k]
                if not mid and tb.edge_to[pe] != tb.edge_from[e]:
                    self._cur[s], self._entry[s], self._dwell[s] = e, np.nan, 0.0
                    self.counters["traversal:no_path"] += 1
                    continue
                path = [pe, *mid, e]
                dist = L[pe] - poff + sum(L[m] for m in mid) + off
            dt = t - pt
            dwell_a = dwell_b = 0.0
            if at_a and at_b and dist < 2 * self.stop_radius_m:
                dwell_a = dt
            elif at_a or at_b:
                # Standing at one end: the move took about dist / (speed at the other end).
                vref = v if at_a else v_a
                if vref >= STOPPED_KMH:  # False for NaN: no reported speed, no estimate
                    standing = max(dt - dist / (vref / 3.6), 0.0)
                    dwell_a, dwell_b = (standing, 0.0) if at_a else (0.0, standing)
            moving = dt - dwell_a - dwell_b
            self._dwell[s] += dwell_a
            if len(path) > 1:
                acc = L[pe] - poff
                start = pt + dwell_a
                prev_at = self._entry[s]
                for j in range(len(path) - 1):
                    at = start + (moving * acc / dist if dist > 0 else 0.0)
                    edge = path[j]
                    entry = prev_at
                    dwell = self._dwell[s] if j == 0 else 0.0
                    if entry == entry:  # not NaN: entered at its start
                        secs = at - entry - dwell
                        if secs > MIN_TRAVERSAL_S and L[edge] / secs * 3.6 <= MAX_TRAVERSAL_KMH:
                            trav.append((at, seg[edge], L[edge], secs, self._ids[s] or ""))
                            self.counters["traversals"] += 1
                        else:
                            self.counters["traversal:implausible"] += 1
                    prev_at = at
                    acc += L[path[j + 1]]
                self._cur[s], self._entry[s], self._dwell[s] = path[-1], prev_at, 0.0
            self._dwell[s] += dwell_b

    # ---- queries -------------------------------------------------------------------------------
    def window(self, end: datetime, span: timedelta = timedelta(minutes=5), *,
               min_vehicles: int = 3) -> list[SegmentSpeed]:
        """Space-mean speed per segment over the traversals exiting in [end - span, end)."""
        hi = end.timestamp()
        lo = hi - span.total_seconds()
        agg: dict[int, tuple[float, float, set[str], int]] = {}
        with self._lock:
            rows = [r for r in self._trav if lo <= r[0] < hi]
        for _, seg, length, secs, vid in rows:
            d, tt, vs, n = agg.get(seg, (0.0, 0.0, set(), 0))
            vs.add(vid)
            agg[seg] = (d + length, tt + secs, vs, n + 1)
        start = datetime.fromtimestamp(lo, UTC)
        stop = datetime.fromtimestamp(hi, UTC)
        return [SegmentSpeed(segment=seg, start=start, end=stop, speed_kmh=d / tt * 3.6,
                             vehicles=len(vs), traversals=n)
                for seg, (d, tt, vs, n) in sorted(agg.items()) if len(vs) >= min_vehicles]

    def segment_of(self, vehicle_id: str) -> int | None:
        """The directed segment the vehicle is on now (its last fix's best candidate)."""
        with self._lock:
            s = self._slot.get(vehicle_id)
            if s is None:
                return None
            e = self.matcher.current_edge(s)
        return None if e < 0 else int(self.seg_of_edge[e])
