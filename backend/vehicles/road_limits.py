"""The posted speed limit of the road a vehicle is driving on, for the overspeed rule.

A fix is matched to the nearest road within `max_distance_m` whose direction agrees with the
vehicle's heading (roads are two-way, so modulo 180 deg): at a crossing, the street the bus
drives along wins over the one it crosses. Roads are held in EPSG:4548 metres in an STRtree.
A fix slower than every posted limit is not looked up: no limit could be exceeded.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import shapely
import sqlalchemy as sa

from backend.ingest.position import Position
from backend.vehicles.rules import project
from backend.vehicles.rules.context import point_at

MAX_DISTANCE_M = 20.0
MAX_ANGLE_DEG = 35.0
# Limits of the batch being run through the rules on this thread (`prepared`), by id() of the
# fix: the batch holds its fixes, so no other live fix can share an id meanwhile.
_batch = threading.local()


class RoadSpeedLimits:
    def __init__(self, roads: np.ndarray, limits: np.ndarray) -> None:
        self.roads = roads            # shapely LineStrings in EPSG:4548
        self.limits = limits          # km/h, one per road
        self.tree = shapely.STRtree(roads)
        self.floor = float(limits.min()) if len(limits) else math.inf

    @classmethod
    def load(cls, conn: sa.Connection) -> RoadSpeedLimits:
        rows = conn.execute(sa.text(
            "SELECT ST_AsBinary(ST_Transform(geom, 4548)), speed_limit FROM roads "
            "WHERE speed_limit IS NOT NULL")).all()
        roads = shapely.from_wkb([bytes(r[0]) for r in rows]) if rows else np.array([])
        # Multi-part roads are split so that each part has its own direction.
        parts, limits = [], []
        for geom, (_, limit) in zip(roads, rows, strict=True):
            for part in getattr(geom, "geoms", [geom]):
                parts.append(part)
                limits.append(float(limit))
        return cls(np.array(parts, dtype=object), np.array(limits, dtype=float))

    @contextmanager
    def prepared(self, positions: Sequence[Position]) -> Iterator[None]:
        """Within: `limit_at` answers this batch's fixes from one vectorised pass (one tree
        query, one call per measure for every candidate road), with the same choices as
        fix by fix: candidates in the tree's order, nearest aligned one first."""
        todo = [p for p in positions
                if p.speed_kmh is not None and p.speed_kmh > self.floor]
        if not todo or not len(self.limits):
            yield
            return
        points = np.array([point_at(project(p.lon, p.lat)) for p in todo], dtype=object)
        which, found = self.tree.query(points, predicate="dwithin", distance=MAX_DISTANCE_M)
        roads, at = self.roads[found], points[which]
        distance = shapely.distance(roads, at).tolist()
        along = shapely.line_locate_point(roads, at)
        a = shapely.line_interpolate_point(roads, np.maximum(along - 5.0, 0.0))
        b = shapely.line_interpolate_point(roads, np.minimum(along + 5.0, shapely.length(roads)))
        same = shapely.equals(a, b).tolist()
        ax, ay = shapely.get_x(a).tolist(), shapely.get_y(a).tolist()
        bx, by = shapely.get_x(b).tolist(), shapely.get_y(b).tolist()
        best: dict[int, tuple[int, float]] = {}
        for k, (i, road) in enumerate(zip(which.tolist(), found.tolist(), strict=True)):
            chosen = best.get(i)
            if chosen is not None and distance[k] >= chosen[1]:
                continue
            heading = todo[i].heading_deg
            if heading is not None and not same[k] and not _within_angle(
                    heading, bx[k] - ax[k], by[k] - ay[k]):
                continue
            best[i] = (road, distance[k])
        _batch.limits = {id(p): (float(self.limits[best[i][0]]) if i in best else None)
                         for i, p in enumerate(todo)}
        try:
            yield
        finally:
            _batch.limits = None

    def limit_at(self, position: Position) -> float | None:
        speed = position.speed_kmh
        if speed is None or speed <= self.floor or not len(self.limits):
            return None
        table = getattr(_batch, "limits", None)
        if table is not None and id(position) in table:
            return table[id(position)]
        point = point_at(project(position.lon, position.lat))
        candidates = self.tree.query(point, predicate="dwithin", distance=MAX_DISTANCE_M)
        best, best_distance = None, math.inf
        for i in candidates:
            road = self.roads[i]
            distance = road.distance(point)
            if distance >= best_distance:
                continue
            if position.heading_deg is not None and not self._aligned(road, point,
                                                                      position.heading_deg):
                continue
            best, best_distance = i, distance
        return None if best is None else float(self.limits[best])

    @staticmethod
    def _aligned(road: shapely.LineString, point: shapely.Point, heading_deg: float) -> bool:
        along = road.project(point)
        a = road.interpolate(max(along - 5.0, 0.0))
        b = road.interpolate(min(along + 5.0, road.length))
        if a.equals(b):
            return True
        return _within_angle(heading_deg, b.x - a.x, b.y - a.y)


def _within_angle(heading_deg: float, dx: float, dy: float) -> bool:
    # Heading is clockwise from north; the road's bearing likewise, compared modulo 180.
    bearing = math.degrees(math.atan2(dx, dy)) % 180.0
    diff = abs(heading_deg % 180.0 - bearing)
    return min(diff, 180.0 - diff) <= MAX_ANGLE_DEG
