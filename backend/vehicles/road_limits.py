"""The posted speed limit of the road a vehicle is driving on, for the overspeed rule.

A fix is matched to the nearest road within `max_distance_m` whose direction agrees with the
vehicle's heading (roads are two-way, so modulo 180 deg): at a crossing, the street the bus
drives along wins over the one it crosses. Roads are held in EPSG:4548 metres in an STRtree.
A fix slower than every posted limit is not looked up: no limit could be exceeded.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
import sqlalchemy as sa

from backend.ingest.position import Position
from backend.vehicles.rules import project

MAX_DISTANCE_M = 20.0
MAX_ANGLE_DEG = 35.0


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

    def limit_at(self, position: Position) -> float | None:
        speed = position.speed_kmh
        if speed is None or speed <= self.floor or not len(self.limits):
            return None
        point = shapely.Point(project(position.lon, position.lat))
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
        # Heading is clockwise from north; the road's bearing likewise, compared modulo 180.
        bearing = math.degrees(math.atan2(b.x - a.x, b.y - a.y)) % 180.0
        diff = abs(heading_deg % 180.0 - bearing)
        return min(diff, 180.0 - diff) <= MAX_ANGLE_DEG
