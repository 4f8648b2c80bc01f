"""What the rules need from the outside world, prepared once per vehicle/line by the caller.

Distances are computed in EPSG:4548 (CGCS2000 3-degree Gauss-Krueger, CM 117E), the metric zone
Sixian lies in: the line and stops are projected once here, so a fix costs one point transform.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

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


def project(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 degrees -> EPSG:4548 metres.

    Several rules (off-route, long stop, the road speed limit) project the same fix one after
    the other: the last answer is remembered (one tuple, so threads never see half of one)."""
    global _last
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
        return float(self.path.distance(shapely.Point(xy)))

    def stop_distance_m(self, xy: tuple[float, float]) -> float | None:
        return None if self.stops is None else float(self.stops.distance(shapely.Point(xy)))


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
