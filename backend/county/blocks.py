"""City and town blocks: what a block between streets is cut into, with its buildings."""

from __future__ import annotations

import math

import numpy as np

from backend.county.buildings import BuildingRules
from backend.county.lattice import CITY, TOWN
from backend.county.layout import Layout, cuts, grid, pick
from backend.county.recipe import Recipe


def _split_front(blk: np.ndarray, side: str, depth: float) -> tuple[np.ndarray, np.ndarray]:
    """A band of `depth` along one side of a block, and the rest."""
    x0, y0, x1, y1 = blk
    if side == "s":
        return np.array([x0, y0, x1, y0 + depth]), np.array([x0, y0 + depth, x1, y1])
    if side == "n":
        return np.array([x0, y1 - depth, x1, y1]), np.array([x0, y0, x1, y1 - depth])
    if side == "w":
        return np.array([x0, y0, x0 + depth, y1]), np.array([x0 + depth, y0, x1, y1])
    return np.array([x1 - depth, y0, x1, y1]), np.array([x0, y0, x1 - depth, y1])


def _along(band: np.ndarray, side: str, width: float, g: np.random.Generator) -> np.ndarray:
    """Cut a front band into plots of about `width` along the street."""
    x0, y0, x1, y1 = band
    if side in ("s", "n"):
        return grid(cuts(x0, x1, width, g, 0.2), np.array([y0, y1]))
    return grid(np.array([x0, x1]), cuts(y0, y1, width, g, 0.2))


def _front_buildings(plots: np.ndarray, side: str, depth: float) -> np.ndarray:
    """Buildings on the street side of plots: 3 m back from the street, 0.5 m from neighbours."""
    x0, y0, x1, y1 = plots.T
    if side == "s":
        return np.column_stack([x0 + 0.5, y0 + 3, x1 - 0.5, np.minimum(y0 + 3 + depth, y1 - 2)])
    if side == "n":
        return np.column_stack([x0 + 0.5, np.maximum(y1 - 3 - depth, y0 + 2), x1 - 0.5, y1 - 3])
    if side == "w":
        return np.column_stack([x0 + 3, y0 + 0.5, np.minimum(x0 + 3 + depth, x1 - 2), y1 - 0.5])
    return np.column_stack([np.maximum(x1 - 3 - depth, x0 + 2), y0 + 0.5, x1 - 3, y1 - 0.5])


def compound(out: Layout, rect: np.ndarray, recipe: Recipe, rules: BuildingRules,
             g: np.random.Generator, d_km: float, kind: int = CITY) -> None:
    """Residential compounds (小区): a few parcels, each with rows of slabs."""
    x0, y0, x1, y1 = rect
    size = recipe.urban.residential_parcel_m
    long_x = (x1 - x0) >= (y1 - y0)
    n_long = max(1, int(round(max(x1 - x0, y1 - y0) / g.uniform(size.lo * 1.4, size.hi * 1.4))))
    n_short = 2 if min(x1 - x0, y1 - y0) > 2.2 * size.hi else 1
    xs = cuts(x0, x1, (x1 - x0) / (n_long if long_x else n_short), g, 0.15)
    ys = cuts(y0, y1, (y1 - y0) / (n_short if long_x else n_long), g, 0.15)
    for r in grid(xs, ys):
        out.parcels(r, "0701", kind)
        floors = rules.city_residential(g, d_km) if kind == CITY else int(rules.town(g, 1)[0]) + 1
        s = rules.slabs(r, floors, g)
        out.buildings(s, np.full(len(s), floors), rules.height("住宅", np.full(len(s), floors)),
                      "住宅")


def _single(out: Layout, rect: np.ndarray, use: str, bldg_use: str, floors: int,
            cover: float, rules: BuildingRules, kind: int) -> None:
    """One parcel with one building covering about `cover` of it, centred."""
    out.parcels(rect, use, kind)
    x0, y0, x1, y1 = rect
    f = math.sqrt(cover)
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * f, (y1 - y0) * f
    out.buildings(np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]), np.array([floors]),
                  np.array([rules.height(bldg_use, floors)]), bldg_use)


