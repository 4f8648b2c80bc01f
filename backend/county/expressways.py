"""The real OSM expressway bridges (G1516 盐洛高速, S07 徐明高速), and synthetic connectors that
join them into continuous motorways (the extract holds only bridge ways, about 16 km)."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from backend.county.frame import Frame, chaikin, cut_line, line_parts
from backend.county.recipe import Recipe


@dataclass
class Motorways:
    geoms: np.ndarray  # local LineStrings
    names: np.ndarray
    keys: np.ndarray  # osm:way/<id> for real bridges, synthetic:<ref>:<n> for connectors
    corridors: np.ndarray  # polygons kept free of parcels


def _centreline(coords: np.ndarray, bin_m: float = 1500.0) -> np.ndarray:
    """A rough centreline through all vertices of one expressway, extended by 15 km each way."""
    centre = coords.mean(axis=0)
    _, _, vt = np.linalg.svd(coords - centre, full_matrices=False)
    axis = vt[0]
    t = (coords - centre) @ axis
    bins = np.floor((t - t.min()) / bin_m).astype(int)
    pts = np.array([coords[bins == k].mean(axis=0) for k in np.unique(bins)])
    head = pts[0] - pts[1] if len(pts) > 1 else -axis
    tail = pts[-1] - pts[-2] if len(pts) > 1 else axis
    head, tail = head / np.linalg.norm(head), tail / np.linalg.norm(tail)
    pts = np.vstack([pts[0] + head * 15000.0, pts, pts[-1] + tail * 15000.0])
    return chaikin(pts, 3)


def expressway_rows(recipe: Recipe, frame: Frame, county: shapely.Geometry) -> Motorways:
    gdf = gpd.read_file(recipe.path(recipe.county.files.expressways))
    local = frame.wgs84_to_local(gdf.geometry.to_numpy())
    is_line = shapely.get_type_id(local) == 1
    shapely.prepare(county)
    touching = shapely.intersects(county, local)
    lines = is_line & touching
    order = np.flatnonzero(lines)
    clipped, src = line_parts(shapely.intersection(local[order], county))
    keep = shapely.length(clipped) > 1.0
    clipped, src = clipped[keep], order[src[keep]]
    names = gdf["name"].to_numpy(dtype=object)[src]
    keys = np.array([f"osm:{gdf['osm_id'].iloc[i]}" for i in src], dtype=object)
    corridors = [shapely.buffer(clipped, 10.0)]
    areas = local[~is_line & touching]  # the 蟠龙山服务区 polygon
    if len(areas):
        corridors.append(shapely.intersection(areas, county))

    geoms, gnames, gkeys = [clipped], [names], [keys]
    if recipe.expressways.connectors:
        refs = gdf["ref"].to_numpy(dtype=object)
        for ref in sorted({r for r in refs[lines] if isinstance(r, str)}):
            mine = local[lines & (refs == ref)]
            line = shapely.linestrings(_centreline(shapely.get_coordinates(mine)))
            parts, _ = line_parts(np.array([shapely.intersection(line, county)]))
            pieces = []
            for part in parts:
                c = shapely.get_coordinates(part)
                length = shapely.length(part)
                n = max(1, int(round(length / recipe.expressways.piece_m)))
                cut = cut_line(c, np.linspace(0, length, n + 1))
                pieces += [shapely.linestrings(p) for p in cut]
            pieces_arr = np.array(pieces, dtype=object)
            name = str(gdf["name"].to_numpy()[lines & (refs == ref)][0])
            geoms.append(pieces_arr)
            gnames.append(np.full(len(pieces_arr), name, dtype=object))
            gkeys.append(np.array([f"synthetic:{ref}:{k:03d}" for k in range(len(pieces_arr))],
                                  dtype=object))
            corridors.append(shapely.buffer(pieces_arr, recipe.expressways.corridor_m / 2))
    return Motorways(geoms=np.concatenate(geoms), names=np.concatenate(gnames),
                     keys=np.concatenate(gkeys), corridors=np.concatenate(corridors))
