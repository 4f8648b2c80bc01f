"""The moving half of the traffic plan: vehicles driving trips over a RoadNetwork at speeds
given per directed edge and second, integrated in one-second steps (pure: no I/O, no clock).

Each step every vehicle advances by its edge's speed times its own factor; crossing a node is
timed exactly within the step (the rest of the step is driven on the next edge), so every
traversal's entry and exit are known to the fraction of a second. Vehicles sample their state
(edge, offset, speed) at whole seconds when a fix is due.

Edges here are the network's directed edges (2*i forward along row i, 2*i + 1 against it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from backend.catalog.traffic_scenarios import TrafficScenario
from backend.traffic.network import TO_METRIC, TO_WGS84, RoadNetwork, segment_key

SpeedsAt = Callable[[int], np.ndarray]  # second -> km/h per directed edge (NaN: not driven)


@dataclass
class Log:
    """What the vehicles did: samples (one per fix) and completed traversals."""

    s_vehicle: list[int] = field(default_factory=list)
    s_t: list[int] = field(default_factory=list)
    s_edge: list[int] = field(default_factory=list)
    s_pos: list[float] = field(default_factory=list)     # metres from the edge's start
    s_kmh: list[float] = field(default_factory=list)
    t_vehicle: list[int] = field(default_factory=list)
    t_edge: list[int] = field(default_factory=list)
    t_entry: list[float] = field(default_factory=list)   # scenario seconds
    t_exit: list[float] = field(default_factory=list)


class Graph:
    """The drivable directed graph: edges of the given classes, in the largest connected part,
    with shortest paths by free-flow time."""

    def __init__(self, network: RoadNetwork, free_kmh: np.ndarray) -> None:
        n = len(network)
        self.network = network
        self.length = np.repeat(network.length_m, 2)                 # per directed edge
        src = np.empty(2 * n, dtype=np.int64)
        dst = np.empty(2 * n, dtype=np.int64)
        src[0::2], dst[0::2] = network.a, network.b
        src[1::2], dst[1::2] = network.b, network.a
        self.src, self.dst = src, dst
        ok = np.isfinite(free_kmh) & (src != dst) & (self.length > 0)
        nodes = len(network.node_xy)
        # keep the largest connected part (roads run both ways: weak = strong here)
        g = csr_matrix((np.ones(ok.sum()), (src[ok], dst[ok])), shape=(nodes, nodes))
        _, comp = connected_components(g, directed=True, connection="strong")
        main = np.bincount(comp[src[ok]]).argmax()
        ok &= comp[src] == main
        self.drivable = ok
        self.nodes = np.unique(src[ok])
        # parallel edges between two nodes: the quickest one carries the pair
        cost = np.where(ok, self.length / np.where(ok, free_kmh, 1.0) * 3.6, np.inf)
        order = np.lexsort((cost, dst, src))
        order = order[ok[order]]
        pair = src[order] * nodes + dst[order]
        first = np.r_[True, pair[1:] != pair[:-1]]
        best = order[first]
        self.edge_of = {(int(src[e]), int(dst[e])): int(e) for e in best}
        self.csr = csr_matrix((cost[best], (src[best], dst[best])), shape=(nodes, nodes))
        self.out_edges: dict[int, list[int]] = {}
        self.in_edges: dict[int, list[int]] = {}
        for e in np.flatnonzero(ok):
            self.out_edges.setdefault(int(src[e]), []).append(int(e))
            self.in_edges.setdefault(int(dst[e]), []).append(int(e))

    def route(self, a: int, b: int) -> list[int]:
        """Edges of the quickest free-flow path from node a to node b ([] when a == b)."""
        if a == b:
            return []
        _, pred = dijkstra(self.csr, indices=a, return_predecessors=True)
        path = [b]
        while path[-1] != a:
            p = int(pred[path[-1]])
            if p < 0:
                raise ValueError(f"no path from node {a} to node {b}")
            path.append(p)
        path.reverse()
        return [self.edge_of[(u, v)] for u, v in zip(path, path[1:], strict=False)]


class Trips:
    """Where each vehicle goes next: a random destination, sometimes through a pilot segment
    (its road segments in order) so the pilot segments see enough probes."""

    def __init__(self, graph: Graph, rng: np.random.Generator, via_pilot: np.ndarray,
                 pilots: list[list[int]], pilot_weight: np.ndarray) -> None:
        self.graph, self.rng = graph, rng
        self.via_pilot = via_pilot              # per vehicle
        self.pilots = pilots                    # edge lists
        self.pilot_p = pilot_weight / pilot_weight.sum() if len(pilots) else pilot_weight

    def next_route(self, vehicle: int, node: int) -> list[int]:
        g, rng = self.graph, self.rng
        while True:
            dest = int(rng.choice(g.nodes))
            if self.pilots and rng.random() < self.via_pilot[vehicle]:
                edges = self.pilots[int(rng.choice(len(self.pilots), p=self.pilot_p))]
                enter, leave = int(g.src[edges[0]]), int(g.dst[edges[-1]])
                route = g.route(node, enter) + list(edges) + g.route(leave, dest)
            else:
                route = g.route(node, dest)
            if route:
                return route


def drive(graph: Graph, speeds_at: SpeedsAt, factor: np.ndarray, appear: np.ndarray,
          interval: int, duration: int, trips: Trips, origins: np.ndarray, log: Log) -> None:
    """Drive every vehicle from second appear[v] (at node origins[v]) to `duration`, sampling
    a fix at appear[v] + k * interval. Traversals are logged when completed."""
    n = len(factor)
    routes: list[list[int]] = [trips.next_route(v, int(origins[v])) for v in range(n)]
    step = np.zeros(n, dtype=np.int64)                 # index into the route
    edge = np.array([r[0] for r in routes], dtype=np.int64)
    pos = np.zeros(n)
    entry = appear.astype(float)
    length = graph.length
    for t in range(duration + 1):
        active = appear <= t
        kmh = speeds_at(t)[edge] * factor
        due = np.flatnonzero(active & ((t - appear) % interval == 0))
        if len(due):
            log.s_vehicle += due.tolist()
            log.s_t += [t] * len(due)
            log.s_edge += edge[due].tolist()
            log.s_pos += pos[due].tolist()
            log.s_kmh += kmh[due].tolist()
        if t == duration:
            break
        mps = np.where(active, kmh / 3.6, 0.0)
        pos = pos + mps
        for v in np.flatnonzero(pos >= length[edge]):
            v = int(v)
            # the step's time left when the node is reached, then on along the next edges
            left = (pos[v] - length[edge[v]]) / mps[v]
            while True:
                out = t + 1 - left
                log.t_vehicle.append(v)
                log.t_edge.append(int(edge[v]))
                log.t_entry.append(float(entry[v]))
                log.t_exit.append(out)
                step[v] += 1
                if step[v] >= len(routes[v]):
                    routes[v] = trips.next_route(v, int(graph.dst[edge[v]]))
                    step[v] = 0
                edge[v] = routes[v][step[v]]
                entry[v] = out
                speed = speeds_at(t)[edge[v]] * factor[v] / 3.6
                if left * speed < length[edge[v]]:
                    pos[v] = left * speed
                    mps[v] = speed
                    break
                left -= length[edge[v]] / speed


def drive_back(graph: Graph, speeds_at: SpeedsAt, rng: np.random.Generator, edge: int,
               pos: float, until: int, since: int) -> tuple[list[tuple[int, int, float, float]],
                                                            list[tuple[int, float, float]]]:
    """A path that reaches `pos` on `edge` at second `until`, driven backwards in time to
    second `since` over random upstream edges (no U-turns) at factor 1: the same motion as
    `drive`, so that one vehicle is at a given place at a given time. Returns its states per
    second (t, edge, pos, kmh), ascending, and its completed traversals (edge, entry, exit)."""
    states: list[tuple[int, int, float, float]] = []
    done: list[tuple[int, float, float]] = []
    left_at: float | None = None  # when it left the current edge (None: not by `until`)
    for t in range(until, since - 1, -1):
        states.append((t, edge, pos, float(speeds_at(t)[edge])))
        if t == since:
            break
        back = float(speeds_at(t - 1)[edge]) / 3.6   # what `drive` moved between t-1 and t
        if pos >= back:
            pos -= back
            continue
        came_in = t - pos / back                     # when it entered the current edge
        while True:
            if left_at is not None:
                done.append((edge, came_in, left_at))
            left_at = came_in
            into = graph.in_edges[int(graph.src[edge])]
            edge = int(rng.choice([e for e in into if e != edge ^ 1] or into))
            back = float(speeds_at(t - 1)[edge]) / 3.6
            if back * (came_in - (t - 1)) <= graph.length[edge]:
                pos = float(graph.length[edge]) - back * (came_in - (t - 1))
                break
            came_in -= graph.length[edge] / back
    states.reverse()
    done.reverse()
    return states, done


def crash_taxi(sc: TrafficScenario, graph: Graph, speeds_at: SpeedsAt,
               rng: np.random.Generator, vehicle: int, appear: int, interval: int,
               duration: int, edges: list[int], log: Log) -> tuple[int, float, float]:
    """The accident taxi: a path that brings it to the crash point at the accident's second,
    then stopped there (speed 0) until the crash is cleared and it is towed (no more fixes).
    Returns (its edge, lon, lat)."""
    at = round(sc.accident.at_s)
    until = min(round(sc.accident.at_s + sc.accident.duration_s), duration + 1)
    along = sc.accident.position * float(graph.length[edges].sum())
    for edge in edges:
        if along < graph.length[edge]:
            break
        along -= float(graph.length[edge])
    states, done = drive_back(graph, speeds_at, rng, edge, along, at, min(appear, at))
    for t, e, pos, kmh in states:
        if (t - appear) % interval == 0 and t < at:
            log.s_vehicle.append(vehicle)
            log.s_t.append(t)
            log.s_edge.append(e)
            log.s_pos.append(pos)
            log.s_kmh.append(kmh)
    for e, entry, out in done:
        log.t_vehicle.append(vehicle)
        log.t_edge.append(e)
        log.t_entry.append(entry)
        log.t_exit.append(out)
    for t in range(at, until):
        if (t - appear) % interval == 0:
            log.s_vehicle.append(vehicle)
            log.s_t.append(t)
            log.s_edge.append(edge)
            log.s_pos.append(along)
            log.s_kmh.append(0.0)
    xy = point_at(graph, np.array([edge]), np.array([along]))[0]
    lon, lat = TO_WGS84.transform(xy[0], xy[1])
    return edge, round(float(lon), 7), round(float(lat), 7)


def point_at(graph: Graph, edge: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Metric xy at `pos` metres from the start of each directed edge."""
    lines = graph.network.lines[edge >> 1]
    along = np.where(edge & 1, graph.length[edge] - pos, pos)
    return shapely.get_coordinates(shapely.line_interpolate_point(lines, along))


