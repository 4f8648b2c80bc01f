"""A road graph from noded line strings, and shortest paths on it (scipy's Dijkstra)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra


@dataclass
class Graph:
    xy: np.ndarray  # (n, 2) node coordinates
    a: np.ndarray  # edge start node
    b: np.ndarray  # edge end node
    row: np.ndarray  # edge -> index of its line in the input array
    length: np.ndarray

    @property
    def degree(self) -> np.ndarray:
        return np.bincount(np.concatenate([self.a, self.b]), minlength=len(self.xy))


def build_graph(lines: np.ndarray, rows: np.ndarray) -> Graph:
    """Nodes are line end points merged on a 1 mm grid (noded lines share exact end points)."""
    first = shapely.get_coordinates(shapely.get_point(lines, 0))
    last = shapely.get_coordinates(shapely.get_point(lines, -1))
    ends = np.round(np.vstack([first, last]) * 1000.0).astype(np.int64)
    keys, inverse = np.unique(ends, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n = len(lines)
    return Graph(xy=keys / 1000.0, a=inverse[:n], b=inverse[n:], row=np.asarray(rows),
                 length=shapely.length(lines))


class Router:
    """Shortest paths over a subset of edges with a per-edge cost."""

    def __init__(self, graph: Graph, use: np.ndarray, cost: np.ndarray) -> None:
        self.graph = graph
        idx = np.flatnonzero(use & (graph.a != graph.b))
        lo, hi = np.minimum(graph.a[idx], graph.b[idx]), np.maximum(graph.a[idx], graph.b[idx])
        order = np.lexsort((cost[idx], hi, lo))  # keep the cheapest of parallel edges
        lo, hi, idx = lo[order], hi[order], idx[order]
        first = np.ones(len(idx), dtype=bool)
        first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
        lo, hi, idx = lo[first], hi[first], idx[first]
        self.edge = {(int(p), int(q)): int(e) for p, q, e in zip(lo, hi, idx, strict=True)}
        n = len(graph.xy)
        c = cost[idx]
        self.matrix = coo_matrix((np.concatenate([c, c]),
                                  (np.concatenate([lo, hi]), np.concatenate([hi, lo]))),
                                 shape=(n, n)).tocsr()
        nodes = np.unique(np.concatenate([lo, hi]))
        self.nodes = nodes

    def nearest_node(self, p: np.ndarray) -> int:
        xy = self.graph.xy[self.nodes]
        return int(self.nodes[np.argmin(np.hypot(xy[:, 0] - p[0], xy[:, 1] - p[1]))])

    def path(self, src: int, dst: int) -> list[tuple[int, bool]]:
        """Edges (index, forward?) from src to dst; forward means a -> b."""
        if src == dst:
            return []
        _, pred = dijkstra(self.matrix, indices=src, return_predecessors=True)
        if pred[dst] < 0:
            raise ValueError(f"no path from node {src} to node {dst}")
        nodes = [dst]
        while nodes[-1] != src:
            nodes.append(int(pred[nodes[-1]]))
        nodes.reverse()
        out = []
        for p, q in zip(nodes[:-1], nodes[1:], strict=True):
            e = self.edge[(min(p, q), max(p, q))]
            out.append((e, int(self.graph.a[e]) == p))
        return out


def path_coords(lines: np.ndarray, graph: Graph, steps: list[tuple[int, bool]]) -> np.ndarray:
    """Coordinates of a path, each edge oriented along the path, joints not repeated."""
    parts = []
    for k, (e, forward) in enumerate(steps):
        c = shapely.get_coordinates(lines[graph.row[e]])
        c = c if forward else c[::-1]
        parts.append(c if k == 0 else c[1:])
    return np.vstack(parts)
