"""From layout rectangles to cadastral parcels: cut out roads and the canal, split along township
and county borders, and code each parcel (不动产单元 宗地代码, 19 characters)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree

from backend.county.frame import boxes, chaikin, polygon_parts
from backend.county.lattice import CITY, TOWN, VILLAGE, Lattice
from backend.county.layout import Layout
from backend.county.recipe import Recipe
from backend.county.townships import Townships, Villages

CANAL = 9  # cell-kind code for canal water parcels (state-owned)
MIN_AREA_M2 = 20.0


@dataclass
class Parcels:
    geoms: np.ndarray  # local polygons
    land_use: np.ndarray
    township: np.ndarray  # township index
    village: np.ndarray  # village index
    ownership: np.ndarray
    code: np.ndarray  # parcel_code
    area: np.ndarray
    densify: np.ndarray  # has neighbours with vertices inside its edges (see frame_table)


def canal_polygon(recipe: Recipe, frame_offset: np.ndarray) -> shapely.Geometry:
    """The old canal (古汴河) as a band following its waypoints."""
    pts = chaikin(np.asarray(frame_offset), 4)
    band = shapely.buffer(shapely.linestrings(pts), recipe.canal.width_m / 2, cap_style="flat")
    return shapely.segmentize(band, 20.0)  # short edges: parcels cut along it stay conforming


def subtract(geoms: np.ndarray, cutters: np.ndarray) -> np.ndarray:
    """geoms minus every cutter they touch; vectorised in rounds (k-th cutter of each geom)."""
    if not len(cutters) or not len(geoms):
        return geoms
    # Query with the cutters (each prepared once) against a tree of the many geometries.
    ci, gi = shapely.STRtree(geoms).query(cutters, predicate="intersects")
    order = np.lexsort((ci, gi))
    gi, ci = gi[order], ci[order]
    if not len(gi):
        return geoms
    starts = np.flatnonzero(np.r_[True, gi[1:] != gi[:-1]])
    counts = np.diff(np.r_[starts, len(gi)])
    rank = np.arange(len(gi)) - np.repeat(starts, counts)
    out = geoms.copy()
    for r in range(int(rank.max()) + 1):
        sel = rank == r
        out[gi[sel]] = shapely.difference(out[gi[sel]], cutters[ci[sel]])
    return out


def _explode(geoms: np.ndarray, *attrs: np.ndarray) -> tuple[np.ndarray, ...]:
    parts, idx = polygon_parts(geoms)
    keep = shapely.area(parts) >= MIN_AREA_M2
    parts, idx = parts[keep], idx[keep]
    return (parts, *(a[idx] for a in attrs))


def _clip_to_townships(geoms: np.ndarray, lat: Lattice, tw: Townships
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split parcels along township (and county) borders: (pieces, source index, township)."""
    a, b = lat.locate(shapely.get_coordinates(shapely.point_on_surface(geoms)))
    nv = lat.shape[1]
    cell = a * nv + b
    cells, inv = np.unique(cell, return_inverse=True)
    inv = inv.ravel()
    cb = lat.cell_boxes().ravel()[cells]
    ci, ti = shapely.STRtree(tw.polys).query(cb, predicate="intersects")
    for p in tw.polys:
        shapely.prepare(p)
    whole = shapely.contains(tw.polys[ti], cb[ci])
    owner = np.full(len(cells), -1)
    owner[ci[whole]] = ti[whole]
    split = ~np.isin(ci, ci[whole])
    pc, pt = ci[split], ti[split]
    pieces = shapely.intersection(cb[pc], tw.polys[pt])

    direct = owner[inv] >= 0
    out_g = [geoms[direct]]
    out_i = [np.flatnonzero(direct)]
    out_t = [owner[inv][direct]]
    # Parcels of split cells: intersect with each township piece of their cell.
    order = np.argsort(pc, kind="stable")
    pc, pt, pieces = pc[order], pt[order], pieces[order]
    starts = np.searchsorted(pc, np.arange(len(cells)))
    ends = np.searchsorted(pc, np.arange(len(cells)), side="right")
    todo = np.flatnonzero(~direct)
    n_pieces = (ends - starts)[inv[todo]]
    rep_parcel = np.repeat(todo, n_pieces)
    offs = np.arange(len(rep_parcel)) - np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)
    rep_piece = starts[inv[rep_parcel]] + offs
    cut = shapely.intersection(geoms[rep_parcel], pieces[rep_piece])
    parts, idx = polygon_parts(cut)
    out_g.append(parts)
    out_i.append(rep_parcel[idx])
    out_t.append(pt[rep_piece][idx])
    return np.concatenate(out_g), np.concatenate(out_i), np.concatenate(out_t)


