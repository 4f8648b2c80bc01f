"""The road lattice: arterial / rural-road lines every ~750 m in the local frame, and what each
lattice cell becomes (seat city, town, village, farmland)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import ndimage

from backend.county.frame import STREAM_LATTICE, boxes, rng
from backend.county.recipe import Recipe

NONE, CITY, TOWN, VILLAGE, FARM = 0, 1, 2, 3, 4
KIND_NAMES = {CITY: "city", TOWN: "town", VILLAGE: "village", FARM: "farm"}
_OFFSET = 1000  # keeps lattice indices non-negative in random-stream keys


@dataclass
class Lattice:
    us: np.ndarray  # positions of the N-S lines (u), ascending
    vs: np.ndarray  # positions of the E-W lines (v), ascending
    i0: int  # lattice index of us[0] (index 0 is the first N-S line east of the seat)
    j0: int  # lattice index of vs[0] (index 0 passes through the seat)
    kind: np.ndarray  # (len(us)-1, len(vs)-1) cell kinds
    within: np.ndarray  # cell lies entirely inside the county
    town_of: np.ndarray  # township index of town cells, else -1
    detailed: np.ndarray  # cell gets parcels, buildings, local roads, pipes and cameras
    seed: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.kind.shape

    def rect(self, a: int, b: int) -> tuple[float, float, float, float]:
        return float(self.us[a]), float(self.vs[b]), float(self.us[a + 1]), float(self.vs[b + 1])

    def cell_boxes(self) -> np.ndarray:
        a, b = np.meshgrid(np.arange(self.shape[0]), np.arange(self.shape[1]), indexing="ij")
        return boxes(self.us[a], self.vs[b], self.us[a + 1], self.vs[b + 1])

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        cu = (self.us[:-1] + self.us[1:]) / 2
        cv = (self.vs[:-1] + self.vs[1:]) / 2
        return np.meshgrid(cu, cv, indexing="ij")

    def locate(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell (a, b) of each point; -1 outside the lattice."""
        a = np.searchsorted(self.us, pts[:, 0]) - 1
        b = np.searchsorted(self.vs, pts[:, 1]) - 1
        bad = (a < 0) | (a >= self.shape[0]) | (b < 0) | (b >= self.shape[1])
        a[bad], b[bad] = -1, -1
        return a, b

    def internal(self, axis: int, a: int, k: int, jitter: float) -> np.ndarray:
        """Positions of the k streets inside lattice column (axis 0) or row (axis 1) `a`.
        The same for every cell of the column, so streets run on across cells."""
        lines = self.us if axis == 0 else self.vs
        lo, hi = lines[a], lines[a + 1]
        g = rng(self.seed, STREAM_LATTICE, 10 + axis, a + _OFFSET, k)
        f = (np.arange(1, k + 1) / (k + 1)) + g.uniform(-jitter, jitter, k)
        return np.round(lo + np.sort(f) * (hi - lo), 3)

    def lattice_index(self, axis: int, a: int) -> int:
        """The named-lattice index of array line a (ns_names / ew_names keys)."""
        return a + (self.i0 if axis == 0 else self.j0)