def city_block(out: Layout, blk: np.ndarray, front: str, recipe: Recipe, rules: BuildingRules,
               g: np.random.Generator, industrial: bool) -> None:
    uc = recipe.urban
    d_km = float(np.hypot((blk[0] + blk[2]) / 2, (blk[1] + blk[3]) / 2)) / 1000.0
    mix = dict(uc.block_mix)
    mix["commercial"] *= 1.0 + 2.0 * math.exp(-d_km / 1.5)
    mix["industrial"] *= 8.0 if industrial else min(1.0, d_km / 2.5)
    kind = str(pick(mix, g, 1)[0])
    if kind == "residential":
        compound(out, blk, recipe, rules, g, d_km)
    elif kind == "commercial":
        depth = g.uniform(uc.shop_depth_m.lo, uc.shop_depth_m.hi)
        band, rest = _split_front(blk, front, depth)
        shops = _along(band, front, g.uniform(uc.shop_width_m.lo, uc.shop_width_m.hi), g)
        out.parcels(shops, "05", CITY)
        floors = np.array([rules.commercial(g, d_km, True) for _ in range(len(shops))])
        out.buildings(_front_buildings(shops, front, depth - 8.0), floors,
                      rules.height("商业", floors), "商业")
        if g.random() < 0.35:  # a mall or office tower behind the shops
            _single(out, rest, "05", "商业", rules.commercial(g, d_km, False), 0.45, rules, CITY)
        else:
            compound(out, rest, recipe, rules, g, d_km)
    elif kind == "public":
        x0, y0, x1, y1 = blk
        n = 2 if max(x1 - x0, y1 - y0) > 160 else 1
        xs = cuts(x0, x1, (x1 - x0) / (n if x1 - x0 >= y1 - y0 else 1), g, 0.2)
        ys = cuts(y0, y1, (y1 - y0) / (1 if x1 - x0 >= y1 - y0 else n), g, 0.2)
        for r in grid(xs, ys):
            out.parcels(r, "08", CITY)
            floors = rules.public(g, d_km)
            s = rules.slabs(r, floors, g)[:3]
            out.buildings(s, np.full(len(s), floors), rules.height("公建", np.full(len(s), floors)),
                          "公建")
    elif kind == "industrial":
        x0, y0, x1, y1 = blk
        xs = cuts(x0, x1, g.uniform(70, 140), g, 0.2)
        for r in grid(xs, np.array([y0, y1])):
            _single(out, r, "06", "工业", rules.industrial(g), g.uniform(0.3, 0.55), rules, CITY)
    else:
        out.parcels(blk, "0810", CITY)


def town_block(out: Layout, blk: np.ndarray, recipe: Recipe, rules: BuildingRules,
               g: np.random.Generator) -> None:
    """Shop-houses on both long sides of a block; the inside a compound, school or workshop."""
    tc = recipe.town
    x0, y0, x1, y1 = blk
    sides = ("s", "n") if (x1 - x0) >= (y1 - y0) else ("w", "e")
    depth = min(g.uniform(tc.plot_depth_m.lo, tc.plot_depth_m.hi),
                (min(x1 - x0, y1 - y0)) / 2)
    rest = blk
    for side in sides:
        band, rest = _split_front(rest, side, depth)
        plots = _along(band, side, g.uniform(tc.plot_width_m.lo, tc.plot_width_m.hi), g)
        use = pick(tc.land_use_mix, g, len(plots))
        out.parcels(plots, use, TOWN)
        floors = rules.town(g, len(plots))
        out.buildings(_front_buildings(plots, side, min(14.0, depth - 6.0)), floors,
                      floors * rules.town_fh, np.where(use == "05", "商业", "住宅"))
    rx0, ry0, rx1, ry1 = rest
    if rx1 - rx0 < 30 or ry1 - ry0 < 30:
        return
    choice = g.random()
    if choice < 0.55:
        compound(out, rest, recipe, rules, g, 99.0, kind=TOWN)
    elif choice < 0.75:
        _single(out, rest, "08", "公建", int(rules.town(g, 1)[0]), 0.3, rules, TOWN)
    else:
        _single(out, rest, "06", "工业", rules.industrial(g), 0.4, rules, TOWN)
