"""The local working frame and small numeric helpers shared by the generator's modules.

All generation happens in a local metric frame: EPSG:4548 (CGCS2000 GK CM 117E) shifted to the
county seat and turned by the recipe's rotation, so that the street and field lattice is
axis-aligned. Axis-aligned lattice coordinates are exact, which makes T-junctions and shared
edges exact without snapping. Output is converted to EPSG:4326 once, at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Transformer

STORE_EPSG = 4326
GRID_SIZE = 0.001  # 1 mm precision grid for the partition overlays (county, townships, cells)

# Independent random streams: a change in one module never shifts another module's draws.
STREAM_TOWNSHIPS = 1
STREAM_LATTICE = 2
STREAM_ROADS = 3
STREAM_PARCELS = 4
STREAM_BUILDINGS = 5
STREAM_PIPELINES = 6
STREAM_CAMERAS = 7
STREAM_BUS = 8
STREAM_GRID = 9
STREAM_VILLAGES = 10


@lru_cache(maxsize=8)
def transformer(src: int, dst: int) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def rng(seed: int, *keys: int) -> np.random.Generator:
    """A generator for one stream (and optionally one lattice cell): default_rng(seed, keys)."""
    return np.random.default_rng([seed, *keys])


@dataclass(frozen=True)
class Frame:
    """Local (u, v) = rotation(-theta) of (x, y) - seat, with (x, y) in the metric CRS."""

    metric_epsg: int
    origin: tuple[float, float]
    theta: float  # radians, counter-clockwise

    @classmethod
    def at_seat(cls, lon: float, lat: float, metric_epsg: int, rotation_deg: float) -> Frame:
        x, y = transformer(STORE_EPSG, metric_epsg).transform(lon, lat)
        return cls(metric_epsg, (float(x), float(y)), math.radians(rotation_deg))

    def _rot(self) -> tuple[float, float]:
        return math.cos(self.theta), math.sin(self.theta)

    def metric_to_local(self, xy: np.ndarray) -> np.ndarray:
        c, s = self._rot()
        dx, dy = xy[:, 0] - self.origin[0], xy[:, 1] - self.origin[1]
        return np.column_stack([c * dx + s * dy, -s * dx + c * dy])

    def local_to_metric(self, uv: np.ndarray) -> np.ndarray:
        c, s = self._rot()
        u, v = uv[:, 0], uv[:, 1]
        return np.column_stack([self.origin[0] + c * u - s * v, self.origin[1] + s * u + c * v])

    def offset(self, east_km: float, north_km: float) -> np.ndarray:
        """A world offset from the seat (east, north in km) in local coordinates."""
        xy = np.array([[self.origin[0] + east_km * 1000.0, self.origin[1] + north_km * 1000.0]])
        return self.metric_to_local(xy)[0]

    def bearing_vector(self, bearing_deg: float) -> np.ndarray:
        """A unit vector in local coordinates for a compass bearing (0 = north, clockwise)."""
        b = math.radians(bearing_deg)
        east, north = math.sin(b), math.cos(b)
        c, s = self._rot()
        return np.array([c * east + s * north, -s * east + c * north])

    def wgs84_to_local(self, geoms: np.ndarray) -> np.ndarray:
        fwd = transformer(STORE_EPSG, self.metric_epsg)

        def f(xy: np.ndarray) -> np.ndarray:
            x, y = fwd.transform(xy[:, 0], xy[:, 1])
            return self.metric_to_local(np.column_stack([x, y]))

        return shapely.transform(geoms, f)

    def local_to_wgs84(self, geoms: np.ndarray) -> np.ndarray:
        inv = transformer(self.metric_epsg, STORE_EPSG)

        def f(uv: np.ndarray) -> np.ndarray:
            xy = self.local_to_metric(uv)
            lon, lat = inv.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([lon, lat])

        return shapely.transform(geoms, f)

    def bearing_of(self, du: np.ndarray, dv: np.ndarray) -> np.ndarray:
        """Compass bearings (degrees) of local direction vectors."""
        c, s = self._rot()
        east, north = c * du - s * dv, s * du + c * dv
        return np.degrees(np.arctan2(east, north)) % 360.0


def boxes(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray) -> np.ndarray:
    """Axis-aligned rectangles as polygons, vectorised (inputs of any matching shape)."""
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    coords = np.stack([np.stack(np.broadcast_arrays(x, y), axis=-1) for x, y in corners], axis=-2)
    return shapely.polygons(coords)


def segments(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray) -> np.ndarray:
    """Two-point line strings, vectorised."""
    ends = [(x0, y0), (x1, y1)]
    coords = np.stack([np.stack(np.broadcast_arrays(x, y), axis=-1) for x, y in ends], axis=-2)
    return shapely.linestrings(coords)


def chaikin(points: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Corner cutting that keeps both end points: a smooth road through wiggled waypoints."""
    pts = points
    for _ in range(iterations):
        q = 0.75 * pts[:-1] + 0.25 * pts[1:]
        r = 0.25 * pts[:-1] + 0.75 * pts[1:]
        mid = np.empty((2 * len(q), 2))
        mid[0::2], mid[1::2] = q, r
        pts = np.vstack([pts[:1], mid[1:-1], pts[-1:]]) if len(q) > 1 else pts
    return pts