def build_lattice(recipe: Recipe, county: shapely.Geometry, seats: np.ndarray) -> Lattice:
    """Lines covering the county, cells classified as city (the seat's built-up area), town
    (around township seats outside the city) or farm; villages are marked later."""
    s = recipe.frame.lattice_m
    jit = recipe.frame.lattice_jitter_m
    x0, y0, x1, y1 = shapely.bounds(county)
    i_lo, i_hi = int(np.floor(x0 / s - 0.5)) - 1, int(np.ceil(x1 / s - 0.5)) + 1
    j_lo, j_hi = int(np.floor(y0 / s)) - 1, int(np.ceil(y1 / s)) + 1
    g = rng(recipe.seed, STREAM_LATTICE)
    iu = np.arange(i_lo, i_hi + 1)
    jv = np.arange(j_lo, j_hi + 1)
    us = (iu + 0.5) * s + g.uniform(-jit, jit, len(iu))
    vs = jv * s + g.uniform(-jit, jit, len(jv))
    vs[jv == 0] = 0.0  # the E-W line through the seat: 汴河大道
    us, vs = np.round(us, 3), np.round(vs, 3)  # on the 1 mm grid of the partition overlays
    lat = Lattice(us=us, vs=vs, i0=i_lo, j0=j_lo,
                  kind=np.zeros((len(us) - 1, len(vs) - 1), dtype=np.int8),
                  within=np.zeros((len(us) - 1, len(vs) - 1), dtype=bool),
                  town_of=np.full((len(us) - 1, len(vs) - 1), -1, dtype=np.int32),
                  detailed=np.zeros((len(us) - 1, len(vs) - 1), dtype=bool), seed=recipe.seed)

    cells = lat.cell_boxes()
    shapely.prepare(county)
    touches = shapely.intersects(county, cells)
    lat.within[...] = shapely.contains(county, cells)
    lat.kind[touches] = FARM

    # The seat's built-up area: a ragged ellipse, kept connected and without holes.
    cu, cv = lat.centres()
    ax, ay = (e * 1000.0 for e in recipe.urban.extent_km)
    noise = 1.0 + g.uniform(-recipe.urban.extent_noise, recipe.urban.extent_noise, cu.shape)
    city = ((cu / ax) ** 2 + (cv / ay) ** 2 <= noise**2) & lat.within
    sa, sb = lat.locate(np.zeros((1, 2)))
    city[sa[0], sb[0]] = True
    labels, _ = ndimage.label(city)
    city = ndimage.binary_fill_holes(labels == labels[sa[0], sb[0]]) & lat.within
    lat.kind[city] = CITY

    # Towns: the cell holding each township seat outside the city, plus its nearest neighbours.
    ta, tb = lat.locate(seats)
    for t in range(len(seats)):
        a, b = int(ta[t]), int(tb[t])
        if a < 0 or lat.kind[a, b] in (CITY, NONE):
            continue
        near = [(a, b)]
        options = [(a + da, b + db) for da, db in ((1, 0), (-1, 0), (0, 1), (0, -1))]
        options = [(p, q) for p, q in options if lat.kind[p, q] == FARM and lat.within[p, q]]
        options.sort(key=lambda c: float(np.hypot(cu[c] - seats[t, 0], cv[c] - seats[t, 1])))
        for c in near + options[: recipe.town.cells - 1]:
            lat.kind[c] = TOWN
            lat.town_of[c] = t
    return lat


def choose_detail(lat: Lattice, recipe: Recipe, county: shapely.Geometry, scale: float) -> None:
    """Mark the cells that get full detail: all at scale 1, else the cells nearest the seat
    whose expected parcels add up to `scale` of the county's."""
    present = lat.kind != NONE
    if scale >= 1.0:
        lat.detailed[...] = present
        return
    area = np.zeros(lat.shape)
    cells = lat.cell_boxes()
    area[lat.within] = shapely.area(cells[lat.within])
    edge = present & ~lat.within
    area[edge] = shapely.area(shapely.intersection(cells[edge], county))
    per = np.zeros(lat.shape)
    for code, name in KIND_NAMES.items():
        per[lat.kind == code] = recipe.scaling.parcel_area_m2[name]  # type: ignore[index]
    expected = np.where(present, area / np.maximum(per, 1.0), 0.0)
    cu, cv = lat.centres()
    order = np.lexsort((np.arange(cu.size), np.hypot(cu, cv).ravel()))
    cum = np.cumsum(expected.ravel()[order])
    need = max(scale, 0.0) * cum[-1]
    n = int(np.searchsorted(cum, need)) + 1
    flat = np.zeros(cu.size, dtype=bool)
    flat[order[:n]] = True
    lat.detailed[...] = flat.reshape(lat.shape) & present
