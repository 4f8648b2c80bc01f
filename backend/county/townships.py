"""County polygon, synthetic township polygons, and village (村/社区) points with their hamlets.

No public township boundaries exist for Sixian, so townships are a Voronoi split of the real
county polygon around synthetic seats. Inside the seat's built-up area the split follows the
arterial lattice instead (街道 boundaries run along main roads), which keeps city blocks whole.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from backend.county.frame import (
    GRID_SIZE,
    STREAM_VILLAGES,
    Frame,
    farthest_points,
    random_points_in,
    rng,
)
from backend.county.lattice import CITY, FARM, Lattice
from backend.county.recipe import Recipe

KIND_LABEL = {"街道": "街道", "镇": "镇", "类似乡级单位": "开发区"}


@dataclass
class Townships:
    codes: list[str]  # 9 digits
    names: list[str]  # official names (CSV)
    shorts: list[str]  # display names (recipe)
    kinds: list[str]  # 街道 / 镇 / 开发区
    seats: np.ndarray  # (n, 2) local
    polys: np.ndarray  # township polygons (local), partitioning the county
    city_parts: np.ndarray  # the part inside the seat's built-up area (maybe empty)
    rural_parts: np.ndarray  # the rest


@dataclass
class Villages:
    codes: list[str]  # 12 digits
    names: list[str]  # short display names: 黄圩村, 汴光社区
    township: np.ndarray  # township index
    points: np.ndarray  # (n, 2) local
    hamlet_points: np.ndarray  # (m, 2) local, 自然村 cores
    hamlet_village: np.ndarray  # (m,) village index


def load_county(recipe: Recipe, frame: Frame) -> tuple[shapely.Geometry, shapely.Geometry]:
    """The real county polygon: as stored (EPSG:4326) and in the local frame (1 mm grid)."""
    gdf = gpd.read_file(recipe.path(recipe.county.files.boundary))
    wgs = shapely.union_all(gdf.geometry.to_numpy())
    # Densified in degrees (points stay on the real edges) so that cells cut along the border
    # follow the stored polygon after the projection back (see tables.frame_table).
    local = frame.wgs84_to_local(np.array([shapely.segmentize(wgs, 0.0004)]))[0]
    return wgs, shapely.set_precision(shapely.make_valid(local), GRID_SIZE)


def clean_name(name: str) -> str:
    """黄圩村委会 -> 黄圩村, 三湾社区 -> 三湾社区, 大周社区居民委员会 -> 大周社区."""
    for suffix, repl in (("社区居民委员会", "社区"), ("村民委员会", "村"), ("村委会", "村"),
                         ("居民委员会", "社区")):
        if name.endswith(suffix):
            return name[: -len(suffix)] + repl
    return name


def _read_csv(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def build_townships(recipe: Recipe, frame: Frame, county: shapely.Geometry,
                    lat: Lattice | None = None) -> Townships:
    rows = {r["code"][6:]: r for r in _read_csv(str(recipe.path(recipe.county.files.townships)))}
    seats = np.array([frame.offset(*t.offset_km) for t in recipe.townships])
    codes, names, kinds = [], [], []
    for t in recipe.townships:
        row = rows.get(t.code)
        if row is None:
            raise ValueError(f"township {t.code} is not in the townships CSV")
        codes.append(row["code"])
        names.append(row["name"])
        kinds.append(KIND_LABEL.get(row["kind"], row["kind"]))
    if len(rows) != len(recipe.townships):
        raise ValueError("the recipe must place every township of the CSV")
    shapely.prepare(county)
    outside = ~shapely.contains_xy(county, seats[:, 0], seats[:, 1])
    if outside.any():
        bad = [recipe.townships[i].short for i in np.flatnonzero(outside)]
        raise ValueError(f"township seats outside the county: {bad}")

    x0, y0, x1, y1 = shapely.bounds(county)
    env = shapely.box(x0 - 5e4, y0 - 5e4, x1 + 5e4, y1 + 5e4)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seats), extend_to=env, ordered=True))
    voronoi = shapely.intersection(cells, county, grid_size=GRID_SIZE)

    n = len(seats)
    city_parts = np.array([shapely.Polygon()] * n, dtype=object)
    if lat is not None and (lat.kind == CITY).any():
        # City cells go whole to the township whose Voronoi cell holds their centre.
        ca, cb = np.nonzero(lat.kind == CITY)
        cu, cv = lat.centres()
        owner = np.full(len(ca), -1)
        pts = shapely.points(cu[ca, cb], cv[ca, cb])
        for t in range(n):
            owner[shapely.contains(voronoi[t], pts)] = t
        sa, sb = lat.locate(seats)
        for t in range(n):  # a township seated in the city always gets its own seat cell
            hit = np.flatnonzero((ca == sa[t]) & (cb == sb[t]))
            owner[hit] = t
        boxes_ = lat.cell_boxes()[ca, cb]
        city = shapely.union_all(boxes_, grid_size=GRID_SIZE)
        for t in range(n):
            if (owner == t).any():
                city_parts[t] = shapely.union_all(boxes_[owner == t], grid_size=GRID_SIZE)
        rural = shapely.difference(voronoi, city, grid_size=GRID_SIZE)
        polys = shapely.union(rural, city_parts, grid_size=GRID_SIZE)
    else:
        rural, polys = voronoi, voronoi
    return Townships(codes=codes, names=names, shorts=[t.short for t in recipe.townships],
                     kinds=kinds, seats=seats, polys=polys, city_parts=city_parts,
                     rural_parts=rural)


def build_villages(recipe: Recipe, tw: Townships, lat: Lattice) -> Villages:
    """Village points: the first community of a township at its seat, 社区 near the seat (or in
    the township's city part), villages spread out; hamlets around each rural village."""
    rows = _read_csv(str(recipe.path(recipe.county.files.villages)))
    vc = recipe.villages
    codes: list[str] = []
    names: list[str] = []
    town: list[int] = []
    points: list[np.ndarray] = []
    for t in range(len(tw.codes)):
        mine = [r for r in rows if r["township_code"] == tw.codes[t]]
        if not mine:
            continue
        g = rng(recipe.seed, STREAM_VILLAGES, t)
        rural = tw.rural_parts[t]
        inner = shapely.buffer(rural, -vc.inset_m) if not shapely.is_empty(rural) else rural
        if shapely.is_empty(inner) or shapely.area(inner) < 1e6:
            inner = rural
        city = tw.city_parts[t]
        city_pts = random_points_in(city, 400, g) if not shapely.is_empty(city) else None
        rural_pts = random_points_in(inner, 1500, g) if not shapely.is_empty(inner) else None
        placed: list[np.ndarray] = []
        for k, r in enumerate(mine):
            name = clean_name(r["name"])
            urban = name.endswith("社区")
            if k == 0:
                p = tw.seats[t] + g.normal(0, 60, 2)
            elif urban and city_pts is not None and len(city_pts):
                p = farthest_points(city_pts, np.array(placed), 1)[0]
            elif urban:  # a town's communities sit around its seat
                ang = g.uniform(0, 2 * np.pi)
                p = tw.seats[t] + g.uniform(250, 700) * np.array([np.cos(ang), np.sin(ang)])
            else:
                pool = rural_pts if rural_pts is not None and len(rural_pts) else city_pts
                if pool is None or not len(pool):
                    pool = random_points_in(tw.polys[t], 200, g)
                p = farthest_points(pool, np.array(placed), 1)[0]
            placed.append(np.asarray(p, dtype=float))
            codes.append(r["code"])
            names.append(name)
            town.append(t)
        points.extend(placed)
    pts = np.array(points)

    # Hamlets (自然村): each rural village has 1-3 cores; their lattice cells become villages.
    hp: list[np.ndarray] = []
    hv: list[int] = []
    polys = tw.polys
    for v in range(len(pts)):
        a, b = lat.locate(pts[v : v + 1])
        if a[0] < 0 or lat.kind[a[0], b[0]] not in (FARM,):
            continue  # urban communities and town communities have no hamlets
        g = rng(recipe.seed, STREAM_VILLAGES, 1000 + v)
        hp.append(pts[v])
        hv.append(v)
        extra = int(g.integers(vc.hamlets[0], vc.hamlets[1] + 1)) - 1
        for _ in range(extra):
            for _try in range(8):
                ang = g.uniform(0, 2 * np.pi)
                d = g.uniform(vc.hamlet_spread_m.lo, vc.hamlet_spread_m.hi)
                q = pts[v] + d * np.array([np.cos(ang), np.sin(ang)])
                if shapely.contains_xy(polys[town[v]], q[0], q[1]):
                    hp.append(q)
                    hv.append(v)
                    break
    hamlets = np.array(hp) if hp else np.empty((0, 2))
    return Villages(codes=codes, names=names, township=np.array(town), points=pts,
                    hamlet_points=hamlets, hamlet_village=np.array(hv, dtype=int))