def seat_bbox(lon: float, lat: float, km: float) -> tuple[float, float, float, float]:
    """w, s, e, n of a square `km` around (lon, lat) (for load_network's bbox)."""
    dlat = km / 111.2
    dlon = km / (111.32 * math.cos(math.radians(lat)))
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def pilot_keys(network: RoadNetwork, pilots: Mapping[str, shapely.LineString],
               tolerance_m: float = 2.0) -> dict[str, list[int]]:
    """Each pilot segment (a WGS-84 line drawn in its travel direction) as the directed
    segment keys of the roads lying along it, in travel order."""
    out: dict[str, list[int]] = {}
    for code, line in pilots.items():
        metric = shapely.transform(line, lambda xy: np.column_stack(
            TO_METRIC.transform(xy[:, 0], xy[:, 1])))
        near = np.flatnonzero(shapely.within(network.lines, metric.buffer(tolerance_m)))
        keyed = []
        for i in near:
            road = network.lines[i]
            a = metric.project(shapely.get_point(road, 0))
            b = metric.project(shapely.get_point(road, -1))
            if abs(b - a) < 1e-6:
                continue
            keyed.append(((a + b) / 2, segment_key(int(network.road_id[i]), b > a)))
        out[code] = [k for _, k in sorted(keyed)]
    return out
