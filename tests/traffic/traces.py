"""Synthetic probe traces with known truth: vehicles drive random routes over a RoadNetwork at
known per-edge speeds (and stand at given stops), sampled every `interval_s` with Gaussian
noise. Used by the matching tests and tests/perf/bench_matching.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from backend.ingest.position import Position
from backend.traffic.matching import MapMatcher
from backend.traffic.network import TO_METRIC, TO_WGS84, RoadNetwork, network_from_lines
from backend.traffic.ubodt import directed_edges

T0 = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)  # a Monday morning


@dataclass
class Trace:
    vehicle_id: str
    positions: list[Position]
    edge: np.ndarray        # true directed edge of each fix
    offset: np.ndarray      # true metres along it
    # true full traversals: (directed edge, entry, exit, dwell seconds), times in epoch s
    traversals: list[tuple[int, float, float, float]] = field(default_factory=list)


class TraceMaker:
    def __init__(self, net: RoadNetwork, seed: int = 1) -> None:
        self.net = net
        self.rng = np.random.default_rng(seed)
        self.src, self.dst, self.length = directed_edges(net)
        order = np.argsort(self.src, kind="stable")
        self._out_order = order
        self._out_start = np.searchsorted(self.src[order], np.arange(len(net.node_xy) + 1))

    def outgoing(self, node: int) -> np.ndarray:
        return self._out_order[self._out_start[node]:self._out_start[node + 1]]

    def random_route(self, length_m: float, start: int | None = None,
                     allowed: np.ndarray | None = None) -> list[int]:
        """Shortest paths between random nodes 0.8-3 km apart, chained until `length_m`
        (drivers take sensible routes, not random walks). `allowed` masks edges."""
        ok = np.ones(len(self.src), bool) if allowed is None else allowed
        m = len(self.net.node_xy)
        best: dict[tuple[int, int], int] = {}
        for e in np.flatnonzero(ok)[np.argsort(-self.length[ok])]:
            best[(int(self.src[e]), int(self.dst[e]))] = int(e)  # shortest parallel edge wins
        es = np.array([e for (u, v), e in best.items() if u != v])
        graph = sp.csr_matrix((np.maximum(self.length[es], 1e-3), (self.src[es], self.dst[es])),
                              shape=(m, m))
        tries = 0
        e0 = int(self.rng.choice(np.flatnonzero(ok))) if start is None else start
        route, node = [e0], int(self.dst[e0])
        total = float(self.length[e0])
        while total < length_m:
            d, pred = dijkstra(graph, indices=node, limit=3000.0, return_predecessors=True)
            far = np.flatnonzero(np.isfinite(d) & (d > 800.0))
            if not len(far):
                break
            v = int(self.rng.choice(far))
            leg = []
            while v != node:
                u = int(pred[v])
                leg.append(best[(u, v)])
                v = u
            leg.reverse()
            tries += 1
            if leg and leg[0] == route[-1] ^ 1 and tries < 20:
                continue  # no U-turn where the last leg ended (unless a dead end)
            route.extend(leg)
            total += float(self.length[leg].sum())
            node = int(self.dst[route[-1]])
        return route

    def drive(self, vehicle_id: str, route: list[int], speed_kmh: Callable[[int], float], *,
              interval_s: float, noise_m: float, start: datetime = T0,
              stops: dict[int, list[tuple[float, float]]] | None = None,
              heading_noise_deg: float = 5.0) -> Trace:
        """Drive `route` (edge speeds from `speed_kmh(edge)`; `stops[edge]` = [(offset,
        dwell s)]) and sample it. The vehicle starts at the route's first edge's start."""
        t0 = start.timestamp()
        # Piecewise-linear (time, distance) profile along the route, with dwell plateaus.
        times, dists, cum, clock = [t0], [0.0], 0.0, t0
        traversals: list[tuple[int, float, float, float]] = []
        for e in route:
            length, v = float(self.length[e]), speed_kmh(e) / 3.6
            entry, at, dwell_sum = clock, 0.0, 0.0
            for off, dwell in sorted((stops or {}).get(e, [])):
                clock += (off - at) / v
                cum += off - at
                times.append(clock)
                dists.append(cum)
                clock += dwell
                dwell_sum += dwell
                times.append(clock)
                dists.append(cum)
                at = off
            clock += (length - at) / v
            cum += length - at
            times.append(clock)
            dists.append(cum)
            traversals.append((e, entry, clock, dwell_sum))
        tt, dd = np.array(times), np.array(dists)
        phase = float(self.rng.uniform(0, interval_s))
        ts = np.arange(t0 + phase, tt[-1], interval_s)
        ds = np.interp(ts, tt, dd)
        ends = np.cumsum(self.length[route])
        k = np.minimum(np.searchsorted(ends, ds, side="right"), len(route) - 1)
        edge = np.asarray(route)[k]
        off = np.clip(ds - (ends[k] - self.length[route][k]), 0.0, self.length[edge])
        road, fwd = edge >> 1, (edge & 1) == 0
        along = np.where(fwd, off, self.net.length_m[road] - off)
        pts = shapely.line_interpolate_point(self.net.lines[road], along)
        xy = shapely.get_coordinates(pts)
        ahead = shapely.get_coordinates(shapely.line_interpolate_point(
            self.net.lines[road], np.clip(along + np.where(fwd, 1.0, -1.0), 0, None)))
        bearing = np.degrees(np.arctan2(ahead[:, 0] - xy[:, 0], ahead[:, 1] - xy[:, 1])) % 360
        moving = np.interp(ts + 0.5, tt, dd) > ds
        xy = xy + self.rng.normal(0, noise_m, xy.shape)
        lon, lat = TO_WGS84.transform(xy[:, 0], xy[:, 1])
        head = (bearing + self.rng.normal(0, heading_noise_deg, len(ts))) % 360
        spd = np.array([speed_kmh(int(e)) for e in edge]) * moving
        positions = [
            Position(vehicle_id=vehicle_id, time=datetime.fromtimestamp(float(t), UTC),
                     lon=float(a), lat=float(b), speed_kmh=float(v), heading_deg=float(h),
                     source="scenario")
            for t, a, b, v, h in zip(ts, lon, lat, spd, head, strict=True)]
        return Trace(vehicle_id, positions, edge, off, traversals)


def merge(traces: list[Trace]) -> list[Position]:
    """All traces' positions in one stream sorted by time (as the pipeline delivers them)."""
    return sorted((p for tr in traces for p in tr.positions), key=lambda p: p.time)


