"""A hand-built line for the transit tests: the L-shaped line of tests/vehicles/support.py
(about 1.39 km east along 33.48N, then about 1.11 km north) with five stops, and fixes placed
by their distance along it, so progress and gaps in the tests are exact."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import shapely
from pyproj import Transformer
from shapely import LineString

from backend.ingest.position import Position
from backend.vehicles.fleet import FleetLine, LineStop
from backend.vehicles.rules import LineGeometry, project
from tests.vehicles.support import LINE_LONLAT, T0

_TO_LONLAT = Transformer.from_crs("EPSG:4548", "EPSG:4326", always_xy=True)
_PATH = LineGeometry.from_lonlat("7", LINE_LONLAT).path
LENGTH = _PATH.length
CORNER = _PATH.project(shapely.Point(project(*LINE_LONLAT[1])))
STOP_AT = [0.0, 500.0, 1000.0, CORNER, LENGTH]  # metres along the line


def point_on(path: LineString, s_m: float, left_m: float = 0.0
             ) -> tuple[float, float, float]:
    """lon, lat and outbound grid bearing of the point s_m along a metric path, left_m to
    its left."""
    p = path.interpolate(s_m)
    a, b = path.interpolate(max(s_m - 1, 0)), path.interpolate(min(s_m + 1, path.length))
    dx, dy = b.x - a.x, b.y - a.y
    norm = (dx * dx + dy * dy) ** 0.5
    lon, lat = _TO_LONLAT.transform(p.x - dy / norm * left_m, p.y + dx / norm * left_m)
    return float(lon), float(lat), math.degrees(math.atan2(dx, dy)) % 360


def place(s_m: float, left_m: float = 0.0) -> tuple[float, float]:
    """lon, lat of the point s_m along the test line, left_m to its left."""
    lon, lat, _ = point_on(_PATH, s_m, left_m)
    return lon, lat


def make_line(stop_at: list[float] = STOP_AT, line_id: int = 7) -> FleetLine:
    stops = tuple(LineStop(seq=k + 1, stop_id=100 + k, code=f"S{k + 1}", name=f"站{k + 1}",
                           lon=place(d)[0], lat=place(d)[1], distance_m=d)
                  for k, d in enumerate(stop_at))
    geometry = LineGeometry.from_lonlat(str(line_id), LINE_LONLAT, [(s.lon, s.lat) for s in stops])
    return FleetLine(line_id, "7路", "7路 东—北", "#ff8800", geometry, stops)


def bearing_at(s_m: float) -> float:
    """The grid bearing of travel outbound at s_m: east on the first leg, north after."""
    return 90.0 if s_m < CORNER else 0.0


ALONG = -1.0  # heading: along the line (reversed when inbound)


def at(s_m: float, t_s: float = 0.0, *, vid: str = "bus-1", heading: float | None = ALONG,
       speed: float | None = 25.0, inbound: bool = False, left_m: float = 0.0) -> Position:
    """A fix s_m along the line at T0 + t_s, heading along the line unless given."""
    lon, lat = place(s_m, left_m)
    if heading == ALONG:
        heading = (bearing_at(s_m) + (180.0 if inbound else 0.0)) % 360
    return Position(vid, T0 + timedelta(seconds=t_s), lon, lat, speed_kmh=speed,
                    heading_deg=heading)


def when(t_s: float) -> datetime:
    return T0 + timedelta(seconds=t_s)
