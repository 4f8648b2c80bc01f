"""The demo orthophoto (示意 / synthetic): an RGB GeoTIFF drawn from the loaded county's own
parcels, roads and buildings, in the county's metric CRS (EPSG:4548), so that the raster
ingest's reprojection to Web Mercator is exercised like a real survey delivery.

Drawn in horizontal strips (bounded memory whatever the extent): parcels by land use (field
strips with furrows, tree canopy, water), roads by class (sidewalk, then carriageway), building
shadows cast to the north-north-west, then roofs. Every random choice is a hash of the seed and
a feature key or a pixel position, so the same data and seed give the same bytes."""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import rasterio
import shapely
import sqlalchemy as sa
from affine import Affine
from rasterio.features import rasterize

from backend.basemap.models import Building, Parcel, Road
from backend.county import noise

STRIP = 512  # rows rendered at once; a multiple of the GeoTIFF block size
BLOCK = 512
SYNTHETIC = "示意 / synthetic: rendered by cityops from the demo county's own data; not imagery"

# Texture kinds of the ground.
PLAIN, FIELD, WOOD, WATER, URBAN, YARD, PARK = range(7)
# land use (GB/T 21010) -> (texture, tree cover share, base colours to pick from)
GROUND: dict[str, tuple[int, float, tuple[tuple[int, int, int], ...]]] = {
    "01": (FIELD, 0.0, ((96, 124, 60), (118, 138, 70), (146, 134, 88), (124, 106, 82),
                        (82, 110, 52), (104, 118, 64))),
    "03": (WOOD, 0.85, ((62, 86, 48),)),
    "11": (WATER, 0.0, ((58, 82, 80), (52, 76, 82))),
    "12": (PLAIN, 0.05, ((140, 128, 106), (128, 122, 104))),
    "0701": (URBAN, 0.18, ((132, 130, 120), (124, 126, 112))),
    "0702": (YARD, 0.3, ((134, 122, 100), (126, 116, 96))),
    "05": (URBAN, 0.08, ((150, 148, 140), (142, 140, 134))),
    "06": (URBAN, 0.04, ((164, 160, 150), (150, 150, 146))),
    "08": (URBAN, 0.25, ((138, 136, 124), (118, 130, 98), (150, 126, 104))),
    "0810": (PARK, 0.45, ((104, 126, 76), (96, 120, 72))),
}
DEFAULT_GROUND = (PLAIN, 0.02, ((110, 118, 78), (118, 122, 84)))
CANOPY = np.array([54, 78, 42], dtype=np.float32)
SIDEWALK = np.array([150, 146, 138], dtype=np.float32)
# road class -> (carriageway colour, share of the red-line width paved as carriageway)
ROAD_PAINT: dict[str, tuple[tuple[int, int, int], float]] = {
    "motorway": ((78, 80, 82), 0.9), "trunk": ((84, 85, 86), 0.8),
    "primary": ((72, 74, 76), 0.7), "secondary": ((80, 81, 82), 0.7),
    "tertiary": ((88, 88, 88), 0.7), "residential": ((96, 95, 93), 0.75),
    "rural": ((168, 162, 150), 1.0),
}
ROAD_WIDTH = {"motorway": 30.0, "trunk": 30.0, "primary": 40.0, "secondary": 30.0,
              "tertiary": 20.0, "residential": 12.0, "rural": 6.0}
URBAN_ROADS = ("primary", "secondary", "tertiary", "residential")
# Sun in the south-south-east at 62 degrees (a late-spring morning survey flight): shadows
# fall towards 330 degrees, about half the building's height long.
SHADOW_AZIMUTH_DEG = 330.0
SHADOW_PER_M = 1 / math.tan(math.radians(62.0))
SHADOW_MAX_M = 40.0
SHADOW_DARKEN = 0.58


@dataclass
class Scene:
    """The county's features inside a rectangle, in the metric CRS."""

    epsg: int
    parcels: np.ndarray
    parcel_use: np.ndarray
    parcel_key: np.ndarray
    roads: np.ndarray
    road_class: np.ndarray
    road_key: np.ndarray
    buildings: np.ndarray
    building_use: np.ndarray
    building_floors: np.ndarray
    building_height: np.ndarray
    building_key: np.ndarray


