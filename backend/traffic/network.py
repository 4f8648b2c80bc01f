"""The road network probes are matched against: the `roads` table as a directed graph in a
metric CRS, read once and shared (read-only) by the matcher, the speed aggregation and the
scenario that drives vehicles over it.

Every road row is one undirected edge between the nodes at its two ends (the demo's roads are
noded: rows that meet share an exact end point). A vehicle runs along a road either way, so
each row gives two directed *segments*; a segment's key is stable while the row exists:
`2 * road_id` along the row's drawn direction, `2 * road_id + 1` against it. Speeds, levels,
typical speeds and alerts are all kept per segment key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
import sqlalchemy as sa
from pyproj import Transformer

METRIC_CRS = "EPSG:4548"  # CGCS2000 / 3-degree Gauss-Kruger CM 117E: covers Sixian county
TO_METRIC = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
TO_WGS84 = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)

ROADS = sa.text("""
SELECT id, road_class, name, speed_limit, ST_AsBinary(geom) AS wkb
FROM roads
WHERE (CAST(:w AS float8) IS NULL
       OR geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326))
  AND NOT ST_IsEmpty(geom)
ORDER BY id""")


def segment_key(road_id: int, forward: bool) -> int:
    """The directed segment of road `road_id`: along its drawn direction or against it."""
    return 2 * road_id + (0 if forward else 1)


def road_of(segment: int) -> tuple[int, bool]:
    """(road id, forward) of a segment key."""
    return segment >> 1, not segment & 1


@dataclass(frozen=True)
class RoadNetwork:
    """Roads as arrays indexed by row position `i` (not the road id): metric line strings in
    their drawn direction, their end nodes, lengths and attributes. Directed edge `2*i` runs
    a -> b along the line, `2*i + 1` runs b -> a."""

    road_id: np.ndarray      # (n,) int64, the roads table's id
    road_class: np.ndarray   # (n,) object: motorway, trunk, primary, secondary, ...
    name: np.ndarray         # (n,) object, may hold None
    speed_limit: np.ndarray  # (n,) float, NaN when unknown
    lines: np.ndarray        # (n,) shapely LineStrings in METRIC_CRS
    length_m: np.ndarray     # (n,) float
    a: np.ndarray            # (n,) int: node at the line's first point
    b: np.ndarray            # (n,) int: node at the line's last point
    node_xy: np.ndarray      # (m, 2) metric node coordinates

    def __len__(self) -> int:
        return len(self.road_id)

    @property
    def index_of(self) -> dict[int, int]:
        """Road id -> row position."""
        return {int(r): i for i, r in enumerate(self.road_id)}

    def segment(self, i: int, forward: bool) -> int:
        return segment_key(int(self.road_id[i]), forward)

    def edge_nodes(self, edge: int) -> tuple[int, int]:
        """(from node, to node) of directed edge `edge` (2*i forward, 2*i + 1 backward)."""
        i = edge >> 1
        a, b = int(self.a[i]), int(self.b[i])
        return (a, b) if not edge & 1 else (b, a)


def network_from_lines(road_id: np.ndarray, lines_wgs84: np.ndarray, road_class: np.ndarray,
                       name: np.ndarray, speed_limit: np.ndarray) -> RoadNetwork:
    """The network of WGS-84 line strings. Nodes are end points that are exactly equal in
    WGS-84 (noded data shares them), merged before projecting so rounding cannot split one."""
    first = shapely.get_coordinates(shapely.get_point(lines_wgs84, 0))
    last = shapely.get_coordinates(shapely.get_point(lines_wgs84, -1))
    ends, inverse = np.unique(np.vstack([first, last]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n = len(lines_wgs84)
    lines = shapely.transform(lines_wgs84, lambda xy: np.column_stack(
        TO_METRIC.transform(xy[:, 0], xy[:, 1])))
    node_xy = np.column_stack(TO_METRIC.transform(ends[:, 0], ends[:, 1]))
    return RoadNetwork(
        road_id=np.asarray(road_id, dtype=np.int64),
        road_class=np.asarray(road_class, dtype=object),
        name=np.asarray(name, dtype=object), speed_limit=np.asarray(speed_limit, dtype=float),
        lines=lines, length_m=shapely.length(lines), a=inverse[:n], b=inverse[n:],
        node_xy=node_xy)


def load_network(conn: sa.Connection,
                 bbox: tuple[float, float, float, float] | None = None) -> RoadNetwork:
    """The roads (within `bbox`, w s e n in WGS-84, when given) as a network."""
    w, s, e, n = bbox if bbox is not None else (None,) * 4
    rows = conn.execute(ROADS, {"w": w, "s": s, "e": e, "n": n}).all()
    geoms = shapely.from_wkb([bytes(r.wkb) for r in rows]) if rows else np.empty(0, object)
    return network_from_lines(
        np.array([r.id for r in rows], dtype=np.int64), np.asarray(geoms, dtype=object),
        np.array([r.road_class for r in rows], dtype=object),
        np.array([r.name for r in rows], dtype=object),
        np.array([np.nan if r.speed_limit is None else r.speed_limit for r in rows], dtype=float))
