"""Candidate edges of GPS fixes: the projections of every fix of a batch onto the roads within
a radius, found at once with one STRtree query over the roads' straight pieces and projected
with numpy (no per-fix geometry calls)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from backend.traffic.network import RoadNetwork


@dataclass(frozen=True, slots=True)
class Candidates:
    """Up to `k` directed-edge candidates per fix, padded with edge -1 (distance inf).
    Both directions of each of the nearest roads are candidates: which one is meant is the
    transition's (and the heading's) business, not the distance's."""

    edge: np.ndarray     # (n, k) int64 directed edge 2*i / 2*i + 1, -1 = none
    offset: np.ndarray   # (n, k) metres from the directed edge's start to the projection
    dist: np.ndarray     # (n, k) metres from the fix to the projection
    bearing: np.ndarray  # (n, k) degrees clockwise from north of the edge's direction there


class CandidateIndex:
    """The road network's straight pieces in an STRtree, for batch candidate search."""

    def __init__(self, net: RoadNetwork, *, radius_m: float = 60.0, max_roads: int = 4) -> None:
        self.radius_m = float(radius_m)
        self.max_roads = int(max_roads)
        self.length = np.asarray(net.length_m, dtype=float)
        coords, road = shapely.get_coordinates(net.lines, return_index=True)
        same = road[1:] == road[:-1]  # consecutive vertices of one road form a piece
        self.p_road = road[:-1][same]
        self.p_x0, self.p_y0 = coords[:-1][same, 0], coords[:-1][same, 1]
        self.p_dx = coords[1:][same, 0] - self.p_x0
        self.p_dy = coords[1:][same, 1] - self.p_y0
        self.p_len = np.hypot(self.p_dx, self.p_dy)
        seg_len = np.r_[0.0, self.p_len]
        # Offset of each piece's start along its road: a cumulative sum restarted per road.
        cum = np.cumsum(seg_len)[:-1]
        first = np.r_[True, self.p_road[1:] != self.p_road[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(len(first)), 0))
        self.p_start = cum - cum[start]
        self.tree = shapely.STRtree(shapely.linestrings(
            np.stack([np.column_stack([self.p_x0, self.p_y0]),
                      np.column_stack([self.p_x0 + self.p_dx, self.p_y0 + self.p_dy])], axis=1)))

    @property
    def k(self) -> int:
        return 2 * self.max_roads

    def search(self, x: np.ndarray, y: np.ndarray) -> Candidates:
        n, k = len(x), self.k
        edge = np.full((n, k), -1, dtype=np.int64)
        offset = np.zeros((n, k))
        dist = np.full((n, k), np.inf)
        bearing = np.zeros((n, k))
        if n == 0 or len(self.p_road) == 0:
            return Candidates(edge, offset, dist, bearing)
        fix, piece = self.tree.query(shapely.points(x, y), predicate="dwithin",
                                     distance=self.radius_m)
        if len(fix) == 0:
            return Candidates(edge, offset, dist, bearing)
        dx, dy, plen = self.p_dx[piece], self.p_dy[piece], self.p_len[piece]
        rx, ry = x[fix] - self.p_x0[piece], y[fix] - self.p_y0[piece]
        t = np.clip((rx * dx + ry * dy) / np.maximum(plen * plen, 1e-9), 0.0, 1.0)
        d = np.hypot(rx - t * dx, ry - t * dy)
        road = self.p_road[piece]
        # The nearest piece of each (fix, road), then the nearest `max_roads` roads per fix.
        order = np.lexsort((d, road, fix))
        fix, piece, road, d, t = fix[order], piece[order], road[order], d[order], t[order]
        first = np.r_[True, (fix[1:] != fix[:-1]) | (road[1:] != road[:-1])]
        fix, piece, road, d, t = fix[first], piece[first], road[first], d[first], t[first]
        order = np.lexsort((d, fix))
        fix, piece, road, d, t = fix[order], piece[order], road[order], d[order], t[order]
        start = np.r_[0, np.flatnonzero(fix[1:] != fix[:-1]) + 1]
        rank = np.arange(len(fix)) - np.repeat(start, np.diff(np.r_[start, len(fix)]))
        keep = rank < self.max_roads
        fix, piece, road, d, t, rank = (a[keep] for a in (fix, piece, road, d, t, rank))
        along = self.p_start[piece] + t * self.p_len[piece]
        fwd_bearing = np.degrees(np.arctan2(self.p_dx[piece], self.p_dy[piece])) % 360.0
        col = 2 * rank
        edge[fix, col], edge[fix, col + 1] = 2 * road, 2 * road + 1
        offset[fix, col] = along
        offset[fix, col + 1] = np.maximum(self.length[road] - along, 0.0)
        dist[fix, col] = dist[fix, col + 1] = d
        bearing[fix, col], bearing[fix, col + 1] = fwd_bearing, (fwd_bearing + 180.0) % 360.0
        return Candidates(edge, offset, dist, bearing)