def build_parcels(recipe: Recipe, lay: Layout, lat: Lattice, tw: Townships, vil: Villages,
                  corridors: np.ndarray, canal: shapely.Geometry) -> Parcels:
    rects = np.vstack(lay.px) if lay.px else np.empty((0, 4))
    geoms = boxes(rects[:, 0], rects[:, 1], rects[:, 2], rects[:, 3])
    use = np.concatenate(lay.pu) if lay.pu else np.empty(0, dtype=object)
    kind = np.concatenate(lay.pc) if lay.pc else np.empty(0, dtype=np.int8)

    # The canal: water parcels where it crosses blocks; land parcels lose what it covers.
    blk = np.vstack(lay.blocks) if lay.blocks else np.empty((0, 4))
    blocks = boxes(blk[:, 0], blk[:, 1], blk[:, 2], blk[:, 3])
    shapely.prepare(canal)
    wet = blocks[shapely.intersects(canal, blocks)]
    water = shapely.intersection(wet, canal)
    geoms = subtract(geoms, np.array([canal]))
    geoms = np.concatenate([geoms, water])
    use = np.concatenate([use, np.full(len(water), "11", dtype=object)])
    kind = np.concatenate([kind, np.full(len(water), CANAL, dtype=np.int8)])

    geoms = subtract(geoms, corridors)
    geoms, use, kind = _explode(geoms, use, kind)
    geoms, src, town = _clip_to_townships(geoms, lat, tw)
    use, kind = use[src], kind[src]
    area = shapely.area(geoms)
    keep = area >= MIN_AREA_M2
    geoms, use, kind, town, area = geoms[keep], use[keep], kind[keep], town[keep], area[keep]

    # Community: the nearest village point of the same township.
    rep = shapely.get_coordinates(shapely.point_on_surface(geoms))
    village = np.zeros(len(geoms), dtype=int)
    for t in np.unique(town):
        mine = np.flatnonzero(vil.township == t)
        sel = np.flatnonzero(town == t)
        _, k = cKDTree(vil.points[mine]).query(rep[sel])
        village[sel] = mine[k]

    state = np.isin(kind, (CITY, TOWN, CANAL))
    ownership = np.where(state, "国有", "集体").astype(object)
    feature = np.array([_feature(recipe, u, o) for u, o in zip(use, ownership, strict=True)],
                       dtype=object)
    prefix = np.array([f"{recipe.county.code}{tw.codes[t][6:]}{vil.codes[v][9:]}{f}"
                       for t, v, f in zip(town, village, feature, strict=True)], dtype=object)
    order = np.argsort(prefix, kind="stable")
    sp = prefix[order]
    starts = np.flatnonzero(np.r_[True, sp[1:] != sp[:-1]])
    counts = np.diff(np.r_[starts, len(sp)])
    seq = np.empty(len(sp), dtype=int)
    seq[order] = np.arange(len(sp)) - np.repeat(starts, counts) + 1
    if len(seq) and seq.max() > 99999:
        raise ValueError("more than 99999 parcels in one 地籍子区: refine the village split")
    code = np.array([f"{p}{s:05d}" for p, s in zip(prefix, seq, strict=True)], dtype=object)
    # Farm strips come as full grids (shared corners only); blocks of plots, homestead rows
    # and the canal have T-junctions.
    densify = state | ((kind == VILLAGE) & np.isin(use, ("0702", "05", "08")))
    return Parcels(geoms=geoms, land_use=use, township=town, village=village,
                   ownership=ownership, code=code, area=np.round(area, 2), densify=densify)


def _feature(recipe: Recipe, use: str, ownership: str) -> str:
    table = recipe.land_use[use].feature
    return table.get(ownership) or next(iter(table.values()))  # type: ignore[call-overload]
