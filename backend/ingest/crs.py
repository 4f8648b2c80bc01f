"""Which CRS a file's coordinates are in, and their conversion to EPSG:4326.

Never guessed: the file's own declaration, or the operator's `--crs`; when both are present
they must agree. GCJ-02 cannot be declared by any file format, so it is only ever requested.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError

from backend.errors import InvalidInput
from backend.geo.gcj02 import gcj02_to_wgs84

WGS84 = CRS.from_epsg(4326)
HINT = ("give it as an EPSG code: 4326 (WGS 84), 4490 (CGCS2000 lon/lat), "
        "4548 (CGCS2000 / 3-degree Gauss-Kruger CM 117E, Sixian)")


@dataclass(frozen=True)
class CrsChoice:
    crs: CRS
    declared: str | None  # label of the file's own CRS, None when it states none
    used: str  # label of `crs`
    note: str | None = None  # a warning for the report


def label(crs: CRS) -> str:
    epsg = crs.to_epsg(min_confidence=70)
    if epsg:
        return f"EPSG:{epsg}"
    auth = crs.to_authority(min_confidence=70)
    return f"{auth[0]}:{auth[1]}" if auth else crs.name


def parse_crs(value: int | str, *, origin: str = "--crs") -> CRS:
    text = str(value).strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise InvalidInput(f"{origin} {value!r} is not a CRS known to PROJ; {HINT}.") from exc


def same_crs(a: CRS, b: CRS) -> bool:
    if a.equals(b, ignore_axis_order=True):
        return True
    code_a, code_b = a.to_epsg(min_confidence=70), b.to_epsg(min_confidence=70)
    return code_a is not None and code_a == code_b


def choose_crs(
    path: Path,
    *,
    declared: CRS | None,
    implicit: bool,
    flag: int | str | None,
    from_gcj02: bool,
) -> CrsChoice:
    """`implicit`: the declaration is only the format's default (GeoJSON without a crs member is
    WGS 84 by RFC 7946), so `--crs` may override it for legacy files."""
    wanted = parse_crs(flag) if flag is not None else None
    declared_label = None if declared is None or implicit else label(declared)
    note = None
    if wanted is not None and declared is not None and not same_crs(declared, wanted):
        if not implicit:
            raise InvalidInput(
                f"{path.name} declares {label(declared)} but --crs says {label(wanted)}. "
                "Remove --crs to use the file's CRS, or fix the file's CRS (.prj file, "
                "GeoPackage SRS, GeoJSON crs member) if it is wrong."
            )
        note = (f"{path.name} has no crs member (WGS 84 by RFC 7946); using --crs "
                f"{label(wanted)} as asked")
    crs = wanted or declared
    if crs is None and from_gcj02:
        crs = WGS84  # GCJ-02 coordinates are longitude/latitude degrees on the WGS 84 ellipsoid
    if crs is None:
        raise InvalidInput(
            f"{path.name} does not say which coordinate system it uses, and none was given. "
            f"Pass --crs EPSG; {HINT}. Data copied from a Chinese web map: --from-gcj02."
        )
    if not (crs.is_geographic or crs.is_projected):
        raise InvalidInput(
            f"{path.name} uses {crs.name!r}, a local or unknown CRS that cannot be placed on "
            f"the earth. Re-export it with its real CRS or pass --crs EPSG; {HINT}."
        )
    try:
        Transformer.from_crs(crs, WGS84, always_xy=True)
    except ProjError as exc:
        raise InvalidInput(f"{path.name}: PROJ cannot convert {label(crs)} to WGS 84.") from exc
    if from_gcj02 and not crs.is_geographic:
        raise InvalidInput(
            f"--from-gcj02 needs longitude/latitude coordinates, but {path.name} is in "
            f"{label(crs)} (projected). GCJ-02 data is always lon/lat: check the file or the flag."
        )
    return CrsChoice(crs=crs, declared=declared_label, used=label(crs), note=note)


def to_wgs84(geoms: NDArray[np.object_], crs: CRS, *, from_gcj02: bool) -> NDArray[np.object_]:
    """Geometries (shapely, None allowed) from `crs` to EPSG:4326 lon/lat; then, when asked,
    from GCJ-02 to WGS 84. Z is dropped (the tables are 2D)."""
    out = shapely.force_2d(geoms)
    if not same_crs(crs, WGS84):
        transformer = Transformer.from_crs(crs, WGS84, always_xy=True)

        def project(xy: NDArray[np.float64]) -> NDArray[np.float64]:
            x, y = transformer.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        out = shapely.transform(out, project)
    if from_gcj02:

        def degcj(xy: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.column_stack(gcj02_to_wgs84(xy[:, 0], xy[:, 1]))

        out = shapely.transform(out, degcj)
    return np.asarray(out, dtype=object)
