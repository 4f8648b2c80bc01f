"""Tracks for playback, pure: the points of a track and their simplification for a map zoom.

A track is simplified in space *and time* (Douglas-Peucker with the synchronized Euclidean
distance): a fix is dropped only when the position interpolated in time between the kept
fixes around it is within the tolerance of where the bus really was at that moment. A bus
that waits at a stop keeps the fixes where it stopped and started again, so a replay that
interpolates between kept fixes still shows it waiting; a bus at constant speed on a straight
street keeps its first and last fix. Kept fixes keep their own time, speed and heading.

The tolerance is half a screen pixel at the zoom, in metres on the ground: MapLibre's
512-pixel world at zoom z is 40,075,016.686 m * cos(latitude) / (512 * 2^z) per pixel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

import numpy as np
from pyproj import Transformer

EARTH_CIRCUMFERENCE_M = 40_075_016.686
TILE_PX = 512  # MapLibre's zoom levels count 512-pixel tiles
MIN_ZOOM, MAX_ZOOM = 0, 22

Point = list  # [epoch_ms, lon, lat, speed_kmh | None, heading_deg | None]


@lru_cache(maxsize=1)
def _to_metric() -> Transformer:
    return Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True)


def tolerance_m(zoom: float, lat_deg: float) -> float:
    """Half a screen pixel at `zoom` and latitude, in metres."""
    return 0.5 * EARTH_CIRCUMFERENCE_M * math.cos(math.radians(lat_deg)) / (TILE_PX * 2 ** zoom)


def simplify_indices(t: np.ndarray, xy: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices (ascending) of the points kept by Douglas-Peucker with the synchronized
    Euclidean distance: t (n,) seconds, xy (n, 2) metres. First and last are always kept."""
    n = len(t)
    if n <= 2:
        return np.arange(n)
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        inner = slice(a + 1, b)
        span = t[b] - t[a]
        f = (t[inner] - t[a]) / span if span > 0 else np.zeros(b - a - 1)
        expected = xy[a] + (xy[b] - xy[a]) * f[:, None]
        err = np.hypot(*(xy[inner] - expected).T)
        i = int(np.argmax(err))
        if err[i] > tolerance:
            k = a + 1 + i
            keep[k] = True
            stack.append((a, k))
            stack.append((k, b))
    return np.flatnonzero(keep)


def track_points(rows: Sequence[Sequence[object]], zoom: float | None = None) -> list[Point]:
    """[[epoch_ms, lon, lat, speed_kmh, heading_deg], ...] from rows of
    (time, lon, lat, speed_kmh, heading_deg) in time order; simplified for `zoom` when given."""
    points: list[Point] = []
    for time, lon, lat, speed, heading in (tuple(r)[:5] for r in rows):
        assert isinstance(time, datetime)
        points.append([round(time.timestamp() * 1000), lon, lat, speed, heading])
    if zoom is None or len(points) <= 2:
        return points
    t = np.array([p[0] for p in points], dtype=float) / 1000.0
    lon = np.array([p[1] for p in points], dtype=float)
    lat = np.array([p[2] for p in points], dtype=float)
    x, y = _to_metric().transform(lon, lat)
    xy = np.column_stack([x, y])
    kept = simplify_indices(t, xy, tolerance_m(zoom, float(np.mean(lat))))
    return [points[int(i)] for i in kept]
