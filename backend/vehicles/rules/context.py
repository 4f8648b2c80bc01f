"""What the rules need from the outside world, prepared once per vehicle/line by the caller.

Distances are computed in EPSG:4548 (CGCS2000 3-degree Gauss-Krueger, CM 117E), the metric zone
Sixian lies in: the line and stops are projected once here, so a fix costs one point transform.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPoint
from shapely.geometry.base import BaseGeometry

from backend.ingest.position import Position

METRIC_CRS = "EPSG:4548"


@lru_cache(maxsize=1)
def _to_metric() -> Transformer:
    # Transformer construction reads proj.db (milliseconds); one shared, stateless instance.
    return Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)


_last: tuple[float, float, float, float] = (float("nan"), float("nan"), 0.0, 0.0)
# The batch being run through the rules on this thread (`prepared`): its fixes projected and
# made points in one vectorised call each, instead of one scalar call per rule and fix.
_batch = threading.local()


@contextmanager
def prepared(positions: Sequence[Position]) -> Iterator[None]:
    """Within: `project` and `point_at` answer this batch's fixes from one vectorised
    transform (the same PROJ pipeline, the same numbers) on this thread."""
    n = len(positions)
    lon = np.fromiter((p.lon for p in positions), float, n)
    lat = np.fromiter((p.lat for p in positions), float, n)
    x, y = _to_metric().transform(lon, lat)
    points = shapely.points(x, y)
    xs, ys = x.tolist(), y.tolist()
    _batch.xy = dict(zip(zip(lon.tolist(), lat.tolist(), strict=True), zip(xs, ys, strict=True),
                         strict=True))
    _batch.points = dict(zip(zip(xs, ys, strict=True), points, strict=True))
    try:
        yield
    finally:
        _batch.xy = _batch.points = None


def point_at(xy: tuple[float, float]) -> shapely.Point:
    """A shapely Point at metric `xy` (the batch's own when prepared)."""
    table = getattr(_batch, "points", None)
    if table is not None:
        point = table.get(xy)
        if point is not None:
            return point
    return shapely.Point(xy)


def project(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 degrees -> EPSG:4548 metres.

    Several rules (off-route, long stop, the road speed limit) project the same fix one after
    the other: the last answer is remembered (one tuple, so threads never see half of one)."""
    global _last
    table = getattr(_batch, "xy", None)
    if table is not None:
        xy = table.get((lon, lat))
        if xy is not None:
            return xy
    last = _last
    if last[0] == lon and last[1] == lat:
        return last[2], last[3]
    x, y = _to_metric().transform(lon, lat)
    x, y = float(x), float(y)
    _last = (lon, lat, x, y)
    return x, y


@dataclass(frozen=True, slots=True)
class LineGeometry:
    """A bus line's path and stops, already in metres."""

    line_id: str
    path: LineString          # EPSG:4548
    stops: MultiPoint | None  # EPSG:4548; None when the line has no stops recorded

    @classmethod
    def from_lonlat(
        cls,
        line_id: str,
        path: Sequence[tuple[float, float]],
        stops: Iterable[tuple[float, float]] = (),
    ) -> LineGeometry:
        metric_path = LineString([project(lon, lat) for lon, lat in path])
        shapely.prepare(metric_path)
        metric_stops = [project(lon, lat) for lon, lat in stops]
        multi = MultiPoint(metric_stops) if metric_stops else None
        if multi is not None:
            shapely.prepare(multi)
        return cls(line_id, metric_path, multi)

    def distance_m(self, xy: tuple[float, float]) -> float:
        return float(self.path.distance(point_at(xy)))

    def stop_distance_m(self, xy: tuple[float, float]) -> float | None:
        return None if self.stops is None else float(self.stops.distance(point_at(xy)))


@dataclass(frozen=True, slots=True)
class Geofence:
    id: str
    name: str
    geometry: BaseGeometry    # EPSG:4326 polygon or multipolygon, prepared by make()

    @classmethod
    def make(cls, id: str, name: str, geometry: BaseGeometry) -> Geofence:
        shapely.prepare(geometry)
        return cls(id, name, geometry)

    def covers(self, lon: float, lat: float) -> bool:
        # intersects: a fix exactly on the boundary counts as inside (no flapping on the edge).
        return bool(shapely.intersects_xy(self.geometry, lon, lat))


SpeedLimitFn = Callable[[Position], float | None]


@dataclass(frozen=True, slots=True)
class RuleContext:
    vehicle_class: str = "bus"
    line: LineGeometry | None = None          # None: vehicle without an assigned line
    geofences: tuple[Geofence, ...] = ()
    speed_limit_kmh: SpeedLimitFn | None = None  # road-segment limit for a fix, None if unknown