def wiggle(a: np.ndarray, b: np.ndarray, step_m: float, amp_m: float,
           gen: np.random.Generator) -> np.ndarray:
    """Points from a to b (inclusive) every ~step_m, pushed sideways by up to amp_m."""
    length = float(np.hypot(*(b - a)))
    n = max(1, int(round(length / step_m)))
    t = np.linspace(0.0, 1.0, n + 1)
    pts = a + np.outer(t, b - a)
    if n > 1 and amp_m > 0:
        normal = np.array([-(b - a)[1], (b - a)[0]]) / max(length, 1e-9)
        side = gen.normal(0.0, amp_m / 2, n - 1).clip(-amp_m, amp_m)
        pts[1:-1] += np.outer(side, normal)
    return pts


def cut_line(coords: np.ndarray, cuts: np.ndarray) -> list[np.ndarray]:
    """Pieces of a polyline between consecutive distances in `cuts` (ascending, in metres)."""
    seg = np.hypot(*np.diff(coords, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    at = np.column_stack([np.interp(cuts, cum, coords[:, 0]), np.interp(cuts, cum, coords[:, 1])])
    out = []
    for k in range(len(cuts) - 1):
        inner = (cum > cuts[k]) & (cum < cuts[k + 1])
        out.append(np.vstack([at[k : k + 1], coords[inner], at[k + 1 : k + 2]]))
    return out


def farthest_points(candidates: np.ndarray, fixed: np.ndarray, n: int) -> np.ndarray:
    """Pick n candidates greedily, each farthest from the fixed and already picked points."""
    if n <= 0 or len(candidates) == 0:
        return np.empty((0, 2))
    d = np.full(len(candidates), np.inf)
    for p in fixed:
        d = np.minimum(d, np.hypot(candidates[:, 0] - p[0], candidates[:, 1] - p[1]))
    picked: list[int] = []
    for _ in range(min(n, len(candidates))):
        k = 0 if not picked and not len(fixed) else int(np.argmax(d))
        picked.append(k)
        d = np.minimum(d, np.hypot(candidates[:, 0] - candidates[k, 0],
                                   candidates[:, 1] - candidates[k, 1]))
        d[k] = -1.0
    return candidates[picked]


def random_points_in(geom: shapely.Geometry, n: int, gen: np.random.Generator) -> np.ndarray:
    """About n uniform random points inside a polygon (rejection sampling on its bounds)."""
    if shapely.is_empty(geom) or n <= 0:
        return np.empty((0, 2))
    x0, y0, x1, y1 = shapely.bounds(geom)
    fill = max(shapely.area(geom) / max((x1 - x0) * (y1 - y0), 1e-9), 0.05)
    m = int(n / fill * 1.3) + 8
    pts = np.column_stack([gen.uniform(x0, x1, m), gen.uniform(y0, y1, m)])
    shapely.prepare(geom)
    inside = shapely.contains_xy(geom, pts[:, 0], pts[:, 1])
    return pts[inside][:n]


def conform(geoms: np.ndarray, tolerance: float = 1e-6) -> np.ndarray:
    """Give each polygon the vertices of its neighbours that lie on its edges, so that shared
    edges have the same vertices on both sides (no T-junctions) and stay shared after a
    non-linear projection. Vectorised in rounds: the k-th neighbour of every polygon at once."""
    # dwithin, not intersects: a neighbour's vertex may sit 1e-13 m off the shared edge.
    a, b = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=tolerance)
    keep = a != b
    a, b = a[keep], b[keep]
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    if not len(a):
        return geoms
    starts = np.flatnonzero(np.r_[True, a[1:] != a[:-1]])
    rank = np.arange(len(a)) - np.repeat(starts, np.diff(np.r_[starts, len(a)]))
    points = shapely.extract_unique_points(geoms)
    out = np.asarray(geoms, dtype=object).copy()
    for r in range(int(rank.max()) + 1):
        sel = rank == r
        out[a[sel]] = shapely.snap(out[a[sel]], points[b[sel]], tolerance)
    return out


def polygon_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Explode (multi)polygons and collections into polygons: (parts, index of the source)."""
    parts, idx = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == 3
    parts, idx = parts[keep], idx[keep]
    nested = shapely.get_type_id(parts) != 3
    if nested.any():  # collections holding multipolygons
        sub, sidx = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], sub])
        idx = np.concatenate([idx[~nested], idx[nested][sidx]])
    return parts, idx


def line_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Explode (multi)lines and collections into line strings: (parts, index of the source)."""
    parts, idx = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == 1
    return parts[keep], idx[keep]


def as_multipolygons(polys: np.ndarray) -> np.ndarray:
    """One single-part MULTIPOLYGON per polygon (multipolygons pass through)."""
    out = np.asarray(polys, dtype=object).copy()
    single = shapely.get_type_id(out) == 3
    if single.any():
        out[single] = shapely.multipolygons(out[single][:, None])
    return out
