"""Row geometry checks: present, finite, of the table's type (promoted or demoted where that
loses nothing), valid (repaired only within the same type family), inside the county."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from backend.db.base import STORE_SRID

FAMILY = {"Point": "point", "MultiPoint": "point", "LineString": "line", "LinearRing": "line",
          "MultiLineString": "line", "Polygon": "polygon", "MultiPolygon": "polygon"}
TARGET = {"POINT": "Point", "MULTIPOINT": "MultiPoint", "LINESTRING": "LineString",
          "MULTILINESTRING": "MultiLineString", "POLYGON": "Polygon",
          "MULTIPOLYGON": "MultiPolygon"}
SINGLE = {"Point", "LineString", "Polygon"}
MULTI = {"Point": shapely.MultiPoint, "LineString": shapely.MultiLineString,
         "Polygon": shapely.MultiPolygon}


@dataclass
class GeomOutcome:
    hexes: list[str | None]  # hex EWKB per row, None when rejected
    rejected: dict[int, str] = field(default_factory=dict)  # position -> reason
    repaired: dict[int, str] = field(default_factory=dict)


def county_area(county: BaseGeometry, buffer_m: float) -> BaseGeometry:
    """The county (EPSG:4326) grown by `buffer_m` metres, buffered in its UTM zone."""
    series = gpd.GeoSeries([county], crs=STORE_SRID)
    metric = series.estimate_utm_crs()
    area = series.to_crs(metric).buffer(buffer_m).to_crs(STORE_SRID).iloc[0]
    shapely.prepare(area)
    return area


def conform(geom: BaseGeometry, geometry_type: str) -> tuple[BaseGeometry | None, str | None]:
    """`geom` as exactly the table's type, or the reason it cannot be."""
    want = TARGET.get(geometry_type)
    if want is None:  # a generic GEOMETRY column takes anything
        return geom, None
    have = geom.geom_type
    if FAMILY.get(have) != FAMILY[want]:
        return None, f"a {have}, but this layer stores {want} geometries"
    if have == "LinearRing":
        geom, have = shapely.LineString(geom.coords), "LineString"
    if have == want:
        return geom, None
    if want in SINGLE:  # a multi-part geometry for a single-part table
        parts = list(geom.geoms)  # type: ignore[attr-defined]
        if len(parts) == 1:
            return parts[0], None
        return None, (f"a {have} with {len(parts)} parts, but this layer stores single "
                      f"{want}s: split it into {len(parts)} features")
    return MULTI[have]([geom]), None


def check_geometries(
    geoms: NDArray[np.object_], geometry_type: str, area: BaseGeometry | None
) -> GeomOutcome:
    """`geoms` are already in EPSG:4326."""
    n = len(geoms)
    out: list[BaseGeometry | None] = [None] * n
    result = GeomOutcome(hexes=[None] * n)
    missing = shapely.is_missing(geoms)
    present = np.where(missing, None, geoms)
    empty = shapely.is_empty(present) & ~missing
    bounds = shapely.bounds(present)
    valid = shapely.is_valid(present)
    for i in range(n):
        geom = geoms[i]
        if missing[i]:
            result.rejected[i] = "no geometry"
            continue
        if empty[i]:
            result.rejected[i] = "empty geometry"
            continue
        b = bounds[i]
        if not np.all(np.isfinite(b)):
            result.rejected[i] = "coordinates are not finite numbers (wrong CRS?)"
            continue
        if b[0] < -180 or b[2] > 180 or b[1] < -90 or b[3] > 90:
            result.rejected[i] = (f"coordinates ({b[0]:.6g}, {b[1]:.6g}) are not a longitude/"
                                  "latitude after conversion (wrong CRS?)")
            continue
        fitted, reason = conform(geom, geometry_type)
        if fitted is None:
            result.rejected[i] = str(reason)
            continue
        if not valid[i]:
            why = shapely.is_valid_reason(geom)
            fixed, reason = conform(shapely.make_valid(geom), geometry_type)
            if fixed is None or not fixed.is_valid or fixed.is_empty:
                result.rejected[i] = f"invalid geometry ({why}) that cannot be repaired: {reason}"
                continue
            result.repaired[i] = f"invalid geometry ({why}) repaired into a {fixed.geom_type}"
            fitted = fixed
        if area is not None and not area.intersects(fitted):
            c = fitted.representative_point()
            result.rejected[i] = (f"outside the county (near {c.x:.5f}, {c.y:.5f}; more than "
                                  "the allowed distance beyond the boundary)")
            continue
        out[i] = fitted
    keep = [i for i in range(n) if out[i] is not None]
    if keep:
        arr = shapely.set_srid(np.asarray([out[i] for i in keep], dtype=object), STORE_SRID)
        hexes = shapely.to_wkb(arr, hex=True, include_srid=True)
        for i, h in zip(keep, hexes, strict=True):
            result.hexes[i] = str(h)
    return result
