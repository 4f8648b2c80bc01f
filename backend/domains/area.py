"""The area figures are cut by: a map extent, a drawn polygon, a township or a grid cell.
Parsed and bounded here (pure: no database); the engine turns it into a predicate with every
value bound, and the service checks that a township or grid code exists."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

from backend.errors import Unprocessable

MAX_VERTICES = 5000
# A sane lon/lat box around the county (a drawn area never leaves the screen's map).
LON = (100.0, 135.0)
LAT = (15.0, 55.0)
TOWNSHIP_CODE = 9
GRID_CODE = 15


@dataclass(frozen=True)
class Area:
    kind: str                                   # bbox | polygon | township | grid
    bbox: tuple[float, float, float, float] | None = None
    code: str | None = None
    geojson: str | None = None                  # polygon: the validated GeoJSON text

    def describe(self) -> dict[str, Any]:
        """The `area` of the figures answer."""
        if self.kind == "bbox":
            return {"kind": "bbox", "bbox": list(self.bbox or ())}
        if self.kind in ("township", "grid"):
            return {"kind": self.kind, "code": self.code}
        return {"kind": "polygon", "vertices": _count(orjson.loads(self.geojson or "{}"))}

    @property
    def geometry(self) -> str:
        """SQL for the area's geometry (EPSG:4326), with psycopg2 parameters from `params`."""
        return {
            "bbox": "ST_MakeEnvelope(%(area_w)s, %(area_s)s, %(area_e)s, %(area_n)s, 4326)",
            "polygon": "ST_SetSRID(ST_GeomFromGeoJSON(%(area_geojson)s), 4326)",
            "township": "(SELECT geom FROM townships WHERE code = %(area_code)s)",
            "grid": "(SELECT geom FROM grid_cells WHERE grid_code = %(area_code)s)",
        }[self.kind]

    @property
    def params(self) -> dict[str, Any]:
        if self.kind == "bbox":
            w, s, e, n = self.bbox or (0, 0, 0, 0)
            return {"area_w": w, "area_s": s, "area_e": e, "area_n": n}
        if self.kind == "polygon":
            return {"area_geojson": self.geojson}
        return {"area_code": self.code}


def _lonlat(lon: float, lat: float, where: str) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise Unprocessable(f"{where}: coordinates must be finite numbers")
    if not (LON[0] <= lon <= LON[1] and LAT[0] <= lat <= LAT[1]):
        raise Unprocessable(f"{where}: ({lon}, {lat}) is outside the map (longitude "
                            f"{LON[0]}..{LON[1]}, latitude {LAT[0]}..{LAT[1]})")


def parse_bbox(text: str) -> Area:
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise Unprocessable("bbox: expected four numbers west,south,east,north")
    w, s, e, n = values
    _lonlat(w, s, "bbox")
    _lonlat(e, n, "bbox")
    if not (w < e and s < n):
        raise Unprocessable("bbox: west must be less than east and south less than north")
    return Area("bbox", bbox=(w, s, e, n))


def parse_code(kind: str, code: str) -> Area:
    size = TOWNSHIP_CODE if kind == "township" else GRID_CODE
    if len(code) != size or not code.isdigit():
        raise Unprocessable(f"{kind}: expected a {size}-digit code")
    return Area(kind, code=code)


def _count(geometry: dict[str, Any]) -> int:
    coords = geometry.get("coordinates") or []
    if geometry.get("type") == "Polygon":
        return sum(len(r) for r in coords)
    return sum(len(r) for p in coords for r in p)


def _ring(ring: Any, where: str) -> int:
    if not isinstance(ring, list) or len(ring) < 4:
        raise Unprocessable(f"{where}: a ring needs at least four positions (closed)")
    for pos in ring:
        if (not isinstance(pos, list) or len(pos) < 2
                or not all(isinstance(c, (int, float)) and not isinstance(c, bool)
                           for c in pos[:2])):
            raise Unprocessable(f"{where}: a position is [longitude, latitude]")
        _lonlat(float(pos[0]), float(pos[1]), where)
    if ring[0][:2] != ring[-1][:2]:
        raise Unprocessable(f"{where}: the ring is not closed (first and last positions "
                            "differ)")
    return len(ring)


def parse_polygon(geometry: Any) -> Area:
    """A GeoJSON Polygon or MultiPolygon in lon/lat, closed rings, <= MAX_VERTICES."""
    if not isinstance(geometry, dict):
        raise Unprocessable("polygon: expected a GeoJSON geometry object")
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon"):
        raise Unprocessable(f"polygon: type must be Polygon or MultiPolygon, not {kind!r}")
    if not isinstance(coords, list) or not coords:
        raise Unprocessable("polygon: coordinates must be a non-empty list")
    polygons = [coords] if kind == "Polygon" else coords
    total = 0
    for i, rings in enumerate(polygons):
        if not isinstance(rings, list) or not rings:
            raise Unprocessable(f"polygon {i}: expected a list of rings")
        for j, ring in enumerate(rings):
            total += _ring(ring, f"polygon {i} ring {j}")
            if total > MAX_VERTICES:
                raise Unprocessable(f"polygon: more than {MAX_VERTICES} vertices; simplify it")
    clean = {"type": kind, "coordinates": coords}
    return Area("polygon", geojson=orjson.dumps(clean).decode())


def parse_query(*, bbox: str | None, township: str | None, grid: str | None) -> Area | None:
    given = [(k, v) for k, v in (("bbox", bbox), ("township", township), ("grid", grid))
             if v is not None]
    if len(given) > 1:
        raise Unprocessable("give one area: bbox, township or grid")
    if not given:
        return None
    kind, value = given[0]
    return parse_bbox(value) if kind == "bbox" else parse_code(kind, value)