def batches(positions: list[Position], size: int) -> list[list[Position]]:
    return [positions[i:i + size] for i in range(0, len(positions), size)]


def grid_network(nx: int = 6, ny: int = 6, block_m: float = 200.0,
                 origin: tuple[float, float] = (585_000.0, 3_705_000.0)) -> RoadNetwork:
    """A hand-made grid of two-way streets (one road row per block side) near the seat."""
    x0, y0 = origin
    lines = []
    for j in range(ny):
        for i in range(nx - 1):
            lines.append([(x0 + i * block_m, y0 + j * block_m),
                          (x0 + (i + 1) * block_m, y0 + j * block_m)])
    for i in range(nx):
        for j in range(ny - 1):
            lines.append([(x0 + i * block_m, y0 + j * block_m),
                          (x0 + i * block_m, y0 + (j + 1) * block_m)])
    return metric_network(lines)


def metric_network(lines_xy: list[list[tuple[float, float]]],
                   road_class: str = "secondary") -> RoadNetwork:
    """A network from metric line strings (converted to WGS-84 as the roads table holds them)."""
    geoms = []
    for line in lines_xy:
        xs, ys = zip(*line, strict=True)
        lon, lat = TO_WGS84.transform(np.array(xs), np.array(ys))
        geoms.append(shapely.linestrings(np.column_stack([np.round(lon, 9), np.round(lat, 9)])))
    n = len(geoms)
    return network_from_lines(np.arange(1, n + 1), np.array(geoms, dtype=object),
                              np.array([road_class] * n, dtype=object),
                              np.array([None] * n, dtype=object), np.full(n, 40.0))


def match_traces(matcher: MapMatcher, traces: list[Trace],
                 batch: int = 500) -> dict[tuple[int, float], int]:
    """Feed the merged stream in batches; {(vehicle index, time): matched edge}."""
    ids = {tr.vehicle_id: i for i, tr in enumerate(traces)}
    pos = merge(traces)
    slot = np.array([ids[p.vehicle_id] for p in pos])
    t = np.array([p.time.timestamp() for p in pos])
    x, y = TO_METRIC.transform(np.array([p.lon for p in pos]), np.array([p.lat for p in pos]))
    head = np.array([p.heading_deg for p in pos])
    speed = np.array([p.speed_kmh for p in pos])
    got: dict[tuple[int, float], int] = {}
    parts = [matcher.match(*(a[i:i + batch] for a in (slot, t, x, y, head, speed)))
             for i in range(0, len(pos), batch)]
    parts.append(matcher.flush(np.arange(len(traces))))
    for c in parts:
        for s, tt, e in zip(c.slot.tolist(), c.t.tolist(), c.edge.tolist(), strict=True):
            got[(s, tt)] = e
    return got


def accuracy(traces: list[Trace], got: dict[tuple[int, float], int], lengths: np.ndarray,
           near_m: float) -> tuple[float, float]:
    """(share of fixes on the true directed edge, the same not counting misses of fixes within
    `near_m` of a junction, where noise along a straight road cannot tell two edges apart)."""
    total = ok = ok_far = 0
    for i, tr in enumerate(traces):
        for p, e, off in zip(tr.positions, tr.edge.tolist(), tr.offset.tolist(), strict=True):
            total += 1
            hit = got.get((i, p.time.timestamp())) == e
            ok += hit
            ok_far += hit or min(off, lengths[e] - off) < near_m
    return ok / total, ok_far / total


def seat_edges(net: RoadNetwork, radius_m: float = 2500.0) -> np.ndarray:
    """Directed edges of the seat's main streets (where the traffic scenario drives)."""
    mid = shapely.get_coordinates(shapely.line_interpolate_point(net.lines, 0.5, normalized=True))
    cx, cy = np.median(net.node_xy, axis=0)
    near = np.hypot(mid[:, 0] - cx, mid[:, 1] - cy) < radius_m
    return np.repeat(near & np.isin(net.road_class, ["primary", "secondary", "tertiary"]), 2)


def true_speeds(traces: list[Trace], seg_of_edge: np.ndarray, edge_len: np.ndarray,
                lo: float, hi: float, min_vehicles: int = 3) -> dict[int, float]:
    """The traces' space-mean speed (km/h) per segment over the traversals exiting in
    [lo, hi) (epoch seconds), dwell taken out, for segments with `min_vehicles` vehicles."""
    agg: dict[int, tuple[float, float, set[str]]] = {}
    for tr in traces:
        for e, entry, exit_, dwell in tr.traversals:
            if lo <= exit_ < hi:
                seg = int(seg_of_edge[e])
                d, t, vs = agg.get(seg, (0.0, 0.0, set()))
                vs.add(tr.vehicle_id)
                agg[seg] = (d + float(edge_len[e]), t + exit_ - entry - dwell, vs)
    return {s: d / t * 3.6 for s, (d, t, vs) in agg.items() if len(vs) >= min_vehicles}
