"""Building floors by place (taller near the seat's centre) and footprints inside parcels."""

from __future__ import annotations

import math

import numpy as np
import shapely

from backend.county.recipe import Recipe


class BuildingRules:
    """Floor counts: 6-33 for seat compounds (the tallest near the centre), 2-6 in towns, 1-3 in
    villages; heights are floors times a floor height per use."""

    def __init__(self, recipe: Recipe) -> None:
        b = recipe.buildings
        self.b = b
        self.village_fh = b.village.floor_height_m
        self.town_fh = b.town.floor_height_m

    def _near(self, d_km: float) -> float:
        """1 in the central half kilometre, then decaying with distance."""
        return math.exp(-max(d_km - 0.5, 0.0) / self.b.decay_km)

    def city_residential(self, g: np.random.Generator, d_km: float) -> int:
        rule = self.b.city_residential
        top = self.b.city_residential_edge_max + (rule.floors.hi - self.b.city_residential_edge_max
                                                  ) * self._near(d_km)
        return int(round(rule.floors.lo + (top - rule.floors.lo) * g.random() ** 0.6))

    def commercial(self, g: np.random.Generator, d_km: float, frontage: bool) -> int:
        rule = self.b.commercial
        if frontage:
            return int(g.integers(int(rule.floors.lo), 7))
        top = 6 + (rule.floors.hi - 6) * self._near(d_km)
        return int(round(rule.floors.lo + (top - rule.floors.lo) * g.random()))

    def public(self, g: np.random.Generator, d_km: float) -> int:
        rule = self.b.public
        top = rule.floors.lo + (rule.floors.hi - rule.floors.lo) * (0.4 + 0.6 * self._near(d_km))
        return int(round(g.uniform(rule.floors.lo, top)))

    def industrial(self, g: np.random.Generator) -> int:
        f = self.b.industrial.floors
        return int(g.integers(int(f.lo), int(f.hi) + 1))

    def town(self, g: np.random.Generator, n: int) -> np.ndarray:
        f = self.b.town.floors
        return np.clip(np.round(f.lo + (f.hi - f.lo) * g.random(n) ** 1.6), f.lo, f.hi)

    def village(self, g: np.random.Generator, n: int) -> np.ndarray:
        f = self.b.village.floors
        return g.choice(np.arange(int(f.lo), int(f.hi) + 1), size=n,
                        p=_village_p(int(f.hi) - int(f.lo) + 1))

    def height(self, use: str, floors: int | np.ndarray) -> float | np.ndarray:
        fh = {"住宅": self.b.city_residential.floor_height_m,
              "商业": self.b.commercial.floor_height_m, "公建": self.b.public.floor_height_m,
              "工业": self.b.industrial.floor_height_m}[use]
        return np.asarray(floors) * fh

    def slabs(self, rect: np.ndarray, floors: int, g: np.random.Generator) -> np.ndarray:
        """Rows of east-west slabs in a compound, spaced for daylight (taller = farther apart)."""
        b = self.b
        x0, y0, x1, y1 = rect + np.array([b.setback_m, b.setback_m, -b.setback_m, -b.setback_m])
        w, h = x1 - x0, y1 - y0
        depth = g.uniform(b.slab_depth_m.lo, b.slab_depth_m.hi)
        length = min(g.uniform(b.slab_length_m.lo, b.slab_length_m.hi) * (1.0 if floors < 19
                                                                         else 0.6), w)
        if w < 12 or h < depth:
            return np.empty((0, 4))
        gap_u = 12.0
        gap_v = max(16.0, 0.9 * floors * b.city_residential.floor_height_m)
        nu = int(min(4, max(1, (w + gap_u) // (length + gap_u))))
        nv = int(min(8, max(1, (h + gap_v) // (depth + gap_v))))
        su = (w - nu * length) / max(nu - 1, 1) if nu > 1 else 0.0
        sv = (h - nv * depth) / max(nv - 1, 1) if nv > 1 else 0.0
        ox = x0 if nu > 1 else x0 + (w - length) / 2
        oy = y0 if nv > 1 else y0 + (h - depth) / 2
        i, j = np.meshgrid(np.arange(nu), np.arange(nv), indexing="ij")
        bx = ox + i.ravel() * (length + su)
        by = oy + j.ravel() * (depth + sv)
        return np.column_stack([bx, by, bx + length, by + depth])


def _village_p(n: int) -> np.ndarray:
    p = np.array([0.35, 0.5, 0.15][:n] + [0.05] * max(0, n - 3))
    return p / p.sum()


def assign_to_parcels(buildings: np.ndarray, parcels: np.ndarray) -> np.ndarray:
    """Index of the parcel each building lies within, or -1 (then the building is dropped:
    its parcel was cut by a road, the canal or a township / county border)."""
    tree = shapely.STRtree(parcels)
    b, p = tree.query(buildings, predicate="within")
    owner = np.full(len(buildings), -1)
    owner[b[::-1]] = p[::-1]  # the first match wins
    return owner