@contextmanager
def gc_paused() -> Iterator[None]:
    """Making hundreds of thousands of small Python objects (rows, coordinate lists): the
    collector's full passes over them would cost more than making them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _rows(conn: sa.Connection, table: sa.Table, columns: list[str], bounds: tuple,
          epsg: int, source: str | None) -> tuple[np.ndarray, list[np.ndarray]]:
    """(geometries in `epsg`, one array per column) of the rows meeting `bounds` (in `epsg`).
    The filter is in the storage CRS so that the GiST index is used."""
    box = sa.func.ST_Transform(sa.func.ST_MakeEnvelope(*map(float, bounds), epsg), 4326)
    geom = sa.func.ST_AsBinary(sa.func.ST_Transform(table.c.geom, epsg))
    query = sa.select(geom, *(table.c[c] for c in columns)).where(
        table.c.geom.op("&&")(box), sa.func.ST_Intersects(table.c.geom, box)
    ).order_by(table.c.source_key)
    if source is not None:
        query = query.where(table.c.source == source)
    with gc_paused():
        rows = conn.execute(query).all()
    geoms = shapely.from_wkb([bytes(r[0]) for r in rows]) if rows else np.empty(0, dtype=object)
    cols = [np.array([r[k + 1] for r in rows], dtype=object) for k in range(len(columns))]
    return np.asarray(geoms, dtype=object), cols


def read_scene(engine: sa.Engine, bounds: tuple[float, float, float, float], *,
               epsg: int = 4548, source: str | None = None) -> Scene:
    """Parcels, roads and buildings meeting `bounds` (metric, in `epsg`), ordered by key."""
    with engine.connect() as conn:
        pg, (use, pkey) = _rows(conn, Parcel.__table__, ["land_use", "source_key"], bounds,
                                epsg, source)
        rg, (cls, rkey) = _rows(conn, Road.__table__, ["road_class", "source_key"], bounds,
                                epsg, source)
        bg, (buse, floors, height, bkey) = _rows(
            conn, Building.__table__, ["use", "floors", "height", "source_key"], bounds, epsg,
            source)
    return Scene(epsg, pg, use, pkey, rg, cls, rkey, bg, buse, floors.astype(np.int32),
                 height.astype(np.float64), bkey)


def grid_for(bounds: tuple[float, float, float, float], res: float
             ) -> tuple[Affine, int, int]:
    """A north-up grid of `res` metre pixels covering `bounds`, snapped to multiples of res."""
    x0, y0 = math.floor(bounds[0] / res) * res, math.floor(bounds[1] / res) * res
    x1, y1 = math.ceil(bounds[2] / res) * res, math.ceil(bounds[3] / res) * res
    return Affine(res, 0, x0, 0, -res, y1), round((x1 - x0) / res), round((y1 - y0) / res)


# ---- what each feature looks like ------------------------------------------------------

def _pick(options: tuple[tuple[int, int, int], ...], h: np.ndarray) -> np.ndarray:
    table = np.array(options, dtype=np.float32)
    return table[np.minimum((h * len(table)).astype(int), len(table) - 1)]


def _parcel_looks(scene: Scene, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per parcel: colour (N, 3), texture kind, tree cover share."""
    n = len(scene.parcels)
    colour = np.zeros((n + 1, 3), dtype=np.float32)
    kind = np.zeros(n + 1, dtype=np.int8)
    trees = np.zeros(n + 1, dtype=np.float32)
    h = noise.key_hash(scene.parcel_key, seed)
    h2 = noise.key_hash(scene.parcel_key, seed + 1)
    for use in np.unique(scene.parcel_use) if n else []:
        sel = np.flatnonzero(scene.parcel_use == use)
        tex, cover, options = GROUND.get(use, DEFAULT_GROUND)
        colour[sel + 1] = _pick(options, h[sel]) * (0.92 + 0.16 * h2[sel])[:, None]
        kind[sel + 1] = tex
        trees[sel + 1] = cover
    tex, cover, options = DEFAULT_GROUND  # index 0: ground no parcel covers
    colour[0], kind[0], trees[0] = np.array(options[0], dtype=np.float32), tex, cover
    return colour, kind, trees


def _field_normals(scene: Scene) -> np.ndarray:
    """Per parcel (index 0 unused): the unit normal of its long axis, across which the
    furrows alternate."""
    normals = np.zeros((len(scene.parcels) + 1, 2), dtype=np.float32)
    if not len(scene.parcels):
        return normals
    env = shapely.oriented_envelope(scene.parcels)
    ring = shapely.get_coordinates(shapely.get_exterior_ring(env), return_index=True)
    coords, idx = ring
    first = np.searchsorted(idx, np.arange(len(scene.parcels)))
    ok = (first + 2 < len(coords)) & (shapely.get_type_id(env) == 3)
    first = np.where(ok, first, 0)
    e1 = coords[np.minimum(first + 1, len(coords) - 1)] - coords[first]
    e2 = coords[np.minimum(first + 2, len(coords) - 1)] - coords[np.minimum(first + 1,
                                                                           len(coords) - 1)]
    long_edge = np.where((np.hypot(*e1.T) >= np.hypot(*e2.T))[:, None], e1, e2)
    length = np.maximum(np.hypot(*long_edge.T), 1e-9)[:, None]
    normals[1:] = np.where(ok[:, None],
                           np.column_stack([-long_edge[:, 1], long_edge[:, 0]]) / length, 0)
    return normals


