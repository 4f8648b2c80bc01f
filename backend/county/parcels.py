"""Parcel and building layouts, cell by cell, as axis-aligned rectangles in the local frame.

City cells are cut by their streets into blocks (compounds, shop fronts, public, industrial,
parks); town cells into blocks of small plots; village cells get a hamlet core of homesteads in
farmland; farm cells are cut into contract strips. Every block is inset from the centre line of
its streets by half the street width, so parcels never reach into a road. Each cell draws from
its own random stream, so a cell looks the same at every scale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from backend.county.blocks import city_block, town_block
from backend.county.buildings import BuildingRules
from backend.county.frame import STREAM_PARCELS, rng
from backend.county.lattice import CITY, FARM, TOWN, VILLAGE, Lattice
from backend.county.layout import Layout, cuts, grid, pick
from backend.county.recipe import Recipe

# (axis, array line index, cell index across the line) -> half width of that lattice edge
HalfWidth = Callable[[int, int, int], float]


def strips(out: Layout, rect: np.ndarray, recipe: Recipe, g: np.random.Generator,
           kind: int) -> None:
    """Contract farmland strips (承包地) across a rectangle."""
    x0, y0, x1, y1 = rect
    if x1 - x0 < 8 or y1 - y0 < 8:
        return
    rc = recipe.rural
    rows = int(g.integers(rc.strip_rows[0], rc.strip_rows[1] + 1))
    width = g.uniform(rc.strip_width_m.lo, rc.strip_width_m.hi)
    if g.random() < 0.5:  # strips run north-south
        r = grid(cuts(x0, x1, width, g), cuts(y0, y1, (y1 - y0) / rows, g, 0.15))
    else:
        r = grid(cuts(x0, x1, (x1 - x0) / rows, g, 0.15), cuts(y0, y1, width, g))
    out.parcels(r, pick(rc.land_use_mix, g, len(r)), kind)


def _homesteads(out: Layout, core: np.ndarray, recipe: Recipe, rules: BuildingRules,
                g: np.random.Generator) -> None:
    """Double rows of homesteads (宅基地) with lanes between them, houses at the north side."""
    vc = recipe.villages
    x0, y0, x1, y1 = core
    depth = g.uniform(vc.homestead_depth_m.lo, vc.homestead_depth_m.hi)
    pitch = 2 * depth + vc.lane_m
    n_double = max(1, int((y1 - y0 + vc.lane_m) // pitch))
    rects = []
    for k in range(n_double):
        base = y0 + k * pitch
        for row in range(2):
            ys = base + row * depth
            xs = cuts(x0, x1, g.uniform(vc.homestead_width_m.lo, vc.homestead_width_m.hi), g, 0.15)
            r = np.column_stack([xs[:-1], np.full(len(xs) - 1, ys), xs[1:],
                                 np.full(len(xs) - 1, min(ys + depth, y1))])
            rects.append(r)
    r = np.vstack(rects)
    use = np.full(len(r), "0702", dtype=object)
    special = g.random(len(r))
    use[special < 0.02] = "08"  # 村委会, 小学
    use[(special >= 0.02) & (special < 0.05)] = "05"  # 小卖部
    out.parcels(r, use, VILLAGE)
    # Main house along the north edge; a side building in some courtyards.
    floors = rules.village(g, len(r))
    w = r[:, 2] - r[:, 0]
    hd = g.uniform(8.5, 11.0, len(r))
    house = np.column_stack([r[:, 0] + 0.8, r[:, 3] - 1.0 - hd, r[:, 2] - 0.8, r[:, 3] - 1.0])
    out.buildings(house, floors, floors * rules.village_fh, np.where(use == "0702", "住宅", "公建"))
    side = (g.random(len(r)) < 0.4) & (w > 12)
    shed = np.column_stack([r[:, 2] - 5.0, r[:, 1] + 2.0, r[:, 2] - 0.8,
                            np.minimum(r[:, 1] + 8.0, house[:, 1] - 1.5)])[side]
    out.buildings(shed, np.ones(len(shed)), np.full(len(shed), rules.village_fh), "附属用房")


def village_cell(out: Layout, rect: np.ndarray, hamlet: np.ndarray, recipe: Recipe,
                 rules: BuildingRules, g: np.random.Generator) -> None:
    """A hamlet core placed at the hamlet point, farmland strips around it."""
    vc = recipe.villages
    x0, y0, x1, y1 = rect
    w = min(g.uniform(vc.core_width_m.lo, vc.core_width_m.hi), (x1 - x0) * 0.8)
    d = min(g.uniform(vc.core_depth_m.lo, vc.core_depth_m.hi), (y1 - y0) * 0.8)
    cx = float(np.clip(hamlet[0], x0 + w / 2 + 20, x1 - w / 2 - 20))
    cy = float(np.clip(hamlet[1], y0 + d / 2 + 20, y1 - d / 2 - 20))
    core = np.array([cx - w / 2, cy - d / 2, cx + w / 2, cy + d / 2])
    out.blocks.append(core[None])
    _homesteads(out, core, recipe, rules, g)
    m = 4.0  # a village road around the core
    t = 3.0  # a field track between the farm pieces, so their strips never meet at T-junctions
    for piece in ([x0, y0, x1, core[1] - m], [x0, core[3] + m, x1, y1],
                  [x0, core[1] - m + t, core[0] - m, core[3] + m - t],
                  [core[2] + m, core[1] - m + t, x1, core[3] + m - t]):
        p = np.array(piece)
        if p[2] - p[0] > 10 and p[3] - p[1] > 10:
            out.blocks.append(p[None])
            strips(out, p, recipe, g, VILLAGE)


def city_cell(out: Layout, a: int, b: int, lat: Lattice, recipe: Recipe, rules: BuildingRules,
              hw: HalfWidth, industrial: bool) -> None:
    g = rng(recipe.seed, STREAM_PARCELS, a, b)
    k = recipe.urban.streets_per_cell
    jit = recipe.urban.street_jitter
    xs = np.concatenate([[lat.us[a]], lat.internal(0, a, k, jit), [lat.us[a + 1]]])
    ys = np.concatenate([[lat.vs[b]], lat.internal(1, b, k, jit), [lat.vs[b + 1]]])
    inner_hw = [recipe.road_classes["tertiary" if (k % 2 and m == k // 2) else "residential"]
                .width_m / 2 for m in range(k)]
    hx = [hw(0, a, b), *inner_hw, hw(0, a + 1, b)]
    hy = [hw(1, b, a), *inner_hw, hw(1, b + 1, a)]
    for i, j, blk in _blocks(out, xs, ys, hx, hy):
        # The side facing the more important road gets the shop front.
        sides = {"s": hy[j], "n": hy[j + 1], "w": hx[i], "e": hx[i + 1]}
        front = max(sides, key=lambda s: (sides[s], s))
        city_block(out, blk, front, recipe, rules, g, industrial)


def town_cell(out: Layout, a: int, b: int, lat: Lattice, recipe: Recipe, rules: BuildingRules,
              hw: HalfWidth) -> None:
    g = rng(recipe.seed, STREAM_PARCELS, a, b)
    k = recipe.town.streets_per_cell
    res = recipe.road_classes["residential"].width_m / 2
    xs = np.concatenate([[lat.us[a]], lat.internal(0, a, k, recipe.urban.street_jitter),
                         [lat.us[a + 1]]])
    ys = np.concatenate([[lat.vs[b]], lat.internal(1, b, k, recipe.urban.street_jitter),
                         [lat.vs[b + 1]]])
    hx = [hw(0, a, b), *[res] * k, hw(0, a + 1, b)]
    hy = [hw(1, b, a), *[res] * k, hw(1, b + 1, a)]
    for _, _, blk in _blocks(out, xs, ys, hx, hy):
        town_block(out, blk, recipe, rules, g)


def _blocks(out: Layout, xs: np.ndarray, ys: np.ndarray, hx: list[float], hy: list[float]
            ) -> Iterator[tuple[int, int, np.ndarray]]:
    """The blocks between consecutive streets (street half-widths hx/hy and 1 m set back),
    skipping slivers under 20 m; each kept block is recorded in `out.blocks`."""
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            blk = np.array([xs[i] + hx[i] + 1, ys[j] + hy[j] + 1,
                            xs[i + 1] - hx[i + 1] - 1, ys[j + 1] - hy[j + 1] - 1])
            if blk[2] - blk[0] < 20 or blk[3] - blk[1] < 20:
                continue
            out.blocks.append(blk[None])
            yield i, j, blk


def layout_cells(recipe: Recipe, lat: Lattice, hamlets: dict[tuple[int, int], np.ndarray],
                 hw: HalfWidth, industrial_cells: np.ndarray) -> Layout:
    """Parcels and buildings of every detailed cell, in a fixed cell order."""
    rules = BuildingRules(recipe)
    out = Layout()
    for a, b in zip(*np.nonzero(lat.detailed), strict=True):
        a, b = int(a), int(b)
        kind = int(lat.kind[a, b])
        if kind == CITY:
            city_cell(out, a, b, lat, recipe, rules, hw, bool(industrial_cells[a, b]))
            continue
        if kind == TOWN:
            town_cell(out, a, b, lat, recipe, rules, hw)
            continue
        g = rng(recipe.seed, STREAM_PARCELS, a, b)
        x0, y0, x1, y1 = lat.rect(a, b)
        m0, m1 = hw(0, a, b) + 1, hw(0, a + 1, b) + 1
        n0, n1 = hw(1, b, a) + 1, hw(1, b + 1, a) + 1
        rect = np.array([x0 + m0, y0 + n0, x1 - m1, y1 - n1])
        if kind == VILLAGE and (a, b) in hamlets:
            village_cell(out, rect, hamlets[(a, b)], recipe, rules, g)
        elif kind in (FARM, VILLAGE):
            out.blocks.append(rect[None])
            strips(out, rect, recipe, g, FARM)
    return out
