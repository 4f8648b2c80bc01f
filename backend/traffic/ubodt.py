"""A bounded shortest-path table over the road network's nodes (FMM's "UBODT"): every node pair
whose route distance is at most `limit_m`, with the distance and the last directed edge of the
path, so that the matcher's transitions and the paths between matched fixes are array look-ups,
never a routing call at run time.

The demo county (5,904 nodes at full scale) has ~670 k pairs within 3 km: a few seconds of
scipy Dijkstra at start-up and ~16 MB in an open-addressing hash table that numpy probes for a
whole batch of node pairs at once.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from backend.traffic.network import RoadNetwork

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_EMPTY = np.int64(-1)
_CHUNK = 256  # sources per Dijkstra call: a dense (chunk x nodes) result stays small


def directed_edges(net: RoadNetwork) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(from node, to node, length) of every directed edge 2*i (a -> b) and 2*i + 1 (b -> a)."""
    n = len(net)
    src = np.empty(2 * n, dtype=np.int64)
    dst = np.empty(2 * n, dtype=np.int64)
    src[0::2], src[1::2] = net.a, net.b
    dst[0::2], dst[1::2] = net.b, net.a
    return src, dst, np.repeat(np.asarray(net.length_m, dtype=float), 2)


class PathTable:
    """Route distance and path between nodes up to `limit_m` along the directed network."""

    def __init__(self, net: RoadNetwork, limit_m: float = 3000.0) -> None:
        self.limit_m = float(limit_m)
        self.n_nodes = m = len(net.node_xy)
        src, dst, length = directed_edges(net)
        self.edge_from, self.edge_to, self.edge_len = src, dst, length
        # Parallel roads between one node pair: only the shortest is a route (a sparse matrix
        # would add their lengths up), and it is the edge a path names.
        order = np.lexsort((length, dst, src))
        pair = src[order] * m + dst[order]
        first = np.r_[True, pair[1:] != pair[:-1]]
        best = order[first]
        self._pair_keys = pair[first]           # sorted: (u, v) -> best directed edge
        self._pair_edge = best
        # Self-loops would make a node its own predecessor; a zero-length edge is kept at a
        # tiny positive length so the sparse matrix does not drop it.
        keep = src[best] != dst[best]
        graph = sp.csr_matrix((np.maximum(length[best][keep], 1e-3),
                               (src[best][keep], dst[best][keep])), shape=(m, m))
        keys, dist, last = [], [], []
        for s in range(0, m, _CHUNK):
            rows = np.arange(s, min(m, s + _CHUNK))
            d, pred = dijkstra(graph, indices=rows, limit=self.limit_m, return_predecessors=True)
            r, c = np.nonzero(np.isfinite(d))
            u = rows[r]
            p = pred[r, c]
            edge = np.full(len(c), -1, dtype=np.int64)
            step = p >= 0  # the source itself has no predecessor (distance 0, no edge)
            edge[step] = self._edge_between(p[step], c[step])
            keys.append(u * m + c)
            dist.append(d[r, c])
            last.append(edge)
        self._build(np.concatenate(keys), np.concatenate(dist).astype(np.float32),
                    np.concatenate(last).astype(np.int32))

    def __len__(self) -> int:
        return self._count

    def _edge_between(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self._pair_keys, u * self.n_nodes + v)
        return self._pair_edge[pos]

    # ---- open-addressing hash table, probed for many keys at once --------------------------
    def _slot(self, keys: np.ndarray) -> np.ndarray:
        h = keys.astype(np.uint64) * _GOLDEN
        return (h >> np.uint64(64 - self._bits)).astype(np.int64)

    def _build(self, keys: np.ndarray, dist: np.ndarray, last: np.ndarray) -> None:
        self._count = len(keys)
        self._bits = max(4, int(np.ceil(np.log2(max(1, 3 * len(keys))))))  # load <= 1/3
        size = 1 << self._bits
        self._mask = size - 1
        self._keys = np.full(size, _EMPTY, dtype=np.int64)
        self._dist = np.full(size, np.inf, dtype=np.float32)
        self._last = np.full(size, -1, dtype=np.int32)
        pending = np.arange(len(keys))
        slot = self._slot(keys)
        while len(pending):
            s = slot[pending]
            free = self._keys[s] == _EMPTY
            # Among keys aiming at the same free slot, the first wins; the rest probe on.
            cand = pending[free]
            _, win = np.unique(s[free], return_index=True)
            won = cand[win]
            self._keys[slot[won]] = keys[won]
            self._dist[slot[won]] = dist[won]
            self._last[slot[won]] = last[won]
            placed = np.zeros(len(keys), dtype=bool)
            placed[won] = True
            pending = pending[~placed[pending]]
            slot[pending] = (slot[pending] + 1) & self._mask

    def _find(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Slot of each (u, v), or -1 when the pair is farther than the limit."""
        keys = np.asarray(u, dtype=np.int64) * self.n_nodes + np.asarray(v, dtype=np.int64)
        flat = keys.ravel()
        out = np.full(flat.shape, -1, dtype=np.int64)
        slot = self._slot(flat)
        todo = np.arange(len(flat))
        while len(todo):
            s = slot[todo]
            k = self._keys[s]
            hit = k == flat[todo]
            out[todo[hit]] = s[hit]
            todo = todo[~hit & (k != _EMPTY)]
            slot[todo] = (slot[todo] + 1) & self._mask
        return out.reshape(keys.shape)

    def distance(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Route distance u -> v in metres (inf beyond the limit), for arrays of any shape."""
        s = self._find(u, v)
        return np.where(s >= 0, self._dist[s], np.inf)

    def last_edge(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The last directed edge of the shortest path u -> v (-1 when u == v or beyond)."""
        s = self._find(u, v)
        return np.where(s >= 0, self._last[s], -1).astype(np.int64)

    def first_edge(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The first directed edge of the shortest path u -> v (-1 when u == v or beyond)."""
        edges, _ = self.walk(u, v)
        return edges[:, 0] if edges.shape[1] else np.full(len(edges), -1, dtype=np.int64)

    def walk(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(edges, count): the shortest path u -> v of each pair as a row of directed edges
        in travel order padded with -1, and its length in edges (0 when u == v or the pair
        is beyond the limit); walked back from v for all pairs at once."""
        u = np.asarray(u, dtype=np.int64)
        cur = np.asarray(v, dtype=np.int64).copy()
        n = len(u)
        steps: list[np.ndarray] = []
        failed = np.zeros(n, dtype=bool)
        todo = np.flatnonzero(cur != u)
        while len(todo):
            s = self._find(u[todo], cur[todo])
            edge = np.where(s >= 0, self._last[s], -1)
            ok = edge >= 0
            failed[todo[~ok]] = True   # unreachable within the limit: no path
            step = np.full(n, -1, dtype=np.int64)
            step[todo[ok]] = edge[ok]
            steps.append(step)
            todo = todo[ok]
            cur[todo] = self.edge_from[edge[ok]]
            todo = todo[cur[todo] != u[todo]]
        if not steps:
            return np.full((n, 0), -1, dtype=np.int64), np.zeros(n, dtype=np.int64)
        back = np.stack(steps, axis=1)            # each row's path, last edge first
        count = np.where(failed, 0, (back >= 0).sum(axis=1))
        idx = count[:, None] - 1 - np.arange(back.shape[1])
        edges = np.where(idx >= 0, back[np.arange(n)[:, None], np.maximum(idx, 0)], -1)
        return edges, count

    def paths(self, u: np.ndarray, v: np.ndarray) -> list[list[int]]:
        """The directed edges of the shortest path u -> v for each pair ([] when u == v or
        the pair is beyond the limit)."""
        edges, count = self.walk(u, v)
        return [row[:c] for row, c in zip(edges.tolist(), count.tolist(), strict=True)]
