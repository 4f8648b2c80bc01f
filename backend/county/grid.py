"""Grid cells (网格) partitioning the county exactly.

In the seat's built-up area a cell is half a lattice block, cut along its middle street (cells
follow streets, as real urban grids do). Elsewhere each township's remaining area is split by a
Voronoi diagram of seeds: its village points first, then points spread out. Township parts are
on a 1 mm grid (lattice lines are too), so cells along streets and township borders share their
edges exactly; Voronoi edges are shared by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree

from backend.county.frame import (
    GRID_SIZE,
    STREAM_GRID,
    conform,
    farthest_points,
    random_points_in,
    rng,
)
from backend.county.lattice import CITY, Lattice
from backend.county.recipe import Recipe
from backend.county.townships import Townships, Villages


@dataclass
class GridCells:
    geoms: np.ndarray  # local (multi)polygons
    code: list[str]
    name: list[str]
    township: np.ndarray  # township index
    community: list[str]


def _city_cells(recipe: Recipe, lat: Lattice, part: shapely.Geometry) -> list[shapely.Geometry]:
    """The township's city part cut into half (or quarter) lattice cells along middle streets."""
    out: list[shapely.Geometry] = []
    if shapely.is_empty(part):
        return out
    k = recipe.urban.streets_per_cell
    cu, cv = lat.centres()
    shapely.prepare(part)
    inside = (lat.kind == CITY) & shapely.contains_xy(part, cu, cv)
    for a, b in zip(*np.nonzero(inside), strict=True):
        x0, y0, x1, y1 = lat.rect(int(a), int(b))
        mu = float(lat.internal(0, int(a), k, recipe.urban.street_jitter)[k // 2])
        mv = float(lat.internal(1, int(b), k, recipe.urban.street_jitter)[k // 2])
        split = recipe.grid.city_split
        if split == 1:
            rects = [(x0, y0, x1, y1)]
        elif split == 4:
            rects = [(x0, y0, mu, mv), (mu, y0, x1, mv), (x0, mv, mu, y1), (mu, mv, x1, y1)]
        elif (a + b) % 2:
            rects = [(x0, y0, mu, y1), (mu, y0, x1, y1)]
        else:
            rects = [(x0, y0, x1, mv), (x0, mv, x1, y1)]
        out += [shapely.intersection(shapely.box(*r), part, grid_size=GRID_SIZE) for r in rects]
    return out


def _rural_cells(part: shapely.Geometry, seeds: np.ndarray) -> list[shapely.Geometry]:
    if len(seeds) <= 1:
        return [part]
    x0, y0, x1, y1 = shapely.bounds(part)
    env = shapely.box(x0 - 1e4, y0 - 1e4, x1 + 1e4, y1 + 1e4)
    vor = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=env,
                                                     ordered=True))
    # Floating overlay: snap-rounding here would kink the township border at each township's
    # own crossing points (up to 0.7 mm) and leave neighbouring townships' cells overlapping.
    return list(shapely.intersection(vor, part))


def build_grid(recipe: Recipe, tw: Townships, vil: Villages, lat: Lattice) -> GridCells:
    city = [_city_cells(recipe, lat, tw.city_parts[t]) for t in range(len(tw.codes))]
    n_city = sum(len(c) for c in city)
    rural_area = shapely.area(tw.rural_parts)
    budget = max(recipe.grid.target - n_city, len(tw.codes))
    geoms: list[shapely.Geometry] = []
    town: list[int] = []
    for t in range(len(tw.codes)):
        cells = list(city[t])
        part = tw.rural_parts[t]
        if not shapely.is_empty(part) and shapely.area(part) > 1.0:
            g = rng(recipe.seed, STREAM_GRID, t)
            mine = np.flatnonzero(vil.township == t)
            shapely.prepare(part)
            fixed = vil.points[mine][shapely.contains_xy(part, vil.points[mine][:, 0],
                                                          vil.points[mine][:, 1])]
            n = max(len(fixed), int(round(budget * rural_area[t] / rural_area.sum())), 1)
            inner = shapely.buffer(part, -recipe.grid.seed_inset_m)
            pool = random_points_in(inner if shapely.area(inner) > 0 else part, 40 * n, g)
            seeds = np.vstack([fixed, farthest_points(pool, fixed, n - len(fixed))])
            cells += _rural_cells(part, seeds)
        cells = [c for c in cells if not shapely.is_empty(c) and shapely.area(c) > 0]
        geoms += cells
        town += [t] * len(cells)
    # Each township's cells cut its border at their own points: share them with the neighbours.
    arr = conform(np.array(geoms, dtype=object))
    township = np.array(town)
    community = _communities(arr, township, vil)

    # Codes: county + township + community + cell number (north to south, west to east).
    rep = shapely.get_coordinates(shapely.point_on_surface(arr))
    order = np.lexsort((rep[:, 0], -rep[:, 1], community, township))
    code, name, comm = [""] * len(arr), [""] * len(arr), [""] * len(arr)
    per_comm: dict[int, int] = {}
    per_town: dict[int, int] = {}
    for i in order:
        v, t = int(community[i]), int(township[i])
        per_comm[v] = per_comm.get(v, 0) + 1
        per_town[t] = per_town.get(t, 0) + 1
        code[i] = f"{vil.codes[v][:12]}{per_comm[v]:03d}"
        name[i] = f"{tw.shorts[t]}第{per_town[t]:02d}网格"
        comm[i] = vil.names[v]
    return GridCells(geoms=arr, code=code, name=name, township=township, community=comm)


def _communities(cells: np.ndarray, township: np.ndarray, vil: Villages) -> np.ndarray:
    """Each cell's community: the village whose point it holds, else the nearest village of its
    township; then every community without a cell takes the nearest cell of a community with
    several cells."""
    rep = shapely.get_coordinates(shapely.point_on_surface(cells))
    out = np.full(len(cells), -1)
    for t in np.unique(township):
        sel = np.flatnonzero(township == t)
        mine = np.flatnonzero(vil.township == t)
        _, k = cKDTree(vil.points[mine]).query(rep[sel])
        out[sel] = mine[k]
        tree = shapely.STRtree(cells[sel])
        hit_v, hit_c = tree.query(shapely.points(vil.points[mine]), predicate="within")
        for v, c in zip(hit_v[::-1], hit_c[::-1], strict=True):
            out[sel[c]] = mine[v]
        for v in mine:
            if (out[sel] == v).any():
                continue
            counts = np.bincount(out[sel], minlength=len(vil.points))
            spare = sel[counts[out[sel]] > 1]
            if len(spare):
                d = np.hypot(*(rep[spare] - vil.points[v]).T)
                out[spare[np.argmin(d)]] = v
    return out
