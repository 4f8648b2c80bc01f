"""Web-Mercator (EPSG:3857) XYZ tile grid arithmetic."""

from __future__ import annotations

import math

from tiles.errors import InvalidTile

MAX_ZOOM = 24
ORIGIN = 20037508.342789244  # half the Web-Mercator world width, metres


def check_tile(z: int, x: int, y: int) -> None:
    """Raise InvalidTile for a z/x/y that cannot exist."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidTile(f"Zoom {z} is outside 0-{MAX_ZOOM}")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise InvalidTile(f"Tile {z}/{x}/{y} does not exist: x and y must be in 0-{n - 1} at z{z}")


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of a tile in EPSG:3857 metres."""
    size = 2 * ORIGIN / (1 << z)
    minx = -ORIGIN + x * size
    maxy = ORIGIN - y * size
    return minx, maxy - size, minx + size, maxy


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    lat_r = math.radians(max(min(lat, 85.05112878), -85.05112878))
    y = int((1.0 - math.asinh(math.tan(lat_r)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)
