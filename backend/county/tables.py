"""The built county as one GeoDataFrame per table (EPSG:4326, geometry column `geom`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from backend.county.frame import STORE_EPSG, Frame, as_multipolygons, polygon_parts

DENSIFY_M = 50.0

# Load order: parents before children (bus_line_stops refers to lines and stops).
TABLES = ("county", "townships", "roads", "parcels", "buildings", "pipelines", "cameras",
          "bus_lines", "bus_stops", "grid_cells", "pilot_segments")


@dataclass
class County:
    """What build_county returns: tables in EPSG:4326 plus the ordered stops of each line and
    the cameras' presets and registering devices."""

    source: str
    seed: int
    scale: float
    tables: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    # line_code, seq, stop_code, distance_m
    line_stops: pd.DataFrame = field(default_factory=pd.DataFrame)
    # camera_code, preset_no, name, heading_deg, fov_deg, range_m, tilt_deg (domes only)
    camera_presets: pd.DataFrame = field(default_factory=pd.DataFrame)
    # code, name, keepalive_s: the devices that register over SIP (IPCs and NVRs)
    camera_devices: pd.DataFrame = field(default_factory=pd.DataFrame)

    def counts(self) -> dict[str, int]:
        out = {name: len(df) for name, df in self.tables.items()}
        out["bus_line_stops"] = len(self.line_stops)
        out["camera_presets"] = len(self.camera_presets)
        out["camera_devices"] = len(self.camera_devices)
        return out


def _valid_polygons(geoms: np.ndarray) -> np.ndarray:
    """MULTIPOLYGONs, repaired if the transform made any invalid (parts kept, slivers dropped)."""
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        fixed = shapely.make_valid(geoms[bad])
        parts, idx = polygon_parts(fixed)
        geoms = geoms.copy()
        geoms[np.flatnonzero(bad)] = [shapely.multipolygons(parts[idx == k])
                                      for k in range(int(bad.sum()))]
    return as_multipolygons(geoms)


def frame_table(frame: Frame | None, geoms: np.ndarray, shape: str, source: str,
                keys: Any, /, densify: bool | np.ndarray = False, **columns: Any
                ) -> gpd.GeoDataFrame:
    """A table from local (or, with frame None, already WGS84) geometries and columns.

    `densify` (for all or, as a mask, some rows) adds vertices every DENSIFY_M metres before
    the projection. A straight local line
    is not straight in longitude / latitude (a 750 m segment bows by 7 mm, a 10 km one by
    1.3 m), so where one polygon has a vertex in the middle of its neighbour's edge (a
    T-junction), the two would overlap or gap after projecting. With short edges the bow is
    under 0.04 mm and partitions stay partitions."""
    geoms = np.asarray(geoms, dtype=object)
    mask = np.broadcast_to(np.asarray(densify, dtype=bool), geoms.shape)
    if mask.any():
        geoms = geoms.copy()
        geoms[mask] = shapely.segmentize(geoms[mask], DENSIFY_M)
    wgs = frame.local_to_wgs84(geoms) if frame is not None else geoms
    if shape == "polygon":
        wgs = _valid_polygons(wgs)
    data = {k: (np.asarray(v, dtype=object) if not isinstance(v, np.ndarray) else v)
            for k, v in columns.items()}
    data["source"] = np.full(len(geoms), source, dtype=object)
    data["source_key"] = np.asarray(keys, dtype=object)
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(wgs, crs=STORE_EPSG), crs=STORE_EPSG
                            ).rename_geometry("geom")
