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
        # Per slot: the edge the vehicle is on, when it entered it (NaN: mid-edge), the dwell
        # accumulated on it, whether the last committed fix stood at a stop and its speed.
        self._seen = np.zeros(0)      # the vehicle's last fix time
        self._cur = np.full(0, -1, dtype=np.int64)
        self._entry = np.full(0, np.nan)
        self._dwell = np.zeros(0)
        self._stopped = np.zeros(0, dtype=bool)
        self._speed = np.full(0, np.nan)
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
        vids = [positions[i].vehicle_id for i in idx.tolist()]
        get = self._slot.get
        known = [get(v) for v in vids]
        tt = t[idx]
        if None in known and len(self._slot) + len(set(vids)) > self.max_vehicles:
            # evictions may follow: one fix at a time, as they arrive
            slot = np.fromiter((self._slot_of(v, s) for v, s in zip(vids, tt.tolist(),
                                                                    strict=True)),
                               np.int64, len(vids))
        else:
            if None in known:
                known = [self._slot_of(v, s) if k is None else k
                         for v, k, s in zip(vids, known, tt.tolist(), strict=True)]
            slot = np.array(known, dtype=np.int64)
            np.maximum.at(self._seen, slot, tt)
        x, y = TO_METRIC.transform(lon[idx], lat[idx])
        commits = self.matcher.match(slot, tt, np.asarray(x), np.asarray(y), head[idx],
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
                if s >= len(self._cur):
                    self._grow(max(64, 2 * s))
            self._slot[vehicle_id] = s
            self._ids[s] = vehicle_id
            self._seen[s] = t
        self._seen[s] = max(self._seen[s], t)
        return s

    def _grow(self, cap: int) -> None:
        old = len(self._cur)
        for name, fill in (("_seen", -np.inf), ("_cur", -1), ("_entry", np.nan), ("_dwell", 0.0),
                           ("_stopped", False), ("_speed", np.nan)):
            arr = getattr(self, name)
            new = np.full(cap, fill, dtype=arr.dtype)
            new[:old] = arr
            setattr(self, name, new)

    # ---- bounded state -----------------------------------------------------------------------
    def _sweep(self) -> None:
        self._next_sweep = self._now + 60.0
        live = np.fromiter(self._slot.values(), np.int64, len(self._slot))
        idle = live[self._seen[live] < self._now - self.idle_s].tolist()
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
        """Traversals completed between consecutive committed fixes: the node crossings on
        the path between them timed by interpolating the moving time along it. Vectorised
        over the commits (in rounds: a vehicle's commits of one batch in order)."""
        n = len(c)
        if not n:
            return
        tb, length = self.table, self.table.edge_len
        stop = self._at_stop(c)
        link, e0, e1 = c.link, c.prev_edge, c.edge
        same = link & (e0 == e1) & (c.offset >= c.prev_offset - self.matcher.p.back_tol_m)
        via = link & ~same
        # each via commit's crossings: the ends of e0 and of the inner edges, (n, width)
        e0s = np.where(link, e0, 0)
        n_inner = np.zeros(n, dtype=np.int64)
        cross = e0s[:, None]
        if via.any():
            w = np.flatnonzero(via)
            edges, count = tb.walk(tb.edge_to[e0[w]], tb.edge_from[e1[w]])
            n_inner[w] = count
            cross = np.full((n, 1 + edges.shape[1]), -1, dtype=np.int64)
            cross[:, 0] = e0s
            cross[w, 1:] = edges
        width = cross.shape[1]
        broken = via & (n_inner == 0) & (tb.edge_to[e0s] != tb.edge_from[e1])
        ncross = np.where(via & ~broken, n_inner + 1, 0)
        lens = np.where(cross >= 0, length[np.maximum(cross, 0)], 0.0)
        # metres from the previous fix to each crossing, summed in path order
        lens[:, 0] = length[e0s] - c.prev_offset
        acc = np.cumsum(lens, axis=1)
        mid = np.cumsum(lens[:, 1:], axis=1)[:, -1] if width > 1 else np.zeros(n)
        dist = np.where(same, np.maximum(c.offset - c.prev_offset, 0.0),
                        lens[:, 0] + mid + c.offset)
        order = np.argsort(c.slot, kind="stable")
        ss = c.slot[order]
        first = np.r_[0, np.flatnonzero(ss[1:] != ss[:-1]) + 1]
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n) - np.repeat(first, np.diff(np.r_[first, n]))
        out: list[tuple[np.ndarray, ...]] = []
        for r in range(int(rank.max()) + 1):
            k = np.flatnonzero(rank == r)
            self._advance(k, c, stop, link, broken, ncross, cross, acc, dist, out)
        if out:
            k, j, at, edge, secs = (np.concatenate(a) for a in zip(*out, strict=True))
            keep = np.lexsort((j, k))   # the commits' order, then along each path
            vids = [self._ids[s] or "" for s in c.slot[k[keep]].tolist()]
            self._trav.extend(zip(at[keep].tolist(), self.seg_of_edge[edge[keep]].tolist(),
                                  length[edge[keep]].tolist(), secs[keep].tolist(), vids,
                                  strict=True))

    def _advance(self, k: np.ndarray, c: Commits, stop: np.ndarray, link: np.ndarray,
                 broken: np.ndarray, ncross: np.ndarray, cross: np.ndarray, acc: np.ndarray,
                 dist: np.ndarray, out: list[tuple[np.ndarray, ...]]) -> None:
        """One commit per vehicle: dwell at stops, crossings timed, traversals out."""
        length = self.table.edge_len
        s = c.slot[k]
        at_a, at_b, v_a, v = self._stopped[s], stop[k], self._speed[s], c.speed[k]
        self._stopped[s], self._speed[s] = at_b, v
        lk = link[k]
        restart = ~lk | (self._cur[s] != c.prev_edge[k])
        self.counters["traversal:restart"] += int((lk & restart).sum())
        nopath = ~restart & broken[k]
        self.counters["traversal:no_path"] += int(nopath.sum())
        reset = restart | nopath
        rs = s[reset]
        self._cur[rs], self._entry[rs], self._dwell[rs] = c.edge[k[reset]], np.nan, 0.0
        go = ~reset
        k, s, at_a, at_b, v_a, v = (a[go] for a in (k, s, at_a, at_b, v_a, v))
        if not len(k):
            return
        d, dt = dist[k], c.t[k] - c.prev_t[k]
        both = at_a & at_b & (d < 2 * self.stop_radius_m)
        one = ~both & (at_a | at_b)
        vref = np.where(at_a, v, v_a)
        est = one & (vref >= STOPPED_KMH)   # False for NaN: no reported speed, no estimate
        with np.errstate(divide="ignore", invalid="ignore"):
            standing = np.where(est, np.maximum(dt - d / (vref / 3.6), 0.0), 0.0)
        dwell_a = np.where(both, dt, np.where(at_a, standing, 0.0))
        dwell_b = np.where(both, 0.0, np.where(at_a, 0.0, standing))
        moving = dt - dwell_a - dwell_b
        self._dwell[s] += dwell_a
        nc = ncross[k]
        kk = np.repeat(np.arange(len(k)), nc)
        if len(kk):
            j = np.arange(len(kk)) - np.repeat(np.cumsum(nc) - nc, nc)
            start = c.prev_t[k] + dwell_a
            with np.errstate(divide="ignore", invalid="ignore"):
                at = start[kk] + np.where(d[kk] > 0, moving[kk] * acc[k[kk], j] / d[kk], 0.0)
            edge = cross[k[kk], j]
            prev_at = np.r_[np.nan, at[:-1]]
            entry = np.where(j == 0, self._entry[s[kk]], prev_at)
            dwell = np.where(j == 0, self._dwell[s[kk]], 0.0)
            secs = at - entry - dwell
            entered = ~np.isnan(entry)    # entered the edge at its start
            with np.errstate(divide="ignore", invalid="ignore"):
                fine = entered & (secs > MIN_TRAVERSAL_S) & (
                    length[edge] / secs * 3.6 <= MAX_TRAVERSAL_KMH)
            self.counters["traversals"] += int(fine.sum())
            self.counters["traversal:implausible"] += int((entered & ~fine).sum())
            out.append((k[kk][fine], j[fine], at[fine], edge[fine], secs[fine]))
            moved = nc > 0
            last = np.cumsum(nc)[moved] - 1
            sm = s[moved]
            self._cur[sm], self._entry[sm], self._dwell[sm] = c.edge[k[moved]], at[last], 0.0
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