def _roof_colours(scene: Scene, seed: int) -> np.ndarray:
    """Per building (index 0 unused): concrete slabs in town, tiles or steel in villages."""
    n = len(scene.buildings)
    out = np.zeros((n + 1, 3), dtype=np.float32)
    h = noise.key_hash(scene.building_key, seed + 2)
    h2 = noise.key_hash(scene.building_key, seed + 3)
    use, floors = scene.building_use, scene.building_floors
    low = floors <= 3
    looks = [
        ((use == "住宅") & ~low, ((190, 188, 182), (176, 178, 176), (200, 196, 188),
                                 (168, 160, 150))),
        ((use == "住宅") & low, ((150, 82, 62), (118, 118, 122), (82, 112, 150),
                                (170, 96, 70), (132, 130, 126))),
        (use == "商业", ((170, 176, 182), (190, 190, 186), (120, 140, 160))),
        (use == "公建", ((178, 166, 150), (160, 162, 166), (196, 186, 170))),
        (use == "工业", ((96, 128, 164), (206, 206, 204), (120, 150, 178))),
        (use == "附属用房", ((140, 140, 136), (120, 120, 118))),
    ]
    out[1:] = np.array((150, 150, 150), dtype=np.float32)
    for sel, options in looks:
        idx = np.flatnonzero(sel)
        out[idx + 1] = _pick(options, h[idx]) * (0.9 + 0.2 * h2[idx])[:, None]
    return out


def _shadows(buildings: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Each footprint swept along the shadow direction: the hull of it and its offset copy."""
    if not len(buildings):
        return buildings
    az = math.radians(SHADOW_AZIMUTH_DEG)
    length = np.minimum(height * SHADOW_PER_M, SHADOW_MAX_M)
    coords, idx = shapely.get_coordinates(buildings, return_index=True)
    moved = coords + np.column_stack([math.sin(az) * length[idx], math.cos(az) * length[idx]])
    both = np.concatenate([idx, idx])
    order = np.argsort(both, kind="stable")
    pts = shapely.multipoints(np.vstack([coords, moved])[order], indices=both[order])
    return shapely.convex_hull(pts)


def _road_polygons(scene: Scene, res: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(polygons, colour index, is sidewalk) drawn in order: sidewalks, then carriageways by
    increasing importance, so that crossings show the more important road."""
    order = ["rural", "residential", "tertiary", "secondary", "primary", "trunk", "motorway"]
    polys, paint, walk = [], [], []
    for side in (True, False):
        for k, cls in enumerate(order):
            sel = scene.road_class == cls
            if not sel.any() or (side and cls not in URBAN_ROADS):
                continue
            colour_share = ROAD_PAINT[cls][1]
            width = ROAD_WIDTH[cls] * (1.0 if side else colour_share)
            width = max(width, 1.2 * res)  # a 6 m road stays visible at 10 m
            polys.append(shapely.buffer(scene.roads[sel], width / 2, quad_segs=2))
            paint.append(np.full(int(sel.sum()), k))
            walk.append(np.full(int(sel.sum()), side))
    if not polys:
        return np.empty(0, dtype=object), np.empty(0, dtype=int), np.empty(0, dtype=bool)
    return np.concatenate(polys), np.concatenate(paint), np.concatenate(walk)


# ---- drawing -----------------------------------------------------------------------------

def _polygon_dicts(geoms: np.ndarray) -> tuple[np.ndarray, list[dict], np.ndarray]:
    """(polygon parts, GeoJSON-like dicts of them for rasterio, index of the geometry each
    came from). Coordinates go to Python lists in one C call, not vertex by vertex as with
    shapely's __geo_interface__."""
    parts, parent = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == 3
    parts, parent = parts[keep], parent[keep]
    rings, owner = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    cut = np.searchsorted(ring_of, np.arange(len(rings) + 1)).tolist()
    first = np.searchsorted(owner, np.arange(len(parts) + 1)).tolist()
    with gc_paused():
        flat = coords.tolist()
        ring_lists = [flat[a:b] for a, b in zip(cut[:-1], cut[1:], strict=True)]
        dicts = [{"type": "Polygon", "coordinates": ring_lists[a:b]}
                 for a, b in zip(first[:-1], first[1:], strict=True)]
    return parts, dicts, parent


class _Layer:
    """Polygons burnt into a strip as integer values (later ones on top)."""

    def __init__(self, geoms: np.ndarray, values: np.ndarray | None = None) -> None:
        values = np.arange(1, len(geoms) + 1) if values is None else np.asarray(values)
        parts, dicts, parent = _polygon_dicts(np.asarray(geoms, dtype=object))
        self.geoms = np.empty(len(dicts), dtype=object)
        self.geoms[:] = dicts
        self.values = values[parent]
        self.tree = shapely.STRtree(parts)

    def burn(self, box: shapely.Geometry, shape: tuple[int, int], transform: Affine
             ) -> np.ndarray:
        idx = np.sort(self.tree.query(box))
        if not len(idx):
            return np.zeros(shape, dtype=np.int32)
        return rasterize(zip(self.geoms[idx], self.values[idx].tolist(), strict=True),
                         out_shape=shape, transform=transform, fill=0, dtype="int32")


@dataclass
class _Plan:
    """Everything a strip needs, computed once for the whole picture. Pixels end up as an
    index into one colour table (parcels, canopy, roads, roofs) times a brightness."""

    transform: Affine
    width: int
    height: int
    res: float
    parcels: _Layer
    kind: np.ndarray
    crown_below: np.ndarray  # per parcel: crown noise under this is a tree
    normals: np.ndarray | None
    roads: _Layer
    shadows: _Layer
    buildings: _Layer
    clip: _Layer | None
    table: np.ndarray
    canopy_at: int
    road_at: int
    roof_at: int
    bank: noise.Bank


def _bank(res: float, seed: int) -> noise.Bank:
    """The textures, sized in metres on the ground."""
    bank = noise.Bank()
    bank.add_fractal("patch", 60.0 / res, seed + 11)
    bank.add_value("mid", 25.0 / res, seed + 13)
    bank.add_fractal("crowns", 8.0 / res, seed + 15, octaves=2)
    bank.add_value("fine", 2.5 / res, seed + 16)
    bank.add_white("grain", seed + 12)
    t = bank.textures  # the brightness of bare ground: patches and grain, in one look-up
    t["ground"] = 0.94 + 0.12 * t["patch"] + 0.07 * (t["grain"] - 0.5)
    return bank


def _plan(scene: Scene, bounds: tuple[float, float, float, float], res: float,
          seed: int, clip: shapely.Geometry | None) -> _Plan:
    transform, width, height = grid_for(bounds, res)
    # Vertices closer than a fraction of a pixel change nothing drawn (most are the 50 m
    # densification points the store keeps on straight edges): fewer to hand to GDAL.
    tol = res / 8
    scene = replace(scene, parcels=shapely.simplify(scene.parcels, tol),
                    buildings=shapely.simplify(scene.buildings, tol))
    clip = shapely.simplify(clip, tol) if clip is not None else None
    colour, kind, trees = _parcel_looks(scene, seed)
    polys, paint, walk = _road_polygons(scene, res)
    order = ["rural", "residential", "tertiary", "secondary", "primary", "trunk", "motorway"]
    road_colour = np.array([ROAD_PAINT[order[k]][0] for k in paint],
                           dtype=np.float32).reshape(-1, 3)
    road_colour[walk] = SIDEWALK
    roof = _roof_colours(scene, seed)[1:]
    table = np.vstack([colour, CANOPY[None, :], road_colour, roof]).astype(np.float32)
    bank = _bank(res, seed)
    crowns = np.quantile(bank.textures["crowns"], np.linspace(0, 1, 101))
    crown_below = np.where(trees > 0, np.interp(trees, np.linspace(0, 1, 101), crowns),
                           -1.0).astype(np.float32)
    return _Plan(
        transform=transform, width=width, height=height, res=res,
        parcels=_Layer(scene.parcels), kind=kind, crown_below=crown_below,
        normals=_field_normals(scene) if res <= 2.0 else None,
        roads=_Layer(polys),
        # Shadows (40 m at most) are lost in pixels of more than a few metres.
        shadows=_Layer(_shadows(scene.buildings, scene.building_height)
                       if res <= 2.0 else np.empty(0, dtype=object)),
        buildings=_Layer(scene.buildings),
        clip=_Layer(np.array([clip])) if clip is not None else None,
        table=table, canopy_at=len(colour), road_at=len(colour) + 1,
        roof_at=len(colour) + 1 + len(road_colour), bank=bank)


def _strip(plan: _Plan, r0: int, rows: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows r0 .. r0 + rows of the picture: (3, rows, width) uint8, and the mask of pixels
    inside the clip shape (None without one)."""
    res, width = plan.res, plan.width
    st = plan.transform @ Affine.translation(0, r0)
    shape = (rows, width)
    box = shapely.box(st.c, st.f - rows * res, st.c + width * res, st.f)
    # Global pixel positions: the texture is anchored to the ground, not to this picture.
    cols = round(st.c / res) + np.arange(width)
    grows = round(-st.f / res) + np.arange(rows)
    bank = plan.bank

    pid = plan.parcels.burn(box, shape, st)
    idx = pid
    kind = plan.kind[pid]
    shade = bank.take("ground", cols, grows).copy()
    field = kind == FIELD
    if field.any():
        shade += np.where(field, 0.12 * (bank.take("mid", cols, grows) - 0.5), 0)
        if plan.normals is not None:  # furrows every 4 m across each strip's long axis
            x = (np.arange(width) + 0.5) * res
            y = -(np.arange(rows) + 0.5) * res
            yy, xx = np.nonzero(field)
            n = plan.normals[pid[yy, xx]]
            s = n[:, 0] * x[xx] + n[:, 1] * y[yy]
            shade[yy, xx] *= 1 + 0.07 * np.sin(s * (2 * math.pi / 4.0)).astype(np.float32)
    water = kind == WATER
    if water.any():
        calm = 0.97 + 0.05 * bank.take("mid", cols, grows, (701, 1303))
        shade = np.where(water, calm, shade)
    canopy = bank.take("crowns", cols, grows) < plan.crown_below[pid]
    if canopy.any():
        idx = np.where(canopy, plan.canopy_at, idx)
        shade = np.where(canopy, 0.7 + 0.6 * bank.take("fine", cols, grows), shade)

    rid = plan.roads.burn(box, shape, st)
    on_road = rid > 0
    idx = np.where(on_road, plan.road_at + rid - 1, idx)
    shade = np.where(on_road, 0.95 + 0.1 * bank.take("grain", cols, grows, (977, 389)), shade)
    shade[plan.shadows.burn(box, shape, st) > 0] *= SHADOW_DARKEN
    bid = plan.buildings.burn(box, shape, st)
    roof = bid > 0
    if roof.any():
        idx = np.where(roof, plan.roof_at + bid - 1, idx)
        shade = np.where(roof, 0.95 + 0.1 * bank.take("fine", cols, grows, (331, 1709)),
                         shade)
    rgb = np.take(plan.table, idx, axis=0)
    rgb *= shade[:, :, None]
    np.minimum(rgb, 255, out=rgb)
    mask = plan.clip.burn(box, shape, st) > 0 if plan.clip is not None else None
    return rgb.astype(np.uint8).transpose(2, 0, 1), mask


def render_ortho(scene: Scene, path: Path, bounds: tuple[float, float, float, float], *,
                 res: float, seed: int, clip: shapely.Geometry | None = None,
                 description: str = SYNTHETIC) -> Path:
    """Write the RGB picture of `bounds` at `res` metres as a tiled, JPEG-compressed GeoTIFF
    in the scene's CRS; with `clip`, pixels outside that shape are masked (no data).
    Returns `path`."""
    plan = _plan(scene, bounds, res, seed, clip)
    profile = {
        "driver": "GTiff", "width": plan.width, "height": plan.height, "count": 3,
        "dtype": "uint8", "crs": f"EPSG:{scene.epsg}", "transform": plan.transform,
        "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK, "compress": "JPEG",
        "photometric": "YCBCR", "jpeg_quality": 90, "interleave": "pixel",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(tmp, "w", **profile) as dst:
        dst.update_tags(TIFFTAG_IMAGEDESCRIPTION=description, SYNTHETIC="yes")
        for r0 in range(0, plan.height, STRIP):
            rows = min(STRIP, plan.height - r0)
            rgb, mask = _strip(plan, r0, rows)
            window = ((r0, r0 + rows), (0, plan.width))
            dst.write(rgb, window=window)
            if mask is not None:
                dst.write_mask(mask.astype(np.uint8) * 255, window=window)
    tmp.replace(path)  # never a half-written file under the final name
    return path
